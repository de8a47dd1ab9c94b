//! Find the server and learn about it: the base URL (explicit, or the first local server that answers on the
//! usual ports), the model to use, and the loaded context window.

use std::time::Duration;

use super::{ModelError, Server, ServerKind, ServerSettings, http_client, stream};

/// Local ports probed when no endpoint is configured, in order of preference: Ollama (through its /v1),
/// llama.cpp's llama-server, LM Studio, vLLM.
pub const LOCAL_PORTS: &[u16] = &[11434, 8080, 1234, 8000];

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

/// Resolve the endpoint, the model and the context window.
pub fn connect(settings: &ServerSettings) -> Result<Server, ModelError> {
    let client = http_client(Duration::from_secs(5), Some(Duration::from_secs(15)));
    let (api, models) = match &settings.endpoint {
        Some(endpoint) => {
            let api = api_base(endpoint)?;
            let models = list_models(&client, &api);
            (api, models)
        }
        None => probe_local()?,
    };
    let models = match models {
        Ok(models) => models,
        Err(e @ ModelError::Connect { .. }) => return Err(e),
        Err(
            e @ ModelError::Http {
                status: 401 | 403, ..
            },
        ) => return Err(e),
        Err(e) if settings.model.is_none() => {
            return Err(ModelError::NoModel {
                url: format!("{api}/models"),
                message: e.to_string(),
            });
        }
        Err(_) => Vec::new(),
    };
    let model = match &settings.model {
        Some(model) => model.clone(),
        None => match models.as_slice() {
            [one] => one.id.clone(),
            [] => {
                return Err(ModelError::NoModel {
                    url: format!("{api}/models"),
                    message: "it lists no model".into(),
                });
            }
            several => {
                return Err(ModelError::SeveralModels(
                    several.iter().map(|m| m.id.clone()).collect(),
                ));
            }
        },
    };
    let props = llamacpp_n_ctx(&client, server_root(&api));
    let kind = if props.is_some() {
        ServerKind::LlamaCpp
    } else {
        ServerKind::OpenAi
    };
    let context_window = props.or_else(|| {
        models
            .iter()
            .find(|m| m.id == model)
            .and_then(|m| m.max_model_len)
    });
    Ok(Server {
        kind,
        api,
        model,
        context_window,
        api_key: settings.api_key.clone(),
        temperature: settings.temperature,
        max_tokens: settings.max_tokens,
    })
}

/// One entry of `/v1/models`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub id: String,
    /// vLLM's served context length.
    pub max_model_len: Option<usize>,
}

fn list_models(
    client: &reqwest::blocking::Client,
    api: &str,
) -> Result<Vec<ModelInfo>, ModelError> {
    let url = format!("{api}/models");
    let response = client.get(&url).send().map_err(|e| ModelError::Connect {
        url: url.clone(),
        message: root_cause(&e),
    })?;
    let status = response.status();
    let body = response
        .text()
        .map_err(|e| ModelError::Read(root_cause(&e)))?;
    if !status.is_success() {
        return Err(ModelError::Http {
            status: status.as_u16(),
            url,
            message: stream::error_message(&body),
        });
    }
    parse_models(&body).ok_or_else(|| ModelError::Http {
        status: status.as_u16(),
        url,
        message: "the model list is not the expected JSON".into(),
    })
}

/// Parse an OpenAI-style model list (`{"data":[{"id":…}]}`); Ollama's `{"models":[{"name"|"model":…}]}` too.
pub fn parse_models(body: &str) -> Option<Vec<ModelInfo>> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let list = value
        .get("data")
        .or_else(|| value.get("models"))?
        .as_array()?;
    Some(
        list.iter()
            .filter_map(|m| {
                let id = m
                    .get("id")
                    .or_else(|| m.get("model"))
                    .or_else(|| m.get("name"))?
                    .as_str()?
                    .to_string();
                let max_model_len = m
                    .get("max_model_len")
                    .and_then(|v| v.as_u64())
                    .map(|v| v as usize);
                Some(ModelInfo { id, max_model_len })
            })
            .collect(),
    )
}

/// llama.cpp's `/props`: the per-slot context window, or None when the server is not llama.cpp.
fn llamacpp_n_ctx(client: &reqwest::blocking::Client, root: &str) -> Option<usize> {
    let response = client.get(format!("{root}/props")).send().ok()?;
    if !response.status().is_success() {
        return None;
    }
    let value: serde_json::Value = response.json().ok()?;
    let settings = value.get("default_generation_settings")?;
    settings
        .get("n_ctx")
        .or_else(|| value.get("n_ctx"))
        .and_then(|v| v.as_u64())
        .map(|v| v as usize)
}

/// Probe the usual local ports in parallel; the first port in preference order that lists models wins.
fn probe_local() -> Result<(String, Result<Vec<ModelInfo>, ModelError>), ModelError> {
    let client = http_client(Duration::from_millis(400), Some(Duration::from_secs(3)));
    let bases: Vec<String> = LOCAL_PORTS
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}/v1"))
        .collect();
    let answers: Vec<Option<Vec<ModelInfo>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bases
            .iter()
            .map(|base| {
                let client = &client;
                scope.spawn(move || list_models(client, base).ok())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    for (base, answer) in bases.iter().zip(answers) {
        if let Some(models) = answer {
            return Ok((base.clone(), Ok(models)));
        }
    }
    Err(ModelError::NoServer { tried: bases })
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
    fn model_lists() {
        let openai = r#"{"object":"list","data":[{"id":"qwen","object":"model","owned_by":"vllm","max_model_len":32768}]}"#;
        assert_eq!(
            parse_models(openai).unwrap(),
            vec![ModelInfo {
                id: "qwen".into(),
                max_model_len: Some(32768)
            }]
        );
        let ollama = r#"{"models":[{"name":"a:7b","model":"a:7b"},{"name":"b","model":"b"}]}"#;
        assert_eq!(parse_models(ollama).unwrap().len(), 2);
        assert!(parse_models("[]").is_none());
    }
}
