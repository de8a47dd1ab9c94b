//! The commands, each a straight line through the stages it needs, and the pieces they share: walking with
//! pins, packing, and the review-and-apply tail.

pub mod apply;
pub mod pack;
pub mod servers;
pub mod single;

use std::io::Write;
use std::path::Path;

use crate::cli::OutcomeOpts;
use crate::config::{Config, ConfigError};
use crate::env::Env;
use crate::error::{Error, Outcome};
use crate::pack::{Limits, Packed};
use crate::patch::{self, PatchError, Plan};
use crate::prompt::Templates;
use crate::repo::walk::{self, Walk};
use crate::report::{ChangeReport, Report};
use crate::review::render::{self, Palette};
use crate::ui::{self, Ui};

/// A request must say something.
pub fn check_request(request: Option<&str>) -> Result<&str, Error> {
    match request.map(str::trim) {
        Some(r) if !r.is_empty() => Ok(r),
        _ => Err(ConfigError::EmptyRequest.into()),
    }
}

/// The walked candidates with the pinned paths resolved.
pub struct Walked {
    pub walk: Walk,
    pub pinned: std::collections::BTreeSet<String>,
}

pub fn walk_repo(cfg: &Config, env: &Env, pins: &[String]) -> Result<Walked, Error> {
    let options = cfg.walk_options();
    let mut walk = walk::walk(&cfg.root, &options)?;
    let pinned =
        crate::pack::resolve_pins(&cfg.root, &env.cwd, pins, &mut walk, options.max_file_size)?;
    Ok(Walked { walk, pinned })
}

/// What packing needs besides the walked files: git facts, the index's stat data and the `.git/onepass/`
/// cache. Started with [`prepare_pack`] before the walk, so it (and building the tokenizer's tables) runs
/// while the walk reads the files.
#[derive(Default)]
pub struct Prepared {
    git: crate::pack::rank::GitFacts,
    stat: crate::repo::signals::IndexStat,
    location: Option<std::path::PathBuf>,
    cache: crate::pack::cache::Cache,
    ms: f64,
}

/// Start gathering what packing needs in the background; join it with [`Preparing::join`].
pub fn prepare_pack(root: &Path) -> Preparing {
    let root = root.to_path_buf();
    let started = std::time::Instant::now();
    let facts = std::thread::spawn(move || {
        let location = crate::pack::cache::location(&root);
        let cache = crate::pack::cache::load(location.as_deref());
        // Without a cache every candidate will be counted: build the BPE tables (a few hundred
        // milliseconds) now, off the critical path. With one, most runs never need them.
        let tokenizer = cache
            .is_empty()
            .then(|| std::thread::spawn(crate::pack::tokens::TokenCounter::prepare));
        let (git, stat) = crate::repo::signals::git_facts(&root);
        if let Some(t) = tokenizer {
            let _ = t.join();
        }
        Prepared {
            git,
            stat,
            location,
            cache,
            ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    });
    Preparing { facts }
}

pub struct Preparing {
    facts: std::thread::JoinHandle<Prepared>,
}

impl Preparing {
    pub fn join(self) -> Prepared {
        self.facts.join().unwrap_or_default()
    }
}

/// Rank, count, fit and render, with the repository's git facts and its `.git/onepass/` cache.
pub fn pack_walked(
    prepared: &Prepared,
    walked: &Walked,
    request: &str,
    limits: Limits,
    templates: &Templates,
) -> Result<Packed, Error> {
    let counter = crate::pack::tokens::TokenCounter::new();
    let Prepared {
        git,
        stat,
        location,
        cache,
        ms: prepare_ms,
    } = prepared;
    // Files whose stat data matches git's index have the blob the index names: no need to hash them.
    let started = std::time::Instant::now();
    let known: Vec<Option<crate::pack::cache::BlobId>> = if stat.is_empty() {
        Vec::new()
    } else {
        walked
            .walk
            .files
            .iter()
            .map(|f| {
                let modified = f.modified?;
                crate::repo::signals::known_blob(stat, &f.path, f.text.len() as u64, modified)
            })
            .collect()
    };
    let stat_ms = started.elapsed().as_secs_f64() * 1000.0;
    let input = crate::pack::Input {
        known: &known,
        files: &walked.walk.files,
        skipped: &walked.walk.skipped,
        pinned: &walked.pinned,
        request,
        git,
        cache,
    };
    let mut packed = crate::pack::pack(input, limits, templates, counter)?;
    let started = std::time::Instant::now();
    // A cache that cannot be written only costs time on the next run.
    let _ = crate::pack::cache::save(location.as_deref(), cache);
    packed
        .timings_ms
        .insert("git_facts_and_cache_load", *prepare_ms);
    packed.timings_ms.insert("index_stat", stat_ms);
    packed
        .timings_ms
        .insert("cache_save", started.elapsed().as_secs_f64() * 1000.0);
    Ok(packed)
}

/// Tell the user what was packed and what was left out.
pub fn report_packing(ui: &mut Ui<'_>, packed: &Packed) {
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
    if !packed.outlined.is_empty() {
        ui.status(&format!(
            "outlined {} more file(s) (their definitions only)",
            packed.outlined.len()
        ));
        for file in &packed.outlined {
            ui.detail(&format!(
                "  {} ({} tokens of {})",
                file.path, file.tokens, file.file_tokens
            ));
        }
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
}

/// Fill the report's file counts.
pub fn report_files(report: &mut Report, packed: &Packed) {
    report.files.packed = packed.files.len();
    report.files.omitted = packed.omitted.len() + packed.outlined.len();
    report.files.skipped = packed.skipped.len();
    report.files.packed_paths = packed.files.iter().map(|f| f.path.clone()).collect();
    report.files.omitted_paths = packed
        .outlined
        .iter()
        .map(|f| f.path.clone())
        .chain(packed.omitted.iter().map(|f| f.path.clone()))
        .collect();
}

/// How the tail of a run should behave.
pub struct Tail<'a> {
    pub outcome: &'a OutcomeOpts,
    pub request: &'a str,
    /// The reply was cut by the token limit: keep only complete hunks.
    pub truncated: bool,
    /// Something is doubtful (e.g. the server truncated the prompt): ask even with --yes.
    pub must_confirm: bool,
}

/// Extract, validate, preview, confirm, apply (or write the patch).
pub fn review_and_apply(
    cfg: &Config,
    env: &Env,
    reply: &str,
    tail: &Tail<'_>,
    stdout: &mut dyn Write,
    ui: &mut Ui<'_>,
    report: &mut Report,
) -> Result<Outcome, Error> {
    let tree = crate::repo::WorkTree::new(&cfg.root);
    let options = patch::Options {
        strict: false,
        truncated: tail.truncated,
    };
    let plan = match patch::plan(reply, &tree, &options) {
        Ok(plan) => plan,
        Err(PatchError::NoDiff) => {
            ui.error("no diff in the reply: the model did not answer with a change (nothing was applied)");
            return Ok(Outcome::NoDiff);
        }
        Err(e) => return Err(e.into()),
    };
    report.change = Some(ChangeReport::of(&plan));
    for dropped in &plan.dropped {
        ui.warn(&format!("dropped from the incomplete reply: {dropped}"));
    }
    if !plan.rejected.is_empty() {
        return Ok(reject(&plan, ui));
    }
    let diff = patch::git_diff(&plan.changes, &[]);
    if diff.is_empty() {
        ui.status("the reply's diff changes nothing; nothing to apply");
        return Ok(Outcome::Empty);
    }
    let hunks: usize = plan.changes.iter().map(|c| c.hunks.len().max(1)).sum();
    let files = plan.changes.len();
    let counted = format!(
        "{hunks} hunk{} to {files} file{}",
        if hunks == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    );
    let palette = Palette {
        enabled: if tail.outcome.json {
            cfg.color_stderr
        } else {
            cfg.color_stdout
        },
    };
    let mut preview = Vec::new();
    render::preview(&mut preview, &diff, &plan.changes, palette)
        .map_err(|e| Error::Output(e.to_string()))?;

    if tail.outcome.dry_run {
        let target = tail.outcome.output.clone();
        if target.as_deref() == Some(Path::new("-")) {
            stdout
                .write_all(diff.as_bytes())
                .map_err(|e| Error::Output(e.to_string()))?;
            return Ok(Outcome::Written);
        }
        let path = match target {
            Some(path) if path.is_absolute() => path,
            Some(path) => env.cwd.join(path),
            None => cfg
                .root
                .join(crate::apply::default_patch_name(tail.request)),
        };
        show(&preview, tail.outcome.json, stdout, ui)?;
        crate::apply::write_patch(&path, &diff)?;
        report.patch_file = Some(path.display().to_string());
        ui.status(&format!(
            "wrote {} ({counted}); nothing else was touched",
            path.display()
        ));
        return Ok(Outcome::Written);
    }

    show(&preview, tail.outcome.json, stdout, ui)?;
    let accepted = if tail.outcome.yes && !tail.must_confirm {
        true
    } else {
        if !env.interactive() {
            if tail.must_confirm {
                ui.error("the change needs a confirmation that cannot be asked without a terminal; nothing was applied");
                return Ok(Outcome::Declined);
            }
            return Err(Error::NotInteractive);
        }
        dialoguer::Confirm::new()
            .with_prompt(format!("Apply {counted}?"))
            .default(false)
            .interact_on(&dialoguer::console::Term::stderr())
            .map_err(|e| Error::Terminal(e.to_string()))?
    };
    if !accepted {
        ui.status("nothing was applied");
        return Ok(Outcome::Declined);
    }
    crate::apply::apply_to_workdir(&cfg.root, &diff)?;
    ui.status(&format!("applied {counted}"));
    Ok(Outcome::Applied)
}

fn show(preview: &[u8], json: bool, stdout: &mut dyn Write, ui: &mut Ui<'_>) -> Result<(), Error> {
    if json {
        ui.block(&String::from_utf8_lossy(preview));
        Ok(())
    } else {
        stdout
            .write_all(preview)
            .and_then(|_| stdout.flush())
            .map_err(|e| Error::Output(e.to_string()))
    }
}

fn reject(plan: &Plan, ui: &mut Ui<'_>) -> Outcome {
    for r in &plan.rejected {
        let which = r.hunk.map(|h| format!(" hunk {h}")).unwrap_or_default();
        ui.error(&format!("{}{which}: {}", r.path, r.reason));
    }
    ui.status(&format!(
        "rejected: {} of the reply's changes cannot be placed exactly; nothing was applied",
        plan.rejected.len()
    ));
    Outcome::Rejected
}

/// Finish a command: print the JSON report if asked, the error if any, and return the exit code.
pub fn finish(
    result: Result<Outcome, Error>,
    json: bool,
    mut report: Report,
    stdout: &mut dyn Write,
    ui: &mut Ui<'_>,
) -> u8 {
    let code = match &result {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => e.exit_code(),
    };
    report.outcome = match &result {
        Ok(Outcome::Applied) => "applied",
        Ok(Outcome::Written | Outcome::Printed) => "written",
        Ok(Outcome::NoDiff) => "no_diff",
        Ok(Outcome::Rejected | Outcome::Declined | Outcome::Empty) => "rejected",
        Err(_) => "error",
    };
    if let Err(e) = &result {
        ui.error(&e.to_string());
        report.error = Some(e.to_string());
    }
    if json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        let _ = writeln!(stdout, "{text}");
    }
    code
}
