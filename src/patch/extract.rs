//! Find the proposed changes in a raw model reply: diff text (fenced or bare, one or many blocks, prose around
//! it), whole-file blocks that name their path, and the model's one-line summary.

/// What a reply contains, before any parsing of the diff text itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Runs of lines that may hold diff text, in reply order: each fenced block's body, and the prose between
    /// fences (bare diffs live there).
    pub segments: Vec<Segment>,
    /// Fenced blocks that carry a path and a whole file's new content.
    pub files: Vec<WholeFile>,
    /// The model's one-line summary, when clearly present.
    pub summary: Option<String>,
    /// The reply uses CRLF line endings (they are removed from every line).
    pub crlf: bool,
}

/// A run of reply lines, each `(1-based reply line, text without line ending)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub lines: Vec<(usize, String)>,
    /// The body of a fenced block (as opposed to prose between fences).
    pub fenced: bool,
    /// A fenced block whose closing fence never came (the reply ended inside it).
    pub unclosed: bool,
    /// The segment runs to the end of the reply.
    pub at_end: bool,
    /// A fenced block that is a diff (by its info string or its content).
    pub diff: bool,
}

/// A fenced block holding a whole file: its path and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeFile {
    pub path: String,
    /// The content, lines joined with `\n`, ending in `\n`.
    pub content: String,
    /// 1-based reply line of the opening fence.
    pub line: usize,
    /// The block was never closed (the reply ended inside it).
    pub unclosed: bool,
}

struct Fence {
    ch: char,
    len: usize,
    info: String,
}

/// An opening fence: up to 3 spaces, 3+ backticks or tildes, an info string (no backtick for backtick fences).
fn open_fence(line: &str) -> Option<Fence> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ch = rest.chars().next()?;
    if ch != '`' && ch != '~' {
        return None;
    }
    let len = rest.chars().take_while(|&c| c == ch).count();
    if len < 3 {
        return None;
    }
    let info = rest[len..].trim();
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some(Fence {
        ch,
        len,
        info: info.to_string(),
    })
}

/// A closing fence for `f`; in a diff block it must start in column 0, since an indented fence there is a
/// context line of a Markdown file.
fn closes(line: &str, f: &Fence, diff_mode: bool) -> bool {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > if diff_mode { 0 } else { 3 } {
        return false;
    }
    let rest = line[indent..].trim_end();
    let n = rest.chars().take_while(|&c| c == f.ch).count();
    n >= f.len && rest.chars().all(|c| c == f.ch)
}

/// The index of the closing fence of a block whose body starts at `from` (`lines.len()` when none). In a diff
/// block a column-0 fence inside a hunk is a Markdown context line that lost its leading space when the hunk
/// still expects lines (by its header counts, or, without counts, by the next line being diff body) and a later
/// fence can close the block.
fn find_close(lines: &[String], from: usize, f: &Fence, diff_mode: bool) -> usize {
    // Remaining (old, new) lines of the current hunk by its header; None outside a hunk or without counts.
    let mut in_hunk = false;
    let mut rem: Option<(usize, usize)> = None;
    let mut j = from;
    while j < lines.len() {
        let l = &lines[j];
        if closes(l, f, diff_mode) {
            let later = lines[j + 1..].iter().any(|x| closes(x, f, diff_mode));
            // The next line, or (when the counts still want lines) the next non-empty one: an empty line may be
            // a blank context line that lost its space.
            let counts_want = rem.is_some_and(|(o, n)| o > 0 || n > 0);
            let next = lines[j + 1..]
                .iter()
                .find(|x| !(counts_want && x.is_empty()))
                .map(String::as_str)
                .unwrap_or("");
            let next_is_body = next.starts_with('+')
                || next.starts_with('\\')
                || next.starts_with("@@")
                || next.starts_with(' ');
            // Two fence lines in a row: the first is the hunk's last line, the second closes the block.
            let next_is_body = next_is_body || closes(next, f, diff_mode);
            // The counts still cover this line and everything up to the next closing fence (with no other
            // block opening in between).
            let within_count = rem.is_some_and(|(o, n)| {
                let rest = &lines[j + 1..];
                rest.iter()
                    .position(|x| closes(x, f, diff_mode))
                    .is_some_and(|k| {
                        k < o.max(n)
                            && !rest[..k].iter().any(|x| {
                                !x.starts_with(' ')
                                    && open_fence(x).is_some_and(|g| !g.info.is_empty())
                            })
                    })
            });
            // With counts that still want lines and a next line that continues the hunk, the fence is content
            // even when no later fence closes the block (the reply was then cut: the block stays unclosed).
            let content = diff_mode
                && in_hunk
                && match rem {
                    Some(_) => {
                        counts_want
                            && (next_is_body || (later && (next.starts_with('-') || within_count)))
                    }
                    None => later && next_is_body,
                };
            if !content {
                return j;
            }
        }
        if diff_mode {
            if l.starts_with("@@") {
                in_hunk = true;
                let h = super::parse::parse_hunk_header(l);
                rem = h.old_count.zip(h.new_count);
            } else if l.starts_with("diff --git ")
                || (l.starts_with("--- ")
                    && lines.get(j + 1).is_some_and(|n| n.starts_with("+++ ")))
            {
                in_hunk = false;
                rem = None;
            } else if in_hunk && let Some((o, n)) = rem.as_mut() {
                if l.starts_with('+') {
                    *n = n.saturating_sub(1);
                } else if l.starts_with('-') {
                    *o = o.saturating_sub(1);
                } else if !l.starts_with('\\') {
                    *o = o.saturating_sub(1);
                    *n = n.saturating_sub(1);
                }
            }
        }
        j += 1;
    }
    lines.len()
}

/// A line a diff body or header could hold (marker first).
fn is_body_like(l: &str) -> bool {
    l.starts_with(['+', '-', '\\', '@']) || l.starts_with("diff --git ") || l.starts_with("index ")
}

/// Does this line start diff text?
fn diff_start(line: &str) -> bool {
    line.starts_with("diff --git ")
        || line.starts_with("--- ")
        || line.starts_with("+++ ")
        || line.starts_with("@@")
}

/// Split a reply into segments, whole-file blocks and a summary.
pub fn extract(reply: &str) -> Extracted {
    let raw: Vec<&str> = reply.split('\n').collect();
    let n = if reply.ends_with('\n') {
        raw.len().saturating_sub(1)
    } else {
        raw.len()
    };
    let crlf_count = raw[..n].iter().filter(|l| l.ends_with('\r')).count();
    let crlf = n > 0 && crlf_count * 2 > n;
    let lines: Vec<String> = raw[..n]
        .iter()
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();

    let mut out = Extracted {
        crlf,
        ..Extracted::default()
    };
    let mut prose: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    // Inside a bare (unfenced) diff hunk an indented fence line is a context line of a Markdown file.
    let mut bare_hunk = false;
    while i < lines.len() {
        let l = &lines[i];
        let was_hunk = bare_hunk;
        if l.starts_with("@@") {
            bare_hunk = true;
        } else if bare_hunk && !is_body_like(l) && !(l.trim().is_empty() || l.starts_with(' ')) {
            // An unmarked line right after an empty one starts prose again.
            if prose.last().is_some_and(|(_, p)| p.is_empty()) {
                bare_hunk = false;
            }
        }
        // Column 0 too, when the next line continues the hunk (a Markdown fence line that lost its space).
        let continues = lines
            .get(i + 1)
            .is_some_and(|n| is_body_like(n) || n.starts_with(' '));
        let fence = open_fence(l).filter(|_| !(was_hunk && (l.starts_with(' ') || continues)));
        let Some(f) = fence else {
            prose.push((i + 1, lines[i].clone()));
            i += 1;
            continue;
        };
        bare_hunk = false;
        if !prose.is_empty() {
            out.segments.push(Segment {
                lines: std::mem::take(&mut prose),
                ..Segment::default()
            });
        }
        let lang = f
            .info
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let first_body = lines[i + 1..].iter().find(|l| !l.trim().is_empty());
        let diff_mode = matches!(lang.as_str(), "diff" | "patch" | "udiff" | "git")
            || first_body.is_some_and(|l| diff_start(l) || l.starts_with("Index: "));
        let j = find_close(&lines, i + 1, &f, diff_mode);
        let unclosed = j >= lines.len();
        let body: Vec<(usize, String)> = (i + 1..j.min(lines.len()))
            .map(|k| (k + 1, lines[k].clone()))
            .collect();
        let is_diff = diff_mode || body.iter().any(|(_, l)| diff_start(l));
        if !is_diff && let Some((path, skip)) = whole_file_path(&f.info, &lines[..i], &body) {
            let content: String = body
                .iter()
                .skip(skip)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            out.files.push(WholeFile {
                path,
                content,
                line: i + 1,
                unclosed,
            });
        }
        out.segments.push(Segment {
            lines: body,
            fenced: true,
            unclosed,
            at_end: unclosed,
            diff: is_diff,
        });
        i = j + 1;
    }
    if !prose.is_empty() {
        out.segments.push(Segment {
            lines: prose,
            at_end: true,
            ..Segment::default()
        });
    }
    out.summary = summary(&lines);
    out
}

/// A path-looking token: no spaces, has a file name with an extension or a directory part, no URL.
fn looks_like_path(s: &str) -> bool {
    let s = s.trim_matches(|c| c == '`' || c == '*' || c == '"' || c == '\'');
    if s.is_empty()
        || s.len() > 300
        || s.contains(char::is_whitespace)
        || s.contains("://")
        || s.contains('`')
    {
        return false;
    }
    let name = s.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        return false;
    }
    let has_ext = name.rfind('.').is_some_and(|k| k > 0 && k + 1 < name.len());
    let known_bare = matches!(
        name,
        "Makefile" | "Dockerfile" | "LICENSE" | "Justfile" | "Rakefile" | "Gemfile"
    );
    (has_ext || known_bare || s.contains('/')) && s.chars().all(|c| !c.is_control())
}

fn clean_path(s: &str) -> String {
    s.trim()
        .trim_matches(|c| c == '`' || c == '*' || c == '"' || c == '\'')
        .trim_end_matches(':')
        .to_string()
}

/// The path a non-diff fenced block is said to hold, and how many leading body lines carry that path.
fn whole_file_path(
    info: &str,
    before: &[String],
    body: &[(usize, String)],
) -> Option<(String, usize)> {
    // 1. The info string: "rust src/x.rs", "src/x.rs", "rust:src/x.rs", "rust title=src/x.rs".
    let mut toks = info.split_whitespace();
    if let Some(first) = toks.next() {
        if let Some((_, p)) = first.split_once(':')
            && looks_like_path(p)
        {
            return Some((clean_path(p), 0));
        }
        if first.contains('/') && looks_like_path(first) {
            return Some((clean_path(first), 0));
        }
        for t in toks {
            let t = t
                .split_once('=')
                .map(|(k, v)| {
                    if matches!(k, "title" | "file" | "path" | "filename") {
                        v
                    } else {
                        ""
                    }
                })
                .unwrap_or(t);
            if looks_like_path(t) {
                return Some((clean_path(t), 0));
            }
        }
    }
    // 2. A first body line naming the path: "path: x", "// File: x", "# file: x", "<!-- path: x -->".
    if let Some((_, l)) = body.first() {
        let t = l.trim();
        let t = t.trim_start_matches("<!--").trim_end_matches("-->").trim();
        let t = t.trim_start_matches(['/', '#', ';', '-', '*']).trim();
        let lower = t.to_ascii_lowercase();
        for key in ["path:", "file:", "filename:"] {
            if lower.starts_with(key) {
                let p = t[key.len()..].trim();
                if looks_like_path(p) {
                    return Some((clean_path(p), 1));
                }
            }
        }
    }
    // 3. The line just before the fence: "### src/x.rs", "File: src/x.rs", "**src/x.rs**", "`src/x.rs`:".
    let prev = before.iter().rev().find(|l| !l.trim().is_empty())?;
    let t = prev.trim();
    let t = t.trim_start_matches('#').trim();
    let lower = t.to_ascii_lowercase();
    for key in [
        "path:",
        "file:",
        "filename:",
        "**path:**",
        "**file:**",
        "**filename:**",
    ] {
        if lower.starts_with(key) {
            let p = t[key.len()..].trim();
            if looks_like_path(p) {
                return Some((clean_path(p), 0));
            }
        }
    }
    let bare = t.trim_end_matches(':').trim();
    if !bare.contains(' ')
        && looks_like_path(bare)
        && (prev.trim_start().starts_with('#') || bare.starts_with('`') || bare.starts_with('*'))
    {
        return Some((clean_path(bare), 0));
    }
    None
}

/// Phrases that open a reply without saying anything about the change.
const FILLER: [&str; 24] = [
    "first",
    "you can",
    "now ",
    "then ",
    "let me",
    "hope",
    "after ",
    "i ",
    "to ",
    "please",
    "here is",
    "here's",
    "sure",
    "okay",
    "ok,",
    "certainly",
    "this should do it",
    "apply this",
    "below is",
    "i've made",
    "i have made",
    "the fix is small",
    "the following",
    "here are",
];

/// The model's summary: an explicit `Summary:` line, else a first prose line that says what changes.
fn summary(lines: &[String]) -> Option<String> {
    let clip = |s: &str| -> Option<String> {
        let s = s.trim().trim_matches('*').trim();
        if s.is_empty() {
            return None;
        }
        Some(s.chars().take(200).collect())
    };
    for l in lines {
        let t = l
            .trim()
            .trim_start_matches('#')
            .trim()
            .trim_start_matches("**");
        let lower = t.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("summary") {
            let rest_start = t.len() - rest.len();
            let after = t[rest_start..]
                .trim_start_matches("**")
                .trim_start_matches(':')
                .trim_start_matches("**");
            if rest.trim_start_matches("**").starts_with(':') {
                return clip(after);
            }
        }
    }
    // First non-empty line, if it is prose before any fence or diff and says something.
    let first = lines.iter().find(|l| !l.trim().is_empty())?;
    if open_fence(first).is_some() || diff_start(first) {
        return None;
    }
    let lower = first.trim().to_ascii_lowercase();
    if FILLER.iter().any(|f| lower.starts_with(f)) && !lower.contains(" this ") {
        return None;
    }
    let t = first.trim().trim_end_matches(':');
    let t = ["Okay, ", "Sure, ", "OK, ", "Certainly, "]
        .iter()
        .fold(t, |acc, p| acc.strip_prefix(p).unwrap_or(acc));
    if t.split_whitespace().count() < 3 {
        return None;
    }
    let mut c = t.chars();
    let first_char = c.next()?.to_uppercase().collect::<String>();
    clip(&format!("{first_char}{}", c.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_diff_with_prose_around() {
        let e = extract(
            "Here is the change:\n\n```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n```\n\nDone.\n",
        );
        let fenced: Vec<_> = e.segments.iter().filter(|s| s.fenced).collect();
        assert_eq!(fenced.len(), 1);
        assert_eq!(fenced[0].lines.len(), 5);
        assert_eq!(fenced[0].lines[0], (4, "--- a/x".to_string()));
        assert!(!fenced[0].unclosed);
    }

    #[test]
    fn indented_fence_inside_a_diff_block_is_context() {
        let e = extract(
            "```diff\n--- a/R.md\n+++ b/R.md\n@@ -1,3 +1,3 @@\n ```rust\n-a\n+b\n ```\n```\n",
        );
        let s = &e.segments[0];
        assert_eq!(s.lines.len(), 7);
        assert!(!s.unclosed);
    }

    #[test]
    fn column0_fence_inside_a_hunk_that_expects_more_is_context() {
        let e = extract(
            "```diff\n--- a/R.md\n+++ b/R.md\n@@ -1,4 +1,4 @@\n intro\n```ts\n-a\n+b\n```\n```\nprose\n",
        );
        assert_eq!(e.segments[0].lines.len(), 8, "{:?}", e.segments[0]);
        assert!(!e.segments[0].unclosed);
        // A real closing fence followed by prose still closes, even when the counts were too high.
        let e = extract(
            "```diff\n--- a/x\n+++ b/x\n@@ -1,9 +1,9 @@\n a\n-b\n+c\n```\n\nDone.\n```bash\nls\n```\n",
        );
        assert_eq!(e.segments[0].lines.len(), 6);
    }

    #[test]
    fn fence_lines_inside_a_bare_hunk_are_context() {
        // Indented, and column 0 when the next line continues the hunk.
        let e =
            extract("--- a/R.md\n+++ b/R.md\n@@ -1,5 +1,5 @@\n intro\n ```sh\n-a\n+b\n```\n \n");
        assert_eq!(e.segments.len(), 1);
        assert!(!e.segments[0].fenced);
        // A fence after prose that follows the diff is a real fence.
        let e = extract("--- a/x\n+++ b/x\n@@\n-a\n+b\n\nRun:\n```bash\nmake\n```\n");
        assert_eq!(e.segments.iter().filter(|s| s.fenced).count(), 1);
    }

    #[test]
    fn blank_line_after_column0_fence_inside_a_counted_hunk() {
        let e =
            extract("```diff\n--- a/R.md\n+++ b/R.md\n@@ -1,4 +1,4 @@\n x\n```\n\n-a\n+b\n```\n");
        assert_eq!(e.segments[0].lines.len(), 8, "{:?}", e.segments);
    }

    #[test]
    fn longer_fence_holds_shorter_ones() {
        let e = extract("````diff\n--- a/R.md\n+++ b/R.md\n@@\n```\n-x\n````\n");
        assert_eq!(e.segments[0].lines.len(), 5);
    }

    #[test]
    fn unclosed_fence_is_flagged() {
        let e = extract("```diff\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n");
        assert!(e.segments[0].unclosed && e.segments[0].at_end);
    }

    #[test]
    fn crlf_reply_is_normalised() {
        let e = extract("```diff\r\n--- a/x\r\n+++ b/x\r\n```\r\n");
        assert!(e.crlf);
        assert_eq!(e.segments[0].lines[0].1, "--- a/x");
    }

    #[test]
    fn whole_file_by_info_string_heading_and_path_line() {
        let e = extract("```rust src/x.rs\nfn a() {}\n```\n");
        assert_eq!(e.files[0].path, "src/x.rs");
        assert_eq!(e.files[0].content, "fn a() {}\n");
        let e = extract("### src/y.py\n\n```python\nprint(1)\n```\n");
        assert_eq!(e.files[0].path, "src/y.py");
        let e = extract("```python\n# path: src/z.py\nprint(1)\n```\n");
        assert_eq!(e.files[0].path, "src/z.py");
        assert_eq!(e.files[0].content, "print(1)\n");
        let e = extract("File: `lib/a.ts`\n```ts\nexport {}\n```\n");
        assert_eq!(e.files[0].path, "lib/a.ts");
    }

    #[test]
    fn plain_snippets_are_not_files() {
        let e = extract(
            "Run this:\n\n```bash\ncargo test\n```\n\nThen in `src/lib.rs`:\n```rust\nfn x() {}\n```\n",
        );
        assert!(e.files.is_empty());
    }

    #[test]
    fn summary_explicit_or_first_line() {
        let e = extract("Summary: rename foo to bar\n```diff\n```\n");
        assert_eq!(e.summary.as_deref(), Some("rename foo to bar"));
        let e = extract("**Summary:** rename foo\n");
        assert_eq!(e.summary.as_deref(), Some("rename foo"));
        let e = extract("Sure! Here is the change:\n```diff\n```\n");
        assert_eq!(e.summary, None);
        let e = extract("Okay, this renames `a` to `b` across 2 files:\n```diff\n```\n");
        assert_eq!(
            e.summary.as_deref(),
            Some("This renames `a` to `b` across 2 files")
        );
    }
}
