//! Command-line arguments as typed, raw values: parsing only, no I/O and no defaults that belong to the
//! configuration (those are resolved in `config`). The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

/// Single-pass code changes with a local model: onepass packs the relevant files of a git repository into one
/// prompt, asks the model once for a unified diff, validates every hunk against the tree, shows it, and applies
/// it after confirmation.
#[derive(Debug, Parser)]
#[command(name = "onepass", version, about, max_term_width = 100)]
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

    /// Shrink the budget so the prompt's prefill takes at most this long at the server's measured speed
    /// (e.g. 20s, 2m)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_prefill: Option<std::time::Duration>,
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

    /// Print the run report as one JSON object on stdout (the diff preview then goes to stderr)
    #[arg(long)]
    pub json: bool,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
