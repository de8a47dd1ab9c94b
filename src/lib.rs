//! onepass: single-pass code changes with a local model.
//!
//! One run is a straight line of stages, each a call below: configuration -> walk -> pack (rank, count, fit,
//! render) -> send -> extract/parse/repair/validate -> review -> apply or write a patch. The stages live in
//! their modules; this file only strings them together and turns the result into an exit code.

pub mod apply;
pub mod cli;
pub mod config;
pub mod env;
pub mod error;
pub mod model;
pub mod pack;
pub mod patch;
pub mod prompt;
pub mod repo;
pub mod review;
pub mod ui;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Parser;

use cli::{ApplyArgs, Args, Command, OutcomeOpts, PackArgs, RunArgs};
use config::{Config, ConfigError, Layer};
use env::Env;
use error::{Error, Outcome};
use model::Server;
use pack::{Limits, Packed};
use prompt::Templates;
use review::render::Palette;
use ui::Ui;

/// The streams of one run, injected so tests can run onepass in-process.
pub struct Io<'a> {
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

/// Run onepass with `args` (program name first) and return the exit code.
pub fn run<I, T>(args: I, env: &Env, io: Io<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let text = if env.stderr_is_terminal && e.use_stderr() {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            let sink: &mut dyn Write = if e.use_stderr() { io.stderr } else { io.stdout };
            let _ = write!(sink, "{text}");
            return code;
        }
    };
    let Io {
        stdin,
        stdout,
        stderr,
    } = io;
    // Until the configuration is read, errors are reported plainly.
    let early_color = config::color_enabled(
        args.run.repo.color.unwrap_or(cli::ColorChoice::Auto),
        env,
        env.stderr_is_terminal,
    );
    let result = match args.command {
        Some(Command::Pack(pack)) => run_pack(&pack, env, stdout, stderr),
        Some(Command::Apply(apply)) => run_apply(&apply, env, stdin, stdout, stderr),
        None => run_main(&args.run, env, stdout, stderr),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            let mut ui = Ui::new(stderr, early_color, 0, false);
            ui.error(&e.to_string());
            e.exit_code()
        }
    }
}

fn check_request(request: Option<&str>) -> Result<&str, Error> {
    match request.map(str::trim) {
        Some(r) if !r.is_empty() => Ok(r),
        _ => Err(ConfigError::EmptyRequest.into()),
    }
}

/// `onepass "REQUEST" [PATHS...]`: every stage.
fn run_main(
    args: &RunArgs,
    env: &Env,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<Outcome, Error> {
    let request = check_request(args.request.as_deref())?;
    let flags = Layer::from_flags(&args.repo, Some(&args.pack), Some(&args.model));
    let cfg = Config::resolve(env, &args.repo, flags)?;
    // Refuse before the expensive part if the result could be neither confirmed nor written.
    if !args.outcome.yes && !args.outcome.dry_run && !env.interactive() {
        return Err(Error::NotInteractive);
    }
    let mut ui = Ui::new(
        stderr,
        cfg.color_stderr,
        cfg.verbosity,
        env.stderr_is_terminal,
    );

    let server = model::detect::connect(&cfg.server_settings())?;
    ui.detail(&format!(
        "server: {} at {} (model {})",
        server.kind, server.api, server.model
    ));
    let packed = pack_repo(&cfg, env, request, &args.paths, Some(&server), &mut ui)?;

    let max_tokens = cfg
        .settings
        .max_tokens
        .unwrap_or(cfg.reply_reserve().min(u32::MAX as usize) as u32);
    ui.waiting(&format!(
        "asking {} (~{} prompt tokens)",
        server.model,
        ui::thousands(packed.prompt_tokens)
    ));
    let sent = server.send(
        &packed.prompt,
        packed.prompt_tokens,
        max_tokens,
        &mut |event| ui.event(&event),
    );
    ui.reply_done();
    let reply = sent?;
    ui.summary(
        packed.files.len(),
        packed.omitted.len(),
        packed.prompt_tokens,
        server.context_window,
        &reply.stats,
    );
    if reply.truncated() {
        ui.warn(
            "the reply hit the token limit (finish_reason: length); only complete hunks are kept",
        );
    }
    let outcome = review_and_apply(
        &cfg,
        env,
        &reply.text,
        reply.truncated(),
        &args.outcome,
        request,
        stdout,
        &mut ui,
    )?;
    Ok(outcome)
}

/// `onepass pack "REQUEST"`: the prompt, the file list or the statistics, without sending anything.
fn run_pack(
    args: &PackArgs,
    env: &Env,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<Outcome, Error> {
    let request = check_request(Some(&args.request))?;
    let flags = Layer::from_flags(&args.repo, Some(&args.pack), Some(&args.model));
    let cfg = Config::resolve(env, &args.repo, flags)?;
    let mut ui = Ui::new(
        stderr,
        cfg.color_stderr,
        cfg.verbosity,
        env.stderr_is_terminal,
    );
    // The budget follows the server's real context window when a server answers; packing works without one.
    let server = match model::detect::connect(&cfg.server_settings()) {
        Ok(server) => Some(server),
        Err(e) => {
            ui.detail(&format!(
                "no server consulted ({e}); assuming a {} token context",
                cfg.context()
            ));
            None
        }
    };
    let packed = pack_repo(&cfg, env, request, &args.paths, server.as_ref(), &mut ui)?;
    let written = if args.list {
        packed
            .files
            .iter()
            .try_for_each(|f| writeln!(stdout, "{}", f.path))
    } else if args.json {
        let report = serde_json::json!({
            "request": request,
            "context_window": server.as_ref().and_then(|s| s.context_window).unwrap_or(cfg.context()),
            "reply_reserve": cfg.reply_reserve(),
            "budget": packed.budget,
            "template_tokens": packed.template_tokens,
            "prompt_tokens": packed.prompt_tokens,
            "files": packed.files,
            "omitted": packed.omitted,
            "skipped": packed.skipped,
        });
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )
    } else {
        write!(
            stdout,
            "<system>\n{}</system>\n<user>\n{}</user>\n",
            packed.prompt.system, packed.prompt.user
        )
    };
    written.map_err(|e| Error::Output(e.to_string()))?;
    Ok(Outcome::Printed)
}

/// `onepass apply FILE|-`: a reply obtained elsewhere, from extraction on.
fn run_apply(
    args: &ApplyArgs,
    env: &Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<Outcome, Error> {
    let flags = Layer::from_flags(&args.repo, None, None);
    let cfg = Config::resolve(env, &args.repo, flags)?;
    let mut ui = Ui::new(
        stderr,
        cfg.color_stderr,
        cfg.verbosity,
        env.stderr_is_terminal,
    );
    let mut bytes = Vec::new();
    let read = if args.file == "-" {
        stdin.read_to_end(&mut bytes).map(|_| ())
    } else {
        let path = env.cwd.join(&args.file);
        std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    read.map_err(|e| Error::Input {
        source_name: if args.file == "-" {
            "standard input".into()
        } else {
            args.file.clone()
        },
        message: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    if !args.outcome.yes && !args.outcome.dry_run && !env.interactive() {
        return Err(Error::NotInteractive);
    }
    let request = Path::new(&args.file)
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != "-")
        .unwrap_or("reply")
        .to_string();
    review_and_apply(
        &cfg,
        env,
        &text,
        false,
        &args.outcome,
        &request,
        stdout,
        &mut ui,
    )
}

/// Walk, resolve pins, rank, count, fit and render.
fn pack_repo(
    cfg: &Config,
    env: &Env,
    request: &str,
    pins: &[String],
    server: Option<&Server>,
    ui: &mut Ui<'_>,
) -> Result<Packed, Error> {
    let walk_options = cfg.walk_options();
    let mut walk = repo::walk::walk(&cfg.root, &walk_options)?;
    let pinned = pack::resolve_pins(
        &cfg.root,
        &env.cwd,
        pins,
        &mut walk,
        walk_options.max_file_size,
    )?;
    let templates = Templates::load(&cfg.template_dirs())?;
    let limits = Limits {
        budget: cfg.settings.budget,
        context: server
            .and_then(|s| s.context_window)
            .unwrap_or(cfg.context()),
        reply_reserve: cfg.reply_reserve(),
        max_file_size: walk_options.max_file_size,
    };
    let counter = pack::tokens::TokenCounter::new();
    let packed = pack::pack(
        &walk.files,
        walk.skipped,
        &pinned,
        request,
        limits,
        &templates,
        counter,
    )?;
    ui.status(&format!(
        "packed {} file{} (~{} tokens of a {} budget)",
        packed.files.len(),
        if packed.files.len() == 1 { "" } else { "s" },
        ui::thousands(packed.prompt_tokens),
        ui::thousands(packed.budget)
    ));
    for file in &packed.files {
        ui.detail(&format!("  {} ({} tokens)", file.path, file.tokens));
    }
    if !packed.omitted.is_empty() {
        let shown = if ui.verbose() {
            packed.omitted.len()
        } else {
            10
        };
        ui.status(&format!(
            "omitted {} file(s) that did not fit:",
            packed.omitted.len()
        ));
        for o in packed.omitted.iter().take(shown) {
            ui.status(&format!(
                "  {} ({} bytes, ~{} tokens)",
                o.path, o.bytes, o.tokens
            ));
        }
        if packed.omitted.len() > shown {
            ui.status(&format!(
                "  … and {} more (-v lists them all)",
                packed.omitted.len() - shown
            ));
        }
    }
    if !packed.skipped.is_empty() {
        ui.detail(&format!("skipped {} file(s):", packed.skipped.len()));
        for s in &packed.skipped {
            ui.detail(&format!("  {} ({})", s.path, s.reason));
        }
    }
    Ok(packed)
}

/// Extract, validate, preview, confirm, apply (or write the patch).
#[allow(clippy::too_many_arguments)]
fn review_and_apply(
    cfg: &Config,
    env: &Env,
    reply: &str,
    truncated: bool,
    outcome: &OutcomeOpts,
    request: &str,
    stdout: &mut dyn Write,
    ui: &mut Ui<'_>,
) -> Result<Outcome, Error> {
    let tree = repo::WorkTree::new(&cfg.root);
    let options = patch::Options {
        strict: false,
        truncated,
    };
    let plan = patch::plan(reply, &tree, &options)?;
    for dropped in &plan.dropped {
        ui.warn(&format!("dropped from the incomplete reply: {dropped}"));
    }
    if !plan.rejected.is_empty() {
        for r in &plan.rejected {
            let which = r.hunk.map(|h| format!(" hunk {h}")).unwrap_or_default();
            ui.error(&format!("{}{which}: {}", r.path, r.reason));
        }
        ui.status(&format!(
            "rejected: {} of the reply's changes cannot be placed exactly; nothing was applied",
            plan.rejected.len()
        ));
        return Ok(Outcome::Rejected);
    }
    let diff = patch::git_diff(&plan.changes, &[]);
    if diff.is_empty() {
        ui.status("the reply's diff changes nothing; nothing to apply");
        return Ok(Outcome::Empty);
    }
    let hunks: usize = plan.changes.iter().map(|c| c.hunks.len().max(1)).sum();
    let files = plan.changes.len();

    if outcome.dry_run {
        let target = outcome
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(apply::default_patch_name(request)));
        if target.as_os_str() == "-" {
            stdout
                .write_all(diff.as_bytes())
                .map_err(|e| Error::Output(e.to_string()))?;
        } else {
            let path = if target.is_absolute() {
                target
            } else if outcome.output.is_some() {
                env.cwd.join(target)
            } else {
                cfg.root.join(target)
            };
            let palette = Palette {
                enabled: cfg.color_stdout,
            };
            review::render::preview(stdout, &diff, &plan.changes, palette)
                .map_err(|e| Error::Output(e.to_string()))?;
            apply::write_patch(&path, &diff)?;
            ui.status(&format!(
                "wrote {} ({hunks} hunks, {files} files); nothing else was touched",
                path.display()
            ));
        }
        return Ok(Outcome::Written);
    }

    let palette = Palette {
        enabled: cfg.color_stdout,
    };
    review::render::preview(stdout, &diff, &plan.changes, palette)
        .map_err(|e| Error::Output(e.to_string()))?;
    let _ = stdout.flush();
    let question = format!(
        "Apply {hunks} hunk{} to {files} file{}?",
        if hunks == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    );
    let accepted = if outcome.yes {
        true
    } else {
        if !env.interactive() {
            return Err(Error::NotInteractive);
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact_on(&dialoguer::console::Term::stderr())
            .map_err(|e| Error::Terminal(e.to_string()))?
    };
    if !accepted {
        ui.status("nothing was applied");
        return Ok(Outcome::Declined);
    }
    apply::apply_to_workdir(&cfg.root, &diff)?;
    ui.status(&format!(
        "applied {hunks} hunk{} to {files} file{}",
        if hunks == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    ));
    Ok(Outcome::Applied)
}
