//! `onepass pack`: the exact prompt, the file list, the statistics; walking rules and skip reasons.

use crate::*;

#[test]
fn prints_the_prompt_with_the_request_last() {
    let run = hello()
        .args(&["pack", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(run.stdout.starts_with("<system>\n"), "{}", run.stdout);
    assert!(run.stdout.contains("### src/main.rs\n```rust\n"));
    assert!(
        run.stdout
            .trim_end()
            .ends_with("add a --verbose flag\n</user>"),
        "{}",
        run.stdout
    );
}

#[test]
fn list_is_in_prompt_order_and_honours_ignore_files() {
    hello()
        .file(".gitignore", "target/\n*.log\n")
        .file(".onepassignore", "docs/secret.md\n")
        .file("target/debug/out.rs", "fn built() {}\n")
        .file("debug.log", "log\n")
        .file("docs/secret.md", "no\n")
        .file("docs/guide.md", "yes\n")
        .args(&["pack", "--list", "anything"])
        .run()
        .status(0)
        .stdout_has("Cargo.toml\nREADME.md\ndocs/guide.md\nsrc/main.rs\n")
        .stdout_lacks("target/")
        .stdout_lacks("debug.log")
        .stdout_lacks("secret");
}

#[test]
fn include_and_exclude_globs() {
    let run = hello()
        .file("src/lib.rs", "pub fn lib() {}\n")
        .args(&[
            "pack",
            "--list",
            "--include",
            "src/**",
            "--exclude",
            "lib.rs",
            "x",
        ])
        .run()
        .status(0);
    assert_eq!(run.stdout, "src/main.rs\n");
}

#[test]
fn json_reports_skips_with_reasons_and_omissions() {
    let big = "fn filler() -> u32 { 42 }\n".repeat(3000);
    let run = hello()
        .bytes("image.png", b"\x89PNG\r\n\x1a\n\0\0\0")
        .file("Cargo.lock", "# lock\n")
        .file("web/app.min.js", "var a=1;")
        .file("huge.txt", &"x".repeat(300_000))
        .file("src/filler.rs", &big)
        .bytes("latin1.txt", b"caf\xe9\n")
        .args(&["pack", "--json", "--budget", "3000", "add a verbose flag"])
        .run()
        .status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    let skipped = report["skipped"].as_array().unwrap();
    let reason = |path: &str| {
        skipped
            .iter()
            .find(|s| s["path"] == path)
            .map(|s| s["reason"]["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(reason("image.png").as_deref(), Some("binary"));
    assert_eq!(reason("Cargo.lock").as_deref(), Some("lock_file"));
    assert_eq!(reason("web/app.min.js").as_deref(), Some("minified"));
    assert_eq!(reason("huge.txt").as_deref(), Some("too_large"));
    assert_eq!(reason("latin1.txt").as_deref(), Some("not_utf8"));
    assert_eq!(report["budget"], 3000);
    assert!(report["prompt_tokens"].as_u64().unwrap() <= 3000);
    let omitted = report["omitted"].as_array().unwrap();
    assert_eq!(omitted[0]["path"], "src/filler.rs");
    assert_eq!(omitted[0]["reason"], "over_budget");
    let files: Vec<_> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"src/main.rs"), "{files:?}");
    // Omitted files are named in the prompt too.
    let prompt = hello()
        .file("src/filler.rs", &big)
        .args(&["pack", "--budget", "3000", "add a verbose flag"])
        .run()
        .status(0);
    assert!(
        prompt.stdout.contains("- src/filler.rs ("),
        "{}",
        prompt.stdout
    );
}

#[test]
fn pins_come_whole_even_when_they_rank_last() {
    let run = hello()
        .file("notes/zzz.txt", "unrelated\n")
        .args(&["pack", "--list", "add a verbose flag", "notes/zzz.txt"])
        .run()
        .status(0);
    assert!(
        run.stdout.lines().any(|l| l == "notes/zzz.txt"),
        "{}",
        run.stdout
    );
    hello()
        .args(&["pack", "--list", "x", "nothing/here.rs"])
        .run()
        .status(2)
        .stderr_has("nothing/here.rs matches no file");
}

#[test]
fn the_max_file_size_is_configurable() {
    let run = hello()
        .file("data.txt", &"y".repeat(2000))
        .args(&["pack", "--json", "--max-file-size", "1000", "x"])
        .run()
        .status(0);
    assert!(run.stdout.contains("\"too_large\""), "{}", run.stdout);
}

#[test]
fn the_budget_follows_the_servers_context_window() {
    let mut routes = std::collections::HashMap::new();
    routes.insert(
        "GET /v1/models".to_string(),
        crate::server::Reply::json(200, r#"{"data":[{"id":"m"}]}"#),
    );
    routes.insert(
        "GET /props".to_string(),
        crate::server::Reply::json(
            200,
            r#"{"default_generation_settings":{"n_ctx":6000},"total_slots":1}"#,
        ),
    );
    let run = hello()
        .with_server(crate::server::TestServer::start(routes))
        .args(&["pack", "--json", "x"])
        .run()
        .status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["context_window"], 6000);
    assert_eq!(report["budget"], 6000 - 4096);
}

#[test]
fn onepass_patch_files_are_not_packed() {
    let run = hello()
        .file("onepass-add-a-flag.patch", "diff --git a/x b/x\n")
        .file("notes.patch", "a patch someone keeps\n")
        .args(&["pack", "--json", "x"])
        .run()
        .status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let skipped = report["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["path"] == "onepass-add-a-flag.patch" && s["reason"]["kind"] == "generated")
    );
    assert!(!skipped.iter().any(|s| s["path"] == "notes.patch"));
}
