//! Paying the prompt once: a byte-identical prefix across requests, context sessions (`--same-context`,
//! `again`), warm-up, and llama.cpp slots saved and restored.

use std::collections::HashMap;

use crate::server::{Reply, TestServer};
use crate::*;

/// The user message of the n-th chat request the server received.
fn user_message(server: &TestServer, n: usize) -> String {
    let chats = server.chat_requests();
    chats[n].json()["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

#[test]
fn two_requests_over_the_same_files_share_a_byte_identical_prefix() {
    let one = hello()
        .args(&["pack", "add a --verbose flag"])
        .run()
        .status(0)
        .stdout;
    let two = hello()
        .args(&["pack", "make the greeting configurable"])
        .run()
        .status(0)
        .stdout;
    let cut = one.find("add a --verbose flag").unwrap();
    assert_eq!(
        &one[..cut],
        &two[..cut],
        "everything before the request is identical"
    );
    assert!(one[..cut].ends_with("# Request\n\n"), "{}", &one[..cut]);
    assert!(
        !one[..cut].contains("2026"),
        "no dates or run ids before the request"
    );
}

#[test]
fn same_context_reuses_the_selection_and_only_the_request_differs() {
    let server = TestServer::openai(Reply::sse(&crate::server::sse_transcript(
        "no change",
        "stop",
    )));
    let url = server.url.clone();
    let case = hello();
    let repo = case.path().to_path_buf();
    let run = |args: &[&str]| {
        std::process::Command::new(crate::harness::BIN)
            .args(args)
            .current_dir(&repo)
            .env("ONEPASS_ENDPOINT", &url)
            .env("HOME", case.home.path())
            .env("XDG_CONFIG_HOME", case.home.path().join(".config"))
            .output()
            .unwrap()
    };
    assert_eq!(
        run(&["-y", "add a --verbose flag"]).status.code(),
        Some(1),
        "the reply has no diff"
    );
    // A new file that the next request names would rank first, but the context is reused as it was.
    std::fs::write(
        repo.join("src/greeting.rs"),
        "pub fn configurable_greeting() {}\n",
    )
    .unwrap();
    assert_eq!(
        run(&["-y", "--same-context", "make the greeting configurable"])
            .status
            .code(),
        Some(1)
    );
    let first = user_message(&server, 0);
    let second = user_message(&server, 1);
    let cut = first.find("add a --verbose flag").unwrap();
    assert_eq!(
        common_prefix(&first, &second),
        cut,
        "identical up to the request"
    );
    assert!(
        second
            .trim_end()
            .ends_with("make the greeting configurable")
    );
    assert!(!second.contains("### src/greeting.rs"));

    // A changed file moves to the end of the files; what comes before it stays identical.
    std::fs::write(
        repo.join("README.md"),
        "# hello\n\nPrints a greeting, politely.\n",
    )
    .unwrap();
    let out = run(&["again", "-y", "--note", "also handle NAME=\"\""]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("changed since the last run (moved to the end of the context): README.md"),
        "{stderr}"
    );
    let third = user_message(&server, 2);
    assert!(third.find("### Cargo.toml").unwrap() < third.find("### src/main.rs").unwrap());
    assert!(
        third.find("### src/main.rs").unwrap() < third.find("### README.md").unwrap(),
        "{third}"
    );
    assert!(third.contains("Prints a greeting, politely."));
    assert!(
        third
            .trim_end()
            .ends_with("make the greeting configurable\n\nalso handle NAME=\"\""),
        "{third}"
    );
    // The prefix up to the moved file is still the old one.
    let moved = first.find("### README.md").unwrap();
    assert!(common_prefix(&first, &third) >= moved);
}

#[test]
fn again_without_a_previous_run() {
    hello()
        .args(&["again", "-y"])
        .run()
        .status(2)
        .stderr_has("there is no previous run");
    hello()
        .args(&["-y", "--same-context", "x"])
        .run()
        .status(2)
        .stderr_has("there is no previous run");
}

/// A llama.cpp-shaped server whose slot endpoints work and whose /slots reports `slot_filled`.
fn llamacpp_with_slots(slot_filled: bool) -> TestServer {
    let mut routes = HashMap::new();
    routes.insert(
        "GET /props".to_string(),
        Reply::json(
            200,
            include_str!("../../fixtures/streams/llamacpp-props.json"),
        ),
    );
    routes.insert(
        "GET /v1/models".to_string(),
        Reply::json(
            200,
            include_str!("../../fixtures/streams/llamacpp-models.json"),
        ),
    );
    routes.insert(
        "POST /v1/messages/count_tokens".to_string(),
        Reply::json(200, r#"{"input_tokens":300}"#),
    );
    routes.insert(
        "POST /v1/chat/completions".to_string(),
        Reply::sse(&crate::server::sse_transcript("nothing", "stop")),
    );
    let slots = if slot_filled {
        r#"[{"id":0,"n_ctx":8192,"is_processing":false,"id_task":5,"n_prompt_tokens":300}]"#
    } else {
        r#"[{"id":0,"n_ctx":8192,"speculative":false,"is_processing":false}]"#
    };
    routes.insert("GET /slots".to_string(), Reply::json(200, slots));
    routes.insert(
        "POST /slots/0".to_string(),
        Reply::func(|r| {
            let name = r.json()["filename"].as_str().unwrap_or("").to_string();
            if r.path.contains("action=save") {
                Reply::json(200, &format!(r#"{{"id_slot":0,"filename":"{name}","n_saved":300,"n_written":1228800,"timings":{{"save_ms":3.1}}}}"#))
            } else {
                Reply::json(200, &format!(r#"{{"id_slot":0,"filename":"{name}","n_restored":300,"n_read":1228800,"timings":{{"restore_ms":1.2}}}}"#))
            }
        }),
    );
    TestServer::start(routes)
}

#[test]
fn warm_sends_the_prefix_without_generating_and_saves_the_slot() {
    let server = llamacpp_with_slots(true);
    let run = hello()
        .with_server(server)
        .args(&["warm", "--json", "add a --verbose flag"])
        .run()
        .status(0)
        .stderr_has("saved the warmed slot: 300 tokens to onepass-");
    let server = run.case.server.as_ref().unwrap();
    let body = server.chat_requests()[0].json();
    assert_eq!(body["max_tokens"], 0, "generation off");
    assert_eq!(body["id_slot"], 0);
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.ends_with("# Request\n\n"),
        "the prefix stops where the request would start: {user}"
    );
    assert!(!user.contains("add a --verbose flag"));
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["slot"]["action"], "saved");
    assert_eq!(report["slot"]["bytes"], 1228800);
    let save = server
        .requests()
        .into_iter()
        .find(|r| r.path.contains("action=save"))
        .unwrap();
    let filename = save.json()["filename"].as_str().unwrap().to_string();
    assert!(
        filename.starts_with("onepass-") && filename.ends_with(".bin") && !filename.contains('/')
    );
}

#[test]
fn a_saved_slot_is_restored_after_a_restart_and_only_for_the_same_prefix() {
    // Warm on one server, then talk to a "restarted" one (empty slot) with the same model.
    let case = hello();
    let repo = case.path().to_path_buf();
    let run = |server: &TestServer, args: &[&str]| {
        std::process::Command::new(crate::harness::BIN)
            .args(args)
            .current_dir(&repo)
            .env("ONEPASS_ENDPOINT", &server.url)
            .env("HOME", case.home.path())
            .output()
            .unwrap()
    };
    let before = llamacpp_with_slots(true);
    assert!(
        run(&before, &["warm", "add a --verbose flag"])
            .status
            .success()
    );
    let saved = before
        .requests()
        .into_iter()
        .find(|r| r.path.contains("action=save"))
        .unwrap()
        .json()["filename"]
        .clone();

    // The restarted server listens elsewhere: its URL differs, so the record is for another server.
    let restarted = llamacpp_with_slots(false);
    let out = run(
        &restarted,
        &["-y", "--same-context", "add a --verbose flag"],
    );
    assert!(
        !restarted
            .requests()
            .iter()
            .any(|r| r.path.contains("action=restore")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Same server URL, slot emptied (a restart): restored before the chat request.
    let emptied = llamacpp_with_slots(false);
    let mut state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join(".git/onepass/slots.json")).unwrap(),
    )
    .unwrap();
    for s in state["saved"].as_array_mut().unwrap() {
        s["api"] = serde_json::json!(format!("{}/v1", emptied.url));
    }
    std::fs::write(repo.join(".git/onepass/slots.json"), state.to_string()).unwrap();
    let out = run(
        &emptied,
        &["-y", "--same-context", "make the greeting configurable"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("restored 300 cached prompt tokens"),
        "{stderr}"
    );
    let requests = emptied.requests();
    let restore = requests
        .iter()
        .position(|r| r.path.contains("action=restore"))
        .expect("restored");
    let chat = requests
        .iter()
        .position(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    assert!(
        restore < chat,
        "the slot is restored before the request is sent"
    );
    assert_eq!(requests[restore].json()["filename"], saved);

    // Another prefix (a new file in a fresh pack): no restore.
    std::fs::write(repo.join("NOTES.md"), "new notes\n").unwrap();
    let fresh = llamacpp_with_slots(false);
    let _ = run(&fresh, &["-y", "add a --verbose flag"]);
    assert!(
        !fresh
            .requests()
            .iter()
            .any(|r| r.path.contains("action=restore"))
    );
}

#[test]
fn the_summary_says_what_the_cache_saved() {
    // First answer: a cold prefill measured at 837 tok/s; then 1,000 of the prompt tokens come from the cache.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = TestServer::openai(Reply::func(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::sse(ADD_VERBOSE_SSE)
        } else {
            Reply::sse(&crate::server::sse_transcript(ADD_VERBOSE_REPLY, "stop"))
        }
    }));
    let url = server.url.clone();
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().to_str().unwrap();
    hello()
        .env("ONEPASS_CACHE_DIR", cache)
        .with_server(server)
        .args(&["--dry-run", "add a --verbose flag"])
        .run()
        .status(0);
    let run = hello()
        .env("ONEPASS_CACHE_DIR", cache)
        .env("ONEPASS_ENDPOINT", &url)
        .args(&["--dry-run", "add a --verbose flag"])
        .run()
        .status(0);
    // 1,000 cached tokens at the measured 837 tok/s: about 1.2 s of prefill saved.
    assert!(
        run.stderr
            .contains("(1,000 cached, ~1.2 s of prefill saved)"),
        "{}",
        run.stderr
    );
}

#[test]
fn warm_watch_warms_again_when_a_file_changes() {
    let server = TestServer::openai(Reply::sse(&crate::server::sse_transcript("", "length")));
    let case = hello();
    let mut child = std::process::Command::new(crate::harness::BIN)
        .args(["warm", "--watch", "add a --verbose flag"])
        .current_dir(case.path())
        .env("ONEPASS_ENDPOINT", &server.url)
        .env("HOME", case.home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while server.chat_requests().len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "no warm request number {n}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    wait_for(1);
    std::thread::sleep(std::time::Duration::from_millis(800));
    std::fs::write(case.path().join("README.md"), "# hello\n\nchanged\n").unwrap();
    wait_for(2);
    child.kill().unwrap();
    let _ = child.wait();
    let first = user_message(&server, 0);
    let second = user_message(&server, 1);
    assert_eq!(
        server.chat_requests()[1].json()["max_tokens"],
        1,
        "generation off on a generic server"
    );
    // The changed file moved to the end; what came before it is the same.
    assert!(
        second.find("### src/main.rs").unwrap() < second.find("### README.md").unwrap(),
        "{second}"
    );
    assert!(second.contains("changed"));
    assert!(common_prefix(&first, &second) >= first.find("### README.md").unwrap());
}
