//! `onepass undo [--yes]`: restore the files as they were before the last change onepass applied, exactly,
//! and take back its commit; refused, with the files named, when they changed since.

use crate::Io;
use crate::cli::UndoArgs;
use crate::config::{Config, Layer};
use crate::env::Env;
use crate::error::{Error, Outcome};
use crate::report::Report;
use crate::ui::Ui;

use super::finish;

pub fn run(args: &UndoArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let mut ui = super::early_ui(&args.repo, env, stderr);
    let result = undo(args, env, &mut ui);
    finish(result, false, Report::default(), stdout, &mut ui)
}

fn undo(args: &UndoArgs, env: &Env, ui: &mut Ui<'_>) -> Result<Outcome, Error> {
    let flags = Layer::from_flags(&args.repo, None, None);
    let cfg = Config::resolve(env, &args.repo, flags)?;
    ui.set_color(cfg.color_stderr);
    let paths = crate::apply::undo(&cfg.root, true)?;
    if !args.yes {
        if !env.interactive() {
            return Err(Error::Usage(
                "no terminal to ask for confirmation: pass --yes to undo the last change".into(),
            ));
        }
        let prompt = format!(
            "Restore {} file{} as they were before the last change ({})?",
            paths.len(),
            if paths.len() == 1 { "" } else { "s" },
            paths.join(", ")
        );
        let yes = crate::review::interactive::confirm(&prompt)
            .map_err(|e| Error::Terminal(e.to_string()))?;
        if !yes {
            ui.status("nothing was restored");
            return Ok(Outcome::Declined);
        }
    }
    let paths = crate::apply::undo(&cfg.root, false)?;
    for p in &paths {
        ui.detail(&format!("  restored {p}"));
    }
    ui.status(&format!(
        "restored {} file{} as they were before the last change",
        paths.len(),
        if paths.len() == 1 { "" } else { "s" }
    ));
    Ok(Outcome::Applied)
}
