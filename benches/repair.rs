//! Benchmark (issue 3's target: repairing a 5,000-line file with 50 hunks takes < 50 ms): half the hunks are
//! written with a different indentation than the file, so they go through the indentation rung of the
//! ladder; all carry bare `@@ ... @@` headers (no line numbers). Run with `cargo bench --bench repair`.

use std::time::{Duration, Instant};

use onepass::patch::{self, Options, Tree, TreeError};

struct OneFile(String);

impl Tree for OneFile {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        Ok((path == "big.rs").then(|| self.0.clone().into_bytes()))
    }
}

fn main() {
    let mut file = String::new();
    for i in 0..5000 {
        file.push_str(&format!(
            "    let value_{i} = compute({i}, \"item {i}\");\n"
        ));
    }
    let mut reply = String::from("```diff\n--- a/big.rs\n+++ b/big.rs\n");
    for k in 0..50 {
        let i = 50 + k * 97;
        let indent = if k % 2 == 0 { "    " } else { "  " };
        reply.push_str("@@ ... @@\n");
        for j in i - 3..i {
            reply.push_str(&format!(
                " {indent}let value_{j} = compute({j}, \"item {j}\");\n"
            ));
        }
        reply.push_str(&format!(
            "-{indent}let value_{i} = compute({i}, \"item {i}\");\n+{indent}let value_{i} = changed();\n"
        ));
        for j in i + 1..i + 4 {
            reply.push_str(&format!(
                " {indent}let value_{j} = compute({j}, \"item {j}\");\n"
            ));
        }
    }
    reply.push_str("```\n");
    let tree = OneFile(file);
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..31 {
        let start = Instant::now();
        let plan = patch::plan(&reply, &tree, &Options::default()).expect("a plan");
        let diff = patch::git_diff(&plan.changes, &[]);
        times.push(start.elapsed());
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        assert_eq!(plan.changes[0].hunks.len(), 50);
        assert!(diff.contains("changed()"));
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "repair 5,000 lines / 50 hunks (plan + git_diff): median {:.2} ms, min {:.2} ms, max {:.2} ms over {} runs; target < 50 ms",
        median.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        times.len()
    );
}
