//! Puts the accepted part of a change into the working tree, all or nothing, and can take it back out.
//!
//! The accepted hunks are regenerated as one clean git diff that libgit2 must accept against the working tree
//! (and the index, for `--stage`/`--commit`) before anything is written. Then every file's new contents go to a
//! temporary file in its own directory; only when all of them are written are they renamed into place, each
//! right after checking that the file on disk is still exactly what the change was validated against. A
//! failure, or Ctrl-C, at any point puts back every file already replaced. The prior contents of every touched
//! file are recorded under the git directory first, so `onepass undo` can restore them exactly.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::patch::FileChange;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot open the repository: {0}")]
    Open(String),
    #[error("git could not read the regenerated diff: {0}")]
    Diff(String),
    #[error("git refused to apply the change (nothing was written): {0}")]
    Refused(String),
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error(
        "{} uncommitted changes: {}. The change was checked against the files as they are; pass --allow-dirty \
         to apply it anyway (onepass undo restores them exactly)",
        if .0.len() == 1 { "a file the change touches has" } else { "files the change touches have" },
        .0.join(", ")
    )]
    Dirty(Vec<String>),
    #[error("{0} changed on disk after the change was checked against it; nothing was applied")]
    Changed(String),
    #[error("{path}: {message}; every file was left as it was")]
    Failed { path: String, message: String },
    #[error("interrupted; every file was left as it was")]
    Interrupted,
    #[error("--commit: {0}")]
    Commit(String),
    #[error("--stage: git cannot apply the change to the index: {0}")]
    Stage(String),
    #[error("the record of the last application is unreadable ({0})")]
    Record(String),
    #[error("nothing to undo: no application by onepass is recorded in this repository")]
    NothingToUndo,
    #[error(
        "cannot undo: {} changed since onepass applied the change: {}",
        if .0.len() == 1 { "a file" } else { "files" },
        .0.join(", ")
    )]
    ChangedSince(Vec<String>),
    #[error("cannot undo the commit: {0}")]
    HeadMoved(String),
}

/// What to do besides writing the working tree.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Apply to the index too.
    pub stage: bool,
    /// Commit the result on the current branch with this message.
    pub commit: Option<String>,
    /// The request, kept in the undo record.
    pub request: String,
    /// Test-only fault injection.
    pub faults: Faults,
}

/// Faults a test can inject (debug builds only, from `ONEPASS_TEST_FAULT`): `write:N` fails writing the Nth
/// file's temporary copy, `rename:N` fails putting the Nth file in place, `touch:N` changes the Nth file on
/// disk just before it is put in place, `sigint:N` sends onepass a real SIGINT after the Nth file is in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    pub write: Option<usize>,
    pub rename: Option<usize>,
    pub touch: Option<usize>,
    pub sigint: Option<usize>,
}

impl Faults {
    pub fn from_env(env: &crate::env::Env) -> Faults {
        let mut f = Faults::default();
        if !cfg!(debug_assertions) {
            return f;
        }
        if let Some((kind, n)) = env
            .var("ONEPASS_TEST_FAULT")
            .and_then(|v| v.split_once(':'))
        {
            let n = n.parse().ok();
            match kind {
                "write" => f.write = n,
                "rename" => f.rename = n,
                "touch" => f.touch = n,
                "sigint" => f.sigint = n,
                _ => {}
            }
        }
        f
    }
}

/// What was applied.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The paths written, created or deleted.
    pub paths: Vec<String>,
    pub commit: Option<String>,
}

/// The record of the last application, kept in `<git dir>/onepass/last-apply.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    time: u64,
    request: String,
    /// In the order they were written.
    files: Vec<FileRecord>,
    /// Index entries before the change, for `--stage`/`--commit`.
    index: Option<Vec<IndexRecord>>,
    commit: Option<CommitRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileRecord {
    path: String,
    /// Contents before (None: the file did not exist).
    before: Option<String>,
    /// Contents after (None: the file was deleted).
    after: Option<String>,
    /// Unix permission bits before, to restore a deleted file as it was.
    #[serde(default)]
    mode: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexRecord {
    path: String,
    /// (blob id, mode) staged before; None: not in the index.
    before: Option<(String, u32)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CommitRecord {
    id: String,
    parent: Option<String>,
    reference: String,
}

/// Paths among `paths` whose working-tree or staged contents differ from the last commit (or that are not
/// committed at all).
pub fn dirty(root: &Path, paths: &[String]) -> Result<Vec<String>, ApplyError> {
    let repo = open(root)?;
    let mut out = Vec::new();
    for p in paths {
        let Ok(status) = repo.status_file(Path::new(p)) else {
            continue; // no such file: nothing to lose
        };
        if !root.join(p).exists() {
            continue;
        }
        if status != git2::Status::CURRENT {
            let what = if status.intersects(git2::Status::WT_NEW | git2::Status::IGNORED) {
                "not committed"
            } else if status.intersects(
                git2::Status::WT_MODIFIED | git2::Status::WT_DELETED | git2::Status::WT_TYPECHANGE,
            ) {
                "modified"
            } else {
                "staged"
            };
            out.push(format!("{p} ({what})"));
        }
    }
    Ok(out)
}

/// Every path a selection writes, creates or deletes (both sides of a rename).
pub fn touched(changes: &[FileChange]) -> Vec<String> {
    let mut out = Vec::new();
    for c in changes {
        if let Some(old) = &c.old_path
            && *old != c.path
        {
            out.push(old.clone());
        }
        out.push(c.path.clone());
    }
    out
}

fn open(root: &Path) -> Result<git2::Repository, ApplyError> {
    git2::Repository::open(root).map_err(|e| ApplyError::Open(e.message().to_string()))
}

/// One file's step: `expect` must be on disk right before `new` replaces it (None: absent / delete).
#[derive(Debug, Clone)]
struct Step {
    path: String,
    expect: Option<String>,
    new: Option<String>,
    mode: Option<u32>,
}

/// The steps for the accepted hunks (`masks[i]` for `changes[i]`).
fn steps(changes: &[FileChange], masks: &[Vec<bool>]) -> Vec<Step> {
    let mut out = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let mask: &[bool] = masks.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let after = c.apply(mask);
        match &c.old_path {
            Some(old) if *old != c.path => {
                out.push(Step {
                    path: old.clone(),
                    expect: c.before.clone(),
                    new: None,
                    mode: None,
                });
                out.push(Step {
                    path: c.path.clone(),
                    expect: None,
                    new: after,
                    mode: None,
                });
            }
            _ => {
                if after != c.before {
                    out.push(Step {
                        path: c.path.clone(),
                        expect: c.before.clone(),
                        new: after,
                        mode: None,
                    });
                }
            }
        }
    }
    out
}

/// Apply the accepted hunks. Nothing is written unless git accepts the regenerated diff and every touched file
/// is still as it was validated; then all files change or none.
pub fn apply(
    root: &Path,
    changes: &[FileChange],
    masks: &[Vec<bool>],
    opts: &Options,
) -> Result<Applied, ApplyError> {
    let repo = open(root)?;
    let mut steps = steps(changes, masks);
    // A file saved since the change was checked against it is refused first, by name.
    for s in &steps {
        if read_current(&root.join(&s.path)).as_deref() != s.expect.as_deref().map(str::as_bytes) {
            return Err(ApplyError::Changed(s.path.clone()));
        }
    }
    let text = crate::patch::git_diff(changes, masks);
    let diff = git2::Diff::from_buffer(text.as_bytes())
        .map_err(|e| ApplyError::Diff(e.message().to_string()))?;
    let mut check = git2::ApplyOptions::new();
    check.check(true);
    repo.apply(&diff, git2::ApplyLocation::WorkDir, Some(&mut check))
        .map_err(|e| ApplyError::Refused(e.message().to_string()))?;
    let index_too = opts.stage || opts.commit.is_some();
    if index_too {
        let mut check = git2::ApplyOptions::new();
        check.check(true);
        repo.apply(&diff, git2::ApplyLocation::Index, Some(&mut check))
            .map_err(|e| ApplyError::Stage(e.message().to_string()))?;
    }
    // Everything a commit needs is prepared before the first write.
    let prepared = match &opts.commit {
        Some(message) => Some(prepare_commit(&repo, &diff, message)?),
        None => None,
    };

    for s in &mut steps {
        s.mode = file_mode(&root.join(&s.path));
    }
    let paths: Vec<String> = steps.iter().map(|s| s.path.clone()).collect();
    let index_before = if index_too {
        Some(index_entries(&repo, &paths)?)
    } else {
        None
    };
    let mut record = Record {
        time: now(),
        request: opts.request.clone(),
        files: steps
            .iter()
            .map(|s| FileRecord {
                path: s.path.clone(),
                before: s.expect.clone(),
                after: s.new.clone(),
                mode: s.mode,
            })
            .collect(),
        index: index_before.clone(),
        commit: None,
    };
    let record_path = record_path(&repo);
    // The record goes first: whatever happens next, the prior contents are on disk. If nothing ends up
    // applied, the record of the application before comes back.
    // From here until the change is complete, Ctrl-C only raises a flag that the writes check.
    let _critical = Critical::enter();
    let previous = std::fs::read(&record_path).ok();
    let put_back_record = || {
        let _ = match &previous {
            Some(bytes) => std::fs::write(&record_path, bytes),
            None => std::fs::remove_file(&record_path),
        };
    };
    write_record(&record_path, &record)?;

    if let Err(e) = transact(root, &steps, opts.faults) {
        put_back_record();
        return Err(e);
    }

    let restore = |e: ApplyError| -> ApplyError {
        let back: Vec<Step> = steps
            .iter()
            .rev()
            .map(|s| Step {
                path: s.path.clone(),
                expect: s.new.clone(),
                new: s.expect.clone(),
                mode: s.mode,
            })
            .collect();
        let _ = transact(root, &back, Faults::default());
        if let Some(entries) = &index_before {
            let _ = restore_index(&repo, entries);
        }
        put_back_record();
        e
    };
    if index_too {
        repo.apply(&diff, git2::ApplyLocation::Index, None)
            .map_err(|e| restore(ApplyError::Stage(e.message().to_string())))?;
    }
    let mut commit = None;
    if let Some(p) = prepared {
        let id = p.commit(&repo).map_err(restore)?;
        record.commit = Some(id.clone());
        commit = Some(id.id);
        // The record is only needed for undo; failing to update it must not lose the applied change.
        let _ = write_record(&record_path, &record);
    }
    Ok(Applied { paths, commit })
}

struct Prepared {
    tree: git2::Oid,
    parent: Option<git2::Oid>,
    reference: String,
    message: String,
    signature: git2::Signature<'static>,
}

fn prepare_commit(
    repo: &git2::Repository,
    diff: &git2::Diff<'_>,
    message: &str,
) -> Result<Prepared, ApplyError> {
    let signature = repo.signature().map_err(|e| {
        ApplyError::Commit(format!(
            "no author: set user.name and user.email in git config ({})",
            e.message()
        ))
    })?;
    let head = repo
        .find_reference("HEAD")
        .map_err(|e| ApplyError::Commit(e.message().to_string()))?;
    let reference = match head.symbolic_target().ok().flatten() {
        Some(name) => name.to_string(),
        None => {
            return Err(ApplyError::Commit(
                "HEAD is detached: check out a branch to commit on".into(),
            ));
        }
    };
    let parent = repo
        .find_reference(&reference)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    let base = match &parent {
        Some(c) => c
            .tree()
            .map_err(|e| ApplyError::Commit(e.message().to_string()))?,
        None => {
            let empty = repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .map_err(|e| ApplyError::Commit(e.message().to_string()))?;
            repo.find_tree(empty)
                .map_err(|e| ApplyError::Commit(e.message().to_string()))?
        }
    };
    let mut index = repo.apply_to_tree(&base, diff, None).map_err(|e| {
        ApplyError::Commit(format!(
            "the change does not apply to the committed files ({}); commit or stash your own changes to \
             them first",
            e.message()
        ))
    })?;
    let tree = index
        .write_tree_to(repo)
        .map_err(|e| ApplyError::Commit(e.message().to_string()))?;
    Ok(Prepared {
        tree,
        parent: parent.map(|c| c.id()),
        reference,
        message: message.to_string(),
        signature: signature.to_owned(),
    })
}

impl Prepared {
    fn commit(&self, repo: &git2::Repository) -> Result<CommitRecord, ApplyError> {
        let err = |e: git2::Error| ApplyError::Commit(e.message().to_string());
        let tree = repo.find_tree(self.tree).map_err(err)?;
        let parents: Vec<git2::Commit<'_>> = match self.parent {
            Some(p) => vec![repo.find_commit(p).map_err(err)?],
            None => Vec::new(),
        };
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let id = repo
            .commit(
                Some(&self.reference),
                &self.signature,
                &self.signature,
                &self.message,
                &tree,
                &refs,
            )
            .map_err(err)?;
        Ok(CommitRecord {
            id: id.to_string(),
            parent: self.parent.map(|p| p.to_string()),
            reference: self.reference.clone(),
        })
    }
}

/// Restore the last application recorded in `root`'s repository. With `check_only`, only say what would be
/// restored. Refuses, listing them, when files changed since; refuses to take back a commit that is no longer
/// the branch's head.
pub fn undo(root: &Path, check_only: bool) -> Result<Vec<String>, ApplyError> {
    let repo = open(root)?;
    let path = record_path(&repo);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApplyError::NothingToUndo);
        }
        Err(e) => return Err(ApplyError::Record(e.to_string())),
    };
    let record: Record =
        serde_json::from_str(&text).map_err(|e| ApplyError::Record(e.to_string()))?;
    let changed: Vec<String> = record
        .files
        .iter()
        .filter(|f| {
            read_current(&root.join(&f.path)).as_deref() != f.after.as_deref().map(str::as_bytes)
        })
        .map(|f| f.path.clone())
        .collect();
    if !changed.is_empty() {
        return Err(ApplyError::ChangedSince(changed));
    }
    if let Some(c) = &record.commit {
        let at = repo
            .find_reference(&c.reference)
            .ok()
            .and_then(|r| r.target())
            .map(|o| o.to_string());
        if at.as_deref() != Some(c.id.as_str()) {
            return Err(ApplyError::HeadMoved(format!(
                "{} no longer points to the commit onepass made ({})",
                c.reference,
                &c.id[..c.id.len().min(12)]
            )));
        }
    }
    let paths: Vec<String> = record.files.iter().map(|f| f.path.clone()).collect();
    if check_only {
        return Ok(paths);
    }
    let back: Vec<Step> = record
        .files
        .iter()
        .rev()
        .map(|f| Step {
            path: f.path.clone(),
            expect: f.after.clone(),
            new: f.before.clone(),
            mode: f.mode,
        })
        .collect();
    let _critical = Critical::enter();
    transact(root, &back, Faults::default())?;
    if let Some(entries) = &record.index {
        restore_index(&repo, entries)?;
    }
    if let Some(c) = &record.commit {
        let mut reference = repo
            .find_reference(&c.reference)
            .map_err(|e| ApplyError::HeadMoved(e.message().to_string()))?;
        let result = match &c.parent {
            Some(p) => git2::Oid::from_str(p)
                .and_then(|p| reference.set_target(p, "onepass undo").map(|_| ())),
            None => reference.delete(),
        };
        result.map_err(|e| ApplyError::HeadMoved(e.message().to_string()))?;
    }
    std::fs::remove_file(&path).map_err(|e| ApplyError::Record(e.to_string()))?;
    Ok(paths)
}

fn record_path(repo: &git2::Repository) -> PathBuf {
    repo.path().join("onepass").join("last-apply.json")
}

fn write_record(path: &Path, record: &Record) -> Result<(), ApplyError> {
    let text = serde_json::to_string(record).map_err(|e| ApplyError::Record(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .and_then(|_| {
            let tmp = dir.join(format!(".last-apply.{}.tmp", std::process::id()));
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, path)
        })
        .map_err(|e| ApplyError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

fn index_entries(
    repo: &git2::Repository,
    paths: &[String],
) -> Result<Vec<IndexRecord>, ApplyError> {
    let index = repo
        .index()
        .map_err(|e| ApplyError::Stage(e.message().to_string()))?;
    Ok(paths
        .iter()
        .map(|p| IndexRecord {
            path: p.clone(),
            before: index
                .get_path(Path::new(p), 0)
                .map(|e| (e.id.to_string(), e.mode)),
        })
        .collect())
}

fn restore_index(repo: &git2::Repository, entries: &[IndexRecord]) -> Result<(), ApplyError> {
    let err = |e: git2::Error| ApplyError::Stage(e.message().to_string());
    let mut index = repo.index().map_err(err)?;
    for entry in entries {
        match &entry.before {
            Some((id, mode)) => {
                let id = git2::Oid::from_str(id).map_err(err)?;
                let size = repo.find_blob(id).map(|b| b.size()).unwrap_or(0);
                index
                    .add(&git2::IndexEntry {
                        ctime: git2::IndexTime::new(0, 0),
                        mtime: git2::IndexTime::new(0, 0),
                        dev: 0,
                        ino: 0,
                        mode: *mode,
                        uid: 0,
                        gid: 0,
                        file_size: size as u32,
                        id,
                        flags: entry.path.len().min(0xfff) as u16,
                        flags_extended: 0,
                        path: entry.path.as_bytes().to_vec(),
                    })
                    .map_err(err)?;
            }
            None => {
                if index.get_path(Path::new(&entry.path), 0).is_some() {
                    index.remove_path(Path::new(&entry.path)).map_err(err)?;
                }
            }
        }
    }
    index.write().map_err(err)
}

fn read_current(path: &Path) -> Option<Vec<u8>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => std::fs::read(path).ok(),
        Ok(_) => Some(b"\0not a regular file".to_vec()),
        Err(_) => None,
    }
}

/// The git mode of a file on disk: 100755 when it is executable, 100644 otherwise; None when it is missing.
pub fn git_mode(path: &Path) -> Option<u32> {
    let mode = file_mode(path)?;
    Some(if mode & 0o111 != 0 {
        0o100755
    } else {
        0o100644
    })
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match mode {
        Some(m) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: Option<u32>) -> std::io::Result<()> {
    Ok(())
}

/// Set while files are being replaced: SIGINT/SIGTERM then only raise [`INTERRUPTED`] (outside, they do what
/// they always do).
static OUTSIDE: AtomicBool = AtomicBool::new(true);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn guard_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(sig, &INTERRUPTED);
            let _ = signal_hook::flag::register_conditional_default(sig, &OUTSIDE);
        }
    });
}

struct Critical;

impl Critical {
    fn enter() -> Critical {
        guard_signals();
        INTERRUPTED.store(false, Ordering::SeqCst);
        OUTSIDE.store(false, Ordering::SeqCst);
        Critical
    }
}

impl Drop for Critical {
    fn drop(&mut self) {
        OUTSIDE.store(true, Ordering::SeqCst);
    }
}

fn temp_name(path: &Path, n: usize) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.onepass-{}-{n}.tmp", std::process::id()))
}

/// Replace the files of `steps` all or nothing: write every new version to a temporary file beside its target,
/// then, checking each target is still exactly as expected, rename them into place; on any failure (or a
/// signal) put back what was already replaced and remove the temporary files and created directories.
///
/// Callers hold a [`Critical`] guard around it (and around whatever must go with it).
fn transact(root: &Path, steps: &[Step], faults: Faults) -> Result<(), ApplyError> {
    let mut temps: Vec<Option<PathBuf>> = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    let cleanup = |temps: &[Option<PathBuf>], dirs: &[PathBuf]| {
        for t in temps.iter().flatten() {
            let _ = std::fs::remove_file(t);
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    };
    let failed = |path: &str, e: &dyn std::fmt::Display| ApplyError::Failed {
        path: path.to_string(),
        message: e.to_string(),
    };

    // Phase 1: check and write the temporary files; nothing visible changes.
    for (i, s) in steps.iter().enumerate() {
        let target = root.join(&s.path);
        if read_current(&target).as_deref() != s.expect.as_deref().map(str::as_bytes) {
            cleanup(&temps, &created_dirs);
            return Err(ApplyError::Changed(s.path.clone()));
        }
        let Some(new) = &s.new else {
            temps.push(None);
            continue;
        };
        if let Some(parent) = target.parent() {
            let mut missing = Vec::new();
            let mut at = parent.to_path_buf();
            while !at.exists() && at.starts_with(root) {
                missing.push(at.clone());
                if !at.pop() {
                    break;
                }
            }
            for d in missing.into_iter().rev() {
                if let Err(e) = std::fs::create_dir(&d) {
                    cleanup(&temps, &created_dirs);
                    return Err(failed(&s.path, &e));
                }
                created_dirs.push(d);
            }
        }
        let tmp = temp_name(&target, i);
        let written = if faults.write == Some(i + 1) {
            Err(std::io::Error::other("injected write failure"))
        } else {
            write_synced(&tmp, new.as_bytes())
                .and_then(|_| set_mode(&tmp, s.mode.or_else(|| file_mode(&target))))
        };
        temps.push(Some(tmp.clone()));
        if let Err(e) = written {
            cleanup(&temps, &created_dirs);
            return Err(failed(&s.path, &e));
        }
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        cleanup(&temps, &created_dirs);
        return Err(ApplyError::Interrupted);
    }

    // Phase 2: put them in place, each after a last check of the file on disk.
    let mut done: Vec<usize> = Vec::new();
    let mut outcome = Ok(());
    for (i, s) in steps.iter().enumerate() {
        let target = root.join(&s.path);
        if faults.touch == Some(i + 1) {
            let _ = std::fs::write(&target, b"changed behind onepass's back\n");
        }
        if read_current(&target).as_deref() != s.expect.as_deref().map(str::as_bytes) {
            outcome = Err(ApplyError::Changed(s.path.clone()));
            break;
        }
        let result = if faults.rename == Some(i + 1) {
            Err(std::io::Error::other("injected rename failure"))
        } else {
            match &temps[i] {
                Some(tmp) => std::fs::rename(tmp, &target),
                // As git does, a directory left empty by a deletion goes too.
                None => std::fs::remove_file(&target).map(|_| prune_empty_dirs(&target, root)),
            }
        };
        if let Err(e) = result {
            outcome = Err(failed(&s.path, &e));
            break;
        }
        done.push(i);
        if faults.sigint == Some(i + 1) {
            // A real signal, delivered to this process as Ctrl-C would be.
            let _ = signal_hook::low_level::raise(signal_hook::consts::SIGINT);
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            outcome = Err(ApplyError::Interrupted);
            break;
        }
    }
    if outcome.is_err() {
        // Put back, newest first, exactly the bytes (and mode) that were there.
        for &i in done.iter().rev() {
            let s = &steps[i];
            let target = root.join(&s.path);
            let _ = match &s.expect {
                Some(old) => {
                    let tmp = temp_name(&target, usize::MAX);
                    target
                        .parent()
                        .map_or(Ok(()), std::fs::create_dir_all)
                        .and_then(|_| write_synced(&tmp, old.as_bytes()))
                        .and_then(|_| set_mode(&tmp, s.mode))
                        .and_then(|_| std::fs::rename(&tmp, &target))
                }
                None => std::fs::remove_file(&target),
            };
        }
        cleanup(&temps, &created_dirs);
    }
    outcome
}

/// Remove the empty directories above `path`, up to (not including) `root`.
fn prune_empty_dirs(path: &Path, root: &Path) {
    let mut at = path.parent();
    while let Some(dir) = at {
        if dir == root || !dir.starts_with(root) || std::fs::remove_dir(dir).is_err() {
            break;
        }
        at = dir.parent();
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where a patch comes from, for the header of a .patch file.
#[derive(Debug, Clone, Default)]
pub struct PatchInfo<'a> {
    pub request: &'a str,
    pub model: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub author: Option<(String, String)>,
    /// Seconds since the epoch.
    pub time: u64,
}

/// A patch in `git format-patch`'s mail form: `git am` takes it as one commit, `git apply` skips the header.
pub fn patch_text(diff: &str, stat: &str, info: &PatchInfo<'_>) -> String {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let subject = one_line(info.summary.unwrap_or(info.request));
    let (name, email) = info
        .author
        .clone()
        .unwrap_or_else(|| ("onepass".into(), "onepass@localhost".into()));
    let mut out = String::new();
    out.push_str("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n");
    out.push_str(&format!("From: {name} <{email}>\n"));
    out.push_str(&format!("Date: {}\n", rfc2822(info.time)));
    out.push_str(&format!("Subject: [PATCH] {subject}\n\n"));
    out.push_str(&format!("Request: {}\n", one_line(info.request)));
    out.push_str(&format!(
        "Model: {}\n",
        info.model.unwrap_or("unknown (reply read from a file)")
    ));
    out.push_str(&format!(
        "Generated by onepass at {}.\n",
        iso8601(info.time)
    ));
    out.push_str("---\n");
    out.push_str(stat);
    if !stat.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(diff);
    out
}

/// The commit message for `--commit`: the model's summary (else the request) as the subject, the request in
/// the body.
pub fn commit_message(request: &str, summary: Option<&str>, model: Option<&str>) -> String {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut subject = one_line(summary.unwrap_or(request));
    if subject.chars().count() > 72 {
        subject = subject.chars().take(71).collect::<String>() + "…";
    }
    let mut msg = format!("{subject}\n\nRequest: {}\n", one_line(request));
    if let Some(m) = model {
        msg.push_str(&format!("Model: {m}\n"));
    }
    msg.push_str("Applied by onepass.\n");
    msg
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

fn rfc2822(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil(days);
    let t = secs % 86_400;
    format!(
        "{}, {d} {} {y} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

fn iso8601(secs: u64) -> String {
    let (y, m, d) = civil((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

/// Write the patch file; nothing else is touched.
pub fn write_patch(path: &Path, text: &str) -> Result<(), ApplyError> {
    std::fs::write(path, text).map_err(|e| ApplyError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// `onepass-<slug-of-request>.patch`: lower-case words of the request joined by dashes, at most 48 characters.
pub fn default_patch_name(request: &str) -> String {
    let mut slug = String::new();
    for word in request
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if slug.len() + word.len() + 1 > 48 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    if slug.is_empty() {
        slug.push_str("change");
    }
    format!("onepass-{slug}.patch")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_names_are_slugs() {
        assert_eq!(
            default_patch_name("Add a --verbose flag!"),
            "onepass-add-a-verbose-flag.patch"
        );
        assert_eq!(default_patch_name("日本語"), "onepass-change.patch");
        let long = default_patch_name(&"word ".repeat(40));
        assert!(long.len() <= "onepass-.patch".len() + 48, "{long}");
    }

    #[test]
    fn dates_in_mail_and_iso_form() {
        assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_795_570_716), "Wed, 25 Nov 2026 01:38:36 +0000");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn the_patch_header_reads_as_a_mail() {
        let text = patch_text(
            "diff --git a/x b/x\n",
            " x | +1 -0\n",
            &PatchInfo {
                request: "add\na flag",
                model: Some("qwen"),
                summary: None,
                author: None,
                time: 0,
            },
        );
        assert!(text.starts_with("From 0000000000000000000000000000000000000000 "));
        assert!(
            text.contains("\nSubject: [PATCH] add a flag\n\nRequest: add a flag\nModel: qwen\n")
        );
        assert!(text.ends_with("---\n x | +1 -0\n\ndiff --git a/x b/x\n"));
    }

    #[test]
    fn commit_messages_put_the_summary_first() {
        assert_eq!(
            commit_message("add a flag", Some("Add --verbose"), Some("m")),
            "Add --verbose\n\nRequest: add a flag\nModel: m\nApplied by onepass.\n"
        );
        assert!(commit_message("x", None, None).starts_with("x\n\nRequest: x\n"));
    }
}
