//! What the last walk learned from reading each file, by path and stat data, kept in the repository's
//! `.git/onepass/`: a file whose size, modification and change times and inode are those recorded is not read
//! again (git's own shortcut for its index, extended to untracked files). The walk then only lists and stats
//! the tree, and a file's text is read when packing needs it. A corrupt, truncated or foreign-version file is
//! ignored, never an error; an entry recorded less than a second before the walk that wrote it is not trusted
//! ("racily clean": it may have changed again within the same timestamp).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::binfile::Reader;

const MAGIC: &[u8; 8] = b"ONEPWALK";
/// Bump when the content checks (binary, minified, generated) or the secret rules change meaning.
const VERSION: u32 = 2;
const FILE_NAME: &str = "walk-v1.bin";
/// An entry modified this close to (or after) the start of the walk that recorded it is read again.
const RACY: Duration = Duration::from_secs(1);

/// A file's stat data, as far as it tells whether the content may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FileStat {
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    /// Status change time (0 where the platform has none).
    pub ctime: (i64, u32),
    pub ino: u64,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> FileStat {
        let mtime = meta.modified().map_or((0, 0), split);
        #[cfg(unix)]
        let (ctime, ino) = {
            use std::os::unix::fs::MetadataExt;
            ((meta.ctime(), meta.ctime_nsec() as u32), meta.ino())
        };
        #[cfg(not(unix))]
        let (ctime, ino) = ((0, 0), 0);
        FileStat {
            size: meta.len(),
            mtime,
            ctime,
            ino,
        }
    }
}

fn split(t: SystemTime) -> (i64, u32) {
    t.duration_since(UNIX_EPOCH)
        .map_or((0, 0), |d| (d.as_secs() as i64, d.subsec_nanos()))
}

/// What reading a file showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A text candidate with this git blob id; `clean` when the secret scan found nothing in it.
    Text {
        blob: [u8; 20],
        clean: bool,
    },
    Binary,
    NotUtf8,
    Minified,
    Generated,
    /// Passed over by its name or size without reading (a lock file, too large): decided again each time.
    Listed,
}

impl Seen {
    fn tag(self) -> u8 {
        match self {
            Seen::Text { clean: false, .. } => 0,
            Seen::Text { clean: true, .. } => 1,
            Seen::Binary => 2,
            Seen::NotUtf8 => 3,
            Seen::Minified => 4,
            Seen::Generated => 5,
            Seen::Listed => 6,
        }
    }
}

/// The files of one walk, by repo-relative path, and the layout that lets the next walk skip listing
/// directories: while no directory and no ignore file changed, the same files are there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// When the walk that recorded these entries started.
    pub started: (i64, u32),
    pub files: Entries,
    pub layout: Layout,
}

/// One recorded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub stat: FileStat,
    pub seen: Seen,
}

/// The recorded files, sorted by path, each once: a walk that reuses the listing goes through them in
/// order, with no lookups and no sorting afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries(Vec<Entry>);

impl Entries {
    /// From entries in any order; of two for the same path the later one is kept.
    pub fn from_unsorted(mut entries: Vec<Entry>) -> Entries {
        entries.reverse();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|later, first| later.path == first.path);
        Entries(entries)
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.0
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.0[i])
    }

    pub fn as_slice(&self) -> &[Entry] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What decides which files a walk lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// The walk's options (include and exclude globs, size limit), hashed.
    pub key: u64,
    /// Every entry of the walk was recorded (nothing unreadable): the listing can be reused.
    pub complete: bool,
    /// Every directory walked into, repo-relative ("" for the root).
    pub dirs: Vec<(String, FileStat)>,
    /// Ignore files (inside the tree, and the repository's and user's own), absolute, with their stat data
    /// or `None` where there was none.
    pub guards: Vec<(String, Option<FileStat>)>,
    /// Nested repositories passed over.
    pub nested: Vec<String>,
}

impl Snapshot {
    pub fn new(started: SystemTime) -> Snapshot {
        Snapshot {
            started: split(started),
            ..Snapshot::default()
        }
    }

    /// Whether a file's or a directory's stat data (recorded by this snapshot's walk) can be trusted to show
    /// a change: not touched within a second of that walk.
    pub fn settled(&self, stat: &FileStat) -> bool {
        stat.mtime < (self.started.0 - RACY.as_secs() as i64, self.started.1)
    }

    /// What `entry` (one of this snapshot's) says was seen, if `stat` is unchanged and was recorded safely
    /// before the walk.
    pub fn trusted(&self, entry: &Entry, stat: &FileStat) -> Option<Seen> {
        // Like git, raciness is judged on the modification time; the change time must still be equal.
        (entry.stat == *stat && self.settled(&entry.stat)).then_some(entry.seen)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let entries = self.files.as_slice();
        let mut out = Vec::with_capacity(32 + entries.len() * 96);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.started.0.to_le_bytes());
        out.extend_from_slice(&self.started.1.to_le_bytes());
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for Entry { path, stat, seen } in entries {
            put_str(&mut out, path);
            put_stat(&mut out, stat);
            out.push(seen.tag());
            if let Seen::Text { blob, .. } = seen {
                out.extend_from_slice(blob);
            }
        }
        let layout = &self.layout;
        out.extend_from_slice(&layout.key.to_le_bytes());
        out.push(u8::from(layout.complete));
        out.extend_from_slice(&(layout.dirs.len() as u32).to_le_bytes());
        for (path, stat) in &layout.dirs {
            put_str(&mut out, path);
            put_stat(&mut out, stat);
        }
        out.extend_from_slice(&(layout.guards.len() as u32).to_le_bytes());
        for (path, stat) in &layout.guards {
            put_str(&mut out, path);
            out.push(u8::from(stat.is_some()));
            if let Some(stat) = stat {
                put_stat(&mut out, stat);
            }
        }
        out.extend_from_slice(&(layout.nested.len() as u32).to_le_bytes());
        for path in &layout.nested {
            put_str(&mut out, path);
        }
        out
    }

    /// Parse a saved snapshot; `None` for anything not written by this version.
    pub fn from_bytes(bytes: &[u8]) -> Option<Snapshot> {
        let mut r = Reader::new(bytes);
        if r.take(8)? != MAGIC || r.u32()? != VERSION {
            return None;
        }
        let started = (r.i64()?, r.u32()?);
        let count = r.u32()? as usize;
        // The smallest entry: a path's length, its stat data and its tag. A count the file cannot hold
        // reserves no more than it can (a 28-byte file claiming 2^32 entries used to reserve 400 MB).
        let mut files: Vec<Entry> = Vec::with_capacity(r.capacity(count, 2 + 40 + 1));
        for _ in 0..count {
            let path = get_str(&mut r)?;
            let stat = get_stat(&mut r)?;
            let seen = match r.take(1)?[0] {
                tag @ (0 | 1) => Seen::Text {
                    blob: r.take(20)?.try_into().ok()?,
                    clean: tag == 1,
                },
                2 => Seen::Binary,
                3 => Seen::NotUtf8,
                4 => Seen::Minified,
                5 => Seen::Generated,
                6 => Seen::Listed,
                _ => return None,
            };
            // Written sorted, each path once: anything else is not this version's.
            if files.last().is_some_and(|last| last.path >= path) {
                return None;
            }
            files.push(Entry { path, stat, seen });
        }
        let files = Entries(files);
        let mut layout = Layout {
            key: r.u64()?,
            complete: r.take(1)?[0] == 1,
            ..Layout::default()
        };
        for _ in 0..r.u32()? {
            layout.dirs.push((get_str(&mut r)?, get_stat(&mut r)?));
        }
        for _ in 0..r.u32()? {
            let path = get_str(&mut r)?;
            let stat = if r.take(1)?[0] == 1 {
                Some(get_stat(&mut r)?)
            } else {
                None
            };
            layout.guards.push((path, stat));
        }
        for _ in 0..r.u32()? {
            layout.nested.push(get_str(&mut r)?);
        }
        r.done().then_some(Snapshot {
            started,
            files,
            layout,
        })
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    let bytes = &text.as_bytes()[..text.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn get_str(r: &mut Reader<'_>) -> Option<String> {
    let n = usize::from(r.u16()?);
    Some(std::str::from_utf8(r.take(n)?).ok()?.to_string())
}

fn put_stat(out: &mut Vec<u8>, stat: &FileStat) {
    out.extend_from_slice(&stat.size.to_le_bytes());
    out.extend_from_slice(&stat.mtime.0.to_le_bytes());
    out.extend_from_slice(&stat.mtime.1.to_le_bytes());
    out.extend_from_slice(&stat.ctime.0.to_le_bytes());
    out.extend_from_slice(&stat.ctime.1.to_le_bytes());
    out.extend_from_slice(&stat.ino.to_le_bytes());
}

fn get_stat(r: &mut Reader<'_>) -> Option<FileStat> {
    Some(FileStat {
        size: r.u64()?,
        mtime: (r.i64()?, r.u32()?),
        ctime: (r.i64()?, r.u32()?),
        ino: r.u64()?,
    })
}

/// Where the snapshot of the repository whose git directory is `git_dir` lives.
pub fn location(git_dir: &Path) -> PathBuf {
    git_dir.join("onepass").join(FILE_NAME)
}

/// Load the snapshot; anything unreadable gives an empty one.
pub fn load(path: Option<&Path>) -> Snapshot {
    path.and_then(|p| std::fs::read(p).ok())
        .and_then(|bytes| Snapshot::from_bytes(&bytes))
        .unwrap_or_default()
}

/// Save the snapshot atomically (write then rename).
pub fn save(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    crate::binfile::write_atomic(path, &snapshot.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(size: u64, mtime: i64) -> FileStat {
        FileStat {
            size,
            mtime: (mtime, 5),
            ctime: (mtime, 5),
            ino: 42,
        }
    }

    fn entry(path: &str, stat: FileStat, seen: Seen) -> Entry {
        Entry {
            path: path.into(),
            stat,
            seen,
        }
    }

    #[test]
    fn entries_are_sorted_and_the_later_of_two_is_kept() {
        let files = Entries::from_unsorted(vec![
            entry("b", stat(1, 1), Seen::Binary),
            entry("a", stat(2, 2), Seen::Minified),
            entry("b", stat(3, 3), Seen::Generated),
        ]);
        let paths: Vec<&str> = files.as_slice().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "b"]);
        assert_eq!(files.get("b").map(|e| e.seen), Some(Seen::Generated));
        assert_eq!(files.get("c"), None);
    }

    #[test]
    fn round_trip_and_corruption_is_ignored() {
        let mut snap = Snapshot {
            started: (1_000, 0),
            ..Snapshot::default()
        };
        snap.layout = Layout {
            key: 77,
            complete: true,
            dirs: vec![
                (String::new(), stat(4096, 800)),
                ("src".into(), stat(4096, 800)),
            ],
            guards: vec![
                ("/r/.gitignore".into(), Some(stat(12, 700))),
                ("/home/u/.config/git/ignore".into(), None),
            ],
            nested: vec!["vendor/lib".into()],
        };
        snap.files = Entries::from_unsorted(vec![
            entry(
                "src/a.rs",
                stat(10, 900),
                Seen::Text {
                    blob: [7; 20],
                    clean: true,
                },
            ),
            entry("logo.txt", stat(3, 900), Seen::Binary),
        ]);
        let bytes = snap.to_bytes();
        assert_eq!(Snapshot::from_bytes(&bytes), Some(snap.clone()));
        for cut in [0, 7, 20, bytes.len() - 1] {
            assert!(
                Snapshot::from_bytes(&bytes[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        let mut foreign = bytes.clone();
        foreign[8] = 99;
        assert!(Snapshot::from_bytes(&foreign).is_none());
        // Entries out of order were not written by this version.
        let mut swapped = snap.clone();
        swapped.files.0.swap(0, 1);
        assert!(Snapshot::from_bytes(&swapped.to_bytes()).is_none());
        // A header claiming 2^32 - 1 entries and holding none is refused (the fuzz target walk_snapshot
        // checks that it reserves no room for them either).
        let mut claims = bytes[..24].to_vec();
        claims.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Snapshot::from_bytes(&claims).is_none());
    }

    #[test]
    fn only_unchanged_entries_recorded_safely_before_the_walk_are_trusted() {
        let mut snap = Snapshot {
            started: (1_000, 0),
            ..Snapshot::default()
        };
        snap.files = Entries::from_unsorted(vec![
            entry("racy.rs", stat(10, 999), Seen::Minified),
            entry("old.rs", stat(10, 900), Seen::Minified),
        ]);
        let snap = &snap;
        let lookup = |path: &str, stat: &FileStat| snap.trusted(snap.files.get(path)?, stat);
        assert_eq!(lookup("old.rs", &stat(10, 900)), Some(Seen::Minified));
        // Another size, another time, another inode: read again.
        assert_eq!(lookup("old.rs", &stat(11, 900)), None);
        assert_eq!(lookup("old.rs", &stat(10, 901)), None);
        let mut moved = stat(10, 900);
        moved.ino = 43;
        assert_eq!(lookup("old.rs", &moved), None);
        // Modified within a second of the walk that recorded it: it may have changed again unseen.
        assert_eq!(lookup("racy.rs", &stat(10, 999)), None);
        assert_eq!(lookup("new.rs", &stat(10, 900)), None);
    }
}
