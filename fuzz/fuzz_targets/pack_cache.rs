//! Arbitrary bytes as the pack cache (`.git/onepass/pack-cache-v1.bin`, and its journal, which has the same
//! format): parsing never panics nor reserves much more memory than the input's size, and a cache that parses
//! is written back and read again unchanged. The cache keeps no `PartialEq`, so "unchanged" is said of its
//! bytes: write(read(write(read(x)))) == write(read(x)).
#![no_main]

#[path = "../common/alloc.rs"]
mod alloc;

use libfuzzer_sys::fuzz_target;
use onepass::pack::cache::Cache;

fuzz_target!(|data: &[u8]| {
    let Some(cache) = alloc::bounded(data, Cache::from_bytes) else {
        return;
    };
    let bytes = cache.to_bytes();
    let again = Cache::from_vec(bytes.clone()).expect("a written cache reads back");
    assert_eq!(again.len(), cache.len());
    assert_eq!(again.to_bytes(), bytes);
    // Read as a cache, nothing came from a journal: the journal it would write holds no entry.
    let journal = Cache::from_vec(cache.journal_bytes()).expect("a written journal reads back");
    assert!(journal.is_empty());
});
