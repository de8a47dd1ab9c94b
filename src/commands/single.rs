//! `onepass "REQUEST" [PATHS...]`: the single pass, every stage.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Io;
use crate::cli::RunArgs;
use crate::config::{Config, Layer};
use crate::env::Env;
use crate::error::{Error, Outcome};
use crate::model::{self, Server};
use crate::pack::Limits;
use crate::prompt::Templates;
use crate::report::{Estimate, Metrics, Report, ServerReport};
use crate::runlog::{self, RunLog, RunRecord};
use crate::ui::{self, Ui};

use super::{
    Tail, check_request, finish, pack_walked, report_files, report_packing, review_and_apply,
    walk_repo,
};

/// A server whose prompt count falls below this share of the expected count has cut the prompt.
const TRUNCATION_SHARE: f64 = 0.8;
/// Margin on estimates for servers that cannot count tokens, until a run has measured the real ratio.
const UNCOUNTED_MARGIN: f64 = 1.1;

pub fn run(args: &RunArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let json = args.outcome.json;
    let color = crate::config::color_enabled(
        args.repo.color.unwrap_or(crate::cli::ColorChoice::Auto),
        env,
        env.stderr_is_terminal,
    );
    let mut report = Report::default();
    let mut ui = Ui::new(stderr, color, args.repo.verbosity(), env.stderr_is_terminal);
    let result = single_pass(args, env, stdout, &mut ui, &mut report);
    finish(result, json, report, stdout, &mut ui)
}

fn single_pass(
    args: &RunArgs,
    env: &Env,
    stdout: &mut dyn std::io::Write,
    ui: &mut Ui<'_>,
    report: &mut Report,
) -> Result<Outcome, Error> {
    let request = check_request(args.request.as_deref())?;
    let flags = Layer::from_flags(&args.repo, Some(&args.pack), Some(&args.model));
    let cfg = Config::resolve(env, &args.repo, flags)?;
    ui.set_color(cfg.color_stderr);
    if args.outcome.json
        && args.outcome.dry_run
        && args.outcome.output.as_deref() == Some(std::path::Path::new("-"))
    {
        return Err(Error::Usage(
            "--json and -o - both want standard output; write the patch to a file".into(),
        ));
    }
    // Refuse before the expensive part if the result could be neither confirmed nor written.
    if !args.outcome.yes && !args.outcome.dry_run && !env.interactive() {
        return Err(Error::NotInteractive);
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
    if !server.is_loopback() {
        ui.status(&format!(
            "note: the prompt is sent to {}, outside this machine",
            host_of(&server.api)
        ));
    }

    let log = RunLog::open(env);
    let records = log.as_ref().map(RunLog::read).unwrap_or_default();
    let speed = runlog::prefill_speed(&records, &server.api, &server.model);
    let learned = runlog::token_ratio(&records, &server.api, &server.model);
    let ratio = learned.unwrap_or(if server.kind.can_tokenize() {
        1.0
    } else {
        UNCOUNTED_MARGIN
    });

    let preparing = super::prepare_pack(&cfg.root);
    let walked = walk_repo(&cfg, env, &args.paths)?;
    let templates = Templates::load(&cfg.template_dirs())?;
    let mut limits = Limits {
        budget: cfg.settings.budget,
        context: server.context_window.unwrap_or(cfg.context()),
        reply_reserve: cfg.reply_reserve(),
        max_file_size: cfg.walk_options().max_file_size,
        token_ratio: ratio,
    };
    if let Some(max) = args.model.max_prefill {
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
            None => ui.warn("no prefill speed has been measured for this server yet; --max-prefill applies from the next run"),
        }
    }

    let prepared = preparing.join();
    let mut packed = pack_walked(&prepared, &walked, request, limits, &templates)?;
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
            packed = pack_walked(&prepared, &walked, request, limits, &templates)?;
            exact = None;
        }
    }
    report_packing(ui, &packed);
    report_files(report, &packed);

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
    let reply = sent?;
    report.metrics = Some(Metrics::of(&reply.stats, reply.finish_reason.clone()));
    ui.summary(
        packed.files.len(),
        packed.omitted.len(),
        expected,
        server.context_window,
        &reply.stats,
    );

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
        outcome: &args.outcome,
        request,
        truncated: reply.truncated(),
        must_confirm: truncated_prompt.is_some(),
    };
    let outcome = review_and_apply(&cfg, env, &reply.text, &tail, stdout, ui, report);

    if let Some(log) = &log {
        let record = RunRecord {
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            kind: server.kind.name().into(),
            api: server.api.clone(),
            model: server.model.clone(),
            context_window: server.context_window,
            estimate_tokens: ((packed.prompt_tokens as f64) / limits.token_ratio).round() as usize,
            exact_tokens: exact,
            prompt_tokens: reply.stats.prompt_tokens,
            cached_tokens: reply.stats.cached_tokens,
            prefill_ms: reply.stats.prefill_ms,
            prefill_tps: reply.stats.prefill_tps,
            ttft_ms: reply.stats.ttft_ms,
            generated_tokens: reply.stats.generated_tokens,
            generation_tps: reply.stats.generation_tps,
            load_ms: reply.stats.load_ms,
            total_ms: reply.stats.total_ms,
            outcome: format!("{:?}", outcome.as_ref().ok()).to_lowercase(),
        };
        if let Err(e) = log.append(&record) {
            ui.detail(&format!("could not write the run log: {e}"));
        }
    }
    outcome
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
