//! The commands, each a straight line through the stages it needs, and the pieces they share: walking with
//! pins, packing, and the review-and-apply tail.

pub mod apply;
pub mod pack;
pub mod servers;
pub mod setup;
pub mod single;
pub mod undo;
pub mod warm;

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
use crate::review::interactive::{self, Choice, Dialogue, Ended};
use crate::review::render::{self, Palette};
use crate::review::{Decision, Session};
use crate::secrets::Withheld;
use crate::ui::{self, Ui};

/// The stderr writer of a command, before its configuration is read: colour from `--color` and the
/// environment, verbosity from `-q`/`-v`. Commands refine the colour once the configuration is known.
pub fn early_ui<'a>(repo: &crate::cli::RepoArgs, env: &Env, stderr: &'a mut dyn Write) -> Ui<'a> {
    let color = crate::config::color_enabled(
        repo.color.unwrap_or(crate::cli::ColorChoice::Auto),
        env,
        env.stderr_is_terminal,
    );
    Ui::new(stderr, color, repo.verbosity(), env.stderr_is_terminal)
}

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
    /// The snapshot the walk started from, and where it is kept (`None` outside a git repository).
    pub snapshot: crate::repo::snapshot::Snapshot,
    pub snapshot_path: Option<std::path::PathBuf>,
    pub pinned: std::collections::BTreeSet<String>,
    /// Secret files left out (none with `--allow-secrets`); the secrets inside files are redacted when
    /// packing puts the files into the prompt ([`withheld`] tells both).
    pub withheld: Withheld,
    /// Scan what goes into the prompt for secrets (not with `--allow-secrets`).
    pub scan_secrets: bool,
}

/// What was kept out of the prompt: the secret files the walk withheld, and the secrets redacted from the
/// files packed.
pub fn withheld(walked: &Walked, packed: &Packed) -> Withheld {
    let mut withheld = walked.withheld.clone();
    withheld
        .redactions
        .extend(packed.redactions.iter().cloned());
    withheld
}

/// Walk, resolve the pins, then withhold secret files (pinned ones too) unless they are allowed.
pub fn walk_repo(cfg: &Config, env: &Env, pins: &[String]) -> Result<Walked, Error> {
    let mut options = cfg.walk_options();
    let repo = git2::Repository::open(&cfg.root).ok();
    let snapshot_path = repo
        .as_ref()
        .map(|repo| crate::repo::snapshot::location(repo.path()));
    if let Some(repo) = &repo {
        options.repo = walk::RepoRules::of(repo);
    }
    let snapshot = crate::repo::snapshot::load(snapshot_path.as_deref());
    let mut walk = walk::walk(&cfg.root, &options, &snapshot)?;
    let mut pinned =
        crate::pack::resolve_pins(&cfg.root, &env.cwd, pins, &mut walk, options.max_file_size)?;
    let withheld = if cfg.allow_secrets() {
        Withheld::default()
    } else {
        crate::secrets::withhold_files(&mut walk.files, &mut walk.skipped)
    };
    for file in &withheld.files {
        pinned.remove(&file.path);
    }
    Ok(Walked {
        walk,
        snapshot,
        snapshot_path,
        pinned,
        withheld,
        scan_secrets: !cfg.allow_secrets(),
    })
}

/// Tell the user what was kept out of the prompt as a secret (said even when quiet: it changes the prompt).
pub fn report_secrets(ui: &mut Ui<'_>, withheld: &Withheld) {
    if withheld.is_empty() {
        return;
    }
    if !withheld.files.is_empty() {
        let list: Vec<String> = withheld
            .files
            .iter()
            .map(|f| format!("{} ({})", f.path, f.reason))
            .collect();
        let count = match withheld.files.len() {
            1 => "1 file that looks like a secret".to_string(),
            n => format!("{n} files that look like secrets"),
        };
        ui.warn(&format!("withheld {count}: {}", list.join(", ")));
    }
    if !withheld.redactions.is_empty() {
        let shown = if ui.verbose() { usize::MAX } else { 10 };
        let mut list: Vec<String> = withheld
            .redactions
            .iter()
            .take(shown)
            .map(|r| format!("{}:{} ({})", r.path, r.line, r.kind.label()))
            .collect();
        if withheld.redactions.len() > shown {
            list.push(format!(
                "… {} more (-v lists them)",
                withheld.redactions.len() - shown
            ));
        }
        ui.warn(&format!(
            "redacted {} secret{} in {} file{}: {}",
            withheld.redactions.len(),
            if withheld.redactions.len() == 1 {
                ""
            } else {
                "s"
            },
            withheld.redacted_files(),
            if withheld.redacted_files() == 1 {
                ""
            } else {
                "s"
            },
            list.join(", ")
        ));
    }
    ui.status("secrets stay out of the prompt; --allow-secrets sends them as they are");
}

/// What packing needs besides the walked files: git facts, the index's stat data and the `.git/onepass/`
/// cache. Started with [`prepare_pack`] before the walk, so it (and building the tokenizer's tables) runs
/// while the walk reads the files.
#[derive(Default)]
pub struct Prepared {
    git: crate::pack::rank::GitFacts,
    stat: crate::repo::signals::IndexStat,
    /// `git.dirty` is the last run's, git's index unread: true while no file changed either.
    status_saved: bool,
    root: std::path::PathBuf,
    git_dir: Option<std::path::PathBuf>,
    location: Option<std::path::PathBuf>,
    cache: crate::pack::cache::Cache,
    ms: f64,
}

/// Start gathering what packing needs in the background; join it with [`Preparing::join`].
pub fn prepare_pack(root: &Path, request: &str) -> Preparing {
    let root = root.to_path_buf();
    let request = request.to_string();
    let started = std::time::Instant::now();
    let facts = std::thread::spawn(move || {
        // Outside a git repository nothing is cached and there are no git facts.
        let repo = git2::Repository::open(&root).ok();
        let git_dir = repo.as_ref().map(|r| r.path().to_path_buf());
        let location = git_dir.as_deref().map(crate::pack::cache::location);
        let cache = crate::pack::cache::load(location.as_deref());
        // Without a cache, or for a request not packed before, candidates will be counted: start building
        // the BPE tables (about a tenth of a second) now, beside the walk; counting waits for them if it
        // comes first. A request packed before finds its counts in the cache and never needs them.
        if cache.is_empty() || !cache.knows_request(&request) {
            std::thread::spawn(crate::pack::tokens::TokenCounter::prepare);
        }
        let (git, stat, status_saved) = repo
            .as_ref()
            .map(crate::repo::signals::git_facts_saved)
            .unwrap_or_default();
        Prepared {
            git,
            stat,
            status_saved,
            root,
            git_dir,
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
    walked: &mut Walked,
    request: &str,
    limits: Limits,
    templates: &Templates,
) -> Result<Packed, Error> {
    let counter = crate::pack::tokens::TokenCounter::new();
    let Prepared {
        git,
        stat,
        status_saved,
        root,
        git_dir,
        location,
        cache,
        ms: prepare_ms,
    } = prepared;
    // The saved uncommitted files hold while the listing and every file are the last walk's; otherwise
    // git's index is read now.
    let walk = &walked.walk;
    let unchanged = walk.all_known();
    let read;
    let (git, stat) = if *status_saved && !unchanged {
        let (tracked, stat) = crate::repo::signals::read_index(root);
        read = (
            crate::pack::rank::GitFacts {
                tracked,
                dirty: Default::default(),
                ..git.clone()
            },
            stat,
        );
        (&read.0, &read.1)
    } else {
        (git, stat)
    };
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
                let seen = f.stat?;
                f.blob.or_else(|| {
                    crate::repo::signals::known_blob(stat, &f.path, f.bytes, seen.mtime)
                })
            })
            .collect()
    };
    let stat_ms = started.elapsed().as_secs_f64() * 1000.0;
    let input = crate::pack::Input {
        known: &known,
        files: &mut walked.walk.files,
        skipped: &walked.walk.skipped,
        pinned: &walked.pinned,
        request,
        git,
        cache,
        scan_secrets: walked.scan_secrets,
    };
    let mut packed = crate::pack::pack(input, limits, templates, counter)?;
    cache.remember_request(request);
    let started = std::time::Instant::now();
    // The cache, the snapshot and the status are written side by side (after a first pack, the cache and
    // the snapshot are megabytes each). One that cannot be written only costs time on the next run.
    std::thread::scope(|scope| {
        scope.spawn(|| crate::pack::cache::save(location.as_deref(), cache));
        save_snapshot(walked, &packed.ids, &packed.clean);
        // The saved uncommitted files were used as they are: nothing to write.
        let saved_used = *status_saved && unchanged;
        if let Some(git_dir) = git_dir.as_deref().filter(|_| !saved_used) {
            crate::repo::signals::save_status(git_dir, &packed.dirty);
        }
    });
    packed
        .timings_ms
        .insert("git_facts_and_cache_load", *prepare_ms);
    packed.timings_ms.insert("index_stat", stat_ms);
    packed
        .timings_ms
        .insert("cache_save", started.elapsed().as_secs_f64() * 1000.0);
    Ok(packed)
}

/// Record what this walk learned from reading files, for the next walk to skip reading them; nothing is
/// written when nothing changed.
fn save_snapshot(walked: &Walked, ids: &[crate::pack::cache::BlobId], clean: &[usize]) {
    let Some(path) = &walked.snapshot_path else {
        return;
    };
    // The listing reused, nothing read, no file newly found clean: the snapshot on disk is this walk's.
    let walk = &walked.walk;
    if walk.relisted
        && walk.read() == 0
        && walk.reused == walked.snapshot.files.len()
        && clean.is_empty()
    {
        return;
    }
    let Some(next) = walk.snapshot(ids, |i| clean.binary_search(&i).is_ok()) else {
        return;
    };
    // The same entries, all trusted, and the same layout: nothing to write. (A directory's changed stat
    // data alone, say a file made and removed, is a new layout: without it the next walks would list the
    // tree again and again.)
    if walk.reused == next.files.len()
        && next.files == walked.snapshot.files
        && next.layout == walked.snapshot.layout
    {
        return;
    }
    // A snapshot that cannot be written only costs time on the next run.
    let _ = crate::repo::snapshot::save(path, &next);
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
pub fn report_files(report: &mut Report, packed: &Packed, withheld: &Withheld) {
    report.secrets = withheld.clone();
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

/// Refuse a reply before planning when it asks for file modes (executable, symlink, submodule) without
/// `--allow-modes`, or when it would write a redaction placeholder over a real secret. `Some(outcome)` ends the
/// run with nothing applied.
pub fn guard_reply(reply: &str, allow_modes: bool, ui: &mut Ui<'_>) -> Option<Outcome> {
    let mut refused = false;
    let modes = crate::guard::mode_changes(reply);
    if !modes.is_empty() {
        if allow_modes {
            ui.warn("the reply sets file modes; with --allow-modes only its content changes are applied (files stay regular and non-executable)");
        } else {
            for m in &modes {
                ui.error(&format!("the reply {m}"));
            }
            ui.status("refused: the reply changes file modes or creates links; nothing was applied (--allow-modes accepts its content changes)");
            refused = true;
        }
    }
    let placeholders = crate::guard::placeholder_writes(reply);
    if !placeholders.is_empty() {
        let lines: Vec<String> = placeholders.iter().map(usize::to_string).collect();
        ui.error(&format!(
            "the reply writes a redaction placeholder ({}…]) into a file (reply line {}); that would replace a real secret",
            crate::guard::PLACEHOLDER,
            lines.join(", ")
        ));
        ui.status("refused: nothing was applied");
        refused = true;
    }
    refused.then_some(Outcome::Refused)
}

/// How the tail of a run should behave.
pub struct Tail<'a> {
    pub outcome: &'a OutcomeOpts,
    pub request: &'a str,
    /// The model that wrote the reply, for the patch header and the commit message.
    pub model: Option<&'a str>,
    /// The reply was cut by the token limit: keep only complete hunks.
    pub truncated: bool,
    /// Something is doubtful (e.g. the server truncated the prompt): ask even with --yes.
    pub must_confirm: bool,
}

/// Extract, validate, preview, decide (all at once or hunk by hunk), apply (or write the patch).
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
        strict: tail.outcome.strict,
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
    // Files whose change turned out to be empty are not shown or reviewed.
    let changes: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| !patch::git_diff(std::slice::from_ref(*c), &[]).is_empty())
        .cloned()
        .collect();
    let counted = count(&changes, None);
    let out = tail.outcome;
    let palette = Palette {
        enabled: if out.json {
            cfg.color_stderr
        } else {
            cfg.color_stdout
        },
    };
    let mut preview = Vec::new();
    let modes: Vec<Option<u32>> = changes
        .iter()
        .map(|c| crate::apply::git_mode(&cfg.root.join(c.old_path.as_deref().unwrap_or(&c.path))))
        .collect();
    render::preview(&mut preview, &changes, &modes, palette)
        .map_err(|e| Error::Output(e.to_string()))?;

    if out.check {
        show(&preview, out.json, env, out.no_pager, stdout, ui)?;
        ui.status(&format!(
            "check: {counted} can be placed exactly; nothing was applied (--check)"
        ));
        return Ok(Outcome::Checked);
    }
    if out.dry_run {
        return write_patch(
            cfg, env, tail, &plan, &changes, &preview, stdout, ui, report,
        );
    }
    if !out.allow_dirty {
        let dirty = crate::apply::dirty(&cfg.root, &crate::apply::touched(&changes))?;
        if !dirty.is_empty() {
            show(&preview, out.json, env, out.no_pager, stdout, ui)?;
            return Err(crate::apply::ApplyError::Dirty(dirty).into());
        }
    }

    show(&preview, out.json, env, out.no_pager, stdout, ui)?;
    let mut session = Session::new(changes.clone());
    let unattended = out.yes && !tail.must_confirm;
    if unattended {
        session.decide_all(Decision::Apply);
    } else {
        if !env.interactive() {
            if tail.must_confirm {
                ui.error("the change needs a confirmation that cannot be asked without a terminal; nothing was applied");
                return Ok(Outcome::Declined);
            }
            return Err(Error::NotInteractive);
        }
        let git_dir = git2::Repository::open(&cfg.root)
            .map(|r| r.path().to_path_buf())
            .unwrap_or_else(|_| cfg.root.join(".git"));
        let dialogue = Dialogue {
            term: dialoguer::console::Term::stderr(),
            palette: Palette {
                enabled: cfg.color_stderr,
            },
            editor: interactive::editor(env),
            edit_file: git_dir.join("onepass").join("EDIT_HUNK.diff"),
            counted: &counted,
            root: &cfg.root,
        };
        let terminal = |e: std::io::Error| Error::Terminal(e.to_string());
        let choice = if out.review {
            Choice::Review
        } else {
            dialogue.choose().map_err(terminal)?
        };
        match choice {
            Choice::ApplyAll => session.decide_all(Decision::Apply),
            Choice::Review => {
                let ended = dialogue.review(&mut session).map_err(terminal)?;
                if let Some(change) = report.change.as_mut() {
                    change.decide(&session);
                }
                if ended == Ended::Declined {
                    ui.status("nothing was applied");
                    return Ok(Outcome::Declined);
                }
            }
            Choice::WritePatch => {
                return write_patch(cfg, env, tail, &plan, &changes, &[], stdout, ui, report);
            }
            Choice::Quit => {
                ui.status("nothing was applied");
                return Ok(Outcome::Declined);
            }
        }
    }
    if let Some(change) = report.change.as_mut() {
        change.decide(&session);
    }
    let (files, masks) = session.selection();
    if files.is_empty() {
        ui.status("no hunk was accepted; nothing was applied");
        return Ok(Outcome::Declined);
    }
    let applied_count = count(&files, Some(&masks));
    let opts = crate::apply::Options {
        stage: out.stage,
        commit: out.commit.then(|| {
            crate::apply::commit_message(tail.request, plan.summary.as_deref(), tail.model)
        }),
        request: tail.request.to_string(),
        faults: crate::apply::Faults::from_env(env),
    };
    let applied = crate::apply::apply(&cfg.root, &files, &masks, &opts)?;
    let mut line = format!("applied {applied_count}");
    if out.stage && applied.commit.is_none() {
        line.push_str(" (staged too)");
    }
    if let Some(id) = &applied.commit {
        line.push_str(&format!("; committed as {}", &id[..id.len().min(12)]));
        if let Some(change) = report.change.as_mut() {
            change.commit = Some(id.clone());
        }
    }
    ui.status(&line);
    ui.detail("onepass undo restores the files as they were");
    Ok(Outcome::Applied)
}

/// "3 hunks to 2 files" for the hunks selected by `masks` (all when None).
fn count(changes: &[patch::FileChange], masks: Option<&[Vec<bool>]>) -> String {
    let hunks: usize = changes
        .iter()
        .enumerate()
        .map(|(i, c)| match masks.and_then(|m| m.get(i)) {
            Some(m) if !m.is_empty() => m.iter().filter(|x| **x).count(),
            _ => c.hunks.len().max(1),
        })
        .sum();
    let files = changes.len();
    format!(
        "{hunks} hunk{} to {files} file{}",
        if hunks == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    )
}

/// `--dry-run` (or "write a patch"): the whole change as a .patch file in git's mail form, or on stdout with
/// `-o -`; nothing else is touched.
#[allow(clippy::too_many_arguments)]
fn write_patch(
    cfg: &Config,
    env: &Env,
    tail: &Tail<'_>,
    plan: &Plan,
    changes: &[patch::FileChange],
    preview: &[u8],
    stdout: &mut dyn Write,
    ui: &mut Ui<'_>,
    report: &mut Report,
) -> Result<Outcome, Error> {
    let diff = patch::git_diff(changes, &[]);
    let mut stat = Vec::new();
    render::write_diffstat(&mut stat, changes, Palette { enabled: false })
        .map_err(|e| Error::Output(e.to_string()))?;
    let author = git2::Repository::open(&cfg.root)
        .and_then(|r| r.signature().map(|s| s.to_owned()))
        .ok()
        .and_then(|s| Some((s.name().ok()?.to_string(), s.email().ok()?.to_string())));
    let text = crate::apply::patch_text(
        &diff,
        &String::from_utf8_lossy(&stat),
        &crate::apply::PatchInfo {
            request: tail.request,
            model: tail.model,
            summary: plan.summary.as_deref(),
            author,
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        },
    );
    let target = tail.outcome.output.clone();
    if target.as_deref() == Some(Path::new("-")) {
        stdout
            .write_all(text.as_bytes())
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
    if !preview.is_empty() {
        show(
            preview,
            tail.outcome.json,
            env,
            tail.outcome.no_pager,
            stdout,
            ui,
        )?;
    }
    crate::apply::write_patch(&path, &text)?;
    report.patch_file = Some(path.display().to_string());
    ui.status(&format!(
        "wrote {} ({}); nothing else was touched",
        path.display(),
        count(changes, None)
    ));
    Ok(Outcome::Written)
}

/// The preview on stdout (through the pager when stdout is a terminal and it is long), or on stderr when
/// stdout carries the JSON report.
fn show(
    preview: &[u8],
    json: bool,
    env: &Env,
    no_pager: bool,
    stdout: &mut dyn Write,
    ui: &mut Ui<'_>,
) -> Result<(), Error> {
    if json {
        ui.block(&String::from_utf8_lossy(preview));
        return Ok(());
    }
    if env.stdout_is_terminal && !no_pager {
        let rows = dialoguer::console::Term::stdout()
            .size_checked()
            .map(|(rows, _)| rows as usize);
        let _ = stdout.flush();
        if crate::review::pager::page(preview, env, rows) {
            return Ok(());
        }
    }
    stdout
        .write_all(preview)
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::Output(e.to_string()))
}

fn reject(plan: &Plan, ui: &mut Ui<'_>) -> Outcome {
    for r in &plan.rejected {
        let which = r.hunk.map(|h| format!(" hunk {h}")).unwrap_or_default();
        ui.error(&format!("{}{which}: {}", r.path, r.reason));
    }
    if plan
        .rejected
        .iter()
        .any(|r| r.kind == crate::patch::RejectKind::Refused)
    {
        ui.status("refused: the reply touches a path onepass never writes, or a file it cannot patch as text; nothing was applied");
        return Outcome::Refused;
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
        Ok(Outcome::Checked) => "checked",
        Ok(Outcome::NoDiff) => "no_diff",
        Ok(Outcome::Rejected | Outcome::Refused | Outcome::Declined | Outcome::Empty) => "rejected",
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
