//! Model-written changes: find them in a reply, parse, repair what is safe, and place every hunk exactly once
//! against the current tree. Pure: the tree is read through [`Tree`], nothing is written here.
//!
//! CONTRACT (used by the rest of onepass):
//! `plan(reply, tree, opts) -> Result<Plan, PatchError>`; a [`Plan`] holds one [`FileChange`] per touched file,
//! each with its current text and the placed hunks; [`FileChange::apply`] gives the new text for any subset of
//! hunks; [`git_diff`] renders a clean git-format diff (what `git apply --check` accepts) for a selection.
//!
//! Files: `extract` (find diffs / whole-file blocks / summary in the reply), `parse` (diff text -> typed hunks),
//! `validate` (paths, file text, placeholders), `repair` (the ladder that places one hunk), `plan` (the whole
//! pipeline), `render` (apply + git diff).
//!
//! Behaviour worth knowing when calling it:
//! - Every hunk is placed against the ORIGINAL text, at exactly one location, or refused (ambiguous,
//!   hallucinated lines, abbreviated removals, placeholders in added lines, overlaps, already applied).
//! - A reply that was cut off (an unclosed fence at its end, or `Options::truncated`) always yields at least one
//!   [`Rejected`] (path empty when no single file is concerned) besides the note in [`Plan::dropped`]; the complete
//!   hunks stay in [`Plan::changes`] for the preview.
//! - Diff text the parser could not attach to a file (a hunk without headers, `+` lines outside hunks) and
//!   hunks that change nothing are refused rather than skipped, so nothing is ever silently half-applied.
//! - Absolute paths are refused unless a unique existing repository file ends with the same components (the
//!   prefix then learned also maps new files of the same reply); `..`, `.git/`, control characters are refused.

pub mod extract;
pub mod parse;
pub mod repair;
pub mod validate;

use serde::Serialize;

/// Read access to the working tree, by repo-relative path ('/'-separated).
pub trait Tree {
    /// The bytes of `path`, `Ok(None)` when no such file exists. Implementations refuse (Err) paths that leave
    /// the repository through a symlink, that are not regular files, or that cannot be read.
    /// `plan` calls this for every path it will touch, including files to be created.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, TreeError>;
}

/// Why the tree refused a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("{0} leaves the repository through a symbolic link")]
    Escapes(String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("{path} cannot be read: {message}")]
    Unreadable { path: String, message: String },
}

/// How the reply should be read.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Reject every hunk that needed more than whitespace repair.
    pub strict: bool,
    /// The stream was cut (finish_reason `length`, connection closed early): keep only complete hunks.
    pub truncated: bool,
}

/// What `plan` produced: the changes that can be applied exactly, and everything that could not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<FileChange>,
    /// Hunks or files that could not be placed; a non-empty list means nothing is applied by default.
    pub rejected: Vec<Rejected>,
    /// Pieces of an incomplete reply that were dropped (truncation), described for the user.
    pub dropped: Vec<String>,
    /// The model's one-line summary of the change, if it wrote one.
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Modify,
    Create,
    Delete,
    Rename,
}

/// One file's change, placed against its current text.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    /// Repo-relative path after the change ('/'-separated, no `a/`/`b/`).
    pub path: String,
    /// The path before the change, when it differs (rename).
    pub old_path: Option<String>,
    pub kind: ChangeKind,
    /// Current contents exactly as on disk (None for a new file).
    pub before: Option<String>,
    pub hunks: Vec<PlacedHunk>,
}

/// A hunk placed at exactly one location of `before`.
#[derive(Debug, Clone, Serialize)]
pub struct PlacedHunk {
    /// 0-based index of the first line of `before` that this hunk replaces.
    pub old_start: usize,
    /// The lines of `before` it replaces, exactly as in the file, without line endings.
    pub old_lines: Vec<String>,
    /// What replaces them, without line endings (written back with the file's own line ending).
    pub new_lines: Vec<String>,
    /// How much repair it took to place it.
    pub level: RepairLevel,
    /// `Some(x)` when this hunk decides whether the file ends with a newline (it reaches the end of the file and
    /// the diff says so with `\ No newline at end of file`, or it creates the file); `None` keeps the file's state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eof_newline: Option<bool>,
}

/// The rung of the repair ladder at which a hunk was placed (ordered from no repair to the most repair).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairLevel {
    /// Matched byte for byte where the header said (or anywhere, when unique) with consistent header numbers.
    Exact,
    /// Built from a whole-file block (diffed against the current file).
    WholeFile,
    /// Matched exactly, but the header numbers were missing or did not fit the body.
    Recount,
    /// Matched after ignoring trailing whitespace and line endings.
    Whitespace,
    /// Matched after ignoring indentation; added lines re-indented the same way when the hunk was shifted.
    Indentation,
    /// Matched with blank lines missing or extra.
    BlankLines,
    /// Context lines had lost their leading space.
    MissingSpace,
    /// Split at `...`-style elision lines; each part matched once, in order.
    Elision,
    /// Split where the hunk jumped over unchanged lines without a new `@@`; each part matched once, in order.
    Split,
    /// Outer context lines that sit a few lines away were dropped.
    DropContext,
    /// Matched after folding unicode punctuation (curly quotes, dashes, odd spaces).
    Unicode,
}

impl RepairLevel {
    /// A short label for tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            RepairLevel::Exact => "exact",
            RepairLevel::WholeFile => "whole-file",
            RepairLevel::Recount => "recount",
            RepairLevel::Whitespace => "whitespace",
            RepairLevel::Indentation => "indentation",
            RepairLevel::BlankLines => "blank-lines",
            RepairLevel::MissingSpace => "missing-space",
            RepairLevel::Elision => "elision",
            RepairLevel::Split => "split",
            RepairLevel::DropContext => "fewer-context",
            RepairLevel::Unicode => "unicode",
        }
    }

    /// Needed no more than whitespace repair (what `--strict` accepts): exact, whole-file, recount (only the
    /// header numbers were off), whitespace, indentation, blank lines, missing leading space.
    pub fn is_whitespace_only(self) -> bool {
        self <= RepairLevel::MissingSpace
    }
}

impl std::fmt::Display for RepairLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A hunk (or a whole file change) that could not be placed.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// The file concerned; empty when the rejection concerns the reply as a whole (diff text that belongs to
    /// no file, a reply that was cut off).
    pub path: String,
    /// 1-based index of the hunk within its file in the reply; None when the whole file is refused.
    pub hunk: Option<usize>,
    pub reason: String,
    pub kind: RejectKind,
}

/// Why something was not placed: the model's text did not fit the tree (an ordinary outcome), or the reply
/// asked for something onepass never does (a path outside the repository, inside `.git/`, through a link;
/// a binary or undecodable file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    #[default]
    Unplaced,
    Refused,
}

/// Failures of the patch stage as a whole (rejections of single hunks are data in [`Plan`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("no diff or file block found in the reply")]
    NoDiff,
    /// Diff-like text was found but no file section could be read from it.
    #[error("the diff in the reply could not be read (line {line}): {message}")]
    Malformed { line: usize, message: String },
}

mod plan;
pub use plan::plan;
mod render;
pub use render::git_diff;

#[cfg(test)]
mod tests;
