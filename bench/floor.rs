//! The floor for `onepass pack`: a plain parallel walk (the same `ignore` walker and rules, gitignore
//! included) that reads every file, and nothing else. `bench/pack.sh` times it next to onepass.
//!
//!     cargo build --release --example walk-floor && target/release/examples/walk-floor DIR

use std::sync::atomic::{AtomicU64, Ordering};

fn main() {
    let root = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let files = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    ignore::WalkBuilder::new(&root)
        .hidden(true)
        .parents(false)
        .require_git(false)
        .threads(threads)
        .build_parallel()
        .run(|| {
            let files = &files;
            let bytes = &bytes;
            Box::new(move |entry| {
                if let Ok(entry) = entry
                    && entry.file_type().is_some_and(|t| t.is_file())
                    && let Ok(data) = std::fs::read(entry.path())
                {
                    files.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                ignore::WalkState::Continue
            })
        });
    eprintln!(
        "{} files, {} bytes",
        files.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed)
    );
}
