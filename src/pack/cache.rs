//! What packing learns about a file's content, kept by git blob id in the repository's `.git/onepass/`:
//! its exact token count, its ranking index and its outline. The second pack of a large repository then
//! indexes, counts and outlines only what changed. The format is a small hand-written binary one (serde_json
//! spends more time parsing millions of term hashes than indexing the files again would); a corrupt, truncated
//! or foreign-version file is ignored and rebuilt, never an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::rank::FileIndex;

const MAGIC: &[u8; 8] = b"ONEPASS\0";
/// Bump when the index, outline or token counting changes meaning.
const VERSION: u32 = 2;
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
    pub index: Option<FileIndex>,
    /// `Some(None)`: outlined before, nothing to show.
    pub outline: Option<Option<String>>,
}

/// The cache in memory; shared by the parallel stages, so behind a lock.
#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<HashMap<BlobId, Entry>>,
    /// Entries used this run: only these are saved, so the cache follows the repository.
    used: Mutex<HashMap<BlobId, ()>>,
    changed: Mutex<bool>,
}

impl Cache {
    pub fn get(&self, id: &BlobId) -> Option<Entry> {
        let hit = self.lock().get(id).cloned();
        if hit.is_some() {
            self.used
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(*id, ());
        }
        hit
    }

    pub fn index(&self, id: &BlobId) -> Option<FileIndex> {
        self.get(id).and_then(|e| e.index)
    }

    pub fn update(&self, id: BlobId, change: impl FnOnce(&mut Entry)) {
        change(self.lock().entry(id).or_default());
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, ());
        *self.changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BlobId, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether saving would write anything new: entries were added, or loaded ones went unused.
    pub fn needs_saving(&self) -> bool {
        *self.changed.lock().unwrap_or_else(|e| e.into_inner())
            || self.used.lock().unwrap_or_else(|e| e.into_inner()).len() != self.lock().len()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Serialize the entries used this run.
    pub fn to_bytes(&self) -> Vec<u8> {
        let entries = self.lock();
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<&BlobId> = used.keys().filter(|id| entries.contains_key(*id)).collect();
        ids.sort_unstable();
        let mut out = Vec::with_capacity(64 + ids.len() * 256);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, VERSION);
        put_u32(&mut out, ids.len() as u32);
        for id in ids {
            let e = &entries[id];
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
                for &(h, c) in &ix.terms {
                    put_u64(&mut out, h);
                    put_u32(&mut out, c);
                }
                for list in [&ix.defines, &ix.imports] {
                    put_u32(&mut out, list.len() as u32);
                    for &h in list {
                        put_u64(&mut out, h);
                    }
                }
            }
            if let Some(Some(text)) = &e.outline {
                put_u32(&mut out, text.len() as u32);
                out.extend_from_slice(text.as_bytes());
            }
        }
        out
    }

    /// Parse a saved cache; `None` for anything not written by this version.
    pub fn from_bytes(bytes: &[u8]) -> Option<Cache> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != MAGIC || r.u32()? != VERSION {
            return None;
        }
        let count = r.u32()? as usize;
        let mut entries = HashMap::with_capacity(count.min(1 << 20));
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
                let mut terms = Vec::with_capacity(n.min(bytes_left(&r) / 12));
                for _ in 0..n {
                    terms.push((r.u64()?, r.u32()?));
                }
                let mut lists = [Vec::new(), Vec::new()];
                for list in &mut lists {
                    let n = r.u32()? as usize;
                    list.reserve(n.min(bytes_left(&r) / 8));
                    for _ in 0..n {
                        list.push(r.u64()?);
                    }
                }
                let [defines, imports] = lists;
                e.index = Some(FileIndex {
                    terms,
                    len,
                    defines,
                    imports,
                    bytes,
                });
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
        (r.at == bytes.len()).then(|| Cache {
            entries: Mutex::new(entries),
            ..Cache::default()
        })
    }
}

fn bytes_left(r: &Reader<'_>) -> usize {
    r.bytes.len() - r.at
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Where the cache of the repository at `root` lives: `.git/onepass/`, found through git (worktrees and
/// `.git` files included). `None` outside a git repository: then nothing is cached.
pub fn location(root: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::open(root).ok()?;
    Some(repo.path().join("onepass").join(FILE_NAME))
}

/// Load the cache; anything unreadable gives an empty one.
pub fn load(path: Option<&Path>) -> Cache {
    path.and_then(|p| std::fs::read(p).ok())
        .and_then(|bytes| Cache::from_bytes(&bytes))
        .unwrap_or_default()
}

/// Save the cache if it changed, atomically (write then rename).
pub fn save(path: Option<&Path>, cache: &Cache) -> std::io::Result<()> {
    let Some(path) = path else { return Ok(()) };
    if !cache.needs_saving() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, cache.to_bytes())?;
    std::fs::rename(&tmp, path)
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
            e.index = Some(super::super::rank::index(
                "fn alpha_beta() {}\nuse crate::x::y;\n",
            ));
            e.outline = Some(Some("1: fn alpha_beta() {}\n".into()));
        });
        cache.update(b, |e| e.outline = Some(None));
        let bytes = cache.to_bytes();
        let back = Cache::from_bytes(&bytes).expect("parses");
        assert_eq!(back.get(&a), cache.get(&a));
        assert_eq!(back.get(&b), cache.get(&b));
        assert!(!back.needs_saving());
        for cut in [0, 5, 12, bytes.len() - 1] {
            assert!(Cache::from_bytes(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut foreign = bytes.clone();
        foreign[8] = 99;
        assert!(Cache::from_bytes(&foreign).is_none());
        // The blob id is git's.
        assert_eq!(
            git2::Oid::from_bytes(&blob_id(b"hello\n"))
                .unwrap()
                .to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn only_used_entries_are_saved() {
        let cache = Cache::default();
        cache.update(blob_id(b"1"), |e| e.tokens = Some(1));
        let loaded = Cache::from_bytes(&cache.to_bytes()).unwrap();
        assert_eq!(loaded.len(), 1);
        assert!(loaded.needs_saving(), "an unused entry would be dropped");
        assert_eq!(Cache::from_bytes(&loaded.to_bytes()).unwrap().len(), 0);
    }
}
