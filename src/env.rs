//! The process environment, read once: working directory, variables and which streams are terminals.
//! Tests construct an [`Env`] freely instead of mutating the real one.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Env {
    pub cwd: PathBuf,
    pub vars: BTreeMap<String, String>,
    pub stdin_is_terminal: bool,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
}

impl Env {
    /// Snapshot of the real process environment.
    pub fn from_process() -> Env {
        Env {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            stdin_is_terminal: std::io::stdin().is_terminal(),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A variable's value; an empty value counts as unset.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether onepass may ask the user a question: it needs a terminal to read from and one to write to.
    pub fn interactive(&self) -> bool {
        self.stdin_is_terminal && self.stderr_is_terminal
    }
}
