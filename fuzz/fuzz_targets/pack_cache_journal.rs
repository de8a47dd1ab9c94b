//! Arbitrary bytes as the pack cache's journal, as the cache itself, and as both, through `cache::load` on a
//! real directory (the journal is read after the cache and its entries win), then `cache::save` after a run
//! that adds an entry. Nothing may panic; an unreadable journal is ignored, a readable one is journaled again
//! as it was, every loaded cache writes back unchanged, and what is saved loads again.
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use onepass::pack::cache::{self, BlobId, Cache};
use onepass::pack::rank;

struct Fixture {
    _dir: tempfile::TempDir,
    /// Where the cache lives, and the journal beside it (found by letting `save` write one).
    cache: PathBuf,
    journal: PathBuf,
    /// A good cache file and a good journal file, as `save` wrote them.
    base: Vec<u8>,
    base_journal: Vec<u8>,
    /// What the good cache alone loads as, written back.
    base_written: Vec<u8>,
    base_len: usize,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = cache::location(dir.path());
        let first = Cache::default();
        for n in 0..40u32 {
            first.update(cache::blob_id(&n.to_le_bytes()), |e| {
                e.tokens = Some(n);
                if n % 3 == 0 {
                    let text = format!("fn f{n}() {{}}\nuse crate::m{n};\nlet s = \"text {n}\";\n");
                    e.index = Some(Arc::new(rank::index(&text)));
                }
                e.outline = match n % 4 {
                    0 => Some(Some(format!("1: fn f{n}() {{}}\n"))),
                    1 => Some(None),
                    _ => None,
                };
            });
        }
        first.remember_count(cache::text_key("src/a.rs"), 4);
        first.text_memo(9, || "./: a.rs\n".into());
        cache::save(Some(&path), &first).unwrap();
        let base = std::fs::read(&path).unwrap();
        // A run that adds one entry writes only the journal, beside the cache: whatever file appears is it.
        let second = cache::load(Some(&path));
        second.update(cache::blob_id(b"journaled"), |e| e.tokens = Some(1));
        cache::save(Some(&path), &second).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            base,
            "only the journal is written"
        );
        let journal = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| *p != path)
            .expect("a journal beside the cache");
        let base_journal = std::fs::read(&journal).unwrap();
        let third = cache::load(Some(&path));
        assert_eq!(
            third.find(&cache::blob_id(b"journaled"), |e| e.tokens),
            Some(1)
        );
        let base_cache = Cache::from_bytes(&base).unwrap();
        Fixture {
            _dir: dir,
            cache: path,
            journal,
            base_written: base_cache.to_bytes(),
            base_len: base_cache.len(),
            base,
            base_journal,
        }
    })
}

fn load(f: &Fixture, cache: &[u8], journal: &[u8]) -> Cache {
    std::fs::write(&f.cache, cache).unwrap();
    std::fs::write(&f.journal, journal).unwrap();
    cache::load(Some(&f.cache))
}

/// write(read(write(c))) == write(c), for the cache and the journal it would write.
fn round_trip(c: &Cache) {
    let bytes = c.to_bytes();
    let again = Cache::from_vec(bytes.clone()).expect("a written cache reads back");
    assert_eq!(again.len(), c.len());
    assert_eq!(again.to_bytes(), bytes);
    let journal = c.journal_bytes();
    let again = Cache::from_vec(journal).expect("a written journal reads back");
    // Read as a cache, a journal has nothing journaled: its own journal holds no entry (every write carries
    // the list of requests the cache remembers), and it writes back unchanged too.
    let rejournaled = Cache::from_vec(again.journal_bytes()).expect("a written journal reads back");
    assert!(rejournaled.is_empty());
    let written = again.to_bytes();
    assert_eq!(
        Cache::from_vec(written.clone()).unwrap().to_bytes(),
        written
    );
}

/// A run adds an entry and saves (the journal or the whole cache): the next load has everything.
fn save_and_reload(f: &Fixture, c: &Cache) {
    const NEW: &[u8] = b"added by this run";
    let id: BlobId = cache::blob_id(NEW);
    let expected = c.len() + usize::from(c.get(&id).is_none());
    c.update(id, |e| e.tokens = Some(77));
    cache::save(Some(&f.cache), c).unwrap();
    let back = cache::load(Some(&f.cache));
    assert_eq!(back.len(), expected);
    assert_eq!(back.find(&id, |e| e.tokens), Some(77));
    assert_eq!(back.to_bytes(), c.to_bytes());
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let alone = Cache::from_bytes(data);

    // The input as the journal of a good cache.
    let merged = load(f, &f.base, data);
    match &alone {
        None => assert_eq!(
            merged.to_bytes(),
            f.base_written,
            "an unreadable journal is ignored"
        ),
        Some(journal) => {
            assert!(merged.len() >= f.base_len && merged.len() <= f.base_len + journal.len());
            let again =
                Cache::from_vec(merged.journal_bytes()).expect("a written journal reads back");
            assert_eq!(
                again.to_bytes(),
                journal.to_bytes(),
                "the journal is journaled again as it was"
            );
        }
    }
    round_trip(&merged);
    save_and_reload(f, &merged);

    // The input as the cache, with a good journal, then with itself as the journal.
    let loaded = load(f, data, &f.base_journal);
    if alone.is_none() {
        assert!(
            loaded.is_empty(),
            "an unreadable cache loads as an empty one"
        );
    }
    round_trip(&loaded);
    let both = load(f, data, data);
    if let Some(journal) = &alone {
        assert_eq!(both.len(), journal.len());
        let again = Cache::from_vec(both.journal_bytes()).unwrap();
        assert_eq!(again.to_bytes(), journal.to_bytes());
    }
    round_trip(&both);
});
