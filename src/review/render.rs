//! Renders a change for review into any writer: a diffstat, then per file a git-style header (new, deleted,
//! renamed, mode) and its hunks, each with an `@@` header naming the enclosing function or heading and the
//! hunk's repair level, removed and added lines coloured, and the words that changed inside a modified line
//! highlighted. With colour off the output is plain text, so it is stable for tests and pipes.

use std::io::{self, Write};

use super::hunks::{self, Line, Shown, Tag};
use crate::patch::{ChangeKind, FileChange, RepairLevel};

/// Colour roles; the decision to colour is made once, when the palette is built.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub enabled: bool,
}

impl Palette {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled && !text.is_empty() {
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
    /// A changed word inside an added line.
    pub fn added_word(&self, t: &str) -> String {
        self.paint("1;32;7", t)
    }
    /// A changed word inside a removed line.
    pub fn removed_word(&self, t: &str) -> String {
        self.paint("1;31;7", t)
    }
    pub fn note(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    pub fn prompt(&self, t: &str) -> String {
        self.paint("1;34", t)
    }
}

/// How a hunk is marked beyond its repair level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    pub edited: bool,
}

/// Lines added and removed per file (the path after the change).
pub fn diffstat(changes: &[FileChange]) -> Vec<(String, usize, usize)> {
    changes
        .iter()
        .map(|c| {
            let (mut plus, mut minus) = (0, 0);
            for i in 0..c.hunks.len() {
                let s = hunks::show(c, i, 0);
                plus += s.added();
                minus += s.removed();
            }
            let name = match &c.old_path {
                Some(old) if *old != c.path => format!("{old} => {}", c.path),
                _ => c.path.clone(),
            };
            (name, plus, minus)
        })
        .collect()
}

/// Write the diffstat and every file's header and hunks. `modes[i]` is the git mode of `changes[i]`'s file
/// as it is now (e.g. `0o100755`), when known.
pub fn preview(
    out: &mut dyn Write,
    changes: &[FileChange],
    modes: &[Option<u32>],
    palette: Palette,
) -> io::Result<()> {
    write_diffstat(out, changes, palette)?;
    writeln!(out)?;
    for (i, change) in changes.iter().enumerate() {
        file_header(out, change, modes.get(i).copied().flatten(), palette)?;
        let mut offset = 0isize;
        for i in 0..change.hunks.len() {
            let shown = hunks::show(change, i, offset);
            offset += shown.added() as isize - shown.removed() as isize;
            hunk(
                out,
                &shown,
                change.hunks[i].level,
                Marks::default(),
                palette,
            )?;
        }
    }
    Ok(())
}

/// ` path | +a -r` per file and the totals line.
pub fn write_diffstat(
    out: &mut dyn Write,
    changes: &[FileChange],
    palette: Palette,
) -> io::Result<()> {
    let stats = diffstat(changes);
    let width = stats.iter().map(|s| s.0.chars().count()).max().unwrap_or(0);
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
        " {} file{} changed, {plus} insertion{}(+), {minus} deletion{}(-)",
        stats.len(),
        plural(stats.len()),
        plural(plus),
        plural(minus)
    )
}

/// `diff --git`, then what happens to the file (new, deleted with its mode, renamed), then
/// `---`/`+++`.
pub fn file_header(
    out: &mut dyn Write,
    change: &FileChange,
    mode: Option<u32>,
    palette: Palette,
) -> io::Result<()> {
    let mode = mode.unwrap_or(0o100644);
    let old = change.old_path.as_deref().unwrap_or(&change.path);
    writeln!(
        out,
        "{}",
        palette.file_header(&format!("diff --git a/{old} b/{}", change.path))
    )?;
    let (from, to) = match change.kind {
        ChangeKind::Create => {
            writeln!(out, "{}", palette.file_header("new file mode 100644"))?;
            ("/dev/null".to_string(), format!("b/{}", change.path))
        }
        ChangeKind::Delete => {
            writeln!(
                out,
                "{}",
                palette.file_header(&format!("deleted file mode {mode:o}"))
            )?;
            (format!("a/{old}"), "/dev/null".to_string())
        }
        ChangeKind::Rename => {
            writeln!(
                out,
                "{}",
                palette.file_header(&format!("rename from {old}"))
            )?;
            writeln!(
                out,
                "{}",
                palette.file_header(&format!("rename to {}", change.path))
            )?;
            (format!("a/{old}"), format!("b/{}", change.path))
        }
        ChangeKind::Modify => (format!("a/{old}"), format!("b/{}", change.path)),
    };
    if !change.hunks.is_empty() {
        writeln!(out, "{}", palette.file_header(&format!("--- {from}")))?;
        writeln!(out, "{}", palette.file_header(&format!("+++ {to}")))?;
    }
    Ok(())
}

/// One hunk: its header with the enclosing function and repair level, then its lines.
pub fn hunk(
    out: &mut dyn Write,
    shown: &Shown,
    level: RepairLevel,
    marks: Marks,
    palette: Palette,
) -> io::Result<()> {
    let mut header = palette.hunk_header(&shown.header());
    if let Some(f) = &shown.function {
        header.push(' ');
        header.push_str(f);
    }
    let label = if level == RepairLevel::Exact {
        palette.dim("  [exact]")
    } else {
        palette.note(&format!("  [repaired: {level}]"))
    };
    header.push_str(&label);
    if marks.edited {
        header.push_str(&palette.note(" [edited]"));
    }
    writeln!(out, "{header}")?;
    for line in &shown.lines {
        write_line(out, line, palette)?;
    }
    Ok(())
}

/// A colour role: how to paint a piece of text.
type Paint = fn(&Palette, &str) -> String;

fn unpainted(_: &Palette, t: &str) -> String {
    t.to_string()
}

fn write_line(out: &mut dyn Write, line: &Line, palette: Palette) -> io::Result<()> {
    let (prefix, plain, word): (&str, Paint, Paint) = match line.tag {
        Tag::Context => (" ", unpainted, unpainted),
        Tag::Removed => ("-", Palette::removed, Palette::removed_word),
        Tag::Added => ("+", Palette::added, Palette::added_word),
    };
    let mut text = plain(&palette, prefix);
    for (emph, segment) in &line.segments {
        // Lines come from the model: control characters are shown escaped, never sent to the terminal.
        let segment = crate::ui::clean(segment);
        text.push_str(&if *emph {
            word(&palette, &segment)
        } else {
            plain(&palette, &segment)
        });
    }
    writeln!(out, "{text}")?;
    if line.no_newline {
        writeln!(out, "{}", palette.dim("\\ No newline at end of file"))?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::PlacedHunk;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    /// A modified file with a repaired hunk, a new file, a deleted file and a renamed one.
    fn changes() -> Vec<FileChange> {
        let main = "use std::env;\n\nfn main() {\n    let args: Vec<String> = env::args().collect();\n    let name = args.get(1).map(String::as_str).unwrap_or(\"world\");\n    println!(\"hello, {name}\");\n}\n";
        vec![
            FileChange {
                path: "src/main.rs".into(),
                old_path: None,
                kind: ChangeKind::Modify,
                before: Some(main.into()),
                hunks: vec![
                    PlacedHunk {
                        old_start: 3,
                        old_lines: lines(&["    let args: Vec<String> = env::args().collect();"]),
                        new_lines: lines(&[
                            "    let args: Vec<String> = env::args().skip(1).collect();",
                            "    let loud = args.iter().any(|a| a == \"--loud\");",
                        ]),
                        level: RepairLevel::Exact,
                        eof_newline: None,
                    },
                    PlacedHunk {
                        old_start: 5,
                        old_lines: lines(&["    println!(\"hello, {name}\");"]),
                        new_lines: lines(&["    println!(\"Hello, {name}!\");"]),
                        level: RepairLevel::Whitespace,
                        eof_newline: None,
                    },
                ],
            },
            FileChange {
                path: "src/greet.rs".into(),
                old_path: None,
                kind: ChangeKind::Create,
                before: None,
                hunks: vec![PlacedHunk {
                    old_start: 0,
                    old_lines: vec![],
                    new_lines: lines(&["pub fn greet() {}"]),
                    level: RepairLevel::Exact,
                    eof_newline: Some(true),
                }],
            },
            FileChange {
                path: "OLD.md".into(),
                old_path: None,
                kind: ChangeKind::Delete,
                before: Some("# Old\nbye".into()),
                hunks: vec![PlacedHunk {
                    old_start: 0,
                    old_lines: lines(&["# Old", "bye"]),
                    new_lines: vec![],
                    level: RepairLevel::Exact,
                    eof_newline: None,
                }],
            },
            FileChange {
                path: "docs/guide.md".into(),
                old_path: Some("GUIDE.md".into()),
                kind: ChangeKind::Rename,
                before: Some("# Guide\n".into()),
                hunks: vec![],
            },
        ]
    }

    fn render(enabled: bool) -> String {
        let mut out = Vec::new();
        preview(
            &mut out,
            &changes(),
            &[None, None, Some(0o100755), None],
            Palette { enabled },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn preview_without_colour() {
        let plain = render(false);
        assert!(!plain.contains('\x1b'));
        insta::assert_snapshot!(plain);
    }

    #[test]
    fn preview_with_colour_highlights_changed_words() {
        let colour = render(true);
        // The changed word is emphasised inside the removed and the added line; the rest is plain red/green.
        assert!(
            colour.contains("\x1b[31m    println!(\"\x1b[0m\x1b[1;31;7mhello\x1b[0m"),
            "{colour}"
        );
        assert!(colour.contains("\x1b[1;32;7mHello\x1b[0m"), "{colour}");
        insta::assert_snapshot!(colour);
    }

    #[test]
    fn stat_counts_lines_per_file() {
        assert_eq!(
            diffstat(&changes()),
            vec![
                ("src/main.rs".to_string(), 3, 2),
                ("src/greet.rs".to_string(), 1, 0),
                ("OLD.md".to_string(), 0, 2),
                ("GUIDE.md => docs/guide.md".to_string(), 0, 0),
            ]
        );
    }
}
