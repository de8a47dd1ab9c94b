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
