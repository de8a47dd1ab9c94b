//! llama.cpp's `llama-server` extras: the per-slot context window from `/props`, exact prompt token counts,
//! and the request fields that keep the prompt cached in a pinned slot and report prefill progress.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Server, http_client};
use crate::prompt::Prompt;

/// The slot onepass pins its requests to, so the next request finds its prefix in the same slot's cache.
pub const SLOT: u64 = 0;

/// `default_generation_settings.n_ctx` of `/props` (the usable context per slot).
pub fn n_ctx(props: &Value) -> Option<usize> {
    props
        .get("default_generation_settings")
        .and_then(|s| s.get("n_ctx"))
        .or_else(|| props.get("n_ctx"))
        .and_then(Value::as_u64)
        .map(|v| v as usize)
}

/// The fields llama.cpp adds to an OpenAI chat request.
pub fn extend_request(body: &mut Value) {
    body["cache_prompt"] = json!(true);
    body["id_slot"] = json!(SLOT);
    body["return_progress"] = json!(true);
}

/// Count the prompt's tokens as the server will see them, chat template included: the Anthropic-style
/// `/v1/messages/count_tokens`, else `/apply-template` followed by `/tokenize`.
pub fn count_tokens(server: &Server, prompt: &Prompt) -> Option<usize> {
    let client = http_client(Duration::from_secs(5), Some(Duration::from_secs(60)));
    let root = server.root();
    let post = |path: &str, body: Value| -> Option<Value> {
        let mut request = client.post(format!("{root}{path}")).json(&body);
        if let Some(key) = &server.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().ok()
    };
    let counted = post(
        "/v1/messages/count_tokens",
        json!({
            "model": server.model,
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
        }),
    )
    .and_then(|v| v.get("input_tokens").and_then(Value::as_u64));
    if let Some(n) = counted {
        return Some(n as usize);
    }
    let rendered = post(
        "/apply-template",
        json!({"messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]}),
    )?;
    let text = rendered.get("prompt")?.as_str()?.to_string();
    let tokens = post(
        "/tokenize",
        json!({"content": text, "add_special": true, "parse_special": true}),
    )?;
    Some(tokens.get("tokens")?.as_array()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_ctx_from_recorded_props() {
        let props: Value =
            serde_json::from_str(include_str!("../../fixtures/streams/llamacpp-props.json"))
                .unwrap();
        assert_eq!(n_ctx(&props), Some(8192));
        assert_eq!(n_ctx(&json!({"n_ctx": 4096})), Some(4096));
        assert_eq!(n_ctx(&json!({})), None);
    }
}

/// A slot's KV cache saved to or restored from the server's `--slot-save-path`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlotFile {
    pub filename: String,
    pub tokens: u64,
    pub bytes: u64,
    pub ms: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    /// The server was started without `--slot-save-path`.
    #[error("the server cannot save slots (start llama-server with --slot-save-path DIR)")]
    Unsupported,
    #[error("slot {action} failed: {message}")]
    Failed {
        action: &'static str,
        message: String,
    },
}

fn slot_action(server: &Server, action: &'static str, filename: &str) -> Result<Value, SlotError> {
    let client = http_client(Duration::from_secs(5), Some(Duration::from_secs(600)));
    let url = format!("{}/slots/{SLOT}?action={action}", server.root());
    let mut request = client.post(&url).json(&json!({ "filename": filename }));
    if let Some(key) = &server.api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().map_err(|e| SlotError::Failed {
        action,
        message: super::detect::root_cause(&e),
    })?;
    let status = response.status().as_u16();
    let body = response.text().unwrap_or_default();
    match status {
        200 => serde_json::from_str(&body).map_err(|e| SlotError::Failed {
            action,
            message: e.to_string(),
        }),
        501 => Err(SlotError::Unsupported),
        _ => Err(SlotError::Failed {
            action,
            message: super::stream::error_message(&body),
        }),
    }
}

/// Save the pinned slot's cache to `filename` (a bare name, inside the server's slot directory).
pub fn save_slot(server: &Server, filename: &str) -> Result<SlotFile, SlotError> {
    let v = slot_action(server, "save", filename)?;
    Ok(SlotFile {
        filename: filename.to_string(),
        tokens: v.get("n_saved").and_then(Value::as_u64).unwrap_or(0),
        bytes: v.get("n_written").and_then(Value::as_u64).unwrap_or(0),
        ms: v.pointer("/timings/save_ms").and_then(Value::as_f64),
    })
}

/// Load a saved cache into the pinned slot.
pub fn restore_slot(server: &Server, filename: &str) -> Result<SlotFile, SlotError> {
    let v = slot_action(server, "restore", filename)?;
    Ok(SlotFile {
        filename: filename.to_string(),
        tokens: v.get("n_restored").and_then(Value::as_u64).unwrap_or(0),
        bytes: v.get("n_read").and_then(Value::as_u64).unwrap_or(0),
        ms: v.pointer("/timings/restore_ms").and_then(Value::as_f64),
    })
}

/// Whether the pinned slot holds no prompt (a fresh or restarted server); None when `/slots` is off.
pub fn slot_is_empty(server: &Server) -> Option<bool> {
    let client = http_client(Duration::from_secs(2), Some(Duration::from_secs(5)));
    let mut request = client.get(format!("{}/slots", server.root()));
    if let Some(key) = &server.api_key {
        request = request.bearer_auth(key);
    }
    let response = request.send().ok()?;
    if !response.status().is_success() {
        return None;
    }
    let slots: Value = response.json().ok()?;
    let slot = slots
        .as_array()?
        .iter()
        .find(|s| s.get("id").and_then(Value::as_u64) == Some(SLOT))?;
    Some(
        slot.get("n_prompt_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            == 0,
    )
}
