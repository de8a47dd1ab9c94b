//! Secrets never go into a prompt by accident. Pure: a file's name says whether the file itself is a secret
//! ([`secret_file`]: `.env`, private keys, credential stores), and its text is scanned for secrets inside it
//! ([`scan`]: private key blocks, the tokens of the common providers, password and token assignments, passwords
//! in URLs, high-entropy values in configuration files). [`redact`] replaces each finding with a visible
//! placeholder, so the model sees that something was there and never what.
//!
//! A model that edits a redacted line writes the placeholder in its context lines, which no longer match the
//! file on disk: such a hunk is rejected, never applied over the real secret.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::repo::walk::{Candidate, SkipReason, Skipped};

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    PrivateKey,
    AwsAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    SlackWebhook,
    StripeKey,
    GoogleApiKey,
    AnthropicKey,
    OpenaiKey,
    HuggingfaceToken,
    NpmToken,
    PypiToken,
    Jwt,
    UrlPassword,
    Assignment,
    HighEntropy,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::PrivateKey => "private key",
            Kind::AwsAccessKey => "AWS access key",
            Kind::GithubToken => "GitHub token",
            Kind::GitlabToken => "GitLab token",
            Kind::SlackToken => "Slack token",
            Kind::SlackWebhook => "Slack webhook",
            Kind::StripeKey => "Stripe key",
            Kind::GoogleApiKey => "Google API key",
            Kind::OpenaiKey => "OpenAI key",
            Kind::AnthropicKey => "Anthropic key",
            Kind::HuggingfaceToken => "Hugging Face token",
            Kind::NpmToken => "npm token",
            Kind::PypiToken => "PyPI token",
            Kind::Jwt => "JSON web token",
            Kind::UrlPassword => "password in a URL",
            Kind::Assignment => "password or token assignment",
            Kind::HighEntropy => "high-entropy value",
        }
    }

    /// The placeholder that replaces a finding of this kind.
    pub fn placeholder(self) -> String {
        let tag = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        format!("[REDACTED:{tag}]")
    }
}

/// One secret inside a text: the byte range to redact and the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub line: usize,
    #[serde(skip)]
    pub start: usize,
    #[serde(skip)]
    pub end: usize,
}

/// Provider tokens with a recognisable shape, each with the pieces of text every match of it contains (one
/// of them at least); the group named `s` (else the whole match) is the secret. The pieces let most files be
/// passed over after one fast search instead of the patterns.
const TOKEN_TABLE: &[(Kind, &[&str], &str)] = &[
    (
        Kind::PrivateKey,
        &["-----BEGIN "],
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
    ),
    (
        Kind::AwsAccessKey,
        &["AKIA", "ASIA", "ABIA", "ACCA"],
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
    ),
    (
        Kind::GithubToken,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b",
    ),
    (
        Kind::GitlabToken,
        &["glpat-"],
        r"\bglpat-[A-Za-z0-9_\-]{20,}",
    ),
    (
        Kind::SlackToken,
        &["xox"],
        r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    ),
    (
        Kind::SlackWebhook,
        &["://"],
        r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}",
    ),
    (
        Kind::StripeKey,
        &["k_live_", "k_test_"],
        r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b",
    ),
    (Kind::GoogleApiKey, &["AIza"], r"\bAIza[0-9A-Za-z_\-]{35}"),
    (
        Kind::AnthropicKey,
        &["sk-"],
        r"\bsk-ant-[A-Za-z0-9_\-]{20,}",
    ),
    (
        Kind::OpenaiKey,
        &["sk-"],
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]*[A-Za-z0-9]{20,}[A-Za-z0-9_\-]*",
    ),
    (Kind::HuggingfaceToken, &["hf_"], r"\bhf_[A-Za-z0-9]{30,}\b"),
    (Kind::NpmToken, &["npm_"], r"\bnpm_[A-Za-z0-9]{36}\b"),
    (
        Kind::PypiToken,
        &["pypi-AgE"],
        r"\bpypi-AgE[A-Za-z0-9_\-]{50,}",
    ),
    (
        Kind::Jwt,
        &["eyJ"],
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    ),
    (
        Kind::UrlPassword,
        &["://"],
        r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@]+:(?P<s>[^\s/@]{3,})@[^\s/@]",
    ),
];

/// [`TOKEN_TABLE`]'s patterns, compiled.
static TOKENS: LazyLock<Vec<(Kind, Regex)>> = LazyLock::new(|| {
    TOKEN_TABLE
        .iter()
        .map(|(kind, _, re)| (*kind, Regex::new(re).expect("secret pattern")))
        .collect()
});

/// The token patterns as one set, for a first pass over a file.
static TOKEN_SET: LazyLock<regex::RegexSet> = LazyLock::new(|| {
    regex::RegexSet::new(TOKEN_TABLE.iter().map(|(_, _, re)| re)).expect("secret patterns")
});

/// A search for any of `words` (ASCII letters in any case when `any_case`), compiled to a DFA: the fastest
/// kind of automaton for the few short words here.
fn words_search(words: &[&str], any_case: bool) -> aho_corasick::AhoCorasick {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(any_case)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(words)
        .expect("secret hint words")
}

/// Any piece of any token pattern ([`TOKEN_TABLE`]): a file with none of them holds no provider token.
static TOKEN_HINT: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    let mut pieces: Vec<&str> = TOKEN_TABLE
        .iter()
        .flat_map(|(_, pieces, _)| pieces.iter().copied())
        .collect();
    pieces.sort_unstable();
    pieces.dedup();
    words_search(&pieces, false)
});

/// The words an [`ASSIGNMENT`] key must contain, any case: only the lines holding one are matched against it
/// (an assignment never spans lines).
const ASSIGNMENT_WORDS: &[&str] = &[
    "passwd",
    "password",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "privatekey",
    "private_key",
    "private-key",
    "authkey",
    "auth_key",
    "auth-key",
    "credential",
];

static ASSIGNMENT_WORD: LazyLock<aho_corasick::AhoCorasick> =
    LazyLock::new(|| words_search(ASSIGNMENT_WORDS, true));

/// `NAME = value`, `NAME: value`, `"name": "value"`, `name => 'value'` where NAME says password, secret, token,
/// key or credential.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?P<key>[A-Za-z0-9_.\-]*(?i-u:passw(?:or)?d|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|auth[_\-]?key|credentials?)[A-Za-z0-9_.\-]*)["']?(?:[ \t]*:[ \t]*[&A-Za-z0-9_<>'\[\], ]{1,40}?)?[ \t]*(?::=|=>|[:=])[ \t]*(?P<q>["'`]?)(?P<s>[^\s"'`,;]+)"#,
    )
    .expect("assignment pattern")
});

/// A candidate high-entropy value in a configuration file: a long run of token characters.
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_\-]{24,}={0,2}").expect("word pattern"));

/// Is this file a secret by its name alone? The reason, when it is.
pub fn secret_file(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    crate::pack::with_ascii_lower(name, secret_name)
}

/// [`secret_file`] for a lower-cased file name.
fn secret_name(lower: &str) -> Option<&'static str> {
    if lower == ".env" || lower.starts_with(".env.") || lower.ends_with(".env") {
        let example = [
            "example", "sample", "template", "dist", "defaults", "schema",
        ]
        .iter()
        .any(|w| lower.contains(w));
        return (!example).then_some("environment file");
    }
    if matches!(
        lower,
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk"
    ) {
        return Some("SSH private key");
    }
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if matches!(
        ext,
        "pem" | "key" | "p12" | "pfx" | "jks" | "keystore" | "ppk" | "kdbx" | "gpg" | "age"
    ) {
        return Some("key or certificate store");
    }
    if matches!(
        lower,
        "credentials"
            | "credentials.json"
            | "credentials.yml"
            | "credentials.yaml"
            | "credentials.xml"
            | ".git-credentials"
            | ".netrc"
            | "_netrc"
            | ".pgpass"
            | ".htpasswd"
            | ".pypirc"
            | "secrets.yml"
            | "secrets.yaml"
            | "secrets.json"
            | "secrets.toml"
            | "master.key"
    ) || ext == "tfstate"
        || lower.ends_with(".tfstate.backup")
    {
        return Some("credentials file");
    }
    None
}

/// Configuration-like files, where a long random value is a secret far more often than not.
fn is_config(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(
        ext,
        "env"
            | "ini"
            | "cfg"
            | "conf"
            | "config"
            | "properties"
            | "yaml"
            | "yml"
            | "toml"
            | "json"
            | "xml"
            | "tf"
            | "tfvars"
            | "hcl"
            | "npmrc"
            | "envrc"
    ) || name.starts_with(".env")
        || name.starts_with("docker-compose")
        || name == "dockerfile"
        || name == ".npmrc"
        || name == ".envrc"
}

/// Shannon entropy of a string in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A value that stands for a secret rather than being one: a variable, a call, a placeholder.
fn is_reference(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    let lower = v.to_ascii_lowercase();
    v.starts_with('$')
        || v.starts_with('<')
        || v.starts_with('{')
        || v.starts_with('%')
        || v.starts_with('[')
        || v.starts_with('*')
        || v.contains('(')
        || lower.starts_with("process.env")
        || lower.starts_with("os.environ")
        || lower.starts_with("env.")
        || lower.starts_with("secrets.")
        || lower.starts_with("vault:")
        || lower.starts_with("[redacted")
        || lower.contains("xxxx")
        || lower.starts_with("your")
        || lower.starts_with("change")
        || lower.starts_with("example")
        || lower.starts_with("dummy")
        || lower.starts_with("placeholder")
        || matches!(
            lower.as_str(),
            "null" | "none" | "nil" | "true" | "false" | "undefined" | "required" | "optional"
        )
}

/// Does an assignment's value look like a real secret? Quoted or in a configuration file; long enough; not an
/// identifier path (`self.password`), a reference or a placeholder.
fn is_secret_value(value: &str, quoted: bool, config: bool) -> bool {
    if value.len() < 6 || is_reference(value) {
        return false;
    }
    if !quoted && !config {
        // Unquoted in code is an expression: `token = next_token`, `password: String`.
        return false;
    }
    let identifier_path = value
        .split(['.', ':'])
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        && value.contains(['.', ':']);
    if identifier_path && !quoted {
        return false;
    }
    let varied = value.chars().any(|c| c.is_ascii_digit())
        || value.chars().any(|c| !c.is_ascii_alphanumeric())
        || value.len() >= 16;
    // A plain word in a configuration file (`password: required`, `token: bearer`) is a setting, not a secret.
    varied
        && !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
}

/// Every secret found in `text` (the file at `path`), ordered by position, not overlapping.
pub fn scan(path: &str, text: &str) -> Vec<Finding> {
    let config = is_config(path);
    let mut spans: Vec<(usize, usize, Kind)> = Vec::new();
    // A fast search for the tokens' literal pieces passes over most files; then one pass of the set tells
    // which token patterns occur at all, and only those run for positions.
    if TOKEN_HINT.is_match(text) {
        let present = TOKEN_SET.matches(text);
        for (_, (kind, re)) in TOKENS
            .iter()
            .enumerate()
            .filter(|(i, _)| present.matched(*i))
        {
            for caps in re.captures_iter(text) {
                let m = caps
                    .name("s")
                    .unwrap_or_else(|| caps.get(0).expect("match"));
                spans.push((m.start(), m.end(), *kind));
            }
        }
    }
    // Assignments, on the lines that name a password, a secret, a token, a key or a credential.
    let bytes = text.as_bytes();
    let mut done = 0;
    for hit in ASSIGNMENT_WORD.find_iter(text) {
        if hit.start() < done {
            continue;
        }
        let start = memchr::memrchr(b'\n', &bytes[..hit.start()]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &bytes[hit.end()..]).map_or(text.len(), |i| hit.end() + i);
        done = end;
        // Outside configuration files only a quoted value is a secret: a line without a quote holds none.
        if !config && memchr::memchr3(b'"', b'\'', b'`', &bytes[hit.end()..end]).is_none() {
            continue;
        }
        for caps in ASSIGNMENT.captures_iter(&text[start..end]) {
            let (Some(value), quote) = (caps.name("s"), caps.name("q")) else {
                continue;
            };
            let quoted = quote.is_some_and(|q| !q.as_str().is_empty());
            if is_secret_value(value.as_str(), quoted, config) {
                spans.push((start + value.start(), start + value.end(), Kind::Assignment));
            }
        }
    }
    if config {
        for m in WORD.find_iter(text) {
            let w = m.as_str();
            let mixed = w.chars().any(|c| c.is_ascii_uppercase())
                && w.chars().any(|c| c.is_ascii_lowercase())
                && w.chars().any(|c| c.is_ascii_digit());
            if mixed && entropy(w) >= 4.2 && !w.contains("REDACTED") {
                spans.push((m.start(), m.end(), Kind::HighEntropy));
            }
        }
    }
    // Earliest first; at one start the longest; the more specific kind (lower in the enum) on a tie.
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut out: Vec<Finding> = Vec::new();
    let mut line = 1;
    let mut counted = 0;
    for (start, end, kind) in spans {
        if out.last().is_some_and(|f| start < f.end) {
            // Overlaps the previous finding: extend it if it reaches further.
            if let Some(last) = out.last_mut() {
                last.end = last.end.max(end);
            }
            continue;
        }
        line += text.as_bytes()[counted..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        counted = start;
        out.push(Finding {
            kind,
            line,
            start,
            end,
        });
    }
    out
}

/// `text` with every finding replaced by its placeholder. Findings must come from [`scan`] of the same text.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        if f.start < at
            || f.end > text.len()
            || !text.is_char_boundary(f.start)
            || !text.is_char_boundary(f.end)
        {
            continue;
        }
        out.push_str(&text[at..f.start]);
        out.push_str(&f.kind.placeholder());
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

/// What was kept out of the prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Withheld {
    /// Files left out whole, with the reason.
    pub files: Vec<WithheldFile>,
    /// Secrets replaced by placeholders inside files that were kept.
    pub redactions: Vec<Redaction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithheldFile {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redaction {
    pub path: String,
    pub line: usize,
    pub kind: Kind,
}

impl Withheld {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.redactions.is_empty()
    }

    /// Add what another scan withheld.
    pub fn merge(&mut self, other: Withheld) {
        self.files.extend(other.files);
        self.redactions.extend(other.redactions);
    }

    /// How many files had something redacted.
    pub fn redacted_files(&self) -> usize {
        let mut paths: Vec<&str> = self.redactions.iter().map(|r| r.path.as_str()).collect();
        paths.dedup();
        paths.len()
    }
}

/// Take secret files out of `files` (into `skipped`, reason [`SkipReason::Secret`]), by their names alone.
/// What the others hold is scanned when their text is about to go into a prompt ([`redacted`]).
pub fn withhold_files(files: &mut Vec<Candidate>, skipped: &mut Vec<Skipped>) -> Withheld {
    let mut out = Withheld::default();
    let before = skipped.len();
    // Every name is checked, on all cores; `retain` visits the files in order, once each.
    let verdicts = crate::pack::par_map(files, |f| secret_file(&f.path));
    let mut verdict = verdicts.into_iter();
    files.retain(|file| match verdict.next().flatten() {
        Some(reason) => {
            out.files.push(WithheldFile {
                path: file.path.clone(),
                reason: reason.to_string(),
            });
            skipped.push(Skipped {
                path: file.path.clone(),
                reason: SkipReason::Secret {
                    what: reason.to_string(),
                },
            });
            false
        }
        None => true,
    });
    if skipped.len() > before {
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
    }
    out
}

/// A file's text with its secrets replaced, and what was replaced; `None` when the scan finds nothing.
pub fn redacted(path: &str, text: &str) -> Option<(String, Vec<Redaction>)> {
    let findings = scan(path, text);
    if findings.is_empty() {
        return None;
    }
    let redactions = findings
        .iter()
        .map(|f| Redaction {
            path: path.to_string(),
            line: f.line,
            kind: f.kind,
        })
        .collect();
    Some((redact(text, &findings), redactions))
}

/// [`withhold_files`], then the secrets inside the files left redacted in place: for files that all go into
/// a prompt (a context rebuilt from the last run). Files are scanned in parallel; the result is in path
/// order.
pub fn withhold(files: &mut Vec<Candidate>, skipped: &mut Vec<Skipped>) -> Withheld {
    let mut out = withhold_files(files, skipped);
    // Only what no earlier scan found clean is read and scanned.
    let unscanned: Vec<usize> = (0..files.len())
        .filter(|&i| !files[i].scanned_clean)
        .collect();
    let found: Vec<Option<(String, Vec<Redaction>)>> = {
        let files = &*files;
        crate::pack::par_map_from(&unscanned, 2, |&i| {
            redacted(&files[i].path, files[i].text())
        })
    };
    for (i, found) in unscanned.into_iter().zip(found) {
        let file = &mut files[i];
        match found {
            None => file.scanned_clean = true,
            Some((text, redactions)) => {
                // The blob id named the unredacted file: the pack cache must key this text by its own id,
                // or an outline cached from an unredacted run could carry the secret back in (`set_text`
                // forgets it).
                file.set_text(text);
                out.redactions.extend(redactions);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withholding_a_walk() {
        let cand = |path: &str, text: &str| {
            let mut file = Candidate::new(path, text);
            file.blob = Some([7; 20]);
            file
        };
        let mut files = vec![
            cand(".env", "A=1\n"),
            cand("config/app.yml", "password: \"hunter2-long\"\n"),
            cand("src/main.rs", "fn main() {}\n"),
        ];
        let mut skipped = Vec::new();
        let withheld = withhold(&mut files, &mut skipped);
        let redacted = files.iter().find(|f| f.path == "config/app.yml").unwrap();
        assert_eq!(
            redacted.blob, None,
            "a redacted text is not the blob git knows"
        );
        let untouched = files.iter().find(|f| f.path == "src/main.rs").unwrap();
        assert_eq!(untouched.blob, Some([7; 20]));
        assert_eq!(files.len(), 2);
        assert_eq!(skipped[0].path, ".env");
        assert!(matches!(skipped[0].reason, SkipReason::Secret { .. }));
        assert_eq!(files[0].text(), "password: \"[REDACTED:assignment]\"\n");
        assert_eq!(files[1].text(), "fn main() {}\n");
        // What the scan found clean is not scanned again; what it redacted is not marked clean.
        assert!(files[1].scanned_clean);
        assert!(!files[0].scanned_clean);
        assert_eq!(withheld.files.len(), 1);
        assert_eq!(
            withheld.redactions,
            [Redaction {
                path: "config/app.yml".into(),
                line: 1,
                kind: Kind::Assignment
            }]
        );
        assert_eq!(withheld.redacted_files(), 1);
    }

    fn kinds(path: &str, text: &str) -> Vec<Kind> {
        scan(path, text).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn files_that_are_secrets_by_name() {
        for path in [
            ".env",
            "app/.env.local",
            ".env.production",
            "prod.env",
            "deploy/server.pem",
            "tls.key",
            "home/.ssh/id_rsa",
            "id_ed25519",
            ".aws/credentials",
            "config/credentials.json",
            ".netrc",
            ".git-credentials",
            "config/secrets.yml",
            "terraform.tfstate",
            "store.p12",
        ] {
            assert!(secret_file(path).is_some(), "{path}");
        }
        for path in [
            ".env.example",
            ".env.sample",
            "env.template",
            "src/main.rs",
            "id_rsa.pub",
            "docs/keys.md",
            "src/secrets.rs",
            "environment.ts",
        ] {
            assert_eq!(secret_file(path), None, "{path}");
        }
    }

    #[test]
    fn provider_tokens() {
        let cases = [
            ("AKIAIOSFODNN7EXAMPLE", Kind::AwsAccessKey),
            (
                "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
                Kind::GithubToken,
            ),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
                Kind::GithubToken,
            ),
            ("glpat-abcdefghij0123456789", Kind::GitlabToken),
            ("xoxb-1234567890-abcdefghijkl", Kind::SlackToken),
            ("sk_live_abcdefghijklmnop1234", Kind::StripeKey),
            (
                "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
                Kind::GoogleApiKey,
            ),
            (
                "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
                Kind::OpenaiKey,
            ),
            (
                "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123",
                Kind::AnthropicKey,
            ),
            (
                "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
                Kind::HuggingfaceToken,
            ),
            ("npm_abcdefghijklmnopqrstuvwxyz0123456789", Kind::NpmToken),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                Kind::Jwt,
            ),
            (
                "https://hooks.slack.com/services/T0000000/B0000000/abcdefghijklmnopqrstuvwx",
                Kind::SlackWebhook,
            ),
            (
                "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoLWlqa2wtbW5vcC1xcnN0LXV2d3h5ejAxMjM0NQ",
                Kind::PypiToken,
            ),
            (
                "postgres://admin:s3cr3t-pass@db.example.com/app",
                Kind::UrlPassword,
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
                Kind::PrivateKey,
            ),
        ];
        // Every pattern of the table has an example here, and the example holds one of the pieces the fast
        // search looks for (a pattern whose pieces were wrong would never run).
        for (kind, pieces, _) in TOKEN_TABLE {
            let (token, _) = cases.iter().find(|c| c.1 == *kind).expect("an example");
            assert!(pieces.iter().any(|p| token.contains(p)), "{kind:?}");
        }
        for (token, kind) in cases {
            let text = format!("let x = call({token});\n");
            assert_eq!(kinds("src/lib.rs", &text), [kind], "{token}");
            let redacted = redact(&text, &scan("src/lib.rs", &text));
            assert!(!redacted.contains(token), "{redacted}");
            assert!(redacted.contains("[REDACTED:"), "{redacted}");
        }
    }

    #[test]
    fn private_key_blocks_are_redacted_whole() {
        let text = "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter\n";
        let found = scan("notes.md", text);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].kind, found[0].line), (Kind::PrivateKey, 2));
        assert_eq!(
            redact(text, &found),
            "before\n[REDACTED:private-key]\nafter\n"
        );
        // An unterminated block is redacted to the end.
        let cut = "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n";
        assert_eq!(
            redact(cut, &scan("a.txt", cut)),
            "x\n[REDACTED:private-key]"
        );
    }

    #[test]
    fn assignments_in_env_and_config_files() {
        let env = "DATABASE_URL=postgres://app:s3cr3t-pw@db.internal:5432/app\nAPI_TOKEN=abc123def456\nDEBUG=true\nPASSWORD=\nSECRET_KEY=${FROM_VAULT}\n";
        let found = scan(".env.example", env);
        let red = redact(env, &found);
        assert!(!red.contains("s3cr3t-pw"), "{red}");
        assert!(!red.contains("abc123def456"), "{red}");
        assert!(red.contains("DEBUG=true"), "{red}");
        assert!(red.contains("SECRET_KEY=${FROM_VAULT}"), "{red}");
        assert_eq!(found[0].line, 1);
        assert_eq!(found[1].line, 2);

        let yaml = "db:\n  password: \"Tr0ub4dor&3\"\n  user: app\n  token_header: Authorization\n  required_password: required\n";
        let red = redact(yaml, &scan("config/app.yml", yaml));
        assert!(!red.contains("Tr0ub4dor&3"), "{red}");
        assert!(red.contains("Authorization"), "{red}");
        assert!(red.contains("required_password: required"), "{red}");

        let json = r#"{"client_secret": "9f8e7d6c5b4a", "name": "demo"}"#;
        let red = redact(json, &scan("settings.json", json));
        assert!(
            !red.contains("9f8e7d6c5b4a") && red.contains("demo"),
            "{red}"
        );
    }

    #[test]
    fn assignments_are_found_on_their_own_lines_in_any_case() {
        // Keywords in any case, several on a line, the last line without a newline; positions are the
        // file's, not the line's.
        let code = "let a = 1;\nconst DB_PassWord = \"hunter2-hunter2\"; let apiKey = 'k-93jd82jd9s';\n// token\nx = { \"Access-Key\": \"AKxx-2931-aa99\" }";
        let found = scan("src/app.js", code);
        let values: Vec<&str> = found.iter().map(|f| &code[f.start..f.end]).collect();
        assert_eq!(
            values,
            ["hunter2-hunter2", "k-93jd82jd9s", "AKxx-2931-aa99"],
            "{found:?}"
        );
        assert_eq!(found.iter().map(|f| f.line).collect::<Vec<_>>(), [2, 2, 4]);
        // A keyword on a line with no quote, in code, holds no secret; nor does a file with no keyword.
        assert!(scan("src/a.rs", "let token = next_token(input);\n").is_empty());
        assert!(scan("src/a.rs", "fn main() { println!(\"hi\"); }\n").is_empty());
    }

    #[test]
    fn code_that_only_names_secrets_is_left_alone() {
        let code = "fn login(password: &str, token: Token) {\n    let token = next_token(password);\n    self.api_key = config.api_key;\n    let secret = env::var(\"SECRET\")?;\n}\n";
        assert_eq!(kinds("src/auth.rs", code), []);
        // A quoted literal in code is a secret.
        let code = "const API_KEY: &str = \"q8Zr2LmX0pWv\";\n";
        assert_eq!(kinds("src/auth.rs", code), [Kind::Assignment]);
    }

    #[test]
    fn high_entropy_values_only_in_config_files() {
        let value = "Zx9Qm2Lk8Vb4Nw7Rt1Yp6Hs3Jd5Gf0Ae";
        let conf =
            format!("[service]\nsigning = {value}\nname = a-very-long-but-ordinary-setting-name\n");
        assert_eq!(kinds("service.ini", &conf), [Kind::HighEntropy]);
        assert_eq!(kinds("src/lib.rs", &format!("// {value}\n")), []);
        // Hex digests and ordinary words stay.
        let digest = "checksum = \"3f786850e387550fdab836ed7e6dc881de23001b\"\n";
        assert_eq!(kinds("deps.toml", digest), []);
    }

    #[test]
    fn findings_do_not_overlap_and_redaction_is_exact() {
        let text = "token: \"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789\"\nrest\n";
        let found = scan("ci.yml", text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, Kind::GithubToken);
        assert_eq!(
            redact(text, &found),
            "token: \"[REDACTED:github-token]\"\nrest\n"
        );
        assert_eq!(redact("plain\n", &scan("a.yml", "plain\n")), "plain\n");
    }

    #[test]
    fn multibyte_text_is_safe() {
        let text = "pässwörd = \"ünïcödé-sécret-123\"\nclé: 😀😀😀😀😀😀😀😀😀😀\n";
        let found = scan("a.yml", text);
        let red = redact(text, &found);
        assert!(red.is_char_boundary(red.len()));
    }
}
