//! Lists the candidate files of the repository with `ignore` (gitignore, .git/info/exclude, global excludes,
//! `.onepassignore`), reading them in parallel; every file it passes over for its content is recorded with a
//! reason (binary, too large, lock file, minified, generated, not UTF-8, unreadable). A file whose stat data
//! matches the last walk's [`Snapshot`] is not read: what reading it showed is known, and its text is read
//! only if packing needs it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::snapshot::{Entries, Entry, FileStat, Layout, Seen, Snapshot};
use crate::pack::lock;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{WalkBuilder, WalkState};
use serde::Serialize;

/// What to consider.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    pub max_file_size: u64,
    /// Only files matching one of these (gitignore syntax); all files when empty.
    pub include: Vec<String>,
    /// Never files matching one of these (gitignore syntax).
    pub exclude: Vec<String>,
    /// What the repository's own git files add to the rules (nothing outside a repository).
    pub repo: RepoRules,
}

/// The repository's own files that decide what git lists, beside the ignore files in the tree.
#[derive(Debug, Clone, Default)]
pub struct RepoRules {
    /// Its config files and `info/exclude` (a linked worktree keeps them in the main repository's git
    /// directory): guarded, since an edit may change the listing. Without them, `.git/config` and
    /// `.git/info/exclude` under the root.
    pub files: Vec<PathBuf>,
    /// A `core.excludesFile` that the repository's own config sets: as for git, it replaces the one the
    /// user's global config names (`ignore` reads only the global config).
    pub excludes_file: Option<PathBuf>,
}

impl RepoRules {
    pub fn of(repo: &git2::Repository) -> RepoRules {
        let common = repo.commondir();
        let mut files = vec![common.join("config"), common.join("info/exclude")];
        files.push(repo.path().join("config.worktree"));
        files.sort();
        files.dedup();
        // Only the repository's own levels: the global ones are `ignore`'s (libgit2 does not know
        // $GIT_CONFIG_GLOBAL, so its merged view could disagree with git's).
        let excludes_file = repo.config().ok().and_then(|config| {
            [git2::ConfigLevel::Worktree, git2::ConfigLevel::Local]
                .into_iter()
                .find_map(|level| {
                    let own = config.open_level(level).ok()?;
                    own.get_path("core.excludesFile").ok()
                })
        });
        let excludes_file = excludes_file.map(|p| {
            let p = if p.is_relative() {
                // Relative paths in git's config are taken from the top of the working tree.
                repo.workdir().map_or(p.clone(), |w| w.join(&p))
            } else {
                p
            };
            std::path::absolute(&p).unwrap_or(p)
        });
        RepoRules {
            files,
            excludes_file,
        }
    }
}

/// A text file that may go into the prompt. Its text is either read by the walk or, for a file the last walk
/// already read and that has not changed since, read on first use.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Repo-relative, '/'-separated.
    pub path: String,
    text: OnceLock<String>,
    /// The repository's root, to read the text from when the walk did not (shared by every candidate).
    root: Option<Arc<Path>>,
    /// Size in bytes.
    pub bytes: u64,
    /// The git blob id of the text, when already known (it is computed when needed otherwise).
    pub blob: Option<[u8; 20]>,
    /// The stat data the walk saw (to compare with git's index and the next walk's snapshot).
    pub stat: Option<FileStat>,
    /// The secret scan already found nothing in this content (known from the snapshot, or set by the scan).
    pub scanned_clean: bool,
}

impl Candidate {
    /// A candidate whose text is in hand.
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Candidate {
        let text = text.into();
        Candidate {
            path: path.into(),
            bytes: text.len() as u64,
            text: OnceLock::from(text),
            root: None,
            blob: None,
            stat: None,
            scanned_clean: false,
        }
    }

    /// A candidate known from the snapshot, read from under `root` on first use.
    fn unread(path: String, root: &Arc<Path>, stat: FileStat, blob: [u8; 20], clean: bool) -> Self {
        Candidate {
            path,
            text: OnceLock::new(),
            root: Some(Arc::clone(root)),
            bytes: stat.size,
            blob: Some(blob),
            stat: Some(stat),
            scanned_clean: clean,
        }
    }

    /// The text, read now if the walk did not. A file that vanished or stopped being text since the walk
    /// reads as empty (it changed under us; the next walk sees it as it is).
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| {
            use std::io::Read;
            // A file that grew past any sane size since it was stat'ed is not read whole.
            let mut bytes = Vec::with_capacity(self.bytes as usize);
            let read = self.root.as_ref().and_then(|root| {
                std::fs::File::open(root.join(&self.path))
                    .ok()?
                    .take(super::MAX_EDIT_BYTES)
                    .read_to_end(&mut bytes)
                    .ok()
            });
            read.and_then(|_| String::from_utf8(bytes).ok())
                .unwrap_or_default()
        })
    }

    /// Let go of the text the walk read, once what packing needs of every file is indexed: it is read again
    /// on next use (the few files a prompt shows). A candidate not read from under a root keeps its text.
    /// A cold pack then holds the index of a large tree instead of all its text.
    pub fn release_text(&mut self) {
        if self.root.is_some() {
            self.text.take();
        }
    }

    /// The text, owned.
    pub fn into_text(self) -> String {
        self.text();
        self.text.into_inner().unwrap_or_default()
    }

    /// Whether the text has been read.
    pub fn is_read(&self) -> bool {
        self.text.get().is_some()
    }

    /// Replace the text (a redaction): the blob id no longer names it.
    pub fn set_text(&mut self, text: String) {
        self.bytes = text.len() as u64;
        self.text = OnceLock::from(text);
        self.blob = None;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    Binary,
    NotUtf8,
    TooLarge {
        bytes: u64,
        limit: u64,
    },
    LockFile,
    Minified,
    Generated,
    Unreadable {
        message: String,
    },
    /// Withheld because it looks like a secret (`--allow-secrets` sends it).
    Secret {
        what: String,
    },
    /// A directory holding another repository (a submodule, a nested clone): not walked into.
    Submodule,
    /// Its path is not valid UTF-8 (shown here with replacement characters): a prompt and a diff name
    /// files in text.
    PathNotUtf8,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Binary => f.write_str("binary"),
            SkipReason::NotUtf8 => f.write_str("not valid UTF-8"),
            SkipReason::TooLarge { bytes, limit } => {
                write!(f, "too large ({bytes} bytes, limit {limit})")
            }
            SkipReason::LockFile => f.write_str("lock file"),
            SkipReason::Minified => f.write_str("minified"),
            SkipReason::Generated => f.write_str("generated"),
            SkipReason::Unreadable { message } => write!(f, "unreadable: {message}"),
            SkipReason::Secret { what } => write!(f, "withheld as a secret: {what}"),
            SkipReason::Submodule => {
                f.write_str("a submodule or nested repository, not walked into")
            }
            SkipReason::PathNotUtf8 => f.write_str("its path is not valid UTF-8"),
        }
    }
}

/// The result of a walk, sorted by path so everything downstream is deterministic.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Candidate>,
    pub skipped: Vec<Skipped>,
    /// Files passed over for their content, with their stat data (for the next snapshot).
    pub learned: Vec<(String, FileStat, Seen)>,
    /// Files whose content checks came from the snapshot instead of reading them.
    pub reused: usize,
    /// When the walk started.
    pub started: Option<std::time::SystemTime>,
    /// What decided the listing (for the next snapshot).
    pub layout: Option<Layout>,
    /// The listing was the last walk's, every file stat'ed, no directory read.
    pub relisted: bool,
}

impl Walk {
    /// Entries with stat data: what the next snapshot records.
    pub fn recorded(&self) -> usize {
        self.files.iter().filter(|f| f.stat.is_some()).count() + self.learned.len()
    }

    /// Files this walk read (the others were known from the snapshot).
    pub fn read(&self) -> usize {
        self.recorded().saturating_sub(self.reused)
    }

    /// The last walk's listing, every file known from the snapshot: nothing read, nothing new.
    pub fn all_known(&self) -> bool {
        self.relisted && self.reused == self.files.len() + self.learned.len()
    }

    /// The snapshot the next walk starts from (`None` for a walk that did not record its start): this
    /// walk's layout, every file passed over, and every text file with stat data by the blob id `ids` gives
    /// it (by position), clean when an earlier scan or `newly_clean` says so. A file with secrets is
    /// recorded too, never as clean: it is scanned again whenever it goes into a prompt.
    pub fn snapshot(
        &self,
        ids: &[[u8; 20]],
        newly_clean: impl Fn(usize) -> bool,
    ) -> Option<Snapshot> {
        let mut next = Snapshot::new(self.started?);
        next.layout = self.layout.clone().unwrap_or_default();
        let mut entries = Vec::with_capacity(self.recorded());
        for (i, (file, id)) in self.files.iter().zip(ids).enumerate() {
            if let Some(stat) = file.stat {
                let seen = Seen::Text {
                    blob: *id,
                    clean: file.scanned_clean || newly_clean(i),
                };
                entries.push(Entry {
                    path: file.path.clone(),
                    stat,
                    seen,
                });
            }
        }
        entries.extend(self.learned.iter().map(|(path, stat, seen)| Entry {
            path: path.clone(),
            stat: *stat,
            seen: *seen,
        }));
        next.files = Entries::from_unsorted(entries);
        Some(next)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("invalid glob {glob:?}: {message}")]
    Glob { glob: String, message: String },
}

/// File names that are lock files: generated, large, and never what a request is about.
const LOCK_FILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "pdm.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "flake.lock",
    "mix.lock",
    "pubspec.lock",
    "Podfile.lock",
    "packages.lock.json",
    "gradle.lockfile",
];

/// Recorded entries a thread of the relisting stats in one go.
const RELIST_RUN: usize = 512;

/// Ignore files the walk honours inside the tree (hidden: candidates only where a rule re-includes them).
const IGNORE_FILES: &[&str] = &[".gitignore", ".ignore", ".onepassignore"];

/// What a full walk learns of a directory it enters.
#[derive(Debug, Default, PartialEq)]
struct DirProbe {
    stat: Option<FileStat>,
    /// It has a `.git` of its own: another repository.
    nested: bool,
    /// Its ignore files, with their stat data (an absent one needs no guard: making it changes the
    /// directory's stat data).
    ignore_files: Vec<(&'static str, FileStat)>,
}

/// List the candidates. When the last walk's layout still holds (same options, no directory and no ignore
/// file changed), its listing is reused and only each file's stat data is checked; otherwise the tree is
/// walked. Either way a file whose stat data is unchanged is not read.
pub fn walk(root: &Path, opts: &WalkOptions, known: &Snapshot) -> Result<Walk, WalkError> {
    let key = options_key(opts);
    if let Some(walk) = relist(root, opts, known, key) {
        return Ok(walk);
    }
    full_walk(root, opts, known, key)
}

fn options_key(opts: &WalkOptions) -> u64 {
    let text = format!(
        "{}\u{0}{:?}\u{0}{:?}",
        opts.max_file_size, opts.include, opts.exclude
    );
    crate::pack::cache::text_key(&text)
}

/// Where the files outside the tree that decide what is listed are: the repository's excludes and config
/// files, the user's git ignore and config files and the system config (any of which may name an excludes
/// file). They depend on the environment ($HOME, $XDG_CONFIG_HOME, $GIT_CONFIG_GLOBAL, $GIT_CONFIG_SYSTEM),
/// not on what the files say: a listing is reused only if the last walk guarded every one of them. Sorted.
fn guard_places(root: &Path, repo: &RepoRules) -> Vec<PathBuf> {
    let mut out = if repo.files.is_empty() {
        vec![root.join(".git/info/exclude"), root.join(".git/config")]
    } else {
        repo.files.clone()
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    if let Some(config) = config {
        out.push(config.join("git/ignore"));
        out.push(config.join("git/config"));
    }
    if let Some(home) = home {
        out.push(home.join(".gitconfig"));
    }
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    out.extend(set("GIT_CONFIG_GLOBAL").map(PathBuf::from));
    out.push(
        set("GIT_CONFIG_SYSTEM").map_or_else(|| PathBuf::from("/etc/gitconfig"), PathBuf::from),
    );
    out.sort();
    out.dedup();
    out
}

/// The files outside the tree a full walk guards: [`guard_places`] and the excludes files the config files
/// name. Finding those reads the config files; a relisting need not, since a change of what they say
/// changes their stat data.
fn outer_guards(root: &Path, repo: &RepoRules) -> Vec<PathBuf> {
    let mut out = guard_places(root, repo);
    out.extend(repo.excludes_file.iter().cloned());
    // The global excludes file as `ignore` finds it (the same function): `core.excludesFile` from
    // $GIT_CONFIG_GLOBAL, ~/.gitconfig, $XDG_CONFIG_HOME/git/config or the system config, a leading `~/`
    // expanded, else $XDG_CONFIG_HOME/git/ignore. Guarded absent or present, so making it counts too.
    // (`ignore` does not read the repository's own config: a `core.excludesFile` set there is in
    // `RepoRules`.)
    if let Some(excludes) = ignore::gitignore::gitconfig_excludes_path() {
        out.push(std::path::absolute(&excludes).unwrap_or(excludes));
    }
    out.sort();
    out.dedup();
    out
}

fn stat_of(path: &Path) -> Option<FileStat> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| FileStat::of(&m))
}

/// The stat data of an ignore or config file, through symlinks: what is read is the target (dotfiles are
/// often links into a repository of their own), so an edit of the target must show.
fn guard_stat(path: &Path) -> Option<FileStat> {
    std::fs::metadata(path).ok().map(|m| FileStat::of(&m))
}

/// Stat data of paths under the repository's root. On Linux the root is opened once (`O_PATH`) and every
/// path is looked up from it, not from `/`: a quarter less of the relisting's time goes to walking path
/// components. Elsewhere paths are joined to the root.
struct Under {
    root: PathBuf,
    #[cfg(target_os = "linux")]
    dir: Option<rustix::fd::OwnedFd>,
}

impl Under {
    fn open(root: &Path) -> Under {
        Under {
            root: root.to_path_buf(),
            #[cfg(target_os = "linux")]
            dir: {
                use rustix::fs::{CWD, Mode, OFlags};
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                rustix::fs::openat(CWD, root, flags, Mode::empty()).ok()
            },
        }
    }

    /// The stat data of `rel` (repo-relative; empty for the root), not following a final symlink.
    fn stat(&self, rel: &str) -> Option<FileStat> {
        #[cfg(target_os = "linux")]
        if let Some(dir) = &self.dir {
            let rel = if rel.is_empty() { "." } else { rel };
            return statat(dir, rel);
        }
        stat_of(&self.full(rel))
    }

    fn full(&self, rel: &str) -> PathBuf {
        let mut full = PathBuf::with_capacity(self.root.as_os_str().len() + 1 + rel.len());
        full.push(&self.root);
        if !rel.is_empty() {
            full.push(rel);
        }
        full
    }

    /// The directory `rel` (empty for the root). On Linux it is opened once and its entries looked up from
    /// it: five lookups of one name each instead of five of the whole path.
    fn probe_dir(&self, rel: &str) -> DirProbe {
        #[cfg(target_os = "linux")]
        if let Some(root) = &self.dir {
            use rustix::fs::{Mode, OFlags};
            let rel = if rel.is_empty() { "." } else { rel };
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let Ok(dir) = rustix::fs::openat(root, rel, flags, Mode::empty()) else {
                return DirProbe::default();
            };
            return DirProbe {
                stat: rustix::fs::fstat(&dir).ok().map(|st| file_stat(&st)),
                nested: statat(&dir, ".git").is_some(),
                ignore_files: IGNORE_FILES
                    .iter()
                    .filter_map(|name| Some((*name, statat_following(&dir, name)?)))
                    .collect(),
            };
        }
        let dir = self.full(rel);
        DirProbe {
            stat: stat_of(&dir),
            nested: std::fs::symlink_metadata(dir.join(".git")).is_ok(),
            ignore_files: IGNORE_FILES
                .iter()
                .filter_map(|name| Some((*name, guard_stat(&dir.join(name))?)))
                .collect(),
        }
    }
}

// The widths of the stat fields differ between platforms: the casts are needed on some.
#[cfg(target_os = "linux")]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
fn file_stat(st: &rustix::fs::Stat) -> FileStat {
    FileStat {
        size: st.st_size as u64,
        mtime: (i64::from(st.st_mtime), st.st_mtime_nsec as u32),
        ctime: (i64::from(st.st_ctime), st.st_ctime_nsec as u32),
        ino: u64::from(st.st_ino),
    }
}

/// The stat data of `rel` under the directory `dir`, not following a final symlink.
#[cfg(target_os = "linux")]
fn statat(dir: &rustix::fd::OwnedFd, rel: &str) -> Option<FileStat> {
    rustix::fs::statat(dir, rel, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|st| file_stat(&st))
}

/// The stat data of `name` in the directory `dir`, through a symlink (an ignore file's target).
#[cfg(target_os = "linux")]
fn statat_following(dir: &rustix::fd::OwnedFd, name: &str) -> Option<FileStat> {
    rustix::fs::statat(dir, name, rustix::fs::AtFlags::empty())
        .ok()
        .map(|st| file_stat(&st))
}

/// The last walk's listing, if nothing that decides it changed; every file is still stat'ed.
fn relist(root: &Path, opts: &WalkOptions, known: &Snapshot, key: u64) -> Option<Walk> {
    let layout = &known.layout;
    if !layout.complete || layout.key != key || layout.dirs.is_empty() {
        return None;
    }
    let started = std::time::SystemTime::now();
    let guards_hold = layout
        .guards
        .iter()
        .all(|(path, stat)| guard_stat(Path::new(path)) == *stat);
    // Another $HOME or git config than last time names other files: each must have been guarded.
    let same_places = guard_places(root, &opts.repo).iter().all(|p| {
        let p = p.to_string_lossy();
        layout
            .guards
            .binary_search_by(|(g, _)| g.as_str().cmp(&p))
            .is_ok()
    });
    if !guards_hold || !same_places {
        return None;
    }
    let under = Under::open(root);
    let dirs_hold = crate::pack::par_map(&layout.dirs, |(dir, recorded)| {
        under
            .stat(dir)
            .is_some_and(|now| now == *recorded && known.settled(recorded))
    });
    if dirs_hold.contains(&false) {
        return None;
    }
    // The recorded entries are sorted: each thread takes a run of them and the runs are joined in order.
    let runs: Vec<&[Entry]> = known.files.as_slice().chunks(RELIST_RUN).collect();
    let with = Visiting {
        known,
        opts,
        root: Arc::from(root),
    };
    let parts = crate::pack::par_map_from(&runs, 2, |run| {
        let part = Mutex::new(Walk {
            files: Vec::with_capacity(run.len()),
            ..Walk::default()
        });
        for entry in *run {
            // Gone although its directory did not change: list again.
            let stat = under.stat(&entry.path)?;
            let path = entry.path.clone();
            visit(&part, &with, Some(entry), path, None, Some(stat));
        }
        Some(part.into_inner().unwrap_or_else(|e| e.into_inner()))
    });
    let mut walk = Walk {
        files: Vec::with_capacity(known.files.len()),
        started: Some(started),
        layout: Some(layout.clone()),
        ..Walk::default()
    };
    for part in parts {
        let part = part?;
        walk.files.extend(part.files);
        walk.skipped.extend(part.skipped);
        walk.learned.extend(part.learned);
        walk.reused += part.reused;
    }
    // Submodules among the skipped files, in order.
    walk.skipped
        .extend(layout.nested.iter().map(|path| Skipped {
            path: path.clone(),
            reason: SkipReason::Submodule,
        }));
    walk.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    walk.relisted = true;
    Some(walk)
}

/// What every file of a walk is visited with.
struct Visiting<'a> {
    known: &'a Snapshot,
    opts: &'a WalkOptions,
    /// The repository's root, shared by the candidates.
    root: Arc<Path>,
}

/// One regular file: passed over by name or size, known from the snapshot (`recorded`: its entry there, if
/// any), or read and checked. `stat` is `None` for a file the last walk did not record: it is read whatever
/// its stat data, which then comes from the opened file (one path lookup instead of two). `full` is its
/// path on disk when the caller has it; otherwise it is made only if the file is read. Returns whether the
/// file's stat data is known (the next snapshot can record it).
fn visit(
    found: &Mutex<Walk>,
    with: &Visiting<'_>,
    recorded: Option<&Entry>,
    path: String,
    full: Option<&Path>,
    stat: Option<FileStat>,
) -> bool {
    let Visiting { known, opts, root } = with;
    // The walker's own path as it is; made from the root only for a file the relisting reads.
    let full = || full.map_or_else(|| std::borrow::Cow::Owned(root.join(&path)), Into::into);
    if let Err(reason) = by_name(&path, stat.map_or(0, |s| s.size), opts.max_file_size) {
        let stat = stat.or_else(|| stat_of(&full()));
        let mut found = lock(found);
        if let Some(stat) = stat {
            let same = recorded.is_some_and(|e| e.stat == stat && e.seen == Seen::Listed);
            found.reused += usize::from(same);
            found.learned.push((path.clone(), stat, Seen::Listed));
        }
        found.skipped.push(Skipped { path, reason });
        return stat.is_some();
    }
    if let Some(stat) = stat
        && let Some(seen) = recorded.and_then(|e| known.trusted(e, &stat))
        && seen != Seen::Listed
    {
        let mut found = lock(found);
        found.reused += 1;
        match seen {
            Seen::Text { blob, clean } => {
                found
                    .files
                    .push(Candidate::unread(path, root, stat, blob, clean));
            }
            other => {
                found.skipped.push(Skipped {
                    path: path.clone(),
                    reason: reason_of(other),
                });
                found.learned.push((path, stat, other));
            }
        }
        return true;
    }
    let (read_stat, outcome) = read_checked(&full(), &path, opts.max_file_size);
    let stat = stat.or(read_stat);
    let mut found = lock(found);
    match outcome {
        Ok(text) => {
            let mut file = Candidate::new(path, text);
            file.stat = stat;
            file.root = Some(Arc::clone(root));
            found.files.push(file);
        }
        Err(reason) => {
            // Too large by the opened file's size: decided without reading next time, as by name.
            let listed = matches!(reason, SkipReason::TooLarge { .. }).then_some(Seen::Listed);
            if let Some(seen) = seen_of(&reason).or(listed)
                && let Some(stat) = stat
            {
                found.learned.push((path.clone(), stat, seen));
            }
            found.skipped.push(Skipped { path, reason });
        }
    }
    stat.is_some()
}

fn full_walk(
    root: &Path,
    opts: &WalkOptions,
    known: &Snapshot,
    key: u64,
) -> Result<Walk, WalkError> {
    let include = matcher(root, &opts.include)?;
    let exclude = matcher(root, &opts.exclude)?;
    let started = std::time::SystemTime::now();
    let found = Mutex::new(Walk {
        started: Some(started),
        ..Walk::default()
    });
    // What decides the listing, for the next walk: directories walked into, ignore files, nested
    // repositories. Directories with their own `.git` (submodules, nested clones, linked worktrees) belong
    // to another history: they are recorded and not entered. `ignore` passes over hidden entries unless a
    // rule re-includes them (`!.github/`), as git would list them; the filter below never sees the hidden
    // ones it passes over, so each directory entered is probed for its `.git` and its ignore files by name
    // ([`Under::probe_dir`], on a full walk only). `.git` is never entered, whatever the rules say.
    let under = Arc::new(Under::open(root));
    let at_root = under.probe_dir("");
    // An ignore file is guarded by its full path.
    fn guards_of(dir: &Path, files: Vec<(&str, FileStat)>) -> Vec<(String, Option<FileStat>)> {
        let files = files.into_iter();
        files
            .map(|(name, stat)| (dir.join(name).to_string_lossy().into_owned(), Some(stat)))
            .collect()
    }
    let layout = Arc::new(Mutex::new(Layout {
        key,
        complete: true,
        dirs: at_root
            .stat
            .map(|s| (String::new(), s))
            .into_iter()
            .collect(),
        guards: outer_guards(root, &opts.repo)
            .into_iter()
            .map(|p| {
                let stat = guard_stat(&p);
                (p.to_string_lossy().into_owned(), stat)
            })
            .chain(guards_of(root, at_root.ignore_files))
            .collect(),
        nested: Vec::new(),
    }));
    let seen = Arc::clone(&layout);
    let top = root.to_path_buf();
    let mut builder = WalkBuilder::new(root);
    builder.filter_entry(move |entry| {
        if entry.depth() == 0 {
            return true;
        }
        if entry.file_name() == ".git" {
            return false;
        }
        if !entry.file_type().is_some_and(|t| t.is_dir()) {
            return true;
        }
        let Some(path) = relative(&top, entry.path()) else {
            // Not recorded (the snapshot names paths in text): the next walk lists the tree again.
            lock(&seen).complete = false;
            return true;
        };
        let DirProbe {
            stat,
            nested,
            ignore_files,
        } = under.probe_dir(&path);
        if nested {
            lock(&seen).nested.push(path);
            return false;
        }
        let guards = guards_of(entry.path(), ignore_files);
        let mut record = lock(&seen);
        match stat {
            Some(stat) => record.dirs.push((path, stat)),
            None => record.complete = false,
        }
        record.guards.extend(guards);
        true
    });
    builder
        .hidden(true)
        .parents(false)
        .git_ignore(true)
        // The repository's own `core.excludesFile` replaces the user's; either is read from the root of the
        // tree, as git reads it (`ignore` would take the current directory).
        .git_global(opts.repo.excludes_file.is_none())
        .current_dir(root)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .add_custom_ignore_filename(".onepassignore")
        .threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(8)));
    if let Some(excludes) = opts.repo.excludes_file.as_deref().filter(|p| p.is_file()) {
        // An unreadable or malformed line loses only that line's rule, as in git.
        let _ = builder.add_ignore(excludes);
    }
    let with = Visiting {
        known,
        opts,
        root: Arc::from(root),
    };
    builder.build_parallel().run(|| {
        let found = &found;
        let with = &with;
        let include = &include;
        let exclude = &exclude;
        let layout = &layout;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    // A directory or file that vanished or cannot be read during the walk: say so.
                    lock(layout).complete = false;
                    if let Some(path) = error_path(&e).and_then(|p| relative(root, p)) {
                        lock(found).skipped.push(Skipped {
                            path,
                            reason: SkipReason::Unreadable {
                                message: error_message(&e),
                            },
                        });
                    }
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let Some(path) = relative(root, entry.path()) else {
                lock(layout).complete = false;
                if let Ok(rel) = entry.path().strip_prefix(root) {
                    let parts: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
                    lock(found).skipped.push(Skipped {
                        path: parts.join("/"),
                        reason: SkipReason::PathNotUtf8,
                    });
                }
                return WalkState::Continue;
            };
            if !include.is_empty() && !include.matched(&path, false).is_ignore() {
                return WalkState::Continue;
            }
            if exclude
                .matched_path_or_any_parents(&path, false)
                .is_ignore()
            {
                return WalkState::Continue;
            }
            // Only a file the last walk recorded is stat'ed first (unchanged, it is not read).
            let recorded = known.files.get(&path);
            let stat = recorded.and_then(|_| entry.metadata().ok().map(|m| FileStat::of(&m)));
            if !visit(found, with, recorded, path, Some(entry.path()), stat) {
                lock(layout).complete = false;
            }
            WalkState::Continue
        })
    });
    let mut walk = found.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut layout = std::mem::take(&mut *lock(&layout));
    layout.dirs.sort_by(|a, b| a.0.cmp(&b.0));
    layout.guards.sort_by(|a, b| a.0.cmp(&b.0));
    layout.nested.sort();
    walk.skipped
        .extend(layout.nested.iter().map(|path| Skipped {
            path: path.clone(),
            reason: SkipReason::Submodule,
        }));
    walk.layout = Some(layout);
    walk.files.sort_by(|a, b| a.path.cmp(&b.path));
    walk.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(walk)
}

/// Read one file named explicitly (a pinned path the walk passed over), with the same content checks.
pub fn read_one(root: &Path, path: &str, max_file_size: u64) -> Result<Candidate, SkipReason> {
    let full = root.join(path);
    let meta = std::fs::metadata(&full).map_err(|e| SkipReason::Unreadable {
        message: e.to_string(),
    })?;
    by_name(path, meta.len(), max_file_size)?;
    read_checked(&full, path, max_file_size).1.map(|text| {
        let mut file = Candidate::new(path, text);
        file.stat = Some(FileStat::of(&meta));
        file
    })
}

/// The skip reason of a content check the snapshot remembers.
fn reason_of(seen: Seen) -> SkipReason {
    match seen {
        Seen::Binary => SkipReason::Binary,
        Seen::NotUtf8 => SkipReason::NotUtf8,
        Seen::Minified => SkipReason::Minified,
        Seen::Generated | Seen::Text { .. } | Seen::Listed => SkipReason::Generated,
    }
}

/// The content checks worth remembering (the others are decided without reading, or may pass next time).
fn seen_of(reason: &SkipReason) -> Option<Seen> {
    match reason {
        SkipReason::Binary => Some(Seen::Binary),
        SkipReason::NotUtf8 => Some(Seen::NotUtf8),
        SkipReason::Minified => Some(Seen::Minified),
        SkipReason::Generated => Some(Seen::Generated),
        _ => None,
    }
}

fn matcher(root: &Path, globs: &[String]) -> Result<Gitignore, WalkError> {
    let mut builder = GitignoreBuilder::new(root);
    for glob in globs {
        builder.add_line(None, glob).map_err(|e| WalkError::Glob {
            glob: glob.clone(),
            message: e.to_string(),
        })?;
    }
    builder.build().map_err(|e| WalkError::Glob {
        glob: globs.join(" "),
        message: e.to_string(),
    })
}

/// The path an `ignore` error is about, if it names one.
fn error_path(e: &ignore::Error) -> Option<&Path> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        _ => None,
    }
}

/// The innermost message of an `ignore` error (without the path, which is reported beside it).
fn error_message(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_message(err),
        ignore::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// Decide from the name and the size whether a file may be a candidate.
fn by_name(path: &str, size: u64, limit: u64) -> Result<(), SkipReason> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if LOCK_FILES.contains(&name) {
        return Err(SkipReason::LockFile);
    }
    // onepass's own --dry-run output: packing it would feed the model its previous answer.
    if name.starts_with("onepass-") && name.ends_with(".patch") {
        return Err(SkipReason::Generated);
    }
    if size > limit {
        return Err(SkipReason::TooLarge { bytes: size, limit });
    }
    Ok(())
}

/// Read a file and decide from its content whether it is a candidate; with the stat data of the opened file.
/// A file over the size limit is not read.
fn read_checked(
    full: &Path,
    path: &str,
    limit: u64,
) -> (Option<FileStat>, Result<String, SkipReason>) {
    use std::io::Read;
    let name = path.rsplit('/').next().unwrap_or(path);
    let unreadable = |e: std::io::Error| SkipReason::Unreadable {
        message: e.to_string(),
    };
    let mut file = match std::fs::File::open(full) {
        Ok(file) => file,
        Err(e) => return (None, Err(unreadable(e))),
    };
    let stat = file.metadata().ok().map(|m| FileStat::of(&m));
    let size = stat.map_or(0, |s| s.size);
    if size > limit {
        return (stat, Err(SkipReason::TooLarge { bytes: size, limit }));
    }
    // One byte more than the limit tells a file that grew past it since.
    let mut bytes = Vec::with_capacity(size as usize + 1);
    if let Err(e) = file.by_ref().take(limit + 1).read_to_end(&mut bytes) {
        return (stat, Err(unreadable(e)));
    }
    if bytes.len() as u64 > limit {
        return (
            stat,
            Err(SkipReason::TooLarge {
                bytes: bytes.len() as u64,
                limit,
            }),
        );
    }
    (stat, classify(name, bytes))
}

/// The content checks, pure.
pub fn classify(name: &str, bytes: Vec<u8>) -> Result<String, SkipReason> {
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err(SkipReason::Binary);
    }
    let text = String::from_utf8(bytes).map_err(|_| SkipReason::NotUtf8)?;
    if is_minified(name, &text) {
        return Err(SkipReason::Minified);
    }
    if is_generated(&text) {
        return Err(SkipReason::Generated);
    }
    Ok(text)
}

fn is_minified(name: &str, text: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if [
        ".min.js",
        ".min.css",
        ".min.mjs",
        ".bundle.js",
        ".js.map",
        ".css.map",
    ]
    .iter()
    .any(|suffix| lower.ends_with(suffix))
    {
        return true;
    }
    // Long files made of very long lines are machine output whatever their name.
    if text.len() <= 2_000 {
        return false;
    }
    let lines = text.bytes().filter(|&b| b == b'\n').count() + usize::from(!text.ends_with('\n'));
    text.len() / lines.max(1) > 400
}

fn is_generated(text: &str) -> bool {
    text.lines().take(5).any(|line| {
        line.contains("@generated")
            || line.contains("DO NOT EDIT")
            || line.contains("Code generated by")
            || line.contains("autogenerated by")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_vanished_is_reported_unreadable() {
        let dir = std::env::temp_dir();
        assert!(matches!(
            read_one(&dir, "onepass-no-such-file-7f3a.txt", 1024),
            Err(SkipReason::Unreadable { .. })
        ));
        let gone = ignore::Error::WithPath {
            path: dir.join("gone"),
            err: Box::new(ignore::Error::Io(std::io::Error::from(
                std::io::ErrorKind::NotFound,
            ))),
        };
        let nested = ignore::Error::WithDepth {
            depth: 2,
            err: Box::new(gone),
        };
        assert_eq!(error_path(&nested), Some(dir.join("gone").as_path()));
        assert!(
            error_message(&nested).contains("not found"),
            "{}",
            error_message(&nested)
        );
    }

    #[test]
    fn a_first_walk_takes_stat_data_from_the_files_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rs"), "fn a() {}\n").unwrap();
        std::fs::write(dir.path().join("big.txt"), "x".repeat(300)).unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), "# lock\n").unwrap();
        let opts = WalkOptions {
            max_file_size: 100,
            ..WalkOptions::default()
        };
        let walk = walk(dir.path(), &opts, &Snapshot::default()).unwrap();
        let a = &walk.files[0];
        assert_eq!(a.path, "a.rs");
        let on_disk = FileStat::of(&std::fs::metadata(dir.path().join("a.rs")).unwrap());
        assert_eq!(a.stat, Some(on_disk));
        // Passed over by size (known only once opened) and by name: both recorded with their stat data,
        // so the next walk can reuse the listing.
        assert_eq!(
            walk.skipped[1].reason,
            SkipReason::TooLarge {
                bytes: 300,
                limit: 100
            }
        );
        let mut learned: Vec<(&str, u64, Seen)> = walk
            .learned
            .iter()
            .map(|(p, s, seen)| (p.as_str(), s.size, *seen))
            .collect();
        learned.sort_by_key(|l| l.0);
        assert_eq!(
            learned,
            [
                ("Cargo.lock", 7, Seen::Listed),
                ("big.txt", 300, Seen::Listed)
            ]
        );
        assert!(walk.layout.as_ref().unwrap().complete);
    }

    #[test]
    fn a_directory_probe_finds_its_ignore_files_and_a_repository_inside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/vendored/.git")).unwrap();
        std::fs::write(dir.path().join("a/.gitignore"), "*.log\n").unwrap();
        std::fs::write(dir.path().join("a/.onepassignore"), "x\n").unwrap();
        let under = Under::open(dir.path());
        let probe = under.probe_dir("a");
        assert_eq!(probe.stat, stat_of(&dir.path().join("a")));
        assert!(probe.stat.is_some() && !probe.nested);
        let names: Vec<&str> = probe.ignore_files.iter().map(|f| f.0).collect();
        assert_eq!(names, [".gitignore", ".onepassignore"]);
        assert_eq!(
            Some(probe.ignore_files[0].1),
            stat_of(&dir.path().join("a/.gitignore"))
        );
        assert!(under.probe_dir("a/vendored").nested);
        assert_eq!(under.probe_dir("").stat, stat_of(dir.path()));
        assert_eq!(under.probe_dir("gone"), DirProbe::default());
    }

    #[test]
    fn stat_data_under_the_root_is_the_paths_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/deep")).unwrap();
        std::fs::write(dir.path().join("src/deep/a.rs"), "fn a() {}\n").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("deep/a.rs", dir.path().join("src/link")).unwrap();
        let under = Under::open(dir.path());
        for rel in ["", "src", "src/deep/a.rs", "src/link"] {
            let full = dir.path().join(rel);
            if full.symlink_metadata().is_ok() {
                assert_eq!(under.stat(rel), stat_of(&full), "{rel}");
                assert!(under.stat(rel).is_some());
            }
        }
        #[cfg(unix)]
        assert_eq!(under.stat("src/link").map(|s| s.size), Some(9));
        assert_eq!(under.stat("src/missing.rs"), None);
    }

    #[test]
    fn an_unread_candidate_reads_its_text_on_first_use() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.rs");
        std::fs::write(&file, "fn a() {}\n").unwrap();
        let stat = FileStat::of(&std::fs::metadata(&file).unwrap());
        let root: Arc<Path> = Arc::from(dir.path());
        let known = Candidate::unread("a.rs".into(), &root, stat, [1; 20], true);
        assert!(!known.is_read());
        assert_eq!(known.bytes, 10);
        assert_eq!(known.text(), "fn a() {}\n");
        assert!(known.is_read());
        // Gone, or no longer text, since the walk: empty rather than a failure.
        let gone = Candidate::unread("b.rs".into(), &root, stat, [1; 20], true);
        assert_eq!(gone.text(), "");
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        let changed = Candidate::unread("a.rs".into(), &root, stat, [1; 20], true);
        assert_eq!(changed.into_text(), "");
    }

    /// Options with room for any test file.
    fn roomy() -> WalkOptions {
        WalkOptions {
            max_file_size: 1 << 20,
            ..WalkOptions::default()
        }
    }

    /// Write `files` under `root`, making their directories, settle the tree and walk it a first time.
    fn first_walk(root: &Path, files: &[(&str, &str)]) -> Walk {
        for (path, text) in files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        age_tree(root);
        walk(root, &roomy(), &Snapshot::default()).unwrap()
    }

    /// Make every file and directory under `root` (`.git` included) an hour old, so that the snapshot
    /// trusts their stat data.
    fn age_tree(root: &Path) {
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    std::fs::File::open(&path)
                        .unwrap()
                        .set_modified(old)
                        .unwrap();
                }
            }
            std::fs::File::open(&dir)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
    }

    /// The snapshot the next run would load after `walk` (blob ids aside, every file clean).
    fn snapshot_of(walk: &Walk) -> Snapshot {
        walk.snapshot(&vec![[0; 20]; walk.files.len()], |_| true)
            .unwrap()
    }

    fn paths(walk: &Walk) -> Vec<&str> {
        walk.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn a_hidden_entry_an_ignore_rule_re_includes_is_walked_and_relisted() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git2::Repository::init(root).unwrap();
        let first = first_walk(
            root,
            &[
                (".onepassignore", "!.github/\n!.eslintrc.js\n!.git/\n"),
                (".gitignore", "!.git\n"),
                (".github/workflows/ci.yml", "on: push\n"),
                (".github/.cache.yml", "not re-included\n"),
                (".eslintrc.js", "module.exports = {};\n"),
                (".prettierrc", "{}\n"),
                ("src/a.rs", "fn a() {}\n"),
            ],
        );
        // Re-included: the file and the directory. Not re-included: other hidden names, even inside a
        // re-included directory. Never: the repository's own .git, whatever the rules say.
        assert_eq!(
            paths(&first),
            [".eslintrc.js", ".github/workflows/ci.yml", "src/a.rs"]
        );
        let layout = first.layout.as_ref().unwrap();
        assert!(layout.complete);
        assert!(layout.dirs.iter().any(|(d, _)| d == ".github/workflows"));
        assert!(
            !layout
                .dirs
                .iter()
                .any(|(d, _)| d.starts_with(".git/") || d == ".git")
        );
        let guard = |name: &str| {
            let path = root.join(name).to_string_lossy().into_owned();
            layout.guards.iter().any(|(g, _)| *g == path)
        };
        assert!(guard(".onepassignore") && guard(".gitignore"));

        // The next walk reuses the listing, the re-included files with it.
        let known = snapshot_of(&first);
        let second = walk(root, &roomy(), &known).unwrap();
        assert!(second.relisted);
        assert_eq!(paths(&second), paths(&first));

        // The rule taken out (the directory unchanged): listed again, without the file.
        std::fs::write(root.join(".onepassignore"), "!.github/\n").unwrap();
        let third = walk(root, &roomy(), &known).unwrap();
        assert!(!third.relisted);
        assert_eq!(paths(&third), [".github/workflows/ci.yml", "src/a.rs"]);
    }

    #[test]
    fn an_ignore_file_its_own_rules_ignore_still_guards_the_listing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let first = first_walk(
            root,
            &[
                ("sub/.gitignore", ".*\n"),
                ("sub/a.rs", "fn a() {}\n"),
                ("sub/b.rs", "fn b() {}\n"),
            ],
        );
        assert_eq!(paths(&first), ["sub/a.rs", "sub/b.rs"]);
        let known = snapshot_of(&first);
        assert!(walk(root, &roomy(), &known).unwrap().relisted);
        // Edited in place: the directory's stat data is unchanged, the ignore file's is not.
        std::fs::write(root.join("sub/.gitignore"), ".*\nb.rs\n").unwrap();
        let after = walk(root, &roomy(), &known).unwrap();
        assert!(!after.relisted);
        assert_eq!(paths(&after), ["sub/a.rs"]);
    }

    #[test]
    fn classify_recognises_binary_utf8_minified_generated() {
        assert_eq!(
            classify("a.txt", b"ab\0cd".to_vec()),
            Err(SkipReason::Binary)
        );
        assert_eq!(
            classify("a.txt", vec![0xff, 0xfe, b'a']),
            Err(SkipReason::NotUtf8)
        );
        assert_eq!(
            classify("app.min.js", b"x".to_vec()),
            Err(SkipReason::Minified)
        );
        let long_line = "a".repeat(5000);
        assert_eq!(
            classify("app.js", long_line.into_bytes()),
            Err(SkipReason::Minified)
        );
        assert_eq!(
            classify("gen.rs", b"// @generated by tool\nfn x() {}\n".to_vec()),
            Err(SkipReason::Generated)
        );
        assert_eq!(
            classify("ok.rs", b"fn x() {}\n".to_vec()).unwrap(),
            "fn x() {}\n"
        );
    }
}
