//! Read-only git facts for ranking: the blob of every file in the index (for uncommitted changes), recently changed files, and which files
//! change together. Nothing here writes to the repository; a directory that is not a git repository simply
//! has no facts.

use std::path::Path;

use std::collections::{HashMap, HashSet};

use crate::repo::snapshot::FileStat;

use git2::{DiffOptions, Repository, Sort};

use crate::pack::rank::{GitFacts, PathMap, Quick};

/// How many commits of history to read.
const HISTORY: usize = 300;
/// Commits changing more files than this say nothing about which files belong together.
const LARGE_COMMIT: usize = 40;

/// What git's index recorded about a file when it last hashed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    pub size: u64,
    pub blob: [u8; 20],
}

/// The index's stat data by path, for entries that can be trusted (not racily clean).
pub type IndexStat = HashMap<String, Stat>;

/// The blob id of a file whose size and modification time are those git's index recorded, without hashing
/// it: git's own shortcut.
pub fn known_blob(stat: &IndexStat, path: &str, size: u64, mtime: (i64, u32)) -> Option<[u8; 20]> {
    let recorded = stat.get(path)?;
    let same = recorded.size == size % (1 << 32) && recorded.mtime == mtime;
    same.then_some(recorded.blob)
}

/// Gather the facts; any git failure yields fewer facts, never an error.
pub fn git_facts(root: &Path) -> (GitFacts, IndexStat) {
    let mut stat = IndexStat::new();
    let facts = match Repository::open(root) {
        Ok(repo) => gather(&repo, &mut stat, true),
        Err(_) => GitFacts::default(),
    };
    (facts, stat)
}

/// As [`git_facts`], but when git's index has not changed since the last run (its stat data is the one
/// saved with that run's uncommitted files), the index is not read: `facts.tracked` is `None` and
/// `facts.dirty` holds the saved list, which stays true as long as no file changed either (the caller knows;
/// else it reads the index after all with [`read_index`]). The flag says which.
pub fn git_facts_saved(repo: &Repository) -> (GitFacts, IndexStat, bool) {
    let mut stat = IndexStat::new();
    match saved_status(repo.path()) {
        Some(dirty) => {
            let mut facts = gather(repo, &mut stat, false);
            facts.dirty = dirty;
            (facts, stat, true)
        }
        None => (gather(repo, &mut stat, true), stat, false),
    }
}

/// The index's blob of every path and its trustworthy stat data.
pub fn read_index(root: &Path) -> (Option<PathMap<[u8; 20]>>, IndexStat) {
    let mut stat = IndexStat::new();
    let tracked = Repository::open(root)
        .ok()
        .and_then(|repo| tracked(&repo, &mut stat));
    (tracked, stat)
}

/// Where the uncommitted files of the last run are kept, with the stat data of git's index they were
/// computed against.
const STATUS_FILE: &str = "status-v1.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Status {
    index: FileStat,
    dirty: Vec<String>,
}

fn index_stat(git_dir: &Path) -> Option<FileStat> {
    Some(FileStat::of(
        &std::fs::metadata(git_dir.join("index")).ok()?,
    ))
}

fn saved_status(git_dir: &Path) -> Option<HashSet<String>> {
    let bytes = std::fs::read(git_dir.join("onepass").join(STATUS_FILE)).ok()?;
    let saved: Status = serde_json::from_slice(&bytes).ok()?;
    (Some(saved.index) == index_stat(git_dir)).then(|| saved.dirty.into_iter().collect())
}

/// Remember the uncommitted files against the current index of the repository whose git directory is
/// `git_dir`.
pub fn save_status(git_dir: &Path, dirty: &HashSet<String>) {
    let Some(index) = index_stat(git_dir) else {
        return;
    };
    let mut dirty: Vec<String> = dirty.iter().cloned().collect();
    dirty.sort();
    if let Ok(json) = serde_json::to_vec(&Status { index, dirty }) {
        // A status that cannot be written only costs time on the next run.
        let _ = crate::binfile::write_atomic(&git_dir.join("onepass").join(STATUS_FILE), &json);
    }
}

fn tracked(repo: &Repository, stat: &mut IndexStat) -> Option<PathMap<[u8; 20]>> {
    let index = repo.index().ok()?;
    let mut tracked = PathMap::with_capacity_and_hasher(index.len(), Quick);
    // Entries written in the same second as the index itself may hide a later change ("racy git").
    let index_mtime = index_stat(repo.path()).map_or(0, |s| s.mtime.0);
    for entry in index.iter() {
        let Ok(path) = std::str::from_utf8(&entry.path) else {
            continue;
        };
        let mut id = [0u8; 20];
        id.copy_from_slice(entry.id.as_bytes());
        tracked.insert(path.to_string(), id);
        let seconds = i64::from(entry.mtime.seconds());
        if seconds < index_mtime {
            stat.insert(
                path.to_string(),
                Stat {
                    mtime: (seconds, entry.mtime.nanoseconds()),
                    size: u64::from(entry.file_size),
                    blob: id,
                },
            );
        }
    }
    Some(tracked)
}

fn gather(repo: &Repository, stat: &mut IndexStat, with_index: bool) -> GitFacts {
    let mut facts = GitFacts::default();
    // What the index holds: a file whose content hashes to another blob, or that is not in the index, has
    // uncommitted changes (the caller hashes the contents it reads anyway; git's own status would stat and
    // re-hash the whole tree a second time).
    if with_index {
        facts.tracked = tracked(repo, stat);
    }
    // The history facts depend on HEAD alone: kept in `.git/onepass/` by its commit id.
    let Some(head) = repo.head().ok().and_then(|h| h.target()) else {
        return facts;
    };
    let saved_at = repo.path().join("onepass").join(HISTORY_FILE);
    if let Some(saved) = std::fs::read(&saved_at)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<History>(&bytes).ok())
        .filter(|h| h.head == head.to_string() && h.depth == HISTORY)
    {
        facts.recent = saved.recent;
        facts.commits = saved.commits;
        return facts;
    }
    history(repo, head, &mut facts);
    let saved = History {
        head: head.to_string(),
        depth: HISTORY,
        recent: facts.recent,
        commits: facts.commits,
    };
    // A cache that cannot be written only costs time on the next run.
    if let Ok(json) = serde_json::to_vec(&saved) {
        let _ = crate::binfile::write_atomic(&saved_at, &json);
    }
    facts.recent = saved.recent;
    facts.commits = saved.commits;
    facts
}

/// Where the history facts of a HEAD are kept.
const HISTORY_FILE: &str = "history-v1.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct History {
    head: String,
    depth: usize,
    recent: PathMap<f64>,
    commits: Vec<Vec<String>>,
}

/// Recently changed files and the commits' file lists, from the last [`HISTORY`] commits up to `head`.
fn history(repo: &Repository, head: git2::Oid, facts: &mut GitFacts) {
    let Ok(mut walk) = repo.revwalk() else {
        return;
    };
    if walk.push(head).is_err() {
        return;
    }
    let _ = walk.set_sorting(Sort::TIME);
    for (age, oid) in walk.take(HISTORY).enumerate() {
        let Some(commit) = oid.ok().and_then(|o| repo.find_commit(o).ok()) else {
            break;
        };
        // Root commits import the project: they say nothing about recency or coupling.
        let Ok(parent) = commit.parent(0) else {
            continue;
        };
        let (Ok(tree), Ok(parent_tree)) = (commit.tree(), parent.tree()) else {
            continue;
        };
        let mut diff_opts = DiffOptions::new();
        diff_opts.skip_binary_check(true);
        let Ok(diff) =
            repo.diff_tree_to_tree(Some(&parent_tree), Some(&tree), Some(&mut diff_opts))
        else {
            continue;
        };
        let paths: Vec<String> = diff
            .deltas()
            .filter_map(|d| d.new_file().path().or_else(|| d.old_file().path()))
            .filter_map(|p| p.to_str().map(str::to_string))
            .collect();
        let weight = 1.0 / (1.0 + age as f64 / 10.0);
        for p in &paths {
            let w = facts.recent.entry(p.clone()).or_insert(0.0);
            *w = f64::max(*w, weight);
        }
        if (2..=LARGE_COMMIT).contains(&paths.len()) {
            facts.commits.push(paths);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(repo: &Repository, files: &[(&str, &str)], message: &str) {
        let root = repo.workdir().unwrap().to_path_buf();
        let mut index = repo.index().unwrap();
        for (path, text) in files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, text).unwrap();
            index.add_path(Path::new(path)).unwrap();
        }
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<git2::Commit<'_>> = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap();
    }

    #[test]
    fn history_index_and_co_changes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        commit(
            &repo,
            &[("a.rs", "1"), ("b.rs", "1"), ("c.rs", "1")],
            "import",
        );
        commit(&repo, &[("a.rs", "2"), ("b.rs", "2")], "together");
        commit(&repo, &[("c.rs", "3")], "alone");
        let (facts, _stat) = git_facts(dir.path());
        // The root commit says nothing; the latest change weighs most.
        assert_eq!(facts.commits, vec![vec!["a.rs".to_string(), "b.rs".into()]]);
        assert!(facts.recent["c.rs"] > facts.recent["a.rs"]);
        let tracked = facts.tracked.unwrap();
        assert_eq!(tracked.len(), 3);
        assert_eq!(
            git2::Oid::from_bytes(&tracked["c.rs"]).unwrap(),
            git2::Oid::hash_object(git2::ObjectType::Blob, b"3").unwrap()
        );
        // Not a repository: no facts, no error.
        let plain = tempfile::tempdir().unwrap();
        let (none, stat) = git_facts(plain.path());
        assert!(none.tracked.is_none() && none.recent.is_empty() && stat.is_empty());
    }

    #[test]
    fn history_is_kept_by_head_and_read_again_until_head_moves() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        commit(&repo, &[("a.rs", "1"), ("b.rs", "1")], "import");
        commit(&repo, &[("a.rs", "2"), ("b.rs", "2")], "together");
        let (first, _) = git_facts(dir.path());
        let saved = repo.path().join("onepass").join(HISTORY_FILE);
        let mut history: History = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
        assert_eq!(history.commits, first.commits);
        // What is saved for this HEAD is what the next run uses (marked here to tell it apart).
        history.recent.insert("marked.rs".into(), 0.5);
        std::fs::write(&saved, serde_json::to_vec(&history).unwrap()).unwrap();
        let (again, _) = git_facts(dir.path());
        assert_eq!(again.recent.get("marked.rs"), Some(&0.5));
        // A new commit moves HEAD: the history is read from git again.
        commit(&repo, &[("c.rs", "1"), ("a.rs", "3")], "more");
        let (moved, _) = git_facts(dir.path());
        assert!(!moved.recent.contains_key("marked.rs"));
        assert_eq!(moved.commits.len(), 2);
        // A corrupt file is ignored.
        std::fs::write(&saved, b"{not json").unwrap();
        let (fresh, _) = git_facts(dir.path());
        assert_eq!(fresh.commits, moved.commits);
    }

    #[test]
    fn a_blob_is_known_only_when_size_and_mtime_match() {
        let blob = [7u8; 20];
        let when = (1_700_000_000, 5);
        let mut stat = IndexStat::new();
        stat.insert(
            "a.rs".into(),
            Stat {
                mtime: (1_700_000_000, 5),
                size: 10,
                blob,
            },
        );
        assert_eq!(known_blob(&stat, "a.rs", 10, when), Some(blob));
        assert_eq!(known_blob(&stat, "a.rs", 11, when), None);
        let later = (1_700_000_000, 6);
        assert_eq!(known_blob(&stat, "a.rs", 10, later), None);
        assert_eq!(known_blob(&stat, "b.rs", 10, when), None);
    }
}
