//! Resolves the effective configuration from its layers with one precedence rule, kept in [`Layer::over`]:
//! defaults < user config file < repository `onepass.toml` < `ONEPASS_*` environment < command-line flags.
//! `Config` is also the factory for the components, so no component sees `Config` itself.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::{ColorChoice, ModelOpts, PackOpts, ReplyFormat, RepoArgs};
use crate::env::Env;
use crate::model::ServerKind;

/// Defaults, stated once.
pub const DEFAULT_CONTEXT: usize = 16_384;
pub const DEFAULT_REPLY_RESERVE: usize = 4_096;
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 * 1024;
pub const DEFAULT_TEMPERATURE: f64 = 0.2;
pub const DEFAULT_KEEP_ALIVE: &str = "30m";

/// The name of the repository's configuration file, at its root.
pub const REPO_CONFIG: &str = "onepass.toml";

/// One layer of settings; every field is optional so layers can be stacked. The same struct is read from the
/// configuration files (unknown keys are errors), from the environment and from the flags.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub endpoint: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    pub budget: Option<usize>,
    pub context: Option<usize>,
    pub reply_reserve: Option<usize>,
    pub max_file_size: Option<u64>,
    pub include: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub color: Option<ColorChoice>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub api: Option<ServerKind>,
    pub keep_alive: Option<String>,
    /// Longest silence before the first token (seconds, or a duration such as "15m").
    #[serde(default, deserialize_with = "duration")]
    pub prefill_timeout: Option<std::time::Duration>,
    /// Longest silence once the reply streams.
    #[serde(default, deserialize_with = "duration")]
    pub idle_timeout: Option<std::time::Duration>,
    /// Largest reply accepted, in bytes.
    pub max_reply_bytes: Option<usize>,
    /// Send files that look like secrets, and secrets inside files, unredacted.
    pub allow_secrets: Option<bool>,
    /// Ask for a diff, whole files, or decide by file size.
    pub format: Option<ReplyFormat>,
}

/// A duration in a configuration file: a number of seconds or a string such as "90s" or "15m".
fn duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Seconds(s) => s.to_string(),
        Raw::Text(t) => t,
    };
    crate::cli::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl Layer {
    /// The one precedence rule: a value set in `self` wins over the same value in `lower`.
    pub fn over(self, lower: Layer) -> Layer {
        Layer {
            endpoint: self.endpoint.or(lower.endpoint),
            model: self.model.or(lower.model),
            api_key: self.api_key.or(lower.api_key),
            budget: self.budget.or(lower.budget),
            context: self.context.or(lower.context),
            reply_reserve: self.reply_reserve.or(lower.reply_reserve),
            max_file_size: self.max_file_size.or(lower.max_file_size),
            include: self.include.or(lower.include),
            exclude: self.exclude.or(lower.exclude),
            color: self.color.or(lower.color),
            temperature: self.temperature.or(lower.temperature),
            max_tokens: self.max_tokens.or(lower.max_tokens),
            api: self.api.or(lower.api),
            keep_alive: self.keep_alive.or(lower.keep_alive),
            prefill_timeout: self.prefill_timeout.or(lower.prefill_timeout),
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
            max_reply_bytes: self.max_reply_bytes.or(lower.max_reply_bytes),
            allow_secrets: self.allow_secrets.or(lower.allow_secrets),
            format: self.format.or(lower.format),
        }
    }

    /// The built-in defaults, as the lowest layer.
    pub fn defaults() -> Layer {
        Layer {
            context: Some(DEFAULT_CONTEXT),
            reply_reserve: Some(DEFAULT_REPLY_RESERVE),
            max_file_size: Some(DEFAULT_MAX_FILE_SIZE),
            color: Some(ColorChoice::Auto),
            temperature: Some(DEFAULT_TEMPERATURE),
            keep_alive: Some(DEFAULT_KEEP_ALIVE.to_string()),
            format: Some(ReplyFormat::Auto),
            ..Layer::default()
        }
    }

    /// The setting names, as written in the files.
    pub fn keys() -> Vec<String> {
        match serde_json::to_value(Layer::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The settings this layer sets, as displayable values (the API key masked).
    pub fn values(&self) -> Vec<(String, String)> {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(self) else {
            return Vec::new();
        };
        map.into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let shown = if k == "api_key" {
                    "\"(set)\"".to_string()
                } else {
                    v.to_string()
                };
                (k, shown)
            })
            .collect()
    }

    /// The `ONEPASS_*` variables (and the conventional fallbacks for the API key).
    pub fn from_env(env: &Env) -> Result<Layer, ConfigError> {
        fn num<T: std::str::FromStr>(env: &Env, name: &str) -> Result<Option<T>, ConfigError> {
            env.var(name)
                .map(|v| {
                    v.trim().parse().map_err(|_| ConfigError::BadEnv {
                        name: name.to_string(),
                        value: v.to_string(),
                    })
                })
                .transpose()
        }
        fn dur(env: &Env, name: &str) -> Result<Option<std::time::Duration>, ConfigError> {
            env.var(name)
                .map(|v| {
                    crate::cli::parse_duration(v).map_err(|_| ConfigError::BadEnv {
                        name: name.to_string(),
                        value: v.to_string(),
                    })
                })
                .transpose()
        }
        let color = match env.var("ONEPASS_COLOR") {
            None => None,
            Some("auto") => Some(ColorChoice::Auto),
            Some("always") => Some(ColorChoice::Always),
            Some("never") => Some(ColorChoice::Never),
            Some(other) => {
                return Err(ConfigError::BadEnv {
                    name: "ONEPASS_COLOR".into(),
                    value: other.into(),
                });
            }
        };
        let endpoint = env
            .var("ONEPASS_ENDPOINT")
            .map(str::to_string)
            .or_else(|| env.var("OPENAI_BASE_URL").map(str::to_string))
            .or_else(|| env.var("OLLAMA_HOST").map(ollama_host_url));
        Ok(Layer {
            endpoint,
            model: env.var("ONEPASS_MODEL").map(str::to_string),
            api_key: env
                .var("ONEPASS_API_KEY")
                .or_else(|| env.var("OPENAI_API_KEY"))
                .map(str::to_string),
            budget: num(env, "ONEPASS_BUDGET")?,
            context: num(env, "ONEPASS_CONTEXT")?,
            reply_reserve: num(env, "ONEPASS_REPLY_RESERVE")?,
            max_file_size: num(env, "ONEPASS_MAX_FILE_SIZE")?,
            include: None,
            exclude: None,
            color,
            temperature: num(env, "ONEPASS_TEMPERATURE")?,
            max_tokens: num(env, "ONEPASS_MAX_TOKENS")?,
            api: match env.var("ONEPASS_API") {
                None => None,
                Some(v) => Some(<ServerKind as clap::ValueEnum>::from_str(v, true).map_err(
                    |_| ConfigError::BadEnv {
                        name: "ONEPASS_API".into(),
                        value: v.into(),
                    },
                )?),
            },
            keep_alive: env.var("ONEPASS_KEEP_ALIVE").map(str::to_string),
            format: match env.var("ONEPASS_FORMAT") {
                None => None,
                Some(v) => Some(<ReplyFormat as clap::ValueEnum>::from_str(v, true).map_err(
                    |_| ConfigError::BadEnv {
                        name: "ONEPASS_FORMAT".into(),
                        value: v.into(),
                    },
                )?),
            },
            prefill_timeout: dur(env, "ONEPASS_PREFILL_TIMEOUT")?,
            idle_timeout: dur(env, "ONEPASS_IDLE_TIMEOUT")?,
            max_reply_bytes: num(env, "ONEPASS_MAX_REPLY_BYTES")?,
            allow_secrets: match env.var("ONEPASS_ALLOW_SECRETS") {
                None => None,
                Some("1" | "true" | "yes") => Some(true),
                Some("0" | "false" | "no") => Some(false),
                Some(other) => {
                    return Err(ConfigError::BadEnv {
                        name: "ONEPASS_ALLOW_SECRETS".into(),
                        value: other.into(),
                    });
                }
            },
        })
    }

    /// The flags of the command line that map onto settings.
    pub fn from_flags(
        repo: &RepoArgs,
        pack: Option<&PackOpts>,
        model: Option<&ModelOpts>,
    ) -> Layer {
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        Layer {
            endpoint: model.and_then(|m| m.endpoint.clone()),
            model: model.and_then(|m| m.model.clone()),
            api_key: model.and_then(|m| m.api_key.clone()),
            budget: pack.and_then(|p| p.budget),
            context: pack.and_then(|p| p.context),
            reply_reserve: model.and_then(|m| m.reply_reserve),
            max_file_size: pack.and_then(|p| p.max_file_size),
            include: pack.and_then(|p| nonempty(&p.include)),
            exclude: pack.and_then(|p| nonempty(&p.exclude)),
            color: repo.color,
            temperature: None,
            max_tokens: None,
            api: model.and_then(|m| m.api),
            keep_alive: None,
            format: model.and_then(|m| m.format),
            prefill_timeout: model.and_then(|m| m.prefill_timeout),
            idle_timeout: model.and_then(|m| m.idle_timeout),
            max_reply_bytes: None,
            allow_secrets: pack.and_then(PackOpts::allow_secrets),
        }
    }

    /// A configuration file; a missing file is an empty layer.
    pub fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Layer::default()),
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                });
            }
        };
        Layer::parse(&text).map_err(|message| ConfigError::File {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parse the TOML text of a configuration file. An unknown key is an error that names the nearest
    /// valid key.
    pub fn parse(text: &str) -> Result<Layer, String> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| e.message().trim().to_string())?;
        let keys = Layer::keys();
        for key in table.keys() {
            if !keys.contains(key) {
                let nearest = keys
                    .iter()
                    .map(|k| (edit_distance(key, k), k))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, k)| format!("; did you mean `{k}`?"))
                    .unwrap_or_else(|| format!("; valid keys: {}", keys.join(", ")));
                return Err(format!("unknown key `{key}`{nearest}"));
            }
        }
        toml::from_str(text).map_err(|e| e.message().trim().to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{} is not inside a git repository (onepass works on a git working tree; run `git init` first, or pass -C DIR)", .0.display())]
    NotARepo(PathBuf),
    #[error("{} is a bare repository: onepass needs a working tree", .0.display())]
    Bare(PathBuf),
    #[error("cannot open the git repository at {}: {message}", path.display())]
    Repo { path: PathBuf, message: String },
    #[error("cannot read {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("invalid configuration in {}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("invalid value {value:?} in the environment variable {name}")]
    BadEnv { name: String, value: String },
    #[error("the request is empty: say what to change, e.g. onepass \"add a --verbose flag\"")]
    EmptyRequest,
}

/// The effective configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Root of the git working tree.
    pub root: PathBuf,
    pub settings: Layer,
    pub color_stdout: bool,
    pub color_stderr: bool,
    /// -1 quiet, 0 normal, 1+ verbose.
    pub verbosity: i8,
    /// Where user-level files live (config.toml, templates/).
    pub user_dir: Option<PathBuf>,
    /// The layers, lowest first, for `onepass config`.
    pub layers: Vec<(Source, Layer)>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env,
    Flag,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Env => f.write_str("environment"),
            Source::Flag => f.write_str("command line"),
        }
    }
}

impl Config {
    /// Find the repository from `-C DIR` (or the current directory) and stack the layers.
    pub fn resolve(env: &Env, repo: &RepoArgs, flags: Layer) -> Result<Config, ConfigError> {
        let start = match &repo.repo {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => env.cwd.join(dir),
            None => env.cwd.clone(),
        };
        let root = find_root(&start)?;
        let user_dir = user_config_dir(env);
        let user = match &user_dir {
            Some(dir) => Layer::from_file(&dir.join("config.toml"))?,
            None => Layer::default(),
        };
        let repo_file = Layer::from_file(&root.join(REPO_CONFIG))?;
        let env_layer = Layer::from_env(env)?;
        let mut layers = vec![(Source::Default, Layer::defaults())];
        if let Some(dir) = &user_dir {
            layers.push((Source::File(dir.join("config.toml")), user.clone()));
        }
        layers.push((Source::File(root.join(REPO_CONFIG)), repo_file.clone()));
        layers.push((Source::Env, env_layer.clone()));
        layers.push((Source::Flag, flags.clone()));
        // The defaults stay out of `settings` so "set by the user" can be told from "default"; the accessors
        // below apply them.
        let settings = flags.over(env_layer).over(repo_file).over(user);
        let choice = settings.color.unwrap_or(ColorChoice::Auto);
        let verbosity = repo.verbosity();
        Ok(Config {
            color_stdout: color_enabled(choice, env, env.stdout_is_terminal),
            color_stderr: color_enabled(choice, env, env.stderr_is_terminal),
            root,
            settings,
            verbosity,
            user_dir,
            layers,
        })
    }

    /// Every setting with its effective value and where that value came from, in key order.
    pub fn provenance(&self) -> Vec<(String, Option<String>, Source)> {
        Layer::keys()
            .into_iter()
            .map(|key| {
                for (source, layer) in self.layers.iter().rev() {
                    if let Some((_, value)) = layer.values().into_iter().find(|(k, _)| *k == key) {
                        return (key, Some(value), source.clone());
                    }
                }
                (key, None, Source::Default)
            })
            .collect()
    }

    pub fn context(&self) -> usize {
        self.settings.context.unwrap_or(DEFAULT_CONTEXT)
    }

    pub fn reply_reserve(&self) -> usize {
        self.settings.reply_reserve.unwrap_or(DEFAULT_REPLY_RESERVE)
    }

    /// Whether files and text that look like secrets may go into the prompt as they are.
    pub fn allow_secrets(&self) -> bool {
        self.settings.allow_secrets.unwrap_or(false)
    }

    pub fn walk_options(&self) -> crate::repo::walk::WalkOptions {
        crate::repo::walk::WalkOptions {
            max_file_size: self.settings.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
            include: self.settings.include.clone().unwrap_or_default(),
            exclude: self.settings.exclude.clone().unwrap_or_default(),
            repo: Default::default(),
        }
    }

    /// Directories searched for template overrides, most specific first.
    pub fn template_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.root.join(".onepass").join("templates")];
        if let Some(user) = &self.user_dir {
            dirs.push(user.join("templates"));
        }
        dirs
    }

    pub fn server_settings(&self) -> crate::model::ServerSettings {
        crate::model::ServerSettings {
            endpoint: self.settings.endpoint.clone(),
            model: self.settings.model.clone(),
            api_key: self.settings.api_key.clone(),
            temperature: self.settings.temperature.unwrap_or(DEFAULT_TEMPERATURE) as f32,
            api: self.settings.api,
            context: self.settings.context,
            keep_alive: self
                .settings
                .keep_alive
                .clone()
                .unwrap_or_else(|| DEFAULT_KEEP_ALIVE.to_string()),
            limits: crate::model::feed::StreamLimits {
                prefill: self
                    .settings
                    .prefill_timeout
                    .unwrap_or(crate::model::feed::DEFAULT_PREFILL_TIMEOUT),
                idle: self
                    .settings
                    .idle_timeout
                    .unwrap_or(crate::model::feed::DEFAULT_IDLE_TIMEOUT),
                max_reply_bytes: self
                    .settings
                    .max_reply_bytes
                    .unwrap_or(crate::model::feed::DEFAULT_MAX_REPLY_BYTES),
            },
        }
    }
}

/// `OLLAMA_HOST` as Ollama's own client reads it (`host`, `host:port`, a URL; `0.0.0.0` means this machine).
pub fn ollama_host_url(value: &str) -> String {
    let value = value.trim().trim_end_matches('/');
    let (scheme, rest) = match value.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("http", value),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => {
            (host, port)
        }
        _ => (rest, "11434"),
    };
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    format!("{scheme}://{host}:{port}")
}

/// Levenshtein distance, for suggesting the key that was meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The working-tree root of the repository containing `start`.
pub fn find_root(start: &Path) -> Result<PathBuf, ConfigError> {
    let repo = match git2::Repository::discover(start) {
        Ok(repo) => repo,
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            return Err(ConfigError::NotARepo(start.to_path_buf()));
        }
        Err(e) => {
            return Err(ConfigError::Repo {
                path: start.to_path_buf(),
                message: e.message().to_string(),
            });
        }
    };
    match repo.workdir() {
        Some(dir) => Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())),
        None => Err(ConfigError::Bare(repo.path().to_path_buf())),
    }
}

/// `$ONEPASS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/onepass`, else the platform's configuration directory.
pub fn user_config_dir(env: &Env) -> Option<PathBuf> {
    if let Some(dir) = env.var("ONEPASS_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = env.var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(dir).join("onepass"));
    }
    if let Some(home) = env.var("HOME")
        && cfg!(unix)
    {
        return Some(PathBuf::from(home).join(".config").join("onepass"));
    }
    directories::ProjectDirs::from("", "", "onepass").map(|d| d.config_dir().to_path_buf())
}

/// The colour decision, made once: an explicit choice wins; otherwise `NO_COLOR` turns colour off,
/// `CLICOLOR_FORCE` turns it on, and a terminal decides.
pub fn color_enabled(choice: ColorChoice, env: &Env, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if env.var("NO_COLOR").is_some() {
                false
            } else if env.var("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                true
            } else {
                is_terminal && env.var("TERM") != Some("dumb")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_layer_wins_and_lower_fills_gaps() {
        let file = Layer::parse("budget = 1000\nmodel = \"a\"\ncontext = 9000\n").unwrap();
        let env = Layer {
            model: Some("b".into()),
            ..Layer::default()
        };
        let flags = Layer {
            budget: Some(5),
            ..Layer::default()
        };
        let merged = flags.over(env).over(file);
        assert_eq!(merged.budget, Some(5));
        assert_eq!(merged.model.as_deref(), Some("b"));
        assert_eq!(merged.context, Some(9000));
    }

    #[test]
    fn durations_and_trust_settings_in_files_and_env() {
        let file = Layer::parse(
            "prefill_timeout = \"15m\"\nidle_timeout = 30\nmax_reply_bytes = 1000\nallow_secrets = true\n",
        )
        .unwrap();
        assert_eq!(
            file.prefill_timeout,
            Some(std::time::Duration::from_secs(900))
        );
        assert_eq!(file.idle_timeout, Some(std::time::Duration::from_secs(30)));
        assert_eq!(file.max_reply_bytes, Some(1000));
        assert!(Layer::parse("idle_timeout = \"soon\"\n").is_err());
        let mut env = Env::default();
        env.vars.insert("ONEPASS_IDLE_TIMEOUT".into(), "0.5".into());
        env.vars.insert("ONEPASS_ALLOW_SECRETS".into(), "0".into());
        let layer = Layer::from_env(&env).unwrap().over(file);
        assert_eq!(
            layer.idle_timeout,
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(layer.allow_secrets, Some(false));
        env.vars
            .insert("ONEPASS_ALLOW_SECRETS".into(), "maybe".into());
        assert!(Layer::from_env(&env).is_err());
    }

    #[test]
    fn unknown_keys_are_errors_with_the_nearest_key() {
        let err = Layer::parse("budgit = 5\n").unwrap_err();
        assert_eq!(err, "unknown key `budgit`; did you mean `budget`?");
        let err = Layer::parse("xyzzy_plugh = 1\n").unwrap_err();
        assert!(
            err.contains("valid keys: ") && err.contains("endpoint"),
            "{err}"
        );
        assert!(Layer::parse("budget = \"lots\"\n").is_err());
    }

    #[test]
    fn ollama_host_forms() {
        assert_eq!(ollama_host_url("0.0.0.0"), "http://127.0.0.1:11434");
        assert_eq!(ollama_host_url("127.0.0.1:11500"), "http://127.0.0.1:11500");
        assert_eq!(
            ollama_host_url("https://gpu-box.lan"),
            "https://gpu-box.lan:11434"
        );
        assert_eq!(ollama_host_url("http://[::]:11434/"), "http://[::1]:11434");
    }

    #[test]
    fn endpoint_fallbacks() {
        let mut env = Env::default();
        env.vars.insert("OLLAMA_HOST".into(), "0.0.0.0".into());
        assert_eq!(
            Layer::from_env(&env).unwrap().endpoint.as_deref(),
            Some("http://127.0.0.1:11434")
        );
        env.vars
            .insert("OPENAI_BASE_URL".into(), "http://127.0.0.1:8000/v1".into());
        assert_eq!(
            Layer::from_env(&env).unwrap().endpoint.as_deref(),
            Some("http://127.0.0.1:8000/v1")
        );
        env.vars
            .insert("ONEPASS_ENDPOINT".into(), "http://127.0.0.1:8080".into());
        assert_eq!(
            Layer::from_env(&env).unwrap().endpoint.as_deref(),
            Some("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn env_layer_reads_variables_and_key_fallback() {
        let mut env = Env::default();
        env.vars.insert("ONEPASS_BUDGET".into(), "1200".into());
        env.vars.insert("OPENAI_API_KEY".into(), "sk-x".into());
        let layer = Layer::from_env(&env).unwrap();
        assert_eq!(layer.budget, Some(1200));
        assert_eq!(layer.api_key.as_deref(), Some("sk-x"));
        env.vars.insert("ONEPASS_API_KEY".into(), "own".into());
        assert_eq!(
            Layer::from_env(&env).unwrap().api_key.as_deref(),
            Some("own")
        );
        env.vars.insert("ONEPASS_BUDGET".into(), "lots".into());
        assert!(Layer::from_env(&env).is_err());
    }

    #[test]
    fn colour_policy() {
        let mut env = Env::default();
        assert!(color_enabled(ColorChoice::Auto, &env, true));
        assert!(!color_enabled(ColorChoice::Auto, &env, false));
        env.vars.insert("NO_COLOR".into(), "1".into());
        assert!(!color_enabled(ColorChoice::Auto, &env, true));
        assert!(color_enabled(ColorChoice::Always, &env, false));
        env.vars.remove("NO_COLOR");
        env.vars.insert("CLICOLOR_FORCE".into(), "1".into());
        assert!(color_enabled(ColorChoice::Auto, &env, false));
    }
}
