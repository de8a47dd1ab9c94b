//! Turn a reply into a [`Plan`]: extract and parse the changes, resolve and check every path through the
//! [`Tree`], place each hunk with the repair ladder, and collect what was placed, refused or dropped.

use super::extract::{self, Extracted, WholeFile};
use super::parse::{self, FilePatch, Hunk, LineKind, is_dev_null};
use super::repair::{self, Ladder, Op, Placed, Target};
use super::validate::{FileText, check_path, decode, has_drive, is_placeholder};
use super::{
    ChangeKind, FileChange, Options, PatchError, PlacedHunk, Plan, RejectKind, Rejected,
    RepairLevel, Tree,
};
use std::collections::HashMap;

/// Read a model reply and place everything it proposes against `tree`.
pub fn plan(reply: &str, tree: &dyn Tree, opts: &Options) -> Result<Plan, PatchError> {
    let ex = extract::extract(reply);
    let mut out = Plan {
        summary: ex.summary.clone(),
        ..Plan::default()
    };
    let (mut files, issues) = parse_segments(&ex);
    let mut wholes: Vec<WholeFile> = ex.files.clone();
    let before_cut = out.rejected.len();
    let cut = ex.segments.last().is_some_and(|s| s.fenced && s.unclosed) || opts.truncated;
    handle_truncation(reply, &ex, opts, &mut files, &mut wholes, &mut out);
    if cut && out.rejected.len() == before_cut && !(files.is_empty() && wholes.is_empty()) {
        // Cut between hunks: what is there is whole, but what followed is missing.
        let what = "the reply ends without closing its last block: changes after the last complete hunk may be missing";
        out.dropped.push(what.to_string());
        out.rejected.push(Rejected {
            path: String::new(),
            hunk: None,
            reason: format!("the reply was cut off (truncated): {what}"),
            kind: RejectKind::Unplaced,
        });
    }
    if files.is_empty() && wholes.is_empty() {
        if out.rejected.is_empty() {
            if let Some(i) = issues.first() {
                return Err(PatchError::Malformed {
                    line: i.line,
                    message: i.message.clone(),
                });
            }
            return Err(PatchError::NoDiff);
        }
        return Ok(out);
    }
    // Diff text that could not be attached to a file would be silently lost: refuse instead.
    for i in &issues {
        out.rejected.push(Rejected {
            path: String::new(),
            hunk: None,
            reason: format!("reply line {}: {}", i.line, i.message),
            kind: RejectKind::Unplaced,
        });
    }
    let mut r = Resolver {
        tree,
        roots: Vec::new(),
        cache: HashMap::new(),
    };
    let jobs = make_jobs(&files, &wholes, &mut r);
    for job in jobs {
        run_job(job, &mut r, opts, &mut out);
    }
    Ok(out)
}

/// Parse every segment; fenced segments are diff bodies, prose segments may hold bare diffs.
fn parse_segments(ex: &Extracted) -> (Vec<(FilePatch, usize)>, Vec<parse::Issue>) {
    let mut files = Vec::new();
    let mut issues = Vec::new();
    for (si, seg) in ex.segments.iter().enumerate() {
        let is_whole = seg.fenced
            && ex
                .files
                .iter()
                .any(|w| seg.lines.first().is_some_and(|(n, _)| *n == w.line + 1));
        if is_whole {
            continue;
        }
        let p = parse::parse_lines(&seg.lines, seg.fenced && seg.diff);
        issues.extend(p.issues);
        files.extend(p.files.into_iter().map(|f| (f, si)));
    }
    (files, issues)
}

/// Drop what a cut-off reply left incomplete; each dropped piece is also a rejection (nothing is applied by
/// default from a reply that was cut).
fn handle_truncation(
    reply: &str,
    ex: &Extracted,
    opts: &Options,
    files: &mut Vec<(FilePatch, usize)>,
    wholes: &mut Vec<WholeFile>,
    out: &mut Plan,
) {
    let last_seg = ex.segments.len().saturating_sub(1);
    let Some(seg) = ex.segments.last() else {
        return;
    };
    let open_fence = seg.fenced && seg.unclosed;
    let strong = opts.truncated || open_fence;
    let ends_nl = reply.ends_with('\n');
    let drop_note = |out: &mut Plan, path: &str, hunk: Option<usize>, what: String| {
        out.dropped.push(what.clone());
        out.rejected.push(Rejected {
            path: path.to_string(),
            hunk,
            reason: format!("the reply was cut off (truncated): {what}"),
            kind: RejectKind::Unplaced,
        });
    };
    if strong
        && let Some(w) = wholes.last()
        && (w.unclosed || (opts.truncated && !files.iter().any(|(f, _)| f.line > w.line)))
    {
        let w = wholes.pop();
        if let Some(w) = w {
            drop_note(
                out,
                &w.path,
                None,
                format!("the whole-file block for {} is incomplete", w.path),
            );
        }
        return;
    }
    let Some((f, si)) = files.last_mut() else {
        return;
    };
    if *si != last_seg {
        return;
    }
    let path = display_path(f);
    if f.hunks.is_empty() {
        if strong && !f.deleted_file && f.rename_to.is_none() && !f.new_file {
            drop_note(
                out,
                &path,
                None,
                format!("{path}: the file header has no hunks"),
            );
            files.pop();
        }
        return;
    }
    let n = f.hunks.len();
    let Some(h) = f.hunks.last() else { return };
    let no_counts = h.old_count.is_none();
    let drop = if strong {
        !h.body_complete() || no_counts || !ends_nl
    } else {
        // A bare diff has no fence to leave open; a body far shorter than its header on both sides (or a new
        // file far shorter than announced) is a cut, a small shortfall is a miscount.
        let short = |count: Option<usize>, len: usize| count.map_or(0, |c| c.saturating_sub(len));
        let (so, sn) = (
            short(h.old_count, h.old_len()),
            short(h.new_count, h.new_len()),
        );
        let new_file = h.old_count == Some(0);
        !seg.fenced && sn >= 3 && (so >= 3 || new_file)
    };
    if drop {
        f.hunks.pop();
        drop_note(
            out,
            &path,
            Some(n),
            format!("{path}: hunk {n} is incomplete and was dropped"),
        );
        if f.hunks.is_empty() {
            files.pop();
        }
    }
}

fn display_path(f: &FilePatch) -> String {
    let raw = [
        &f.rename_to,
        &f.new_path,
        &f.git_new,
        &f.old_path,
        &f.git_old,
    ]
    .into_iter()
    .flatten()
    .find(|p| !is_dev_null(p))
    .cloned()
    .unwrap_or_default();
    strip_ab(&raw).to_string()
}

fn strip_ab(p: &str) -> &str {
    let mut p = p;
    while let Some(r) = p.strip_prefix("./") {
        p = r;
    }
    p.strip_prefix("a/")
        .or_else(|| p.strip_prefix("b/"))
        .unwrap_or(p)
}

/// Reads the tree (cached) and maps the paths a reply writes to repository paths.
struct Resolver<'a> {
    tree: &'a dyn Tree,
    /// Absolute prefixes seen to stand for the repository root (learned from files that exist).
    roots: Vec<String>,
    cache: HashMap<String, Result<Option<Vec<u8>>, String>>,
}

impl Resolver<'_> {
    fn read(&mut self, rel: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(r) = self.cache.get(rel) {
            return r.clone();
        }
        let r = self.tree.read(rel).map_err(|e| e.to_string());
        self.cache.insert(rel.to_string(), r.clone());
        r
    }

    fn exists(&mut self, rel: &str) -> bool {
        matches!(self.read(rel), Ok(Some(_)))
    }

    /// A path as written in the reply -> a checked repo-relative path. `defer_missing_absolute` leaves absolute
    /// paths that match no file for a second pass (after roots were learned from the other files).
    fn resolve(&mut self, raw: &str, allow_new_absolute: bool) -> Result<String, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("the diff names no file".into());
        }
        if raw.chars().any(|c| c.is_control()) {
            return Err(format!("path {raw:?} contains control characters"));
        }
        if raw.starts_with('/') || has_drive(raw) {
            return self.absolute(raw, allow_new_absolute);
        }
        let mut p = raw;
        while let Some(r) = p.strip_prefix("./") {
            p = r;
        }
        let mut cands: Vec<&str> = Vec::new();
        if let Some(r) = p.strip_prefix("a/").or_else(|| p.strip_prefix("b/")) {
            cands.push(r);
        }
        cands.push(p);
        let mut first_ok: Option<String> = None;
        let mut first_err: Option<String> = None;
        for c in cands {
            match check_path(c) {
                Ok(c) => {
                    if self.exists(&c) {
                        return Ok(c);
                    }
                    first_ok.get_or_insert(c);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match (first_err, first_ok) {
            // A refused reading of the path (e.g. `a/../x`) refuses the path, whatever other reading exists.
            (Some(e), _) => Err(e),
            (None, Some(ok)) => Ok(ok),
            (None, None) => Err(format!("path {raw:?} names no file")),
        }
    }

    /// An absolute path stands for the repository file whose path is its unique existing ending.
    fn absolute(&mut self, raw: &str, allow_new: bool) -> Result<String, String> {
        let body = if has_drive(raw) { &raw[2..] } else { raw };
        let body = body.replace('\\', "/");
        let comps: Vec<&str> = body
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if comps
            .iter()
            .any(|c| *c == ".." || c.eq_ignore_ascii_case(".git"))
        {
            return Err(format!("absolute path {raw:?} is refused ('..' or .git)"));
        }
        let mut found: Vec<(usize, String)> = Vec::new();
        for k in 0..comps.len() {
            let suffix = comps[k..].join("/");
            if let Ok(s) = check_path(&suffix)
                && self.exists(&s)
            {
                found.push((k, s));
            }
        }
        match found.len() {
            1 => {
                let (k, s) = found.remove(0);
                let root = comps[..k].join("/");
                if !self.roots.contains(&root) {
                    self.roots.push(root);
                }
                Ok(s)
            }
            0 => {
                if allow_new {
                    for root in self.roots.clone() {
                        let rc: Vec<&str> = root.split('/').filter(|c| !c.is_empty()).collect();
                        if comps.len() > rc.len() && comps[..rc.len()] == rc[..] {
                            return check_path(&comps[rc.len()..].join("/"));
                        }
                    }
                }
                Err(format!(
                    "absolute path {raw:?} is outside the repository (no repository file matches its ending)"
                ))
            }
            n => Err(format!(
                "absolute path {raw:?} is ambiguous: {n} repository files match its ending"
            )),
        }
    }
}

/// One file's worth of work.
struct Job {
    path: String,
    old_path: Option<String>,
    kind: ChangeKind,
    hunks: Vec<Hunk>,
    whole: Option<String>,
    error: Option<String>,
    /// `error` is a refusal on principle (an unsafe path), not a mismatch.
    refused: bool,
}

fn make_jobs(files: &[(FilePatch, usize)], wholes: &[WholeFile], r: &mut Resolver) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    // Two passes so absolute paths of new files can use roots learned from existing files.
    let mut pending: Vec<(usize, bool)> = Vec::new();
    for (i, _) in files.iter().enumerate() {
        pending.push((i, false));
    }
    let mut resolved: Vec<Option<Job>> = (0..files.len()).map(|_| None).collect();
    for pass in 0..2 {
        for (i, (f, _)) in files.iter().enumerate() {
            if resolved[i].is_some() {
                continue;
            }
            let job = file_job(f, r, pass == 1);
            let retry = pass == 0
                && job
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("absolute path") && e.contains("outside"));
            if !retry {
                resolved[i] = Some(job);
            }
        }
    }
    let mut whole_jobs: Vec<Job> = Vec::new();
    for w in wholes {
        let (path, error) = match r.resolve(&w.path, true) {
            Ok(p) => (p, None),
            Err(e) => (w.path.clone(), Some(e)),
        };
        whole_jobs.push(Job {
            path,
            old_path: None,
            kind: ChangeKind::Modify,
            hunks: Vec::new(),
            whole: Some(w.content.clone()),
            refused: error.is_some(),
            error,
        });
    }
    for job in resolved.into_iter().flatten().chain(whole_jobs) {
        if let Some(prev) = jobs.iter_mut().find(|j| {
            j.path == job.path
                || (job.old_path.is_some() && j.path == job.old_path.clone().unwrap_or_default())
        }) {
            let mergeable = prev.whole.is_none()
                && job.whole.is_none()
                && prev.kind == ChangeKind::Modify
                && job.kind == ChangeKind::Modify
                && prev.old_path.is_none()
                && job.old_path.is_none();
            if mergeable && job.error.is_none() {
                prev.hunks.extend(job.hunks);
            } else if prev.error.is_none() {
                prev.refused = job.refused;
                prev.error = Some(job.error.unwrap_or_else(|| {
                    "the reply changes this file twice in conflicting ways".into()
                }));
            }
            continue;
        }
        jobs.push(job);
    }
    jobs
}

fn file_job(f: &FilePatch, r: &mut Resolver, allow_new_abs: bool) -> Job {
    let old_raw = f
        .rename_from
        .clone()
        .or(f.old_path.clone())
        .or(f.git_old.clone());
    let new_raw = f
        .rename_to
        .clone()
        .or(f.new_path.clone())
        .or(f.git_new.clone());
    let old_null = f.new_file || old_raw.as_deref().is_some_and(is_dev_null);
    let new_null = f.deleted_file || new_raw.as_deref().is_some_and(is_dev_null);
    let mut job = Job {
        path: display_path(f),
        old_path: None,
        kind: ChangeKind::Modify,
        hunks: f.hunks.clone(),
        whole: None,
        error: None,
        refused: false,
    };
    if f.binary {
        job.error = Some("binary patches are not supported".into());
        return job;
    }
    let pick = |a: &Option<String>, git: &Option<String>| -> Option<String> {
        a.clone()
            .filter(|p| !is_dev_null(p))
            .or(git.clone())
            .filter(|p| !is_dev_null(p))
    };
    if old_null && new_null {
        job.error = Some("the diff says the file is both created and deleted".into());
        return job;
    }
    if old_null {
        job.kind = ChangeKind::Create;
        match pick(&f.new_path, &f.git_new).map(|p| r.resolve(&p, allow_new_abs)) {
            Some(Ok(p)) => job.path = p,
            Some(Err(e)) => {
                job.error = Some(e);
                job.refused = true;
            }
            None => job.error = Some("the new file has no name".into()),
        }
        return job;
    }
    if new_null {
        job.kind = ChangeKind::Delete;
        match pick(&f.old_path, &f.git_old).map(|p| r.resolve(&p, false)) {
            Some(Ok(p)) => job.path = p,
            Some(Err(e)) => {
                job.error = Some(e);
                job.refused = true;
            }
            None => job.error = Some("the deleted file has no name".into()),
        }
        return job;
    }
    let explicit_rename = f.rename_from.is_some() && f.rename_to.is_some();
    let old = old_raw.as_deref().map(|p| {
        if explicit_rename {
            r.resolve_plain(p)
        } else {
            r.resolve(p, allow_new_abs)
        }
    });
    let new = new_raw.as_deref().map(|p| {
        if explicit_rename {
            r.resolve_plain(p)
        } else {
            r.resolve(p, allow_new_abs)
        }
    });
    match (old, new) {
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            job.error = Some(e);
            job.refused = true;
        }
        (Some(Ok(o)), Some(Ok(n))) => {
            if o == n {
                job.path = n;
            } else if explicit_rename {
                job.kind = ChangeKind::Rename;
                job.path = n;
                job.old_path = Some(o);
            } else {
                job.path = n.clone();
                job.error = Some(format!(
                    "the ---/+++ lines name different files ({o} and {n}) without a rename header"
                ));
            }
        }
        (Some(Ok(p)), None) | (None, Some(Ok(p))) => job.path = p,
        (None, None) => job.error = Some("the diff names no file".into()),
    }
    job
}

impl Resolver<'_> {
    /// `rename from/to` paths carry no `a/`/`b/` prefix.
    fn resolve_plain(&mut self, raw: &str) -> Result<String, String> {
        check_path(raw)
    }
}

fn reject(out: &mut Plan, path: &str, hunk: Option<usize>, reason: impl Into<String>) {
    out.rejected.push(Rejected {
        path: path.to_string(),
        hunk,
        reason: reason.into(),
        kind: RejectKind::Unplaced,
    });
}

/// A refusal on principle: an unsafe path, or a file that cannot be patched as text.
fn refuse(out: &mut Plan, path: &str, reason: impl Into<String>) {
    out.rejected.push(Rejected {
        path: path.to_string(),
        hunk: None,
        reason: reason.into(),
        kind: RejectKind::Refused,
    });
}

fn is_python(path: &str) -> bool {
    path.ends_with(".py") || path.ends_with(".pyi")
}

/// Read and decode a file; Ok(None) when it does not exist.
fn read_text(r: &mut Resolver, path: &str) -> Result<Option<String>, String> {
    match r.read(path)? {
        None => Ok(None),
        Some(b) => decode(&b).map(Some).map_err(|e| format!("{path} {e}")),
    }
}

fn run_job(job: Job, r: &mut Resolver, opts: &Options, out: &mut Plan) {
    if let Some(e) = &job.error {
        if job.refused {
            return refuse(out, &job.path, e.clone());
        }
        return reject(out, &job.path, None, e.clone());
    }
    let python = is_python(&job.path);
    // Every path the change touches is read through the tree (that is where symlink escapes are refused).
    let current = match read_text(r, job.old_path.as_deref().unwrap_or(&job.path)) {
        Ok(c) => c,
        Err(e) => return refuse(out, &job.path, e),
    };
    if job.old_path.is_some() {
        match r.read(&job.path) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return reject(
                    out,
                    &job.path,
                    None,
                    format!("cannot rename onto {}: it already exists", job.path),
                );
            }
            Err(e) => return refuse(out, &job.path, e),
        }
    }
    if let Some(content) = &job.whole {
        return whole_file(&job, current, content, python, out);
    }
    let hunks: Vec<(usize, &Hunk)> = job
        .hunks
        .iter()
        .enumerate()
        .map(|(i, h)| (i + 1, h))
        .collect();
    // Placeholders in added lines would replace real code with a comment.
    let mut bad = false;
    for (n, h) in &hunks {
        if let Some(l) = h
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Add && is_placeholder(&l.text, python))
        {
            reject(
                out,
                &job.path,
                Some(*n),
                format!(
                    "the added lines contain an omission placeholder ('{}'); applying it would delete real code",
                    l.text.trim()
                ),
            );
            bad = true;
        }
    }
    if bad {
        return;
    }
    let pure_add = hunks
        .iter()
        .all(|(_, h)| h.lines.iter().all(|l| l.kind == LineKind::Add));
    match (job.kind, current) {
        (ChangeKind::Delete, None) => reject(
            out,
            &job.path,
            None,
            format!("cannot delete {}: no such file", job.path),
        ),
        (ChangeKind::Delete, Some(text)) => delete_file(&job, &text, out),
        (ChangeKind::Create, Some(text)) if !text.is_empty() => reject(
            out,
            &job.path,
            None,
            format!("cannot create {}: it already exists", job.path),
        ),
        (ChangeKind::Create, None) if hunks.is_empty() => create_file(&job, &hunks, false, out),
        (ChangeKind::Create, None) | (ChangeKind::Modify, None)
            if pure_add && !hunks.is_empty() =>
        {
            create_file(&job, &hunks, false, out)
        }
        // An existing empty file filled by pure additions.
        (ChangeKind::Create | ChangeKind::Modify, Some(text))
            if text.is_empty() && pure_add && !hunks.is_empty() =>
        {
            create_file(&job, &hunks, true, out)
        }
        // An empty new file that already exists empty: nothing to do.
        (ChangeKind::Create, Some(_)) if hunks.is_empty() => {}
        (ChangeKind::Create, _) => reject(
            out,
            &job.path,
            None,
            "a new file's hunks must only add lines",
        ),
        (_, None) => reject(
            out,
            job.old_path.as_deref().unwrap_or(&job.path),
            None,
            format!(
                "{} does not exist in the working tree",
                job.old_path.as_deref().unwrap_or(&job.path)
            ),
        ),
        (_, Some(text)) => modify_file(&job, &text, &hunks, python, opts, out),
    }
}

/// A file made of the hunks' added lines; `exists` when it is an existing empty file being filled.
fn create_file(job: &Job, hunks: &[(usize, &Hunk)], exists: bool, out: &mut Plan) {
    let new_lines: Vec<String> = hunks
        .iter()
        .flat_map(|(_, h)| h.lines.iter().map(|l| l.text.clone()))
        .collect();
    let no_eol = hunks.last().is_some_and(|(_, h)| h.new_no_eol());
    out.changes.push(FileChange {
        path: job.path.clone(),
        old_path: None,
        kind: if exists {
            ChangeKind::Modify
        } else {
            ChangeKind::Create
        },
        before: exists.then(String::new),
        hunks: vec![PlacedHunk {
            old_start: 0,
            old_lines: Vec::new(),
            new_lines,
            level: if hunks.iter().all(|(_, h)| h.counts_match()) {
                RepairLevel::Exact
            } else {
                RepairLevel::Recount
            },
            eof_newline: Some(!no_eol && !hunks.is_empty()),
        }],
    });
}

fn delete_file(job: &Job, text: &str, out: &mut Plan) {
    let ft = FileText::parse(text);
    let removed: Vec<&str> = job
        .hunks
        .iter()
        .flat_map(|h| {
            h.lines
                .iter()
                .filter(|l| l.is_old())
                .map(|l| l.text.as_str())
        })
        .collect();
    let adds = job
        .hunks
        .iter()
        .any(|h| h.lines.iter().any(|l| l.kind == LineKind::Add));
    let exact = removed.len() == ft.lines.len()
        && removed.iter().zip(&ft.lines).all(|(a, b)| *a == b.as_str());
    let loose = removed.len() == ft.lines.len()
        && removed
            .iter()
            .zip(&ft.lines)
            .all(|(a, b)| a.trim_end() == b.trim_end());
    if adds || !loose {
        return reject(
            out,
            &job.path,
            None,
            "deleting a file requires the diff to remove exactly its current content",
        );
    }
    out.changes.push(FileChange {
        path: job.path.clone(),
        old_path: None,
        kind: ChangeKind::Delete,
        before: Some(text.to_string()),
        hunks: vec![PlacedHunk {
            old_start: 0,
            old_lines: ft.lines.clone(),
            new_lines: Vec::new(),
            level: if exact {
                RepairLevel::Exact
            } else {
                RepairLevel::Whitespace
            },
            eof_newline: None,
        }],
    });
}

fn whole_file(job: &Job, current: Option<String>, content: &str, python: bool, out: &mut Plan) {
    let new = FileText::parse(content);
    let old = current.as_deref().map(FileText::parse).unwrap_or_default();
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &old.lines, &new.lines);
    for op in &ops {
        if let similar::DiffOp::Insert {
            new_index, new_len, ..
        }
        | similar::DiffOp::Replace {
            new_index, new_len, ..
        } = *op
            && let Some(l) = new.lines[new_index..new_index + new_len]
                .iter()
                .find(|l| is_placeholder(l, python))
        {
            return reject(
                out,
                &job.path,
                None,
                format!(
                    "the file block contains an omission placeholder ('{}'); writing it would delete real code",
                    l.trim()
                ),
            );
        }
    }
    // A block less than half as long as the existing file, dropping many of its lines, is far more likely an
    // excerpt than the whole new file.
    let removed: usize =
        ops.iter()
            .map(|op| match *op {
                similar::DiffOp::Delete { old_len, .. }
                | similar::DiffOp::Replace { old_len, .. } => old_len,
                _ => 0,
            })
            .sum();
    if current.is_some() && removed >= 20 && new.lines.len() * 2 < old.lines.len() {
        return reject(
            out,
            &job.path,
            None,
            format!(
                "the file block would delete {removed} of the file's {} lines; it looks like an excerpt, not the whole file",
                old.lines.len()
            ),
        );
    }
    let Some(cur) = current else {
        out.changes.push(FileChange {
            path: job.path.clone(),
            old_path: None,
            kind: ChangeKind::Create,
            before: None,
            hunks: vec![PlacedHunk {
                old_start: 0,
                old_lines: Vec::new(),
                new_lines: new.lines,
                level: RepairLevel::WholeFile,
                eof_newline: Some(true),
            }],
        });
        return;
    };
    let mut hunks = Vec::new();
    for group in similar::group_diff_ops(ops, 3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (os, oe) = (first.old_range().start, last.old_range().end);
        let (ns, ne) = (first.new_range().start, last.new_range().end);
        hunks.push(PlacedHunk {
            old_start: os,
            old_lines: old.lines[os..oe].to_vec(),
            new_lines: new.lines[ns..ne].to_vec(),
            level: RepairLevel::WholeFile,
            eof_newline: None,
        });
    }
    if hunks.is_empty() {
        return;
    }
    out.changes.push(FileChange {
        path: job.path.clone(),
        old_path: None,
        kind: ChangeKind::Modify,
        before: Some(cur),
        hunks,
    });
}

fn modify_file(
    job: &Job,
    text: &str,
    hunks: &[(usize, &Hunk)],
    python: bool,
    opts: &Options,
    out: &mut Plan,
) {
    let ft = FileText::parse(text);
    let t = Target::new(&ft.lines, ft.final_newline());
    let ladder = Ladder { python };
    let path = job.old_path.as_deref().unwrap_or(&job.path).to_string();
    // A hunk that changes nothing is a sign the reply was misread (or cut): refuse rather than skip it.
    for (n, h) in hunks {
        if h.lines.iter().all(|l| l.kind == LineKind::Context) {
            reject(
                out,
                &path,
                Some(*n),
                "the hunk changes nothing (no + or - lines)",
            );
        }
    }
    if hunks.is_empty() && job.kind == ChangeKind::Modify {
        reject(out, &path, None, "the diff for this file has no hunks");
    }
    let active: Vec<(usize, &Hunk)> = hunks
        .iter()
        .copied()
        .filter(|(_, h)| h.lines.iter().any(|l| l.kind != LineKind::Context))
        .collect();
    // Header numbers are a usable hint only when they are not visibly garbage.
    let mut placed: Vec<(usize, Placed)> = Vec::new();
    let mut failed: Vec<(usize, &Hunk, repair::Failure)> = Vec::new();
    let claims: Vec<usize> = active.iter().filter_map(|(_, h)| h.old_start).collect();
    let repeated_claims = (1..claims.len()).any(|i| claims[..i].contains(&claims[i]));
    for &(n, h) in &active {
        if h.lines
            .iter()
            .all(|l| l.kind != LineKind::Context && l.kind != LineKind::Remove)
        {
            reject(
                out,
                &path,
                Some(n),
                "the hunk only adds lines and has no context to locate it",
            );
            continue;
        }
        // First by content alone; header numbers only break ties, below.
        match repair::place(&t, h, None, ladder) {
            Ok(ps) => placed.extend(ps.into_iter().map(|p| (n, p))),
            Err(f) => failed.push((n, h, f)),
        }
    }
    // Ambiguous hunks: the header number picks a candidate only when the numbers look trustworthy: no two hunks
    // claim the same line, and the hunks placed by content sit where their numbers say (or all off by one
    // consistent offset, which is then applied).
    let offsets: Vec<(usize, i64)> = placed
        .iter()
        .filter_map(|(n, p)| {
            let s = active
                .iter()
                .find(|(m, _)| m == n)
                .and_then(|(_, h)| h.old_start)?;
            Some((s, p.start as i64 - (s as i64 - 1)))
        })
        .collect();
    let consistent = offsets
        .iter()
        .all(|(_, d)| offsets.first().is_some_and(|(_, d0)| (d - d0).abs() <= 3));
    for (n, h, f) in failed {
        if !f.ambiguous.is_empty()
            && consistent
            && !repeated_claims
            && let Some(s) = h.old_start
        {
            // The offset of the nearest hunk placed by content (none placed: the number as written). Numbers
            // that other hunks confirmed may be a little off; unconfirmed ones must name the line exactly.
            let off = offsets
                .iter()
                .min_by_key(|(c, _)| c.abs_diff(s))
                .map_or(0, |(_, d)| *d);
            let line = (s as i64 - 1 + off).max(0) as usize;
            let slack = if offsets.is_empty() { 0 } else { 2 };
            if let Ok(ps) = repair::place(&t, h, Some(repair::Hint { line, slack }), ladder) {
                placed.extend(ps.into_iter().map(|p| (n, p)));
                continue;
            }
        }
        reject(out, &path, Some(n), f.reason);
    }
    if opts.strict {
        let mut keep = Vec::new();
        for (n, p) in placed {
            if p.level.is_whitespace_only() {
                keep.push((n, p));
            } else {
                reject(
                    out,
                    &path,
                    Some(n),
                    format!("--strict: placing this hunk needed '{}' repair", p.level),
                );
            }
        }
        placed = keep;
    }
    // Order by position; hunks that share only context lines are merged, real overlaps refused.
    placed.sort_by_key(|(_, p)| (p.start, p.end));
    let mut merged: Vec<(usize, Placed)> = Vec::new();
    for (n, p) in placed {
        if let Some((m, last)) = merged.last_mut()
            && p.start < last.end
        {
            match merge(last, &p) {
                Some(x) => {
                    *last = x;
                    continue;
                }
                None => {
                    reject(
                        out,
                        &path,
                        Some(n),
                        format!(
                            "hunk {n} changes lines that hunk {m} also changes (overlapping hunks)"
                        ),
                    );
                    continue;
                }
            }
        }
        merged.push((n, p));
    }
    if merged.is_empty() && job.kind != ChangeKind::Rename {
        return;
    }
    let hunks: Vec<PlacedHunk> = merged
        .into_iter()
        .map(|(_, p)| PlacedHunk {
            old_start: p.start,
            old_lines: ft.lines[p.start..p.end].to_vec(),
            new_lines: p
                .ops
                .iter()
                .filter_map(|op| match op {
                    Op::Keep(i) => ft.lines.get(*i).cloned(),
                    Op::Delete(_) => None,
                    Op::Insert(s) => Some(s.clone()),
                })
                .collect(),
            level: p.level,
            eof_newline: p.eof_newline,
        })
        .collect();
    out.changes.push(FileChange {
        path: job.path.clone(),
        old_path: job.old_path.clone(),
        kind: job.kind,
        before: Some(text.to_string()),
        hunks,
    });
}

/// Merge two placed hunks whose regions overlap, when no line is removed by both and no insertion point is
/// claimed by both (a line one keeps as context the other may change); None when they really conflict.
fn merge(a: &Placed, b: &Placed) -> Option<Placed> {
    let start = a.start.min(b.start);
    let end = a.end.max(b.end);
    let spread = |p: &Placed| -> (HashMap<usize, Vec<String>>, HashMap<usize, bool>) {
        let mut ins: HashMap<usize, Vec<String>> = HashMap::new();
        let mut act: HashMap<usize, bool> = HashMap::new(); // true = keep
        let mut pending: Vec<String> = Vec::new();
        for op in &p.ops {
            match op {
                Op::Insert(s) => pending.push(s.clone()),
                Op::Keep(i) | Op::Delete(i) => {
                    if !pending.is_empty() {
                        ins.insert(*i, std::mem::take(&mut pending));
                    }
                    act.insert(*i, matches!(op, Op::Keep(_)));
                }
            }
        }
        if !pending.is_empty() {
            ins.insert(p.end, pending);
        }
        (ins, act)
    };
    let (ia, aa) = spread(a);
    let (ib, ab) = spread(b);
    let mut ops = Vec::new();
    for f in start..=end {
        match (ia.get(&f), ib.get(&f)) {
            (Some(_), Some(_)) => return None,
            (Some(x), None) | (None, Some(x)) => ops.extend(x.iter().cloned().map(Op::Insert)),
            (None, None) => {}
        }
        if f == end {
            break;
        }
        let keep = match (aa.get(&f), ab.get(&f)) {
            // Context in one hunk may be changed by the other (both were written against the original); the
            // same line removed by both is a conflict.
            (Some(x), Some(y)) => {
                if !*x && !*y {
                    return None;
                }
                *x && *y
            }
            (Some(x), None) | (None, Some(x)) => *x,
            (None, None) => true,
        };
        ops.push(if keep { Op::Keep(f) } else { Op::Delete(f) });
    }
    Some(Placed {
        start,
        end,
        ops,
        level: a.level.max(b.level),
        eof_newline: if b.end >= a.end {
            b.eof_newline
        } else {
            a.eof_newline
        },
    })
}
