//! The repair ladder: place one hunk at exactly one location of the ORIGINAL file text, trying ever more
//! forgiving comparisons in order and recording the rung that succeeded; refuse when no rung finds exactly one
//! place (ambiguous) or when the hunk's old lines are not in the file (hallucinated).
//!
//! Rungs, in order: exact (recount when the header numbers are missing or wrong) -> trailing whitespace and line
//! endings -> indentation (the whole hunk re-indented; added lines follow the same shift) -> blank lines
//! (missing or extra blank lines) -> `...` elision splits -> split at an unmarked jump -> outer context that sits
//! a few lines away -> unicode punctuation. Context lines that lost their leading space are matched as written
//! and raise the level to `missing_space`.

use super::RepairLevel;
use super::parse::{Hunk, HunkLine, LineKind};
use super::validate::is_placeholder;
use std::cell::OnceCell;
use std::collections::HashMap;

/// One edit of a placed hunk, over the file lines `start..end` in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Keep(usize),
    Delete(usize),
    Insert(String),
}

/// A hunk (or a piece of one) placed at one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub start: usize,
    pub end: usize,
    pub ops: Vec<Op>,
    pub level: RepairLevel,
    /// `Some(x)` when the hunk reaches the end of the file and says whether the file then ends with a newline.
    pub eof_newline: Option<bool>,
}

/// Why a hunk could not be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    /// The hunk matched several places (candidate 0-based starts) and nothing chose one.
    pub ambiguous: Vec<usize>,
}

fn fail(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        ambiguous: Vec::new(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Norm {
    Exact,
    TrailingWs,
    Indent,
    Unicode,
}

const NORMS: usize = 4;

impl Norm {
    fn idx(self) -> usize {
        match self {
            Norm::Exact => 0,
            Norm::TrailingWs => 1,
            Norm::Indent => 2,
            Norm::Unicode => 3,
        }
    }

    fn key(self, s: &str) -> String {
        match self {
            Norm::Exact => s.to_string(),
            Norm::TrailingWs => s.trim_end().to_string(),
            Norm::Indent => s.trim().to_string(),
            Norm::Unicode => unicode_key(s),
        }
    }
}

/// Curly quotes, dashes, odd spaces and the ellipsis character folded to ASCII; whitespace runs collapsed.
fn unicode_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars() {
        let m: &str = match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => "'",
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => "\"",
            '\u{2010}'..='\u{2015}' | '\u{2212}' => "-",
            '\u{2026}' => "...",
            c if c.is_whitespace() => " ",
            _ => "",
        };
        if m == " " {
            if !space {
                out.push(' ');
            }
            space = true;
            continue;
        }
        space = false;
        if m.is_empty() {
            out.push(c);
        } else {
            out.push_str(m);
        }
    }
    out
}

struct Index {
    keys: Vec<String>,
    at: HashMap<String, Vec<usize>>,
}

struct NonBlank {
    /// File line index of each non-blank line.
    pos: Vec<usize>,
    at: HashMap<String, Vec<usize>>,
}

/// The file being patched, with lazily built per-comparison indexes (lines by normalised content).
pub struct Target<'a> {
    pub lines: &'a [String],
    index: [OnceCell<Index>; NORMS],
    nonblank: [OnceCell<NonBlank>; NORMS],
    /// The file ends with a newline.
    pub final_newline: bool,
}

impl<'a> Target<'a> {
    pub fn new(lines: &'a [String], final_newline: bool) -> Self {
        Target {
            lines,
            index: Default::default(),
            nonblank: Default::default(),
            final_newline,
        }
    }

    fn index(&self, n: Norm) -> &Index {
        self.index[n.idx()].get_or_init(|| {
            let keys: Vec<String> = self.lines.iter().map(|l| n.key(l)).collect();
            let mut at: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, k) in keys.iter().enumerate() {
                at.entry(k.clone()).or_default().push(i);
            }
            Index { keys, at }
        })
    }

    fn nonblank(&self, n: Norm) -> &NonBlank {
        self.nonblank[n.idx()].get_or_init(|| {
            let idx = self.index(n);
            let mut pos = Vec::new();
            let mut at: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, k) in idx.keys.iter().enumerate() {
                if !k.trim().is_empty() {
                    at.entry(k.trim().to_string()).or_default().push(pos.len());
                    pos.push(i);
                }
            }
            NonBlank { pos, at }
        })
    }

    /// Starts of every contiguous occurrence of `seq` (already normalised with `n`).
    fn find(&self, n: Norm, seq: &[String]) -> Vec<usize> {
        let idx = self.index(n);
        if seq.is_empty() || seq.len() > idx.keys.len() {
            return Vec::new();
        }
        // Anchor on the rarest line (non-blank preferred).
        let mut best: Option<(usize, usize)> = None; // (offset in seq, occurrences)
        for (off, k) in seq.iter().enumerate() {
            let occ = idx.at.get(k).map_or(0, Vec::len);
            if occ == 0 {
                return Vec::new();
            }
            let blank = k.trim().is_empty();
            let better = match best {
                None => true,
                Some((bo, bocc)) => {
                    let bblank = seq[bo].trim().is_empty();
                    (bblank && !blank) || (bblank == blank && occ < bocc)
                }
            };
            if better {
                best = Some((off, occ));
            }
        }
        let Some((off, _)) = best else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for &p in idx.at.get(&seq[off]).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(start) = p.checked_sub(off) else {
                continue;
            };
            if start + seq.len() > idx.keys.len() {
                continue;
            }
            if seq
                .iter()
                .enumerate()
                .all(|(j, k)| &idx.keys[start + j] == k)
            {
                out.push(start);
            }
        }
        out
    }

    /// Occurrences of the non-blank sequence `seq` among the file's non-blank lines: for each, the file line
    /// index of each element.
    fn find_nonblank(&self, n: Norm, seq: &[String]) -> Vec<Vec<usize>> {
        let nb = self.nonblank(n);
        if seq.is_empty() || seq.len() > nb.pos.len() {
            return Vec::new();
        }
        let idx = self.index(n);
        let mut best: Option<(usize, usize)> = None;
        for (off, k) in seq.iter().enumerate() {
            let occ = nb.at.get(k.as_str()).map_or(0, Vec::len);
            if occ == 0 {
                return Vec::new();
            }
            if best.is_none_or(|(_, o)| occ < o) {
                best = Some((off, occ));
            }
        }
        let Some((off, _)) = best else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for &p in nb
            .at
            .get(seq[off].as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let Some(start) = p.checked_sub(off) else {
                continue;
            };
            if start + seq.len() > nb.pos.len() {
                continue;
            }
            if seq
                .iter()
                .enumerate()
                .all(|(j, k)| idx.keys[nb.pos[start + j]].trim() == k)
            {
                out.push((0..seq.len()).map(|j| nb.pos[start + j]).collect());
            }
        }
        out
    }
}

/// How added lines get their indentation when the old lines matched only after ignoring indentation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shift {
    None,
    Add(String),
    Strip(String),
}

fn indent_of(s: &str) -> &str {
    &s[..s.len() - s.trim_start().len()]
}

/// The alignment of a hunk's lines to file lines: for each hunk line, the file line it stands for (old lines
/// only; `None` for added lines and for blank old lines the file does not have).
struct Alignment {
    map: Vec<Option<usize>>,
    start: usize,
    end: usize,
}

/// Options that shape the ladder.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ladder {
    /// The file is Python (a bare `...` is code, not an elision).
    pub python: bool,
}

/// Place `h` against `t`. `hint` is the expected 0-based start (header number adjusted by what earlier hunks
/// showed); it only breaks ties between exact-content candidates that are clearly nearest.
pub fn place(
    t: &Target,
    h: &Hunk,
    hint: Option<Hint>,
    ladder: Ladder,
) -> Result<Vec<Placed>, Failure> {
    let old: Vec<usize> = (0..h.lines.len())
        .filter(|&k| h.lines[k].is_old())
        .collect();
    if old.iter().all(|&k| h.lines[k].text.trim().is_empty()) {
        return Err(fail(
            "the hunk has no non-blank context or removed lines to locate it by",
        ));
    }
    for &k in &old {
        let l = &h.lines[k];
        if l.kind == LineKind::Remove && is_placeholder(&l.text, ladder.python) {
            return Err(fail(format!(
                "removed lines are abbreviated with '{}'; the exact lines to delete are unknown",
                l.text.trim()
            )));
        }
    }
    let base = if h.counts_match() {
        RepairLevel::Exact
    } else {
        RepairLevel::Recount
    };
    let unmarked = old
        .iter()
        .any(|&k| !h.lines[k].marked && !h.lines[k].text.is_empty());
    let finish = |mut p: Vec<Placed>| {
        if unmarked {
            for x in &mut p {
                x.level = x.level.max(RepairLevel::MissingSpace);
            }
        }
        p
    };

    // Contiguous rungs.
    let rungs = [
        (Norm::Exact, base),
        (Norm::TrailingWs, RepairLevel::Whitespace),
        (Norm::Indent, RepairLevel::Indentation),
    ];
    let has_elision = old
        .iter()
        .any(|&k| h.lines[k].kind == LineKind::Context && is_placeholder(&h.lines[k].text, false));
    for (norm, level) in rungs {
        match contiguous(t, h, norm, hint, level)? {
            Some(p) => return Ok(finish(vec![p])),
            None => continue,
        }
    }
    if let Some(p) = blank_tolerant(t, h, Norm::Indent, hint)? {
        return Ok(finish(vec![p]));
    }
    if has_elision {
        return elision(t, h).map(finish);
    }
    if let Some(ps) = split_at_jumps(t, h)? {
        return Ok(finish(ps));
    }
    if let Some(p) = outer_context_nearby(t, h)? {
        return Ok(finish(vec![p]));
    }
    if let Some(p) = contiguous(t, h, Norm::Unicode, hint, RepairLevel::Unicode)? {
        return Ok(finish(vec![p]));
    }
    if let Some(mut p) = blank_tolerant(t, h, Norm::Unicode, hint)? {
        p.level = RepairLevel::Unicode;
        return Ok(finish(vec![p]));
    }
    Err(diagnose(t, h))
}

/// Where the header's line number says a hunk starts (0-based), and how far from it a candidate may be to be
/// picked among several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub line: usize,
    pub slack: usize,
}

/// Pick one candidate: the only one, or the one clearly nearest the hint.
fn choose(cands: &[usize], hint: Option<Hint>) -> Result<Option<usize>, Failure> {
    match cands.len() {
        0 => Ok(None),
        1 => Ok(Some(cands[0])),
        n => {
            if let Some(h) = hint {
                let mut d: Vec<(usize, usize)> =
                    cands.iter().map(|&c| (c.abs_diff(h.line), c)).collect();
                d.sort_unstable();
                let (d1, c1) = d[0];
                let d2 = d[1].0;
                if d1 <= h.slack && d2 >= 2 * d1 + 5 {
                    return Ok(Some(c1));
                }
            }
            Err(Failure {
                reason: format!(
                    "ambiguous: the hunk's lines occur {n} times in the file{}",
                    if hint.is_some() {
                        " and its line number picks none clearly"
                    } else {
                        " and the reply gives no line number"
                    }
                ),
                ambiguous: cands.to_vec(),
            })
        }
    }
}

fn contiguous(
    t: &Target,
    h: &Hunk,
    norm: Norm,
    hint: Option<Hint>,
    level: RepairLevel,
) -> Result<Option<Placed>, Failure> {
    let old: Vec<usize> = (0..h.lines.len())
        .filter(|&k| h.lines[k].is_old())
        .collect();
    let seq: Vec<String> = old.iter().map(|&k| norm.key(&h.lines[k].text)).collect();
    let cands = t.find(norm, &seq);
    let Some(start) = choose(&cands, hint)? else {
        return Ok(None);
    };
    let mut map = vec![None; h.lines.len()];
    for (j, &k) in old.iter().enumerate() {
        map[k] = Some(start + j);
    }
    let al = Alignment {
        map,
        start,
        end: start + old.len(),
    };
    Ok(Some(build(
        t,
        h,
        &al,
        level,
        matches!(norm, Norm::Indent | Norm::Unicode),
    )))
}

/// Match the non-blank old lines against the file's non-blank lines; blank lines may be missing or extra.
fn blank_tolerant(
    t: &Target,
    h: &Hunk,
    norm: Norm,
    hint: Option<Hint>,
) -> Result<Option<Placed>, Failure> {
    let nb: Vec<usize> = (0..h.lines.len())
        .filter(|&k| h.lines[k].is_old() && !h.lines[k].text.trim().is_empty())
        .collect();
    let seq: Vec<String> = nb
        .iter()
        .map(|&k| norm.key(&h.lines[k].text).trim().to_string())
        .collect();
    let found = t.find_nonblank(norm, &seq);
    let starts: Vec<usize> = found.iter().filter_map(|v| v.first().copied()).collect();
    let Some(first) = choose(&starts, hint)? else {
        return Ok(None);
    };
    let Some(pos) = found.iter().find(|v| v.first() == Some(&first)) else {
        return Ok(None);
    };
    let mut map = vec![None; h.lines.len()];
    for (j, &k) in nb.iter().enumerate() {
        map[k] = pos.get(j).copied();
    }
    let (Some(&lo), Some(&hi)) = (pos.first(), pos.last()) else {
        return Ok(None);
    };
    let (mut start, mut end) = (lo, hi + 1);
    let first_nb = nb.first().copied().unwrap_or(0);
    let last_nb = nb.last().copied().unwrap_or(0);
    // Blank old lines between two matched lines take the file's blank lines there, in order.
    let mut k = first_nb;
    let mut file_cursor = lo;
    while k <= last_nb {
        if let Some(f) = map[k] {
            file_cursor = f + 1;
        } else if h.lines[k].is_old() {
            let next_f = map[k..=last_nb]
                .iter()
                .flatten()
                .next()
                .copied()
                .unwrap_or(hi);
            if file_cursor < next_f && t.lines[file_cursor].trim().is_empty() {
                map[k] = Some(file_cursor);
                file_cursor += 1;
            }
        }
        k += 1;
    }
    // Leading and trailing blank old lines attach to adjacent blank file lines when there are some.
    for k in (0..first_nb).rev() {
        if h.lines[k].is_old() && start > 0 && t.lines[start - 1].trim().is_empty() {
            start -= 1;
            map[k] = Some(start);
        }
    }
    for (k, slot) in map.iter_mut().enumerate().skip(last_nb + 1) {
        if h.lines[k].is_old() && end < t.lines.len() && t.lines[end].trim().is_empty() {
            *slot = Some(end);
            end += 1;
        }
    }
    let al = Alignment { map, start, end };
    Ok(Some(build(t, h, &al, RepairLevel::BlankLines, true)))
}

/// Turn an alignment into ops; `reindent` re-derives added lines' indentation from the matched old lines.
fn build(t: &Target, h: &Hunk, al: &Alignment, level: RepairLevel, reindent: bool) -> Placed {
    let adds = if reindent {
        reindent_adds(t, h, al)
    } else {
        h.lines.iter().map(|l| l.text.clone()).collect()
    };
    let mut ops = Vec::new();
    let mut cursor = al.start;
    for (k, l) in h.lines.iter().enumerate() {
        match l.kind {
            LineKind::Add => ops.push(Op::Insert(adds[k].clone())),
            LineKind::Context | LineKind::Remove => {
                if let Some(f) = al.map[k] {
                    while cursor < f {
                        ops.push(Op::Keep(cursor));
                        cursor += 1;
                    }
                    ops.push(if l.kind == LineKind::Context {
                        Op::Keep(f)
                    } else {
                        Op::Delete(f)
                    });
                    cursor = f + 1;
                }
            }
        }
    }
    while cursor < al.end {
        ops.push(Op::Keep(cursor));
        cursor += 1;
    }
    let eof_newline = if al.end == t.lines.len() {
        let (o, n) = (h.old_no_eol(), h.new_no_eol());
        match (o, n) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    } else {
        None
    };
    Placed {
        start: al.start,
        end: al.end,
        ops,
        level,
        eof_newline,
    }
}

/// Indentation of added lines after an indentation-insensitive match: either as written (the model wrote them
/// in the file's indentation) or shifted the way the old lines were (the whole hunk was re-indented). The
/// removed or context line an added line replaces or follows votes for one reading; without votes a consistent
/// shift of every old line decides.
fn reindent_adds(t: &Target, h: &Hunk, al: &Alignment) -> Vec<String> {
    let written: Vec<String> = h.lines.iter().map(|l| l.text.clone()).collect();
    let mut pairs: Vec<(usize, String, String)> = Vec::new(); // (hunk idx, reply indent, file indent)
    for (k, l) in h.lines.iter().enumerate() {
        if let (true, Some(f)) = (l.is_old(), al.map[k]) {
            if l.text.trim().is_empty() {
                continue;
            }
            let Some(fl) = t.lines.get(f) else { continue };
            pairs.push((k, indent_of(&l.text).to_string(), indent_of(fl).to_string()));
        }
    }
    if pairs.iter().all(|(_, r, f)| r == f) {
        return written;
    }
    // A consistent shift of every old line?
    let shift = {
        let first = pairs.first();
        let add = first.and_then(|(_, r, f)| f.strip_suffix(r.as_str()).map(str::to_string));
        let strip = first.and_then(|(_, r, f)| r.strip_suffix(f.as_str()).map(str::to_string));
        let all_add = add
            .as_ref()
            .filter(|p| !p.is_empty() && pairs.iter().all(|(_, r, f)| *f == format!("{p}{r}")));
        let all_strip = strip
            .as_ref()
            .filter(|p| !p.is_empty() && pairs.iter().all(|(_, r, f)| *r == format!("{p}{f}")));
        match (all_add, all_strip) {
            (Some(p), _) => Shift::Add(p.clone()),
            (_, Some(p)) => Shift::Strip(p.clone()),
            _ => Shift::None,
        }
    };
    // Reply indent -> file indent, when unambiguous.
    let mut table: HashMap<&str, Option<&str>> = HashMap::new();
    for (_, r, f) in &pairs {
        let e = table.entry(r.as_str()).or_insert(Some(f.as_str()));
        if *e != Some(f.as_str()) {
            *e = None;
        }
    }
    let map_indent = |ind: &str| -> Option<String> {
        match &shift {
            Shift::Add(p) => Some(format!("{p}{ind}")),
            Shift::Strip(p) => ind.strip_prefix(p.as_str()).map(str::to_string),
            Shift::None => table.get(ind).copied().flatten().map(str::to_string),
        }
    };
    // Votes. An added line that replaces a removed line (the i-th of its change run) is compared with that
    // line; an inserted line with the next old line after its run (insertions are usually siblings of what
    // follows), else with the old line before it. Equal to the file's indent: written in file terms; equal to the
    // reply's indent: written in the hunk's shifted terms.
    let (mut as_written, mut mapped) = (0usize, 0usize);
    let old_nonblank = |k: usize| h.lines[k].is_old() && !h.lines[k].text.trim().is_empty();
    let mut run_removed: Vec<usize> = Vec::new();
    let mut run_added = 0usize;
    let mut line_refs: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, l) in h.lines.iter().enumerate() {
        match l.kind {
            LineKind::Remove => {
                if run_added > 0 {
                    run_removed.clear();
                    run_added = 0;
                }
                run_removed.push(k);
            }
            LineKind::Context => {
                run_removed.clear();
                run_added = 0;
            }
            LineKind::Add => {
                let paired = run_removed.get(run_added).copied();
                run_added += 1;
                if l.text.trim().is_empty() {
                    continue;
                }
                let next = (k + 1..h.lines.len()).find(|&j| old_nonblank(j));
                let prev = (0..k).rev().find(|&j| old_nonblank(j));
                let refs: Vec<usize> = match paired {
                    Some(p) => vec![p],
                    None => next.into_iter().chain(prev).collect(),
                };
                let a = indent_of(&l.text);
                line_refs.insert(k, refs.clone());
                for rk in refs {
                    let Some((_, r, f)) = pairs.iter().find(|(pk, _, _)| *pk == rk) else {
                        continue;
                    };
                    if r == f || (a != f && a != r) {
                        continue;
                    }
                    if a == f {
                        as_written += 1;
                    } else {
                        mapped += 1;
                    }
                    break;
                }
            }
        }
    }
    let use_map = mapped > as_written || (mapped == as_written && shift != Shift::None);
    if !use_map {
        return written;
    }
    // Each added line moves the way its reference line moved (for a consistent shift that is the shift).
    let relative = |k: usize, a: &str| -> Option<String> {
        let refs = line_refs.get(&k)?;
        let (_, r, f) = refs
            .iter()
            .find_map(|rk| pairs.iter().find(|(pk, _, _)| pk == rk))?;
        if let Some(rest) = a.strip_prefix(r.as_str()) {
            return Some(format!("{f}{rest}"));
        }
        let extra = r.strip_prefix(a)?;
        f.strip_suffix(extra).map(str::to_string)
    };
    h.lines
        .iter()
        .enumerate()
        .map(|(k, l)| {
            if l.kind != LineKind::Add || l.text.trim().is_empty() {
                return l.text.clone();
            }
            let ind = indent_of(&l.text);
            let new = match &shift {
                Shift::None => relative(k, ind).or_else(|| map_indent(ind)),
                _ => map_indent(ind),
            };
            match new {
                Some(new) => format!("{new}{}", l.text.trim_start()),
                None => l.text.clone(),
            }
        })
        .collect()
}

/// The hunk cut at `...`-style context lines; every piece must match exactly once, in order. (A bare `...` counts
/// as elision even in Python: had it been real code, an earlier rung would have matched.)
fn elision(t: &Target, h: &Hunk) -> Result<Vec<Placed>, Failure> {
    let mut pieces: Vec<Hunk> = Vec::new();
    let mut cur: Vec<HunkLine> = Vec::new();
    for l in &h.lines {
        if l.kind == LineKind::Context && is_placeholder(&l.text, false) {
            pieces.push(Hunk {
                lines: std::mem::take(&mut cur),
                ..Hunk::default()
            });
        } else {
            cur.push(l.clone());
        }
    }
    pieces.push(Hunk {
        lines: cur,
        ..Hunk::default()
    });
    let placed = place_pieces(t, &pieces, "elided", 1)?;
    Ok(placed
        .into_iter()
        .map(|mut p| {
            p.level = p.level.max(RepairLevel::Elision);
            p
        })
        .collect())
}

/// Place pieces of one hunk in order; each must match exactly once and start after the previous one ends.
fn place_pieces(
    t: &Target,
    pieces: &[Hunk],
    what: &str,
    min_nonblank: usize,
) -> Result<Vec<Placed>, Failure> {
    let mut out: Vec<Placed> = Vec::new();
    let mut prev_end = 0usize;
    for (i, p) in pieces.iter().enumerate() {
        let nonblank = p
            .lines
            .iter()
            .filter(|l| l.is_old() && !l.text.trim().is_empty())
            .count();
        let changes = p.lines.iter().any(|l| l.kind != LineKind::Context);
        if nonblank < min_nonblank {
            if changes {
                return Err(fail(format!(
                    "part {} of the {what} hunk has too little context to locate it",
                    i + 1
                )));
            }
            continue;
        }
        // A part of an elided hunk may itself jump over lines without a marker.
        let placed = match place_piece(t, p) {
            Ok(x) => vec![x],
            Err(f) => match (what, split_at_jumps(t, p)) {
                ("elided", Ok(Some(xs))) => xs,
                _ => {
                    return Err(fail(format!(
                        "part {} of the {what} hunk: {}",
                        i + 1,
                        f.reason
                    )));
                }
            },
        };
        for x in placed {
            if x.start < prev_end {
                return Err(fail(format!(
                    "the parts of the {what} hunk are not in file order"
                )));
            }
            prev_end = x.end;
            if x.ops.iter().any(|op| !matches!(op, Op::Keep(_))) {
                out.push(x);
            }
        }
    }
    if out.is_empty() {
        return Err(fail(format!("the {what} hunk has no changes")));
    }
    Ok(out)
}

/// A piece of a split hunk: the plain rungs only, unique in the whole file, no line-number tie-break.
fn place_piece(t: &Target, p: &Hunk) -> Result<Placed, Failure> {
    for (norm, level) in [
        (Norm::Exact, RepairLevel::Exact),
        (Norm::TrailingWs, RepairLevel::Whitespace),
        (Norm::Indent, RepairLevel::Indentation),
    ] {
        if let Some(x) = contiguous(t, p, norm, None, level)? {
            return Ok(x);
        }
    }
    if let Some(x) = blank_tolerant(t, p, Norm::Indent, None)? {
        return Ok(x);
    }
    Err(diagnose(t, p))
}

/// A hunk that silently jumps over unchanged lines: cut it between two context lines where the contiguous match
/// breaks; every piece (with two non-blank old lines, or one distinctive line found once in the file) must match
/// exactly once, in order.
fn split_at_jumps(t: &Target, h: &Hunk) -> Result<Option<Vec<Placed>>, Failure> {
    // Every old line must exist somewhere, or this is not a jump but a hallucination.
    let idx = t.index(Norm::Indent);
    if h.lines
        .iter()
        .any(|l| l.is_old() && !l.text.trim().is_empty() && !idx.at.contains_key(l.text.trim()))
    {
        return Ok(None);
    }
    let n = h.lines.len();
    let cut_ok = |k: usize| {
        k > 0
            && k < n
            && h.lines[k - 1].kind == LineKind::Context
            && h.lines[k].kind == LineKind::Context
    };
    let matches_somewhere = |lines: &[HunkLine], from: usize| -> bool {
        let p = Hunk {
            lines: lines.to_vec(),
            ..Hunk::default()
        };
        let nb: Vec<String> = p
            .lines
            .iter()
            .filter(|l| l.is_old() && !l.text.trim().is_empty())
            .map(|l| l.text.trim().to_string())
            .collect();
        // A piece needs two non-blank old lines, or one distinctive line that occurs once in the file.
        let single_ok =
            nb.len() == 1 && nb[0].len() >= 8 && idx.at.get(&nb[0]).is_some_and(|v| v.len() == 1);
        if nb.len() < 2 && !single_ok {
            return false;
        }
        t.find_nonblank(Norm::Indent, &nb)
            .iter()
            .any(|v| v.first().is_some_and(|&f| f >= from))
    };
    let mut pieces: Vec<Hunk> = Vec::new();
    let mut s = 0usize;
    let mut from = 0usize;
    while s < n {
        // The longest piece starting at `s` that still matches somewhere after `from`.
        let mut chosen = None;
        let mut e = n;
        loop {
            if (e == n || cut_ok(e)) && e > s && matches_somewhere(&h.lines[s..e], from) {
                chosen = Some(e);
                break;
            }
            if e <= s + 1 {
                break;
            }
            e -= 1;
        }
        let Some(e) = chosen else { return Ok(None) };
        let piece = Hunk {
            lines: h.lines[s..e].to_vec(),
            ..Hunk::default()
        };
        let Ok(placed) = place_piece(t, &piece) else {
            return Ok(None);
        };
        from = placed.end;
        pieces.push(piece);
        s = e;
    }
    if pieces.len() < 2 {
        return Ok(None);
    }
    match place_pieces(t, &pieces, "split", 1) {
        Ok(ps) => Ok(Some(
            ps.into_iter()
                .map(|mut p| {
                    p.level = p.level.max(RepairLevel::Split);
                    p
                })
                .collect(),
        )),
        Err(_) => Ok(None),
    }
}

/// Lines the model kept as outer context although they sit a few lines away: drop leading/trailing context lines
/// (outside in) while every dropped line is found, in order, within a few lines before/after the match.
fn outer_context_nearby(t: &Target, h: &Hunk) -> Result<Option<Placed>, Failure> {
    const WINDOW: usize = 6;
    let n = h.lines.len();
    let lead = h
        .lines
        .iter()
        .take_while(|l| l.kind == LineKind::Context)
        .count();
    let trail = h
        .lines
        .iter()
        .rev()
        .take_while(|l| l.kind == LineKind::Context)
        .count();
    if lead == n {
        return Ok(None);
    }
    let idx = t.index(Norm::Indent);
    for drop in 1..=(lead + trail) {
        for dl in 0..=drop.min(lead) {
            let dt = drop - dl;
            if dt > trail {
                continue;
            }
            let core = Hunk {
                lines: h.lines[dl..n - dt].to_vec(),
                ..h.clone()
            };
            let nb = core
                .lines
                .iter()
                .filter(|l| l.is_old() && !l.text.trim().is_empty())
                .count();
            if nb < 2 {
                continue;
            }
            let mut placed = None;
            for (norm, level) in [
                (Norm::Exact, RepairLevel::DropContext),
                (Norm::TrailingWs, RepairLevel::DropContext),
                (Norm::Indent, RepairLevel::DropContext),
            ] {
                let seq: Vec<String> = core
                    .lines
                    .iter()
                    .filter(|l| l.is_old())
                    .map(|l| norm.key(&l.text))
                    .collect();
                let c = t.find(norm, &seq);
                if c.len() > 1 {
                    // Fewer lines match several places: this rung cannot decide.
                    return Ok(None);
                }
                if let Some(&start) = c.first() {
                    placed = Some((start, start + seq.len(), norm, level));
                    break;
                }
            }
            let Some((start, end, norm, level)) = placed else {
                continue;
            };
            // Dropped leading lines, in order, within WINDOW lines before `start`; trailing ones after `end`.
            let ok_lead = {
                let want: Vec<String> = h.lines[..dl]
                    .iter()
                    .filter(|l| !l.text.trim().is_empty())
                    .map(|l| l.text.trim().to_string())
                    .collect();
                let lo = start.saturating_sub(WINDOW + want.len());
                subsequence(&idx.keys[lo..start], &want)
            };
            let ok_trail = {
                let want: Vec<String> = h.lines[n - dt..]
                    .iter()
                    .filter(|l| !l.text.trim().is_empty())
                    .map(|l| l.text.trim().to_string())
                    .collect();
                let hi = (end + WINDOW + want.len()).min(idx.keys.len());
                subsequence(&idx.keys[end..hi], &want)
            };
            if !(ok_lead && ok_trail) {
                continue;
            }
            let old: Vec<usize> = (0..core.lines.len())
                .filter(|&k| core.lines[k].is_old())
                .collect();
            let mut map = vec![None; core.lines.len()];
            for (j, &k) in old.iter().enumerate() {
                map[k] = Some(start + j);
            }
            let al = Alignment { map, start, end };
            return Ok(Some(build(t, &core, &al, level, norm == Norm::Indent)));
        }
    }
    Ok(None)
}

fn subsequence(hay: &[String], want: &[String]) -> bool {
    let mut it = hay.iter();
    want.iter().all(|w| it.any(|h| h == w))
}

/// Why no rung placed the hunk: a line the file lacks, the hunk already applied, or lines out of order.
fn diagnose(t: &Target, h: &Hunk) -> Failure {
    let idx = t.index(Norm::Unicode);
    for l in &h.lines {
        if !l.is_old() || l.text.trim().is_empty() {
            continue;
        }
        if !idx.at.contains_key(&unicode_key(&l.text)) {
            let what = if l.kind == LineKind::Remove {
                "removed"
            } else {
                "context"
            };
            let mut reason = format!("{what} line '{}' does not exist in the file", l.text.trim());
            if already_applied(t, h) {
                reason = "the change appears to be already applied (its new lines are in the file, its old lines are not)".into();
            }
            return fail(reason);
        }
    }
    fail("the hunk's lines are in the file but not together in this order")
}

/// The new side (context + added lines) occurs exactly once, ignoring whitespace.
fn already_applied(t: &Target, h: &Hunk) -> bool {
    if !h.lines.iter().any(|l| l.kind != LineKind::Context) {
        return false;
    }
    let seq: Vec<String> = h
        .lines
        .iter()
        .filter(|l| l.is_new() && !l.text.trim().is_empty())
        .map(|l| l.text.trim().to_string())
        .collect();
    seq.len() >= 2 && t.find_nonblank(Norm::Indent, &seq).len() == 1
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_str;
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    fn hunk(diff_body: &str) -> Hunk {
        let p = parse_str(&format!("--- a/f\n+++ b/f\n{diff_body}"));
        p.files[0].hunks[0].clone()
    }

    /// Apply placed pieces to the file lines (test helper).
    fn run(file: &str, body: &str) -> Result<(String, RepairLevel), String> {
        let ls = lines(file);
        let t = Target::new(&ls, true);
        let h = hunk(body);
        let hint = h.old_start.map(|s| Hint {
            line: s.saturating_sub(1),
            slack: 0,
        });
        let ps = place(&t, &h, hint, Ladder::default()).map_err(|f| f.reason)?;
        let mut out: Vec<String> = Vec::new();
        let mut cur = 0;
        let mut level = RepairLevel::Exact;
        for p in &ps {
            out.extend(ls[cur..p.start].iter().cloned());
            for op in &p.ops {
                match op {
                    Op::Keep(i) => out.push(ls[*i].clone()),
                    Op::Delete(_) => {}
                    Op::Insert(s) => out.push(s.clone()),
                }
            }
            cur = p.end;
            level = level.max(p.level);
        }
        out.extend(ls[cur..].iter().cloned());
        Ok((out.join("\n") + "\n", level))
    }

    const FILE: &str =
        "fn a() {\n    one();\n    two();\n}\n\nfn b() {\n    three();\n    four();\n}\n";

    #[test]
    fn exact_at_claimed_line() {
        let (out, lvl) = run(
            FILE,
            "@@ -6,4 +6,4 @@\n fn b() {\n-    three();\n+    THREE();\n     four();\n }\n",
        )
        .unwrap();
        assert!(out.contains("THREE") && !out.contains("three"));
        assert_eq!(lvl, RepairLevel::Exact);
    }

    #[test]
    fn exact_anywhere_but_bad_numbers_is_recount() {
        let (out, lvl) = run(
            FILE,
            "@@ -60,9 +60,2 @@\n fn b() {\n-    three();\n+    THREE();\n",
        )
        .unwrap();
        assert!(out.contains("THREE"));
        assert_eq!(lvl, RepairLevel::Recount);
    }

    #[test]
    fn trailing_whitespace_rung_keeps_file_bytes() {
        let file = "a  \nb\nc\n";
        let (out, lvl) = run(file, "@@\n a\n-b\n+B\n c   \n").unwrap();
        assert_eq!(out, "a  \nB\nc\n");
        assert_eq!(lvl, RepairLevel::Whitespace);
    }

    #[test]
    fn outdented_hunk_is_reindented() {
        let (out, lvl) = run(
            FILE,
            "@@\n three();\n-four();\n+five();\n+if x {\n+    six();\n+}\n",
        )
        .unwrap();
        assert!(
            out.contains("    five();\n    if x {\n        six();\n    }\n"),
            "{out}"
        );
        assert_eq!(lvl, RepairLevel::Indentation);
    }

    #[test]
    fn drifted_context_keeps_added_lines_as_written() {
        // Context shown with 2-space indents, the added line written in the file's 4-space indent.
        let (out, _) = run(
            FILE,
            "@@\n fn b() {\n-  three();\n+    THREE();\n   four();\n",
        )
        .unwrap();
        assert!(out.contains("\n    THREE();\n"), "{out}");
    }

    #[test]
    fn blank_lines_missing_or_extra() {
        let (out, lvl) = run(
            FILE,
            "@@\n     two();\n }\n fn b() {\n-    three();\n+    THREE();\n",
        )
        .unwrap();
        assert!(out.contains("}\n\nfn b() {\n    THREE();"), "{out}");
        assert_eq!(lvl, RepairLevel::BlankLines);
        let (out, _) = run(FILE, "@@\n fn b() {\n \n-    three();\n+    THREE();\n").unwrap();
        assert!(out.contains("fn b() {\n    THREE();"), "{out}");
    }

    #[test]
    fn unmarked_context_raises_level() {
        let (out, lvl) = run(FILE, "@@\n     two();\n}\n \n-fn b() {\n+fn bee() {\n").unwrap();
        assert!(out.contains("fn bee()"));
        assert_eq!(lvl, RepairLevel::MissingSpace);
    }

    #[test]
    fn elision_splits_in_order() {
        let (out, lvl) = run(FILE, "@@\n fn a() {\n-    one();\n+    ONE();\n // ... existing code ...\n     three();\n-    four();\n+    FOUR();\n").unwrap();
        assert!(
            out.contains("ONE") && out.contains("FOUR") && out.contains("two"),
            "{out}"
        );
        assert_eq!(lvl, RepairLevel::Elision);
        let err = run(FILE, "@@\n     three();\n-    four();\n+    FOUR();\n ...\n fn a() {\n-    one();\n+    ONE();\n").unwrap_err();
        assert!(err.contains("order"), "{err}");
    }

    #[test]
    fn elided_part_that_also_jumps_is_split_further() {
        let file = "alpha one\nalpha two\nalpha three\nbeta one\nbeta two\ngamma one\ngamma two\ngamma three\ndelta one\ndelta two\n";
        let body = "@@\n alpha one\n-alpha two\n+ALPHA TWO\n alpha three\n ...\n gamma one\n-gamma two\n+GAMMA TWO\n gamma three\n delta two\n";
        let (out, lvl) = run(file, body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out,
            file.replace("alpha two", "ALPHA TWO")
                .replace("gamma two", "GAMMA TWO")
        );
        assert_eq!(lvl, RepairLevel::Split);
    }

    #[test]
    fn jump_without_separator_splits() {
        let (out, lvl) = run(FILE, "@@\n fn a() {\n-    one();\n+    ONE();\n     two();\n fn b() {\n     three();\n-    four();\n+    FOUR();\n").unwrap();
        assert!(out.contains("ONE") && out.contains("FOUR"), "{out}");
        assert_eq!(lvl, RepairLevel::Split);
    }

    #[test]
    fn skipped_outer_context_nearby() {
        let file = "x1\nx2\nx3\nx4\nx5\nx6\nx7\n";
        let (out, lvl) = run(file, "@@\n x1\n x3\n x4\n-x5\n+X5\n x6\n").unwrap();
        assert_eq!(out, "x1\nx2\nx3\nx4\nX5\nx6\nx7\n");
        assert_eq!(lvl, RepairLevel::DropContext);
    }

    #[test]
    fn unicode_punctuation() {
        let file = "say(\"hi\") // it’s ok\nnext\n";
        let (out, lvl) = run(file, "@@\n say(\"hi\") // it's ok\n-next\n+NEXT\n").unwrap();
        assert_eq!(out, "say(\"hi\") // it’s ok\nNEXT\n");
        assert_eq!(lvl, RepairLevel::Unicode);
    }

    #[test]
    fn hallucinated_context_is_refused() {
        let err = run(
            FILE,
            "@@\n fn b() {\n     // invented\n-    three();\n+    THREE();\n",
        )
        .unwrap_err();
        assert!(err.contains("invented"), "{err}");
        let err = run(FILE, "@@\n fn b() {\n-    threee();\n+    THREE();\n").unwrap_err();
        assert!(err.contains("removed line"), "{err}");
    }

    #[test]
    fn ambiguous_without_a_clear_line_number() {
        let file = "x\na\nb\nc\ny\ny\ny\ny\ny\ny\ny\ny\ny\ny\ny\ny\na\nb\nc\nz\n";
        let err = run(file, "@@\n a\n-b\n+B\n c\n").unwrap_err();
        assert!(err.contains("ambiguous"), "{err}");
        let (out, _) = run(file, "@@ -17,3 +17,3 @@\n a\n-b\n+B\n c\n").unwrap();
        assert!(out.ends_with("a\nB\nc\nz\n"), "{out}");
        let err = run(file, "@@ -10,3 +10,3 @@\n a\n-b\n+B\n c\n").unwrap_err();
        assert!(err.contains("ambiguous"), "{err}");
    }

    #[test]
    fn abbreviated_removed_lines_are_refused() {
        let err = run(FILE, "@@\n fn a() {\n-    one();\n-    // ...\n-}\n").unwrap_err();
        assert!(err.contains("abbreviated"), "{err}");
    }

    #[test]
    fn already_applied_is_refused_with_reason() {
        let err = run(
            FILE,
            "@@\n fn b() {\n-    tree();\n+    three();\n     four();\n",
        )
        .unwrap_err();
        assert!(err.contains("already applied"), "{err}");
    }

    #[test]
    fn unmarked_added_line_is_not_guessed() {
        let err = run(
            FILE,
            "@@\n fn b() {\n     new_thing();\n+    added();\n     three();\n",
        )
        .unwrap_err();
        assert!(err.contains("new_thing"), "{err}");
    }
}
