//! Find the server and learn about it: probe the usual loopback ports (or the endpoint given), tell the server
//! kinds apart by their fingerprints, choose the model, and read the context window the server has loaded.
//!
//! Probing order on each live port, most specific first: KoboldCpp (it imitates the others), Ollama
//! (`/api/version`), llama.cpp (`/props` with `default_generation_settings`), LM Studio (`/api/v0/models`),
//! vLLM (`/version` and `owned_by: vllm`), else a generic OpenAI-compatible server (`/v1/models`).

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::{ModelError, Server, ServerKind, ServerSettings, http_client, stream};

/// Local ports probed when no endpoint is configured, in order of preference.
pub const LOCAL_PORTS: &[u16] = &[11434, 8080, 1234, 8000, 5001, 5000, 1337];

/// `http://host:port[/prefix][/v1]` -> the API base ending in `/v1`.
pub fn api_base(endpoint: &str) -> Result<String, ModelError> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let url =
        reqwest::Url::parse(trimmed).map_err(|_| ModelError::BadEndpoint(endpoint.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ModelError::BadEndpoint(endpoint.to_string()));
    }
    let trimmed = trimmed.strip_suffix("/chat/completions").unwrap_or(trimmed);
    if trimmed.ends_with("/v1") {
        Ok(trimmed.to_string())
    } else {
        Ok(format!("{trimmed}/v1"))
    }
}

/// The server root (the API base without `/v1`), where native endpoints such as `/props` live.
pub fn server_root(api: &str) -> &str {
    api.strip_suffix("/v1").unwrap_or(api)
}

/// One model a server offers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub id: String,
    /// Loaded in memory now, where the server says (Ollama `/api/ps`, LM Studio `state`).
    pub loaded: Option<bool>,
    /// The context window it is served with, where the server says.
    pub context_window: Option<usize>,
}

/// A server that answered the probes.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub kind: ServerKind,
    /// Base URL of its OpenAI-compatible API (`…/v1`).
    pub api: String,
    pub version: Option<String>,
    pub models: Vec<ModelInfo>,
    /// The server-wide context window (llama.cpp per slot, KoboldCpp), where it applies to every model.
    pub context_window: Option<usize>,
}

/// A small JSON client for the probes.
struct Probe {
    client: reqwest::blocking::Client,
    key: Option<String>,
}

impl Probe {
    /// GET a URL: Ok(Some(json)) on a JSON 200, Ok(None) on any other answer, Err when nothing answers.
    fn get(&self, url: &str) -> Result<Option<Value>, ModelError> {
        self.send(self.client.get(url), url)
    }

    fn send(
        &self,
        mut request: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<Option<Value>, ModelError> {
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().map_err(|e| ModelError::Connect {
            // The server, not the probe's path, is what the user can check.
            url: reqwest::Url::parse(url)
                .map(|u| {
                    format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""))
                        + &u.port().map(|p| format!(":{p}")).unwrap_or_default()
                })
                .unwrap_or_else(|_| url.to_string()),
            message: root_cause(&e),
        })?;
        let status = response.status().as_u16();
        let body = response.text().unwrap_or_default();
        match status {
            200 => Ok(serde_json::from_str(&body).ok()),
            401 | 403 => Err(ModelError::Unauthorized {
                url: url.to_string(),
                message: stream::error_message(&body),
            }),
            _ => Ok(None),
        }
    }
}

/// Tell what kind of server answers at `api` (or take the forced kind) and list its models.
pub fn fingerprint(
    api: &str,
    forced: Option<ServerKind>,
    key: Option<&str>,
    timeout: Duration,
) -> Result<Found, ModelError> {
    let probe = Probe {
        client: http_client(timeout.min(Duration::from_secs(5)), Some(timeout)),
        key: key.map(str::to_string),
    };
    let root = server_root(api);
    let kind = match forced {
        Some(kind) => kind,
        None => detect_kind(&probe, root, api)?,
    };
    let mut found = Found {
        kind,
        api: api.to_string(),
        version: None,
        models: Vec::new(),
        context_window: None,
    };
    match kind {
        ServerKind::KoboldCpp => {
            found.version = probe
                .get(&format!("{root}/api/extra/version"))?
                .and_then(|v| {
                    v.get("version")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                });
            found.context_window = probe
                .get(&format!("{root}/api/extra/true_max_context_length"))?
                .and_then(|v| v.get("value").and_then(Value::as_u64))
                .map(|v| v as usize);
            found.models = openai_models(&probe, api)?;
        }
        ServerKind::Ollama => {
            found.version = probe.get(&format!("{root}/api/version"))?.and_then(|v| {
                v.get("version")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            });
            let tags = probe.get(&format!("{root}/api/tags"))?.unwrap_or_default();
            let ps = probe.get(&format!("{root}/api/ps"))?.unwrap_or_default();
            found.models = super::ollama::parse_models(&tags, &ps);
        }
        ServerKind::LlamaCpp => {
            if let Some(props) = probe.get(&format!("{root}/props"))? {
                found.context_window = super::llamacpp::n_ctx(&props);
                found.version = props
                    .get("build_info")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
            }
            found.models = openai_models(&probe, api)?;
        }
        ServerKind::LmStudio => {
            found.models = probe
                .get(&format!("{root}/api/v0/models"))?
                .map(|v| parse_lmstudio_models(&v))
                .unwrap_or_default();
            if found.models.is_empty() {
                found.models = openai_models(&probe, api)?;
            }
        }
        ServerKind::Vllm => {
            found.version = probe.get(&format!("{root}/version"))?.and_then(|v| {
                v.get("version")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            });
            found.models = openai_models(&probe, api)?;
        }
        ServerKind::OpenAi => {
            found.models = openai_models(&probe, api)?;
        }
    }
    Ok(found)
}

fn detect_kind(probe: &Probe, root: &str, api: &str) -> Result<ServerKind, ModelError> {
    if let Some(v) = probe.get(&format!("{root}/api/extra/version"))?
        && v.get("result").and_then(|r| r.as_str()) == Some("KoboldCpp")
    {
        return Ok(ServerKind::KoboldCpp);
    }
    if let Some(v) = probe.get(&format!("{root}/api/version"))?
        && v.get("version").is_some_and(Value::is_string)
    {
        return Ok(ServerKind::Ollama);
    }
    if let Some(v) = probe.get(&format!("{root}/props"))?
        && v.get("default_generation_settings").is_some()
    {
        return Ok(ServerKind::LlamaCpp);
    }
    if let Some(v) = probe.get(&format!("{root}/api/v0/models"))?
        && !parse_lmstudio_models(&v).is_empty()
    {
        return Ok(ServerKind::LmStudio);
    }
    let models = probe.get(&format!("{api}/models"))?;
    let owned_by_vllm = models
        .as_ref()
        .and_then(|m| m.get("data"))
        .and_then(Value::as_array)
        .is_some_and(|d| {
            d.iter()
                .any(|m| m.get("owned_by").and_then(Value::as_str) == Some("vllm"))
        });
    if owned_by_vllm {
        return Ok(ServerKind::Vllm);
    }
    if models.is_some() {
        return Ok(ServerKind::OpenAi);
    }
    Err(ModelError::NotAServer {
        url: api.to_string(),
    })
}

fn openai_models(probe: &Probe, api: &str) -> Result<Vec<ModelInfo>, ModelError> {
    Ok(probe
        .get(&format!("{api}/models"))?
        .map(|v| parse_models(&v))
        .unwrap_or_default())
}

/// An OpenAI-style model list (`{"data":[{"id":…, "max_model_len"?:…}]}`).
pub fn parse_models(value: &Value) -> Vec<ModelInfo> {
    value
        .get("data")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| {
                    Some(ModelInfo {
                        id: m.get("id")?.as_str()?.to_string(),
                        loaded: None,
                        context_window: m
                            .get("max_model_len")
                            .and_then(Value::as_u64)
                            .map(|v| v as usize),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// LM Studio's `/api/v0/models`: chat models with their state and loaded context.
pub fn parse_lmstudio_models(value: &Value) -> Vec<ModelInfo> {
    let Some(list) = value.get("data").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter(|m| {
            m.get("state").is_some() && m.get("type").and_then(Value::as_str) != Some("embeddings")
        })
        .filter_map(|m| {
            let loaded = m.get("state").and_then(Value::as_str) == Some("loaded");
            Some(ModelInfo {
                id: m.get("id")?.as_str()?.to_string(),
                loaded: Some(loaded),
                context_window: m
                    .get("loaded_context_length")
                    .and_then(Value::as_u64)
                    .filter(|_| loaded)
                    .map(|v| v as usize),
            })
        })
        .collect()
}

/// The loopback ports that accept a connection, probed in parallel with a short timeout.
fn live_ports(ports: &[u16]) -> Vec<u16> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = ports
            .iter()
            .map(|&port| {
                scope.spawn(move || {
                    let addr = SocketAddr::from(([127, 0, 0, 1], port));
                    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
                })
            })
            .collect();
        ports
            .iter()
            .zip(handles)
            .filter_map(|(&port, h)| h.join().unwrap_or(false).then_some(port))
            .collect()
    })
}

/// Every server answering on the local ports, in port preference order. No API key is sent while scanning:
/// whatever listens on those ports (a dev web server on :8000 or :5000) is not a host the key was meant for.
pub fn scan_local(forced: Option<ServerKind>) -> Vec<Found> {
    let live = live_ports(LOCAL_PORTS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = live
            .iter()
            .map(|port| {
                let api = format!("http://127.0.0.1:{port}/v1");
                scope.spawn(move || fingerprint(&api, forced, None, Duration::from_secs(2)).ok())
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    })
}

/// Resolve the endpoint, the kind, the model and the context window.
pub fn connect(settings: &ServerSettings) -> Result<Server, ModelError> {
    let found = match &settings.endpoint {
        Some(endpoint) => fingerprint(
            &api_base(endpoint)?,
            settings.api,
            settings.api_key.as_deref(),
            Duration::from_secs(10),
        )?,
        None => {
            scan_local(settings.api)
                .into_iter()
                .next()
                .ok_or_else(|| ModelError::NoServer {
                    tried: LOCAL_PORTS
                        .iter()
                        .map(|p| format!("127.0.0.1:{p}"))
                        .collect(),
                })?
        }
    };
    let model = choose_model(&found, settings.model.as_deref())?;
    let listed = found.models.iter().find(|m| m.id == model);
    let context_window = match found.kind {
        ServerKind::Ollama => Some(super::ollama::num_ctx(&found, &model, settings)),
        _ => found
            .context_window
            .or(listed.and_then(|m| m.context_window)),
    };
    Ok(Server {
        kind: found.kind,
        api: found.api.clone(),
        version: found.version.clone(),
        model,
        context_window,
        api_key: key_for(settings).map(str::to_string),
        temperature: settings.temperature,
        keep_alive: settings.keep_alive.clone(),
        limits: settings.limits,
    })
}

/// The API key to send: only to an endpoint the user configured, never to a server found by scanning.
pub fn key_for(settings: &ServerSettings) -> Option<&str> {
    settings.endpoint.as_ref().and(settings.api_key.as_deref())
}

/// `--model`, else the one model loaded, else the one model served; several and no choice is an error.
pub fn choose_model(found: &Found, wanted: Option<&str>) -> Result<String, ModelError> {
    if let Some(model) = wanted {
        return Ok(model.to_string());
    }
    let loaded: Vec<&ModelInfo> = found
        .models
        .iter()
        .filter(|m| m.loaded == Some(true))
        .collect();
    if let [one] = loaded.as_slice() {
        return Ok(one.id.clone());
    }
    match found.models.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(ModelError::NoModel {
            url: found.api.clone(),
            message: "it lists no model".into(),
        }),
        several => Err(ModelError::SeveralModels(
            several.iter().map(|m| m.id.clone()).collect(),
        )),
    }
}

/// The innermost message of an error chain, which is the one that says what happened.
pub fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_with_or_without_v1() {
        assert_eq!(
            api_base("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(
            api_base("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(
            api_base("http://localhost:11434/v1/").unwrap(),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            api_base("https://api.example.com/v1/chat/completions").unwrap(),
            "https://api.example.com/v1"
        );
        assert!(api_base("localhost:8080").is_err());
        assert!(api_base("ftp://x").is_err());
        assert_eq!(server_root("http://h:1/v1"), "http://h:1");
    }

    #[test]
    fn the_key_goes_only_to_a_configured_endpoint() {
        let mut settings = ServerSettings {
            api_key: Some("sk-x".into()),
            ..ServerSettings::default()
        };
        assert_eq!(key_for(&settings), None);
        settings.endpoint = Some("http://127.0.0.1:8080".into());
        assert_eq!(key_for(&settings), Some("sk-x"));
    }

    #[test]
    fn model_lists() {
        let vllm = json!({"object":"list","data":[{"id":"qwen","object":"model","owned_by":"vllm","max_model_len":32768}]});
        assert_eq!(
            parse_models(&vllm),
            vec![ModelInfo {
                id: "qwen".into(),
                loaded: None,
                context_window: Some(32768)
            }]
        );
        let lms = json!({"data":[
            {"id":"qwen2.5-coder-7b","type":"llm","state":"loaded","max_context_length":32768,"loaded_context_length":16384},
            {"id":"nomic-embed","type":"embeddings","state":"not-loaded"},
            {"id":"llama-3","type":"llm","state":"not-loaded","max_context_length":8192}]});
        let models = parse_lmstudio_models(&lms);
        assert_eq!(models.len(), 2);
        assert_eq!(models[0].context_window, Some(16384));
        assert_eq!(models[1].loaded, Some(false));
    }

    #[test]
    fn model_choice_prefers_the_one_loaded() {
        let mut found = Found {
            kind: ServerKind::LmStudio,
            api: "http://x/v1".into(),
            version: None,
            models: vec![
                ModelInfo {
                    id: "a".into(),
                    loaded: Some(false),
                    context_window: None,
                },
                ModelInfo {
                    id: "b".into(),
                    loaded: Some(true),
                    context_window: Some(4096),
                },
            ],
            context_window: None,
        };
        assert_eq!(choose_model(&found, None).unwrap(), "b");
        assert_eq!(choose_model(&found, Some("a")).unwrap(), "a");
        found.models[0].loaded = Some(true);
        assert!(
            matches!(choose_model(&found, None), Err(ModelError::SeveralModels(m)) if m == ["a", "b"])
        );
        found.models.clear();
        assert!(matches!(
            choose_model(&found, None),
            Err(ModelError::NoModel { .. })
        ));
    }
}
