//! Feels like a tool people already trust: help for every command, configuration with provenance, init,
//! completions, the man page, colour conventions and exit codes.

use crate::harness::Case;
use crate::*;

#[test]
fn every_command_has_help() {
    for command in [
        "",
        "pack",
        "apply",
        "servers",
        "again",
        "warm",
        "config",
        "init",
        "completions",
        "man",
    ] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let run = Case::without_git().args(&args).run().status(0);
        assert!(
            run.stdout.contains("Usage: onepass"),
            "{command}: {}",
            run.stdout
        );
    }
}

#[test]
fn version_names_the_revision_when_built_from_a_checkout() {
    let run = Case::without_git().args(&["--version"]).run().status(0);
    assert!(run.stdout.starts_with("onepass 0."), "{}", run.stdout);
    let in_checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".git")
        .exists();
    assert_eq!(run.stdout.contains(" ("), in_checkout, "{}", run.stdout);
}

#[test]
fn config_shows_values_and_where_they_come_from() {
    let case = hello().file("onepass.toml", "budget = 6000\nmodel = \"repo-model\"\n");
    let dir = case.home.path().join(".config/onepass");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "context = 32768\nmodel = \"user-model\"\n",
    )
    .unwrap();
    let run = case
        .env("ONEPASS_TEMPERATURE", "0.5")
        .env("ONEPASS_API_KEY", "sk-secret")
        .args(&["config", "--max-file-size", "1000"])
        .run()
        .status(0);
    let line = |key: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        line("budget").contains("6000") && line("budget").ends_with("onepass.toml"),
        "{}",
        run.stdout
    );
    assert!(
        line("model").contains("\"repo-model\""),
        "the repository file wins over the user file"
    );
    assert!(
        line("context").contains("32768")
            && line("context").contains(".config/onepass/config.toml")
    );
    assert!(line("temperature").contains("0.5") && line("temperature").ends_with("# environment"));
    assert!(line("reply_reserve").contains("4096") && line("reply_reserve").ends_with("# default"));
    assert!(
        line("api_key").contains("(set)") && !run.stdout.contains("sk-secret"),
        "keys are never printed"
    );
    assert!(
        run.stdout.contains("# include"),
        "unset keys are listed as not set: {}",
        run.stdout
    );
    assert!(
        line("max_file_size").contains("1000") && line("max_file_size").ends_with("# command line")
    );

    let run = hello().args(&["config", "--json"]).run().status(0);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let context = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "context")
        .unwrap();
    assert_eq!(context["value"], 16384);
    assert_eq!(context["source"], "default");
}

#[test]
fn config_the_environment_beats_the_repository_file() {
    // `config` reads the same layers as every command (flags over everything: see the test above).
    let run = hello()
        .file("onepass.toml", "color = \"always\"\n")
        .env("ONEPASS_COLOR", "never")
        .args(&["config"])
        .run()
        .status(0);
    let color = run
        .stdout
        .lines()
        .find(|l| l.starts_with("color "))
        .unwrap();
    assert!(
        color.contains("\"never\"") && color.ends_with("# environment"),
        "{color}"
    );
}

#[test]
fn init_writes_a_commented_config_once() {
    let run = hello().args(&["init"]).run().status(0).stderr_has("wrote ");
    let text = std::fs::read_to_string(run.case.path().join("onepass.toml")).unwrap();
    assert!(text.contains("# budget = 24000"));
    let case = hello().file("onepass.toml", "budget = 1\n");
    let run = case.args(&["init"]).run().status(2).stderr_has("--force");
    assert_eq!(
        std::fs::read_to_string(run.case.path().join("onepass.toml")).unwrap(),
        "budget = 1\n"
    );
    hello()
        .file("onepass.toml", "budget = 1\n")
        .args(&["init", "--force"])
        .run()
        .status(0);
}

#[test]
fn an_unknown_key_suggests_the_nearest() {
    hello()
        .file("onepass.toml", "reply_reserv = 100\n")
        .args(&["pack", "x"])
        .run()
        .status(2)
        .stderr_has("unknown key `reply_reserv`; did you mean `reply_reserve`?");
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef onepass"),
        ("fish", "complete -c onepass"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        let run = Case::without_git()
            .args(&["completions", shell])
            .run()
            .status(0);
        assert!(
            run.stdout.contains(marker),
            "{shell}: {}",
            &run.stdout[..run.stdout.len().min(300)]
        );
        assert!(
            run.stdout.contains("same-context")
                || shell == "elvish"
                || run.stdout.contains("dry-run")
        );
    }
    let run = Case::without_git().args(&["man"]).run().status(0);
    assert!(
        run.stdout.starts_with(".ie") || run.stdout.contains(".TH onepass"),
        "{}",
        &run.stdout[..200]
    );
    assert!(run.stdout.contains("dry\\-run"));
}

#[test]
fn no_color_and_clicolor_force() {
    let plain = hello()
        .reply(ADD_VERBOSE_REPLY)
        .env("NO_COLOR", "1")
        .args(&["-y", "--dry-run", "-o", "x.patch", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(!plain.stdout.contains('\x1b') && !plain.stderr.contains('\x1b'));
    let forced = hello()
        .reply(ADD_VERBOSE_REPLY)
        .env("CLICOLOR_FORCE", "1")
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(forced.stdout.contains("\x1b[32m+"), "{}", forced.stdout);
    // An explicit flag beats NO_COLOR.
    let flagged = hello()
        .reply(ADD_VERBOSE_REPLY)
        .env("NO_COLOR", "1")
        .args(&["-y", "--color", "always", "add a --verbose flag"])
        .run()
        .status(0);
    assert!(flagged.stdout.contains("\x1b["));
}

#[test]
fn the_documented_exit_codes() {
    // 0: applied; 1: nothing applied (rejected); 2: an error. Each from a real run.
    hello()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "add a --verbose flag"])
        .run()
        .status(0);
    let mismatch = "```diff\n--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1 +1 @@\n-use std::io;\n+use std::fmt;\n```\n";
    hello()
        .reply(mismatch)
        .args(&["-y", "x"])
        .run()
        .status(1)
        .unchanged();
    hello().args(&["-y", "x"]).run().status(2).unchanged();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for row in ["| 0 |", "| 1 |", "| 2 |"] {
        assert!(readme.contains(row), "README documents exit code {row}");
    }
}
