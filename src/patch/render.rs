//! Produce the result of a placed change: a file's new text for any subset of its hunks (unchanged lines keep
//! their bytes, new lines take the file's line ending), and a clean git-format diff regenerated from it.

use super::validate::FileText;
use super::{ChangeKind, FileChange, PlacedHunk};
use similar::{Algorithm, DiffOp, capture_diff_slices, group_diff_ops};

impl FileChange {
    /// The file's new text with the hunks for which `accepted[i]` is true (all when `accepted` is empty);
    /// None when the file does not exist afterwards (deleted, or a creation whose hunk is not accepted).
    pub fn apply(&self, accepted: &[bool]) -> Option<String> {
        let on = |i: usize| accepted.is_empty() || accepted.get(i).copied().unwrap_or(false);
        match self.kind {
            ChangeKind::Delete => {
                if self.hunks.is_empty() || on(0) {
                    None
                } else {
                    self.before.clone()
                }
            }
            ChangeKind::Create => {
                if (0..self.hunks.len()).any(on) {
                    Some(splice("", &self.hunks, &on))
                } else {
                    None
                }
            }
            ChangeKind::Modify | ChangeKind::Rename => Some(splice(
                self.before.as_deref().unwrap_or(""),
                &self.hunks,
                &on,
            )),
        }
    }
}

fn splice(before: &str, hunks: &[PlacedHunk], on: &dyn Fn(usize) -> bool) -> String {
    let ft = FileText::parse(before);
    let nl = if ft.lines.is_empty() {
        "\n"
    } else {
        ft.dominant_end()
    };
    let mut out: Vec<(&str, &str)> = Vec::new();
    let mut cursor = 0usize;
    let mut final_nl = ft.final_newline();
    let mut order: Vec<usize> = (0..hunks.len()).collect();
    order.sort_by_key(|&i| hunks[i].old_start);
    for i in order {
        let h = &hunks[i];
        if !on(i) || h.old_start < cursor || h.old_start > ft.lines.len() {
            continue;
        }
        let end = (h.old_start + h.old_lines.len()).min(ft.lines.len());
        for k in cursor..h.old_start {
            out.push((&ft.lines[k], ft.ends[k]));
        }
        // Lines the hunk leaves as they are keep their own ending.
        for op in capture_diff_slices(Algorithm::Myers, &h.old_lines, &h.new_lines) {
            match op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => {
                    for j in 0..len {
                        let e = ft
                            .ends
                            .get(h.old_start + old_index + j)
                            .copied()
                            .unwrap_or(nl);
                        out.push((&h.new_lines[new_index + j], e));
                    }
                }
                DiffOp::Delete { .. } => {}
                DiffOp::Insert {
                    new_index, new_len, ..
                }
                | DiffOp::Replace {
                    new_index, new_len, ..
                } => {
                    for l in &h.new_lines[new_index..new_index + new_len] {
                        out.push((l, nl));
                    }
                }
            }
        }
        cursor = end;
        if let Some(x) = h.eof_newline {
            final_nl = x;
        }
    }
    for k in cursor..ft.lines.len() {
        out.push((&ft.lines[k], ft.ends[k]));
    }
    let n = out.len();
    let mut s = String::with_capacity(before.len() + 64);
    for (k, (line, end)) in out.into_iter().enumerate() {
        s.push_str(line);
        if k + 1 < n || final_nl {
            s.push_str(if end.is_empty() { nl } else { end });
        }
    }
    s
}

/// A git-format diff (`diff --git`, new/deleted file modes, `\ No newline at end of file`) of the selected hunks
/// (`selection[i]` is the accepted-mask for `changes[i]`; empty = all), regenerated from before/after text so it
/// is exact and `git apply --check` accepts it. Empty string when nothing changes.
pub fn git_diff(changes: &[FileChange], selection: &[Vec<bool>]) -> String {
    let mut out = String::new();
    for (i, c) in changes.iter().enumerate() {
        let mask: &[bool] = selection.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let after = c.apply(mask);
        let before = c.before.as_deref();
        let old_name = c.old_path.as_deref().unwrap_or(&c.path);
        match (before, after.as_deref()) {
            (None, None) => {}
            (None, Some(a)) => {
                out.push_str(&format!(
                    "diff --git {} {}\n",
                    q("a/", &c.path),
                    q("b/", &c.path)
                ));
                out.push_str("new file mode 100644\n");
                if !a.is_empty() {
                    out.push_str(&format!("--- /dev/null\n+++ {}\n", q("b/", &c.path)));
                    out.push_str(&hunks("", a));
                }
            }
            (Some(b), None) => {
                out.push_str(&format!(
                    "diff --git {} {}\n",
                    q("a/", old_name),
                    q("b/", old_name)
                ));
                out.push_str("deleted file mode 100644\n");
                if !b.is_empty() {
                    out.push_str(&format!("--- {}\n+++ /dev/null\n", q("a/", old_name)));
                    out.push_str(&hunks(b, ""));
                }
            }
            (Some(b), Some(a)) => {
                let renamed = c.old_path.as_deref().is_some_and(|o| o != c.path);
                if !renamed && a == b {
                    continue;
                }
                out.push_str(&format!(
                    "diff --git {} {}\n",
                    q("a/", old_name),
                    q("b/", &c.path)
                ));
                if renamed {
                    out.push_str(&format!("similarity index {}%\n", similarity(b, a)));
                    out.push_str(&format!(
                        "rename from {}\nrename to {}\n",
                        q("", old_name),
                        q("", &c.path)
                    ));
                }
                if a != b {
                    if renamed {
                        // libgit2 reads a renamed file's content change only after an `index` line.
                        out.push_str(&format!("index {}..{}\n", blob_id(b), blob_id(a)));
                    }
                    out.push_str(&format!(
                        "--- {}\n+++ {}\n",
                        q("a/", old_name),
                        q("b/", &c.path)
                    ));
                    out.push_str(&hunks(b, a));
                }
            }
        }
    }
    out
}

/// The `@@` hunks (3 lines of context) between two texts; lines keep their own endings.
fn hunks(old: &str, new: &str) -> String {
    let o: Vec<&str> = old.split_inclusive('\n').collect();
    let n: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = capture_diff_slices(Algorithm::Myers, &o, &n);
    let mut out = String::new();
    for group in group_diff_ops(ops, 3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (os, oe) = (first.old_range().start, last.old_range().end);
        let (ns, ne) = (first.new_range().start, last.new_range().end);
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(os, oe - os),
            range(ns, ne - ns)
        ));
        let mut line = |prefix: char, l: &str| {
            out.push(prefix);
            out.push_str(l);
            if !l.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        };
        for op in &group {
            match *op {
                DiffOp::Equal { old_index, len, .. } => o[old_index..old_index + len]
                    .iter()
                    .for_each(|l| line(' ', l)),
                DiffOp::Delete {
                    old_index, old_len, ..
                } => o[old_index..old_index + old_len]
                    .iter()
                    .for_each(|l| line('-', l)),
                DiffOp::Insert {
                    new_index, new_len, ..
                } => n[new_index..new_index + new_len]
                    .iter()
                    .for_each(|l| line('+', l)),
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    o[old_index..old_index + old_len]
                        .iter()
                        .for_each(|l| line('-', l));
                    n[new_index..new_index + new_len]
                        .iter()
                        .for_each(|l| line('+', l));
                }
            }
        }
    }
    out
}

/// `start,len` in git's form (1-based; `N` alone for one line; the line before for an empty range).
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{}", start + 1, len),
    }
}

/// Git's blob id of a text, abbreviated as git writes it in an `index` line.
fn blob_id(text: &str) -> String {
    let id = git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
        .map(|o| o.to_string())
        .unwrap_or_default();
    id.chars().take(12).collect()
}

/// Rough similarity (percent of lines kept) for a rename header; git reads but does not check it.
fn similarity(old: &str, new: &str) -> usize {
    let o: Vec<&str> = old.split_inclusive('\n').collect();
    let n: Vec<&str> = new.split_inclusive('\n').collect();
    let total = o.len().max(n.len());
    if total == 0 {
        return 100;
    }
    let same: usize = capture_diff_slices(Algorithm::Myers, &o, &n)
        .iter()
        .map(|op| {
            if let DiffOp::Equal { len, .. } = op {
                *len
            } else {
                0
            }
        })
        .sum();
    same * 100 / total
}

/// A path for a diff header, C-quoted the way git does when it has quotes, backslashes, control or non-ASCII
/// characters.
fn q(prefix: &str, path: &str) -> String {
    let full = format!("{prefix}{path}");
    if !full
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control() || !c.is_ascii())
    {
        return full;
    }
    let mut s = String::from("\"");
    for b in full.bytes() {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\{b:03o}")),
        }
    }
    s.push('"');
    s
}
