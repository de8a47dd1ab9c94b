//! Secrets never go into a prompt by accident (issue 8, item 1): secret files are withheld and listed, secrets
//! inside other files are redacted with a visible placeholder, `--allow-secrets` opts out, and what was withheld
//! is reported on stderr, in `pack --json` and in the run report.

use crate::harness::Case;
use crate::*;

const GH_TOKEN: &str = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
const DB_PASSWORD: &str = "Tr0ub4dor&3-prod";
const ENV_TOKEN: &str = "envtoken-8f7a6b5c4d";
const KEY_BODY: &str = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ";

/// The hello repository with secrets in every usual place.
fn leaky() -> Case {
    hello()
        .file(".env", &format!("API_TOKEN={ENV_TOKEN}\n"))
        .file(
            "deploy/id_ed25519",
            &format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n"),
        )
        .file(
            "config/app.yml",
            &format!("db:\n  user: app\n  password: \"{DB_PASSWORD}\"\n"),
        )
        .file(
            "src/github.rs",
            &format!("pub const TOKEN: &str = \"{GH_TOKEN}\";\npub fn owner() -> &'static str {{ \"octo\" }}\n"),
        )
        .commit()
}

fn assert_no_secret(text: &str) {
    for secret in [GH_TOKEN, DB_PASSWORD, ENV_TOKEN, KEY_BODY] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

#[test]
fn the_prompt_holds_placeholders_not_secrets() {
    // .env is hidden, so only a pin would bring it in: pinned, it is still withheld.
    let run = leaky()
        .args(&["pack", "rename the owner", ".env"])
        .run()
        .status(0);
    assert_no_secret(&run.stdout);
    assert!(
        run.stdout.contains("password: \"[REDACTED:assignment]\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("pub const TOKEN: &str = \"[REDACTED:github-token]\";"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("### .env"), "{}", run.stdout);
    assert!(!run.stdout.contains("### deploy/id_ed25519"));
    let err = &run.stderr;
    assert!(
        err.contains("withheld 2 files that look like secrets: .env (environment file), deploy/id_ed25519 (SSH private key)"),
        "{err}"
    );
    assert!(
        err.contains("redacted 2 secrets in 2 files: config/app.yml:3 (password or token assignment), src/github.rs:1 (GitHub token)"),
        "{err}"
    );
    assert!(err.contains("--allow-secrets"), "{err}");
}

#[test]
fn pack_json_lists_what_was_withheld() {
    let run = leaky()
        .args(&["pack", "--json", "rename the owner"])
        .run()
        .status(0);
    assert_no_secret(&run.stdout);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let files = &report["secrets"]["files"];
    assert_eq!(files[0]["path"], "deploy/id_ed25519");
    assert_eq!(files[0]["reason"], "SSH private key");
    let redactions = report["secrets"]["redactions"].as_array().unwrap();
    assert_eq!(redactions.len(), 2);
    assert_eq!(redactions[0]["path"], "config/app.yml");
    assert_eq!(redactions[0]["line"], 3);
    assert_eq!(redactions[0]["kind"], "assignment");
    let skipped = report["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["path"] == "deploy/id_ed25519" && s["reason"]["kind"] == "secret"),
        "{skipped:?}"
    );
}

#[test]
fn allow_secrets_opts_out_by_flag_env_or_file_and_no_allow_undoes_it() {
    let run = leaky()
        .args(&["pack", "--allow-secrets", "rename the owner"])
        .run()
        .status(0);
    assert!(run.stdout.contains(GH_TOKEN) && run.stdout.contains(DB_PASSWORD));
    assert!(run.stdout.contains(KEY_BODY));
    assert!(!run.stderr.contains("withheld"), "{}", run.stderr);

    let run = leaky()
        .env("ONEPASS_ALLOW_SECRETS", "1")
        .args(&["pack", "rename the owner"])
        .run()
        .status(0);
    assert!(run.stdout.contains(GH_TOKEN));

    let run = leaky()
        .file("onepass.toml", "allow_secrets = true\n")
        .args(&["pack", "--no-allow-secrets", "rename the owner"])
        .run()
        .status(0);
    assert_no_secret(&run.stdout);
}

#[test]
fn the_request_sent_and_the_run_report() {
    let run = leaky()
        .reply(ADD_VERBOSE_REPLY)
        .args(&["-y", "--json", "add a --verbose flag"])
        .run()
        .status(0)
        .file("src/main.rs", HELLO_MAIN_VERBOSE);
    let sent = &run.chat_requests()[0].body;
    assert_no_secret(sent);
    assert!(sent.contains("[REDACTED:github-token]"), "{sent}");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["secrets"]["files"].as_array().unwrap().len(), 1);
    assert_eq!(report["secrets"]["redactions"].as_array().unwrap().len(), 2);
    assert!(run.stderr.contains("redacted 2 secrets"), "{}", run.stderr);
}

#[test]
fn a_hunk_written_against_a_placeholder_never_overwrites_the_secret() {
    // The model saw the placeholder and edits that line: its context does not match the file, so the hunk is
    // refused and the real secret stays.
    let reply = "```diff\n--- a/config/app.yml\n+++ b/config/app.yml\n@@ -1,3 +1,3 @@\n db:\n-  user: app\n+  user: admin\n   password: \"[REDACTED:assignment]\"\n```\n";
    let run = leaky()
        .reply(reply)
        .args(&["-y", "make the user admin"])
        .run();
    let yml = std::fs::read_to_string(run.case.path().join("config/app.yml")).unwrap();
    assert!(yml.contains(DB_PASSWORD), "{yml}");
    assert!(!yml.contains("REDACTED"), "{yml}");
}
