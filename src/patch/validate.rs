//! Decide what a change may touch: refuse unsafe paths, binary or non-UTF-8 files, omission placeholders; and
//! hold a file's text as lines with their own endings so unchanged bytes are written back untouched.

/// A text file split into lines; `lines[i]` has no line ending, `ends[i]` is its ending (`\n`, `\r\n`, or empty
/// for a last line without a final newline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileText {
    pub lines: Vec<String>,
    pub ends: Vec<&'static str>,
}

impl FileText {
    pub fn parse(text: &str) -> FileText {
        let mut ft = FileText::default();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('\n') {
                Some(k) => {
                    let line = &rest[..k];
                    match line.strip_suffix('\r') {
                        Some(l) => {
                            ft.lines.push(l.to_string());
                            ft.ends.push("\r\n");
                        }
                        None => {
                            ft.lines.push(line.to_string());
                            ft.ends.push("\n");
                        }
                    }
                    rest = &rest[k + 1..];
                }
                None => {
                    ft.lines.push(rest.to_string());
                    ft.ends.push("");
                    rest = "";
                }
            }
        }
        ft
    }

    /// The ending most lines use (`\r\n` only when CRLF lines outnumber LF lines).
    pub fn dominant_end(&self) -> &'static str {
        let crlf = self.ends.iter().filter(|e| **e == "\r\n").count();
        let lf = self.ends.iter().filter(|e| **e == "\n").count();
        if crlf > lf { "\r\n" } else { "\n" }
    }

    /// The file ends with a line ending (an empty file counts as ending with one).
    pub fn final_newline(&self) -> bool {
        self.ends.last().is_none_or(|e| !e.is_empty())
    }
}

/// Bytes to text, refusing binary content (NUL bytes) and invalid UTF-8.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    if bytes.contains(&0) {
        return Err("is a binary file (it contains NUL bytes)".into());
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|e| format!("is not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

/// Check a repo-relative path and give it back normalised (`./` parts removed). Refuses empty names,
/// absolute paths, `..` components, anything inside `.git/`, backslashes and control characters.
pub fn check_path(p: &str) -> Result<String, String> {
    if p.chars().any(|c| c.is_control()) {
        return Err(format!("path {:?} contains control characters", p));
    }
    if p.contains('\\') {
        return Err(format!("path {p:?} contains a backslash"));
    }
    if p.starts_with('/') || has_drive(p) {
        return Err(format!("path {p:?} is absolute"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(format!("path {p:?} leaves the repository ('..')")),
            c if c.eq_ignore_ascii_case(".git") => {
                return Err(format!("path {p:?} is inside .git/"));
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(format!("path {p:?} names no file"));
    }
    Ok(parts.join("/"))
}

/// `C:` at the start (a Windows absolute path).
pub fn has_drive(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Is this line an omission placeholder (`...`, `// ... existing code ...`, `[...]`, `# ... (unchanged) ...`)?
/// `python` allows a bare `...` (Ellipsis is a statement there).
pub fn is_placeholder(text: &str, python: bool) -> bool {
    let mut s = text.trim();
    for lead in ["<!--", "{/*", "/*", "//", "#", "--", ";", "*"] {
        if let Some(r) = s.strip_prefix(lead) {
            s = r.trim_start();
            break;
        }
    }
    for tail in ["-->", "*/}", "*/"] {
        if let Some(r) = s.strip_suffix(tail) {
            s = r.trim_end();
            break;
        }
    }
    let bare = s.trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')' || c == ' ');
    if bare == "..." || bare == "…" || bare == "...." {
        // A bare `...` line: in Python it may be real code, elsewhere (or commented) it is a placeholder.
        return !python || s != text.trim() || s.starts_with('[');
    }
    let lower = s.to_lowercase();
    let has_dots = s.contains("...") || s.contains('…');
    if !has_dots {
        return false;
    }
    // Starts with the dots, not followed by an identifier (`...state` is a JS spread).
    let after = s
        .strip_prefix("...")
        .or_else(|| s.strip_prefix('…'))
        .or_else(|| s.strip_prefix("[..."));
    if let Some(a) = after {
        let next = a.chars().next();
        if next.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.')) {
            return true;
        }
    }
    const PHRASES: [&str; 12] = [
        "existing code",
        "rest of",
        "unchanged",
        "remain the same",
        "remains the same",
        "as before",
        "omitted",
        "same as before",
        "other methods",
        "other fields",
        "keep existing",
        "previous code",
    ];
    PHRASES.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_endings() {
        let ft = FileText::parse("a\r\nb\nc");
        assert_eq!(ft.lines, vec!["a", "b", "c"]);
        assert_eq!(ft.ends, vec!["\r\n", "\n", ""]);
        assert!(!ft.final_newline());
        assert_eq!(FileText::parse("a\r\nb\r\n").dominant_end(), "\r\n");
        assert!(FileText::parse("").final_newline());
    }

    #[test]
    fn unsafe_paths_are_refused() {
        assert!(check_path("../x").is_err());
        assert!(check_path("a/../../x").is_err());
        assert!(check_path(".git/config").is_err());
        assert!(check_path("sub/.GIT/hooks/pre-commit").is_err());
        assert!(check_path("/etc/passwd").is_err());
        assert!(check_path("C:/x").is_err());
        assert!(check_path("a\u{0}b").is_err());
        assert!(check_path("a\\b").is_err());
        assert!(check_path("./").is_err());
        assert_eq!(check_path("./src/./x.rs").as_deref(), Ok("src/x.rs"));
        assert_eq!(check_path(".gitignore").as_deref(), Ok(".gitignore"));
    }

    #[test]
    fn binary_and_bad_utf8_are_refused() {
        assert!(decode(b"a\0b").is_err());
        assert!(decode(&[0xff, 0xfe, 0x41]).is_err());
        assert_eq!(decode("é\n".as_bytes()).as_deref(), Ok("é\n"));
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            "// ... existing code ...",
            "    // ... rest of the function unchanged ...",
            "# ... (unchanged) ...",
            "\t// ... (remove the rest of this block) ...",
            "[...]",
            "...",
            "…",
            "/* ... */",
            "<!-- ... -->",
            "// (rest of methods unchanged...)",
        ] {
            assert!(is_placeholder(p, false), "{p}");
        }
        for p in [
            "...state,",
            "        ...state,",
            "x = 1",
            "// TODO: more cases...",
            "fn f(args: ...)",
            "a..b",
        ] {
            assert!(!is_placeholder(p, false), "{p}");
        }
        assert!(!is_placeholder("    ...", true));
        assert!(is_placeholder("    # ...", true));
    }
}
