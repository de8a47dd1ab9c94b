//! Every server kind spoken natively: detection by fingerprint, the real context window, exact token counts,
//! the metrics of recorded transcripts, the run log, and errors mapped per server.

use std::collections::HashMap;

use crate::server::{Reply, TestServer};
use crate::*;

const OLLAMA_NDJSON: &str = include_str!("../../fixtures/streams/ollama-chat.ndjson");
const OLLAMA_TRUNCATED: &str = include_str!("../../fixtures/streams/ollama-chat-truncated.ndjson");
const LMSTUDIO_SSE: &str = include_str!("../../fixtures/streams/lmstudio-chat.sse");
const VLLM_SSE: &str = include_str!("../../fixtures/streams/vllm-chat.sse");
const LLAMACPP_PROPS: &str = include_str!("../../fixtures/streams/llamacpp-props.json");
const LLAMACPP_MODELS: &str = include_str!("../../fixtures/streams/llamacpp-models.json");

fn routes(list: &[(&str, Reply)]) -> HashMap<String, Reply> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// llama.cpp with its recorded /props and /v1/models; the chat streams the add-verbose reply with
/// llama.cpp's progress and timings fields.
fn llamacpp(count: Reply) -> TestServer {
    TestServer::start(routes(&[
        ("GET /props", Reply::json(200, LLAMACPP_PROPS)),
        ("GET /v1/models", Reply::json(200, LLAMACPP_MODELS)),
        ("POST /v1/messages/count_tokens", count),
        ("POST /v1/chat/completions", Reply::sse(ADD_VERBOSE_SSE)),
    ]))
}

fn ollama(chat: &str) -> TestServer {
    TestServer::start(routes(&[
        (
            "GET /api/version",
            Reply::json(200, r#"{"version":"0.34.1"}"#),
        ),
        (
            "GET /api/tags",
            Reply::json(
                200,
                r#"{"models":[{"name":"qwen2.5-coder:7b","model":"qwen2.5-coder:7b","size":4683087332}]}"#,
            ),
        ),
        ("GET /api/ps", Reply::json(200, r#"{"models":[]}"#)),
        (
            "POST /api/show",
            Reply::json(
                200,
                r#"{"model_info":{"general.architecture":"qwen2","qwen2.context_length":32768}}"#,
            ),
        ),
        (
            "GET /v1/models",
            Reply::json(
                200,
                r#"{"object":"list","data":[{"id":"qwen2.5-coder:7b","object":"model","owned_by":"library"}]}"#,
            ),
        ),
        ("POST /api/chat", Reply::ndjson(chat)),
    ]))
}

fn json_of(run: &crate::harness::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

/// A successful single pass (`-y`) against `server`, and its `--json` report.
fn report_with(server: TestServer) -> (crate::harness::Run, serde_json::Value) {
    let run = hello()
        .with_server(server)
        .args(&["-y", "--json", "add a --verbose flag"])
        .run()
        .status(0);
    let report = json_of(&run);
    (run, report)
}

#[test]
fn llamacpp_is_detected_and_gets_its_extras() {
    let run = hello()
        .with_server(llamacpp(Reply::func(|r| {
            Reply::json(200, &format!("{{\"input_tokens\":{}}}", r.body.len() / 4))
        })))
        .args(&["-y", "--json", "add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
    let report = json_of(&run);
    assert_eq!(report["outcome"], "applied");
    assert_eq!(report["server"]["kind"], "llama.cpp");
    assert_eq!(report["server"]["model"], "tiny-llama");
    assert_eq!(report["server"]["context_window"], 8192);
    assert_eq!(report["estimate"]["exact"], true);
    assert_eq!(report["metrics"]["prompt_tokens"], 1240);
    assert_eq!(report["metrics"]["cached_tokens"], 0);
    assert_eq!(report["metrics"]["prefill_ms"], 1480.9);
    assert!(report["metrics"]["ttft_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(report["files"]["packed"], 3);
    assert_eq!(report["files"]["omitted"], 0);
    let body = run.chat_requests()[0].json();
    assert_eq!(body["cache_prompt"], true);
    assert_eq!(body["id_slot"], 0);
    assert_eq!(body["return_progress"], true);
    // The preview went to stderr: stdout is the JSON object alone.
    assert!(run.stderr.contains("+    if verbose {"));
}

#[test]
fn an_exact_count_above_the_budget_repacks_with_fewer_files() {
    let filler = "pub fn helper_function_number() -> u32 { 42 }\n".repeat(40);
    // This server's tokenizer counts twice what the estimate says.
    let counting = || {
        llamacpp(Reply::func(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            let chars = body["system"].as_str().unwrap().len()
                + body["messages"][0]["content"].as_str().unwrap().len();
            Reply::json(200, &format!("{{\"input_tokens\":{}}}", chars / 2))
        }))
    };
    let case = || {
        let mut c = hello();
        for n in 0..6 {
            c = c.file(&format!("src/helper{n}.rs"), &filler);
        }
        c.commit()
    };
    let run = case()
        .with_server(counting())
        .args(&["-y", "--json", "--budget", "3000", "add a --verbose flag"])
        .run();
    let report = json_of(&run);
    assert_eq!(report["estimate"]["exact"], true, "{}", run.stderr);
    assert!(
        report["estimate"]["prompt_tokens"].as_u64().unwrap() <= 3000,
        "{report}"
    );
    let packed_exact = report["files"]["packed"].as_u64().unwrap();
    let plain = case()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "--json", "--budget", "3000", "add a --verbose flag"])
        .run();
    let packed_estimate = json_of(&plain)["files"]["packed"].as_u64().unwrap();
    assert!(
        packed_exact < packed_estimate,
        "{packed_exact} vs {packed_estimate}"
    );
}

#[test]
fn ollama_native_chat_with_a_stable_num_ctx() {
    let case = hello().with_server(ollama(OLLAMA_NDJSON));
    let run = case
        .args(&["-y", "--json", "add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
    let report = json_of(&run);
    assert_eq!(report["server"]["kind"], "ollama");
    assert_eq!(report["server"]["version"], "0.34.1");
    assert_eq!(
        report["server"]["context_window"], 16384,
        "trained 32768, capped at the default"
    );
    assert_eq!(report["metrics"]["prompt_tokens"], 1310);
    assert_eq!(report["metrics"]["cached_tokens"], 1024);
    assert_eq!(report["metrics"]["prefill_ms"], 286.0);
    assert!(report["metrics"]["load_ms"].as_f64().unwrap() > 1.0);
    let chats: Vec<_> = run
        .case
        .server
        .as_ref()
        .unwrap()
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/chat")
        .collect();
    assert_eq!(chats.len(), 1);
    let body = chats[0].json();
    assert_eq!(body["options"]["num_ctx"], 16384);
    assert_eq!(body["truncate"], false);
    assert_eq!(body["keep_alive"], "30m");
    assert_eq!(body["stream"], true);

    // The configured context is sent as num_ctx, the same on every run.
    let server = ollama(OLLAMA_NDJSON);
    let url = server.url.clone();
    for _ in 0..2 {
        hello()
            .env("ONEPASS_ENDPOINT", &url)
            .args(&["-y", "--context", "12000", "add a --verbose flag"])
            .run()
            .status(0);
    }
    let sent: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/chat")
        .map(|r| r.json()["options"]["num_ctx"].clone())
        .collect();
    assert_eq!(sent, [serde_json::json!(12000), serde_json::json!(12000)]);
}

#[test]
fn an_ollama_prompt_cut_by_the_server_is_not_applied_without_confirmation() {
    let run = hello()
        .with_server(ollama(OLLAMA_TRUNCATED))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(1)
        .stderr_has("it probably truncated the prompt")
        .unchanged();
    drop(run);
}

#[test]
fn lmstudio_is_detected_and_cached_tokens_stay_unknown() {
    let server = TestServer::start(routes(&[
        (
            "GET /api/v0/models",
            Reply::json(
                200,
                r#"{"object":"list","data":[{"id":"qwen2.5-coder-7b-instruct","object":"model","type":"llm","publisher":"lmstudio-community","arch":"qwen2","compatibility_type":"gguf","quantization":"Q4_K_M","state":"loaded","max_context_length":32768,"loaded_context_length":12288},{"id":"text-embedding-nomic","object":"model","type":"embeddings","state":"not-loaded","max_context_length":2048}]}"#,
            ),
        ),
        (
            "GET /v1/models",
            Reply::json(
                200,
                r#"{"data":[{"id":"qwen2.5-coder-7b-instruct","object":"model","owned_by":"organization_owner"}]}"#,
            ),
        ),
        ("POST /v1/chat/completions", Reply::sse(LMSTUDIO_SSE)),
    ]));
    let (run, report) = report_with(server);
    assert_eq!(report["server"]["kind"], "lmstudio");
    assert_eq!(report["server"]["context_window"], 12288);
    assert_eq!(report["metrics"]["prompt_tokens"], 1302);
    assert!(
        report["metrics"]["cached_tokens"].is_null(),
        "unknown is null, never a fake 0"
    );
    assert!(run.chat_requests()[0].json().get("cache_prompt").is_none());
}

#[test]
fn vllm_is_detected_and_counts_exactly() {
    let server = TestServer::start(routes(&[
        ("GET /version", Reply::json(200, r#"{"version":"0.11.2"}"#)),
        (
            "GET /v1/models",
            Reply::json(
                200,
                r#"{"object":"list","data":[{"id":"Qwen/Qwen2.5-Coder-7B-Instruct","object":"model","owned_by":"vllm","max_model_len":32768}]}"#,
            ),
        ),
        (
            "POST /tokenize",
            Reply::json(200, r#"{"count":1296,"max_model_len":32768,"tokens":[]}"#),
        ),
        ("POST /v1/chat/completions", Reply::sse(VLLM_SSE)),
    ]));
    let (_, report) = report_with(server);
    assert_eq!(report["server"]["kind"], "vllm");
    assert_eq!(report["server"]["version"], "0.11.2");
    assert_eq!(report["server"]["context_window"], 32768);
    assert_eq!(report["estimate"]["prompt_tokens"], 1296);
    assert_eq!(report["estimate"]["exact"], true);
    assert_eq!(report["metrics"]["cached_tokens"], 1280);
}

#[test]
fn koboldcpp_is_told_apart_although_it_imitates_the_others() {
    let server = TestServer::start(routes(&[
        (
            "GET /api/extra/version",
            Reply::json(
                200,
                r#"{"result":"KoboldCpp","version":"1.98","protected":false}"#,
            ),
        ),
        (
            "GET /api/extra/true_max_context_length",
            Reply::json(200, r#"{"value":8192}"#),
        ),
        (
            "GET /api/version",
            Reply::json(200, r#"{"version":"0.6.4"}"#),
        ),
        (
            "GET /props",
            Reply::json(200, r#"{"default_generation_settings":{"n_ctx":8192}}"#),
        ),
        (
            "GET /v1/models",
            Reply::json(
                200,
                r#"{"object":"list","data":[{"id":"koboldcpp/qwen","object":"model","owned_by":"koboldcpp"}]}"#,
            ),
        ),
        (
            "POST /api/extra/tokencount",
            Reply::json(200, r#"{"value":777,"ids":[]}"#),
        ),
        ("POST /v1/chat/completions", Reply::sse(ADD_VERBOSE_SSE)),
    ]));
    let (_, report) = report_with(server);
    assert_eq!(report["server"]["kind"], "koboldcpp");
    assert_eq!(report["server"]["context_window"], 8192);
    assert_eq!(report["estimate"]["prompt_tokens"], 777);
}

#[test]
fn a_generic_server_and_a_forced_kind() {
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "--json", "add a --verbose flag"])
        .run()
        .status(0);
    assert_eq!(json_of(&run)["server"]["kind"], "openai");
    assert_eq!(json_of(&run)["estimate"]["exact"], false);
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "--json", "--api", "vllm", "add a --verbose flag"])
        .run()
        .status(0);
    assert_eq!(json_of(&run)["server"]["kind"], "vllm");
}

#[test]
fn the_report_is_printed_whatever_the_outcome() {
    let run = hello()
        .args(&["-y", "--json", "add a flag"])
        .run()
        .status(2);
    let report = json_of(&run);
    assert_eq!(report["outcome"], "error");
    assert!(report["error"].as_str().unwrap().contains("cannot connect"));
    let run = hello()
        .reply("no diff here")
        .args(&["-y", "--json", "add a flag"])
        .run()
        .status(1);
    let report = json_of(&run);
    assert_eq!(report["outcome"], "no_diff");
    for key in [
        "prompt_tokens",
        "cached_tokens",
        "prefill_ms",
        "ttft_ms",
        "generated_tokens",
        "generation_tps",
    ] {
        assert!(
            report["metrics"].get(key).is_some(),
            "metrics.{key} missing: {report}"
        );
    }
    assert!(report["estimate"].get("prefill_ms").is_some());
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["--dry-run", "--json", "add a --verbose flag"])
        .run()
        .status(0);
    assert_eq!(json_of(&run)["outcome"], "written");
}

#[test]
fn errors_are_mapped_per_server() {
    let models = Reply::json(200, r#"{"data":[{"id":"m"}]}"#);
    let with_chat = |chat: Reply| {
        TestServer::start(routes(&[
            ("GET /v1/models", models.clone()),
            ("POST /v1/chat/completions", chat),
        ]))
    };
    hello()
        .with_server(with_chat(Reply::json(
            401,
            r#"{"error":{"message":"Invalid API Key","type":"authentication_error"}}"#,
        )))
        .args(&["-y", "x"])
        .run()
        .status(2)
        .stderr_has("needs an API key")
        .stderr_has("--api-key");
    hello()
        .with_server(with_chat(Reply::json(404, r#"{"error":{"message":"The model `gpt-x` does not exist.","type":"invalid_request_error"}}"#)))
        .args(&["-y", "--model", "gpt-x", "x"])
        .run()
        .status(2)
        .stderr_has("does not know the model \"gpt-x\"");
    hello()
        .with_server(with_chat(Reply::json(
            503,
            r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#,
        )))
        .args(&["-y", "x"])
        .run()
        .status(2)
        .stderr_has("still loading the model");
    let vllm_overflow = r#"{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion).","type":"BadRequestError","param":null,"code":400}"#;
    hello()
        .with_server(with_chat(Reply::json(400, vllm_overflow)))
        .args(&["-y", "x"])
        .run()
        .status(2)
        .stderr_has("does not fit the model's context window");
}

#[test]
fn the_run_log_feeds_estimates_servers_and_max_prefill() {
    let server = llamacpp(Reply::json(200, r#"{"input_tokens":400}"#));
    let url = server.url.clone();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_str().unwrap().to_string();
    let with_home =
        |c: crate::harness::Case| c.env("ONEPASS_CACHE_DIR", &format!("{home_path}/cache"));
    with_home(hello())
        .env("ONEPASS_ENDPOINT", &url)
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    // The second run knows the measured speed (837 tok/s from the recorded timings) and says so.
    with_home(hello())
        .env("ONEPASS_ENDPOINT", &url)
        .args(&["--dry-run", "add a --verbose flag"])
        .run()
        .status(0)
        .stderr_has("400 prompt tokens (counted by the server) of a 8,192 context; at this server's measured 837 tok/s prefill, about 0.5 s before the first token.");
    // --max-prefill shrinks the budget to what fits in that time at that speed.
    with_home(hello())
        .env("ONEPASS_ENDPOINT", &url)
        .args(&["--dry-run", "--max-prefill", "2s", "add a --verbose flag"])
        .run()
        .status(0)
        .stderr_has("budget lowered to 1,674 tokens");
    // `servers` lists the kind, the model, the context window and the measured speed.
    let run = with_home(hello())
        .args(&["servers", "--endpoint", &url])
        .run()
        .status(0);
    assert!(run.stdout.contains("llama.cpp"), "{}", run.stdout);
    assert!(run.stdout.contains("context 8,192"), "{}", run.stdout);
    assert!(run.stdout.contains("tiny-llama"), "{}", run.stdout);
    assert!(
        run.stdout.contains("prefill 837 tok/s (measured)"),
        "{}",
        run.stdout
    );
    let run = with_home(hello())
        .args(&["servers", "--json", "--endpoint", &url])
        .run()
        .status(0);
    let listed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(listed[0]["kind"], "llama.cpp");
    assert_eq!(listed[0]["context_window"], 8192);
}
