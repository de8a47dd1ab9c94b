//! A model reply, arbitrary bytes, through extraction, parsing, repair and placement against a small
//! in-memory tree, then the regenerated diff and the pre-plan guards. Nothing may panic; every placed change
//! must regenerate.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use onepass::patch::{self, Tree, TreeError};

struct Memory(HashMap<&'static str, &'static [u8]>);

impl Tree for Memory {
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError> {
        if path.starts_with("link/") {
            return Err(TreeError::Escapes(path.to_string()));
        }
        Ok(self.0.get(path).map(|b| b.to_vec()))
    }
}

fuzz_target!(|data: &[u8]| {
    let reply = String::from_utf8_lossy(data);
    let tree = Memory(HashMap::from([
        (
            "src/main.rs",
            &b"use std::env;\n\nfn main() {\n    let args: Vec<String> = env::args().collect();\n    println!(\"hello\");\n}\n"[..],
        ),
        ("README.md", &b"# hello\r\n\r\nA CRLF file.\r\n"[..]),
        ("empty.txt", &b""[..]),
        ("no-newline.txt", &b"last line"[..]),
        ("bin.dat", &b"\x00\x01\x02"[..]),
    ]));
    for truncated in [false, true] {
        let options = patch::Options {
            strict: false,
            truncated,
        };
        if let Ok(plan) = patch::plan(&reply, &tree, &options) {
            let _ = patch::git_diff(&plan.changes, &[]);
            for change in &plan.changes {
                let _ = change.apply(&[]);
            }
        }
    }
    let _ = onepass::guard::mode_changes(&reply);
    let _ = onepass::guard::placeholder_writes(&reply);
});
