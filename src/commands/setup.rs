//! The commands that set onepass up rather than change code: `config` (effective settings with their
//! sources), `init` (a commented onepass.toml), `completions` and `man`.

use std::io::Write;

use clap::CommandFactory;

use crate::Io;
use crate::cli::{Args, CompletionsArgs, ConfigArgs, InitArgs};
use crate::config::{Config, Layer, REPO_CONFIG};
use crate::env::Env;
use crate::error::Error;
use crate::ui::Ui;

/// The onepass.toml that `init` writes: every setting, commented out at its default.
pub const INIT_TEMPLATE: &str = r#"# onepass configuration for this repository.
# Precedence, lowest first: defaults < ~/.config/onepass/config.toml < this file < ONEPASS_* variables < flags.
# Every line is commented out at its default; uncomment what you want to change.

# The model server: a base URL with or without /v1 (default: the first local server that answers on
# 11434 Ollama, 8080 llama.cpp, 1234 LM Studio, 8000 vLLM, 5001 KoboldCpp, 5000, 1337).
# endpoint = "http://127.0.0.1:8080"

# The server's kind, instead of detecting it: llama.cpp, ollama, lmstudio, vllm, koboldcpp, openai.
# api = "llama.cpp"

# The model to ask (default: the one the server has loaded or serves).
# model = "qwen2.5-coder:7b"

# Prefer ONEPASS_API_KEY or OPENAI_API_KEY in the environment over a key in a file.
# api_key = ""

# Total tokens the prompt may use (default: the server's context window minus reply_reserve).
# budget = 24000

# The context window to assume when the server does not report one; for Ollama it is sent as num_ctx.
# context = 16384

# Tokens kept free for the reply.
# reply_reserve = 4096

# Files larger than this many bytes are skipped.
# max_file_size = 262144

# Only consider files matching these globs (gitignore syntax), and never these.
# include = ["src/**"]
# exclude = ["*.snap", "vendor/**"]

# auto, always or never (NO_COLOR and CLICOLOR_FORCE are honoured under auto).
# color = "auto"

# Sampling temperature and the most tokens the reply may have (default: reply_reserve).
# temperature = 0.2
# max_tokens = 4096

# How long Ollama keeps the model (and its prompt cache) loaded after a request.
# keep_alive = "30m"

# How long to wait for the first token (the prompt's prefill), and for the next bytes once the reply
# streams, before giving up; a number of seconds or a duration such as "90s" or "15m".
# prefill_timeout = "15m"
# idle_timeout = "90s"

# The largest reply accepted, in bytes.
# max_reply_bytes = 2097152

# Send files that look like secrets (.env, keys, credentials), and secrets inside files, unredacted.
# allow_secrets = false

# What the model writes: "diff", "whole" (complete files) or "auto" (whole files when every packed file is
# at most 80 lines, else a diff).
# format = "auto"
"#;

fn ui<'a>(stderr: &'a mut dyn Write, env: &Env) -> Ui<'a> {
    let color =
        crate::config::color_enabled(crate::cli::ColorChoice::Auto, env, env.stderr_is_terminal);
    Ui::new(stderr, color, 0, env.stderr_is_terminal)
}

fn done(result: Result<(), Error>, ui: &mut Ui<'_>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            ui.error(&e.to_string());
            e.exit_code()
        }
    }
}

pub fn config(args: &ConfigArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let mut ui = ui(stderr, env);
    let result = (|| {
        let flags = Layer::from_flags(&args.repo, Some(&args.pack), Some(&args.model));
        let cfg = Config::resolve(env, &args.repo, flags)?;
        let rows = cfg.provenance();
        let out = if args.json {
            let list: Vec<_> = rows
                .iter()
                .map(|(key, value, source)| {
                    serde_json::json!({
                        "key": key,
                        "value": value.as_deref().and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok()),
                        "source": source.to_string(),
                    })
                })
                .collect();
            writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            )
        } else {
            let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
            rows.iter()
                .try_for_each(|(key, value, source)| match value {
                    Some(value) => writeln!(stdout, "{key:<width$} = {value:<24} # {source}"),
                    None => writeln!(stdout, "# {key:<width$} (not set)"),
                })
        };
        out.map_err(|e| Error::Output(e.to_string()))
    })();
    done(result, &mut ui)
}

pub fn init(args: &InitArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io { stderr, .. } = io;
    let mut ui = ui(stderr, env);
    let result = (|| {
        let cfg = Config::resolve(env, &args.repo, Layer::from_flags(&args.repo, None, None))?;
        let path = cfg.root.join(REPO_CONFIG);
        if path.exists() && !args.force {
            return Err(Error::Usage(format!(
                "{} exists already; pass --force to replace it",
                path.display()
            )));
        }
        std::fs::write(&path, INIT_TEMPLATE)
            .map_err(|e| Error::Output(format!("{}: {e}", path.display())))?;
        ui.status(&format!("wrote {}", path.display()));
        Ok(())
    })();
    done(result, &mut ui)
}

pub fn completions(args: &CompletionsArgs, io: Io<'_>) -> u8 {
    let mut command = Args::command();
    clap_complete::generate(args.shell, &mut command, "onepass", io.stdout);
    0
}

pub fn man(env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let mut ui = ui(stderr, env);
    let result = clap_mangen::Man::new(Args::command())
        .render(stdout)
        .map_err(|e| Error::Output(e.to_string()));
    done(result, &mut ui)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_template_parses_and_names_every_key() {
        assert_eq!(Layer::parse(INIT_TEMPLATE).unwrap(), Layer::default());
        let uncommented: String = INIT_TEMPLATE
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let layer = Layer::parse(&uncommented).unwrap();
        for (key, value) in layer.values() {
            assert!(!value.is_empty(), "{key}");
        }
        assert_eq!(
            layer.values().len(),
            Layer::keys().len(),
            "every key appears in the template"
        );
    }
}
