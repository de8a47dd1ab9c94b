//! Hostile or broken replies cannot escape (issue 8, item 3), and odd repositories do not crash onepass
//! (item 6). Replies are fed to `onepass apply` (the same path as a streamed reply after the model stage);
//! every refusal leaves the tree, and anything outside it, unchanged.

use std::os::unix::fs::PermissionsExt;

use crate::harness::Case;
use crate::server::{Reply, sse_transcript};
use crate::*;

/// A git diff creating `path` with one line.
fn create(path: &str) -> String {
    format!(
        "```diff\ndiff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+owned\n```\n"
    )
}

/// A diff changing the first line `old` of `path` to `new`.
fn modify(path: &str, old: &str, new: &str) -> String {
    format!("```diff\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n```\n")
}

/// Feed `reply` to `onepass apply -y` and expect a refusal (exit 2: bad input, nothing applied) saying
/// `message`.
fn refused(case: Case, reply: &str, message: &str) -> crate::harness::Run {
    case.args(&["apply", "-y", "-"])
        .stdin(reply)
        .run()
        .status(2)
        .stderr_has(message)
        .unchanged()
}

#[test]
fn paths_that_leave_the_repository() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("victim.txt");
    let deep = format!("{}/victim.txt", outside.path().display());
    for (path, message) in [
        ("../victim.txt", "leaves the repository"),
        ("src/../../victim.txt", "leaves the repository"),
        ("..\\..\\victim.txt", "backslash"),
        (deep.as_str(), "absolute"),
        ("/etc/cron.d/evil", "absolute"),
        (".git/hooks/pre-commit", ".git"),
        (".GIT/config", ".git"),
        ("src/.git/x", ".git"),
    ] {
        refused(hello(), &create(path), message);
    }
    assert!(!target.exists());
}

#[test]
fn names_with_nul_or_control_characters() {
    // (A tab ends the name in a diff header, as in every unified diff: `tab\there.txt` names `tab`.)
    for path in [
        "a\u{1}b.txt",
        "evil\u{1b}[2J.txt",
        "cr\rname.txt",
        "nul\u{0}.txt",
    ] {
        let run = hello()
            .args(&["apply", "-y", "-"])
            .stdin(&create(path))
            .run()
            .unchanged();
        assert_ne!(run.status, 0, "{path:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains('\u{1b}'),
            "a raw escape reached the terminal"
        );
    }
}

#[test]
fn symlinks_that_lead_outside_or_are_links_themselves() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim.txt"), "safe\n").unwrap();
    let linked = || {
        let case = hello();
        std::os::unix::fs::symlink(outside.path(), case.path().join("out")).unwrap();
        std::os::unix::fs::symlink("README.md", case.path().join("readme-link")).unwrap();
        std::os::unix::fs::symlink("/dev/null", case.path().join("null")).unwrap();
        case.commit()
    };
    refused(
        linked(),
        &modify("out/victim.txt", "safe", "owned"),
        "leaves the repository through a symbolic link",
    );
    refused(linked(), &create("out/new.txt"), "symbolic link");
    refused(
        linked(),
        &modify("readme-link", "# hello", "# owned"),
        "is not a regular file",
    );
    refused(linked(), &modify("null", "", "x"), "symbolic link");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("victim.txt")).unwrap(),
        "safe\n"
    );
    assert!(!outside.path().join("new.txt").exists());
}

#[test]
fn fifos_and_directories_are_not_files() {
    let case = hello();
    let fifo = case.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    refused(case, &modify("pipe", "x", "y"), "is not a regular file");
    refused(hello(), &modify("src", "x", "y"), "is not a regular file");
}

#[test]
fn hard_links_and_nested_repositories() {
    let outside = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "safe\n").unwrap();
    let case = hello().file("vendor/lib/src.c", "int x;\n");
    git2::Repository::init(case.path().join("vendor/lib")).unwrap();
    refused(
        case,
        &modify("vendor/lib/src.c", "int x;", "int y;"),
        "nested git repository",
    );
    let case = hello();
    // A hard link only works on the same filesystem; that part is skipped where it cannot be made.
    if std::fs::hard_link(&victim, case.path().join("linked.txt")).is_ok() {
        refused(case, &modify("linked.txt", "safe", "owned"), "hard links");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "safe\n");
}

#[test]
fn mode_changes_and_symlinks_are_refused_unless_allowed() {
    let exec = "```diff\ndiff --git a/run.sh b/run.sh\nnew file mode 100755\n--- /dev/null\n+++ b/run.sh\n@@ -0,0 +1 @@\n+echo hi\n```\n";
    refused(hello(), exec, "makes a file executable (mode 100755)");
    let link = "```diff\ndiff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/passwd\n```\n";
    refused(hello(), link, "creates a symbolic link")
        .stderr_has("--allow-modes")
        .no_file("link");
    let chmod =
        "```diff\ndiff --git a/src/main.rs b/src/main.rs\nold mode 100644\nnew mode 100755\n```\n";
    refused(hello(), chmod, "makes a file executable");
    // Allowed: the content is applied, the file is regular and not executable.
    let run = hello()
        .args(&["apply", "-y", "--allow-modes", "-"])
        .stdin(exec)
        .run()
        .status(0)
        .stderr_has("only its content changes are applied")
        .file("run.sh", "echo hi\n");
    let meta = std::fs::symlink_metadata(run.case.path().join("run.sh")).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o111, 0, "not executable");
}

#[test]
fn a_placeholder_is_never_written_over_a_secret() {
    let case = hello()
        .file("config.yml", "password: \"hunter2-xyz\"\n")
        .commit();
    let reply = modify(
        "config.yml",
        "password: \"hunter2-xyz\"",
        "password: \"[REDACTED:assignment]\"",
    );
    refused(case, &reply, "redaction placeholder");
}

#[test]
fn a_gigantic_reply_from_a_file_or_stdin() {
    let big = format!("{}\n{ADD_VERBOSE_REPLY}", "x".repeat(10_000));
    hello()
        .env("ONEPASS_MAX_REPLY_BYTES", "5000")
        .args(&["apply", "-y", "-"])
        .stdin(&big)
        .run()
        .status(2)
        .stderr_has("larger than the 5000 byte cap")
        .unchanged();
}

#[test]
fn a_gigantic_reply_from_the_server() {
    // Item 3's cap through the model path: the server streams far more than the cap allows.
    let text = format!("{ADD_VERBOSE_REPLY}\n{}", "more words ".repeat(1000));
    hello()
        .env("ONEPASS_MAX_REPLY_BYTES", "2000")
        .chat(Reply::sse(&sse_transcript(&text, "stop")))
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(2)
        .stderr_has("the reply is larger than the 2000 byte cap")
        .unchanged();
}

// ---- odd repositories (item 6) ----

fn pack_json(case: Case) -> serde_json::Value {
    let run = case.args(&["pack", "--json", "anything"]).run().status(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn skip_kind(report: &serde_json::Value, path: &str) -> String {
    report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == path)
        .map(|s| s["reason"]["kind"].as_str().unwrap_or("").to_string())
        .unwrap_or_else(|| panic!("{path} not skipped: {report}"))
}

#[test]
fn odd_files_are_skipped_with_reasons() {
    let mut png_as_text = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png_as_text.extend_from_slice(&[0u8; 64]);
    let report = pack_json(
        hello()
            .bytes("notes.txt", &png_as_text)
            .bytes("latin1.md", b"caf\xe9 cr\xe8me\n")
            .file("crlf.rs", "fn a() {}\r\nfn b() {}\r\n")
            .bytes("huge.rs", &vec![b'a'; 300 * 1024]),
    );
    assert_eq!(skip_kind(&report, "notes.txt"), "binary");
    assert_eq!(skip_kind(&report, "latin1.md"), "not_utf8");
    assert_eq!(skip_kind(&report, "huge.rs"), "too_large");
    let packed: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(packed.contains(&"crlf.rs"), "{packed:?}");
}

/// A file whose name is not valid UTF-8 (Latin-1 from an old archive) cannot be named in a prompt or a diff:
/// it is listed among the skipped files with its reason, never silently left out, and so is a file inside a
/// directory so named. Such a tree is walked in full each time (the snapshot names paths in text).
#[test]
fn a_file_whose_name_is_not_utf8_is_skipped_and_said() {
    use std::os::unix::ffi::OsStrExt;
    let case = hello();
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.rs");
    std::fs::write(case.path().join(odd), "fn cafe() {}\n").unwrap();
    let dir = case
        .path()
        .join(std::ffi::OsStr::from_bytes(b"r\xe9sum\xe9"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("cv.md"), "work history\n").unwrap();
    let run = case.args(&["pack", "--json", "anything"]).run().status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(skip_kind(&report, "caf\u{FFFD}.rs"), "path_not_utf8");
    assert_eq!(
        skip_kind(&report, "r\u{FFFD}sum\u{FFFD}/cv.md"),
        "path_not_utf8"
    );
    let again = pack_json(run.case.again());
    assert_eq!(again["totals"]["walk_relisted"], false);
    assert_eq!(skip_kind(&again, "caf\u{FFFD}.rs"), "path_not_utf8");
}

#[test]
fn a_fifty_megabyte_file_is_skipped_without_being_read() {
    let case = hello();
    let big = std::fs::File::create(case.path().join("data.sql")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    let started = std::time::Instant::now();
    let report = pack_json(case);
    assert_eq!(skip_kind(&report, "data.sql"), "too_large");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_crlf_file_keeps_its_line_endings_when_changed() {
    let case = hello().file("win.txt", "first\r\nsecond\r\n").commit();
    let run = case
        .args(&["apply", "-y", "-"])
        .stdin(&modify("win.txt", "first", "changed"))
        .run()
        .status(0);
    assert_eq!(
        std::fs::read(run.case.path().join("win.txt")).unwrap(),
        b"changed\r\nsecond\r\n"
    );
}

#[test]
fn submodules_and_nested_repositories_are_not_walked_into() {
    let case = hello().file("vendor/dep/lib.rs", "pub fn dep() {}\n");
    git2::Repository::init(case.path().join("vendor/dep")).unwrap();
    let report = pack_json(case);
    assert_eq!(skip_kind(&report, "vendor/dep"), "submodule");
    let text = report.to_string();
    assert!(!text.contains("vendor/dep/lib.rs"), "{text}");
}

#[test]
fn a_repository_without_commits_works() {
    Case::new()
        .file("src/main.rs", HELLO_MAIN)
        .args(&["pack", "--list", "anything"])
        .run()
        .status(0)
        .stdout_has("src/main.rs");
    // With no commit every file is uncommitted work: applying needs --allow-dirty, then works.
    Case::new()
        .file("src/main.rs", HELLO_MAIN)
        .args(&["apply", "-y", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(2)
        .stderr_has("--allow-dirty")
        .unchanged();
    Case::new()
        .file("src/main.rs", HELLO_MAIN)
        .args(&["apply", "-y", "--allow-dirty", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn a_bare_repository_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    git2::Repository::init_bare(dir.path()).unwrap();
    let before = crate::harness::snapshot(dir.path());
    let case = Case::new().args(&["-C", dir.path().to_str().unwrap(), "pack", "anything"]);
    case.run()
        .status(2)
        .stderr_has("is a bare repository: onepass needs a working tree");
    assert_eq!(crate::harness::snapshot(dir.path()), before);
}

#[test]
fn a_linked_worktree_works() {
    let case = hello();
    let linked = tempfile::tempdir().unwrap();
    let wt = linked.path().join("wt");
    let status = std::process::Command::new("git")
        .args(["worktree", "add", "-q", "-b", "side"])
        .arg(&wt)
        .current_dir(case.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success());
    let wt_arg = wt.to_str().unwrap().to_string();
    let run = case
        .args(&["apply", "-y", "-C", &wt_arg, "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0);
    assert_eq!(
        std::fs::read_to_string(wt.join("src/main.rs")).unwrap(),
        HELLO_MAIN_VERBOSE
    );
    // The main working tree is untouched.
    run.file("src/main.rs", HELLO_MAIN);
}

#[test]
fn a_few_thousand_files() {
    let mut case = hello();
    for i in 0..3000 {
        case = case.file(&format!("gen/d{}/f{i}.txt", i % 50), "line\n");
    }
    let started = std::time::Instant::now();
    let report = pack_json(case);
    assert!(report["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn control_characters_in_a_reply_are_not_sent_to_the_terminal() {
    let reply = "```diff\n--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n # hello\n \n-Prints a greeting: `hello NAME`.\n+Prints \u{1b}[2J\u{1b}]0;owned\u{7} a greeting.\n```\n";
    let run = hello()
        .args(&["apply", "--check", "--color", "never", "-"])
        .stdin(reply)
        .run()
        .status(0);
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{7}'),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout.contains("\\u{1b}[2J"), "{}", run.stdout);
}
