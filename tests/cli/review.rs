//! Issue 7 (review like git add -p, apply like git) and issue 8 item 4 (all or nothing, even under faults):
//! the preview, the hunk-by-hunk review driven by real keystrokes in a pseudo-terminal, all-or-nothing apply
//! with injected faults, the dirty-file refusal, --stage, --commit, undo, dry-run patches and the JSON report.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::Expect;

use crate::harness::{BIN, Case, dead_endpoint};
use crate::*;

/// Lines `prefix01..prefixNN`, one per line.
fn numbered(prefix: &str, n: usize) -> String {
    (1..=n).map(|i| format!("{prefix}{i:02}\n")).collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A reply holding the diff that turns each `(path, after)` into its new contents: the files are written,
/// `git diff` reads the change, and the files are put back.
fn reply_for(case: &Case, changes: &[(&str, &str)]) -> String {
    let mut before = Vec::new();
    for (path, after) in changes {
        let full = case.path().join(path);
        before.push((full.clone(), std::fs::read(&full).ok()));
        std::fs::write(&full, after).unwrap();
    }
    let diff = git(case.path(), &["diff", "--no-color", "--no-ext-diff"]);
    for (full, bytes) in before {
        match bytes {
            Some(b) => std::fs::write(full, b).unwrap(),
            None => std::fs::remove_file(full).unwrap(),
        }
    }
    format!(
        "Summary: {} changes.\n\n```diff\n{diff}```\n",
        changes.len()
    )
}

fn identity(case: &Case) {
    let repo = git2::Repository::open(case.path()).unwrap();
    let mut config = repo.config().unwrap();
    config.set_str("user.name", "Rev Iewer").unwrap();
    config.set_str("user.email", "rev@example.com").unwrap();
}

const LIB: &str = "src/lib.rs";
const OTHER: &str = "other.txt";

/// src/lib.rs (36 lines) and other.txt (12 lines), committed.
fn two_files() -> Case {
    Case::new()
        .file(LIB, &numbered("l", 36))
        .file(OTHER, &numbered("o", 12))
        .commit()
}

/// Five hunks in src/lib.rs (the first holds two changes three lines apart, so it can be split) and two in
/// other.txt.
fn many_hunks(case: &Case) -> String {
    let lib = numbered("l", 36)
        .replace("l02\n", "L02\n")
        .replace("l06\n", "L06\n")
        .replace("l14\n", "L14\n")
        .replace("l22\n", "L22\n")
        .replace("l30\n", "L30\n");
    let other = numbered("o", 12)
        .replace("o02\n", "O02\n")
        .replace("o10\n", "O10\n");
    reply_for(case, &[(LIB, &lib), (OTHER, &other)])
}

/// A onepass process in a pseudo-terminal, driven by keystrokes.
struct Pty {
    session: expectrl::session::OsSession,
    transcript: String,
}

impl Pty {
    fn spawn(case: &Case, args: &[&str], env: &[(&str, &str)]) -> Pty {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(case.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", case.home.path())
            .env("XDG_CONFIG_HOME", case.home.path().join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("TERM", "xterm")
            // Long previews would wait in less: only the pager test sets a pager.
            .env("PAGER", "cat")
            .env("ONEPASS_ENDPOINT", dead_endpoint());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut session = expectrl::Session::spawn(command).expect("spawn onepass in a pty");
        let _ = session.get_process_mut().set_window_size(120, 40);
        session.set_expect_timeout(Some(Duration::from_secs(20)));
        Pty {
            session,
            transcript: String::new(),
        }
    }

    /// Wait for `text` on the terminal.
    fn expect(&mut self, text: &str) -> &mut Pty {
        match self.session.expect(text) {
            Ok(found) => {
                self.transcript
                    .push_str(&String::from_utf8_lossy(found.before()));
                for m in found.matches() {
                    self.transcript.push_str(&String::from_utf8_lossy(m));
                }
            }
            Err(e) => panic!(
                "waiting for {text:?}: {e}\n--- terminal so far ---\n{}",
                self.transcript
            ),
        }
        self
    }

    /// Wait for `prompt`, then press `key` (one keystroke, no Enter).
    fn answer(&mut self, prompt: &str, key: &str) -> &mut Pty {
        self.expect(prompt);
        self.session.send(key).unwrap();
        self
    }

    /// The rest of the output and the exit status.
    fn finish(&mut self) -> (i32, String) {
        match self.session.expect(expectrl::Eof) {
            Ok(found) => {
                self.transcript
                    .push_str(&String::from_utf8_lossy(found.before()));
                for m in found.matches() {
                    self.transcript.push_str(&String::from_utf8_lossy(m));
                }
            }
            Err(e) => panic!("waiting for the end: {e}\n{}", self.transcript),
        }
        let status = match self.session.get_process().wait().unwrap() {
            expectrl::process::unix::WaitStatus::Exited(_, code) => code,
            other => panic!("onepass ended with {other:?}\n{}", self.transcript),
        };
        (status, self.transcript.clone())
    }
}

fn write_reply(case: &Case, reply: &str) -> String {
    let path = case.home.path().join("reply.md");
    std::fs::write(&path, reply).unwrap();
    path.to_str().unwrap().to_string()
}

/// `onepass apply --color never FLAGS REPLY` in a pseudo-terminal over [`two_files`], the reply being
/// [`many_hunks`].
fn apply_many_hunks(case: &Case, flags: &[&str], env: &[(&str, &str)]) -> Pty {
    let reply = write_reply(case, &many_hunks(case));
    let mut args = vec!["apply", "--color", "never"];
    args.extend_from_slice(flags);
    args.push(&reply);
    Pty::spawn(case, &args, env)
}

fn read(case: &Case, path: &str) -> String {
    std::fs::read_to_string(case.path().join(path)).unwrap()
}

#[test]
fn review_with_split_edit_skip_rest_apply_rest_and_confirmation() {
    let case = two_files();
    // The "editor" changes the added line of the hunk it is given.
    let mut pty = apply_many_hunks(
        &case,
        &["--review"],
        &[("EDITOR", "sed -i -e 's/^+L14$/+L14 edited/'")],
    );
    // git orders the files by path: other.txt (2 hunks) comes before src/lib.rs (4 hunks).
    pty.answer("(1/6) Apply this hunk [y,n,a,d,e,q,?]? ", "?")
        .expect("s - split the current hunk into smaller hunks")
        .answer("(1/6) Apply this hunk", "a")
        .answer("(3/6) Apply this hunk [y,n,a,d,s,e,q,?]? ", "s")
        .expect("split into 2 hunks")
        .answer("(3/7) Apply this hunk [y,n,a,d,e,q,?]? ", "y")
        .answer("(4/7) Apply this hunk", "n")
        .answer("(5/7) Apply this hunk", "e")
        .expect("edited hunk accepted")
        // The edited hunk counts as accepted: the next question is about the 6th.
        .answer("(6/7) Apply this hunk", "d")
        .expect("other.txt: 2 of 2 hunks")
        .expect("src/lib.rs: 2 of 5 hunks")
        .answer("Apply 4 of 7 hunks to 2 files?", "y");
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("applied 4 hunks to 2 files"), "{out}");
    // The hunk headers name the repair level; the preview came first.
    assert!(out.contains("[exact]"), "{out}");
    assert!(
        out.contains(" 2 files changed, 7 insertions(+), 7 deletions(-)"),
        "{out}"
    );
    assert_eq!(
        read(&case, LIB),
        numbered("l", 36)
            .replace("l02\n", "L02\n")
            .replace("l14\n", "L14 edited\n")
    );
    assert_eq!(
        read(&case, OTHER),
        numbered("o", 12)
            .replace("o02\n", "O02\n")
            .replace("o10\n", "O10\n")
    );
}

#[test]
fn quit_applies_what_was_accepted_after_one_confirmation() {
    let case = two_files();
    let mut pty = apply_many_hunks(&case, &[], &[]);
    pty.answer(
        "[a]pply all, [r]eview each hunk, [w]rite a patch, [q]uit",
        "r",
    )
    .answer("(1/6) Apply this hunk", "n")
    .answer("(2/6) Apply this hunk", "y")
    .answer("(3/6) Apply this hunk", "q")
    .answer("Apply 1 of 6 hunks to 1 file?", "y");
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("applied 1 hunk to 1 file"), "{out}");
    assert_eq!(
        read(&case, OTHER),
        numbered("o", 12).replace("o10\n", "O10\n")
    );
    assert_eq!(read(&case, LIB), numbered("l", 36));
}

#[test]
fn saying_no_at_the_final_confirmation_applies_nothing() {
    let case = two_files();
    let before = case.snapshot();
    let mut pty = apply_many_hunks(&case, &["--review"], &[]);
    pty.answer("(1/6) Apply this hunk", "a")
        .answer("(3/6) Apply this hunk", "y")
        .answer("(4/6) Apply this hunk", "n")
        .answer("(5/6) Apply this hunk", "d")
        .answer("Apply 3 of 6 hunks to 2 files?", "n");
    let (status, out) = pty.finish();
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("nothing was applied"), "{out}");
    assert_eq!(case.snapshot(), before);
}

#[test]
fn a_refused_edit_leaves_the_hunk_as_it_was() {
    let case = two_files();
    // This "editor" breaks the context: the edit no longer matches the file.
    let mut pty = apply_many_hunks(
        &case,
        &["--review"],
        &[("EDITOR", "sed -i -e 's/^ l11$/ l11 changed/'")],
    );
    pty.answer("(1/6) Apply this hunk", "n")
        .answer("(2/6) Apply this hunk", "n")
        .answer("(3/6) Apply this hunk", "n")
        .answer("(4/6) Apply this hunk", "e")
        .expect("do not match the file; the hunk is left as it was")
        .answer("(4/6) Apply this hunk", "y")
        .answer("(5/6) Apply this hunk", "q")
        .answer("Apply 1 of 6 hunks to 1 file?", "y");
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert_eq!(
        read(&case, LIB),
        numbered("l", 36).replace("l14\n", "L14\n")
    );
}

#[test]
fn write_patch_from_the_first_question() {
    let case = two_files();
    let mut pty = apply_many_hunks(&case, &["-o", "out.patch"], &[]);
    pty.answer("[q]uit", "w");
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert_eq!(read(&case, LIB), numbered("l", 36));
    let patch = read(&case, "out.patch");
    assert!(
        patch.contains("diff --git a/src/lib.rs b/src/lib.rs"),
        "{patch}"
    );
    git(case.path(), &["apply", "--check", "out.patch"]);
}

#[test]
fn a_file_changed_while_the_question_waits_is_refused() {
    let case = two_files();
    let mut pty = apply_many_hunks(&case, &[], &[]);
    pty.expect("[q]uit");
    // The user saves the file in their editor while onepass waits.
    let mine = numbered("o", 12).replace("o05\n", "mine\n");
    std::fs::write(case.path().join(OTHER), &mine).unwrap();
    pty.session.send("a").unwrap();
    let (status, out) = pty.finish();
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("changed on disk"), "{out}");
    assert_eq!(read(&case, OTHER), mine);
    assert_eq!(read(&case, LIB), numbered("l", 36));
}

#[test]
fn long_previews_go_through_the_pager() {
    let case = two_files();
    let mut pty = apply_many_hunks(&case, &["-y"], &[("PAGER", "sed -e 's/^/PAGED:/'")]);
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("PAGED:diff --git a/src/lib.rs b/src/lib.rs"),
        "{out}"
    );
    assert!(out.contains("PAGED:+L02"), "{out}");

    let case = two_files();
    let mut pty = apply_many_hunks(
        &case,
        &["-y", "--no-pager"],
        &[("PAGER", "sed -e 's/^/PAGED:/'")],
    );
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert!(!out.contains("PAGED:"), "{out}");
    assert!(out.contains("+L02"), "{out}");
}

#[test]
fn word_level_highlights_in_colour_on_a_terminal() {
    let case = Case::new()
        .file("a.txt", "let total = one + two;\n")
        .commit();
    let reply = write_reply(
        &case,
        &reply_for(&case, &[("a.txt", "let total = one + three;\n")]),
    );
    let mut pty = Pty::spawn(&case, &["apply", "-y", "--color", "always", &reply], &[]);
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("\x1b[1;31;7mtwo\x1b[0m"), "{out:?}");
    assert!(out.contains("\x1b[1;32;7mthree\x1b[0m"), "{out:?}");
}

#[test]
fn without_a_terminal_review_needs_yes_or_dry_run() {
    let case = two_files();
    let reply = many_hunks(&case);
    case.args(&["apply", "--review", "-"])
        .stdin(&reply)
        .run()
        .status(2)
        .stderr_has("no terminal")
        .unchanged();
}

#[test]
fn undo_restores_the_bytes_exactly_and_only_once() {
    // CRLF endings, no final newline, an executable bit, a created and a deleted file.
    let case = Case::new()
        .bytes("crlf.txt", b"one\r\ntwo\r\nthree\r\n")
        .bytes("tail.txt", b"a\nb\nc")
        .file("gone.txt", "bye\n")
        .commit();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            case.path().join("tail.txt"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let reply = "```diff\n--- a/crlf.txt\n+++ b/crlf.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n--- a/tail.txt\n+++ b/tail.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\\ No newline at end of file\n--- /dev/null\n+++ b/new/dir/made.txt\n@@ -0,0 +1 @@\n+made\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n```\n";
    let before = case.snapshot();
    let run = case
        .args(&["apply", "-y", "--allow-dirty", "-"])
        .stdin(reply)
        .run()
        .status(0);
    assert_eq!(
        std::fs::read(run.case.path().join("crlf.txt")).unwrap(),
        b"one\r\nTWO\r\nthree\r\n"
    );
    run.case
        .path()
        .join("new/dir/made.txt")
        .exists()
        .then_some(())
        .unwrap();
    let run = run
        .case
        .again()
        .args(&["undo", "--yes"])
        .run()
        .status(0)
        .stderr_has("restored 4 files");
    assert_eq!(run.case.snapshot(), before);
    assert!(
        !run.case.path().join("new").exists(),
        "created directories go too"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(run.case.path().join("tail.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
    run.case
        .again()
        .args(&["undo", "--yes"])
        .run()
        .status(2)
        .stderr_has("nothing to undo");
}

#[test]
fn undo_refuses_when_a_file_changed_since() {
    let run = hello()
        .args(&["apply", "-y", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0);
    std::fs::write(run.case.path().join("src/main.rs"), "edited since\n").unwrap();
    run.case
        .again()
        .args(&["undo", "--yes"])
        .run()
        .status(2)
        .stderr_has("changed since onepass applied the change: src/main.rs")
        .unchanged();
}

#[test]
fn undo_without_a_terminal_needs_yes() {
    let run = hello()
        .args(&["apply", "-y", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0);
    run.case
        .again()
        .args(&["undo"])
        .run()
        .status(2)
        .stderr_has("--yes")
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn a_dirty_file_is_refused_unless_allowed_and_then_patched_as_it_is() {
    let case = Case::new().file("notes.txt", &numbered("n", 12)).commit();
    let after = numbered("n", 12).replace("n02\n", "N02\n");
    let reply = reply_for(&case, &[("notes.txt", &after)]);
    // An uncommitted change far from the hunk.
    let dirty = numbered("n", 12).replace("n11\n", "mine\n");
    std::fs::write(case.path().join("notes.txt"), &dirty).unwrap();
    let run = case
        .args(&["apply", "-y", "-"])
        .stdin(&reply)
        .run()
        .status(2)
        .stderr_has("notes.txt (modified)")
        .stderr_has("--allow-dirty")
        .unchanged();
    run.case
        .again()
        .args(&["apply", "-y", "--allow-dirty", "-"])
        .stdin(&reply)
        .run()
        .status(0)
        .file("notes.txt", &dirty.replace("n02\n", "N02\n"));
}

#[test]
fn commit_creates_one_commit_with_the_expected_tree_and_undo_takes_it_back() {
    let case = hello();
    identity(&case);
    let repo = git2::Repository::open(case.path()).unwrap();
    let parent = repo.head().unwrap().peel_to_commit().unwrap().id();
    let run = case
        .args(&["apply", "-y", "--commit", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .stderr_has("committed as")
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    assert_eq!(head.parent_ids().collect::<Vec<_>>(), vec![parent]);
    assert_eq!(head.author().name(), Ok("Rev Iewer"));
    assert!(
        head.message().unwrap().starts_with("Add a --verbose flag"),
        "{:?}",
        head.message()
    );
    assert!(head.message().unwrap().contains("Request: reply"));
    let tree = head.tree().unwrap();
    let blob = tree
        .get_path(Path::new("src/main.rs"))
        .unwrap()
        .to_object(&repo)
        .unwrap()
        .peel_to_blob()
        .unwrap();
    assert_eq!(
        std::str::from_utf8(blob.content()).unwrap(),
        HELLO_MAIN_VERBOSE
    );
    // Nothing else changed between the parent and the commit, and nothing is left uncommitted.
    let diff = git(
        run.case.path(),
        &["diff", "--name-only", &parent.to_string(), "HEAD"],
    );
    assert_eq!(diff, "src/main.rs\n");
    assert_eq!(git(run.case.path(), &["status", "--porcelain"]), "");

    let run = run
        .case
        .again()
        .args(&["undo", "--yes"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN);
    assert_eq!(repo.head().unwrap().peel_to_commit().unwrap().id(), parent);
    assert_eq!(git(run.case.path(), &["status", "--porcelain"]), "");
}

#[test]
fn undo_refuses_to_take_back_a_commit_the_branch_moved_past() {
    let case = hello();
    identity(&case);
    let run = case
        .args(&["apply", "-y", "--commit", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0);
    std::fs::write(run.case.path().join("later.txt"), "later\n").unwrap();
    git(run.case.path(), &["add", "later.txt"]);
    git(run.case.path(), &["commit", "-q", "-m", "later"]);
    run.case
        .again()
        .args(&["undo", "--yes"])
        .run()
        .status(2)
        .stderr_has("no longer points to the commit onepass made")
        .unchanged();
}

#[test]
fn commit_without_an_identity_is_refused_before_anything_is_written() {
    hello()
        .args(&["apply", "-y", "--commit", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(2)
        .stderr_has("user.name")
        .unchanged();
}

#[test]
fn stage_applies_to_the_index_too() {
    let run = hello()
        .args(&["apply", "-y", "--stage", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .stderr_has("(staged too)")
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
    assert_eq!(
        git(run.case.path(), &["diff", "--cached", "--name-only"]),
        "src/main.rs\n"
    );
    assert_eq!(git(run.case.path(), &["diff", "--name-only"]), "");
    // Undo puts the index back too.
    let run = run
        .case
        .again()
        .args(&["undo", "--yes"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN);
    assert_eq!(git(run.case.path(), &["status", "--porcelain"]), "");
    // --no-stage undoes --stage.
    hello()
        .args(&["apply", "-y", "--stage", "--no-stage", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0)
        .stderr_has("applied 1 hunk to 1 file\n");
}

/// Three files, a fault on the second: every file is left as it was (issue 8, item 4).
fn three_file_case() -> (Case, String) {
    let case = Case::new()
        .file("a.txt", &numbered("a", 5))
        .file("b.txt", &numbered("b", 5))
        .file("c.txt", &numbered("c", 5))
        .commit();
    let reply = reply_for(
        &case,
        &[
            ("a.txt", &numbered("a", 5).replace("a03", "A03")),
            ("b.txt", &numbered("b", 5).replace("b03", "B03")),
            ("c.txt", &numbered("c", 5).replace("c03", "C03")),
        ],
    );
    (case, reply)
}

#[test]
fn a_failure_on_the_second_of_three_files_leaves_every_file_as_it_was() {
    for (fault, message) in [
        ("write:2", "injected write failure"),
        ("rename:2", "injected rename failure"),
        ("sigint:2", "interrupted"),
    ] {
        let (case, reply) = three_file_case();
        let run = case
            .env("ONEPASS_TEST_FAULT", fault)
            .args(&["apply", "-y", "-"])
            .stdin(&reply)
            .run()
            .status(2)
            .stderr_has(message)
            .stderr_has("every file was left as it was")
            .unchanged();
        // No undo record of a change that did not happen.
        assert!(
            !run.case
                .path()
                .join(".git/onepass/last-apply.json")
                .exists(),
            "{fault}"
        );
    }
}

#[test]
fn a_file_changed_between_validation_and_writing_is_refused() {
    let (case, reply) = three_file_case();
    case.env("ONEPASS_TEST_FAULT", "touch:2")
        .args(&["apply", "-y", "-"])
        .stdin(&reply)
        .run()
        .status(2)
        .stderr_has("b.txt changed on disk after the change was checked against it")
        .file("a.txt", &numbered("a", 5))
        .file("b.txt", "changed behind onepass's back\n")
        .file("c.txt", &numbered("c", 5));
}

#[test]
fn dry_run_patch_carries_request_model_and_time_and_git_am_takes_it() {
    let case = hello();
    identity(&case);
    let run = case
        .chat(crate::server::Reply::sse(ADD_VERBOSE_SSE))
        .args(&["--dry-run", "-o", "change.patch", "add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN);
    let patch = read(&run.case, "change.patch");
    assert!(
        patch.contains("From: Rev Iewer <rev@example.com>\n"),
        "{patch}"
    );
    assert!(
        patch.contains("\nRequest: add a --verbose flag\n"),
        "{patch}"
    );
    assert!(patch.contains("\nModel: test-model\n"), "{patch}");
    assert!(patch.contains("\nGenerated by onepass at 20"), "{patch}");
    assert!(patch.contains("\nDate: "), "{patch}");
    std::fs::rename(
        run.case.path().join("change.patch"),
        run.case.home.path().join("change.patch"),
    )
    .unwrap();
    let patch_path = run.case.home.path().join("change.patch");
    git(run.case.path(), &["am", patch_path.to_str().unwrap()]);
    run.file("src/main.rs", HELLO_MAIN_VERBOSE);
}

#[test]
fn the_json_report_has_the_decisions() {
    let run = hello()
        .args(&["apply", "-y", "--json", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["outcome"], "applied");
    let hunk = &report["change"]["files"][0]["hunks"][0];
    assert_eq!(hunk["decision"], "apply", "{report}");
    assert_eq!(hunk["level"], "exact");
    assert_eq!(hunk["edited"], false);
    // The preview went to stderr.
    assert!(
        run.stderr
            .contains("diff --git a/src/main.rs b/src/main.rs")
    );

    let run = hello()
        .args(&["apply", "--dry-run", "-o", "x.patch", "--json", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["outcome"], "written");
    assert!(report["change"]["files"][0]["hunks"][0]["decision"].is_null());
}

#[test]
fn undo_asks_on_a_terminal() {
    let run = hello()
        .args(&["apply", "-y", "-"])
        .stdin(ADD_VERBOSE_REPLY)
        .run()
        .status(0);
    let mut pty = Pty::spawn(&run.case, &["undo", "--color", "never"], &[]);
    pty.answer(
        "Restore 1 file as they were before the last change (src/main.rs)?",
        "n",
    );
    let (status, out) = pty.finish();
    assert_eq!(status, 1, "{out}");
    assert_eq!(read(&run.case, "src/main.rs"), HELLO_MAIN_VERBOSE);
    let mut pty = Pty::spawn(&run.case, &["undo", "--color", "never"], &[]);
    pty.answer("(src/main.rs)?", "y");
    let (status, out) = pty.finish();
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("restored 1 file"), "{out}");
    assert_eq!(read(&run.case, "src/main.rs"), HELLO_MAIN);
}
