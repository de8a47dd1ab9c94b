//! `onepass apply FILE|-`: a model reply obtained elsewhere, from extraction on.

use std::io::Read;
use std::path::Path;

use crate::Io;
use crate::cli::ApplyArgs;
use crate::config::{Config, Layer};
use crate::env::Env;
use crate::error::{Error, Outcome};
use crate::report::Report;
use crate::ui::Ui;

use super::{Tail, finish, guard_reply, review_and_apply};

pub fn run(args: &ApplyArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io {
        stdin,
        stdout,
        stderr,
    } = io;
    let mut report = Report::default();
    let mut ui = super::early_ui(&args.repo, env, stderr);
    let result = apply(args, env, stdin, stdout, &mut ui, &mut report);
    finish(result, args.outcome.json, report, stdout, &mut ui)
}

fn apply(
    args: &ApplyArgs,
    env: &Env,
    stdin: &mut dyn Read,
    stdout: &mut dyn std::io::Write,
    ui: &mut Ui<'_>,
    report: &mut Report,
) -> Result<Outcome, Error> {
    let flags = Layer::from_flags(&args.repo, None, None);
    let cfg = Config::resolve(env, &args.repo, flags)?;
    ui.set_color(cfg.color_stderr);
    if !args.outcome.yes && !args.outcome.dry_run && !args.outcome.check && !env.interactive() {
        return Err(Error::NotInteractive);
    }
    // The same cap as a streamed reply: a gigantic input is refused, not read whole.
    let limit = cfg.server_settings().limits.max_reply_bytes as u64;
    let mut bytes = Vec::new();
    let read = if args.file == "-" {
        stdin.take(limit + 1).read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(env.cwd.join(&args.file))
            .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes).map(|_| ()))
    };
    let source_name = if args.file == "-" {
        "standard input".to_string()
    } else {
        args.file.clone()
    };
    read.map_err(|e| Error::Input {
        source_name: source_name.clone(),
        message: e.to_string(),
    })?;
    if bytes.len() as u64 > limit {
        return Err(Error::Input {
            source_name,
            message: format!(
                "it is larger than the {limit} byte cap on replies (ONEPASS_MAX_REPLY_BYTES); nothing was applied"
            ),
        });
    }
    let text = String::from_utf8_lossy(&bytes);
    let request = Path::new(&args.file)
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != "-")
        .unwrap_or("reply")
        .to_string();
    let tail = Tail {
        outcome: &args.outcome,
        request: &request,
        model: None,
        truncated: false,
        must_confirm: false,
    };
    if let Some(refused) = guard_reply(&text, args.outcome.allow_modes, ui) {
        return Ok(refused);
    }
    review_and_apply(&cfg, env, &text, &tail, stdout, ui, report)
}
