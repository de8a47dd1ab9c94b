//! Arbitrary bytes as the walk snapshot (`.git/onepass/walk-v1.bin`): parsing never panics nor reserves much
//! more memory than the input's size, and a snapshot that parses is written back and read again unchanged (the
//! same value, the same bytes).
#![no_main]

#[path = "../common/alloc.rs"]
mod alloc;

use libfuzzer_sys::fuzz_target;
use onepass::repo::snapshot::Snapshot;

fuzz_target!(|data: &[u8]| {
    let Some(snapshot) = alloc::bounded(data, Snapshot::from_bytes) else {
        return;
    };
    let bytes = snapshot.to_bytes();
    let again = Snapshot::from_bytes(&bytes).expect("a written snapshot reads back");
    assert_eq!(again, snapshot);
    assert_eq!(again.to_bytes(), bytes);
});
