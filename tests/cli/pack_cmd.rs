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
        // Committed: an uncommitted file would rank for its changes (and be outlined).
        .commit()
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
    // Larger than the whole budget and unrelated to the request, but the latest commit added it: only its
    // outline goes in, never the whole file.
    let outlined = report["outlined"].as_array().unwrap();
    assert_eq!(outlined.len(), 1, "{}", run.stdout);
    assert_eq!(outlined[0]["path"], "src/filler.rs");
    assert_eq!(outlined[0]["reasons"][0]["kind"], "recently_changed");
    assert!(outlined[0]["tokens"].as_u64().unwrap() < 3000);
    let files: Vec<_> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"src/main.rs"), "{files:?}");
    // Omitted files are named in the prompt's layout of the repository.
    let prompt = hello()
        .file("src/filler.rs", &big)
        .args(&["pack", "--budget", "3000", "add a verbose flag"])
        .run()
        .status(0);
    assert!(
        prompt.stdout.contains("src/: filler.rs main.rs\n"),
        "{}",
        prompt.stdout
    );
    assert!(!prompt.stdout.contains("### src/filler.rs\n"));
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

/// Issue 4: ranking by what the request names, with the reasons shown by --explain.
#[test]
fn explain_shows_scores_placements_and_reasons() {
    let run = hello()
        .file(
            "src/retry.rs",
            "pub fn backoff_delay(attempt: u32) -> u64 {\n    100 * 2u64.pow(attempt)\n}\n",
        )
        .file(
            "src/client.rs",
            "use crate::retry::backoff_delay;\n\npub fn send_request(url: &str) {\n    let d = backoff_delay(1);\n}\n",
        )
        .file("docs/notes.md", "# Notes\nNothing about requests here.\n")
        .commit()
        .file("src/main.rs", "fn main() { println!(\"changed\"); }\n")
        .args(&["pack", "--explain", "send_request should retry with a capped delay"])
        .run()
        .status(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("budget "), "{}", run.stdout);
    // The file defining the named symbol ranks first, the file it uses next.
    assert!(lines[1].ends_with("src/client.rs"), "{}", run.stdout);
    assert!(lines[1].contains("whole"), "{}", run.stdout);
    assert!(
        run.stdout.contains("defines send_request +"),
        "{}",
        run.stdout
    );
    let retry = run.stdout.find("src/retry.rs").unwrap();
    let main = run.stdout.find("src/main.rs").unwrap();
    assert!(retry < main, "{}", run.stdout);
    assert!(
        run.stdout.contains("uncommitted changes +"),
        "{}",
        run.stdout
    );
}

/// A Rust file of 400 small methods, far larger than the small budgets the tests use.
fn big_renderer() -> String {
    let mut big = String::from("pub struct Renderer {\n    width: usize,\n}\n\nimpl Renderer {\n");
    for n in 0..400 {
        big.push_str(&format!(
            "    pub fn render_part_{n}(&self, input: &str) -> String {{\n        input.repeat({n})\n    }}\n"
        ));
    }
    big.push_str("}\n");
    big
}

/// Issue 4: a relevant file larger than the budget is outlined (marked so), not cut; the cache in
/// .git/onepass/ serves the second run, and a corrupt cache is rebuilt silently.
#[test]
fn large_relevant_files_are_outlined_and_the_cache_serves_the_second_run() {
    let big = big_renderer();
    let case = hello().file("src/renderer.rs", &big).commit();
    let root = case.path().to_path_buf();
    let run = case
        .args(&[
            "pack",
            "--json",
            "--budget",
            "4000",
            "make the Renderer wrap at width",
        ])
        .run()
        .status(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    let outlined = report["outlined"].as_array().unwrap();
    assert_eq!(outlined.len(), 1, "{}", run.stdout);
    assert_eq!(outlined[0]["path"], "src/renderer.rs");
    assert_eq!(outlined[0]["method"], "tree_sitter");
    assert!(report["prompt_tokens"].as_u64().unwrap() <= 4000);
    assert_eq!(report["totals"]["cache_hits"], 0);
    let cache = root.join(".git/onepass/pack-cache-v1.bin");
    assert!(cache.exists());

    let home = tempfile::tempdir().unwrap();
    let again = |root: &std::path::Path| {
        pack_json(
            root,
            home.path(),
            &["--budget", "4000", "make the Renderer wrap at width"],
        )
    };
    let second = again(&root);
    assert!(
        second["totals"]["cache_hits"].as_u64().unwrap() >= 4,
        "{}",
        second["totals"]
    );
    assert_eq!(second["files"], report["files"]);
    std::fs::write(&cache, b"ONEPASS\0garbage").unwrap();
    let third = again(&root);
    assert_eq!(third["totals"]["cache_hits"], 0);
    assert_eq!(third["files"], report["files"]);

    let prompt = std::process::Command::new(crate::harness::BIN)
        .current_dir(&root)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("ONEPASS_ENDPOINT", crate::harness::dead_endpoint())
        .args([
            "pack",
            "--budget",
            "4000",
            "make the Renderer wrap at width",
        ])
        .output()
        .unwrap();
    let prompt = String::from_utf8_lossy(&prompt.stdout);
    assert!(
        prompt.contains("### src/renderer.rs (outline)\n```\n   1: pub struct Renderer {\n"),
        "{prompt}"
    );
    assert!(!prompt.contains("input.repeat(3)"));
}

/// Issue 4: a diff against a file the prompt showed only as an outline is validated against the real file:
/// correct context applies, context the model made up is rejected.
#[test]
fn a_diff_against_an_outlined_file_is_checked_against_the_real_file() {
    let big = big_renderer();
    // Lines 6-8 of the real file.
    let good = "```diff\n--- a/src/renderer.rs\n+++ b/src/renderer.rs\n@@ -6,3 +6,3 @@\n     pub fn render_part_0(&self, input: &str) -> String {\n-        input.repeat(0)\n+        input.repeat(1)\n     }\n```\n";
    let run = hello()
        .file("src/renderer.rs", &big)
        .commit()
        .reply(good)
        .args(&[
            "-y",
            "--budget",
            "4000",
            "make the Renderer render part 0 once",
        ])
        .run()
        .status(0)
        .stderr_has("outlined 1 more file(s)");
    let requests = run.chat_requests();
    let body = requests[0].json();
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("### src/renderer.rs (outline)\n"), "{user}");
    assert!(!user.contains("input.repeat(0)"), "the body was not shown");
    assert_eq!(run.changed(), ["src/renderer.rs"]);

    let made_up = "```diff\n--- a/src/renderer.rs\n+++ b/src/renderer.rs\n@@ -6,3 +6,3 @@\n     pub fn render_part_0(&self, input: &str) -> String {\n-        input.to_uppercase()\n+        input.to_lowercase()\n     }\n```\n";
    hello()
        .file("src/renderer.rs", &big)
        .commit()
        .reply(made_up)
        .args(&[
            "-y",
            "--budget",
            "4000",
            "make the Renderer render part 0 once",
        ])
        .run()
        .status(1)
        .unchanged();
}

/// Issue 4: the second walk does not read files whose stat data is unchanged (their content checks, blob id
/// and secret scan are known from `.git/onepass/walk-v1.bin`), and any change to a file is seen: new content,
/// even with the same size and the old modification time put back.
#[test]
fn the_second_walk_reads_only_what_changed() {
    let case = hello()
        .file(
            "src/colors.rs",
            "pub fn palette() -> [u8; 3] { [1, 2, 3] }\n",
        )
        .file("assets/logo.txt", "\u{0}\u{1}binary\n")
        .commit();
    let root = case.path().to_path_buf();
    let old = settle(&root);
    let home = tempfile::tempdir().unwrap();
    let pack = || pack_json(&root, home.path(), &["change the palette colors"]);
    let first = pack();
    assert_eq!(first["totals"]["walk_reused"], 0, "{}", first["totals"]);
    let candidates = first["totals"]["candidates"].as_u64().unwrap();
    assert!(root.join(".git/onepass/walk-v1.bin").exists());

    let second = pack();
    // Every candidate and the binary file: known, none read.
    assert_eq!(second["totals"]["walk_read"], 0, "{}", second["totals"]);
    assert_eq!(
        second["totals"]["walk_reused"].as_u64().unwrap(),
        candidates + 1
    );
    assert_eq!(second["files"], first["files"]);
    assert_eq!(second["skipped"], first["skipped"]);

    // Same size, old modification time put back: the change time still tells.
    let colors = root.join("src/colors.rs");
    std::fs::write(&colors, "pub fn palette() -> [u8; 3] { [9, 8, 7] }\n").unwrap();
    age(&colors, old);
    let out = std::process::Command::new(crate::harness::BIN)
        .current_dir(&root)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("ONEPASS_ENDPOINT", crate::harness::dead_endpoint())
        .args(["pack", "change the palette colors"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[9, 8, 7]"), "{text}");
    assert!(!text.contains("[1, 2, 3]"), "{text}");
    let third = pack();
    assert_eq!(third["totals"]["walk_read"], 0, "{}", third["totals"]);

    // A corrupt snapshot is ignored and rebuilt.
    std::fs::write(
        root.join(".git/onepass/walk-v1.bin"),
        b"ONEPWALK\x01garbage",
    )
    .unwrap();
    let fourth = pack();
    assert_eq!(fourth["totals"]["walk_reused"], 0);
    assert_eq!(fourth["files"], third["files"]);
    // The edit is an uncommitted change, whether the file was read or known.
    let dirty = |report: &serde_json::Value| report["files"].to_string().contains("uncommitted");
    assert!(dirty(&third) && dirty(&fourth) && !dirty(&first));
}

/// `onepass pack --json ARGS` run again in an existing repository, with its own home: the report.
fn pack_json(root: &std::path::Path, home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    pack_json_in(root, home, args)
}

/// As [`pack_json`], run from `cwd` (the repository's root or a directory under it).
fn pack_json_in(cwd: &std::path::Path, home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(crate::harness::BIN)
        .current_dir(cwd)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("ONEPASS_ENDPOINT", crate::harness::dead_endpoint())
        .env_remove("GIT_CONFIG_GLOBAL")
        .args(["pack", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The paths of the files a `pack --json` report packed whole.
fn paths(report: &serde_json::Value) -> Vec<String> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

/// Every regular file of the working tree, outside `.git`, and with `dirs` its directories too (the root
/// included).
fn walkdir(root: &std::path::Path, dirs: bool) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    if dirs {
        out.push(root.to_path_buf());
    }
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                stack.push(path.clone());
                if !dirs {
                    continue;
                }
            }
            out.push(path);
        }
    }
    out
}

/// Make every file and directory of the working tree an hour old, so that none is recorded as racily clean;
/// returns that time.
fn settle(root: &std::path::Path) -> std::time::SystemTime {
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    age_all(root, old);
    old
}

/// Set the modification time of every file and directory of the working tree.
fn age_all(root: &std::path::Path, when: std::time::SystemTime) {
    for path in walkdir(root, true) {
        age(&path, when);
    }
}

/// Set a file's or a directory's modification time.
fn age(path: &std::path::Path, when: std::time::SystemTime) {
    let file = std::fs::File::open(path)
        .or_else(|_| std::fs::OpenOptions::new().write(true).open(path))
        .unwrap();
    file.set_modified(when).unwrap();
}

/// Issue 4: while no directory and no ignore file changed, the next walk reuses the last listing and only
/// stats each file; adding or removing a file, or a changed .gitignore, makes it walk the tree again.
#[test]
fn the_listing_is_reused_until_a_directory_or_an_ignore_file_changes() {
    let case = hello()
        .file(".gitignore", "target/\n")
        .file("src/colors.rs", "pub fn palette() {}\n")
        .file("Cargo.lock", "# lock\n")
        .commit();
    let root = case.path().to_path_buf();
    let home = tempfile::tempdir().unwrap();
    let old = settle(&root);
    let pack = || pack_json(&root, home.path(), &["change the palette colors"]);
    let first = pack();
    assert_eq!(first["totals"]["walk_relisted"], false);
    let second = pack();
    assert_eq!(
        second["totals"]["walk_relisted"], true,
        "{}",
        second["totals"]
    );
    assert_eq!(second["totals"]["walk_read"], 0, "{}", second["totals"]);
    assert_eq!(paths(&second), paths(&first));
    assert_eq!(
        second["skipped"], first["skipped"],
        "the lock file is still passed over"
    );

    // A new file changes its directory: listed again, and found.
    std::fs::write(root.join("src/shades.rs"), "pub fn shades() {}\n").unwrap();
    let third = pack();
    assert_eq!(third["totals"]["walk_relisted"], false);
    assert!(paths(&third).contains(&"src/shades.rs".to_string()));

    // Each change below follows a settled tree (ageing it changes the directories' stat data: one walk
    // records them, the next relists). An ignore file edited in place (its directory unchanged) and a
    // removed file both make the walk list the tree again, and the listing shows the change.
    let settled_and_relisted = || {
        age_all(&root, old);
        pack();
        assert_eq!(pack()["totals"]["walk_relisted"], true);
    };
    let changes: [(&dyn Fn(), &str); 2] = [
        (
            &|| std::fs::write(root.join(".gitignore"), "target/\nsrc/shades.rs\n").unwrap(),
            "src/shades.rs",
        ),
        (
            &|| std::fs::remove_file(root.join("src/colors.rs")).unwrap(),
            "src/colors.rs",
        ),
    ];
    for (change, gone) in changes {
        settled_and_relisted();
        change();
        let after = pack();
        assert_eq!(after["totals"]["walk_relisted"], false);
        assert!(!paths(&after).contains(&gone.to_string()), "{gone}");
    }

    // A directory whose stat data changed with its files the same (a file made and removed): listed once
    // more, then the new layout is what the next walk trusts.
    settled_and_relisted();
    std::fs::write(root.join("src/scratch.tmp"), "x").unwrap();
    std::fs::remove_file(root.join("src/scratch.tmp")).unwrap();
    age(&root.join("src"), old);
    assert_eq!(pack()["totals"]["walk_relisted"], false);
    assert_eq!(
        pack()["totals"]["walk_relisted"],
        true,
        "the layout was saved"
    );

    // Other options (a size limit) list again too.
    settled_and_relisted();
    let limited = pack_json(
        &root,
        home.path(),
        &["--max-file-size", "10", "change the palette colors"],
    );
    assert_eq!(limited["totals"]["walk_relisted"], false);
}

/// Issue 4: the uncommitted files are remembered with the stat data of git's index, so a warm run reads
/// neither the files nor the index; staging a change (a new index) is seen.
#[test]
fn uncommitted_files_are_remembered_until_the_index_changes() {
    let case = hello()
        .file("src/colors.rs", "pub fn palette() {}\n")
        .commit();
    let root = case.path().to_path_buf();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(root.join("src/colors.rs"), "pub fn palette() { todo!() }\n").unwrap();
    settle(&root);
    let pack = || pack_json(&root, home.path(), &["change the palette colors"]);
    let uncommitted = |report: &serde_json::Value| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "src/colors.rs")
            .unwrap()["reasons"]
            .to_string()
            .contains("uncommitted")
    };
    assert!(uncommitted(&pack()));
    let warm = pack();
    assert_eq!(warm["totals"]["walk_relisted"], true, "{}", warm["totals"]);
    assert_eq!(warm["totals"]["walk_read"], 0);
    assert!(uncommitted(&warm), "remembered");
    assert!(root.join(".git/onepass/status-v1.json").exists());

    let repo = git2::Repository::open(&root).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_path(std::path::Path::new("src/colors.rs"))
        .unwrap();
    index.write().unwrap();
    let staged = pack();
    assert!(!uncommitted(&staged), "the staged content is git's index's");
}

/// A hidden file or directory that an ignore file re-includes with a `!` rule is listed like any other file,
/// on a warm run too; other hidden names and `.git` stay out, and taking the rule out lists the tree again.
#[test]
fn hidden_files_an_ignore_rule_re_includes_are_listed() {
    let run = hello()
        .file(".onepassignore", "!.github/\n!.eslintrc.js\n!.git/\n")
        .file(".github/workflows/ci.yml", "on: push\n")
        .file(".eslintrc.js", "module.exports = {};\n")
        .file(".prettierrc", "{}\n")
        .commit()
        .args(&["pack", "--list", "anything"])
        .run()
        .status(0);
    let mut listed: Vec<&str> = run.stdout.lines().collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            ".eslintrc.js",
            ".github/workflows/ci.yml",
            "Cargo.toml",
            "README.md",
            "src/main.rs"
        ]
    );
    let root = run.case.path().to_path_buf();
    let home = tempfile::tempdir().unwrap();
    settle(&root);
    let pack = || pack_json(&root, home.path(), &["anything"]);
    let first = pack();
    let warm = pack();
    assert_eq!(warm["totals"]["walk_relisted"], true, "{}", warm["totals"]);
    assert_eq!(paths(&warm), paths(&first));
    assert!(paths(&warm).contains(&".eslintrc.js".to_string()));

    std::fs::write(root.join(".onepassignore"), "!.github/\n").unwrap();
    let after = pack();
    assert_eq!(after["totals"]["walk_relisted"], false);
    assert!(!paths(&after).contains(&".eslintrc.js".to_string()));
    assert!(paths(&after).contains(&".github/workflows/ci.yml".to_string()));
}

/// The global excludes file named by the user's git config (`core.excludesFile`, a leading `~/` expanded)
/// decides the listing like the ignore files in the tree: made, edited or removed, the next walk lists the tree
/// again.
#[test]
fn the_excludes_file_the_git_config_names_guards_the_listing() {
    let case = palette_repo(hello());
    let root = case.path().to_path_buf();
    let home = home_naming_excludes("my-excludes");
    settle(&root);
    let pack = || pack_json(&root, home.path(), &["change the palette colors"]);
    assert!(paths(&pack()).contains(&"notes/todo.md".to_string()));
    assert_eq!(pack()["totals"]["walk_relisted"], true);

    // Absent until now: made, it is read.
    let excludes = home.path().join("my-excludes");
    std::fs::write(&excludes, "notes/\n").unwrap();
    let made = pack();
    assert_eq!(made["totals"]["walk_relisted"], false);
    assert!(!paths(&made).contains(&"notes/todo.md".to_string()));
    assert_eq!(pack()["totals"]["walk_relisted"], true);

    // Edited in place.
    std::fs::write(&excludes, "src/colors.rs\n").unwrap();
    let edited = pack();
    assert_eq!(edited["totals"]["walk_relisted"], false);
    assert!(paths(&edited).contains(&"notes/todo.md".to_string()));
    assert!(!paths(&edited).contains(&"src/colors.rs".to_string()));
    assert_eq!(pack()["totals"]["walk_relisted"], true);

    std::fs::remove_file(&excludes).unwrap();
    let removed = pack();
    assert_eq!(removed["totals"]["walk_relisted"], false);
    assert!(paths(&removed).contains(&"src/colors.rs".to_string()));
}

/// A `core.excludesFile` set in the repository's own config is honoured, as git honours it: it replaces the
/// one the user's global config names, and its patterns are anchored at the top of the tree even when
/// onepass runs from a subdirectory. An edit of it makes the next walk list the tree again.
#[test]
fn the_excludes_file_the_repository_config_names_replaces_the_global_one() {
    let case = palette_repo(hello().file("src/notes/keep.md", "palette notes that stay\n"));
    let root = case.path().to_path_buf();
    let home = home_naming_excludes("global-excludes");
    std::fs::write(home.path().join("global-excludes"), "src/colors.rs\n").unwrap();
    let repo_excludes = home.path().join("repo-excludes");
    std::fs::write(&repo_excludes, "/notes\n").unwrap();
    let repo = git2::Repository::open(&root).unwrap();
    repo.config()
        .unwrap()
        .open_level(git2::ConfigLevel::Local)
        .unwrap()
        .set_str("core.excludesFile", repo_excludes.to_str().unwrap())
        .unwrap();
    settle(&root);
    let pack = || {
        pack_json_in(
            &root.join("src"),
            home.path(),
            &["change the palette colors"],
        )
    };
    let first = pack();
    let listed = paths(&first);
    assert!(!listed.contains(&"notes/todo.md".to_string()), "{listed:?}");
    assert!(
        listed.contains(&"src/notes/keep.md".to_string()),
        "{listed:?}"
    );
    assert!(listed.contains(&"src/colors.rs".to_string()), "{listed:?}");
    assert_eq!(pack()["totals"]["walk_relisted"], true);

    std::fs::write(&repo_excludes, "src/colors.rs\nsrc/notes/\n").unwrap();
    let edited = pack();
    assert_eq!(edited["totals"]["walk_relisted"], false);
    let listed = paths(&edited);
    assert!(listed.contains(&"notes/todo.md".to_string()), "{listed:?}");
    assert!(
        !listed.contains(&"src/notes/keep.md".to_string()),
        "{listed:?}"
    );
    assert!(!listed.contains(&"src/colors.rs".to_string()), "{listed:?}");
}

/// Another $HOME names other git config and ignore files: the listing made under the first is not reused
/// under the second.
#[test]
fn a_listing_made_under_another_home_is_not_reused() {
    let case = palette_repo(hello());
    let root = case.path().to_path_buf();
    let strict = home_naming_excludes("excludes");
    std::fs::write(strict.path().join("excludes"), "notes/\n").unwrap();
    let plain = tempfile::tempdir().unwrap();
    settle(&root);
    let request = ["change the palette colors"];
    assert!(
        !paths(&pack_json(&root, strict.path(), &request)).contains(&"notes/todo.md".to_string())
    );
    assert_eq!(
        pack_json(&root, strict.path(), &request)["totals"]["walk_relisted"],
        true
    );

    let other = pack_json(&root, plain.path(), &request);
    assert_eq!(other["totals"]["walk_relisted"], false);
    assert!(paths(&other).contains(&"notes/todo.md".to_string()));
}

/// Ignore files are often symlinks (dotfiles kept in a repository of their own, a shared `.gitignore`):
/// an edit of the target, which leaves the link itself as it was, makes the next walk list the tree again.
#[test]
fn an_ignore_file_edited_through_its_symlink_is_noticed() {
    let case = palette_repo(hello().file("shared/ignore-rules", "notes/\n"));
    let root = case.path().to_path_buf();
    std::os::unix::fs::symlink("shared/ignore-rules", root.join(".gitignore")).unwrap();
    let home = tempfile::tempdir().unwrap();
    // `pack_json` sets $XDG_CONFIG_HOME to the home directory: the user's ignore file is `git/ignore` there.
    std::fs::create_dir_all(home.path().join("dotfiles")).unwrap();
    std::fs::create_dir_all(home.path().join("git")).unwrap();
    let global = home.path().join("dotfiles/ignore");
    std::fs::write(&global, "*.tmp\n").unwrap();
    std::os::unix::fs::symlink(&global, home.path().join("git/ignore")).unwrap();
    settle(&root);
    let request = ["change the palette colors"];
    let pack = || pack_json(&root, home.path(), &request);
    assert!(!paths(&pack()).contains(&"notes/todo.md".to_string()));
    assert_eq!(pack()["totals"]["walk_relisted"], true);

    // The tree's `.gitignore`, through its link.
    std::fs::write(
        root.join("shared/ignore-rules"),
        "# nothing ignored any more\n",
    )
    .unwrap();
    let in_tree = pack();
    assert_eq!(in_tree["totals"]["walk_relisted"], false);
    assert!(paths(&in_tree).contains(&"notes/todo.md".to_string()));
    assert_eq!(pack()["totals"]["walk_relisted"], true);

    // The user's ignore file, through its link.
    std::fs::write(&global, "src/colors.rs\n").unwrap();
    let global_edit = pack();
    assert_eq!(global_edit["totals"]["walk_relisted"], false);
    assert!(!paths(&global_edit).contains(&"src/colors.rs".to_string()));
}

/// `case` with a source file and a notes file, committed: what the excludes tests include and leave out.
fn palette_repo(case: Case) -> Case {
    case.file("src/colors.rs", "pub fn palette() {}\n")
        .file("notes/todo.md", "paint the palette\n")
        .commit()
}

/// A home directory whose `.gitconfig` names `~/NAME` as the excludes file (not made here).
fn home_naming_excludes(name: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let config = format!("[core]\n\texcludesFile = ~/{name}\n");
    std::fs::write(home.path().join(".gitconfig"), config).unwrap();
    home
}
