//! The main command end to end: pack, one streaming request, validate, preview, confirm, apply or write.

use crate::server::Reply;
use crate::*;

#[test]
fn applies_the_reply_with_yes() {
    let run = hello()
        .chat(Reply::sse(ADD_VERBOSE_SSE))
        .args(&["--yes", "add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE)
        .stdout_has("+    let verbose = args.iter().any(|a| a == \"--verbose\");")
        .stdout_has("1 file changed, 4 insertions(+), 0 deletions(-)")
        .stderr_has("applied 1 hunk to 1 file");
    assert_eq!(run.changed(), ["src/main.rs"]);

    // The summary reports the server's own numbers.
    let run = run
        .stderr_has("3 files packed, 0 omitted")
        .stderr_has("prompt 1,240 tokens (0 cached)")
        .stderr_has("prefill 1.5 s at 837 tok/s")
        .stderr_has("first token");

    // One streaming request: instructions first, the files, the request last.
    let requests = run.chat_requests();
    assert_eq!(requests.len(), 1);
    let body = requests[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["model"], "test-model");
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("unified diff")
    );
    let user = messages[1]["content"].as_str().unwrap();
    assert!(
        user.contains("### src/main.rs\n```rust\nuse std::env;"),
        "{user}"
    );
    assert!(user.trim_end().ends_with("add a --verbose flag"), "{user}");
    assert!(user.find("### README.md").unwrap() < user.find("### src/main.rs").unwrap());
}

#[test]
fn answering_no_applies_nothing() {
    hello()
        .chat(Reply::sse(ADD_VERBOSE_SSE))
        .args(&["add a --verbose flag"])
        .in_terminal()
        .stdin("q")
        .run()
        .status(1)
        .stdout_has(
            "Apply 1 hunk to 1 file? [a]pply all, [r]eview each hunk, [w]rite a patch, [q]uit",
        )
        .stdout_has("nothing was applied")
        .unchanged();
}

#[test]
fn apply_all_in_a_terminal_applies() {
    hello()
        .chat(Reply::sse(ADD_VERBOSE_SSE))
        .args(&["add a --verbose flag"])
        .in_terminal()
        .stdin("a")
        .run()
        .status(0)
        .stdout_has("[a]pply all")
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn dry_run_writes_a_patch_that_git_accepts_and_touches_nothing_else() {
    let run = hello()
        .chat(Reply::sse(ADD_VERBOSE_SSE))
        .args(&["--dry-run", "Add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN)
        .stderr_has("onepass-add-a-verbose-flag.patch");
    assert_eq!(run.changed(), ["onepass-add-a-verbose-flag.patch"]);
    let check = std::process::Command::new("git")
        .args(["apply", "--check", "onepass-add-a-verbose-flag.patch"])
        .current_dir(run.case.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let apply = std::process::Command::new("git")
        .args(["apply", "onepass-add-a-verbose-flag.patch"])
        .current_dir(run.case.path())
        .output()
        .unwrap();
    assert!(apply.status.success());
    run.file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn dry_run_to_stdout_and_to_a_named_file() {
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["--dry-run", "-o", "-", "add a --verbose flag"])
        .run()
        .status(0)
        .stdout_has("diff --git a/src/main.rs b/src/main.rs")
        .stdout_has("+    if verbose {")
        .unchanged();
    // Only the patch goes to stdout, in git's mail form: a header with the request and the model, then the
    // diff (issue 7).
    assert!(
        run.stdout
            .starts_with("From 0000000000000000000000000000000000000000 "),
        "only the patch goes to stdout: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\nRequest: add a --verbose flag\nModel: test-model\n"),
        "{}",
        run.stdout
    );

    hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&[
            "--dry-run",
            "-o",
            "out/change.patch",
            "add a --verbose flag",
        ])
        .bytes("out/.keep", b"")
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN);
}

#[test]
fn new_and_deleted_files_are_applied() {
    let reply = "Summary: move the greeting into a module.\n\n```diff\n--- /dev/null\n+++ b/src/greet.rs\n@@ -0,0 +1,3 @@\n+pub fn greet(name: &str) -> String {\n+    format!(\"hello, {name}\")\n+}\n--- a/README.md\n+++ /dev/null\n@@ -1,3 +0,0 @@\n-# hello\n-\n-Prints a greeting: `hello NAME`.\n```\n";
    hello()
        .reply(reply)
        .args(&["-y", "move the greeting into a module"])
        .run()
        .status(0)
        .file(
            "src/greet.rs",
            "pub fn greet(name: &str) -> String {\n    format!(\"hello, {name}\")\n}\n",
        )
        .no_file("README.md")
        .file("src/main.rs", HELLO_MAIN);
}

#[test]
fn pinned_paths_are_included_and_the_summary_counts_them() {
    let run = hello()
        .file("docs/guide.md", "# Guide\n")
        .commit()
        .reply(ADD_VERBOSE_REPLY)
        .args(&[
            "-y",
            "--budget",
            "100000",
            "add a --verbose flag",
            "docs/guide.md",
        ])
        .run()
        .status(0);
    let body = run.chat_requests()[0].json();
    assert!(
        body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("### docs/guide.md")
    );
}

#[test]
fn quiet_mode_hides_the_streamed_reply() {
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-q", "-y", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(
        !run.stderr.contains("Summary: Add a --verbose flag"),
        "{}",
        run.stderr
    );
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(
        run.stderr.contains("Summary: Add a --verbose flag"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_api_key_is_sent_as_a_bearer_token() {
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .env("OPENAI_API_KEY", "sk-test-123")
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    assert_eq!(
        run.chat_requests()[0].header("authorization"),
        Some("Bearer sk-test-123")
    );
}

#[test]
fn colour_follows_the_flag() {
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "--color", "always", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(run.stdout.contains("\x1b[32m+"), "{}", run.stdout);
    let run = hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(!run.stdout.contains('\x1b'));
}
