//! Configuration precedence: defaults < user file < repository onepass.toml < ONEPASS_* environment < flags.

use crate::*;

fn budget_of(run: &crate::harness::Run) -> u64 {
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stderr);
    report["budget"].as_u64().unwrap()
}

#[test]
fn each_layer_overrides_the_one_below() {
    let user = |case: crate::harness::Case| {
        let dir = case.home.path().join(".config/onepass");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), "budget = 5000\ncontext = 50000\n").unwrap();
        case
    };
    let run = user(hello()).args(&["pack", "--json", "x"]).run().status(0);
    assert_eq!(budget_of(&run), 5000);
    let run = user(hello().file("onepass.toml", "budget = 6000\n"))
        .args(&["pack", "--json", "x"])
        .run()
        .status(0);
    assert_eq!(budget_of(&run), 6000);
    let run = user(hello().file("onepass.toml", "budget = 6000\n"))
        .env("ONEPASS_BUDGET", "7000")
        .args(&["pack", "--json", "x"])
        .run()
        .status(0);
    assert_eq!(budget_of(&run), 7000);
    let run = user(hello().file("onepass.toml", "budget = 6000\n"))
        .env("ONEPASS_BUDGET", "7000")
        .args(&["pack", "--json", "--budget", "8000", "x"])
        .run()
        .status(0);
    assert_eq!(budget_of(&run), 8000);
    // Without a budget anywhere, it is the context (from the user file, or the flag) minus the reply reserve.
    let context_only = |case: crate::harness::Case| {
        let dir = case.home.path().join(".config/onepass");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), "context = 50000\n").unwrap();
        case
    };
    let run = context_only(hello())
        .args(&["pack", "--json", "x"])
        .run()
        .status(0);
    assert_eq!(budget_of(&run), 50000 - 4096);
    let run = context_only(hello())
        .args(&["pack", "--json", "--context", "20000", "x"])
        .run()
        .status(0);
    assert_eq!(budget_of(&run), 20000 - 4096);
}

#[test]
fn help_and_version_touch_nothing() {
    let run = crate::harness::Case::without_git()
        .args(&["--help"])
        .run()
        .status(0);
    assert!(run.stdout.contains("Usage: onepass"), "{}", run.stdout);
    assert!(run.stdout.contains("--dry-run"));
    crate::harness::Case::without_git()
        .args(&["--version"])
        .run()
        .status(0)
        .stdout_has("onepass ");
    crate::harness::Case::without_git()
        .args(&["pack", "--help"])
        .run()
        .status(0)
        .stdout_has("--list");
    crate::harness::Case::without_git()
        .args(&["apply", "--help"])
        .run()
        .status(0)
        .stdout_has("FILE");
    crate::harness::Case::without_git()
        .args(&["--frobnicate"])
        .run()
        .status(2)
        .stderr_has("--frobnicate");
}
