//! Ollama's native API: `/api/chat` streaming NDJSON with a fixed `num_ctx` (a changing value reloads the model
//! and loses its cache), `keep_alive`, and `truncate: false`; models from `/api/tags` and `/api/ps`; the
//! trained context length from `/api/show`.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::detect::{Found, ModelInfo};
use super::feed::{Lines, Phase, StreamLimits};
use super::{
    Event, ModelError, Reply, Server, ServerSettings, Stats, http_client, post_chat, token_cap,
};
use crate::config::DEFAULT_CONTEXT;
use crate::prompt::Prompt;

/// Models from `/api/tags`, marked loaded (with their allocated context) from `/api/ps`.
pub fn parse_models(tags: &Value, ps: &Value) -> Vec<ModelInfo> {
    let running: Vec<(String, Option<usize>)> = ps
        .get("models")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| {
                    let name = m
                        .get("name")
                        .or_else(|| m.get("model"))?
                        .as_str()?
                        .to_string();
                    let ctx = m
                        .get("context_length")
                        .and_then(Value::as_u64)
                        .map(|v| v as usize);
                    Some((name, ctx))
                })
                .collect()
        })
        .unwrap_or_default();
    tags.get("models")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| {
                    let id = m
                        .get("name")
                        .or_else(|| m.get("model"))?
                        .as_str()?
                        .to_string();
                    let run = running.iter().find(|(name, _)| *name == id);
                    Some(ModelInfo {
                        loaded: Some(run.is_some()),
                        context_window: run.and_then(|(_, ctx)| *ctx),
                        id,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `num_ctx` to send for `model`: the configured context, else the model's trained length capped at the
/// default. The same value every run, so Ollama never reloads the model (and loses its cache) over it.
pub fn num_ctx(found: &Found, model: &str, settings: &ServerSettings) -> usize {
    if let Some(ctx) = settings.context {
        return ctx;
    }
    let root = super::detect::server_root(&found.api);
    let client = http_client(Duration::from_secs(2), Some(Duration::from_secs(10)));
    let trained = client
        .post(format!("{root}/api/show"))
        .json(&json!({"model": model}))
        .send()
        .ok()
        .filter(|r| r.status().is_success())
        .and_then(|r| r.json::<Value>().ok())
        .and_then(|show| trained_context(&show));
    trained.map_or(DEFAULT_CONTEXT, |t| t.min(DEFAULT_CONTEXT))
}

/// `model_info["<architecture>.context_length"]` of `/api/show`.
pub fn trained_context(show: &Value) -> Option<usize> {
    let info = show.get("model_info")?.as_object()?;
    info.iter()
        .find(|(k, _)| k.ends_with(".context_length"))
        .and_then(|(_, v)| v.as_u64())
        .map(|v| v as usize)
}

/// One NDJSON line of `/api/chat`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ChatLine {
    pub message: Option<Message>,
    #[serde(default)]
    pub done: bool,
    pub done_reason: Option<String>,
    pub prompt_eval_count: Option<u64>,
    pub prompt_eval_cached_count: Option<u64>,
    pub prompt_eval_duration: Option<u64>,
    pub eval_count: Option<u64>,
    pub eval_duration: Option<u64>,
    pub load_duration: Option<u64>,
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Message {
    #[serde(default)]
    pub content: String,
}

/// Decode one line: Ok(None) for a blank line, Err for an error object or a line that is not JSON.
pub fn parse_line(line: &str) -> Result<Option<ChatLine>, ModelError> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let parsed: ChatLine =
        serde_json::from_str(line).map_err(|e| ModelError::BadChunk(e.to_string()))?;
    if let Some(error) = &parsed.error {
        let message = error
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| error.to_string());
        return Err(ModelError::Stream(message));
    }
    Ok(Some(parsed))
}

/// The numbers of the final line, normalised: durations from nanoseconds to milliseconds, the prefill speed
/// over the tokens really processed (Ollama's prefill duration counts only those).
pub fn stats_of(last: &ChatLine) -> Stats {
    let ms = |ns: Option<u64>| ns.map(|n| n as f64 / 1e6);
    let mut stats = Stats {
        prompt_tokens: last.prompt_eval_count,
        cached_tokens: last.prompt_eval_cached_count,
        generated_tokens: last.eval_count,
        prefill_ms: ms(last.prompt_eval_duration),
        load_ms: ms(last.load_duration),
        ..Stats::default()
    };
    if let (Some(processed), Some(prefill_ms)) = (stats.processed_tokens(), stats.prefill_ms)
        && prefill_ms > 0.0
    {
        stats.prefill_tps = Some(processed as f64 / (prefill_ms / 1000.0));
    }
    if let (Some(n), Some(d)) = (last.eval_count, last.eval_duration)
        && d > 0
    {
        stats.generation_tps = Some(n as f64 / (d as f64 / 1e9));
    }
    stats
}

pub fn chat(
    server: &Server,
    prompt: &Prompt,
    prompt_estimate: usize,
    max_tokens: u32,
    on_event: &mut dyn FnMut(Event),
) -> Result<Reply, ModelError> {
    let url = format!("{}/api/chat", server.root());
    let body = json!({
        "model": server.model,
        "messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        "stream": true,
        "keep_alive": server.keep_alive,
        "truncate": false,
        "options": {
            "num_ctx": server.context_window.unwrap_or(DEFAULT_CONTEXT),
            "num_predict": max_tokens,
            "temperature": server.temperature,
        },
    });
    let start = Instant::now();
    let mut feed = post_chat(server, &url, &body, prompt_estimate)?;
    on_event(Event::Accepted);
    read_lines(&mut feed, server.limits, max_tokens, start, on_event)
}

/// Read NDJSON lines of `/api/chat` to the final `done` line, within the limits.
pub fn read_lines(
    lines: &mut dyn Lines,
    limits: StreamLimits,
    max_tokens: u32,
    start: Instant,
    on_event: &mut dyn FnMut(Event),
) -> Result<Reply, ModelError> {
    let mut reply = Reply::default();
    let mut first_token = None;
    let mut pieces = 0u64;
    loop {
        let phase = if first_token.is_some() {
            Phase::Streaming
        } else {
            Phase::Prefill
        };
        let line = match lines.next_line(phase) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => return Err(ModelError::from_feed(e, reply.text.len(), false)),
        };
        let Some(chunk) = parse_line(&line)? else {
            continue;
        };
        if let Some(message) = &chunk.message
            && !message.content.is_empty()
        {
            first_token.get_or_insert_with(|| start.elapsed());
            pieces += 1;
            if reply.text.len() + message.content.len() > limits.max_reply_bytes {
                return Err(ModelError::TooLarge {
                    limit: limits.max_reply_bytes as u64,
                });
            }
            if pieces > token_cap(max_tokens) {
                return Err(ModelError::Runaway {
                    limit: token_cap(max_tokens),
                    max_tokens,
                });
            }
            reply.text.push_str(&message.content);
            on_event(Event::Text(message.content.clone()));
        }
        if chunk.done {
            reply.finish_reason = Some(chunk.done_reason.clone().unwrap_or_else(|| "stop".into()));
            reply.stats = stats_of(&chunk);
            reply.stats.ttft_ms = first_token.map(|d| d.as_secs_f64() * 1000.0);
            reply.stats.total_ms = start.elapsed().as_secs_f64() * 1000.0;
            return Ok(reply);
        }
    }
    Err(ModelError::Cut {
        received: reply.text.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_loaded_from_ps() {
        let tags = json!({"models":[{"name":"qwen2.5-coder:7b","model":"qwen2.5-coder:7b"},{"name":"llama3:8b"}]});
        let ps = json!({"models":[{"name":"qwen2.5-coder:7b","context_length":16384}]});
        let models = parse_models(&tags, &ps);
        assert_eq!(models.len(), 2);
        assert_eq!(models[0].loaded, Some(true));
        assert_eq!(models[0].context_window, Some(16384));
        assert_eq!(models[1].loaded, Some(false));
    }

    #[test]
    fn trained_context_from_show() {
        let show =
            json!({"model_info":{"general.architecture":"qwen2","qwen2.context_length":32768}});
        assert_eq!(trained_context(&show), Some(32768));
        assert_eq!(trained_context(&json!({})), None);
    }

    #[test]
    fn final_line_metrics_are_normalised() {
        let last = parse_line(r#"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":2026,"prompt_eval_cached_count":2000,"prompt_eval_duration":26000000,"eval_count":282,"eval_duration":4535599000}"#)
            .unwrap()
            .unwrap();
        let stats = stats_of(&last);
        assert_eq!(stats.prompt_tokens, Some(2026));
        assert_eq!(stats.cached_tokens, Some(2000));
        assert_eq!(stats.prefill_ms, Some(26.0));
        assert!(
            (stats.prefill_tps.unwrap() - 1000.0).abs() < 1.0,
            "{:?}",
            stats.prefill_tps
        );
        assert!((stats.generation_tps.unwrap() - 62.17).abs() < 0.1);
        assert!(stats.load_ms.unwrap() > 1.0);
        // Older Ollama has no cached count: unknown, not zero.
        let old =
            parse_line(r#"{"done":true,"prompt_eval_count":10,"prompt_eval_duration":1000000}"#)
                .unwrap()
                .unwrap();
        assert_eq!(stats_of(&old).cached_tokens, None);
    }

    #[test]
    fn error_lines_and_garbage() {
        assert!(
            matches!(parse_line(r#"{"error":"model 'x' not found"}"#), Err(ModelError::Stream(m)) if m.contains("not found"))
        );
        assert!(matches!(
            parse_line("not json"),
            Err(ModelError::BadChunk(_))
        ));
        assert_eq!(parse_line("  \n").unwrap(), None);
    }
}
