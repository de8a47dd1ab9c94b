//! Parse the text of a unified diff (as a model writes it) into typed files and hunks, keeping enough of the
//! raw text to render a clean diff back byte for byte.
//!
//! The parser is an explicit state machine over lines; every state has a defined exit, including end of input:
//!
//! ```text
//!  state   | input line                                   | next state / action
//! ---------+----------------------------------------------+-----------------------------------------------
//!  Seek    | `diff --git A B`                             | Git      (start a file, paths from A/B)
//!  Seek    | `--- X` followed by `+++ Y`                  | Files    (start a file, consume both lines)
//!  Seek    | `+++ Y` with no `---` before it              | Files    (start a file, old path = Y)
//!  Seek    | `@@ ...` (no file open)                      | Seek     (issue: hunk without a file header)
//!  Seek    | anything else (prose, `Index:`, `====`)      | Seek
//!  Git     | extended header (`index`, `new file mode`,   | Git      (recorded on the file)
//!          |  `deleted file mode`, `rename from/to`, ...) |
//!  Git     | `--- X` [+ `+++ Y`]                          | Files
//!  Git     | `@@ ...`                                     | Hunk     (paths from the `diff --git` line)
//!  Git     | anything else                                | Seek     (file closed without hunks; line re-read)
//!  Files   | `@@ ...`                                     | Hunk
//!  Files   | empty line                                   | Files
//!  Files   | anything else                                | Seek     (file closed without hunks; line re-read)
//!  Hunk    | ` x`, `+x`, `-x`, empty, unmarked text       | Hunk     (body line; unmarked = context candidate)
//!  Hunk    | `\ No newline at end of file`                | Hunk     (marks the line before it)
//!  Hunk    | `@@ ...`                                     | Hunk     (hunk closed, new hunk)
//!  Hunk    | a file header (`diff --git`, `---`+`+++`,   | Seek     (hunk and file closed; line re-read)
//!          |  `Index:`+`====`)                            |
//!  any     | end of input                                 | Done     (open hunk and file closed)
//! ```
//!
//! Closing a hunk trims what trails it: unmarked and empty lines at its end are prose or padding unless the
//! header counts (or, inside a fenced diff block, the fence itself) say they belong to the body.

/// A parsed diff: the files in order, and what could not be understood (with 1-based reply line numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    pub files: Vec<FilePatch>,
    pub issues: Vec<Issue>,
}

/// Something in the diff text that was skipped, with the 1-based line of the reply where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub line: usize,
    pub message: String,
}

/// One file section of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePatch {
    /// 1-based reply line of the first header line.
    pub line: usize,
    /// The header lines exactly as written (`diff --git`, `index`, modes, `---`, `+++`), for rendering.
    pub header: Vec<String>,
    /// Paths from `diff --git A B`, as written (prefixes kept).
    pub git_old: Option<String>,
    pub git_new: Option<String>,
    /// Path of the `---` line with any timestamp removed; `/dev/null` kept as written.
    pub old_path: Option<String>,
    /// Path of the `+++` line with any timestamp removed; `/dev/null` kept as written.
    pub new_path: Option<String>,
    pub new_file: bool,
    pub deleted_file: bool,
    pub rename_from: Option<String>,
    pub rename_to: Option<String>,
    /// The section declares a binary patch (`Binary files ... differ`, `GIT binary patch`).
    pub binary: bool,
    pub hunks: Vec<Hunk>,
}

/// One `@@` hunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based reply line of the `@@` line.
    pub line: usize,
    /// The `@@` line as written.
    pub header: String,
    /// Numbers from the header, when it has them (`@@ ... @@` and `@@` have none).
    pub old_start: Option<usize>,
    pub old_count: Option<usize>,
    pub new_start: Option<usize>,
    pub new_count: Option<usize>,
    /// Text after the closing `@@` (git's function-name hint).
    pub section: String,
    pub lines: Vec<HunkLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Context,
    Add,
    Remove,
}

/// One body line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HunkLine {
    pub kind: LineKind,
    /// The content without its marker.
    pub text: String,
    /// False when the line had no marker (an empty line, or a context line that lost its leading space).
    pub marked: bool,
    /// A `\ No newline at end of file` line follows this line.
    pub no_eol: bool,
    /// 1-based reply line.
    pub line: usize,
}

impl HunkLine {
    pub fn new(kind: LineKind, text: &str) -> Self {
        HunkLine {
            kind,
            text: text.to_string(),
            marked: true,
            no_eol: false,
            line: 0,
        }
    }
    /// Part of the old side (context or removed).
    pub fn is_old(&self) -> bool {
        self.kind != LineKind::Add
    }
    /// Part of the new side (context or added).
    pub fn is_new(&self) -> bool {
        self.kind != LineKind::Remove
    }
}

impl Hunk {
    /// Number of old-side lines in the body.
    pub fn old_len(&self) -> usize {
        self.lines.iter().filter(|l| l.is_old()).count()
    }
    /// Number of new-side lines in the body.
    pub fn new_len(&self) -> usize {
        self.lines.iter().filter(|l| l.is_new()).count()
    }
    /// The header has numbers and its counts agree with the body.
    pub fn counts_match(&self) -> bool {
        self.old_count == Some(self.old_len())
            && self.new_count == Some(self.new_len())
            && self.old_start.is_some()
    }
    /// The body is at least as long as the header counts claim (true when the header has no counts).
    pub fn body_complete(&self) -> bool {
        match (self.old_count, self.new_count) {
            (Some(o), Some(n)) => self.old_len() >= o && self.new_len() >= n,
            _ => true,
        }
    }
    /// The old side ends without a final newline (`\` marker after a context or removed line).
    pub fn old_no_eol(&self) -> bool {
        self.lines
            .iter()
            .rev()
            .find(|l| l.is_old())
            .is_some_and(|l| l.no_eol)
    }
    /// The new side ends without a final newline (`\` marker after a context or added line).
    pub fn new_no_eol(&self) -> bool {
        self.lines
            .iter()
            .rev()
            .find(|l| l.is_new())
            .is_some_and(|l| l.no_eol)
    }
    /// Render the hunk as written (header, body, markers), each line ending in `\n`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.header);
        out.push('\n');
        for l in &self.lines {
            if l.marked {
                out.push(match l.kind {
                    LineKind::Context => ' ',
                    LineKind::Add => '+',
                    LineKind::Remove => '-',
                });
            }
            out.push_str(&l.text);
            out.push('\n');
            if l.no_eol {
                out.push_str("\\ No newline at end of file\n");
            }
        }
        out
    }
}

impl FilePatch {
    /// Render the file section as written.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for h in &self.header {
            out.push_str(h);
            out.push('\n');
        }
        for h in &self.hunks {
            out.push_str(&h.render());
        }
        out
    }
}

impl Patch {
    /// Render the whole patch; for a clean diff this gives back the input text.
    pub fn render(&self) -> String {
        self.files.iter().map(FilePatch::render).collect()
    }
}

/// `/dev/null` (the missing side of a created or deleted file).
pub fn is_dev_null(path: &str) -> bool {
    path == "/dev/null" || path == "dev/null"
}

/// Parse a diff given as `(1-based reply line, text without line ending)` pairs. `fenced` says the lines are
/// the body of a fenced diff block: unmarked lines at a hunk's end are then body rather than prose, and diff
/// body lines outside any hunk are reported (they are content that would otherwise be lost).
pub fn parse_lines(lines: &[(usize, String)], fenced: bool) -> Patch {
    let mut p = Parser {
        lines,
        fenced,
        i: 0,
        out: Patch::default(),
        file: None,
        hunk: None,
    };
    p.run();
    p.out
}

/// Parse a diff from plain text (line numbers counted from 1).
pub fn parse_str(text: &str) -> Patch {
    let lines: Vec<(usize, String)> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l).to_string()))
        .collect();
    // A trailing newline produces one empty last element that is not a line.
    let n = if text.ends_with('\n') {
        lines.len().saturating_sub(1)
    } else {
        lines.len()
    };
    parse_lines(&lines[..n], true)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Seek,
    Git,
    Files,
    Hunk,
}

struct Parser<'a> {
    lines: &'a [(usize, String)],
    fenced: bool,
    i: usize,
    out: Patch,
    file: Option<FilePatch>,
    hunk: Option<Hunk>,
}

impl Parser<'_> {
    fn text(&self, i: usize) -> Option<&str> {
        self.lines.get(i).map(|(_, t)| t.as_str())
    }

    fn lineno(&self, i: usize) -> usize {
        self.lines.get(i).map(|(n, _)| *n).unwrap_or(0)
    }

    fn run(&mut self) {
        let mut state = State::Seek;
        while self.i < self.lines.len() {
            state = match state {
                State::Seek => self.seek(),
                State::Git => self.git(),
                State::Files => self.files(),
                State::Hunk => self.body(),
            };
        }
        // Done: close what is open.
        self.close_hunk();
        self.close_file();
    }

    /// `--- X` at `i` directly followed by `+++ Y`.
    fn is_pair_at(&self, i: usize) -> bool {
        matches!(self.text(i), Some(t) if t.starts_with("--- ") || t == "---")
            && matches!(self.text(i + 1), Some(t) if t.starts_with("+++ "))
    }

    fn start_file(&mut self) {
        self.close_hunk();
        self.close_file();
        self.file = Some(FilePatch {
            line: self.lineno(self.i),
            ..FilePatch::default()
        });
    }

    fn seek(&mut self) -> State {
        let Some(t) = self.text(self.i).map(str::to_string) else {
            return State::Seek;
        };
        if let Some(rest) = t.strip_prefix("diff --git ") {
            self.start_file();
            let (a, b) = split_git_paths(rest);
            if let Some(f) = self.file.as_mut() {
                f.header.push(t.clone());
                f.git_old = a;
                f.git_new = b;
            }
            self.i += 1;
            return State::Git;
        }
        if self.is_pair_at(self.i) {
            self.start_file();
            self.take_pair();
            return State::Files;
        }
        if let Some(rest) = t.strip_prefix("+++ ") {
            self.start_file();
            if let Some(f) = self.file.as_mut() {
                f.header.push(t.clone());
                f.new_path = Some(clean_header_path(rest));
            }
            self.i += 1;
            return State::Files;
        }
        if t.starts_with("@@") {
            self.out.issues.push(Issue {
                line: self.lineno(self.i),
                message: "hunk without a file header (no ---/+++ lines before it)".into(),
            });
        } else if (self.fenced
            && (t.starts_with(['+', '-']) || (t.starts_with(' ') && !t.trim().is_empty())))
            || (t.starts_with('+') && !t.starts_with("+++"))
        {
            self.out.issues.push(Issue {
                line: self.lineno(self.i),
                message: format!(
                    "diff line outside any hunk: '{}'",
                    t.chars().take(60).collect::<String>()
                ),
            });
        }
        self.i += 1;
        State::Seek
    }

    /// Consume `--- X` and `+++ Y` at `i` (the `+++` line is optional).
    fn take_pair(&mut self) {
        let old = self.text(self.i).unwrap_or_default().to_string();
        let new = self
            .text(self.i + 1)
            .filter(|t| t.starts_with("+++ "))
            .map(str::to_string);
        if let Some(f) = self.file.as_mut() {
            f.header.push(old.clone());
            f.old_path = Some(clean_header_path(old.get(4..).unwrap_or("")));
            if let Some(n) = &new {
                f.header.push(n.clone());
                f.new_path = Some(clean_header_path(n.get(4..).unwrap_or("")));
            }
        }
        self.i += if new.is_some() { 2 } else { 1 };
    }

    fn git(&mut self) -> State {
        let Some(t) = self.text(self.i).map(str::to_string) else {
            return State::Seek;
        };
        if t.starts_with("--- ") {
            self.take_pair();
            return State::Files;
        }
        if t.starts_with("@@") {
            return self.open_hunk();
        }
        let Some(f) = self.file.as_mut() else {
            return State::Seek;
        };
        let known = [
            "index ",
            "new file mode",
            "deleted file mode",
            "old mode",
            "new mode",
            "similarity index",
            "dissimilarity index",
            "rename from ",
            "rename to ",
            "copy from ",
            "copy to ",
            "Binary files ",
            "GIT binary patch",
        ];
        if !known.iter().any(|k| t.starts_with(k)) {
            // Not an extended header: the file ends here without hunks; re-read the line in Seek.
            return State::Seek;
        }
        f.header.push(t.clone());
        if t.starts_with("new file mode") {
            f.new_file = true;
        } else if t.starts_with("deleted file mode") {
            f.deleted_file = true;
        } else if let Some(p) = t.strip_prefix("rename from ") {
            f.rename_from = Some(unquote(p.trim_end()));
        } else if let Some(p) = t.strip_prefix("rename to ") {
            f.rename_to = Some(unquote(p.trim_end()));
        } else if t.starts_with("Binary files ") || t.starts_with("GIT binary patch") {
            f.binary = true;
        }
        self.i += 1;
        State::Git
    }

    fn files(&mut self) -> State {
        let Some(t) = self.text(self.i) else {
            return State::Seek;
        };
        if t.starts_with("@@") {
            return self.open_hunk();
        }
        if t.trim().is_empty() {
            self.i += 1;
            return State::Files;
        }
        State::Seek
    }

    fn open_hunk(&mut self) -> State {
        self.close_hunk();
        let t = self.text(self.i).unwrap_or_default().to_string();
        let mut h = parse_hunk_header(&t);
        h.line = self.lineno(self.i);
        self.hunk = Some(h);
        self.i += 1;
        State::Hunk
    }

    /// Is the line at `i` the start of another file's header while a hunk is open?
    fn file_header_at(&self, i: usize) -> bool {
        let Some(t) = self.text(i) else { return false };
        if t.starts_with("diff --git ") {
            return true;
        }
        if self.is_pair_at(i) {
            // `--- x` + `+++ y` could in theory be a removed `-- x` and an added `++ y`: trust the counts
            // when they still expect old lines and no `@@` follows.
            let expects_more = self
                .hunk
                .as_ref()
                .is_some_and(|h| matches!(h.old_count, Some(c) if h.old_len() < c));
            let hunk_follows = self.text(i + 2).is_some_and(|n| n.starts_with("@@"));
            return !expects_more || hunk_follows;
        }
        if t.starts_with("+++ ") {
            return self.text(i + 1).is_some_and(|n| n.starts_with("@@"));
        }
        // svn style: `Index: path` over a `=====` rule.
        if t.starts_with("Index: ") {
            return self
                .text(i + 1)
                .is_some_and(|n| n.starts_with("===") && n.chars().all(|c| c == '='));
        }
        false
    }

    fn body(&mut self) -> State {
        let Some(t) = self.text(self.i).map(str::to_string) else {
            return State::Seek;
        };
        if t.starts_with("@@") {
            return self.open_hunk();
        }
        if self.file_header_at(self.i) {
            self.close_hunk();
            self.close_file();
            return State::Seek;
        }
        let line = self.lineno(self.i);
        let Some(h) = self.hunk.as_mut() else {
            return State::Seek;
        };
        if let Some(rest) = t.strip_prefix('\\') {
            if let Some(last) = h.lines.last_mut() {
                last.no_eol = true;
            } else {
                self.out.issues.push(Issue {
                    line,
                    message: format!("stray marker line '\\{rest}'"),
                });
            }
            self.i += 1;
            return State::Hunk;
        }
        let (kind, text, marked) = if let Some(r) = t.strip_prefix(' ') {
            (LineKind::Context, r, true)
        } else if let Some(r) = t.strip_prefix('+') {
            (LineKind::Add, r, true)
        } else if let Some(r) = t.strip_prefix('-') {
            (LineKind::Remove, r, true)
        } else {
            (LineKind::Context, t.as_str(), false)
        };
        h.lines.push(HunkLine {
            kind,
            text: text.to_string(),
            marked,
            no_eol: false,
            line,
        });
        self.i += 1;
        State::Hunk
    }

    fn close_hunk(&mut self) {
        let Some(mut h) = self.hunk.take() else {
            return;
        };
        trim_trailing(&mut h, self.fenced);
        match self.file.as_mut() {
            Some(f) => f.hunks.push(h),
            None => self.out.issues.push(Issue {
                line: h.line,
                message: "hunk without a file".into(),
            }),
        }
    }

    fn close_file(&mut self) {
        if let Some(f) = self.file.take() {
            self.out.files.push(f);
        }
    }
}

/// Drop unmarked/empty lines at the end of a hunk that are prose or padding, keeping as many as the header
/// counts ask for (or, in a fenced block, every unmarked non-empty line).
fn trim_trailing(h: &mut Hunk, fenced: bool) {
    let mut popped: Vec<HunkLine> = Vec::new();
    while let Some(last) = h.lines.last() {
        if last.marked || last.no_eol {
            break;
        }
        if fenced && !last.text.trim().is_empty() {
            break;
        }
        if let Some(l) = h.lines.pop() {
            popped.push(l);
        }
    }
    // `popped` is in reverse order; give back lines from the front while the counts want more context.
    while let Some(l) = popped.pop() {
        let want = match (h.old_count, h.new_count) {
            (Some(o), Some(n)) => h.old_len() < o && h.new_len() < n,
            _ => false,
        };
        if !want {
            break;
        }
        h.lines.push(l);
    }
}

/// Parse `@@ -a,b +c,d @@ section`; any other shape (`@@`, `@@ ... @@`, `@@ @@`) gives a hunk without numbers.
pub fn parse_hunk_header(t: &str) -> Hunk {
    let mut h = Hunk {
        header: t.to_string(),
        ..Hunk::default()
    };
    let rest = t.trim_start_matches('@');
    let (inside, section) = match rest.find("@@") {
        Some(k) => (&rest[..k], rest[k..].trim_start_matches('@')),
        None => (rest, ""),
    };
    h.section = section.strip_prefix(' ').unwrap_or(section).to_string();
    let mut old = None;
    let mut new = None;
    for tok in inside.split_whitespace() {
        if let Some(r) = tok.strip_prefix('-') {
            old = old.or_else(|| parse_range(r));
        } else if let Some(r) = tok.strip_prefix('+') {
            new = new.or_else(|| parse_range(r));
        }
    }
    if let (Some((os, oc)), Some((ns, nc))) = (old, new) {
        h.old_start = Some(os);
        h.old_count = Some(oc);
        h.new_start = Some(ns);
        h.new_count = Some(nc);
    }
    h
}

fn parse_range(r: &str) -> Option<(usize, usize)> {
    let (s, c) = match r.split_once(',') {
        Some((s, c)) => (s, Some(c)),
        None => (r, None),
    };
    let s: usize = s.parse().ok()?;
    let c: usize = match c {
        Some(c) => c.parse().ok()?,
        None => 1,
    };
    Some((s, c))
}

/// Split the rest of a `diff --git` line into its two paths.
fn split_git_paths(rest: &str) -> (Option<String>, Option<String>) {
    let rest = rest.trim_end();
    if rest.starts_with('"') {
        // Quoted first path.
        if let Some((a, tail)) = take_quoted(rest) {
            let b = tail.trim_start();
            let b = if b.starts_with('"') {
                take_quoted(b).map(|(x, _)| x)
            } else {
                Some(b.to_string())
            };
            return (Some(a), b);
        }
    }
    // Prefer a split where both halves name the same path after their prefixes.
    let cands: Vec<usize> = rest.match_indices(" b/").map(|(k, _)| k).collect();
    for &k in &cands {
        let (a, b) = (&rest[..k], &rest[k + 1..]);
        if a.get(2..) == b.get(2..) {
            return (Some(a.to_string()), Some(b.to_string()));
        }
    }
    if let Some(&k) = cands.first() {
        return (Some(rest[..k].to_string()), Some(rest[k + 1..].to_string()));
    }
    let toks: Vec<&str> = rest.split_whitespace().collect();
    if toks.len() == 2 {
        return (Some(toks[0].to_string()), Some(toks[1].to_string()));
    }
    (None, None)
}

/// A C-quoted string at the start of `s`: (unquoted, rest after the closing quote).
fn take_quoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut escaped = false;
    for (k, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some((unescape(&body[..k]), &body[k + 1..]));
        }
    }
    None
}

fn unquote(s: &str) -> String {
    match take_quoted(s) {
        Some((u, _)) => u,
        None => s.to_string(),
    }
}

/// Undo git's C-style quoting (`\"`, `\\`, `\t`, `\n`, octal bytes).
fn unescape(s: &str) -> String {
    let mut bytes: Vec<u8> = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut k = 0;
    while k < b.len() {
        if b[k] == b'\\' && k + 1 < b.len() {
            let c = b[k + 1];
            let oct = |x: u8| (b'0'..=b'7').contains(&x);
            if oct(c) && k + 3 < b.len() && oct(b[k + 2]) && oct(b[k + 3]) {
                let v = (u32::from(c - b'0') << 6)
                    | (u32::from(b[k + 2] - b'0') << 3)
                    | u32::from(b[k + 3] - b'0');
                bytes.push((v & 0xff) as u8);
                k += 4;
                continue;
            }
            bytes.push(match c {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                other => other,
            });
            k += 2;
            continue;
        }
        bytes.push(b[k]);
        k += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The path of a `---`/`+++` line: unquoted, timestamp (after a tab, or a trailing date) removed.
pub fn clean_header_path(rest: &str) -> String {
    let rest = rest.trim_start();
    if rest.starts_with('"') {
        return unquote(rest);
    }
    let p = rest.split('\t').next().unwrap_or("").trim_end();
    strip_space_timestamp(p).to_string()
}

/// `path 2024-07-25 19:31:17.9 +0000` -> `path` (a date written after spaces instead of a tab).
fn strip_space_timestamp(p: &str) -> &str {
    for (k, _) in p.match_indices(' ') {
        let tail = p[k..].trim_start();
        let b = tail.as_bytes();
        let date = b.len() >= 10
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'-';
        if date {
            return p[..k].trim_end();
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "diff --git a/src/a.rs b/src/a.rs
index 1234567..89abcde 100644
--- a/src/a.rs
+++ b/src/a.rs
@@ -1,4 +1,4 @@ fn main()
 fn main() {
-    println!(\"a\");
+    println!(\"b\");
 }
 
@@ -10,3 +10,4 @@
 x
 y
+z
 w
\\ No newline at end of file
diff --git a/new.txt b/new.txt
new file mode 100644
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+hello
+world
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/x.rs b/y.rs
similarity index 90%
rename from x.rs
rename to y.rs
";

    #[test]
    fn clean_diff_round_trips() {
        let p = parse_str(CLEAN);
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        assert_eq!(p.files.len(), 4);
        assert_eq!(p.render(), CLEAN);
    }

    #[test]
    fn git_headers_are_typed() {
        let p = parse_str(CLEAN);
        let f = &p.files[0];
        assert_eq!(f.old_path.as_deref(), Some("a/src/a.rs"));
        assert_eq!(f.git_new.as_deref(), Some("b/src/a.rs"));
        assert_eq!(f.hunks.len(), 2);
        assert_eq!(f.hunks[0].section, "fn main()");
        assert!(f.hunks[0].counts_match());
        assert!(f.hunks[1].old_no_eol() && f.hunks[1].new_no_eol());
        assert!(p.files[1].new_file && is_dev_null(p.files[1].old_path.as_deref().unwrap_or("")));
        assert!(p.files[2].deleted_file);
        assert_eq!(p.files[2].hunks[0].old_count, Some(1));
        assert_eq!(p.files[3].rename_from.as_deref(), Some("x.rs"));
        assert_eq!(p.files[3].rename_to.as_deref(), Some("y.rs"));
        assert!(p.files[3].hunks.is_empty());
    }

    #[test]
    fn bare_and_empty_headers_have_no_numbers() {
        for t in ["@@", "@@ @@", "@@  @@", "@@ ... @@", "@@ -x +y @@"] {
            let h = parse_hunk_header(t);
            assert_eq!(h.old_start, None, "{t}");
        }
        let h = parse_hunk_header("@@ -3 +3,2 @@");
        assert_eq!(
            (h.old_start, h.old_count, h.new_start, h.new_count),
            (Some(3), Some(1), Some(3), Some(2))
        );
    }

    #[test]
    fn timestamps_and_prefixes_are_kept_apart() {
        assert_eq!(
            clean_header_path("a/x.py\t2024-07-25 19:31:17.9 +0000"),
            "a/x.py"
        );
        assert_eq!(
            clean_header_path("a/x.py 2024-07-25 19:31:17 +0000"),
            "a/x.py"
        );
        assert_eq!(clean_header_path("\"a/sp ace\\tx\""), "a/sp ace\tx");
        assert_eq!(clean_header_path("./x.py"), "./x.py");
    }

    #[test]
    fn prose_after_a_bare_hunk_is_trimmed() {
        let lines: Vec<(usize, String)> = [
            "--- a/x",
            "+++ b/x",
            "@@ -1,2 +1,2 @@",
            " a",
            "-b",
            "+c",
            "",
            "Hope this helps!",
        ]
        .iter()
        .enumerate()
        .map(|(i, s)| (i + 1, s.to_string()))
        .collect();
        let p = parse_lines(&lines, false);
        assert_eq!(p.files[0].hunks[0].lines.len(), 3);
    }

    #[test]
    fn counts_keep_trailing_blank_and_unmarked_context() {
        let text = "--- a/x\n+++ b/x\n@@ -1,4 +1,4 @@\n a\n-b\n+c\n}\n\n";
        let lines: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .map(|(i, s)| (i + 1, s.to_string()))
            .collect();
        let p = parse_lines(&lines, false);
        let h = &p.files[0].hunks[0];
        assert_eq!(h.old_len(), 4);
        assert!(!h.lines[3].marked && h.lines[3].text == "}");
    }

    #[test]
    fn unmarked_context_in_the_middle_is_kept() {
        let p = parse_str("--- a/x\n+++ b/x\n@@ @@\n a\n}\n-b\n+c\n");
        let h = &p.files[0].hunks[0];
        assert_eq!(h.lines.len(), 4);
        assert!(!h.lines[1].marked);
        assert_eq!(h.lines[1].kind, LineKind::Context);
    }

    #[test]
    fn removed_sql_comment_is_not_a_header_while_counts_expect_more() {
        let p = parse_str("--- a/q.sql\n+++ b/q.sql\n@@ -1,3 +1,3 @@\n a\n--- old\n+++ new\n b\n");
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.files[0].hunks[0].old_len(), 3);
    }

    #[test]
    fn plus_without_minus_starts_a_file() {
        let p = parse_str("+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.files[0].new_path.as_deref(), Some("b/x"));
        assert_eq!(p.files[0].old_path, None);
    }

    #[test]
    fn hunk_without_file_is_an_issue_with_line_number() {
        let p = parse_str("hello\n@@ -1 +1 @@\n-a\n+b\n");
        assert!(p.files.is_empty());
        assert_eq!(p.issues[0].line, 2);
    }

    #[test]
    fn git_header_then_prose_closes_file() {
        let p =
            parse_str("diff --git a/x b/x\nsome prose\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(p.files.len(), 2);
        assert!(p.files[0].hunks.is_empty());
        assert_eq!(p.files[1].hunks.len(), 1);
    }

    #[test]
    fn files_state_skips_blank_lines_and_leaves_on_prose() {
        let p = parse_str("--- a/x\n+++ b/x\n\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(p.files[0].hunks.len(), 1);
        let p = parse_str("--- a/x\n+++ b/x\nprose\n@@ -1 +1 @@\n-a\n+b\n");
        assert!(p.files[0].hunks.is_empty());
        assert_eq!(p.issues.len(), 3, "{:?}", p.issues);
        assert!(p.issues[0].message.contains("without a file header"));
        assert!(p.issues[1].message.contains("outside any hunk") && p.issues[1].line == 5);
    }

    #[test]
    fn orphan_body_lines_are_issues_only_in_diff_blocks_or_with_plus() {
        let lines = |s: &str| -> Vec<(usize, String)> {
            s.lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.to_string()))
                .collect()
        };
        // Prose bullets are not diff lines...
        let p = parse_lines(&lines("Changes:\n- one\n- two\n"), false);
        assert!(p.issues.is_empty());
        // ...but a `+` line outside a hunk is content that would be lost.
        let p = parse_lines(&lines("--- a/x\n+++ b/x\n\n+lost\n"), false);
        assert_eq!(p.issues.len(), 1);
        let p = parse_lines(&lines("-a\n+b\n"), true);
        assert_eq!(p.issues.len(), 2);
    }

    #[test]
    fn git_paths_with_spaces_split_evenly() {
        let (a, b) = split_git_paths("a/my file.rs b/my file.rs");
        assert_eq!(a.as_deref(), Some("a/my file.rs"));
        assert_eq!(b.as_deref(), Some("b/my file.rs"));
    }

    #[test]
    fn body_completeness_uses_counts() {
        let p = parse_str("--- a/x\n+++ b/x\n@@ -1,5 +1,6 @@\n a\n+b\n");
        assert!(!p.files[0].hunks[0].body_complete());
        let p = parse_str("--- a/x\n+++ b/x\n@@\n a\n+b\n");
        assert!(p.files[0].hunks[0].body_complete());
    }
}
