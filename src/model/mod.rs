//! Talking to the model server: find it, learn its model and context window, send one streaming request and
//! collect the reply with the metrics that matter (prompt tokens, cached tokens, prefill time, time to first
//! token, generation speed).

pub mod detect;
pub mod feed;
pub mod llamacpp;
pub mod ollama;
pub mod openai;
pub mod stream;

use std::time::Duration;

use serde::Serialize;

/// What the configuration says about the server.
#[derive(Debug, Clone, Default)]
pub struct ServerSettings {
    pub endpoint: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    pub temperature: f32,
    /// Force a kind instead of detecting it (`--api`).
    pub api: Option<ServerKind>,
    /// The context window the user asked for (sent to Ollama as `num_ctx`; assumed where a server is silent).
    pub context: Option<usize>,
    /// How long Ollama keeps the model loaded after the request.
    pub keep_alive: String,
    /// Deadlines and size caps of the reply stream.
    pub limits: feed::StreamLimits,
}

/// The kind of server, as far as onepass can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
pub enum ServerKind {
    #[serde(rename = "llama.cpp")]
    #[value(name = "llama.cpp", alias = "llamacpp")]
    LlamaCpp,
    #[serde(rename = "ollama")]
    #[value(name = "ollama")]
    Ollama,
    #[serde(rename = "lmstudio")]
    #[value(name = "lmstudio")]
    LmStudio,
    #[serde(rename = "vllm")]
    #[value(name = "vllm")]
    Vllm,
    #[serde(rename = "koboldcpp")]
    #[value(name = "koboldcpp")]
    KoboldCpp,
    #[serde(rename = "openai")]
    #[value(name = "openai")]
    OpenAi,
}

impl ServerKind {
    /// The name used in reports and logs.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::LlamaCpp => "llama.cpp",
            ServerKind::Ollama => "ollama",
            ServerKind::LmStudio => "lmstudio",
            ServerKind::Vllm => "vllm",
            ServerKind::KoboldCpp => "koboldcpp",
            ServerKind::OpenAi => "openai",
        }
    }

    /// Whether the server can count a prompt's tokens exactly before it is sent.
    pub fn can_tokenize(self) -> bool {
        matches!(
            self,
            ServerKind::LlamaCpp | ServerKind::Vllm | ServerKind::KoboldCpp
        )
    }
}

impl std::fmt::Display for ServerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A server that answered, with what it told us.
#[derive(Debug, Clone)]
pub struct Server {
    pub kind: ServerKind,
    /// Base URL of its OpenAI-compatible API, ending in `/v1`.
    pub api: String,
    pub version: Option<String>,
    pub model: String,
    /// The context window it has loaded (for Ollama: the `num_ctx` onepass sends), when known.
    pub context_window: Option<usize>,
    pub api_key: Option<String>,
    pub temperature: f32,
    pub keep_alive: String,
    /// Deadlines and size caps of the reply stream.
    pub limits: feed::StreamLimits,
}

impl Server {
    /// The server root, where native endpoints live.
    pub fn root(&self) -> &str {
        detect::server_root(&self.api)
    }

    /// Whether the prompt stays on this machine.
    pub fn is_loopback(&self) -> bool {
        let Ok(url) = reqwest::Url::parse(&self.api) else {
            return false;
        };
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Something that happened while waiting for the reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The server accepted the request (status line received).
    Accepted,
    /// Prefill progress, where the server reports it.
    Prefill {
        processed: u64,
        total: u64,
        cached: u64,
    },
    /// Reply text as it streams in.
    Text(String),
}

/// The reply and its numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reply {
    pub text: String,
    pub finish_reason: Option<String>,
    pub stats: Stats,
}

impl Reply {
    /// The model stopped because it ran out of tokens, so the reply may end mid-change.
    pub fn truncated(&self) -> bool {
        self.finish_reason.as_deref() == Some("length")
    }
}

/// Metrics of one request; `None` where the server did not say (never a made-up zero). The same record is
/// printed in the run report and kept in the run log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Stats {
    pub prompt_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub generated_tokens: Option<u64>,
    pub prefill_ms: Option<f64>,
    pub prefill_tps: Option<f64>,
    pub generation_tps: Option<f64>,
    /// Client-measured time to the first streamed token.
    pub ttft_ms: Option<f64>,
    /// Time the server spent loading the model for this request.
    pub load_ms: Option<f64>,
    pub total_ms: f64,
}

impl Stats {
    /// Prompt tokens the server really processed (not taken from its cache).
    pub fn processed_tokens(&self) -> Option<u64> {
        Some(self.prompt_tokens? - self.cached_tokens.unwrap_or(0).min(self.prompt_tokens?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "no model server answered on {}.\nStart one, e.g. `ollama serve` (then `ollama pull qwen2.5-coder:7b`) or `llama-server -m MODEL.gguf -c 32768`, or pass --endpoint URL",
        .tried.join(", ")
    )]
    NoServer { tried: Vec<String> },
    #[error(
        "cannot connect to {url}: {message}.\nIs the server running? Start it (e.g. `ollama serve` or `llama-server -m MODEL.gguf --port 8080`) or check --endpoint"
    )]
    Connect { url: String, message: String },
    #[error(
        "invalid endpoint {0:?}: expected a URL such as http://127.0.0.1:8080 or http://localhost:11434/v1"
    )]
    BadEndpoint(String),
    #[error("{url} answered, but not as a model server (no /v1/models); check --endpoint")]
    NotAServer { url: String },
    #[error(
        "the server at {url} refused the request ({message}): it needs an API key; pass --api-key or set ONEPASS_API_KEY"
    )]
    Unauthorized { url: String, message: String },
    #[error("the server does not know the model {model:?}: {message}{}", hint_models(.available))]
    ModelNotFound {
        model: String,
        message: String,
        available: Vec<String>,
    },
    #[error("the server is still loading the model ({0}); try again in a moment")]
    Loading(String),
    #[error("the server offers several models ({}); choose one with --model", .0.join(", "))]
    SeveralModels(Vec<String>),
    #[error("cannot list the server's models at {url}: {message}; name one with --model")]
    NoModel { url: String, message: String },
    #[error("the prompt ({prompt} tokens) does not fit the model's context window{}: lower --budget, or start the server with a larger context.\nServer said: {message}", .window.map(|w| format!(" ({w} tokens)")).unwrap_or_default())]
    ContextOverflow {
        prompt: usize,
        window: Option<usize>,
        message: String,
    },
    #[error("the server answered {status} at {url}: {message}")]
    Http {
        status: u16,
        url: String,
        message: String,
    },
    #[error("the server reported an error during the reply: {0}")]
    Stream(String),
    #[error("the server sent something that is not a valid stream chunk: {0}")]
    BadChunk(String),
    #[error(
        "the connection closed before the reply was complete ({received} characters received); nothing was applied"
    )]
    Cut { received: usize },
    #[error("reading the reply failed: {0}")]
    Read(String),
    #[error(
        "{url} accepted the connection but gave no valid HTTP answer ({message}); is --endpoint a model server?"
    )]
    NoAnswer { url: String, message: String },
    #[error(
        "the server at {url} redirects to {location:?}; onepass does not follow redirects (the prompt and the API key go only to the configured host): point --endpoint at the final address"
    )]
    Redirect { url: String, location: String },
    #[error(
        "the server sent nothing for {} while processing the prompt (prefill timeout); it may be stuck or overloaded. Raise the limit with --prefill-timeout or ONEPASS_PREFILL_TIMEOUT; nothing was applied",
        secs(*.waited)
    )]
    PrefillTimeout { waited: Duration },
    #[error(
        "the reply stalled: no data for {} after {received} characters (idle timeout); raise it with --idle-timeout or ONEPASS_IDLE_TIMEOUT; nothing was applied",
        secs(*.waited)
    )]
    IdleTimeout { waited: Duration, received: usize },
    #[error(
        "the reply is larger than the {limit} byte cap (ONEPASS_MAX_REPLY_BYTES); reading stopped and nothing was applied"
    )]
    TooLarge { limit: u64 },
    #[error(
        "the model did not stop: more than {limit} tokens although max_tokens was {max_tokens} (the server ignored the limit); reading stopped and nothing was applied"
    )]
    Runaway { limit: u64, max_tokens: u32 },
}

/// A duration as people read it in a message.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

impl ModelError {
    /// The error for a stream that could not deliver its next line, given how much text had arrived.
    pub fn from_feed(e: feed::FeedError, received: usize, finished: bool) -> ModelError {
        match e {
            feed::FeedError::Idle {
                phase: feed::Phase::Prefill,
                waited,
            } => ModelError::PrefillTimeout { waited },
            feed::FeedError::Idle { waited, .. } => ModelError::IdleTimeout { waited, received },
            feed::FeedError::Io(message) => {
                if received == 0 && !finished {
                    ModelError::Read(message)
                } else {
                    ModelError::Cut { received }
                }
            }
            feed::FeedError::LineTooLong { limit } => ModelError::TooLarge {
                limit: limit as u64,
            },
            feed::FeedError::StreamTooLarge { limit } => ModelError::TooLarge { limit },
        }
    }
}

/// The most streamed chunks (about one token each) accepted for a request limited to `max_tokens`.
pub fn token_cap(max_tokens: u32) -> u64 {
    let max = u64::from(max_tokens);
    max + (max / 4).max(64)
}

/// How a streaming request began, as seen from the worker thread.
pub enum Head {
    /// 2xx: the body follows.
    Streaming,
    /// Any other status, with its (capped) body and `Location` header.
    Status {
        status: u16,
        body: String,
        location: Option<String>,
    },
    /// No HTTP answer at all.
    Failed(ModelError),
}

/// POST one streaming chat request to `url` (the bearer key when configured, no overall timeout) and wait
/// for its headers; an error status is mapped with this server's context (overflow, unknown model, …).
pub fn post_chat(
    server: &Server,
    url: &str,
    body: &serde_json::Value,
    prompt_estimate: usize,
) -> Result<feed::Watched<Head>, ModelError> {
    let client = http_client(Duration::from_secs(10), None);
    let mut request = client.post(url).json(body);
    if let Some(key) = &server.api_key {
        request = request.bearer_auth(key);
    }
    open_stream(request, url, server.limits, |status, text| {
        openai::http_error(
            status,
            url,
            text,
            prompt_estimate,
            server.context_window,
            &server.model,
        )
    })
}

/// Send `request` on a watched worker thread and wait (with the prefill deadline) for its headers. On a 2xx
/// the returned feed yields the body's lines; a redirect is refused (never followed); any other status is
/// mapped by `on_status(status, body)`.
pub fn open_stream(
    request: reqwest::blocking::RequestBuilder,
    url: &str,
    limits: feed::StreamLimits,
    on_status: impl FnOnce(u16, &str) -> ModelError,
) -> Result<feed::Watched<Head>, ModelError> {
    let target = url.to_string();
    let mut watched = feed::spawn(limits, move || match request.send() {
        Err(e) => Err(Head::Failed(send_error(&target, &e))),
        Ok(response) if response.status().is_success() => Ok((Head::Streaming, response)),
        Ok(response) => {
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let mut body = Vec::new();
            let _ = std::io::Read::read_to_end(
                &mut std::io::Read::take(response, feed::MAX_ERROR_BODY),
                &mut body,
            );
            Err(Head::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
                location,
            })
        }
    });
    match watched.head() {
        Ok(Head::Streaming) => Ok(watched),
        Ok(Head::Status {
            status,
            location: Some(location),
            ..
        }) if (300..400).contains(&status) => Err(ModelError::Redirect {
            url: url.to_string(),
            location,
        }),
        Ok(Head::Status { status, body, .. }) => Err(on_status(status, &body)),
        Ok(Head::Failed(e)) => Err(e),
        Err(e) => Err(ModelError::from_feed(e, 0, false)),
    }
}

/// A failed send: no connection at all, or a connection that gave no HTTP answer.
pub fn send_error(url: &str, e: &reqwest::Error) -> ModelError {
    let message = detect::root_cause(e);
    if e.is_connect() || (e.is_timeout() && !e.is_body()) {
        ModelError::Connect {
            url: url.to_string(),
            message,
        }
    } else {
        ModelError::NoAnswer {
            url: url.to_string(),
            message,
        }
    }
}

fn hint_models(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!("; it offers: {}", available.join(", "))
    }
}

impl Server {
    /// Send the prompt as one streaming chat request; `on_event` sees progress and text as they arrive.
    pub fn send(
        &self,
        prompt: &crate::prompt::Prompt,
        prompt_estimate: usize,
        max_tokens: u32,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Reply, ModelError> {
        match self.kind {
            ServerKind::Ollama => ollama::chat(self, prompt, prompt_estimate, max_tokens, on_event),
            _ => openai::chat(self, prompt, prompt_estimate, max_tokens, on_event),
        }
    }

    /// The prompt's exact token count, where the server can tokenize (llama.cpp, vLLM, KoboldCpp).
    pub fn count_tokens(&self, prompt: &crate::prompt::Prompt) -> Option<usize> {
        match self.kind {
            ServerKind::LlamaCpp => llamacpp::count_tokens(self, prompt),
            ServerKind::Vllm => openai::vllm_count_tokens(self, prompt),
            ServerKind::KoboldCpp => openai::kobold_count_tokens(self, prompt),
            _ => None,
        }
    }
}

/// The blocking HTTP client used for everything: a short connect timeout, no overall timeout (a prefill can
/// take minutes before the first byte), no redirects (the key is never sent anywhere else).
pub fn http_client(connect: Duration, total: Option<Duration>) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("onepass/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::blocking::Client::new())
}
