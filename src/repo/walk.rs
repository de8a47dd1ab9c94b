//! Lists the candidate files of the repository with `ignore` (gitignore, .git/info/exclude, global excludes,
//! `.onepassignore`), reading them in parallel; every file it passes over for its content is recorded with a
//! reason (binary, too large, lock file, minified, generated, not UTF-8, unreadable).

use std::path::Path;
use std::sync::{Arc, Mutex};

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
}

/// A text file that may go into the prompt.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Repo-relative, '/'-separated.
    pub path: String,
    pub text: String,
    /// The git blob id of the text, when already known (it is computed when needed otherwise).
    pub blob: Option<[u8; 20]>,
    /// When the file was last modified, as the walk saw it (to compare with git's index).
    pub modified: Option<std::time::SystemTime>,
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
        }
    }
}

/// The result of a walk, sorted by path so everything downstream is deterministic.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Candidate>,
    pub skipped: Vec<Skipped>,
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

pub fn walk(root: &Path, opts: &WalkOptions) -> Result<Walk, WalkError> {
    let include = matcher(root, &opts.include)?;
    let exclude = matcher(root, &opts.exclude)?;
    let found = Mutex::new(Walk::default());
    // Directories with their own `.git` (submodules, nested clones, linked worktrees) belong to another
    // history: they are recorded and not entered.
    let nested: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&nested);
    let top = root.to_path_buf();
    let mut builder = WalkBuilder::new(root);
    builder.filter_entry(move |entry| {
        let is_nested = entry.depth() > 0
            && entry.file_type().is_some_and(|t| t.is_dir())
            && std::fs::symlink_metadata(entry.path().join(".git")).is_ok();
        if is_nested && let Some(path) = relative(&top, entry.path()) {
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(path);
        }
        !is_nested
    });
    builder
        .hidden(true)
        .parents(false)
        .git_ignore(true)
        .git_global(true)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .add_custom_ignore_filename(".onepassignore")
        .threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(8)));
    builder.build_parallel().run(|| {
        let found = &found;
        let include = &include;
        let exclude = &exclude;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    // A directory or file that vanished or cannot be read during the walk: say so.
                    if let Some(path) = error_path(&e).and_then(|p| relative(root, p)) {
                        let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                        found.skipped.push(Skipped {
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
            let meta = entry.metadata().ok();
            let size = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            let outcome = examine(entry.path(), &path, size, opts.max_file_size);
            let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
            match outcome {
                Ok(text) => found.files.push(Candidate {
                    path,
                    text,
                    blob: None,
                    modified,
                }),
                Err(reason) => found.skipped.push(Skipped { path, reason }),
            }
            WalkState::Continue
        })
    });
    let mut walk = found.into_inner().unwrap_or_else(|e| e.into_inner());
    let nested = std::mem::take(&mut *nested.lock().unwrap_or_else(|e| e.into_inner()));
    walk.skipped.extend(nested.into_iter().map(|path| Skipped {
        path,
        reason: SkipReason::Submodule,
    }));
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
    examine(&full, path, meta.len(), max_file_size).map(|text| Candidate {
        path: path.to_string(),
        text,
        blob: None,
        modified: meta.modified().ok(),
    })
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

/// Decide from the name, the size and the content whether a file is a candidate.
fn examine(full: &Path, path: &str, size: u64, limit: u64) -> Result<String, SkipReason> {
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
    let bytes = std::fs::read(full).map_err(|e| SkipReason::Unreadable {
        message: e.to_string(),
    })?;
    if bytes.len() as u64 > limit {
        return Err(SkipReason::TooLarge {
            bytes: bytes.len() as u64,
            limit,
        });
    }
    classify(name, bytes)
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
    let lines = text.lines().count().max(1);
    text.len() > 2_000 && text.len() / lines > 400
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
