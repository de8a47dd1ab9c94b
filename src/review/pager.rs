//! Long previews go through a pager when standard output is a terminal: `$PAGER`, else `less -R`; `LESS`
//! defaults to `FRX` as in git, so a preview that fits on one screen is simply printed.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::env::Env;

/// The pager command to use, or None for none (`PAGER` set to empty or `cat`).
pub fn command(env: &Env) -> Option<String> {
    match env.vars.get("PAGER").map(|s| s.trim()) {
        Some("") | Some("cat") => None,
        Some(p) => Some(p.to_string()),
        None => Some("less -R".to_string()),
    }
}

/// Send `text` through the pager when it has more lines than the terminal. Returns false when it was not
/// paged (no pager, a short text, or a pager that cannot be started), so the caller prints it.
pub fn page(text: &[u8], env: &Env, rows: Option<usize>) -> bool {
    let Some(cmd) = command(env) else {
        return false;
    };
    let lines = text.iter().filter(|b| **b == b'\n').count();
    if rows.is_some_and(|r| lines < r) {
        return false;
    }
    let mut c = Command::new("sh");
    c.args(["-c", &cmd]).stdin(Stdio::piped());
    if env.var("LESS").is_none() {
        c.env("LESS", "FRX");
    }
    if env.var("LV").is_none() {
        c.env("LV", "-c");
    }
    let Ok(mut child) = c.spawn() else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager that quits early closes the pipe: that is the user's choice, not an error.
        let _ = stdin.write_all(text);
    }
    child.wait().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_comes_from_the_environment() {
        let mut env = Env::default();
        assert_eq!(command(&env).as_deref(), Some("less -R"));
        env.vars.insert("PAGER".into(), "most".into());
        assert_eq!(command(&env).as_deref(), Some("most"));
        env.vars.insert("PAGER".into(), "cat".into());
        assert_eq!(command(&env), None);
        env.vars.insert("PAGER".into(), String::new());
        assert_eq!(command(&env), None);
    }
}
