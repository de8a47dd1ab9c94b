//! Showing a validated change to the user and collecting their decisions: the preview ([`render`]), the hunk
//! operations ([`hunks`]), the review state machine ([`Session`], pure), the pager and the terminal dialogue
//! ([`interactive`], the only module that reads the terminal).

pub mod hunks;
pub mod interactive;
pub mod pager;
pub mod render;

use serde::Serialize;

use crate::patch::FileChange;

/// What was decided for one hunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Apply,
    Skip,
}

/// A key the reviewer pressed for the current hunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `y`: apply this hunk.
    Yes,
    /// `n`: skip it.
    No,
    /// `a`: apply this hunk and the rest of the file's undecided ones.
    All,
    /// `d`: skip this hunk and the rest of the file's undecided ones.
    Done,
    /// `s`: split into smaller hunks.
    Split,
    /// `q`: skip everything undecided and go to the final confirmation.
    Quit,
}

impl Answer {
    pub fn from_key(c: char) -> Option<Answer> {
        Some(match c {
            'y' => Answer::Yes,
            'n' => Answer::No,
            'a' => Answer::All,
            'd' => Answer::Done,
            's' => Answer::Split,
            'q' => Answer::Quit,
            _ => return None,
        })
    }
}

/// What an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Next,
    /// The hunk was split into this many parts.
    Split(usize),
    /// The hunk cannot be split.
    CannotSplit,
    Quit,
}

/// One decision unit: hunk `hunk` of file `file` (a file without hunks, a pure rename, is one unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub file: usize,
    pub hunk: usize,
}

/// The state of a review: the files (with hunks split or edited as the reviewer asked) and a decision per hunk.
#[derive(Debug, Clone)]
pub struct Session {
    pub files: Vec<FileChange>,
    pub decisions: Vec<Vec<Option<Decision>>>,
    pub edited: Vec<Vec<bool>>,
}

impl Session {
    pub fn new(files: Vec<FileChange>) -> Session {
        let decisions = files
            .iter()
            .map(|f| vec![None; f.hunks.len().max(1)])
            .collect();
        let edited = files
            .iter()
            .map(|f| vec![false; f.hunks.len().max(1)])
            .collect();
        Session {
            files,
            decisions,
            edited,
        }
    }

    /// Every hunk decided the same way (`-y`, or "apply all").
    pub fn decide_all(&mut self, d: Decision) {
        for f in &mut self.decisions {
            f.iter_mut().for_each(|x| *x = Some(d));
        }
    }

    pub fn units(&self) -> Vec<Unit> {
        self.decisions
            .iter()
            .enumerate()
            .flat_map(|(file, d)| (0..d.len()).map(move |hunk| Unit { file, hunk }))
            .collect()
    }

    /// The first undecided hunk, with its 1-based number and the total.
    pub fn current(&self) -> Option<(Unit, usize, usize)> {
        let units = self.units();
        let total = units.len();
        units
            .into_iter()
            .enumerate()
            .find(|(_, u)| self.decisions[u.file][u.hunk].is_none())
            .map(|(i, u)| (u, i + 1, total))
    }

    /// Whether the unit is a real hunk (not a whole file without hunks) that `s` could split.
    pub fn can_split(&self, u: Unit) -> bool {
        self.files[u.file]
            .hunks
            .get(u.hunk)
            .is_some_and(hunks::can_split)
    }

    /// Whether `e` can edit the unit: a hunk of a modified, renamed or new file.
    pub fn can_edit(&self, u: Unit) -> bool {
        let f = &self.files[u.file];
        u.hunk < f.hunks.len() && f.kind != crate::patch::ChangeKind::Delete
    }

    /// Apply an answer to the current hunk.
    pub fn answer(&mut self, a: Answer) -> Step {
        let Some((u, _, _)) = self.current() else {
            return Step::Quit;
        };
        let file = &mut self.decisions[u.file];
        match a {
            Answer::Yes => file[u.hunk] = Some(Decision::Apply),
            Answer::No => file[u.hunk] = Some(Decision::Skip),
            Answer::All | Answer::Done => {
                let d = if a == Answer::All {
                    Decision::Apply
                } else {
                    Decision::Skip
                };
                file.iter_mut()
                    .skip(u.hunk)
                    .filter(|x| x.is_none())
                    .for_each(|x| *x = Some(d));
            }
            Answer::Split => {
                if !self.can_split(u) {
                    return Step::CannotSplit;
                }
                let parts = hunks::split(&self.files[u.file].hunks[u.hunk]);
                let n = parts.len();
                self.files[u.file].hunks.splice(u.hunk..=u.hunk, parts);
                self.decisions[u.file].splice(u.hunk..=u.hunk, std::iter::repeat_n(None, n));
                self.edited[u.file].splice(u.hunk..=u.hunk, std::iter::repeat_n(false, n));
                return Step::Split(n);
            }
            Answer::Quit => {
                for f in &mut self.decisions {
                    f.iter_mut()
                        .filter(|x| x.is_none())
                        .for_each(|x| *x = Some(Decision::Skip));
                }
                return Step::Quit;
            }
        }
        Step::Next
    }

    /// Replace the current hunk by the reviewer's edit (already validated by [`hunks::parse_edit`]) and accept
    /// it, as `git add -p` does.
    pub fn replace_edited(&mut self, u: Unit, hunk: crate::patch::PlacedHunk) {
        self.files[u.file].hunks[u.hunk] = hunk;
        self.edited[u.file][u.hunk] = true;
        self.decisions[u.file][u.hunk] = Some(Decision::Apply);
    }

    /// (accepted, total) hunks.
    pub fn counts(&self) -> (usize, usize) {
        let all = self.decisions.iter().flatten();
        let total = all.clone().count();
        let yes = all.filter(|d| **d == Some(Decision::Apply)).count();
        (yes, total)
    }

    /// The accepted part of the change: the files with at least one accepted hunk, each with its mask (for
    /// [`crate::patch::git_diff`] and [`FileChange::apply`]).
    pub fn selection(&self) -> (Vec<FileChange>, Vec<Vec<bool>>) {
        let mut files = Vec::new();
        let mut masks = Vec::new();
        for (f, d) in self.files.iter().zip(&self.decisions) {
            let mask: Vec<bool> = d.iter().map(|x| *x == Some(Decision::Apply)).collect();
            if mask.iter().any(|x| *x) {
                files.push(f.clone());
                masks.push(if f.hunks.is_empty() { Vec::new() } else { mask });
            }
        }
        (files, masks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::{ChangeKind, PlacedHunk, RepairLevel};

    fn hunk(at: usize, old: &[&str], new: &[&str]) -> PlacedHunk {
        PlacedHunk {
            old_start: at,
            old_lines: old.iter().map(|s| s.to_string()).collect(),
            new_lines: new.iter().map(|s| s.to_string()).collect(),
            level: RepairLevel::Exact,
            eof_newline: None,
        }
    }

    fn session() -> Session {
        let before = "a\nb\nc\nd\ne\nf\ng\nh\n";
        Session::new(vec![
            FileChange {
                path: "one".into(),
                old_path: None,
                kind: ChangeKind::Modify,
                before: Some(before.into()),
                hunks: vec![
                    hunk(0, &["a", "b", "c"], &["A", "b", "C"]),
                    hunk(6, &["g"], &["G"]),
                ],
            },
            FileChange {
                path: "two".into(),
                old_path: None,
                kind: ChangeKind::Modify,
                before: Some(before.into()),
                hunks: vec![hunk(1, &["b"], &["B"]), hunk(7, &["h"], &["H"])],
            },
        ])
    }

    #[test]
    fn answers_walk_the_hunks_in_order() {
        let mut s = session();
        assert_eq!(s.current().unwrap().1, 1);
        assert_eq!(s.answer(Answer::Split), Step::Split(2));
        assert_eq!(s.current().unwrap().2, 5, "the split adds a hunk");
        assert_eq!(s.answer(Answer::Yes), Step::Next);
        assert_eq!(s.answer(Answer::No), Step::Next);
        assert_eq!(s.answer(Answer::Split), Step::CannotSplit);
        assert_eq!(s.answer(Answer::All), Step::Next);
        let (u, n, _) = s.current().unwrap();
        assert_eq!((u.file, u.hunk, n), (1, 0, 4));
        assert_eq!(s.answer(Answer::Done), Step::Next);
        assert!(s.current().is_none());
        assert_eq!(s.counts(), (2, 5));
        let (files, masks) = s.selection();
        assert_eq!(files.len(), 1);
        assert_eq!(masks, vec![vec![true, false, true]]);
        assert_eq!(
            files[0].apply(&masks[0]).unwrap(),
            "A\nb\nc\nd\ne\nf\nG\nh\n"
        );
    }

    #[test]
    fn quit_skips_what_is_left() {
        let mut s = session();
        s.answer(Answer::Yes);
        assert_eq!(s.answer(Answer::Quit), Step::Quit);
        assert!(s.current().is_none());
        assert_eq!(s.counts(), (1, 4));
    }
}
