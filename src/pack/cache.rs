//! What packing learns about a file's content, kept by git blob id in the repository's `.git/onepass/`:
//! its exact token count, its ranking index and its outline. The second pack of a large repository then
//! indexes, counts and outlines only what changed. The format is a small hand-written binary one (serde_json
//! spends more time parsing millions of term hashes than indexing the files again would); a corrupt, truncated
//! or foreign-version file is ignored and rebuilt, never an error.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::lock;
use super::rank::{FileIndex, Quick};
use super::records::{Keys, Terms};
use crate::binfile::Reader;

const MAGIC: &[u8; 8] = b"ONEPASS\0";
/// Bump when the index, outline or token counting changes meaning.
const VERSION: u32 = 10;
const FILE_NAME: &str = "pack-cache-v1.bin";

/// A git blob id.
pub type BlobId = [u8; 20];

/// The blob id git gives `bytes`.
pub fn blob_id(bytes: &[u8]) -> BlobId {
    let mut id = [0u8; 20];
    if let Ok(oid) = git2::Oid::hash_object(git2::ObjectType::Blob, bytes) {
        id.copy_from_slice(oid.as_bytes());
    }
    id
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub tokens: Option<u32>,
    pub index: Option<Arc<FileIndex>>,
    /// `Some(None)`: outlined before, nothing to show.
    pub outline: Option<Option<String>>,
}

/// The cache in memory. What was loaded is read without locking (the parallel stages look up every file);
/// what a run adds goes to a locked side table.
#[derive(Debug, Default)]
pub struct Cache {
    loaded: HashMap<BlobId, Entry, Quick>,
    fresh: Mutex<HashMap<BlobId, Entry, Quick>>,
    /// The blobs of this run: only these are saved, so the cache follows the repository.
    keep: Mutex<Option<HashSet<BlobId, Quick>>>,
    /// Token counts of small texts (paths, outlines, the layout, the template) by [`text_key`].
    counts: HashMap<u64, u32>,
    counts_fresh: Mutex<HashMap<u64, u32>>,
    counts_used: Mutex<HashSet<u64>>,
    /// Texts derived from many inputs at once (the path tree of the repository), by a key of those inputs.
    texts: HashMap<u64, String>,
    texts_fresh: Mutex<HashMap<u64, String>>,
    texts_used: Mutex<HashSet<u64>>,
    /// Keys of the requests packed with this cache, the latest first (at most [`REQUESTS_KEPT`]).
    requests: Vec<u64>,
    /// This run's request, when it is not among them.
    request_fresh: Mutex<Option<u64>>,
    /// Entries that came from the journal (written since the cache was last written whole).
    journaled: HashSet<BlobId, Quick>,
}

/// The key of a text in the count memo: FNV-1a over its bytes, and its length.
pub fn text_key(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (text.len() as u64).rotate_left(32)
}

/// How many of the latest requests the cache remembers.
const REQUESTS_KEPT: usize = 64;

impl Cache {
    /// A field of the entry for `id`: from what this run added, else from what was loaded.
    pub fn find<T>(&self, id: &BlobId, field: impl Fn(&Entry) -> Option<T>) -> Option<T> {
        if let Some(found) = self.loaded.get(id).and_then(&field) {
            return Some(found);
        }
        lock(&self.fresh).get(id).and_then(field)
    }

    pub fn get(&self, id: &BlobId) -> Option<Entry> {
        let fresh = lock(&self.fresh);
        fresh.get(id).or_else(|| self.loaded.get(id)).cloned()
    }

    pub fn index(&self, id: &BlobId) -> Option<Arc<FileIndex>> {
        self.find(id, |e| e.index.clone())
    }

    pub fn update(&self, id: BlobId, change: impl FnOnce(&mut Entry)) {
        let mut fresh = lock(&self.fresh);
        let entry = fresh
            .entry(id)
            .or_insert_with(|| self.loaded.get(&id).cloned().unwrap_or_default());
        change(entry);
    }

    pub fn text_count(&self, key: u64) -> Option<u32> {
        let found = self
            .counts
            .get(&key)
            .copied()
            .or_else(|| lock(&self.counts_fresh).get(&key).copied());
        if found.is_some() {
            lock(&self.counts_used).insert(key);
        }
        found
    }

    pub fn remember_count(&self, key: u64, count: u32) {
        lock(&self.counts_fresh).insert(key, count);
    }

    /// The text remembered under `key`, or `make` it and remember it.
    pub fn text_memo(&self, key: u64, make: impl FnOnce() -> String) -> String {
        if let Some(text) = self.texts.get(&key) {
            lock(&self.texts_used).insert(key);
            return text.clone();
        }
        let mut fresh = lock(&self.texts_fresh);
        fresh.entry(key).or_insert_with(make).clone()
    }

    /// Whether `request` was packed before with this cache (so that its candidates' counts are likely here).
    pub fn knows_request(&self, request: &str) -> bool {
        self.requests.contains(&text_key(request))
    }

    /// Remember that `request` was packed.
    pub fn remember_request(&self, request: &str) {
        let key = text_key(request);
        if !self.requests.contains(&key) {
            *lock(&self.request_fresh) = Some(key);
        }
    }

    /// Keep only these blobs when saving (the files of this run).
    pub fn keep_only(&self, ids: &[BlobId]) {
        *lock(&self.keep) = Some(ids.iter().copied().collect());
    }

    /// Keep these blobs' entries too (after [`Cache::keep_only`]).
    pub fn keep_also(&self, ids: &[BlobId]) {
        if let Some(keep) = lock(&self.keep).as_mut() {
            keep.extend(ids.iter().copied());
        }
    }

    fn kept(&self, id: &BlobId) -> bool {
        lock(&self.keep)
            .as_ref()
            .is_none_or(|keep| keep.contains(id))
    }

    /// Whether saving would write anything new: entries were added, or loaded ones are no longer kept.
    pub fn needs_saving(&self) -> bool {
        !lock(&self.fresh).is_empty()
            || !lock(&self.texts_fresh).is_empty()
            || lock(&self.request_fresh).is_some()
            || self.stale() > self.loaded.len() / 4
    }

    /// Loaded entries this run did not use (files changed or gone): dropped when the cache is written whole.
    fn stale(&self) -> usize {
        let keep = lock(&self.keep);
        keep.as_ref().map_or(0, |keep| {
            self.loaded.keys().filter(|id| !keep.contains(*id)).count()
        })
    }

    /// Serialize what the journal holds: the entries it held before and what this run added (kept ones).
    pub fn journal_bytes(&self) -> Vec<u8> {
        self.encode_kept(|id| self.journaled.contains(id))
    }

    /// Take in a journal read after the cache: its entries (newer) and its memos.
    fn absorb(&mut self, journal: Cache) {
        for (id, e) in journal.loaded {
            self.journaled.insert(id);
            self.loaded.insert(id, e);
        }
        self.counts.extend(journal.counts);
        self.texts.extend(journal.texts);
        // The journal's list was written after the cache's and holds it.
        if !journal.requests.is_empty() {
            self.requests = journal.requests;
        }
    }

    pub fn len(&self) -> usize {
        let fresh = lock(&self.fresh);
        self.loaded.len()
            + fresh
                .keys()
                .filter(|id| !self.loaded.contains_key(*id))
                .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Serialize the entries this run kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_kept(|_| true)
    }

    /// Serialize what this run added and the loaded entries `loaded_too` picks (fresh ones win), of the
    /// kept blobs.
    fn encode_kept(&self, loaded_too: impl Fn(&BlobId) -> bool) -> Vec<u8> {
        let fresh = lock(&self.fresh);
        let mut entries: Vec<(&BlobId, &Entry)> = fresh.iter().collect();
        entries.extend(
            self.loaded
                .iter()
                .filter(|(id, _)| loaded_too(id) && !fresh.contains_key(*id)),
        );
        entries.retain(|(id, _)| self.kept(id));
        self.encode(entries)
    }

    /// Serialize these entries, with the memos this run counted, made or used.
    fn encode(&self, mut entries: Vec<(&BlobId, &Entry)>) -> Vec<u8> {
        entries.sort_unstable_by_key(|(id, _)| **id);
        let ids: Vec<&BlobId> = entries.iter().map(|(id, _)| *id).collect();
        let mut out = Vec::with_capacity(64 + ids.len() * 256);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, VERSION);
        put_u32(&mut out, ids.len() as u32);
        for (id, e) in entries {
            out.extend_from_slice(id);
            let flags = u8::from(e.tokens.is_some())
                | u8::from(e.index.is_some()) << 1
                | u8::from(e.outline.is_some()) << 2
                | u8::from(matches!(e.outline, Some(Some(_)))) << 3;
            out.push(flags);
            if let Some(t) = e.tokens {
                put_u32(&mut out, t);
            }
            if let Some(ix) = &e.index {
                put_u32(&mut out, ix.len);
                put_u32(&mut out, ix.bytes);
                put_u32(&mut out, ix.terms.len() as u32);
                out.extend_from_slice(ix.terms.bytes());
                for list in [&ix.defines, &ix.imports, &ix.literals] {
                    put_u32(&mut out, list.len() as u32);
                    out.extend_from_slice(list.bytes());
                }
            }
            if let Some(Some(text)) = &e.outline {
                put_u32(&mut out, text.len() as u32);
                out.extend_from_slice(text.as_bytes());
            }
        }
        // The count memo: what this run counted or used.
        let used = lock(&self.counts_used);
        let counts_fresh = lock(&self.counts_fresh);
        let mut counts: Vec<(u64, u32)> = counts_fresh
            .iter()
            .map(|(k, v)| (*k, *v))
            .chain(
                self.counts
                    .iter()
                    .filter(|(k, _)| used.contains(*k) && !counts_fresh.contains_key(*k))
                    .map(|(k, v)| (*k, *v)),
            )
            .collect();
        counts.sort_unstable();
        put_u32(&mut out, counts.len() as u32);
        for (k, v) in counts {
            out.extend_from_slice(&k.to_le_bytes());
            put_u32(&mut out, v);
        }
        // The text memo: what this run made or used.
        let used = lock(&self.texts_used);
        let fresh = lock(&self.texts_fresh);
        let mut texts: Vec<(&u64, &String)> = fresh
            .iter()
            .chain(self.texts.iter().filter(|(k, _)| used.contains(*k)))
            .collect();
        texts.sort_unstable_by_key(|(k, _)| **k);
        texts.dedup_by_key(|(k, _)| **k);
        put_u32(&mut out, texts.len() as u32);
        for (k, text) in texts {
            put_u64(&mut out, *k);
            put_u32(&mut out, text.len() as u32);
            out.extend_from_slice(text.as_bytes());
        }
        // The requests packed, this run's first.
        let requests: Vec<u64> = lock(&self.request_fresh)
            .iter()
            .chain(&self.requests)
            .copied()
            .take(REQUESTS_KEPT)
            .collect();
        put_u32(&mut out, requests.len() as u32);
        for k in requests {
            put_u64(&mut out, k);
        }
        out
    }

    /// Parse a saved cache; `None` for anything not written by this version.
    pub fn from_bytes(bytes: &[u8]) -> Option<Cache> {
        Cache::from_vec(bytes.to_vec())
    }

    /// Parse a saved cache, keeping its bytes: the index data of every entry is a view into them, not a copy.
    pub fn from_vec(bytes: Vec<u8>) -> Option<Cache> {
        let shared = Arc::new(bytes);
        let bytes: &[u8] = &shared;
        let mut r = Reader::new(bytes);
        if r.take(8)? != MAGIC || r.u32()? != VERSION {
            return None;
        }
        let count = r.u32()? as usize;
        // The smallest entry is a blob id and its flags: a count the file cannot hold reserves no more than
        // it can.
        let mut entries = HashMap::with_capacity_and_hasher(r.capacity(count, 20 + 1), Quick);
        for _ in 0..count {
            let id: BlobId = r.take(20)?.try_into().ok()?;
            let flags = *r.take(1)?.first()?;
            let mut e = Entry::default();
            if flags & 1 != 0 {
                e.tokens = Some(r.u32()?);
            }
            if flags & 2 != 0 {
                let len = r.u32()?;
                let bytes = r.u32()?;
                let n = r.u32()? as usize;
                let terms = Terms::view(&shared, r.at, n)?;
                r.take(Terms::size(n)?)?;
                let mut list = || {
                    let n = r.u32()? as usize;
                    let keys = Keys::view(&shared, r.at, n)?;
                    r.take(n.checked_mul(4)?)?;
                    Some(keys)
                };
                let (defines, imports, literals) = (list()?, list()?, list()?);
                e.index = Some(Arc::new(FileIndex {
                    terms,
                    len,
                    defines,
                    imports,
                    bytes,
                    literals,
                }));
            }
            if flags & 4 != 0 {
                e.outline = Some(if flags & 8 != 0 {
                    let n = r.u32()? as usize;
                    Some(String::from_utf8(r.take(n)?.to_vec()).ok()?)
                } else {
                    None
                });
            }
            entries.insert(id, e);
        }
        let n = r.u32()? as usize;
        let raw = r.take(n.checked_mul(12)?)?;
        let counts = raw
            .chunks_exact(12)
            .map(|c| {
                let (k, v) = c.split_at(8);
                (
                    u64::from_le_bytes(k.try_into().unwrap_or([0; 8])),
                    u32::from_le_bytes(v.try_into().unwrap_or([0; 4])),
                )
            })
            .collect();
        let n = r.u32()? as usize;
        let mut texts = HashMap::with_capacity(n.min(1024));
        for _ in 0..n {
            let key = r.u64()?;
            let len = r.u32()? as usize;
            texts.insert(key, String::from_utf8(r.take(len)?.to_vec()).ok()?);
        }
        let n = r.u32()? as usize;
        let requests = (0..n.min(REQUESTS_KEPT))
            .map(|_| r.u64())
            .collect::<Option<Vec<u64>>>()?;
        r.done().then(|| Cache {
            loaded: entries,
            counts,
            texts,
            requests,
            ..Cache::default()
        })
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Where the cache of the repository whose git directory is `git_dir` lives (`.git/onepass/`; worktrees
/// and `.git` files included, as git resolves them).
pub fn location(git_dir: &Path) -> PathBuf {
    git_dir.join("onepass").join(FILE_NAME)
}

/// The journal beside the cache: what runs added since the cache was last written whole.
fn journal_path(path: &Path) -> PathBuf {
    path.with_extension("journal")
}

/// Load the cache and its journal; anything unreadable gives an empty one (a journal without its cache is
/// ignored: it was written against another one).
pub fn load(path: Option<&Path>) -> Cache {
    let Some(path) = path else {
        return Cache::default();
    };
    let Some(mut cache) = std::fs::read(path).ok().and_then(Cache::from_vec) else {
        return Cache::default();
    };
    if let Some(journal) = std::fs::read(journal_path(path))
        .ok()
        .and_then(Cache::from_vec)
    {
        cache.absorb(journal);
    }
    cache
}

/// Save what changed, atomically (write then rename): usually only the journal, small beside the cache of a
/// large repository; the cache is written whole (and the journal removed) when the journal grows past a
/// quarter of it or a quarter of the entries went stale.
pub fn save(path: Option<&Path>, cache: &Cache) -> std::io::Result<()> {
    let Some(path) = path else { return Ok(()) };
    if !cache.needs_saving() {
        return Ok(());
    }
    let base = std::fs::metadata(path).map_or(0, |m| m.len());
    if base > 0 && cache.stale() <= cache.loaded.len() / 4 {
        let journal = cache.journal_bytes();
        if (journal.len() as u64) < base / 4 {
            return crate::binfile::write_atomic(&journal_path(path), &journal);
        }
    }
    crate::binfile::write_atomic(path, &cache.to_bytes())?;
    match std::fs::remove_file(journal_path(path)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption_is_ignored() {
        let cache = Cache::default();
        let a = blob_id(b"fn a() {}\n");
        let b = blob_id(b"x");
        cache.update(a, |e| {
            e.tokens = Some(7);
            e.index = Some(Arc::new(super::super::rank::index(
                "fn alpha_beta() {}\nuse crate::x::y;\nlet m = \"could not open the index\";\n",
            )));
            e.outline = Some(Some("1: fn alpha_beta() {}\n".into()));
        });
        cache.update(b, |e| e.outline = Some(None));
        cache.remember_count(text_key("src/a.rs"), 4);
        let bytes = cache.to_bytes();
        let back = Cache::from_bytes(&bytes).expect("parses");
        assert_eq!(back.get(&a), cache.get(&a));
        // The string literals' runs of words are kept too (the message signal of a warm run).
        let index = back.index(&a).unwrap();
        assert!(!index.literals.is_empty() && !index.defines.is_empty());
        assert_eq!(back.get(&b), cache.get(&b));
        assert!(!back.needs_saving());
        assert_eq!(back.text_count(text_key("src/a.rs")), Some(4));
        assert_eq!(back.text_count(text_key("src/b.rs")), None);
        // A remembered text comes back without being made again; an unused one is not saved twice.
        cache.text_memo(9, || "./: a.rs\n".into());
        let back = Cache::from_bytes(&cache.to_bytes()).expect("parses");
        assert_eq!(back.text_memo(9, || unreachable!()), "./: a.rs\n");
        assert_eq!(back.text_memo(10, || "other".into()), "other");
        let saved = Cache::from_bytes(&back.to_bytes()).expect("parses");
        assert_eq!(saved.texts.len(), 2);
        for cut in [0, 5, 12, bytes.len() - 1] {
            assert!(Cache::from_bytes(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut foreign = bytes.clone();
        foreign[8] = 99;
        assert!(Cache::from_bytes(&foreign).is_none());
        // A header claiming 2^32 - 1 entries and holding none is refused (the fuzz target pack_cache checks
        // that it reserves no room for them either).
        let mut claims = bytes[..12].to_vec();
        claims.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Cache::from_bytes(&claims).is_none());
        // The blob id is git's.
        assert_eq!(
            git2::Oid::from_bytes(&blob_id(b"hello\n"))
                .unwrap()
                .to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn a_request_packed_before_is_known_after_a_save_and_a_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onepass").join(FILE_NAME);
        let first = Cache::default();
        first.update(blob_id(b"a"), |e| e.tokens = Some(1));
        assert!(!first.knows_request("fix the parser"));
        first.remember_request("fix the parser");
        save(Some(&path), &first).unwrap();
        let second = load(Some(&path));
        assert!(second.knows_request("fix the parser"));
        assert!(!second.knows_request("fix the printer"));
        // Known, it is not saved again; another request is, and the first one stays known.
        second.remember_request("fix the parser");
        assert!(!second.needs_saving());
        second.remember_request("fix the printer");
        assert!(second.needs_saving());
        save(Some(&path), &second).unwrap();
        let third = load(Some(&path));
        assert!(third.knows_request("fix the parser") && third.knows_request("fix the printer"));
    }

    #[test]
    fn a_run_that_adds_little_writes_only_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onepass").join(FILE_NAME);
        let first = Cache::default();
        for n in 0..40u32 {
            first.update(blob_id(&n.to_le_bytes()), |e| e.tokens = Some(n));
        }
        save(Some(&path), &first).unwrap();
        let base = std::fs::read(&path).unwrap();
        assert!(!journal_path(&path).exists());

        // One new entry: the cache stays as it was, the journal holds the entry.
        let second = load(Some(&path));
        second.update(blob_id(b"new"), |e| e.tokens = Some(99));
        save(Some(&path), &second).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), base);
        assert!(journal_path(&path).exists());
        let third = load(Some(&path));
        assert_eq!(third.find(&blob_id(b"new"), |e| e.tokens), Some(99));
        assert_eq!(
            third.find(&blob_id(&7u32.to_le_bytes()), |e| e.tokens),
            Some(7)
        );
        assert!(!third.needs_saving());

        // Another run keeps the journal's entries; many new ones write the cache whole again.
        third.update(blob_id(b"newer"), |e| e.tokens = Some(100));
        save(Some(&path), &third).unwrap();
        let fourth = load(Some(&path));
        assert_eq!(fourth.find(&blob_id(b"new"), |e| e.tokens), Some(99));
        assert_eq!(fourth.find(&blob_id(b"newer"), |e| e.tokens), Some(100));
        for n in 100..140u32 {
            fourth.update(blob_id(&n.to_le_bytes()), |e| e.tokens = Some(n));
        }
        save(Some(&path), &fourth).unwrap();
        assert!(!journal_path(&path).exists(), "folded into the cache");
        let fifth = load(Some(&path));
        assert_eq!(fifth.len(), 40 + 2 + 40);

        // A journal whose cache is gone is not read.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(journal_path(&path), fifth.to_bytes()).unwrap();
        assert!(load(Some(&path)).is_empty());
    }

    #[test]
    fn only_used_entries_are_saved() {
        let cache = Cache::default();
        cache.update(blob_id(b"1"), |e| e.tokens = Some(1));
        cache.update(blob_id(b"2"), |e| e.tokens = Some(2));
        let loaded = Cache::from_bytes(&cache.to_bytes()).unwrap();
        assert_eq!(loaded.len(), 2);
        assert!(!loaded.needs_saving());
        loaded.keep_only(&[blob_id(b"2")]);
        assert!(loaded.needs_saving(), "an unused entry would be dropped");
        let saved = Cache::from_bytes(&loaded.to_bytes()).unwrap();
        assert_eq!(saved.len(), 1);
        assert_eq!(saved.find(&blob_id(b"2"), |e| e.tokens), Some(2));
    }
}
