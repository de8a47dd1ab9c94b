//! The repair ladder and every refusal, end to end: each case of `fixtures/diffs/` (the same layout as the
//! shared corpus: `before/`, `reply.md`, then `after/` or `reject.txt`) is run through the real
//! `onepass apply` on a committed repository.

use std::path::Path;

use crate::harness::{Case, snapshot};

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    snapshot(dir).into_iter().collect()
}

#[test]
fn every_fixture_applies_exactly_or_is_refused_untouched() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/diffs");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "fixtures/diffs holds the ladder's cases");
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut case = Case::new();
        for (path, bytes) in files(&dir.join("before")) {
            case = case.bytes(&path, &bytes);
        }
        let case = case.commit();
        let reply = std::fs::read_to_string(dir.join("reply.md")).unwrap();
        let run = case.args(&["apply", "-y", "-"]).stdin(&reply).run();
        let after = snapshot(run.case.path());
        if dir.join("after").is_dir() {
            let expected = snapshot(&dir.join("after"));
            if run.status != 0 || after != expected {
                failures.push(format!(
                    "{name}: expected to apply (exit {}): {}",
                    run.status, run.stderr
                ));
            }
        } else {
            let before = snapshot(&dir.join("before"));
            if run.status == 0 || after != before {
                failures.push(format!(
                    "{name}: expected a refusal with the tree unchanged (exit {})",
                    run.status
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
