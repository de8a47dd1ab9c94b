//! Checks on a model reply before its change is planned, for what the patch stage does not carry: file modes
//! (executable bits, symbolic links, submodules) and redaction placeholders written back into files. Pure.
//!
//! The patch stage regenerates every change as a regular, non-executable file (`100644`), so a mode line in a
//! reply is never applied; it is still refused by default, because a reply that asks for an executable file or
//! a symlink is exactly what a hostile or confused model would send. `--allow-modes` accepts such a reply and
//! applies its content changes only (the files stay regular and non-executable).

use serde::Serialize;

/// A line of the reply that asks for a file mode onepass refuses by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModeChange {
    /// 1-based line in the reply.
    pub line: usize,
    pub mode: String,
    pub what: &'static str,
}

impl std::fmt::Display for ModeChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {} (mode {})", self.line, self.what, self.mode)
    }
}

/// Git extended-header lines that set a mode: `new file mode M`, `new mode M`, `copy`/`rename` keep theirs.
pub fn mode_changes(reply: &str) -> Vec<ModeChange> {
    let mut out = Vec::new();
    for (i, raw) in reply.lines().enumerate() {
        let line = raw.trim();
        let Some(mode) = line
            .strip_prefix("new file mode ")
            .or_else(|| line.strip_prefix("new mode "))
        else {
            continue;
        };
        let mode = mode.trim();
        let digits = mode.trim_start_matches('0');
        let what = match digits {
            "100644" | "644" => continue,
            "120000" => "creates a symbolic link",
            "160000" => "adds a submodule (gitlink)",
            d if d.len() >= 3 && d.bytes().all(|b| (b'0'..=b'7').contains(&b)) => {
                let perms = u32::from_str_radix(&d[d.len() - 3..], 8).unwrap_or(0);
                if perms & 0o111 != 0 {
                    "makes a file executable"
                } else {
                    "sets an unusual file mode"
                }
            }
            _ => "sets an unreadable file mode",
        };
        out.push(ModeChange {
            line: i + 1,
            mode: mode.to_string(),
            what,
        });
    }
    out
}

/// The redaction placeholder's opening, as `secrets::Kind::placeholder` writes it.
pub const PLACEHOLDER: &str = "[REDACTED:";

/// Lines (1-based) where the reply would write a redaction placeholder into a file: added diff lines, or any
/// line of a whole-file block. Applying them would replace a real secret with the placeholder.
pub fn placeholder_writes(reply: &str) -> Vec<usize> {
    let mut lines: Vec<usize> = reply
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with('+') && !l.starts_with("+++") && l.contains(PLACEHOLDER))
        .map(|(i, _)| i + 1)
        .collect();
    for whole in crate::patch::extract::extract(reply).files {
        for (k, l) in whole.content.lines().enumerate() {
            if l.contains(PLACEHOLDER) {
                lines.push(whole.line + 1 + k);
            }
        }
    }
    lines.sort_unstable();
    lines.dedup();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_that_are_refused() {
        let reply = "diff --git a/run.sh b/run.sh\nnew file mode 100755\n--- /dev/null\n+++ b/run.sh\n@@ -0,0 +1 @@\n+echo hi\n\
diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc/passwd\n\
diff --git a/x b/x\nold mode 100644\nnew mode 100755\n\
diff --git a/ok b/ok\nnew file mode 100644\n\
diff --git a/sub b/sub\nnew file mode 160000\n\
diff --git a/odd b/odd\nnew mode 100600\n";
        let found = mode_changes(reply);
        let whats: Vec<_> = found.iter().map(|m| (m.line, m.what)).collect();
        assert_eq!(
            whats,
            [
                (2, "makes a file executable"),
                (8, "creates a symbolic link"),
                (15, "makes a file executable"),
                (19, "adds a submodule (gitlink)"),
                (21, "sets an unusual file mode"),
            ]
        );
        assert_eq!(
            found[1].to_string(),
            "line 8: creates a symbolic link (mode 120000)"
        );
        assert!(mode_changes("new file mode 100644\nnew mode 0644\nplain text\n").is_empty());
    }

    #[test]
    fn placeholders_written_back_are_found() {
        let diff = "```diff\n--- a/c.yml\n+++ b/c.yml\n@@ -1,2 +1,2 @@\n-user: a\n+user: b\n password: \"[REDACTED:assignment]\"\n```\n";
        assert!(
            placeholder_writes(diff).is_empty(),
            "context lines are fine"
        );
        let diff = diff.replace("+user: b", "+token: \"[REDACTED:github-token]\"");
        assert_eq!(placeholder_writes(&diff), [6]);
        let whole = "Whole file:\n\n```yaml config/app.yml\nuser: b\npassword: \"[REDACTED:assignment]\"\n```\n";
        assert_eq!(placeholder_writes(whole), [5]);
    }
}
