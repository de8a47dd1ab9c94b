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
    let other = tempfile::tempdir().unwrap();
    let run = case
        .args(&["apply", "-y", "--repo", &repo, "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
    drop((run, other));
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
