//! End-to-end tests of `plan`, `FileChange::apply` and `git_diff` over an in-memory tree (and real
//! `git apply` when git is installed).

use super::*;
use std::collections::HashMap;

#[derive(Default)]
struct Mem {
    files: HashMap<String, Vec<u8>>,
    refuse: HashMap<String, TreeError>,
}

impl Mem {
    fn with(files: &[(&str, &str)]) -> Self {
        Mem {
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
                .collect(),
            ..Mem::default()
        }
    }
}

impl Tree for Mem {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        if let Some(e) = self.refuse.get(path) {
            return Err(e.clone());
        }
        Ok(self.files.get(path).cloned())
    }
}

fn plan_ok(reply: &str, tree: &Mem) -> Plan {
    let p = plan(reply, tree, &Options::default()).expect("plan");
    assert!(p.rejected.is_empty(), "rejected: {:?}", p.rejected);
    p
}

fn result_of(p: &Plan, path: &str) -> Option<String> {
    p.changes
        .iter()
        .find(|c| c.path == path)
        .and_then(|c| c.apply(&[]))
}

const SRC: &str = "fn a() {\n    one();\n    two();\n}\n\nfn b() {\n    three();\n    four();\n}\n";

#[test]
fn clean_fenced_diff_applies_exactly() {
    let t = Mem::with(&[("src/x.rs", SRC)]);
    let reply = "Rename three to THREE.\n\n```diff\n--- a/src/x.rs\n+++ b/src/x.rs\n@@ -6,4 +6,4 @@\n fn b() {\n-    three();\n+    THREE();\n     four();\n }\n```\n";
    let p = plan_ok(reply, &t);
    assert_eq!(
        result_of(&p, "src/x.rs").unwrap(),
        SRC.replace("three", "THREE")
    );
    assert_eq!(p.changes[0].hunks[0].level, RepairLevel::Exact);
    assert_eq!(p.summary.as_deref(), Some("Rename three to THREE."));
}

#[test]
fn no_diff_is_an_error() {
    let t = Mem::default();
    assert_eq!(
        plan("Just prose.\n```bash\nls\n```\n", &t, &Options::default()).unwrap_err(),
        PatchError::NoDiff
    );
}

#[test]
fn crlf_file_keeps_crlf() {
    let crlf = SRC.replace('\n', "\r\n");
    let t = Mem::with(&[("x.rs", &crlf)]);
    let p = plan_ok(
        "--- a/x.rs\n+++ b/x.rs\n@@\n fn b() {\n-    three();\n+    THREE();\n+    more();\n",
        &t,
    );
    let out = result_of(&p, "x.rs").unwrap();
    assert_eq!(
        out,
        crlf.replace("    three();\r\n", "    THREE();\r\n    more();\r\n")
    );
}

#[test]
fn missing_final_newline_is_preserved_unless_the_diff_changes_it() {
    let t = Mem::with(&[("x.txt", "a\nb\nc")]);
    let p = plan_ok("--- a/x.txt\n+++ b/x.txt\n@@\n a\n b\n-c\n+C\n", &t);
    assert_eq!(result_of(&p, "x.txt").unwrap(), "a\nb\nC");
    // Explicitly adding the final newline.
    let p = plan_ok(
        "--- a/x.txt\n+++ b/x.txt\n@@ -2,2 +2,2 @@\n b\n-c\n\\ No newline at end of file\n+c\n",
        &t,
    );
    assert_eq!(result_of(&p, "x.txt").unwrap(), "a\nb\nc\n");
    // Appending after an unterminated last line keeps the file unterminated.
    let p = plan_ok("--- a/x.txt\n+++ b/x.txt\n@@\n b\n c\n+d\n", &t);
    assert_eq!(result_of(&p, "x.txt").unwrap(), "a\nb\nc\nd");
}

#[test]
fn new_delete_and_rename() {
    let t = Mem::with(&[("old.txt", "1\n2\n"), ("gone.txt", "x\ny\n")]);
    let reply = "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+hello\n+world\n\
diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n\
diff --git a/old.txt b/moved.txt\nsimilarity index 50%\nrename from old.txt\nrename to moved.txt\n--- a/old.txt\n+++ b/moved.txt\n@@ -1,2 +1,2 @@\n 1\n-2\n+two\n";
    let p = plan_ok(reply, &t);
    assert_eq!(result_of(&p, "new.txt").as_deref(), Some("hello\nworld\n"));
    let gone = p.changes.iter().find(|c| c.path == "gone.txt").unwrap();
    assert_eq!(gone.kind, ChangeKind::Delete);
    assert_eq!(gone.apply(&[]), None);
    let mv = p.changes.iter().find(|c| c.path == "moved.txt").unwrap();
    assert_eq!(mv.kind, ChangeKind::Rename);
    assert_eq!(mv.old_path.as_deref(), Some("old.txt"));
    assert_eq!(mv.apply(&[]).as_deref(), Some("1\ntwo\n"));
}

#[test]
fn deleting_requires_matching_content() {
    let t = Mem::with(&[("gone.txt", "x\ny\nz\n")]);
    let p = plan(
        "--- a/gone.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n",
        &t,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.rejected.len(), 1);
    assert!(p.changes.is_empty());
}

#[test]
fn new_file_without_dev_null() {
    let t = Mem::default();
    let p = plan_ok("--- a/n.md\n+++ b/n.md\n@@ -0,0 +1,2 @@\n+# N\n+text\n", &t);
    assert_eq!(p.changes[0].kind, ChangeKind::Create);
    assert_eq!(result_of(&p, "n.md").as_deref(), Some("# N\ntext\n"));
}

#[test]
fn missing_file_is_refused_not_retargeted() {
    let t = Mem::with(&[("src/x.rs", SRC)]);
    let p = plan(
        "--- a/src/y.rs\n+++ b/src/y.rs\n@@\n fn b() {\n-    three();\n+    THREE();\n",
        &t,
        &Options::default(),
    )
    .unwrap();
    assert!(
        p.rejected[0].reason.contains("does not exist"),
        "{:?}",
        p.rejected
    );
    assert!(p.changes.is_empty());
}

fn refused(reply: &str, t: &Mem) -> String {
    let p = plan(reply, t, &Options::default()).unwrap();
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert!(!p.rejected.is_empty());
    p.rejected[0].reason.clone()
}

#[test]
fn unsafe_paths_are_rejected() {
    let t = Mem::with(&[("x.rs", SRC)]);
    let body = "@@ -0,0 +1 @@\n+evil\n";
    assert!(refused(&format!("--- /dev/null\n+++ b/../evil.sh\n{body}"), &t).contains(".."));
    assert!(
        refused(
            &format!("--- /dev/null\n+++ b/.git/hooks/pre-commit\n{body}"),
            &t
        )
        .contains(".git")
    );
    assert!(
        refused(&format!("--- /dev/null\n+++ /etc/cron.d/evil\n{body}"), &t).contains("outside")
    );
    assert!(refused(&format!("--- /dev/null\n+++ b/a\u{1}b\n{body}"), &t).contains("control"));
    let mut t2 = Mem::with(&[("x.rs", SRC)]);
    t2.refuse
        .insert("link/x.rs".into(), TreeError::Escapes("link/x.rs".into()));
    assert!(
        refused("--- a/link/x.rs\n+++ b/link/x.rs\n@@\n a\n-b\n+c\n", &t2)
            .contains("symbolic link")
    );
}

#[test]
fn absolute_path_maps_to_a_unique_repo_suffix() {
    let t = Mem::with(&[("src/x.rs", SRC)]);
    let reply = "--- /home/u/proj/src/x.rs\n+++ /home/u/proj/src/x.rs\n@@\n fn b() {\n-    three();\n+    THREE();\n\
--- /dev/null\n+++ /home/u/proj/src/new.rs\n@@ -0,0 +1 @@\n+x\n";
    let p = plan_ok(reply, &t);
    assert!(result_of(&p, "src/x.rs").unwrap().contains("THREE"));
    assert_eq!(result_of(&p, "src/new.rs").as_deref(), Some("x\n"));
}

#[test]
fn binary_and_non_utf8_targets_are_rejected() {
    let mut t = Mem::default();
    t.files.insert("b.bin".into(), vec![b'a', 0, b'b', b'\n']);
    t.files.insert("l.txt".into(), vec![0xff, b'\n']);
    assert!(refused("--- a/b.bin\n+++ b/b.bin\n@@\n a\n-b\n+c\n", &t).contains("binary"));
    assert!(refused("--- a/l.txt\n+++ b/l.txt\n@@\n a\n-b\n+c\n", &t).contains("UTF-8"));
}

#[test]
fn overlapping_hunks_that_share_context_merge_and_conflicts_refuse() {
    let t = Mem::with(&[("x.rs", SRC)]);
    let reply = "--- a/x.rs\n+++ b/x.rs\n@@\n fn a() {\n-    one();\n+    ONE();\n     two();\n }\n@@\n     two();\n }\n \n-fn b() {\n+fn bee() {\n";
    let p = plan_ok(reply, &t);
    assert_eq!(p.changes[0].hunks.len(), 1);
    let out = result_of(&p, "x.rs").unwrap();
    assert!(out.contains("ONE") && out.contains("fn bee()"));
    let reply = "--- a/x.rs\n+++ b/x.rs\n@@\n fn a() {\n-    one();\n+    ONE();\n     two();\n@@\n-    one();\n+    UNO();\n     two();\n }\n";
    let p = plan(reply, &t, &Options::default()).unwrap();
    assert!(
        p.rejected.iter().any(|r| r.reason.contains("overlapping")),
        "{:?}",
        p.rejected
    );
}

#[test]
fn truncated_reply_keeps_complete_hunks_and_drops_the_rest() {
    let t = Mem::with(&[("x.rs", SRC)]);
    let reply = "```diff\n--- a/x.rs\n+++ b/x.rs\n@@ -1,3 +1,3 @@\n fn a() {\n-    one();\n+    ONE();\n     two();\n@@ -6,4 +6,5 @@\n fn b() {\n-    three();\n+    THREE();";
    let p = plan(reply, &t, &Options::default()).unwrap();
    assert_eq!(p.dropped.len(), 1, "{:?}", p.dropped);
    assert_eq!(p.rejected.len(), 1);
    assert_eq!(p.changes[0].hunks.len(), 1);
    assert!(p.changes[0].apply(&[]).unwrap().contains("ONE"));
    // Told by the caller: the last hunk counts as cut even with a closed fence when its body is short.
    let reply = "```diff\n--- a/x.rs\n+++ b/x.rs\n@@ -6,4 +6,5 @@\n fn b() {\n-    three();\n+    THREE();\n```\n";
    let p = plan(
        reply,
        &t,
        &Options {
            truncated: true,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(p.dropped.len(), 1);
}

#[test]
fn strict_refuses_more_than_whitespace_repair() {
    let t = Mem::with(&[("x.rs", SRC)]);
    let elided = "--- a/x.rs\n+++ b/x.rs\n@@\n fn a() {\n-    one();\n+    ONE();\n ...\n     three();\n-    four();\n+    FOUR();\n";
    let strict = Options {
        strict: true,
        ..Options::default()
    };
    assert!(
        plan(elided, &t, &Options::default())
            .unwrap()
            .rejected
            .is_empty()
    );
    let p = plan(elided, &t, &strict).unwrap();
    assert!(p.rejected.iter().all(|r| r.reason.contains("--strict")) && !p.rejected.is_empty());
    let ws = "--- a/x.rs\n+++ b/x.rs\n@@\n fn b() {   \n-    three();\n+    THREE();\n";
    assert!(plan(ws, &t, &strict).unwrap().rejected.is_empty());
}

#[test]
fn whole_file_block_is_diffed_against_the_tree() {
    let t = Mem::with(&[("src/x.rs", SRC)]);
    let new = SRC.replace("four", "FOUR");
    let reply = format!("Here is the whole file.\n\n```rust src/x.rs\n{new}```\n");
    let p = plan_ok(&reply, &t);
    assert_eq!(result_of(&p, "src/x.rs").as_deref(), Some(new.as_str()));
    assert_eq!(p.changes[0].hunks[0].level, RepairLevel::WholeFile);
    // A new file by heading.
    let p = plan_ok("### src/new.py\n\n```python\nprint(1)\n```\n", &t);
    assert_eq!(result_of(&p, "src/new.py").as_deref(), Some("print(1)\n"));
    // A whole-file block with a placeholder is refused.
    let reply = "```rust src/x.rs\nfn a() {}\n// ... rest unchanged ...\n```\n";
    assert!(refused(reply, &t).contains("placeholder"));
}

#[test]
fn apply_subset_of_hunks() {
    let t = Mem::with(&[("x.rs", SRC)]);
    let reply = "--- a/x.rs\n+++ b/x.rs\n@@ -1,2 +1,2 @@\n fn a() {\n-    one();\n+    ONE();\n@@ -7,2 +7,2 @@\n-    three();\n+    THREE();\n     four();\n";
    let p = plan_ok(reply, &t);
    let c = &p.changes[0];
    assert_eq!(c.hunks.len(), 2);
    let only_second = c.apply(&[false, true]).unwrap();
    assert!(!only_second.contains("ONE") && only_second.contains("THREE"));
    let d = git_diff(&p.changes, &[vec![true, false]]);
    assert!(d.contains("+    ONE();") && !d.contains("THREE"), "{d}");
}

#[test]
fn git_diff_format_details() {
    let t = Mem::with(&[("x.txt", "a\nb\nc")]);
    let p = plan_ok("--- a/x.txt\n+++ b/x.txt\n@@\n a\n-b\n+B\n c\n", &t);
    let d = git_diff(&p.changes, &[]);
    assert_eq!(
        d,
        "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\\ No newline at end of file\n"
    );
    let p = plan_ok(
        "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+x\n",
        &Mem::default(),
    );
    assert_eq!(
        git_diff(&p.changes, &[]),
        "diff --git a/n.txt b/n.txt\nnew file mode 100644\n--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+x\n"
    );
}

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "onepass-patch-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn git_available() -> bool {
    std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn git_apply_accepts_the_regenerated_diff() {
    if !git_available() {
        eprintln!("git not installed: skipping");
        return;
    }
    let crlf = SRC.replace('\n', "\r\n");
    let files: [(&str, &str); 5] = [
        ("src/x.rs", SRC),
        ("crlf.rs", &crlf),
        ("noeol.txt", "a\nb\nc"),
        ("gone.txt", "x\ny\n"),
        ("old name.txt", "1\n2\n"),
    ];
    let t = Mem::with(&files);
    let reply = "--- a/src/x.rs\n+++ b/src/x.rs\n@@\n fn a() {\n-    one();\n+    ONE();\n@@\n-    four();\n+    FOUR();\n }\n\
--- a/crlf.rs\n+++ b/crlf.rs\n@@\n fn b() {\n+    added();\n     three();\n\
--- a/noeol.txt\n+++ b/noeol.txt\n@@\n b\n c\n+d\n\
--- /dev/null\n+++ b/dir/new.txt\n@@ -0,0 +1,2 @@\n+n1\n+n2\n\\ No newline at end of file\n\
--- a/gone.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n\
diff --git a/old name.txt b/new name.txt\nrename from old name.txt\nrename to new name.txt\n--- a/old name.txt\n+++ b/new name.txt\n@@ -1,2 +1,2 @@\n-1\n+one\n 2\n";
    let p = plan_ok(reply, &t);
    assert_eq!(p.changes.len(), 6);
    let diff = git_diff(&p.changes, &[]);
    let dir = Scratch::new("gitapply");
    for (path, content) in files {
        let full = dir.0.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(full, content).unwrap();
    }
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut cmd = std::process::Command::new("git");
        cmd.args(["-c", "core.autocrlf=false"])
            .args(args)
            .current_dir(&dir.0);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let (Some(s), Some(mut w)) = (stdin, child.stdin.take()) {
            w.write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}\n{diff}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["init", "-q"], None);
    run(&["apply", "--check", "-"], Some(&diff));
    run(&["apply", "-"], Some(&diff));
    // What git wrote equals what apply() gives.
    for c in &p.changes {
        let on_disk = std::fs::read(dir.0.join(&c.path))
            .ok()
            .map(|b| String::from_utf8(b).unwrap());
        assert_eq!(on_disk, c.apply(&[]), "{}", c.path);
        if let Some(old) = &c.old_path {
            assert!(!dir.0.join(old).exists());
        }
    }
}

/// Random replies assembled from diff-like fragments (with multi-byte text, CR, tabs, fences) never panic, and
/// whatever is planned renders and applies.
#[test]
fn random_replies_never_panic() {
    const FRAGS: [&str; 34] = [
        "--- a/x.rs",
        "+++ b/x.rs",
        "--- /dev/null",
        "+++ /dev/null",
        "diff --git a/x.rs b/y.rs",
        "rename from x.rs",
        "rename to y.rs",
        "new file mode 100644",
        "deleted file mode 100644",
        "@@ -1,3 +1,4 @@",
        "@@ ... @@",
        "@@",
        "@@ -0,0 +1 @@",
        " fn a() {",
        "-    one();",
        "+    ONE();",
        " }",
        "",
        "```diff",
        "```",
        "~~~",
        " ```",
        "\\ No newline at end of file",
        "    two();",
        "+é€😀",
        "-ü",
        " ...",
        "// ... existing code ...",
        "\t\tx",
        "--- ../../etc/passwd",
        "+++ /abs/x.rs",
        "### x.rs",
        "```rust x.rs",
        "Index: x.rs",
    ];
    let t = Mem::with(&[("x.rs", SRC), ("y.rs", "é\r\nü\r\n"), ("z.txt", "a\nb")]);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let n = (next() % 30) as usize;
        let mut reply = String::new();
        for _ in 0..n {
            reply.push_str(FRAGS[(next() % FRAGS.len() as u64) as usize]);
            reply.push_str(if next() % 7 == 0 { "\r\n" } else { "\n" });
        }
        if next() % 3 == 0 {
            reply.pop();
        }
        for opts in [
            Options::default(),
            Options {
                strict: true,
                truncated: true,
            },
        ] {
            if let Ok(p) = plan(&reply, &t, &opts) {
                let _ = git_diff(&p.changes, &[]);
                for c in &p.changes {
                    let _ = c.apply(&[]);
                    let _ = c.apply(&vec![false; c.hunks.len()]);
                }
            }
        }
    }
}

#[test]
fn existing_empty_file_is_filled_by_pure_additions() {
    let t = Mem::with(&[("e.txt", "")]);
    let p = plan_ok(
        "--- a/e.txt\n+++ b/e.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n",
        &t,
    );
    assert_eq!(p.changes[0].kind, ChangeKind::Modify);
    assert_eq!(result_of(&p, "e.txt").as_deref(), Some("one\ntwo\n"));
    assert!(git_diff(&p.changes, &[]).starts_with("diff --git a/e.txt b/e.txt\n--- a/e.txt\n"));
    // Pure additions to a non-empty file have nothing to locate them by.
    let t = Mem::with(&[("f.txt", "x\n")]);
    assert!(refused("--- a/f.txt\n+++ b/f.txt\n@@ -1,0 +2 @@\n+y\n", &t).contains("no context"));
}

#[test]
fn context_only_hunks_and_headerless_files_are_refused() {
    let t = Mem::with(&[("x.rs", SRC)]);
    let p = plan(
        "--- a/x.rs\n+++ b/x.rs\n@@\n fn a() {\n     one();\n",
        &t,
        &Options::default(),
    )
    .unwrap();
    assert!(
        p.rejected[0].reason.contains("changes nothing"),
        "{:?}",
        p.rejected
    );
    let p = plan(
        "```diff\n--- a/x.rs\n+++ b/x.rs\n-    one();\n+    ONE();\n```\n",
        &t,
        &Options::default(),
    )
    .unwrap();
    assert!(!p.rejected.is_empty());
    assert!(p.changes.is_empty());
}

#[test]
fn unclosed_fence_after_complete_hunks_still_refuses() {
    let t = Mem::with(&[("x.rs", SRC)]);
    let p = plan(
        "```diff\n--- a/x.rs\n+++ b/x.rs\n@@ -1,2 +1,2 @@\n fn a() {\n-    one();\n+    ONE();\n",
        &t,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.changes.len(), 1);
    assert!(
        p.rejected.iter().any(|r| r.reason.contains("cut off")),
        "{:?}",
        p.rejected
    );
    assert_eq!(p.dropped.len(), 1);
}

#[test]
fn whole_file_block_that_drops_most_of_the_file_is_refused() {
    let big: String = (0..60).map(|i| format!("line {i}\n")).collect();
    let t = Mem::with(&[("big.txt", &big)]);
    let reply = "### big.txt\n```text\nline 0\nline 1\nnew line\n```\n";
    assert!(refused(reply, &t).contains("excerpt"));
}
