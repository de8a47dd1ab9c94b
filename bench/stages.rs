//! The per-byte stages of a cold pack, each alone on one thread over every text file of a tree: how long
//! indexing (and its parts), the secret scan and blob hashing take. `bench/pack.sh` times whole runs; this
//! tells which stage a change moved.
//!
//!     cargo build --release --example pack-stages && target/release/examples/pack-stages DIR
//!
//! Files are listed with `git ls-files` (run it in a git repository) and read once before timing; medians
//! of five rounds.

use std::time::{Duration, Instant};

use onepass::pack::rank;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let listed = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .arg("ls-files")
        .output()
        .expect("git ls-files");
    let texts: Vec<(String, String)> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|p| {
            let text = std::fs::read_to_string(root.join(p)).ok()?;
            Some((p.to_string(), text))
        })
        .collect();
    let bytes: usize = texts.iter().map(|t| t.1.len()).sum();
    println!("{} text files, {bytes} bytes", texts.len());
    let mut sink = 0u64;
    let mut stage = |name: &str, each: &mut dyn FnMut(&str, &str) -> u64| {
        let times = (0..5)
            .map(|_| {
                let started = Instant::now();
                for (path, text) in &texts {
                    sink = sink.wrapping_add(each(path, text));
                }
                started.elapsed()
            })
            .collect();
        let m = median(times);
        let ns = m.as_nanos() as f64 / bytes.max(1) as f64;
        println!(
            "{name:<22} {:>8.1} ms  {ns:>5.2} ns/byte",
            m.as_secs_f64() * 1000.0
        );
    };
    stage("index (all of it)", &mut |_, t| rank::index(t).len as u64);
    stage("  term hashes", &mut |_, t| {
        let mut h = 0u64;
        rank::for_each_term_hash(t, |x| h = h.wrapping_add(x));
        h
    });
    stage("  definitions, imports", &mut |_, t| {
        let mut n = 0u64;
        for line in t.lines() {
            n += u64::from(rank::defined_name(line).is_some());
            rank::import_segments(line, |_| n += 1);
        }
        n
    });
    stage("  literal word runs", &mut |_, t| {
        let mut h = 0u64;
        rank::for_each_literal_bigram(t, |x| h = h.wrapping_add(x));
        h
    });
    stage("secret scan", &mut |p, t| {
        onepass::secrets::scan(p, t).len() as u64
    });
    stage("blob ids", &mut |_, t| {
        u64::from(onepass::pack::cache::blob_id(t.as_bytes())[0])
    });
    // Not per byte: the layout of the whole tree, as a pack with a 128k budget folds it.
    let mut paths: Vec<&str> = texts.iter().map(|t| t.0.as_str()).collect();
    paths.sort_unstable();
    let times = (0..5)
        .map(|_| {
            let started = Instant::now();
            sink =
                sink.wrapping_add(onepass::pack::outline::path_tree(&paths, 24_000).len() as u64);
            started.elapsed()
        })
        .collect();
    println!(
        "{:<22} {:>8.1} ms  ({} paths)",
        "path tree",
        median(times).as_secs_f64() * 1000.0,
        paths.len()
    );
    println!("(checksum {sink})");
}
