//! The dialogue on the terminal, and the only module that reads it: the first choice (apply all, review, write
//! a patch, quit), then hunk by hunk like `git add -p` with one keystroke per answer (no Enter), editing a hunk
//! in `$VISUAL`/`$EDITOR`, and the final confirmation. Prompts and hunks go to standard error.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use dialoguer::console::{Key, Term};

use super::hunks;
use super::render::{self, Marks, Palette};
use super::{Answer, Session, Step, Unit};

/// The first question's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    ApplyAll,
    Review,
    WritePatch,
    Quit,
}

/// How the dialogue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The reviewer confirmed the accepted hunks.
    Confirmed,
    /// Nothing accepted, the final answer was no, or the dialogue was aborted (Ctrl-C, Esc).
    Declined,
}

/// The terminal side of a review.
pub struct Dialogue<'a> {
    pub term: Term,
    pub palette: Palette,
    /// `$VISUAL`, else `$EDITOR`, else `vi`.
    pub editor: String,
    /// Where the hunk to edit is written (under the git directory).
    pub edit_file: PathBuf,
    /// Files and hunks counted for the questions, e.g. "3 hunks to 2 files".
    pub counted: &'a str,
    /// The repository's working tree (for the files' modes).
    pub root: &'a Path,
}

fn key_char(key: Key) -> Option<char> {
    match key {
        Key::Char(c) => Some(c.to_ascii_lowercase()),
        Key::Escape | Key::CtrlC => Some('\u{3}'),
        Key::Enter => Some('\n'),
        _ => None,
    }
}

impl Dialogue<'_> {
    fn say(&self, text: &str) -> io::Result<()> {
        let mut t = &self.term;
        writeln!(t, "{text}")
    }

    fn ask_key(&self, prompt: &str) -> io::Result<char> {
        let mut t = &self.term;
        write!(t, "{}", self.palette.prompt(prompt))?;
        t.flush()?;
        loop {
            if let Some(c) = key_char(self.term.read_key()?) {
                let shown = if c == '\u{3}' {
                    "^C".to_string()
                } else {
                    c.to_string()
                };
                writeln!(t, "{}", shown.trim())?;
                return Ok(c);
            }
        }
    }

    /// "Apply all / Review / Write patch / Quit", one key.
    pub fn choose(&self) -> io::Result<Choice> {
        loop {
            let prompt = format!(
                "Apply {}? [a]pply all, [r]eview each hunk, [w]rite a patch, [q]uit: ",
                self.counted
            );
            match self.ask_key(&prompt)? {
                'a' | 'y' => return Ok(Choice::ApplyAll),
                'r' => return Ok(Choice::Review),
                'w' => return Ok(Choice::WritePatch),
                'q' | 'n' | '\u{3}' => return Ok(Choice::Quit),
                _ => self.say(
                    "a - apply every hunk\nr - review hunk by hunk (y/n/a/d/s/e/q)\n\
                     w - write the change as a .patch file and apply nothing\nq - quit, apply nothing",
                )?,
            }
        }
    }

    /// A y/n question answered with one key; Esc is no.
    pub fn confirm(&self, prompt: &str) -> io::Result<bool> {
        confirm(prompt)
    }

    /// Hunk by hunk until every hunk is decided or the reviewer quits, then the summary and one confirmation.
    pub fn review(&self, session: &mut Session) -> io::Result<Ended> {
        let mut shown_file: Option<usize> = None;
        while let Some((unit, n, total)) = session.current() {
            if shown_file != Some(unit.file) {
                let mut t = &self.term;
                writeln!(t)?;
                let file = &session.files[unit.file];
                let mode = crate::apply::git_mode(
                    &self
                        .root
                        .join(file.old_path.as_deref().unwrap_or(&file.path)),
                );
                render::file_header(&mut t, file, mode, self.palette)?;
                shown_file = Some(unit.file);
            }
            self.show_unit(session, unit)?;
            let mut keys = vec!["y", "n", "a", "d"];
            if session.can_split(unit) {
                keys.push("s");
            }
            if session.can_edit(unit) {
                keys.push("e");
            }
            keys.extend(["q", "?"]);
            let what = if session.files[unit.file].hunks.is_empty() {
                "this file change"
            } else {
                "this hunk"
            };
            let prompt = format!("({n}/{total}) Apply {what} [{}]? ", keys.join(","));
            let c = self.ask_key(&prompt)?;
            if c == '\u{3}' {
                self.say("aborted; nothing was applied")?;
                return Ok(Ended::Declined);
            }
            if c == 'e' && session.can_edit(unit) {
                self.edit(session, unit)?;
                continue;
            }
            if c == 's' && !keys.contains(&"s") {
                self.say("this hunk cannot be split: no unchanged line separates its changes")?;
                continue;
            }
            let Some(answer) = Answer::from_key(c) else {
                self.help()?;
                continue;
            };
            match session.answer(answer) {
                Step::Split(parts) => self.say(&format!("split into {parts} hunks"))?,
                Step::CannotSplit => self.say("this hunk cannot be split")?,
                Step::Quit => break,
                Step::Next => {}
            }
        }
        self.finish(session)
    }

    fn show_unit(&self, session: &Session, unit: Unit) -> io::Result<()> {
        let file = &session.files[unit.file];
        let mut t = &self.term;
        if file.hunks.is_empty() {
            return writeln!(
                t,
                "{}",
                self.palette
                    .note("(the file is renamed, its content unchanged)")
            );
        }
        // New-side numbers count the hunks shown before it in the file, as in the preview.
        let mut offset = 0isize;
        for i in 0..unit.hunk {
            let s = hunks::show(file, i, 0);
            offset += s.added() as isize - s.removed() as isize;
        }
        let shown = hunks::show(file, unit.hunk, offset);
        render::hunk(
            &mut t,
            &shown,
            file.hunks[unit.hunk].level,
            Marks {
                edited: session.edited[unit.file][unit.hunk],
            },
            self.palette,
        )
    }

    fn help(&self) -> io::Result<()> {
        self.say(
            "y - apply this hunk\n\
             n - do not apply this hunk\n\
             a - apply this hunk and all later hunks in the file\n\
             d - do not apply this hunk or any of the later hunks in the file\n\
             s - split the current hunk into smaller hunks\n\
             e - edit the current hunk in your editor\n\
             q - quit: apply only the hunks accepted so far (after a confirmation)\n\
             ? - print help",
        )
    }

    /// `e`: the hunk into the editor, back through [`hunks::parse_edit`]; a refused edit leaves it as it was.
    fn edit(&self, session: &mut Session, unit: Unit) -> io::Result<()> {
        let file = session.files[unit.file].clone();
        let text = hunks::edit_text(&file, unit.hunk);
        if let Some(dir) = self.edit_file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.edit_file, text)?;
        let status = run_editor(&self.editor, &self.edit_file);
        let edited = std::fs::read_to_string(&self.edit_file);
        let _ = std::fs::remove_file(&self.edit_file);
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                return self.say(&format!(
                    "the editor exited with {s}; the hunk is left as it was"
                ));
            }
            Err(e) => {
                return self.say(&format!(
                    "cannot run the editor {:?}: {e}; the hunk is left as it was",
                    self.editor
                ));
            }
        }
        match hunks::parse_edit(&file, unit.hunk, &edited?) {
            Ok(h) => {
                session.replace_edited(unit, h);
                self.say("edited hunk accepted")
            }
            Err(e) => self.say(&format!("{e}; the hunk is left as it was")),
        }
    }

    fn finish(&self, session: &Session) -> io::Result<Ended> {
        let (yes, total) = session.counts();
        let (files, _) = session.selection();
        self.say("")?;
        if yes == 0 {
            self.say(&format!("no hunk accepted (of {total})"))?;
            return Ok(Ended::Declined);
        }
        for (f, d) in session.files.iter().zip(&session.decisions) {
            let accepted = d
                .iter()
                .filter(|x| **x == Some(super::Decision::Apply))
                .count();
            let of = d.len();
            self.say(&format!(
                "  {}: {accepted} of {of} hunk{}",
                f.path,
                if of == 1 { "" } else { "s" }
            ))?;
        }
        let prompt = format!(
            "Apply {yes} of {total} hunk{} to {} file{}?",
            if total == 1 { "" } else { "s" },
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        Ok(if self.confirm(&prompt)? {
            Ended::Confirmed
        } else {
            Ended::Declined
        })
    }
}

/// A y/n question on standard error answered with one key (for commands without a review, e.g. undo).
pub fn confirm(prompt: &str) -> io::Result<bool> {
    let answer = dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .wait_for_newline(false)
        .interact_on_opt(&Term::stderr())
        .map_err(|e| match e {
            dialoguer::Error::IO(e) => e,
        })?;
    Ok(answer == Some(true))
}

/// Run `editor` (a shell command line, as git does) on `file`, on the terminal.
fn run_editor(editor: &str, file: &Path) -> io::Result<std::process::ExitStatus> {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg(editor)
        .arg(file)
        .status()
}

/// The editor from the environment: `$VISUAL`, `$EDITOR`, else `vi`.
pub fn editor(env: &crate::env::Env) -> String {
    env.var("VISUAL")
        .or_else(|| env.var("EDITOR"))
        .unwrap_or("vi")
        .to_string()
}
