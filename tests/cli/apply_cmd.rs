//! `onepass apply FILE|-`: a reply obtained elsewhere, from extraction on.

use crate::*;

#[test]
fn applies_a_reply_from_a_file() {
    let case = hello();
    let reply = case.home.path().join("reply.md");
    std::fs::write(&reply, ADD_VERBOSE_REPLY).unwrap();
    let reply = reply.to_str().unwrap().to_string();
    case.args(&["apply", "--yes", &reply])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn applies_a_reply_from_stdin_in_another_directory() {
    let case = hello();
    let repo = case.path().to_str().unwrap().to_string();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = case
        .cwd_outside(elsewhere.path())
        .args(&["apply", "-y", "--repo", &repo, "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "nothing is written where onepass was run from"
    );
    drop(run);
}

#[test]
fn apply_dry_run_writes_only_the_patch() {
    let run = hello()
        .args(&["apply", "--dry-run", "-o", "x.patch", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN);
    assert_eq!(run.changed(), ["x.patch"]);
}

#[test]
fn apply_from_a_subdirectory_uses_repo_relative_paths() {
    hello()
        .cwd("src")
        .args(&["apply", "-y", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn a_missing_reply_file() {
    hello()
        .args(&["apply", "-y", "nope.md"])
        .run()
        .status(2)
        .stderr_has("cannot read the reply from nope.md");
}

#[test]
fn apply_applies_to_uncommitted_files_as_they_are_on_disk() {
    // Validation is against the working tree, so a file that is new and untracked can be patched too, once
    // --allow-dirty says its uncommitted contents may be touched (issue 7).
    let case = crate::harness::Case::new().file("src/main.rs", HELLO_MAIN);
    case.args(&["apply", "-y", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(2)
        .stderr_has("src/main.rs (not committed)")
        .stderr_has("--allow-dirty")
        .unchanged();
    let case = crate::harness::Case::new().file("src/main.rs", HELLO_MAIN);
    case.args(&["apply", "-y", "--allow-dirty", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn check_validates_and_reports_without_applying() {
    let run = hello()
        .args(&["apply", "--check", "--json", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .stderr_has("can be placed exactly; nothing was applied (--check)")
        .unchanged();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["outcome"], "checked");
    assert_eq!(report["change"]["files"][0]["hunks"][0]["level"], "exact");
    let mismatch = "```diff\n--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1 +1 @@\n-use std::io;\n+use std::fmt;\n```\n";
    hello()
        .args(&["apply", "--check", "-"])
        .stdin(mismatch)
        .run()
        .status(1)
        .unchanged();
}

#[test]
fn strict_rejects_what_needed_more_than_whitespace_repair() {
    // The model wrote curly quotes in a context line: the unicode rung places it, --strict refuses it;
    // re-indentation is a whitespace repair, which --strict accepts.
    let curly = "```diff\n--- a/src/main.rs\n+++ b/src/main.rs\n@@ -4,3 +4,4 @@\n     let args: Vec<String> = env::args().collect();\n+    let verbose = args.len() > 2;\n     let name = args.get(1).map(String::as_str).unwrap_or(\u{201c}world\u{201d});\n     println!(\u{201c}hello, {name}\u{201d});\n```\n";
    let run = hello()
        .args(&["apply", "--check", "--json", "-"])
        .stdin(curly)
        .run()
        .status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["change"]["files"][0]["hunks"][0]["level"], "unicode");
    hello()
        .args(&["apply", "-y", "--strict", "-"])
        .stdin(curly)
        .run()
        .status(1)
        .unchanged();
    hello()
        .args(&["apply", "-y", "-"])
        .stdin(curly)
        .run()
        .status(0)
        .stdout_has("[repaired: unicode]");

    let reindented = "```diff\n--- a/src/main.rs\n+++ b/src/main.rs\n@@ -3,4 +3,5 @@\n fn main() {\n   let args: Vec<String> = env::args().collect();\n+  let verbose = args.len() > 2;\n   let name = args.get(1).map(String::as_str).unwrap_or(\"world\");\n   println!(\"hello, {name}\");\n```\n";
    hello()
        .args(&["apply", "-y", "--strict", "-"])
        .stdin(reindented)
        .run()
        .status(0)
        .stdout_has("[repaired: indentation]");
}
