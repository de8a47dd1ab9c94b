//! The OpenAI-compatible chat endpoint (`/v1/chat/completions`, streaming), spoken by llama.cpp, vLLM,
//! LM Studio, Ollama's `/v1` and remote APIs. One blocking request; the response is read line by line.

use std::io::BufRead;
use std::time::{Duration, Instant};

use serde_json::json;

use super::feed::{FeedError, Lines, Phase, ReaderLines, StreamLimits};
use super::stream::{self, Chunk, ChunkError, SseDecoder, SseEvent};
use super::{Event, ModelError, Reply, Server, ServerKind, http_client, post_chat, token_cap};
use crate::prompt::Prompt;

/// The request body. llama.cpp gets its extras: keep the prompt in the cache and report prefill progress.
pub fn request_body(server: &Server, prompt: &Prompt, max_tokens: u32) -> serde_json::Value {
    let mut body = json!({
        "model": server.model,
        "messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": server.temperature,
        "max_tokens": max_tokens,
    });
    if server.kind == ServerKind::LlamaCpp {
        super::llamacpp::extend_request(&mut body);
    }
    body
}

pub fn chat(
    server: &Server,
    prompt: &Prompt,
    prompt_estimate: usize,
    max_tokens: u32,
    on_event: &mut dyn FnMut(Event),
) -> Result<Reply, ModelError> {
    let url = format!("{}/chat/completions", server.api);
    let start = Instant::now();
    let mut feed = post_chat(
        server,
        &url,
        &request_body(server, prompt, max_tokens),
        prompt_estimate,
    )?;
    on_event(Event::Accepted);
    read_lines(&mut feed, server.limits, max_tokens, start, on_event)
}

/// Read an SSE stream to its end: the reply with its metrics, or why it is incomplete. (Recorded transcripts;
/// no deadlines, default caps.)
pub fn read_stream(
    reader: impl BufRead,
    start: Instant,
    on_event: &mut dyn FnMut(Event),
) -> Result<Reply, ModelError> {
    let limits = StreamLimits::default();
    read_lines(
        &mut ReaderLines::new(reader, limits),
        limits,
        u32::MAX,
        start,
        on_event,
    )
}

/// Read SSE lines to the end of the stream, within the limits: the reply with its metrics, or why it is
/// incomplete.
pub fn read_lines(
    lines: &mut dyn Lines,
    limits: StreamLimits,
    max_tokens: u32,
    start: Instant,
    on_event: &mut dyn FnMut(Event),
) -> Result<Reply, ModelError> {
    let mut collector = Collector::new(start, limits.max_reply_bytes, max_tokens);
    let mut decoder = SseDecoder::default();
    loop {
        let phase = if collector.first_token.is_some() {
            Phase::Streaming
        } else {
            Phase::Prefill
        };
        let line = match lines.next_line(phase) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            // The model said why it stopped and the server then fell silent without [DONE] or closing: the
            // reply is complete.
            Err(FeedError::Idle { .. }) if collector.reply.finish_reason.is_some() => {
                return Ok(collector.finish(start));
            }
            Err(e) => {
                return Err(ModelError::from_feed(
                    e,
                    collector.reply.text.len(),
                    collector.reply.finish_reason.is_some(),
                ));
            }
        };
        if let Some(event) = decoder.line(&line)
            && collector.event(event, on_event)?
        {
            return Ok(collector.finish(start));
        }
    }
    // An event left without its blank line at the end of the stream: complete only if it parses.
    if let Some(event) = decoder.finish() {
        match collector.event(event, on_event) {
            Ok(true) => return Ok(collector.finish(start)),
            Ok(false) => {}
            Err(ModelError::BadChunk(_)) => {
                return Err(ModelError::Cut {
                    received: collector.reply.text.len(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    // No [DONE]: complete only if the model said why it stopped.
    if collector.reply.finish_reason.is_some() {
        Ok(collector.finish(start))
    } else {
        Err(ModelError::Cut {
            received: collector.reply.text.len(),
        })
    }
}

/// Map an HTTP error status and body to what the user needs to hear.
pub fn http_error(
    status: u16,
    url: &str,
    body: &str,
    prompt: usize,
    window: Option<usize>,
    model: &str,
) -> ModelError {
    let message = stream::error_message(body);
    let lower = format!("{body} {message}").to_lowercase();
    if matches!(status, 401 | 403) {
        return ModelError::Unauthorized {
            url: url.to_string(),
            message,
        };
    }
    if status == 503 && lower.contains("loading") {
        return ModelError::Loading(message);
    }
    if matches!(status, 400 | 404)
        && lower.contains("model")
        && (lower.contains("not found")
            || lower.contains("does not exist")
            || lower.contains("no such model"))
    {
        return ModelError::ModelNotFound {
            model: model.to_string(),
            message,
            available: Vec::new(),
        };
    }
    let overflow = matches!(status, 400 | 413 | 500)
        && (lower.contains("exceed_context_size")
            || lower.contains("context length")
            || lower.contains("longer than the context")
            || lower.contains("context_length_exceeded")
            || lower.contains("context size")
            || lower.contains("context window")
            || lower.contains("too many tokens"));
    if overflow {
        let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let error = value.get("error").unwrap_or(&value);
        let get = |key: &str| error.get(key).and_then(|v| v.as_u64()).map(|v| v as usize);
        return ModelError::ContextOverflow {
            prompt: get("n_prompt_tokens").unwrap_or(prompt),
            window: get("n_ctx").or(window),
            message,
        };
    }
    ModelError::Http {
        status,
        url: url.to_string(),
        message,
    }
}

/// vLLM's `/tokenize` with the chat messages: the exact prompt length, chat template included.
pub fn vllm_count_tokens(server: &Server, prompt: &Prompt) -> Option<usize> {
    let body = json!({
        "model": server.model,
        "messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        "add_generation_prompt": true,
    });
    post_json(server, "/tokenize", &body)?
        .get("count")
        .and_then(serde_json::Value::as_u64)
        .map(|n| n as usize)
}

/// KoboldCpp's token counter (the two messages, without the chat template's few tokens).
pub fn kobold_count_tokens(server: &Server, prompt: &Prompt) -> Option<usize> {
    let body = json!({"prompt": format!("{}\n{}", prompt.system, prompt.user)});
    post_json(server, "/api/extra/tokencount", &body)?
        .get("value")
        .and_then(serde_json::Value::as_u64)
        .map(|n| n as usize)
}

fn post_json(server: &Server, path: &str, body: &serde_json::Value) -> Option<serde_json::Value> {
    let client = http_client(Duration::from_secs(5), Some(Duration::from_secs(60)));
    let mut request = client.post(format!("{}{path}", server.root())).json(body);
    if let Some(key) = &server.api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().ok()?;
    response
        .status()
        .is_success()
        .then(|| response.json().ok())
        .flatten()
}

/// Folds stream events into the reply and its metrics.
struct Collector {
    reply: Reply,
    first_token: Option<Duration>,
    /// Chunks that carried text (about one token each) and the caps.
    pieces: u64,
    max_text: usize,
    max_tokens: u32,
    start: Instant,
    prompt_ms: Option<f64>,
    prompt_tps: Option<f64>,
    generation_tps: Option<f64>,
}

impl Collector {
    fn new(start: Instant, max_text: usize, max_tokens: u32) -> Collector {
        Collector {
            reply: Reply::default(),
            first_token: None,
            pieces: 0,
            max_text,
            max_tokens,
            start,
            prompt_ms: None,
            prompt_tps: None,
            generation_tps: None,
        }
    }

    /// Returns true at the end of the stream.
    fn event(
        &mut self,
        event: SseEvent,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<bool, ModelError> {
        let (name, data) = match event {
            SseEvent::Done => return Ok(true),
            SseEvent::Data { event, data } => (event, data),
        };
        let chunk = stream::parse_chunk(name.as_deref(), &data).map_err(|e| match e {
            ChunkError::Server(message) => ModelError::Stream(message),
            ChunkError::Invalid(message) => ModelError::BadChunk(message),
        })?;
        self.chunk(chunk, on_event)?;
        Ok(false)
    }

    fn chunk(&mut self, chunk: Chunk, on_event: &mut dyn FnMut(Event)) -> Result<(), ModelError> {
        if let Some(p) = chunk.prompt_progress {
            on_event(Event::Prefill {
                processed: p.processed,
                total: p.total,
                cached: p.cache,
            });
        }
        for choice in chunk.choices {
            if let Some(text) = choice
                .delta
                .and_then(|d| d.content)
                .filter(|t| !t.is_empty())
            {
                if self.first_token.is_none() {
                    self.first_token = Some(self.start.elapsed());
                }
                self.pieces += 1;
                if self.reply.text.len() + text.len() > self.max_text {
                    return Err(ModelError::TooLarge {
                        limit: self.max_text as u64,
                    });
                }
                if self.pieces > token_cap(self.max_tokens) {
                    return Err(ModelError::Runaway {
                        limit: token_cap(self.max_tokens),
                        max_tokens: self.max_tokens,
                    });
                }
                self.reply.text.push_str(&text);
                on_event(Event::Text(text));
            }
            if let Some(reason) = choice.finish_reason {
                self.reply.finish_reason = Some(reason);
            }
        }
        if let Some(usage) = chunk.usage {
            let stats = &mut self.reply.stats;
            stats.prompt_tokens = usage.prompt_tokens.or(stats.prompt_tokens);
            stats.generated_tokens = usage.completion_tokens.or(stats.generated_tokens);
            if let Some(cached) = usage.prompt_tokens_details.and_then(|d| d.cached_tokens) {
                stats.cached_tokens = Some(cached);
            }
        }
        if let Some(t) = chunk.timings {
            let stats = &mut self.reply.stats;
            if let Some(cache_n) = t.cache_n {
                stats.cached_tokens = Some(cache_n);
            }
            if stats.prompt_tokens.is_none() {
                stats.prompt_tokens = t.prompt_n.map(|n| n + t.cache_n.unwrap_or(0));
            }
            stats.generated_tokens = stats.generated_tokens.or(t.predicted_n);
            self.prompt_ms = t.prompt_ms.or(self.prompt_ms);
            self.prompt_tps = t.prompt_per_second.or(self.prompt_tps);
            self.generation_tps = t.predicted_per_second.or(self.generation_tps);
        }
        Ok(())
    }

    fn finish(mut self, start: Instant) -> Reply {
        let total = start.elapsed();
        let stats = &mut self.reply.stats;
        stats.total_ms = ms(total);
        stats.ttft_ms = self.first_token.map(ms);
        stats.prefill_ms = self.prompt_ms;
        stats.prefill_tps = self.prompt_tps;
        stats.generation_tps = self.generation_tps.or_else(|| {
            let generated = stats.generated_tokens? as f64;
            let since_first = total.checked_sub(self.first_token?)?.as_secs_f64();
            (since_first > 0.0 && generated > 1.0).then(|| (generated - 1.0) / since_first)
        });
        self.reply
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(transcript: &str) -> (Result<Reply, ModelError>, Vec<Event>) {
        let mut events = Vec::new();
        let reply = read_stream(transcript.as_bytes(), Instant::now(), &mut |e| {
            events.push(e)
        });
        (reply, events)
    }

    #[test]
    fn recorded_llamacpp_streams() {
        let (reply, events) = replay(include_str!(
            "../../fixtures/streams/llamacpp-chat-stream.sse"
        ));
        let reply = reply.unwrap();
        assert!(!reply.text.is_empty());
        assert_eq!(reply.stats.prompt_tokens, Some(2517));
        assert_eq!(reply.stats.cached_tokens, Some(0));
        assert!(reply.stats.prefill_ms.unwrap() > 0.0 && reply.stats.prefill_tps.unwrap() > 0.0);
        assert!(reply.finish_reason.is_some());
        let progress: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, Event::Prefill { .. }))
            .collect();
        assert!(progress.len() >= 2, "{progress:?}");
        assert_eq!(
            progress.last(),
            Some(&&Event::Prefill {
                processed: 2517,
                total: 2517,
                cached: 0
            })
        );

        let (cached, _) = replay(include_str!(
            "../../fixtures/streams/llamacpp-chat-stream-cached.sse"
        ));
        let stats = cached.unwrap().stats;
        assert!(
            stats.cached_tokens.unwrap() * 10 > stats.prompt_tokens.unwrap() * 9,
            "{stats:?}"
        );
    }

    #[test]
    fn synthetic_streams_of_other_servers() {
        let (reply, _) = replay(include_str!("../../fixtures/streams/vllm-chat.sse"));
        let reply = reply.unwrap();
        assert!(reply.text.contains("```diff"));
        assert_eq!(reply.stats.cached_tokens, Some(1280));
        let (reply, _) = replay(include_str!("../../fixtures/streams/lmstudio-chat.sse"));
        assert_eq!(reply.unwrap().stats.cached_tokens, None);
    }

    #[test]
    fn a_stream_without_done_or_finish_is_cut() {
        let (reply, _) = replay("data: {\"choices\":[{\"delta\":{\"content\":\"half\"}}]}\n\n");
        assert!(matches!(reply, Err(ModelError::Cut { received: 4 })));
        let (reply, _) = replay("data: {\"choices\":[{\"delta\":{\"content\":\"ha");
        assert!(matches!(reply, Err(ModelError::Cut { .. })));
        let (reply, _) = replay(
            "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\n",
        );
        assert!(reply.unwrap().truncated());
    }

    #[test]
    fn caps_on_text_and_tokens() {
        let piece = "data: {\"choices\":[{\"delta\":{\"content\":\"abcd\"}}]}\n\n";
        let many = piece.repeat(100);
        let limits = StreamLimits {
            max_reply_bytes: 1000,
            ..StreamLimits::default()
        };
        let read = |text: &str, limits: StreamLimits, max_tokens: u32| {
            read_lines(
                &mut ReaderLines::new(text.as_bytes(), limits),
                limits,
                max_tokens,
                Instant::now(),
                &mut |_| {},
            )
        };
        // 100 pieces within a 10-token limit: the cap is 10 + 64.
        assert!(matches!(
            read(&many, StreamLimits::default(), 10),
            Err(ModelError::Runaway { limit: 74, .. })
        ));
        // 400 bytes of text against a 300 byte cap.
        let small = StreamLimits {
            max_reply_bytes: 300,
            ..limits
        };
        assert!(matches!(
            read(&many, small, 4096),
            Err(ModelError::TooLarge { limit: 300 })
        ));
        // Within both caps the stream just ends without [DONE]: cut.
        assert!(matches!(
            read(&many, limits, 4096),
            Err(ModelError::Cut { received: 400 })
        ));
        assert_eq!(token_cap(4096), 5120);
    }

    #[test]
    fn overflow_errors_are_recognised() {
        let llama = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9000,"n_ctx":4096}}"#;
        match http_error(400, "u", llama, 8000, None, "m") {
            ModelError::ContextOverflow { prompt, window, .. } => {
                assert_eq!((prompt, window), (9000, Some(4096)));
            }
            other => panic!("{other:?}"),
        }
        let vllm = r#"{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 5000 tokens.","type":"BadRequestError","code":400}"#;
        assert!(matches!(
            http_error(400, "u", vllm, 5000, Some(2048), "m"),
            ModelError::ContextOverflow {
                prompt: 5000,
                window: Some(2048),
                ..
            }
        ));
        assert!(matches!(
            http_error(404, "u", r#"{"error":"model 'x' not found"}"#, 1, None, "x"),
            ModelError::ModelNotFound { .. }
        ));
        assert!(matches!(
            http_error(404, "u", "Not Found", 1, None, "x"),
            ModelError::Http { status: 404, .. }
        ));
        assert!(matches!(
            http_error(401, "u", r#"{"error":"bad key"}"#, 1, None, "x"),
            ModelError::Unauthorized { .. }
        ));
        assert!(matches!(
            http_error(
                503,
                "u",
                r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#,
                1,
                None,
                "x"
            ),
            ModelError::Loading(_)
        ));
    }
}
