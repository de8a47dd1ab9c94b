//! `onepass pack "REQUEST"`: the exact prompt, the packed file list or the statistics; nothing is sent.

use std::time::Instant;

use crate::Io;
use crate::cli::PackArgs;
use crate::config::{Config, Layer};
use crate::env::Env;
use crate::error::{Error, Outcome};
use crate::model;
use crate::pack::Limits;
use crate::prompt::Templates;
use crate::runlog::{self, RunLog};
use crate::ui::Ui;

use super::{check_request, pack_walked, prepare_pack, report_packing, report_secrets, walk_repo};

pub fn run(args: &PackArgs, env: &Env, io: Io<'_>) -> u8 {
    let Io { stdout, stderr, .. } = io;
    let mut ui = super::early_ui(&args.repo, env, stderr);
    match pack(args, env, stdout, &mut ui) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            ui.error(&e.to_string());
            e.exit_code()
        }
    }
}

fn pack(
    args: &PackArgs,
    env: &Env,
    stdout: &mut dyn std::io::Write,
    ui: &mut Ui<'_>,
) -> Result<Outcome, Error> {
    let request = check_request(Some(&args.request))?;
    let flags = Layer::from_flags(&args.repo, Some(&args.pack), Some(&args.model));
    let cfg = Config::resolve(env, &args.repo, flags)?;
    ui.set_color(cfg.color_stderr);
    // The budget follows the server's real context window when a server answers; packing works without one.
    let started = Instant::now();
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
    let probe_ms = started.elapsed().as_secs_f64() * 1000.0;
    let ratio = server
        .as_ref()
        .and_then(|s| {
            let records = RunLog::open(env)?.read();
            runlog::token_ratio(&records, &s.api, &s.model)
        })
        .unwrap_or(1.0);
    let started = Instant::now();
    let preparing = prepare_pack(&cfg.root, request);
    let mut walked = walk_repo(&cfg, env, &args.paths)?;
    let walk_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let templates = Templates::load(&cfg.template_dirs())?;
    let limits = Limits {
        budget: cfg.settings.budget,
        context: server
            .as_ref()
            .and_then(|s| s.context_window)
            .unwrap_or(cfg.context()),
        reply_reserve: cfg.reply_reserve(),
        max_file_size: cfg.walk_options().max_file_size,
        token_ratio: ratio,
    };
    let prepared = preparing.join();
    let packed = pack_walked(&prepared, &mut walked, request, limits, &templates)?;
    let pack_ms = started.elapsed().as_secs_f64() * 1000.0;
    if !args.list && !args.json && !args.explain {
        report_packing(ui, &packed);
    }
    let withheld = super::withheld(&walked, &packed);
    report_secrets(ui, &withheld);
    let written = if args.explain {
        explain(stdout, &packed)
    } else if args.list {
        packed
            .files
            .iter()
            .try_for_each(|f| writeln!(stdout, "{}", f.path))
    } else if args.json {
        let report = serde_json::json!({
            "request": request,
            "server": server.as_ref().map(crate::report::ServerReport::of),
            "context_window": limits.context,
            "reply_reserve": limits.reply_reserve,
            "token_ratio": ratio,
            "budget": packed.budget,
            "template_tokens": packed.template_tokens,
            "prompt_tokens": packed.prompt_tokens,
            "tree_tokens": packed.tree_tokens,
            "files": packed.files,
            "outlined": packed.outlined,
            "omitted": packed.omitted,
            "skipped": packed.skipped,
            "secrets": withheld,
            "ranking": packed.ranking,
            "totals": {
                "candidates": walked.walk.files.len(),
                "walk_reused": walked.walk.reused,
                "walk_relisted": walked.walk.relisted,
                "walk_read": walked.walk.read(),
                "whole": packed.files.len(),
                "whole_tokens": packed.files.iter().map(|f| f.tokens).sum::<usize>(),
                "outlined": packed.outlined.len(),
                "outline_tokens": packed.outlined.iter().map(|f| f.tokens).sum::<usize>(),
                "omitted": packed.omitted.len(),
                "skipped": packed.skipped.len(),
                "counted": packed.counted,
                "cache_hits": packed.cache_hits,
            },
            "timings_ms": {"probe": probe_ms, "walk": walk_ms, "pack": pack_ms, "stages": packed.timings_ms},
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
    // The process ends here: freeing the walk, the cache and the index data (hundreds of thousands of small
    // allocations) would only add to the wait.
    std::mem::forget((walked, prepared, packed));
    Ok(Outcome::Printed)
}

/// `--explain`: one line per ranked file (score, placement, tokens, path), then its reasons, indented.
fn explain(out: &mut dyn std::io::Write, packed: &crate::pack::Packed) -> std::io::Result<()> {
    use crate::pack::Placement;
    writeln!(
        out,
        "budget {} tokens: {} whole, {} outlined, {} omitted; prompt ~{} tokens",
        packed.budget,
        packed.files.len(),
        packed.outlined.len(),
        packed.omitted.len(),
        packed.prompt_tokens
    )?;
    for r in &packed.ranking {
        let place = match r.placement {
            Placement::Whole => "whole",
            Placement::Outline => "outline",
            Placement::Omitted => "omitted",
        };
        let approx = if r.estimated { "~" } else { "" };
        writeln!(
            out,
            "{:>9.3}  {place:<7}  {approx}{:>6} tok  {}",
            r.score, r.tokens, r.path
        )?;
        for reason in &r.reasons {
            writeln!(out, "           {reason}")?;
        }
    }
    Ok(())
}
