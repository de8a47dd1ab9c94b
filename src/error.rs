//! The top-level error, wrapping each stage's typed error, and the exit codes: 0 applied or written, 1 nothing
//! applied (the validator or the user rejected the change), 2 an error.

use crate::apply::ApplyError;
use crate::config::ConfigError;
use crate::model::ModelError;
use crate::pack::PackError;
use crate::patch::PatchError;
use crate::prompt::PromptError;
use crate::repo::walk::WalkError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error(
        "no terminal to ask for confirmation: pass --yes to apply the change or --dry-run to write a patch file"
    )]
    NotInteractive,
    #[error("cannot read the reply from {source_name}: {message}")]
    Input {
        source_name: String,
        message: String,
    },
    #[error("the question could not be asked on the terminal: {0}")]
    Terminal(String),
    #[error("cannot write the output: {0}")]
    Output(String),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// How a run ended when nothing went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The change is in the working tree.
    Applied,
    /// The patch file was written (`--dry-run`).
    Written,
    /// A report or prompt was printed (`pack`).
    Printed,
    /// `--check`: every hunk can be placed; nothing was applied.
    Checked,
    /// The validator refused at least one hunk; nothing was applied.
    Rejected,
    /// The user said no.
    Declined,
    /// The reply's change turned out to change nothing.
    Empty,
    /// The reply holds no diff and no file block.
    NoDiff,
    /// The reply asked for something onepass never does (a path outside the repository, a binary file):
    /// bad input, so exit 2, with nothing touched.
    Refused,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Applied | Outcome::Written | Outcome::Printed | Outcome::Checked => 0,
            Outcome::Rejected | Outcome::Declined | Outcome::Empty | Outcome::NoDiff => 1,
            Outcome::Refused => 2,
        }
    }
}
