//! The suite against a REAL llama.cpp `llama-server` (a tiny random-weight model: gibberish replies, but the
//! real protocol, prefill cost, caching and tokenizer). `scripts/start-llama-server.sh` builds and starts one
//! and prints `ONEPASS_LLAMA_URL=…`; without that variable these tests say so on stderr and pass.

use std::io::Write;

use crate::*;

/// The server has one slot: tests take turns, so one test's prompt does not evict another's from the cache.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn url() -> Option<String> {
    match std::env::var("ONEPASS_LLAMA_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Written to the real stderr (not the test's captured output) so the skip is visible.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED real llama-server test: ONEPASS_LLAMA_URL is not set (run scripts/start-llama-server.sh)"
            );
            None
        }
    }
}

fn json_of(run: &crate::harness::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

/// A salt unique to this run, so a server that has seen an earlier run's prompts (its RAM prompt cache
/// outlives a slot) does not make a cold request warm.
fn fresh(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{name}{nanos}")
}

/// The context window the server reports itself, read straight from its `/props`.
fn server_context(url: &str) -> u64 {
    let props: serde_json::Value = reqwest::blocking::get(format!("{url}/props"))
        .unwrap()
        .json()
        .unwrap();
    props["default_generation_settings"]["n_ctx"]
        .as_u64()
        .unwrap()
}

/// A repository of a few thousand tokens, distinct per `salt` so tests do not share the server's cache.
fn repo(salt: &str) -> crate::harness::Case {
    let mut case = hello();
    for n in 0..8 {
        let body: String = (0..30)
            .map(|i| format!("pub fn {salt}_item_{n}_{i}(x: u32) -> u32 {{ x * {i} + {n} }}\n"))
            .collect();
        case = case.file(&format!("src/{salt}_{n}.rs"), &body);
    }
    case.commit().env("ONEPASS_MAX_TOKENS", "24")
}

#[test]
fn real_llamacpp_detection_and_context_window() {
    let Some(url) = url() else { return };
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let n_ctx = server_context(&url);
    let run = hello()
        .args(&["servers", "--json", "--endpoint", &url])
        .run()
        .status(0);
    let listed = json_of(&run);
    assert_eq!(listed[0]["kind"], "llama.cpp");
    assert_eq!(listed[0]["context_window"], n_ctx);
    assert!(!listed[0]["models"].as_array().unwrap().is_empty());
}

#[test]
fn real_llamacpp_exact_counts_progress_timings_and_a_gibberish_reply() {
    let Some(url) = url() else { return };
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let run = repo("counts")
        .env("ONEPASS_ENDPOINT", &url)
        .args(&["-y", "--json", "-vv", "add a --verbose flag"])
        .run()
        .status(1)
        .stderr_has("no diff in the reply")
        .stderr_has("processing the prompt: ")
        .unchanged();
    let report = json_of(&run);
    assert_eq!(report["outcome"], "no_diff");
    assert_eq!(report["server"]["kind"], "llama.cpp");
    assert_eq!(report["estimate"]["exact"], true);
    // The server's own count before sending is the prompt it then processed.
    assert_eq!(
        report["estimate"]["prompt_tokens"], report["metrics"]["prompt_tokens"],
        "{report}"
    );
    assert!(report["metrics"]["prefill_ms"].as_f64().unwrap() > 0.0);
    assert!(report["metrics"]["prefill_tps"].as_f64().unwrap() > 0.0);
    assert!(report["metrics"]["generated_tokens"].as_u64().unwrap() > 0);
    assert!(
        report["metrics"]["cached_tokens"].is_u64(),
        "llama.cpp reports cached tokens: {report}"
    );
}

#[test]
fn real_llamacpp_caches_a_repeated_prompt() {
    let Some(url) = url() else { return };
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let salt = fresh("cache");
    let case = || {
        repo(&salt)
            .env("ONEPASS_ENDPOINT", &url)
            .args(&["-y", "--json", "rename the helpers"])
    };
    let first = json_of(&case().run().status(1));
    let second = json_of(&case().run().status(1));
    let prompt = second["metrics"]["prompt_tokens"].as_u64().unwrap();
    let cached = second["metrics"]["cached_tokens"].as_u64().unwrap();
    assert!(prompt > 1000, "{second}");
    assert!(
        cached * 10 >= prompt * 9,
        "the repeated prompt should come from the cache: {cached} of {prompt}"
    );
    let cold = first["metrics"]["prefill_ms"].as_f64().unwrap();
    let warm = second["metrics"]["prefill_ms"].as_f64().unwrap();
    assert!(warm < cold, "warm prefill {warm} ms vs cold {cold} ms");
}

#[test]
fn real_llamacpp_overflow_is_a_clear_error() {
    let Some(url) = url() else { return };
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let n_ctx = server_context(&url) as usize;
    // Force a prompt larger than the server's window by overriding the budget.
    let mut case = hello();
    let body = "pub fn filler_function(value: u32) -> u32 { value.wrapping_mul(31) }\n".repeat(120);
    for n in 0..(n_ctx / 1500 + 2) {
        case = case.file(&format!("src/filler_{n}.rs"), &body);
    }
    let budget = (n_ctx * 3).to_string();
    let run = case
        .commit()
        .env("ONEPASS_ENDPOINT", &url)
        .args(&["-y", "--budget", &budget, "add a flag"])
        .run()
        .status(2)
        .stderr_has("does not fit the model's context window")
        .unchanged();
    assert!(
        run.stderr.contains(&format!("({n_ctx} tokens)")),
        "{}",
        run.stderr
    );
}

#[test]
fn real_llamacpp_reuses_the_prefix_for_a_new_request_and_after_warm() {
    let Some(url) = url() else { return };
    let _turn = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let case = repo(&fresh("session"));
    let root = case.path().to_path_buf();
    let home = case.home.path().to_path_buf();
    let onepass = |args: &[&str]| {
        let out = std::process::Command::new(crate::harness::BIN)
            .args(args)
            .current_dir(&root)
            .env("ONEPASS_ENDPOINT", &url)
            .env("ONEPASS_MAX_TOKENS", "16")
            .env("HOME", &home)
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    let cold = onepass(&["-y", "--json", "add a --verbose flag"]);
    let next = onepass(&[
        "-y",
        "--json",
        "--same-context",
        "make the greeting configurable",
    ]);
    let prompt = next["metrics"]["prompt_tokens"].as_u64().unwrap();
    let cached = next["metrics"]["cached_tokens"].as_u64().unwrap();
    assert!(
        cached * 100 >= prompt * 95,
        "a new request over the same context: {cached} of {prompt} cached"
    );
    assert!(
        cold["metrics"]["cached_tokens"].as_u64().unwrap() * 2
            < cold["metrics"]["prompt_tokens"].as_u64().unwrap()
    );

    // Warm a fresh context, then ask: the request pays only for its own tokens.
    std::fs::write(
        root.join("src/extra.rs"),
        "pub fn extra_helper() -> u32 { 7 }\n",
    )
    .unwrap();
    let warm = onepass(&["warm", "--json", "add an extra helper"]);
    assert_eq!(warm["outcome"], "written");
    let asked = onepass(&["-y", "--json", "--same-context", "add an extra helper"]);
    let prompt = asked["metrics"]["prompt_tokens"].as_u64().unwrap();
    let cached = asked["metrics"]["cached_tokens"].as_u64().unwrap();
    assert!(
        cached * 100 >= prompt * 95,
        "after warm: {cached} of {prompt} cached"
    );
}
