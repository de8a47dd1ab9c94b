//! Command-line arguments as typed, raw values: parsing only, no I/O and no defaults that belong to the
//! configuration (those are resolved in `config`). The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

/// Single-pass code changes with a local model: onepass packs the relevant files of a git repository into one
/// prompt, asks the model once for a unified diff, validates every hunk against the tree, shows it, and applies
/// it after confirmation.
#[derive(Debug, Parser)]
#[command(name = "onepass", version = env!("ONEPASS_VERSION"), about, max_term_width = 100)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_precedence_over_arg = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pack the repository for REQUEST and print the exact prompt that would be sent (nothing is sent).
    Pack(Box<PackArgs>),
    /// Take a model reply from FILE (or stdin) and extract, validate, preview and apply its diff.
    Apply(ApplyArgs),
    /// List the model servers that answer: kind, version, models, context window, measured prefill speed.
    Servers(ServersArgs),
    /// Ask the last request again over the same context (the server reuses its cached prefix).
    Again(Box<AgainArgs>),
    /// Send the repository context ahead of the request, so the request itself costs only its own tokens.
    Warm(Box<WarmArgs>),
    /// Show the effective configuration and where each value comes from.
    Config(ConfigArgs),
    /// Write a commented onepass.toml at the repository root.
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `onepass man > onepass.1`.
    Man,
    /// Restore the files as they were before the last change onepass applied (and take back its commit).
    Undo(UndoArgs),
}

#[derive(Debug, Clone, ClapArgs)]
pub struct UndoArgs {
    /// Restore without asking
    #[arg(short, long)]
    pub yes: bool,

    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ConfigArgs {
    /// Print the settings as JSON
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub pack: PackOpts,

    #[command(flatten)]
    pub model: ModelOpts,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct InitArgs {
    /// Replace an existing onepass.toml
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct AgainArgs {
    /// Text appended after the last request, e.g. "the test still fails; also handle X"
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,

    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub pack: PackOpts,

    #[command(flatten)]
    pub model: ModelOpts,

    #[command(flatten)]
    pub outcome: OutcomeOpts,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct WarmArgs {
    /// Pack for this request (default: the context of the last run)
    #[arg(value_name = "REQUEST")]
    pub request: Option<String>,

    /// Files, directories or globs that must be included whole
    #[arg(value_name = "PATHS")]
    pub paths: Vec<String>,

    /// Keep running and warm again when the context's files change (debounced)
    #[arg(long)]
    pub watch: bool,

    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub pack: PackOpts,

    #[command(flatten)]
    pub model: ModelOpts,

    #[command(flatten)]
    pub outcome: OutcomeOpts,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ServersArgs {
    /// Probe this URL instead of the usual local ports
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// The server's kind, instead of detecting it
    #[arg(long, value_enum, value_name = "KIND")]
    pub api: Option<crate::model::ServerKind>,

    /// API key for the endpoint [env: ONEPASS_API_KEY, then OPENAI_API_KEY]
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Print the list as JSON
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub repo: RepoArgs,
}

/// Options shared by every command that reads the repository.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct RepoArgs {
    /// Run in DIR instead of the current directory (any directory inside the git repository).
    #[arg(short = 'C', long = "repo", value_name = "DIR", global = true)]
    pub repo: Option<PathBuf>,

    /// When to colour output [env: ONEPASS_COLOR; NO_COLOR is honoured]
    #[arg(long, value_enum, value_name = "WHEN", global = true)]
    pub color: Option<ColorChoice>,

    /// Print less: no streamed reply, only the essentials (repeat for errors only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Print more detail about each stage (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl RepoArgs {
    /// -2 errors only, -1 quiet, 0 normal, 1+ verbose.
    pub fn verbosity(&self) -> i8 {
        if self.quiet > 0 {
            -(self.quiet.min(2) as i8)
        } else {
            self.verbose.min(3) as i8
        }
    }
}

/// Options that choose which files go into the prompt.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct PackOpts {
    /// Token budget for the packed files, overriding the one derived from the model's context window
    /// [env: ONEPASS_BUDGET]
    #[arg(long, value_name = "TOKENS")]
    pub budget: Option<usize>,

    /// Context window to assume when the server does not report one [env: ONEPASS_CONTEXT]
    #[arg(long, value_name = "TOKENS")]
    pub context: Option<usize>,

    /// Only consider files matching GLOB (repeatable; gitignore syntax, relative to the repository root)
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Never consider files matching GLOB (repeatable; gitignore syntax, relative to the repository root)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Skip files larger than BYTES [env: ONEPASS_MAX_FILE_SIZE; default 262144]
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,

    /// Send files that look like secrets (.env, keys, credentials) and secret-looking values inside files
    /// as they are, instead of withholding and redacting them [env: ONEPASS_ALLOW_SECRETS]
    #[arg(long, overrides_with = "no_allow_secrets")]
    pub allow_secrets: bool,

    /// Withhold and redact secrets (the default; undoes allow_secrets from a configuration file)
    #[arg(long, overrides_with = "allow_secrets")]
    pub no_allow_secrets: bool,
}

impl PackOpts {
    /// The flag pair as a setting: None when neither was given.
    pub fn allow_secrets(&self) -> Option<bool> {
        if self.allow_secrets {
            Some(true)
        } else if self.no_allow_secrets {
            Some(false)
        } else {
            None
        }
    }
}

/// Options that say where and how to ask the model.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct ModelOpts {
    /// Base URL of an OpenAI-compatible server, with or without /v1 (default: the first local server that
    /// answers on the usual ports) [env: ONEPASS_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Model name to ask for (default: the one the server serves) [env: ONEPASS_MODEL]
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// API key sent as a bearer token [env: ONEPASS_API_KEY, then OPENAI_API_KEY]
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Tokens kept free for the reply [env: ONEPASS_REPLY_RESERVE; default 4096]
    #[arg(long, value_name = "TOKENS")]
    pub reply_reserve: Option<usize>,

    /// The server's kind, instead of detecting it [env: ONEPASS_API]
    #[arg(long, value_enum, value_name = "KIND")]
    pub api: Option<crate::model::ServerKind>,

    /// Ask for a unified diff, for whole files, or (auto) whole files when every packed file is small
    /// [env: ONEPASS_FORMAT; default auto]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ReplyFormat>,

    /// Shrink the budget so the prompt's prefill takes at most this long at the server's measured speed
    /// (e.g. 20s, 2m)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_prefill: Option<std::time::Duration>,

    /// Give up when the server sends nothing for this long before the first token: loading and prefill
    /// [env: ONEPASS_PREFILL_TIMEOUT; default 15m]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub prefill_timeout: Option<std::time::Duration>,

    /// Give up when the reply stops streaming for this long [env: ONEPASS_IDLE_TIMEOUT; default 90s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<std::time::Duration>,
}

/// `90`, `20s`, `1.5m`, `250ms` -> a duration.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((t, "s"), |i| t.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 20s or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?} is not a duration such as 20s or 2m")),
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("{text:?} must be a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Options that decide what happens to a validated diff.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct OutcomeOpts {
    /// Write the diff as a .patch file instead of applying it; nothing else is touched
    #[arg(long)]
    pub dry_run: bool,

    /// Patch file for --dry-run (default: onepass-<request>.patch in the repository root; - for stdout)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Apply without asking
    #[arg(short, long)]
    pub yes: bool,

    /// Go straight to the hunk-by-hunk review (y/n/a/d/s/e/q), instead of the apply-all/review/patch/quit choice
    #[arg(long, overrides_with = "no_review", conflicts_with = "yes")]
    pub review: bool,

    /// Start with the apply-all/review/patch/quit choice (undoes --review)
    #[arg(long, overrides_with = "review")]
    pub no_review: bool,

    /// Apply the change to the index too (like git apply --index)
    #[arg(long, overrides_with = "no_stage")]
    pub stage: bool,

    /// Leave the index alone (undoes --stage)
    #[arg(long, overrides_with = "stage")]
    pub no_stage: bool,

    /// Commit the applied change on the current branch (message from the request and the model's summary,
    /// author from git config)
    #[arg(long, overrides_with = "no_commit")]
    pub commit: bool,

    /// Do not commit (undoes --commit)
    #[arg(long, overrides_with = "commit")]
    pub no_commit: bool,

    /// Apply even when a file the change touches has uncommitted changes (onepass undo restores them)
    #[arg(long, overrides_with = "no_allow_dirty")]
    pub allow_dirty: bool,

    /// Refuse to touch files with uncommitted changes (undoes --allow-dirty)
    #[arg(long, overrides_with = "allow_dirty")]
    pub no_allow_dirty: bool,

    /// Never send the preview through a pager
    #[arg(long)]
    pub no_pager: bool,

    /// Print the run report as one JSON object on stdout (the diff preview then goes to stderr)
    #[arg(long)]
    pub json: bool,

    /// Accept a reply whose diff makes files executable, creates symlinks or submodules; only its content
    /// changes are applied (files stay regular and non-executable). Refused by default.
    #[arg(long)]
    pub allow_modes: bool,

    /// Reject every hunk that needed more than whitespace repair (re-indented, elided, context dropped, …)
    #[arg(long)]
    pub strict: bool,

    /// Validate and report only: show the preview and each hunk's repair level, apply nothing (exit 0 when
    /// every hunk can be placed, 1 when one cannot)
    #[arg(long, conflicts_with_all = ["dry_run", "yes", "review", "commit", "stage"])]
    pub check: bool,
}

/// The main job: `onepass [OPTIONS] "REQUEST" [PATHS...]`.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct RunArgs {
    /// What to change, in plain words
    #[arg(value_name = "REQUEST")]
    pub request: Option<String>,

    /// Files, directories or globs that must be included whole
    #[arg(value_name = "PATHS")]
    pub paths: Vec<String>,

    /// Reuse the files of the last run (same prompt prefix, so the server reprocesses only the new request)
    #[arg(long, conflicts_with = "paths")]
    pub same_context: bool,

    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub pack: PackOpts,

    #[command(flatten)]
    pub model: ModelOpts,

    #[command(flatten)]
    pub outcome: OutcomeOpts,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct PackArgs {
    /// What to change, in plain words
    #[arg(value_name = "REQUEST")]
    pub request: String,

    /// Files, directories or globs that must be included whole
    #[arg(value_name = "PATHS")]
    pub paths: Vec<String>,

    /// Print the files included whole, one repo-relative path per line, in prompt order
    #[arg(long, conflicts_with = "json")]
    pub list: bool,

    /// Print the packing statistics as JSON: files whole and outlined with tokens, scores and reasons,
    /// omissions and skips with reasons, totals and the time of each stage
    #[arg(long)]
    pub json: bool,

    /// Print every file with a positive relevance score, in rank order: its score, where it went (whole,
    /// outline, omitted), its tokens and why it scored
    #[arg(long, conflicts_with_all = ["json", "list"])]
    pub explain: bool,

    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub pack: PackOpts,

    #[command(flatten)]
    pub model: ModelOpts,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ApplyArgs {
    /// The model reply: a file, or - for standard input (the default)
    #[arg(value_name = "FILE", default_value = "-")]
    pub file: String,

    #[command(flatten)]
    pub repo: RepoArgs,

    #[command(flatten)]
    pub outcome: OutcomeOpts,
}

/// How the model is asked to write its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyFormat {
    Auto,
    Diff,
    Whole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
