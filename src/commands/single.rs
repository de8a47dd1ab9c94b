//! `onepass "REQUEST" [PATHS...]`: the single pass, every stage.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Io;
use crate::cli::ReplyFormat;
use crate::cli::RunArgs;
use crate::config::{Config, Layer};
use crate::env::Env;
use crate::error::{Error, Outcome};
use crate::model::{self, Server, llamacpp};
use crate::pack::tokens::TokenCounter;
use crate::pack::{Limits, Packed};
use crate::prompt::Templates;
use crate::repo::walk;
use crate::report::{Estimate, Metrics, Report, ServerReport, SlotReport};
use crate::runlog::{self, RunLog, RunRecord};
use crate::secrets::Withheld;
use crate::session;
use crate::ui::{self, Ui};

use super::{
    Tail, check_request, finish, guard_reply, pack_walked, report_files, report_packing,
    report_secrets, review_and_apply, walk_repo,
};

/// A server whose prompt count falls below this share of the expected count has cut the prompt.
const TRUNCATION_SHARE: f64 = 0.8;
/// Margin on estimates for servers that cannot count tokens, until a run has measured the real ratio.
const UNCOUNTED_MARGIN: f64 = 1.1;

/// Where the files of the prompt come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection<'a> {
    /// Rank and pack the repository afresh, with these pinned paths.
    Fresh(&'a [String]),
    /// The files of the last run, in the same order (changed files at the end).
    Previous,
}

/// The request of a run: given, or the last one again with an optional note.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    Given(Option<&'a str>),
    Again { note: Option<&'a str> },
}

/// One single-pass job: the main command, `--same-context` and `again` are all this.
pub struct Job<'a> {
    pub request: Request<'a>,
    pub selection: Selection<'a>,
    pub repo: &'a crate::cli::RepoArgs,
    pub pack: &'a crate::cli::PackOpts,
    pub model: &'a crate::cli::ModelOpts,
    pub outcome: &'a crate::cli::OutcomeOpts,
}

pub fn run(args: &RunArgs, env: &Env, io: Io<'_>) -> u8 {
    let job = Job {
        request: Request::Given(args.request.as_deref()),
        selection: if args.same_context {
            Selection::Previous
        } else {
            Selection::Fresh(&args.paths)
        },
        repo: &args.repo,
        pack: &args.pack,
        model: &args.model,
        outcome: &args.outcome,
    };
    run_job(&job, env, io)
}

pub fn run_again(args: &crate::cli::AgainArgs, env: &Env, io: Io<'_>) -> u8 {
    let job = Job {
        request: Request::Again {
            note: args.note.as_deref(),
        },
        selection: Selection::Previous,
        repo: &args.repo,
        pack: &args.pack,
        model: &args.model,
        outcome: &args.outcome,
    };
    run_job(&job, env, io)
}

pub fn run_job(job: &Job<'_>, env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let mut report = Report::default();
    let mut ui = super::early_ui(job.repo, env, stderr);
    let result = single_pass(job, env, stdout, &mut ui, &mut report);
    finish(result, job.outcome.json, report, stdout, &mut ui)
}

/// The prompt of a run and where it came from.
pub struct Prepared {
    pub packed: Packed,
    pub request: String,
    /// The server's exact count of the prompt, where it can count.
    pub exact: Option<usize>,
    pub token_ratio: f64,
    /// Measured prefill speed of this server and model (run log).
    pub speed: Option<f64>,
    /// Files and passages kept out of the prompt as secrets.
    pub withheld: Withheld,
}

/// Resolve the request, connect, and build the prompt (fresh or from the last run's session); the session is
/// saved for the next run.
pub fn prepare(
    job: &Job<'_>,
    cfg: &Config,
    env: &Env,
    server: &Server,
    ui: &mut Ui<'_>,
) -> Result<Prepared, Error> {
    let log = RunLog::open(env);
    let records = log.as_ref().map(RunLog::read).unwrap_or_default();
    let speed = runlog::prefill_speed(&records, &server.api, &server.model);
    let learned = runlog::token_ratio(&records, &server.api, &server.model);
    let ratio = learned.unwrap_or(if server.kind.can_tokenize() {
        1.0
    } else {
        UNCOUNTED_MARGIN
    });
    let templates = Templates::load(&cfg.template_dirs())?;
    let mut limits = Limits {
        budget: cfg.settings.budget,
        context: server.context_window.unwrap_or(cfg.context()),
        reply_reserve: cfg.reply_reserve(),
        max_file_size: cfg.walk_options().max_file_size,
        token_ratio: ratio,
    };
    if let Some(max) = job.model.max_prefill {
        match speed {
            Some(tps) => {
                let fits = (tps * max.as_secs_f64()) as usize;
                let current = limits.budget.unwrap_or(limits.context.saturating_sub(limits.reply_reserve));
                if fits < current {
                    ui.status(&format!(
                        "--max-prefill {:.0}s at {tps:.0} tok/s: budget lowered to {} tokens",
                        max.as_secs_f64(),
                        ui::thousands(fits)
                    ));
                    limits.budget = Some(fits);
                }
            }
            None => ui.warn(
                "no prefill speed has been measured for this server yet; --max-prefill applies from the next run",
            ),
        }
    }

    let withheld;
    let (packed, request, exact, next) = match job.selection {
        Selection::Fresh(pins) => {
            let request = check_request(match job.request {
                Request::Given(r) => r,
                Request::Again { .. } => None,
            })?
            .to_string();
            ui.busy("reading and packing the repository");
            let preparing = super::prepare_pack(&cfg.root, &request);
            let walked = walk_repo(cfg, env, pins);
            let prepared = preparing.join();
            let packed = walked.and_then(|mut w| {
                pack_walked(&prepared, &mut w, &request, limits, &templates).map(|p| (w, p))
            });
            ui.reply_done();
            let (mut walked, mut packed) = packed?;
            // The reply format changes the instructions: settle it before anything is counted.
            let with_format =
                |mut packed: Packed, walked: &super::Walked| -> Result<Packed, Error> {
                    let format = reply_format(cfg.settings.format, walked, &packed);
                    if format == "whole" {
                        packed.context["format"] = serde_json::json!(format);
                        packed.prompt = templates.render_value(&packed.context, &request)?;
                    }
                    Ok(packed)
                };
            packed = with_format(packed, &walked)?;
            // Where the server can count, the real count decides; re-pack when the estimate was too low.
            let mut exact = None;
            if server.kind.can_tokenize() {
                for _ in 0..3 {
                    let Some(count) = server.count_tokens(&packed.prompt) else {
                        break;
                    };
                    exact = Some(count);
                    if count <= packed.budget || packed.files.iter().all(|f| f.pinned) {
                        break;
                    }
                    limits.token_ratio *= count as f64 / packed.prompt_tokens.max(1) as f64 * 1.02;
                    ui.detail(&format!(
                        "the server counts {count} tokens against an estimate of {}: packing again",
                        packed.prompt_tokens
                    ));
                    let repacked =
                        pack_walked(&prepared, &mut walked, &request, limits, &templates)?;
                    packed = with_format(repacked, &walked)?;
                    exact = None;
                }
            }
            withheld = super::withheld(&walked, &packed);
            let next = session::from_context(&request, &packed.context);
            (packed, request, exact, next)
        }
        Selection::Previous => {
            let previous = session::load(&cfg.root)?;
            let request = match job.request {
                Request::Given(r) => check_request(r)?.to_string(),
                Request::Again { note: None } => previous.request.clone(),
                Request::Again { note: Some(note) } => {
                    format!("{}\n\n{}", previous.request.trim_end(), note.trim())
                }
            };
            let max_size = cfg.walk_options().max_file_size;
            let root = cfg.root.clone();
            let allow_secrets = cfg.allow_secrets();
            let found = std::cell::RefCell::new(Withheld::default());
            // The same rules as a fresh walk: secret files stay out, secrets inside files are redacted.
            let read = |path: &str| {
                let mut files = vec![walk::read_one(&root, path, max_size).ok()?];
                if !allow_secrets {
                    let mut skipped = Vec::new();
                    found
                        .borrow_mut()
                        .merge(crate::secrets::withhold(&mut files, &mut skipped));
                }
                files.pop().map(walk::Candidate::into_text)
            };
            let rebuilt = session::rebuild(&previous, &request, &templates, &read)?;
            withheld = found.into_inner();
            if !rebuilt.changed.is_empty() {
                ui.status(&format!(
                    "changed since the last run (moved to the end of the context): {}",
                    rebuilt.changed.join(", ")
                ));
            }
            if !rebuilt.removed.is_empty() {
                ui.warn(&format!(
                    "no longer readable, left out: {}",
                    rebuilt.removed.join(", ")
                ));
            }
            let packed = packed_from_session(&rebuilt, limits, &request, &templates)?;
            let exact = if server.kind.can_tokenize() {
                server.count_tokens(&packed.prompt)
            } else {
                None
            };
            // The selection was sized by the run that made it (perhaps with another --budget); what must
            // hold now is that it still fits the window.
            let size = exact.unwrap_or(packed.prompt_tokens);
            if size >= limits.context {
                return Err(Error::Usage(format!(
                    "the last run's context has grown to {} tokens, over the {}-token context window: run without --same-context to pack again",
                    ui::thousands(size),
                    ui::thousands(limits.context)
                )));
            }
            (packed, request, exact, rebuilt.session)
        }
    };
    if let Err(e) = session::save(&cfg.root, &next) {
        ui.detail(&format!(
            "could not remember this context for `onepass again`: {e}"
        ));
    }
    Ok(Prepared {
        packed,
        request,
        exact,
        token_ratio: limits.token_ratio,
        speed,
        withheld,
    })
}

/// Small files are asked for whole under `--format auto`: every packed file has at most this many lines.
const AUTO_WHOLE_LINES: usize = 80;

/// "whole" or "diff": what the system prompt asks the model to write.
fn reply_format(
    setting: Option<ReplyFormat>,
    walked: &super::Walked,
    packed: &Packed,
) -> &'static str {
    match setting.unwrap_or(ReplyFormat::Auto) {
        ReplyFormat::Diff => "diff",
        ReplyFormat::Whole => "whole",
        ReplyFormat::Auto => {
            let lines = |path: &str| {
                walked
                    .walk
                    .files
                    .iter()
                    .find(|f| f.path == path)
                    .map_or(usize::MAX, |f| f.text().lines().count())
            };
            let small = !packed.files.is_empty()
                && packed
                    .files
                    .iter()
                    .all(|f| lines(&f.path) <= AUTO_WHOLE_LINES);
            if small { "whole" } else { "diff" }
        }
    }
}

/// The account of a prompt rebuilt from a session, in the shape the rest of the run expects.
fn packed_from_session(
    rebuilt: &session::Rebuilt,
    limits: Limits,
    request: &str,
    templates: &Templates,
) -> Result<Packed, Error> {
    let counter = TokenCounter::new();
    let scale = |n: usize| (n as f64 * limits.token_ratio).ceil() as usize;
    let bare = templates.render(&[], &[], request)?;
    let files = rebuilt
        .session
        .files
        .iter()
        .map(|f| crate::pack::PackedFile {
            path: f.path.clone(),
            tokens: 0,
            bytes: 0,
            pinned: false,
            score: 0.0,
            reasons: Vec::new(),
        })
        .collect();
    Ok(Packed {
        prompt: rebuilt.prompt.clone(),
        // Not used: the next session is the rebuilt one.
        context: serde_json::Value::Null,
        files,
        outlined: Vec::new(),
        omitted: Vec::new(),
        skipped: Vec::new(),
        ranking: Vec::new(),
        ids: Vec::new(),
        redactions: Vec::new(),
        clean: Vec::new(),
        dirty: Default::default(),
        budget: limits
            .budget
            .unwrap_or(limits.context.saturating_sub(limits.reply_reserve)),
        template_tokens: scale(counter.count(&bare.system) + counter.count(&bare.user)),
        tree_tokens: 0,
        prompt_tokens: scale(
            counter.count(&rebuilt.prompt.system) + counter.count(&rebuilt.prompt.user),
        ),
        counted: 0,
        cache_hits: 0,
        timings_ms: Default::default(),
    })
}

fn single_pass(
    job: &Job<'_>,
    env: &Env,
    stdout: &mut dyn std::io::Write,
    ui: &mut Ui<'_>,
    report: &mut Report,
) -> Result<Outcome, Error> {
    if let (Selection::Fresh(_), Request::Given(r)) = (job.selection, job.request) {
        check_request(r)?;
    }
    let flags = Layer::from_flags(job.repo, Some(job.pack), Some(job.model));
    let cfg = Config::resolve(env, job.repo, flags)?;
    ui.set_color(cfg.color_stderr);
    if job.outcome.json
        && job.outcome.dry_run
        && job.outcome.output.as_deref() == Some(std::path::Path::new("-"))
    {
        return Err(Error::Usage(
            "--json and -o - both want standard output; write the patch to a file".into(),
        ));
    }
    // Refuse before the expensive part if the result could be neither confirmed nor written.
    if !job.outcome.yes && !job.outcome.dry_run && !job.outcome.check && !env.interactive() {
        return Err(Error::NotInteractive);
    }
    if job.selection == Selection::Previous {
        session::load(&cfg.root)?;
    }

    let server = model::detect::connect(&cfg.server_settings())?;
    report.server = Some(ServerReport::of(&server));
    ui.detail(&format!(
        "server: {} {} at {} (model {}, context {})",
        server.kind,
        server.version.as_deref().unwrap_or(""),
        server.api,
        server.model,
        server
            .context_window
            .map_or("unknown".into(), ui::thousands)
    ));

    let Prepared {
        packed,
        request,
        exact,
        token_ratio,
        speed,
        withheld,
    } = prepare(job, &cfg, env, &server, ui)?;
    let request = request.as_str();
    report_packing(ui, &packed);
    report_secrets(ui, &withheld);
    report_files(report, &packed, &withheld);
    let slot = restore_saved_slot(&cfg, &server, &packed.prompt, request, ui);
    report.slot = slot;
    let expected = exact.unwrap_or(packed.prompt_tokens);
    let eta_ms = speed.map(|tps| expected as f64 / tps * 1000.0);
    report.estimate = Some(Estimate {
        prompt_tokens: expected,
        exact: exact.is_some(),
        prefill_ms: eta_ms,
        prefill_tps: speed,
    });
    ui.status(&decision_line(
        expected,
        exact.is_some(),
        speed,
        server.context_window,
    ));

    let max_tokens = cfg
        .settings
        .max_tokens
        .unwrap_or(cfg.reply_reserve().min(u32::MAX as usize) as u32);
    ui.waiting(&format!(
        "asking {} ({} prompt tokens)",
        server.model,
        ui::thousands(expected)
    ));
    let sent = server.send(&packed.prompt, expected, max_tokens, &mut |event| {
        ui.event(&event)
    });
    ui.reply_done();
    remember_prefix(&cfg, &server, &packed.prompt, request);
    let reply = sent?;
    report.metrics = Some(Metrics::of(&reply.stats, reply.finish_reason.clone()));
    let remote = (!server.is_loopback()).then(|| host_of(&server.api));
    let facts = ui::RunFacts {
        packed: packed.files.len(),
        omitted: packed.omitted.len(),
        estimate: expected,
        window: server.context_window,
        speed,
        remote_host: remote.as_deref(),
    };
    ui.summary(&facts, &reply.stats);

    let truncated_prompt = prompt_was_cut(&server, &reply.stats, expected);
    if let Some(seen) = truncated_prompt {
        ui.warn(&format!(
            "the server processed only {} of about {} prompt tokens: it probably truncated the prompt \
             (raise --context or the server's context size); the change needs your confirmation",
            ui::thousands(seen as usize),
            ui::thousands(expected)
        ));
    }
    if reply.truncated() {
        ui.warn(
            "the reply hit the token limit (finish_reason: length); only complete hunks are kept",
        );
    }
    let tail = Tail {
        outcome: job.outcome,
        request,
        model: Some(&server.model),
        truncated: reply.truncated(),
        must_confirm: truncated_prompt.is_some(),
    };
    let outcome = match guard_reply(&reply.text, job.outcome.allow_modes, ui) {
        Some(refused) => Ok(refused),
        None => review_and_apply(&cfg, env, &reply.text, &tail, stdout, ui, report),
    };

    if let Some(log) = RunLog::open(env) {
        let record = RunRecord {
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            kind: server.kind.name().into(),
            api: server.api.clone(),
            model: server.model.clone(),
            context_window: server.context_window,
            estimate_tokens: ((packed.prompt_tokens as f64) / token_ratio).round() as usize,
            exact_tokens: exact,
            stats: reply.stats.clone(),
            outcome: format!("{:?}", outcome.as_ref().ok()).to_lowercase(),
        };
        if let Err(e) = log.append(&record) {
            ui.detail(&format!("could not write the run log: {e}"));
        }
    }
    outcome
}

/// The key of the prompt's stable prefix on this server (model, context window, everything before the request).
pub fn prefix_key_of(server: &Server, prompt: &crate::prompt::Prompt, request: &str) -> String {
    session::prefix_key(
        &server.model,
        server.context_window,
        &session::stable_prefix(prompt, request),
    )
}

/// Remember what the server's pinned slot now holds.
fn remember_prefix(cfg: &Config, server: &Server, prompt: &crate::prompt::Prompt, request: &str) {
    if server.kind != model::ServerKind::LlamaCpp {
        return;
    }
    let mut state = session::load_slots(&cfg.root);
    state
        .last_prefix
        .insert(server.api.clone(), prefix_key_of(server, prompt, request));
    let _ = session::save_slots(&cfg.root, &state);
}

/// Before sending to llama.cpp: if a slot saved for exactly this prefix exists and the server's slot does not
/// hold it (a restart, or another prompt since), restore it so the prefix is not processed again.
pub fn restore_saved_slot(
    cfg: &Config,
    server: &Server,
    prompt: &crate::prompt::Prompt,
    request: &str,
    ui: &mut Ui<'_>,
) -> Option<SlotReport> {
    if server.kind != model::ServerKind::LlamaCpp {
        return None;
    }
    let key = prefix_key_of(server, prompt, request);
    let state = session::load_slots(&cfg.root);
    let saved = state
        .saved
        .iter()
        .rev()
        .find(|s| s.prefix == key && s.model == server.model && s.api == server.api)?;
    let holds_it = state.last_prefix.get(&server.api) == Some(&key);
    let empty = llamacpp::slot_is_empty(server).unwrap_or(true);
    if holds_it && !empty {
        return None;
    }
    match llamacpp::restore_slot(server, &saved.filename) {
        Ok(file) => {
            ui.status(&format!(
                "restored {} cached prompt tokens from {} ({})",
                ui::thousands(file.tokens as usize),
                file.filename,
                ui::bytes(file.bytes)
            ));
            Some(SlotReport {
                action: "restored",
                file,
            })
        }
        Err(e) => {
            ui.detail(&format!("could not restore the saved slot: {e}"));
            None
        }
    }
}

/// The seed's decision point: how big the prompt is and how long its prefill should take.
pub fn decision_line(
    tokens: usize,
    exact: bool,
    speed: Option<f64>,
    window: Option<usize>,
) -> String {
    let about = if exact { "" } else { "About " };
    let mut line = format!(
        "{}{} prompt tokens{}",
        about,
        ui::thousands(tokens),
        if exact {
            " (counted by the server)"
        } else {
            ""
        }
    );
    if let Some(window) = window {
        line.push_str(&format!(" of a {} context", ui::thousands(window)));
    }
    match speed {
        Some(tps) => line.push_str(&format!(
            "; at this server's measured {tps:.0} tok/s prefill, about {} before the first token.",
            seconds(tokens as f64 / tps)
        )),
        None => line.push('.'),
    }
    if line.starts_with(char::is_lowercase) {
        line
    } else {
        let mut chars = line.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
            .unwrap_or_default()
    }
}

fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

/// Ollama silently drops part of a prompt that does not fit: its count of what it processed is the alarm.
fn prompt_was_cut(server: &Server, stats: &model::Stats, expected: usize) -> Option<u64> {
    if server.kind != model::ServerKind::Ollama {
        return None;
    }
    let seen = stats.prompt_tokens?;
    ((seen as f64) < expected as f64 * TRUNCATION_SHARE).then_some(seen)
}

fn host_of(api: &str) -> String {
    reqwest::Url::parse(api)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| api.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_line() {
        assert_eq!(
            decision_line(24_300, false, Some(850.0), None),
            "About 24,300 prompt tokens; at this server's measured 850 tok/s prefill, about 29 s before the first token."
        );
        assert_eq!(
            decision_line(1_000, true, None, Some(8192)),
            "1,000 prompt tokens (counted by the server) of a 8,192 context."
        );
    }
}
