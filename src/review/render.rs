//! Renders a change for review into any writer: a diffstat, then the diff with file headers, hunk headers and
//! added/removed lines coloured, and each hunk's repair level. With colour off the output is plain text, so
//! it is stable for tests and pipes.

use std::io::{self, Write};

use crate::patch::{FileChange, RepairLevel};

/// Colour roles; the decision to colour is made once, when the palette is built.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub enabled: bool,
}

impl Palette {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn file_header(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn hunk_header(&self, t: &str) -> String {
        self.paint("36", t)
    }
    pub fn added(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn removed(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn note(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// Lines added and removed per file, from a git-format diff.
pub fn diffstat(diff: &str) -> Vec<(String, usize, usize)> {
    let mut stats: Vec<(String, usize, usize)> = Vec::new();
    let mut in_hunk = false;
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let path = rest
                .rsplit_once(" b/")
                .map(|(_, b)| b)
                .unwrap_or(rest)
                .to_string();
            stats.push((path, 0, 0));
            in_hunk = false;
        } else if line.starts_with("@@") {
            in_hunk = true;
        } else if in_hunk && let Some(last) = stats.last_mut() {
            if line.starts_with('+') {
                last.1 += 1;
            } else if line.starts_with('-') {
                last.2 += 1;
            }
        }
    }
    stats
}

/// Write the diffstat and the coloured diff. `levels` are the repair levels of the hunks in diff order per
/// file; a hunk placed by more than exact matching is marked in its header.
pub fn preview(
    out: &mut dyn Write,
    diff: &str,
    changes: &[FileChange],
    palette: Palette,
) -> io::Result<()> {
    let stats = diffstat(diff);
    let width = stats.iter().map(|s| s.0.len()).max().unwrap_or(0);
    let (mut plus, mut minus) = (0, 0);
    for (path, added, removed) in &stats {
        plus += added;
        minus += removed;
        writeln!(
            out,
            " {path:<width$} | {} {}",
            palette.added(&format!("+{added}")),
            palette.removed(&format!("-{removed}"))
        )?;
    }
    writeln!(
        out,
        " {} file{} changed, {plus} insertion{}(+), {minus} deletion{}(-)\n",
        stats.len(),
        plural(stats.len()),
        plural(plus),
        plural(minus)
    )?;

    let mut file_index: Option<usize> = None;
    let mut hunk_index = 0;
    for line in diff.lines() {
        if line.starts_with("diff --git ") {
            file_index = Some(file_index.map_or(0, |i| i + 1));
            hunk_index = 0;
            writeln!(out, "{}", palette.file_header(line))?;
        } else if line.starts_with("@@") {
            let level = file_index
                .and_then(|f| changes.get(f))
                .and_then(|c| c.hunks.get(hunk_index))
                .map(|h| h.level);
            hunk_index += 1;
            let mark = match level {
                Some(level) if level != RepairLevel::Exact => {
                    palette.note(&format!("  [repaired: {level:?}]"))
                }
                _ => String::new(),
            };
            writeln!(out, "{}{mark}", palette.hunk_header(line))?;
        } else if line.starts_with("+++ ") || line.starts_with("--- ") {
            writeln!(out, "{}", palette.file_header(line))?;
        } else if line.starts_with('+') {
            writeln!(out, "{}", palette.added(line))?;
        } else if line.starts_with('-') {
            writeln!(out, "{}", palette.removed(line))?;
        } else if line.starts_with(' ') || line.is_empty() {
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", palette.dim(line))?;
        }
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/src/a.rs b/src/a.rs\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1,2 +1,2 @@\n fn a() {\n-    1\n+    2\ndiff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n";

    #[test]
    fn stat_counts_lines_per_file() {
        assert_eq!(
            diffstat(DIFF),
            vec![
                ("src/a.rs".to_string(), 1, 1),
                ("new.txt".to_string(), 1, 0)
            ]
        );
    }

    #[test]
    fn plain_preview_has_no_escapes_and_coloured_one_has() {
        let mut plain = Vec::new();
        preview(&mut plain, DIFF, &[], Palette { enabled: false }).unwrap();
        let plain = String::from_utf8(plain).unwrap();
        assert!(!plain.contains('\x1b'));
        assert!(
            plain.contains(" 2 files changed, 2 insertions(+), 1 deletion(-)"),
            "{plain}"
        );
        assert!(plain.contains("+    2\n"));
        let mut colour = Vec::new();
        preview(&mut colour, DIFF, &[], Palette { enabled: true }).unwrap();
        let colour = String::from_utf8(colour).unwrap();
        assert!(colour.contains("\x1b[32m+    2\x1b[0m"), "{colour}");
        assert!(colour.contains("\x1b[31m-    1\x1b[0m"));
    }
}
