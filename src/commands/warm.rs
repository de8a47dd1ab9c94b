//! `onepass warm ["REQUEST"]`: send the stable part of the prompt (instructions and repository context, not
//! the request) with generation off, so the server has it cached when the real request comes and processes
//! only the request's own tokens. On llama.cpp with `--slot-save-path`, the warmed slot is saved to disk and
//! restored on a later run, even after a server restart. `--watch` warms again when the context's files change.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::Io;
use crate::cli::WarmArgs;
use crate::config::{Config, Layer};
use crate::env::Env;
use crate::error::{Error, Outcome};
use crate::model::{self, ServerKind, llamacpp};
use crate::prompt::Prompt;
use crate::report::{Metrics, Report, ServerReport, SlotReport};
use crate::session::{self, SavedSlot};
use crate::ui::{self, Ui};

use super::single::{
    Job, Prepared, Request, Selection, prefix_key_of, prepare, restore_saved_slot,
};
use super::{finish, report_files};

/// How often `--watch` looks at the files, and how long they must stay still before warming again.
const POLL: Duration = Duration::from_millis(500);
const SETTLE: Duration = Duration::from_millis(1500);

pub fn run(args: &WarmArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let job = Job {
        request: match &args.request {
            Some(r) => Request::Given(Some(r)),
            None => Request::Again { note: None },
        },
        selection: if args.request.is_some() {
            Selection::Fresh(&args.paths)
        } else {
            Selection::Previous
        },
        repo: &args.repo,
        pack: &args.pack,
        model: &args.model,
        outcome: &args.outcome,
    };
    let mut report = Report::default();
    let mut ui = super::early_ui(&args.repo, env, stderr);
    let result = warm(&job, args.watch, env, &mut ui, &mut report);
    finish(result, args.outcome.json, report, stdout, &mut ui)
}

fn warm(
    job: &Job<'_>,
    watch: bool,
    env: &Env,
    ui: &mut Ui<'_>,
    report: &mut Report,
) -> Result<Outcome, Error> {
    let flags = Layer::from_flags(job.repo, Some(job.pack), Some(job.model));
    let cfg = Config::resolve(env, job.repo, flags)?;
    ui.set_color(cfg.color_stderr);
    let server = model::detect::connect(&cfg.server_settings())?;
    report.server = Some(ServerReport::of(&server));
    let mut job = Job { ..*job };
    loop {
        let prepared = prepare(&job, &cfg, env, &server, ui)?;
        super::report_secrets(ui, &prepared.withheld);
        report_files(report, &prepared.packed, &prepared.withheld);
        if job.outcome.dry_run {
            ui.status(&format!(
                "would warm {} files (~{} tokens); nothing sent (--dry-run)",
                prepared.packed.files.len(),
                ui::thousands(prepared.packed.prompt_tokens)
            ));
            return Ok(Outcome::Printed);
        }
        warm_once(&cfg, &server, &prepared, ui, report)?;
        if !watch {
            return Ok(Outcome::Printed);
        }
        // From now on, the same context: unchanged files keep their place, changed ones move to the end.
        job.selection = Selection::Previous;
        job.request = Request::Again { note: None };
        ui.status("watching the context's files for changes (Ctrl-C to stop)");
        wait_for_change(&cfg, &prepared)?;
    }
}

/// Send the prompt up to its request, with generation off, then save the slot where the server can.
fn warm_once(
    cfg: &Config,
    server: &model::Server,
    prepared: &Prepared,
    ui: &mut Ui<'_>,
    report: &mut Report,
) -> Result<(), Error> {
    let prompt = &prepared.packed.prompt;
    let cut = prompt
        .user
        .rfind(prepared.request.trim())
        .unwrap_or(prompt.user.len());
    let prefix = Prompt {
        system: prompt.system.clone(),
        user: prompt.user[..cut].to_string(),
    };
    report.slot = restore_saved_slot(cfg, server, prompt, &prepared.request, ui);
    let generate = if server.kind == ServerKind::LlamaCpp {
        0
    } else {
        1
    };
    let estimate = prepared.exact.unwrap_or(prepared.packed.prompt_tokens);
    ui.waiting(&format!(
        "warming {} (~{} prompt tokens)",
        server.model,
        ui::thousands(estimate)
    ));
    let sent = server.send(&prefix, estimate, generate, &mut |event| {
        if !matches!(event, model::Event::Text(_)) {
            ui.event(&event)
        }
    });
    ui.reply_done();
    let reply = sent?;
    report.metrics = Some(Metrics::of(&reply.stats, reply.finish_reason.clone()));
    let stats = &reply.stats;
    ui.status(&format!(
        "warmed: {} prompt tokens{}{}",
        stats
            .prompt_tokens
            .map_or("?".into(), |n| ui::thousands(n as usize)),
        stats
            .cached_tokens
            .map(|c| format!(" ({} already cached)", ui::thousands(c as usize)))
            .unwrap_or_default(),
        stats
            .prefill_ms
            .or(stats.ttft_ms)
            .map(|ms| format!(", prefill {:.1} s", ms / 1000.0))
            .unwrap_or_else(|| format!(", {:.1} s", stats.total_ms / 1000.0)),
    ));
    if server.kind != ServerKind::LlamaCpp {
        return Ok(());
    }
    let key = prefix_key_of(server, prompt, &prepared.request);
    let mut state = session::load_slots(&cfg.root);
    state.last_prefix.insert(server.api.clone(), key.clone());
    let filename = format!("onepass-{}.bin", &key[..16.min(key.len())]);
    match llamacpp::save_slot(server, &filename) {
        Ok(file) => {
            ui.status(&format!(
                "saved the warmed slot: {} tokens to {} ({}); later runs restore it, even after a server restart",
                ui::thousands(file.tokens as usize),
                file.filename,
                ui::bytes(file.bytes)
            ));
            state
                .saved
                .retain(|s| !(s.api == server.api && s.prefix == key));
            state.saved.push(SavedSlot {
                api: server.api.clone(),
                model: server.model.clone(),
                prefix: key,
                filename: file.filename.clone(),
                tokens: file.tokens,
                bytes: file.bytes,
            });
            report.slot = Some(SlotReport {
                action: "saved",
                file,
            });
        }
        Err(e) => ui.detail(&format!("slot not saved: {e}")),
    }
    let _ = session::save_slots(&cfg.root, &state);
    Ok(())
}

/// Block until a file of the context changes and then stays unchanged for a moment.
fn wait_for_change(cfg: &Config, prepared: &Prepared) -> Result<(), Error> {
    let paths: Vec<String> = prepared
        .packed
        .files
        .iter()
        .map(|f| f.path.clone())
        .collect();
    let stamp = || -> BTreeMap<String, Option<(SystemTime, u64)>> {
        paths
            .iter()
            .map(|p| {
                let meta = std::fs::metadata(cfg.root.join(p)).ok();
                (
                    p.clone(),
                    meta.and_then(|m| Some((m.modified().ok()?, m.len()))),
                )
            })
            .collect()
    };
    let start = stamp();
    let mut seen = start.clone();
    let mut changed_at = std::time::Instant::now();
    loop {
        std::thread::sleep(POLL);
        let now = stamp();
        if now != seen {
            seen = now;
            changed_at = std::time::Instant::now();
        } else if seen != start && changed_at.elapsed() >= SETTLE {
            return Ok(());
        }
    }
}
