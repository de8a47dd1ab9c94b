//! What a reviewer sees of one placed hunk and what they can do to it, as pure functions over the file's text:
//! the displayed lines (context, removed, added, with the words that changed inside a modified line), the
//! enclosing function or heading for the `@@` header, splitting a hunk where unchanged lines separate its
//! changes, and reading back a hunk the user edited (placed again exactly once, or refused).

use similar::{Algorithm, DiffOp, TextDiff, capture_diff_slices};

use crate::patch::validate::FileText;
use crate::patch::{ChangeKind, FileChange, PlacedHunk};

/// Lines of unchanged context shown around a hunk.
pub const CONTEXT: usize = 3;

/// The role of a displayed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Context,
    Removed,
    Added,
}

/// One displayed line: its role, its text in segments (`true` marks the words that changed inside a modified
/// line), and whether it is the file's last line without a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tag: Tag,
    pub segments: Vec<(bool, String)>,
    pub no_newline: bool,
}

impl Line {
    pub fn text(&self) -> String {
        self.segments.iter().map(|(_, s)| s.as_str()).collect()
    }
}

/// A hunk as shown: git-style ranges (1-based) and its lines with context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub old_start: usize,
    pub old_count: usize,
    pub new_start: usize,
    pub new_count: usize,
    /// The enclosing function or heading, if one can be found above the hunk.
    pub function: Option<String>,
    pub lines: Vec<Line>,
}

impl Shown {
    /// `@@ -a,b +c,d @@` in git's form.
    pub fn header(&self) -> String {
        format!(
            "@@ -{} +{} @@",
            range(self.old_start, self.old_count),
            range(self.new_start, self.new_count)
        )
    }

    pub fn added(&self) -> usize {
        self.lines.iter().filter(|l| l.tag == Tag::Added).count()
    }

    pub fn removed(&self) -> usize {
        self.lines.iter().filter(|l| l.tag == Tag::Removed).count()
    }
}

fn range(start: usize, count: usize) -> String {
    match count {
        1 => format!("{start}"),
        _ => format!("{start},{count}"),
    }
}

/// The current text of a change's file split into lines (empty for a new file).
pub fn before_lines(change: &FileChange) -> FileText {
    FileText::parse(change.before.as_deref().unwrap_or(""))
}

/// How hunk `index` of `change` looks, with `offset` = lines added minus lines removed by the hunks shown before
/// it in the same file (for the new-side line numbers).
pub fn show(change: &FileChange, index: usize, offset: isize) -> Shown {
    let ft = before_lines(change);
    let h = &change.hunks[index];
    let file_len = ft.lines.len();
    let start = h.old_start.min(file_len);
    let end = (start + h.old_lines.len()).min(file_len);
    let reaches_end = end == file_len;
    let had_newline = ft.final_newline();
    let will_have_newline = match (change.kind, h.eof_newline) {
        (_, Some(x)) if reaches_end => x,
        (ChangeKind::Create, _) => true,
        _ => had_newline,
    };

    // Lines with their terminators, so a change of the final newline shows as a change of the last line.
    let term = |i: usize, len: usize, last_nl: bool, at_end: bool| -> &'static str {
        if at_end && i + 1 == len && !last_nl {
            ""
        } else {
            "\n"
        }
    };
    let old: Vec<String> = h
        .old_lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "{l}{}",
                term(i, h.old_lines.len(), had_newline, reaches_end)
            )
        })
        .collect();
    let new: Vec<String> = h
        .new_lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "{l}{}",
                term(i, h.new_lines.len(), will_have_newline, reaches_end)
            )
        })
        .collect();

    let mut lines = Vec::new();
    let ctx_start = start.saturating_sub(CONTEXT);
    for l in &ft.lines[ctx_start..start] {
        lines.push(plain(Tag::Context, l, false));
    }
    let old_refs: Vec<&str> = old.iter().map(String::as_str).collect();
    let new_refs: Vec<&str> = new.iter().map(String::as_str).collect();
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .diff_slices(&old_refs, &new_refs);
    let mut words = similar::InlineChangeOptions::new();
    words.mode(similar::InlineChangeMode::UnicodeWords);
    for op in diff.ops() {
        for change in diff.iter_inline_changes_with_options(op, words) {
            let tag = match change.tag() {
                similar::ChangeTag::Equal => Tag::Context,
                similar::ChangeTag::Delete => Tag::Removed,
                similar::ChangeTag::Insert => Tag::Added,
            };
            let mut segments: Vec<(bool, String)> = Vec::new();
            let mut ends_with_newline = false;
            for (emph, text) in change.iter_strings_lossy() {
                let mut text = text.into_owned();
                if text.ends_with('\n') {
                    text.pop();
                    ends_with_newline = true;
                }
                if text.is_empty() {
                    continue;
                }
                match segments.last_mut() {
                    Some(last) if last.0 == emph => last.1.push_str(&text),
                    _ => segments.push((emph, text)),
                }
            }
            // A line whose every word changed says nothing more with emphasis than without.
            if segments.iter().all(|s| s.0) {
                for s in &mut segments {
                    s.0 = false;
                }
            }
            lines.push(Line {
                tag,
                segments,
                no_newline: !ends_with_newline,
            });
        }
    }
    let ctx_end = (end + CONTEXT).min(file_len);
    for (k, l) in ft.lines[end..ctx_end].iter().enumerate() {
        let last = end + k + 1 == file_len;
        lines.push(plain(Tag::Context, l, last && !had_newline));
    }
    let trimmed = trim_context(&mut lines);

    let old_count = lines.iter().filter(|l| l.tag != Tag::Added).count();
    let new_count = lines.iter().filter(|l| l.tag != Tag::Removed).count();
    let shown_start = ctx_start + trimmed;
    // Git numbers an empty side by the line before it.
    let old_start = if old_count == 0 {
        shown_start
    } else {
        shown_start + 1
    };
    let new_first = (shown_start as isize + offset).max(0) as usize;
    let new_start = if new_count == 0 {
        new_first
    } else {
        new_first + 1
    };
    Shown {
        old_start,
        old_count,
        new_start,
        new_count,
        function: function_context(&ft.lines, shown_start, &change.path),
        lines,
    }
}

fn plain(tag: Tag, text: &str, no_newline: bool) -> Line {
    Line {
        tag,
        segments: if text.is_empty() {
            Vec::new()
        } else {
            vec![(false, text.to_string())]
        },
        no_newline,
    }
}

/// Keep at most [`CONTEXT`] unchanged lines at either end (the hunk itself may carry more); returns how many
/// were dropped at the start.
fn trim_context(lines: &mut Vec<Line>) -> usize {
    let lead = lines.iter().take_while(|l| l.tag == Tag::Context).count();
    if lead == lines.len() {
        return 0;
    }
    let dropped = lead.saturating_sub(CONTEXT);
    lines.drain(..dropped);
    let trail = lines
        .iter()
        .rev()
        .take_while(|l| l.tag == Tag::Context)
        .count();
    if trail > CONTEXT {
        let keep = lines.len() - (trail - CONTEXT);
        lines.truncate(keep);
    }
    dropped
}

/// The nearest line above `before` that names the enclosing function, type or (in Markdown) heading, cut to
/// 60 characters. Code: a line that starts a definition, else git's default rule (a line starting at column 0
/// with a letter, `_` or `$`).
pub fn function_context(lines: &[String], before: usize, path: &str) -> Option<String> {
    let markdown = [".md", ".markdown", ".mdx", ".rst", ".adoc"]
        .iter()
        .any(|e| path.to_ascii_lowercase().ends_with(e));
    let found = lines[..before.min(lines.len())].iter().rev().find(|l| {
        if markdown {
            l.starts_with('#')
        } else {
            is_definition(l)
        }
    })?;
    let t = found.trim_end();
    Some(if t.chars().count() > 60 {
        t.chars().take(60).collect()
    } else {
        t.to_string()
    })
}

fn is_definition(line: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "fn",
        "pub",
        "impl",
        "struct",
        "enum",
        "trait",
        "mod",
        "class",
        "def",
        "function",
        "func",
        "async",
        "interface",
        "export",
        "module",
        "macro_rules!",
    ];
    let trimmed = line.trim_start();
    let first_word = trimmed
        .split(|c: char| c.is_whitespace() || c == '(' || c == '<' || c == '{')
        .next()
        .unwrap_or("");
    if KEYWORDS.contains(&first_word) && trimmed.len() > first_word.len() {
        return true;
    }
    line.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == '$')
}

/// Whether `s` (split) has anything to do: the hunk holds changes separated by unchanged lines.
pub fn can_split(h: &PlacedHunk) -> bool {
    split(h).len() > 1
}

/// Split a hunk into the runs of changes that unchanged lines separate; each part replaces only its own lines.
/// The part that reaches the end of the hunk keeps its end-of-file newline decision (with the unchanged lines
/// before the end, so it still reaches the end of the file).
pub fn split(h: &PlacedHunk) -> Vec<PlacedHunk> {
    let ops = capture_diff_slices(Algorithm::Myers, &h.old_lines, &h.new_lines);
    // Runs of non-equal ops: (old start, old end, new start, new end).
    let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut open: Option<(usize, usize, usize, usize)> = None;
    for op in &ops {
        match op {
            DiffOp::Equal { .. } => {
                if let Some(r) = open.take() {
                    runs.push(r);
                }
            }
            _ => {
                let (o, n) = (op.old_range(), op.new_range());
                open = Some(match open {
                    Some((os, _, ns, _)) => (os, o.end, ns, n.end),
                    None => (o.start, o.end, n.start, n.end),
                });
            }
        }
    }
    if let Some(r) = open.take() {
        runs.push(r);
    }
    if runs.len() < 2 {
        return vec![h.clone()];
    }
    if h.eof_newline.is_some() {
        let last = runs.len() - 1;
        runs[last].1 = h.old_lines.len();
        runs[last].3 = h.new_lines.len();
    }
    let count = runs.len();
    runs.into_iter()
        .enumerate()
        .map(|(i, (os, oe, ns, ne))| PlacedHunk {
            old_start: h.old_start + os,
            old_lines: h.old_lines[os..oe].to_vec(),
            new_lines: h.new_lines[ns..ne].to_vec(),
            level: h.level,
            eof_newline: if i + 1 == count { h.eof_newline } else { None },
        })
        .collect()
}

/// The text put in the editor for `e`: the hunk as shown, then a short guide in `#` lines.
pub fn edit_text(change: &FileChange, index: usize) -> String {
    let shown = show(change, index, 0);
    let mut out = String::from("# Manual hunk edit mode -- see bottom for a quick guide.\n");
    out.push_str(&shown.header());
    out.push('\n');
    for l in &shown.lines {
        out.push(match l.tag {
            Tag::Context => ' ',
            Tag::Removed => '-',
            Tag::Added => '+',
        });
        out.push_str(&l.text());
        out.push('\n');
    }
    out.push_str(
        "# ---\n\
         # To remove '-' lines, make them ' ' lines (context).\n\
         # To remove '+' lines, delete them.\n\
         # Lines starting with # will be removed.\n\
         # The ' ' and '-' lines must still match the file exactly at one place, or the edit is refused\n\
         # and the hunk is left as it was. Emptying the file abandons the edit.\n",
    );
    out
}

/// Why an edited hunk was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the edit was abandoned (no lines left)")]
    Empty,
    #[error("line {0} of the edit starts with neither ' ', '-', '+' nor '#'")]
    BadLine(usize),
    #[error("the edited hunk's ' ' and '-' lines do not match the file")]
    NoMatch,
    #[error("the edited hunk's ' ' and '-' lines match the file at {0} places")]
    Ambiguous(usize),
    #[error("the edited hunk overlaps another hunk of the same file")]
    Overlap,
    #[error("the edited hunk changes nothing")]
    NoChange,
}

/// Read back the user's edit of hunk `index` of `change`, place it exactly once in the file and return the new
/// hunk. It may not overlap the file's other hunks.
pub fn parse_edit(change: &FileChange, index: usize, text: &str) -> Result<PlacedHunk, EditError> {
    let original = &change.hunks[index];
    let ft = before_lines(change);
    let mut old: Vec<String> = Vec::new();
    let mut new: Vec<String> = Vec::new();
    let mut any = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.starts_with('#') || line.starts_with("@@") || line.starts_with('\\') {
            continue;
        }
        any = true;
        match line.chars().next() {
            None => {
                old.push(String::new());
                new.push(String::new());
            }
            Some(' ') => {
                old.push(line[1..].to_string());
                new.push(line[1..].to_string());
            }
            Some('-') => old.push(line[1..].to_string()),
            Some('+') => new.push(line[1..].to_string()),
            Some(_) => return Err(EditError::BadLine(n + 1)),
        }
    }
    if !any {
        return Err(EditError::Empty);
    }
    // Trailing empty context lines are often editor artefacts: drop them when they do not match.
    let shown_start = original
        .old_start
        .saturating_sub(CONTEXT)
        .min(ft.lines.len());
    let matches = |o: &[String]| -> Vec<usize> {
        if o.is_empty() {
            return vec![original.old_start.min(ft.lines.len())];
        }
        (0..=ft.lines.len().saturating_sub(o.len()))
            .filter(|&p| p + o.len() <= ft.lines.len() && ft.lines[p..p + o.len()] == *o)
            .collect()
    };
    let mut places = matches(&old);
    while places.is_empty()
        && old.last().is_some_and(String::is_empty)
        && new.last().is_some_and(String::is_empty)
    {
        old.pop();
        new.pop();
        places = matches(&old);
    }
    let at = match places.len() {
        0 => return Err(EditError::NoMatch),
        1 => places[0],
        n => {
            // Between several, the place the hunk was shown at decides: the one inside the shown lines, or the
            // hunk's own start.
            let shown_end =
                (original.old_start + original.old_lines.len() + CONTEXT).min(ft.lines.len());
            let inside: Vec<usize> = places
                .iter()
                .copied()
                .filter(|&p| p >= shown_start && p + old.len() <= shown_end)
                .collect();
            match inside.as_slice() {
                [one] => *one,
                _ if inside.contains(&original.old_start) => original.old_start,
                _ => return Err(EditError::Ambiguous(n)),
            }
        }
    };
    let reaches_end = at + old.len() == ft.lines.len();
    let keep_eof = original.eof_newline.is_some() && reaches_end;
    // Drop the context the user left around the change, so it cannot collide with neighbouring hunks.
    let prefix = old
        .iter()
        .zip(&new)
        .take_while(|(a, b)| a == b)
        .count()
        .min(old.len().min(new.len()));
    let (mut old, mut new) = (old[prefix..].to_vec(), new[prefix..].to_vec());
    let at = at + prefix;
    if !keep_eof {
        let suffix = old
            .iter()
            .rev()
            .zip(new.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        old.truncate(old.len() - suffix);
        new.truncate(new.len() - suffix);
    }
    let eof_newline = if keep_eof && at + old.len() == ft.lines.len() {
        original.eof_newline
    } else {
        None
    };
    if old == new && (eof_newline.is_none() || eof_newline == Some(ft.final_newline())) {
        return Err(EditError::NoChange);
    }
    let end = at + old.len();
    for (i, other) in change.hunks.iter().enumerate() {
        if i == index {
            continue;
        }
        let (s, e) = (other.old_start, other.old_start + other.old_lines.len());
        let overlaps = if old.is_empty() || s == e {
            (s <= at && at < e) || (at <= s && s < end) || s == at
        } else {
            at < e && s < end
        };
        if overlaps {
            return Err(EditError::Overlap);
        }
    }
    Ok(PlacedHunk {
        old_start: at,
        old_lines: old,
        new_lines: new,
        level: original.level,
        eof_newline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::RepairLevel;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    fn change(before: &str, hunks: Vec<PlacedHunk>) -> FileChange {
        FileChange {
            path: "src/lib.rs".into(),
            old_path: None,
            kind: ChangeKind::Modify,
            before: Some(before.into()),
            hunks,
        }
    }

    const FILE: &str =
        "fn a() {\n    one();\n    two();\n    three();\n    four();\n    five();\n}\n";

    fn two_changes() -> PlacedHunk {
        PlacedHunk {
            old_start: 1,
            old_lines: lines(&["    one();", "    two();", "    three();", "    four();"]),
            new_lines: lines(&["    uno();", "    two();", "    three();", "    cuatro();"]),
            level: RepairLevel::Exact,
            eof_newline: None,
        }
    }

    #[test]
    fn shows_context_changes_and_changed_words() {
        let c = change(FILE, vec![two_changes()]);
        let s = show(&c, 0, 0);
        assert_eq!(s.header(), "@@ -1,7 +1,7 @@");
        assert_eq!(s.function.as_deref(), None, "nothing above line 1");
        let text: Vec<String> = s
            .lines
            .iter()
            .map(|l| {
                let p = match l.tag {
                    Tag::Context => ' ',
                    Tag::Removed => '-',
                    Tag::Added => '+',
                };
                format!("{p}{}", l.text())
            })
            .collect();
        assert_eq!(
            text,
            [
                " fn a() {",
                "-    one();",
                "+    uno();",
                "     two();",
                "     three();",
                "-    four();",
                "+    cuatro();",
                "     five();",
                " }"
            ]
        );
        // Only the changed word is emphasised.
        assert_eq!(
            s.lines[1].segments,
            vec![
                (false, "    ".to_string()),
                (true, "one".to_string()),
                (false, "();".to_string())
            ]
        );
    }

    #[test]
    fn the_enclosing_function_names_the_hunk() {
        let file = "use x;\n\nfn main() {\n    let a = 1;\n    let b = 2;\n    let c = 3;\n    let d = 4;\n    let e = 5;\n}\n";
        let h = PlacedHunk {
            old_start: 7,
            old_lines: lines(&["    let e = 5;"]),
            new_lines: lines(&["    let e = 6;"]),
            level: RepairLevel::Whitespace,
            eof_newline: None,
        };
        let s = show(&change(file, vec![h]), 0, 2);
        assert_eq!(s.header(), "@@ -5,5 +7,5 @@");
        assert_eq!(s.function.as_deref(), Some("fn main() {"));
        let md = lines(&["# Title", "text", "## Usage", "more", "x"]);
        assert_eq!(
            function_context(&md, 4, "README.md").as_deref(),
            Some("## Usage")
        );
    }

    #[test]
    fn a_changed_final_newline_shows_on_the_last_line() {
        let h = PlacedHunk {
            old_start: 1,
            old_lines: lines(&["b"]),
            new_lines: lines(&["b"]),
            level: RepairLevel::Exact,
            eof_newline: Some(true),
        };
        let c = change("a\nb", vec![h]);
        let s = show(&c, 0, 0);
        let tags: Vec<(Tag, bool)> = s.lines.iter().map(|l| (l.tag, l.no_newline)).collect();
        assert_eq!(
            tags,
            [
                (Tag::Context, false),
                (Tag::Removed, true),
                (Tag::Added, false)
            ]
        );
    }

    #[test]
    fn split_cuts_at_unchanged_lines_and_applies_the_same() {
        let h = two_changes();
        assert!(can_split(&h));
        let parts = split(&h);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].old_start, 1);
        assert_eq!(parts[0].old_lines, lines(&["    one();"]));
        assert_eq!(parts[1].old_start, 4);
        assert_eq!(parts[1].new_lines, lines(&["    cuatro();"]));
        let whole = change(FILE, vec![h]).apply(&[]);
        let c = change(FILE, parts);
        assert_eq!(c.apply(&[]), whole);
        assert_eq!(
            c.apply(&[false, true]).unwrap(),
            FILE.replace("four", "cuatro")
        );
        let single = PlacedHunk {
            old_start: 0,
            old_lines: lines(&["x"]),
            new_lines: lines(&["y", "z"]),
            level: RepairLevel::Exact,
            eof_newline: None,
        };
        assert!(!can_split(&single));
    }

    #[test]
    fn an_edit_is_placed_again_or_refused() {
        let c = change(FILE, vec![two_changes()]);
        let text = edit_text(&c, 0);
        assert!(text.contains("-    four();\n+    cuatro();\n"), "{text}");
        // Keep only the second change: the first '-' becomes context, its '+' goes.
        let edited = text
            .replace("-    one();\n", "     one();\n")
            .replace("+    uno();\n", "");
        let h = parse_edit(&c, 0, &edited).unwrap();
        assert_eq!(h.old_start, 4);
        assert_eq!(h.old_lines, lines(&["    four();"]));
        assert_eq!(h.new_lines, lines(&["    cuatro();"]));

        let edited = text.replace("     two();\n", "     deux();\n");
        assert_eq!(parse_edit(&c, 0, &edited).unwrap_err(), EditError::NoMatch);
        assert_eq!(
            parse_edit(&c, 0, "# only comments\n").unwrap_err(),
            EditError::Empty
        );
        assert_eq!(
            parse_edit(&c, 0, "@@ -1 +1 @@\n*oops\n").unwrap_err(),
            EditError::BadLine(2)
        );
        let undo_all = text
            .replace("-    one();\n", "     one();\n")
            .replace("+    uno();\n", "")
            .replace("-    four();\n", "     four();\n")
            .replace("+    cuatro();\n", "");
        assert_eq!(
            parse_edit(&c, 0, &undo_all).unwrap_err(),
            EditError::NoChange
        );
        // Ambiguous context: "}" alone matches twice.
        let file = "}\nx\n}\n";
        let h = PlacedHunk {
            old_start: 2,
            old_lines: lines(&["}"]),
            new_lines: lines(&["};"]),
            level: RepairLevel::Exact,
            eof_newline: None,
        };
        let c = change(file, vec![h]);
        let placed = parse_edit(&c, 0, "-}\n+} // end\n").unwrap();
        assert_eq!(placed.old_start, 2, "the shown place wins");
    }

    #[test]
    fn an_edit_may_not_overlap_another_hunk() {
        let parts = split(&two_changes());
        let c = change(FILE, parts);
        let edited = "-    one();\n-    two();\n-    three();\n-    four();\n+    gone();\n";
        assert_eq!(parse_edit(&c, 0, edited).unwrap_err(), EditError::Overlap);
    }
}
