//! Orders candidate files by relevance to the request. Pure: per-file index data, git facts and the request
//! in, scores with their reasons out.
//!
//! Each file is first reduced to a [`FileIndex`] (term counts, the identifiers it defines, the modules it
//! imports, the runs of words in its string literals), which is cheap to cache by blob id. The request is read
//! as plain words (each with the other forms of it the repository has: plural, `-ing`, `-ed`, stem), the
//! identifiers and paths it names, and the phrases it quotes (error messages). Signals, combined additively:
//!
//! - **named**: the request names the file's path or file name, or an identifier the file defines;
//! - **message**: a string literal of the file has a quoted phrase word for word (or, when the request quotes
//!   nothing, several of its runs of three words: a message pasted without quotes);
//! - **lexical**: BM25 over the file's terms, plus the request's words found in its path;
//! - **phrase**: every word of a quoted phrase occurs in the file;
//! - **graph**: the file defines what a top hit uses, uses what a top hit defines, or imports / is imported by
//!   a top hit;
//! - **git**: uncommitted changes, recently changed, changed together with a top hit;
//! - **size prior**: lexical evidence in a huge file counts for less than the same evidence in a small one;
//! - **file kind**: the direct evidence in tests and docs counts for less than in code.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::records::{Keys, Terms, key};

/// A 64-bit FNV-1a hash of a lower-cased term: index data stores hashes, not strings.
pub const fn hash_term(term: &str) -> u64 {
    hash_lower(term.as_bytes())
}

/// FNV-1a over `bytes` lower-cased (ASCII): the hash of terms and of a message's words (compared as
/// written: no stemming).
const fn hash_lower(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut i = 0;
    while i < bytes.len() {
        h = fnv(h, bytes[i].to_ascii_lowercase());
        i += 1;
    }
    h
}

/// One byte into an FNV-1a hash.
const fn fnv(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(FNV_PRIME)
}

/// The [`hash_term`] of each of `N` words, at compile time.
const fn hashes<const N: usize>(words: [&str; N]) -> [u64; N] {
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = hash_term(words[i]);
        i += 1;
    }
    out
}

/// Call `each` with every term of `text`: identifiers are split on `_` and camelCase humps (and digits), and
/// a composite identifier is also given whole. Terms are lower-cased ASCII; one-letter terms are dropped.
pub fn for_each_term(text: &str, mut each: impl FnMut(&str)) {
    let mut whole = String::new();
    let mut part = String::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.is_empty() || word.len() > LONGEST_WORD {
            continue;
        }
        whole.clear();
        whole.extend(word.chars().flat_map(char::to_lowercase));
        let mut parts = 0;
        let mut prev_lower = false;
        part.clear();
        let mut emit = |part: &mut String, parts: &mut usize| {
            if part.len() >= 2 {
                each(part);
            }
            if !part.is_empty() {
                *parts += 1;
            }
            part.clear();
        };
        for c in word.chars() {
            if c == '_' {
                emit(&mut part, &mut parts);
                prev_lower = false;
                continue;
            }
            if c.is_uppercase() && prev_lower && !part.is_empty() {
                emit(&mut part, &mut parts);
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            part.extend(c.to_lowercase());
        }
        emit(&mut part, &mut parts);
        if parts > 1 && whole.len() >= 2 {
            each(&whole);
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// Byte classes for [`for_each_term_hash`].
const C_OTHER: u8 = 0;
/// A lower-case letter or a digit.
const C_LOWER: u8 = 1;
const C_UPPER: u8 = 2;
const C_UNDERSCORE: u8 = 3;
/// A byte of a multi-byte character: the word goes the slow way.
const C_HIGH: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [C_OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            C_LOWER
        } else if c.is_ascii_uppercase() {
            C_UPPER
        } else if c == b'_' {
            C_UNDERSCORE
        } else if c >= 0x80 {
            C_HIGH
        } else {
            C_OTHER
        };
        b += 1;
    }
    t
};

/// Longest word given terms: longer runs are data (hashes, base64), not names.
const LONGEST_WORD: usize = 80;

/// As [`for_each_term`], giving each term's [`hash_term`] without building strings: the indexing hot loop.
/// One pass over each word hashes its parts and, beside them, the whole word (given only when the word has
/// more than one part).
pub fn for_each_term_hash(text: &str, mut each: impl FnMut(u64)) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    // The parts of one word (at most half its length): given once the word is known to be whole ASCII.
    let mut found = [0u64; LONGEST_WORD / 2 + 1];
    let mut i = 0;
    while i < n {
        while i < n && CLASS[bytes[i] as usize] == C_OTHER {
            i += 1;
        }
        if i == n {
            break;
        }
        let start = i;
        let limit = n.min(start + LONGEST_WORD + 1);
        let mut whole = FNV_OFFSET;
        let mut part = FNV_OFFSET;
        let mut part_len = 0usize;
        let mut parts = 0usize;
        let mut kept = 0usize;
        let mut prev_lower = false;
        let mut high = false;
        while i < limit {
            let b = bytes[i];
            match CLASS[b as usize] {
                C_LOWER => {
                    prev_lower = true;
                    part = fnv(part, b);
                    part_len += 1;
                    whole = fnv(whole, b);
                }
                C_UPPER => {
                    let lower = b | 0x20;
                    if prev_lower && part_len > 0 {
                        if part_len >= 2 {
                            found[kept] = part;
                            kept += 1;
                        }
                        parts += 1;
                        part = FNV_OFFSET;
                        part_len = 0;
                    }
                    prev_lower = false;
                    part = fnv(part, lower);
                    part_len += 1;
                    whole = fnv(whole, lower);
                }
                C_UNDERSCORE => {
                    if part_len >= 2 {
                        found[kept] = part;
                        kept += 1;
                    }
                    parts += usize::from(part_len > 0);
                    part = FNV_OFFSET;
                    part_len = 0;
                    prev_lower = false;
                    whole = fnv(whole, b);
                }
                C_HIGH => {
                    high = true;
                    break;
                }
                _ => break,
            }
            i += 1;
        }
        // The rest of a word too long or not ASCII.
        while i < n && CLASS[bytes[i] as usize] != C_OTHER {
            high |= bytes[i] >= 0x80;
            i += 1;
        }
        let len = i - start;
        if len > LONGEST_WORD {
            continue;
        }
        if high {
            for_each_term(&text[start..i], |t| each(hash_term(t)));
            continue;
        }
        if part_len >= 2 {
            found[kept] = part;
            kept += 1;
        }
        parts += usize::from(part_len > 0);
        for &h in &found[..kept] {
            each(h);
        }
        // Most words are one part: the whole word is given only when it is not.
        if parts > 1 && len >= 2 {
            each(whole);
        }
    }
}

/// A hasher for keys that are already hashes.
#[derive(Default, Clone, Copy)]
pub struct Prehashed;

impl std::hash::BuildHasher for Prehashed {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

pub struct PrehashedHasher(u64);

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = fnv(self.0, b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    /// A 32-bit key spread over the whole word (the table uses its high bits too).
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Files per run in the parallel passes over every file (each run shares its tables).
const RUN: usize = 256;

/// A set of hashes (or keys) in `64 * WORDS` bits that may answer "maybe" for one it does not hold, never
/// "no" for one it does: put in front of exact lookups that mostly miss.
struct BitFilter<const WORDS: usize>([u64; WORDS]);

impl<const WORDS: usize> Default for BitFilter<WORDS> {
    fn default() -> Self {
        BitFilter([0; WORDS])
    }
}

impl<const WORDS: usize> BitFilter<WORDS> {
    fn bit(h: u64) -> usize {
        ((h ^ (h >> 29)) % (64 * WORDS as u64)) as usize
    }

    fn add(&mut self, h: u64) {
        let b = Self::bit(h);
        self.0[b / 64] |= 1 << (b % 64);
    }

    fn might_hold(&self, h: u64) -> bool {
        let b = Self::bit(h);
        self.0[b / 64] & (1 << (b % 64)) != 0
    }
}

/// A quick hasher for keys that are not hashes already (blob ids, paths): a multiply-rotate over eight bytes
/// at a time, as compilers use for their own tables. Not resistant to chosen collisions, which needs an
/// attacker who writes the repository's file names and wants onepass a few milliseconds slower.
#[derive(Default, Clone, Copy)]
pub struct Quick;

impl std::hash::BuildHasher for Quick {
    type Hasher = QuickHasher;
    fn build_hasher(&self) -> QuickHasher {
        QuickHasher(0)
    }
}

pub struct QuickHasher(u64);

impl QuickHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A table keyed by repo-relative path, looked up for every file.
pub type PathMap<V> = HashMap<String, V, Quick>;

/// Lower-cased terms of `text` (see [`for_each_term`]), stop words removed.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |t| {
        if !STOP_WORDS.contains(&t) {
            out.push(t.to_string());
        }
    });
    out
}

const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "to",
    "of",
    "in",
    "on",
    "for",
    "and",
    "or",
    "is",
    "it",
    "be",
    "by",
    "with",
    "as",
    "at",
    "that",
    "this",
    "from",
    "add",
    "make",
    "use",
    "new",
    "all",
    "so",
    "we",
    "should",
    "when",
    "into",
    "can",
    "not",
    "do",
    "does",
    "if",
    "please",
    "change",
    "fix",
    "update",
    "are",
    "was",
    "but",
    "its",
    "there",
    "their",
    "them",
    "they",
    "which",
    "would",
    "could",
    "have",
    "has",
    "get",
    "gets",
    "set",
    "instead",
    "also",
    "any",
    "some",
    "than",
    "then",
    "only",
    "one",
    "way",
    "now",
    "like",
    "want",
    "need",
    "needs",
    "there",
    "what",
    "why",
    "how",
    "will",
    "just",
    "our",
    "you",
    "your",
    "me",
    "my",
    "i",
    "no",
    "yes",
    "too",
    "very",
    "more",
    "less",
    "after",
    "before",
    "while",
    "about",
    "because",
    "being",
    "been",
    "these",
    "those",
    "other",
    "each",
    "same",
    "support",
    "allow",
    "allows",
    "let",
    "lets",
    "return",
    "returns",
    "value",
    "file",
    "files",
    "code",
    "error",
    "bug",
    "issue",
    "work",
    "works",
    "wrong",
    "correct",
    "correctly",
    "properly",
];

/// What ranking needs to know about one file; derived from its path and text, cacheable by blob id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileIndex {
    /// (term key, occurrences), sorted by key.
    pub terms: Terms,
    /// Total term occurrences: the document length for BM25.
    pub len: u32,
    /// Keys of the identifiers the file defines (functions, types, classes, constants), sorted.
    pub defines: Keys,
    /// Keys of the module path segments the file imports, sorted.
    pub imports: Keys,
    pub bytes: u32,
    /// Keys of the runs of three consecutive words (two in a two-word literal) inside the file's string
    /// literals, sorted:
    /// a request that quotes an error message finds the file that prints it, not every file with its words.
    pub literals: Keys,
}

impl FileIndex {
    /// Occurrences of the term whose [`hash_term`] is `term`.
    pub fn count(&self, term: u64) -> u32 {
        self.terms
            .keys()
            .binary_search(key(term))
            .map_or(0, |i| self.terms.count(i))
    }

    pub fn has(&self, term: u64) -> bool {
        self.terms.keys().contains(key(term))
    }
}

thread_local! {
    /// Every term key of the file being indexed, kept from file to file (one per indexing thread).
    static SCRATCH: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Build a file's index data from its text.
pub fn index(text: &str) -> FileIndex {
    // Sorting every occurrence and counting runs is cheaper than a hash map for files of a few thousand
    // terms.
    let (terms, len) = SCRATCH.with(|all| {
        let mut all = all.borrow_mut();
        all.clear();
        for_each_term_hash(text, |h| all.push(key(h)));
        let len = all.len().min(u32::MAX as usize) as u32;
        all.sort_unstable();
        let mut terms: Vec<(u32, u32)> = Vec::with_capacity(all.len() / 3 + 1);
        for &h in all.iter() {
            match terms.last_mut() {
                Some((last, n)) if *last == h => *n += 1,
                _ => terms.push((h, 1)),
            }
        }
        (terms, len)
    });
    let mut defines = Vec::new();
    let mut imports = Vec::new();
    for line in text.lines().take(20_000) {
        if let Some(name) = defined_name(line) {
            defines.push(key(hash_term(name)));
        }
        import_segments(line, |seg| imports.push(key(hash_term(seg))));
    }
    defines.sort_unstable();
    defines.dedup();
    imports.sort_unstable();
    imports.dedup();
    let mut literals = Vec::new();
    for_each_literal_bigram(text, |h| literals.push(key(h)));
    literals.sort_unstable();
    literals.dedup();
    FileIndex {
        terms: Terms::from_sorted(&terms),
        len,
        defines: Keys::from_sorted(&defines),
        imports: Keys::from_sorted(&imports),
        bytes: text.len().min(u32::MAX as usize) as u32,
        literals: Keys::from_sorted(&literals),
    }
}

/// The hash of a run of words from the hash of its first part and of the next word.
fn join(first: u64, next: u64) -> u64 {
    ((first ^ 0xff).wrapping_mul(FNV_PRIME).rotate_left(29) ^ next)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The words of a message: runs of letters and digits (an escape like `\n` separates words).
fn for_each_message_word<'a>(text: &'a [u8], mut each: impl FnMut(&'a [u8])) {
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            i += 2;
            continue;
        }
        if !(text[i].is_ascii_alphanumeric() || text[i] >= 0x80) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] >= 0x80) {
            i += 1;
        }
        if i - start <= 40 {
            each(&text[start..i]);
        }
    }
}

/// Call `each` with the hash of every run of words ([`for_each_run`]) inside a string literal (`"…"`,
/// `'…'`, `` `…` ``). A literal ends at its closing quote; `'` and `"` literals also end at the end of the
/// line unless it is continued with a backslash, so a stray apostrophe in a comment costs one line at most.
pub fn for_each_literal_bigram(text: &str, mut each: impl FnMut(u64)) {
    const LONGEST: usize = 4000;
    let b = text.as_bytes();
    let mut words: Vec<u64> = Vec::new();
    let mut i = 0;
    while let Some(at) = memchr::memchr3(b'"', b'\'', b'`', &b[i..]) {
        let q = b[i + at];
        let start = i + at + 1;
        i = start;
        // An apostrophe inside a word (`don't`, `it's`) opens nothing.
        if q == b'\'' && at + i > 1 && b[i - 2].is_ascii_alphanumeric() {
            continue;
        }
        let limit = b.len().min(start + LONGEST);
        let mut j = start;
        let mut end = None;
        while j < limit {
            let found = if q == b'`' {
                memchr::memchr2(q, b'\\', &b[j..limit])
            } else {
                memchr::memchr3(q, b'\\', b'\n', &b[j..limit])
            };
            let Some(k) = found else { break };
            j += k;
            match b[j] {
                b'\\' => j += 2,
                b'\n' => break,
                _ => {
                    end = Some(j);
                    break;
                }
            }
        }
        let Some(end) = end else { continue };
        words.clear();
        for_each_message_word(&b[start..end], |w| words.push(hash_lower(w)));
        for_each_run(&words, &mut each);
        i = end + 1;
    }
}

/// The runs of words a message is matched by: every three consecutive words, or the two words of a
/// two-word message. `words` holds the words' hashes.
fn for_each_run(words: &[u64], mut each: impl FnMut(u64)) {
    if words.len() == 2 {
        each(join(words[0], words[1]));
    }
    for w in words.windows(3) {
        each(join(join(w[0], w[1]), w[2]));
    }
}

/// The runs of words (see [`for_each_run`]) a quoted phrase is matched by against string literals.
fn phrase_units(phrase: &str) -> Vec<u64> {
    let mut words = Vec::new();
    for_each_message_word(phrase.as_bytes(), |w| words.push(hash_lower(w)));
    let mut out = Vec::new();
    for_each_run(&words, |h| out.push(h));
    out
}

/// Every three consecutive words of `text`, hashed as [`for_each_run`] does, with their text.
fn word_triples(text: &str) -> Vec<(u64, String)> {
    let mut words: Vec<&[u8]> = Vec::new();
    for_each_message_word(text.as_bytes(), |w| words.push(w));
    words
        .windows(3)
        .map(|w| {
            let h = join(join(hash_lower(w[0]), hash_lower(w[1])), hash_lower(w[2]));
            let text = w
                .iter()
                .map(|x| String::from_utf8_lossy(x))
                .collect::<Vec<_>>()
                .join(" ");
            (h, text)
        })
        .collect()
}

/// Words that may precede a definition keyword (`pub`, `export default`, `static`…).
fn is_modifier(word: &str) -> bool {
    matches!(
        word,
        "pub"
            | "pub(crate)"
            | "pub(super)"
            | "export"
            | "default"
            | "async"
            | "static"
            | "public"
            | "private"
            | "protected"
            | "final"
            | "abstract"
            | "unsafe"
            | "extern"
            | "inline"
            | "virtual"
            | "override"
            | "sealed"
            | "declare"
            | "readonly"
            | "synchronized"
            | "native"
            | "open"
            | "internal"
            | "data"
            | "inner"
    )
}

/// Keywords that introduce a named definition in the common languages.
fn is_def_keyword(word: &str) -> bool {
    matches!(
        word,
        "fn" | "def"
            | "class"
            | "struct"
            | "enum"
            | "trait"
            | "type"
            | "interface"
            | "func"
            | "function"
            | "function*"
            | "const"
            | "let"
            | "var"
            | "mod"
            | "module"
            | "macro_rules!"
            | "record"
            | "union"
            | "typedef"
            | "namespace"
            | "object"
            | "val"
    )
}

const NOT_NAMES: &[&str] = &[
    "if", "for", "while", "switch", "catch", "return", "match", "else", "new", "sizeof", "do",
    "try", "with", "elif", "await", "yield", "throw", "case", "super", "this", "self",
];

/// The identifier a line of code defines, if it looks like a definition in one of the common languages.
/// Deliberately simple: it runs on every line of every file.
pub fn defined_name(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    if rest.starts_with("//") || rest.starts_with('#') || rest.starts_with('*') {
        return None;
    }
    loop {
        let word_end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let word = &rest[..word_end];
        if is_modifier(word) {
            rest = rest[word_end..].trim_start();
            continue;
        }
        if is_def_keyword(word) {
            let mut after = rest[word_end..].trim_start();
            if word == "func" && after.starts_with('(') {
                // Go method: func (r *T) Name(
                let close = after.find(')')?;
                after = after[close + 1..].trim_start();
            }
            if (word == "const" || word == "let" || word == "var" || word == "val") && indent > 0 {
                return None;
            }
            let after = after.trim_start_matches(['*', '&']);
            let name = ident_prefix(after);
            // `const char *name(...)` in C: a qualified return type, not a constant.
            if word == "const" && C_TYPES.contains(&name) {
                break;
            }
            return (name.len() >= 2 && !NOT_NAMES.contains(&name)).then_some(name);
        }
        break;
    }
    // A method or C-like function: `name(args) {` or `Type name(args) {` at the end of a line, or at the
    // start of a line `Type name(` with the brace further down (C, C++, Java, C# house styles).
    let trimmed = rest.trim_end();
    let braced = trimmed.ends_with('{');
    let c_style = indent == 0
        && !trimmed.ends_with(';')
        && !trimmed.starts_with(['#', '/', '*', '}', '@'])
        && trimmed.contains('(')
        && trimmed[..trimmed.find('(').unwrap_or(0)]
            .trim_end()
            .contains([' ', '*', ')']);
    if !(braced || c_style) {
        return None;
    }
    let open = trimmed.find('(')?;
    let before = trimmed[..open].trim_end();
    if before.contains('=') || before.contains('.') || before.contains('"') {
        return None;
    }
    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .map_or(0, |i| i + 1);
    let mut name = &before[start..];
    // C libraries wrap their exported names in a macro: `const char *PREFIX(zError)(int err) {` defines
    // `zError`, and `EXPORT_API(int) ng_init(void *p) {` defines `ng_init`, not the macro.
    if is_macro_name(name) {
        let inner = &trimmed[open + 1..];
        let arg = ident_prefix(inner);
        let after = inner[arg.len()..].strip_prefix(')').map(str::trim_start);
        if let Some(after) = after {
            if after.starts_with('(') && !arg.is_empty() {
                name = arg;
            } else {
                let next = ident_prefix(after);
                if !next.is_empty() && after[next.len()..].trim_start().starts_with('(') {
                    name = next;
                }
            }
        }
    }
    (name.len() >= 2
        && !NOT_NAMES.contains(&name)
        && !name.starts_with(|c: char| c.is_ascii_digit()))
    .then_some(name)
}

/// The C type words a `const` qualifies.
const C_TYPES: [&str; 12] = [
    "char", "int", "void", "unsigned", "signed", "long", "short", "float", "double", "struct",
    "size_t", "uint8_t",
];

/// `PREFIX`, `Z_EXPORT`, `API2`: capitals, digits and underscores, as C macros are named.
fn is_macro_name(word: &str) -> bool {
    word.len() >= 2
        && word.starts_with(|c: char| c.is_ascii_uppercase())
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn ident_prefix(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(text.len());
    &text[..end]
}

const GENERIC_SEGMENTS: [&str; 22] = [
    "crate", "self", "super", "std", "core", "alloc", "src", "lib", "index", "mod", "java", "com",
    "org", "net", "io", "github", "main", "util", "utils", "internal", "pkg", "app",
];

/// Call `each` with the lower-cased module path segments an import line names.
pub fn import_segments(line: &str, mut each: impl FnMut(&str)) {
    let t = line.trim_start();
    let spec: &str = if let Some(rest) = t.strip_prefix("#include") {
        rest.trim()
            .trim_matches(|c| c == '"' || c == '<' || c == '>')
    } else if t.starts_with("import ")
        || t.starts_with("from ")
        || t.starts_with("use ")
        || t.starts_with("pub use ")
        || t.starts_with("export ") && t.contains(" from ")
        || t.starts_with("mod ") && t.trim_end().ends_with(';')
        || t.starts_with("pub mod ") && t.trim_end().ends_with(';')
    {
        if let Some(q) = quoted(t) { q } else { t }
    } else if let Some(at) = t.find('(').filter(|&at| {
        let before = t[..at].trim_end();
        before.ends_with("require") || before.ends_with("import")
    }) {
        match quoted(&t[at..]) {
            Some(q) => q,
            None => return,
        }
    } else if t.starts_with('"') && t.trim_end().ends_with('"') && !t.contains(' ') {
        // A Go import block line.
        t.trim().trim_matches('"')
    } else {
        return;
    };
    for seg in spec.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')) {
        let lower = seg.to_ascii_lowercase();
        if seg.len() >= 2
            && !GENERIC_SEGMENTS.contains(&lower.as_str())
            && !matches!(
                lower.as_str(),
                "import" | "from" | "use" | "pub" | "mod" | "export" | "as" | "type"
            )
        {
            each(&lower);
        }
    }
}

fn quoted(text: &str) -> Option<&str> {
    let start = text.find(['"', '\''])?;
    let q = text[start..].chars().next()?;
    let rest = &text[start + 1..];
    let end = rest.find(q)?;
    Some(&rest[..end])
}

/// Module names too common to tell files apart ([`GENERIC_SEGMENTS`]), and the file stems that stand for
/// their directory, hashed.
const GENERIC_STEMS: [u64; 22] = hashes(GENERIC_SEGMENTS);
const DIRECTORY_STEMS: [u64; 6] = hashes(["index", "mod", "__init__", "lib", "main", "init"]);

/// The names a file is imported by: its stem, and its directory for index-like files and Go packages (one
/// or two hashes, without allocating: this runs for every file of the repository).
pub fn module_keys(path: &str) -> impl Iterator<Item = u64> {
    let (dir, name) = match path.rfind('/') {
        Some(i) => (Some(&path[..i]), &path[i + 1..]),
        None => (None, path),
    };
    let dir = dir.map(|d| d.rfind('/').map_or(d, |i| &d[i + 1..]));
    let stem = name.find('.').map_or(name, |i| &name[..i]);
    let hash = hash_term(stem);
    let own = (stem.len() >= 2 && !GENERIC_STEMS.contains(&hash)).then_some(hash);
    let generic = DIRECTORY_STEMS.contains(&hash) || name.ends_with(".go");
    let by_dir = dir.filter(|d| generic && d.len() >= 2).map(hash_term);
    own.into_iter().chain(by_dir)
}

/// Read-only git facts about the candidates, by repo-relative path.
#[derive(Debug, Clone, Default)]
pub struct GitFacts {
    /// Files with uncommitted changes (modified or untracked), by comparing contents with `tracked`.
    pub dirty: HashSet<String>,
    /// The blob id of every file in git's index; `None` outside a repository.
    pub tracked: Option<PathMap<[u8; 20]>>,
    /// Recently changed files, weight in (0, 1]: 1 for the latest commit, decaying with age.
    pub recent: PathMap<f64>,
    /// The recent commits, each as the list of files it changed (large commits left out).
    pub commits: Vec<Vec<String>>,
}

/// Why a file scored what it did; each reason carries its contribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    Pinned,
    /// The request names this path or file name.
    PathNamed {
        mention: String,
        points: f64,
    },
    /// The file defines an identifier the request names.
    DefinesNamed {
        symbol: String,
        points: f64,
    },
    /// BM25 over the file's text and words in its path.
    Lexical {
        terms: Vec<String>,
        points: f64,
    },
    /// Every word of a quoted phrase occurs in the file.
    Phrase {
        phrase: String,
        points: f64,
    },
    /// A string literal of the file has (much of) a quoted phrase word for word: it prints that message.
    Message {
        phrase: String,
        points: f64,
    },
    /// Linked to a top hit through the import/reference graph.
    Graph {
        with: String,
        link: Link,
        points: f64,
    },
    Uncommitted {
        points: f64,
    },
    RecentlyChanged {
        points: f64,
    },
    ChangedTogether {
        with: String,
        commits: usize,
        points: f64,
    },
    /// Lexical evidence scaled down for a large file.
    SizePrior {
        factor: f64,
    },
    /// Direct evidence scaled down for a test or documentation file.
    FileKind {
        file: String,
        factor: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// This file defines identifiers the top hit uses.
    DefinesUsed,
    /// This file uses identifiers the top hit defines.
    UsesDefined,
    /// This file imports the top hit.
    Imports,
    /// The top hit imports this file.
    ImportedBy,
}

/// A file's relevance and the signals behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub index: usize,
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// One candidate as the ranker sees it.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    pub path: &'a str,
    pub index: &'a FileIndex,
}

/// The request, read for what it names.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Plain words (and identifier parts), stop words removed, each once.
    pub words: Vec<String>,
    /// Identifiers written like code (snake_case, CamelCase, `quoted`, call()), lower-cased.
    pub identifiers: Vec<String>,
    /// Path-like mentions (`src/cli.rs`, `parser.py`), as written.
    pub paths: Vec<String>,
    /// Quoted phrases of several words (error messages), as lists of terms.
    pub phrases: Vec<(String, Vec<String>)>,
}

impl Query {
    pub fn parse(request: &str) -> Query {
        let mut q = Query::default();
        let mut seen = HashSet::new();
        for t in terms(request) {
            if seen.insert(t.clone()) {
                q.words.push(t);
            }
        }
        for raw in request.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
            let token = raw.trim_matches(|c: char| {
                !(c.is_alphanumeric() || c == '_' || c == '/' || c == '.' || c == '-')
            });
            let token = token.trim_end_matches('.');
            if token.is_empty() {
                continue;
            }
            if looks_like_path(token) {
                q.paths.push(token.trim_start_matches("./").to_string());
                continue;
            }
            // The last part of a qualified name (`git2::Error`, `os.path.join`) is code, whatever its shape.
            let qualified = token.contains("::")
                || token
                    .split('.')
                    .filter(|p| p.starts_with(char::is_alphabetic))
                    .count()
                    >= 2;
            let last = token.rsplit(['.', ':']).next().unwrap_or("");
            for piece in token.split(['.', '/', ':']) {
                let piece = piece.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                let code = qualified
                    && last.starts_with(piece)
                    && piece.starts_with(|c: char| c.is_alphabetic() || c == '_')
                    && piece.chars().all(|c| c.is_alphanumeric() || c == '_');
                if code || looks_like_identifier(piece) || raw.contains(&format!("{piece}(")) {
                    let lower = piece.to_ascii_lowercase();
                    if lower.len() >= 3 && !q.identifiers.contains(&lower) {
                        // Written as code, a common word (`Error`, `get`) is a name: it counts as a word too.
                        if code && !seen.contains(&lower) && seen.insert(lower.clone()) {
                            q.words.push(lower.clone());
                        }
                        q.identifiers.push(lower);
                    }
                }
            }
        }
        // `code` in backticks is an identifier whatever its shape.
        for (i, part) in request.split('`').enumerate() {
            if i % 2 == 1 && !part.contains(' ') {
                let name = ident_prefix(part.trim_start_matches(['.', ':']));
                let lower = name.to_ascii_lowercase();
                if lower.len() >= 3 && !q.identifiers.contains(&lower) {
                    q.identifiers.push(lower);
                }
            }
        }
        for quote in ['"', '\'', '`', '“'] {
            let close = if quote == '“' { '”' } else { quote };
            let mut rest = request;
            while let Some(start) = rest.find(quote) {
                let after = &rest[start + quote.len_utf8()..];
                let Some(end) = after.find(close) else { break };
                let inner = &after[..end];
                let words = terms(inner);
                if inner.contains(' ') && words.len() >= 2 {
                    q.phrases.push((inner.to_string(), words));
                }
                rest = &after[end + close.len_utf8()..];
            }
        }
        q
    }
}

/// What kind of file a path is, and how much the direct evidence in it counts: tests (a `test`, `tests`,
/// `spec` or `__tests__` folder, `test_*`, `*_test.*`, `*.test.*`, `*.spec.*`, `*Test.java`) and documentation
/// (Markdown, reStructuredText, plain text, a `docs` folder) count for less than code.
fn file_kind(path: &str) -> (&'static str, f64) {
    // Called for every file of the repository on every run: byte comparisons in any case, no copies.
    let (dirs, name) = path.rsplit_once('/').unwrap_or(("", path));
    let (test_dir, doc_dir) = dir_kinds(dirs);
    let name = name.as_bytes();
    let same = |a: &[u8], b: &str| a.eq_ignore_ascii_case(b.as_bytes());
    let starts = |s: &[u8], p: &str| s.len() >= p.len() && same(&s[..p.len()], p);
    let ends = |s: &[u8], p: &str| s.len() >= p.len() && same(&s[s.len() - p.len()..], p);
    let holds = |s: &[u8], p: &str| s.windows(p.len()).any(|w| same(w, p));
    let stem = &name[..name.iter().position(|&b| b == b'.').unwrap_or(name.len())];
    let test = test_dir
        || starts(stem, "test_")
        || ends(stem, "_test")
        || ends(stem, "_tests")
        || same(stem, "tests")
        || holds(name, ".test.")
        || holds(name, ".spec.")
        || (path.ends_with("Test.java") || path.ends_with("Tests.java"));
    if test {
        return ("test", W_TEST_FILE);
    }
    // The extension, or the whole name when it has none.
    let ext = &name[name.iter().rposition(|&b| b == b'.').map_or(0, |i| i + 1)..];
    let doc = ["md", "rst", "txt", "adoc", "markdown"]
        .iter()
        .any(|e| same(ext, e))
        || doc_dir;
    if doc {
        return ("docs", W_DOC_FILE);
    }
    ("code", 1.0)
}

/// Whether any of `dirs` (a path's directories, `/`-separated) is a test folder, and whether any is a
/// documentation folder, in any case.
fn dir_kinds(dirs: &str) -> (bool, bool) {
    const TEST_DIRS: [&str; 7] = [
        "test",
        "tests",
        "spec",
        "specs",
        "__tests__",
        "testing",
        "testdata",
    ];
    const DOC_DIRS: [&str; 3] = ["doc", "docs", "documentation"];
    let (mut test, mut doc) = (false, false);
    for d in dirs.split('/') {
        // The names are 3 to 13 bytes long: most folders are passed over by their length.
        if !(3..=13).contains(&d.len()) {
            continue;
        }
        test |= TEST_DIRS.iter().any(|t| t.eq_ignore_ascii_case(d));
        doc |= DOC_DIRS.iter().any(|t| t.eq_ignore_ascii_case(d));
    }
    (test, doc)
}

/// Other forms of an English word as code and prose spell it: plural and singular, and the verb's `-ing`,
/// `-ed`, `-er` and `-s` forms and its stem. Only forms that occur in the repository are used, so the list
/// may overshoot (`closes` gives `clos` as well as `close`).
fn inflections(word: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if word.len() < 4 || !word.chars().all(|c| c.is_ascii_lowercase()) {
        return out;
    }
    let mut add = |form: String| {
        if form.len() >= 3 && form != word && !out.contains(&form) {
            out.push(form);
        }
    };
    // Reduce to stems.
    for suffix in ["ies", "es", "s", "ing", "ed", "er", "ers"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            if suffix == "ies" {
                add(format!("{stem}y"));
                continue;
            }
            if suffix == "s" && stem.ends_with('s') {
                continue;
            }
            add(stem.to_string());
            if matches!(suffix, "ing" | "ed" | "er" | "ers" | "es") {
                add(format!("{stem}e"));
                // A doubled consonant: `running` -> `run`.
                let b = stem.as_bytes();
                if b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] {
                    add(stem[..stem.len() - 1].to_string());
                }
            }
        }
    }
    // And grow from the stem.
    let base = word.strip_suffix('e').unwrap_or(word);
    if let Some(stem) = word.strip_suffix('y') {
        add(format!("{stem}ies"));
    }
    if !word.ends_with('s') {
        add(format!("{word}s"));
        add(format!("{base}ing"));
        add(format!("{base}ed"));
        add(format!("{base}er"));
    }
    out
}

fn looks_like_path(token: &str) -> bool {
    let name = token.rsplit('/').next().unwrap_or(token);
    let has_ext = name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
            && ext.chars().any(|c| c.is_ascii_lowercase())
            && !crate::prompt::language(name).is_empty()
            || matches!(ext, "txt" | "cfg" | "ini" | "lock" | "env" | "mk")
    });
    has_ext || (token.contains('/') && !token.starts_with('/') && token.len() > 3)
}

fn looks_like_identifier(word: &str) -> bool {
    if word.len() < 3 || !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return false;
    }
    let inner_upper =
        word.chars().skip(1).any(|c| c.is_uppercase()) && word.chars().any(|c| c.is_lowercase());
    let snake = word.contains('_') && word.trim_matches('_').len() > 2;
    inner_upper || snake
}

/// Weights of the signals, in one place.
const W_PATH_NAMED: f64 = 40.0;
const W_DEFINES_NAMED: f64 = 12.0;
const W_PATH_WORD: f64 = 2.5;
const W_STEM: f64 = 2.0;
const W_PHRASE: f64 = 1.5;
/// How much the direct evidence in a test file counts, and in documentation.
const W_TEST_FILE: f64 = 0.5;
const W_DOC_FILE: f64 = 0.6;
/// An occurrence of another form of a request word counts for this much of one of the word itself.
const W_OTHER_FORM: f64 = 0.7;
/// Per unit of rarity of the word pairs a string literal shares with a quoted phrase.
const W_MESSAGE: f64 = 15.0;
/// Unquoted runs of three words of the request found in a file's literals: at least this many, each worth
/// this much per unit of rarity, all together at most what a quoted message of this rarity is worth.
const LOOSE_MIN_RUNS: usize = 2;
const W_LOOSE_MESSAGE: f64 = 5.0;
const LOOSE_MAX_IDF: f64 = 5.0;
const LOOSE_MAX_RUNS: usize = 300;
/// A literal must share at least this share of a phrase's word pairs (weighted by rarity).
const MESSAGE_MIN_SHARE: f64 = 0.5;
const W_GRAPH: f64 = 0.35;
const W_DIRTY: f64 = 0.25;
const W_RECENT: f64 = 0.08;
const W_COCHANGE: f64 = 0.3;
/// The graph and git signals together add at most this share of the best direct score.
const W_NEIGHBOURS_CAP: f64 = 0.5;
/// How many of the best-ranked files get their lexical reasons spelled out.
pub const EXPLAINED: usize = 500;
/// How many top hits spread their relevance over the graph and co-changes.
const TOP_HITS: usize = 6;
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// Score every file against the request, highest first; ties are broken by path order (the input order).
pub fn rank(request: &str, docs: &[Doc<'_>], git: &GitFacts) -> Vec<Score> {
    let query = Query::parse(request);
    let n = docs.len().max(1) as f64;
    let idf_of = |df: usize| ((n - df as f64 + 0.5) / (df as f64 + 0.5) + 1.0).ln();
    // Each word with the other forms of it (`decorators` finds `decorator`, `parsing` finds `parse`): the
    // forms are looked up with the words, after them, each word's at `form_at[k]..`.
    let word_forms: Vec<Vec<u64>> = query
        .words
        .iter()
        .map(|w| inflections(w).iter().map(|f| hash_term(f)).collect())
        .collect();
    let mut word_hashes: Vec<u64> = query.words.iter().map(|w| hash_term(w)).collect();
    let mut form_at: Vec<usize> = Vec::with_capacity(word_forms.len());
    for forms in &word_forms {
        form_at.push(word_hashes.len());
        word_hashes.extend(forms);
    }
    // Where each hash's count lands: its first place (a form of one word may be another word).
    let slot: Vec<usize> = word_hashes
        .iter()
        .map(|h| word_hashes.iter().position(|w| w == h).unwrap_or(0))
        .collect();
    let ident_hashes: Vec<u64> = query.identifiers.iter().map(|w| hash_term(w)).collect();
    let word_keys: Vec<u32> = word_hashes.iter().map(|&h| key(h)).collect();
    // Which words each file contains (and how often) and which named identifiers it defines, in one parallel
    // pass: the document frequencies follow. A linear scan of each file's terms behind a bit filter: sequential reads beat a binary search per word
    // when the terms of thirty thousand files are far apart in memory.
    let mut filter = BitFilter::<64>::default();
    for &k in &word_keys {
        filter.add(u64::from(k));
    }
    // Runs of files, each with one flat table of counts (a row of `width` per file): no allocation per file.
    let width = word_keys.len();
    let runs: Vec<&[Doc<'_>]> = docs.chunks(RUN).collect();
    struct Counted {
        /// Occurrences (16 bits, as the cache keeps them).
        tf: Vec<u16>,
        hit: Vec<bool>,
        idents: Vec<u64>,
    }
    let counted: Vec<Counted> = super::par_map_from(&runs, 2, |run| {
        let mut out = Counted {
            tf: vec![0; run.len() * width],
            hit: vec![false; run.len()],
            idents: vec![0; run.len()],
        };
        for (j, d) in run.iter().enumerate() {
            let row = &mut out.tf[j * width..(j + 1) * width];
            // This loop reads every term of the repository (none when no word is looked for).
            if width > 0 {
                for (i, k) in d.index.terms.keys().iter().enumerate() {
                    if filter.might_hold(u64::from(k))
                        && let Some(at) = word_keys.iter().position(|&w| w == k)
                    {
                        row[at] = d.index.terms.count(i).min(u32::from(u16::MAX)) as u16;
                        out.hit[j] = true;
                    }
                }
            }
            for (k, &h) in ident_hashes.iter().enumerate().take(64) {
                if d.index.defines.contains(key(h)) {
                    out.idents[j] |= 1 << k;
                }
            }
        }
        out
    });
    // The counts of file `i`, empty when it has none of the words.
    let tf_of = |i: usize| -> &[u16] {
        let (run, j) = (&counted[i / RUN], i % RUN);
        if run.hit[j] {
            &run.tf[j * width..(j + 1) * width]
        } else {
            &[]
        }
    };
    let has = |tf: &[u16], at: usize| tf.get(slot[at]).is_some_and(|&c| c > 0);
    let mut hash_df = vec![0usize; word_hashes.len()];
    let mut word_df = vec![0usize; word_forms.len()];
    for i in 0..docs.len() {
        let tf = tf_of(i);
        if tf.is_empty() {
            continue;
        }
        for (at, df) in hash_df.iter_mut().enumerate() {
            *df += usize::from(has(tf, at));
        }
        // A word's rarity counts a file that has any form of it.
        for (k, forms) in word_forms.iter().enumerate() {
            let any = has(tf, k) || (0..forms.len()).any(|j| has(tf, form_at[k] + j));
            word_df[k] += usize::from(any);
        }
    }
    let ident_df = |k: usize| {
        if k >= 64 {
            return docs.len();
        }
        counted
            .iter()
            .flat_map(|run| &run.idents)
            .filter(|m| *m & (1 << k) != 0)
            .count()
    };
    // The forms of each word that occur in the repository: (hash, where its count lands).
    let forms: Vec<Vec<(u64, usize)>> = word_forms
        .iter()
        .enumerate()
        .map(|(k, others)| {
            (0..others.len())
                .map(|j| form_at[k] + j)
                .filter(|&at| hash_df[at] > 0)
                .map(|at| (word_hashes[at], slot[at]))
                .collect()
        })
        .collect();
    let words: Vec<(String, u64, f64)> = query
        .words
        .iter()
        .zip(&word_hashes)
        .zip(&word_df)
        .map(|((w, &h), &df)| (w.clone(), h, idf_of(df)))
        .collect();
    let idents: Vec<(String, u64, f64)> = query
        .identifiers
        .iter()
        .zip(&ident_hashes)
        .enumerate()
        .map(|(k, (w, &h))| (w.clone(), h, idf_of(ident_df(k))))
        .collect();
    let idf_word = |h: u64| {
        words
            .iter()
            .find(|w| w.1 == h)
            .map_or_else(|| idf_of(0), |w| w.2)
    };
    let avg_len = docs.iter().map(|d| d.index.len as f64).sum::<f64>() / n;
    // How many files' string literals hold each run of words the request may mean as a message (its quoted
    // phrases, or, when it quotes nothing, its runs of three words): one parallel pass over the files.
    let phrase_runs: Vec<Vec<u64>> = query
        .phrases
        .iter()
        .map(|(phrase, _)| {
            let mut runs = phrase_units(phrase);
            runs.sort_unstable();
            runs.dedup();
            runs
        })
        .collect();
    let unquoted = if query.phrases.is_empty() {
        word_triples(request)
    } else {
        Vec::new()
    };
    let mut wanted: Vec<u64> = phrase_runs
        .iter()
        .flatten()
        .copied()
        .chain(unquoted.iter().take(LOOSE_MAX_RUNS).map(|(h, _)| *h))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let literal_df: HashMap<u64, usize, Prehashed> = if wanted.is_empty() {
        HashMap::default()
    } else {
        // Each file's literals (a dozen on average) are looked at once, behind a filter of the runs wanted;
        // each run of files sums its own counts.
        let wanted_keys: Vec<u32> = wanted.iter().map(|&h| key(h)).collect();
        let mut filter = BitFilter::<64>::default();
        for &k in &wanted_keys {
            filter.add(u64::from(k));
        }
        let partial: Vec<Vec<usize>> = super::par_map_from(&runs, 2, |run| {
            let mut df = vec![0usize; wanted.len()];
            for d in *run {
                for lit in d.index.literals.iter() {
                    if filter.might_hold(u64::from(lit)) {
                        for (k, _) in wanted_keys.iter().enumerate().filter(|(_, w)| **w == lit) {
                            df[k] += 1;
                        }
                    }
                }
            }
            df
        });
        let mut df = vec![0usize; wanted.len()];
        for part in &partial {
            for (total, n) in df.iter_mut().zip(part) {
                *total += n;
            }
        }
        wanted.iter().copied().zip(df).collect()
    };
    let literal_idf = |h: u64| {
        let df = literal_df.get(&h).copied().unwrap_or(0);
        (df > 0).then(|| idf_of(df))
    };
    // Each quoted phrase as runs of words, each with its rarity among the files' string literals.
    let messages: Vec<(&str, Vec<(u64, f64)>)> = query
        .phrases
        .iter()
        .zip(phrase_runs)
        .map(|((phrase, _), pairs)| {
            let pairs = pairs
                .into_iter()
                .map(|h| (h, literal_idf(h).unwrap_or_else(|| idf_of(0))))
                .collect();
            (phrase.as_str(), pairs)
        })
        .collect();
    // Runs of words of the request outside its quotes that some string literal has: an error message pasted
    // without quotes. Only runs that occur in some literal are kept.
    let quoted: HashSet<u64> = messages
        .iter()
        .flat_map(|(_, units)| units.iter().map(|u| u.0))
        .collect();
    let mut loose: Vec<(u64, String, f64)> = Vec::new();
    // Only when the request quotes nothing: a request that quotes its message says where the message is,
    // and the rest is prose. A long pasted log is read up to a point: each run costs a look at every file.
    for (h, text) in unquoted.into_iter().take(LOOSE_MAX_RUNS) {
        if quoted.contains(&h) || loose.iter().any(|l| l.0 == h) {
            continue;
        }
        if let Some(idf) = literal_idf(h) {
            loose.push((h, text, idf));
        }
    }

    // The words and their forms, for a first look at each path.
    let mut path_filter = BitFilter::<64>::default();
    for (k, (_, h, _)) in words.iter().enumerate() {
        path_filter.add(*h);
        for o in &forms[k] {
            path_filter.add(o.0);
        }
    }
    // Paths the request names, lower-cased once.
    let mentions: Vec<(&String, String)> = query
        .paths
        .iter()
        .map(|m| (m, m.to_ascii_lowercase()))
        .collect();
    let positions: Vec<usize> = (0..docs.len()).collect();
    let scores: Vec<(Score, (u64, f64, f64))> = super::par_map(&positions, |&i| {
        let doc = &docs[i];
        let mut reasons = Vec::new();
        let mut named = 0.0;
        let mut path_named = 0.0;
        for (mention, m) in &mentions {
            let (path, m) = (doc.path.as_bytes(), m.as_bytes());
            let name = doc.path.rsplit('/').next().unwrap_or(doc.path).as_bytes();
            let hit = path.eq_ignore_ascii_case(m)
                || (path.len() > m.len()
                    && path[path.len() - m.len() - 1] == b'/'
                    && path[path.len() - m.len()..].eq_ignore_ascii_case(m))
                || (!m.contains(&b'/') && name.eq_ignore_ascii_case(m));
            if hit {
                path_named += W_PATH_NAMED;
                reasons.push(Reason::PathNamed {
                    mention: mention.to_string(),
                    points: W_PATH_NAMED,
                });
            }
        }
        for (name, h, idf) in &idents {
            if doc.index.defines.contains(key(*h)) {
                let points = W_DEFINES_NAMED * idf.max(1.0);
                named += points;
                reasons.push(Reason::DefinesNamed {
                    symbol: name.clone(),
                    points: round(points),
                });
            }
        }
        for (phrase, pairs) in &messages {
            let total: f64 = pairs.iter().map(|p| p.1).sum();
            let (mut shared, mut count) = (0.0, 0usize);
            for &(h, idf) in pairs {
                if doc.index.literals.contains(key(h)) {
                    shared += idf;
                    count += 1;
                }
            }
            if count > 0 && shared >= MESSAGE_MIN_SHARE * total {
                let points = W_MESSAGE * (shared / total) * (shared / count as f64);
                named += points;
                reasons.push(Reason::Message {
                    phrase: phrase.to_string(),
                    points: round(points),
                });
            }
        }
        let found: Vec<&(u64, String, f64)> = loose
            .iter()
            .filter(|l| doc.index.literals.contains(key(l.0)))
            .collect();
        if found.len() >= LOOSE_MIN_RUNS {
            let points = (W_LOOSE_MESSAGE * found.iter().map(|l| l.2).sum::<f64>())
                .min(W_MESSAGE * LOOSE_MAX_IDF);
            named += points;
            let phrase = found
                .iter()
                .map(|l| l.1.as_str())
                .collect::<Vec<_>>()
                .join(" / ");
            reasons.push(Reason::Message {
                phrase,
                points: round(points),
            });
        }
        // The path's terms, on the stack (a path has a few dozen at most; any beyond are not matched).
        let mut path_buf = [0u64; 64];
        let mut path_n = 0;
        for_each_term_hash(doc.path, |h| {
            if path_n < path_buf.len() {
                path_buf[path_n] = h;
                path_n += 1;
            }
        });
        let path_terms = &path_buf[..path_n];
        // The file's own name, whole (`shrinkwrap` for lib/shrinkwrap.js): naming it names the file.
        let name = doc.path.rsplit('/').next().unwrap_or(doc.path);
        let stem = hash_term(name.split('.').next().unwrap_or(name));
        let len_norm = 1.0 - BM25_B + BM25_B * doc.index.len as f64 / avg_len.max(1.0);
        let mut lexical = 0.0;
        let mut matched = 0u64;
        // Most paths hold none of the words: then only the counts are looked at, and a file with neither
        // is passed over.
        let in_path = path_terms.iter().any(|&p| path_filter.might_hold(p));
        let tf = tf_of(i);
        let words_here = if in_path || !tf.is_empty() {
            &words[..]
        } else {
            &[]
        };
        for (k, (_, h, idf)) in words_here.iter().enumerate() {
            let mut s = 0.0;
            let others = &forms[k];
            if in_path
                && (path_terms.contains(h) || others.iter().any(|o| path_terms.contains(&o.0)))
            {
                s += W_PATH_WORD * idf;
                if *h == stem || others.iter().any(|o| o.0 == stem) {
                    s += W_STEM * idf;
                }
            }
            let tf_at = |at: usize| f64::from(tf.get(at).copied().unwrap_or(0));
            let tf = tf_at(slot[k])
                + W_OTHER_FORM * others.iter().map(|&(_, at)| tf_at(at)).sum::<f64>();
            if tf > 0.0 {
                s += idf * tf * (BM25_K1 + 1.0) / (tf + BM25_K1 * len_norm);
            }
            if s > 0.0 {
                matched |= 1u64 << k.min(63);
                lexical += s;
            }
        }
        for (phrase, pterms) in &query.phrases {
            if pterms.iter().all(|t| doc.index.has(hash_term(t))) {
                let points = W_PHRASE * pterms.iter().map(|t| idf_word(hash_term(t))).sum::<f64>();
                lexical += points;
                reasons.push(Reason::Phrase {
                    phrase: phrase.clone(),
                    points: round(points),
                });
            }
        }
        let factor = 1.0 / (1.0 + f64::from(doc.index.bytes) / 150_000.0);
        // Tests and docs repeat the words and names of the code they are about, and a change needs the code
        // first: what they match counts for less, unless the request names them by path.
        let (kind, kind_factor) = file_kind(doc.path);
        if kind_factor < 1.0 && named + lexical > 0.0 {
            reasons.push(Reason::FileKind {
                file: kind.to_string(),
                factor: kind_factor,
            });
        }
        (
            Score {
                index: i,
                score: path_named + (named + lexical * factor) * kind_factor,
                reasons,
            },
            (matched, lexical, factor),
        )
    });
    // The words behind the lexical score become reasons only for the files anybody will look at.
    let (mut scores, lexical): (Vec<Score>, Vec<(u64, f64, f64)>) = scores.into_iter().unzip();

    // The top hits of the direct evidence spread relevance to their neighbours.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let by_score =
        |a: &usize, b: &usize| scores[*b].score.total_cmp(&scores[*a].score).then(a.cmp(b));
    // Only the first few are needed in order.
    if order.len() > TOP_HITS {
        order.select_nth_unstable_by(TOP_HITS, by_score);
        order.truncate(TOP_HITS);
    }
    order.sort_unstable_by(by_score);
    let top: Vec<usize> = order
        .iter()
        .copied()
        .take(TOP_HITS)
        .filter(|&i| scores[i].score > 0.0)
        .collect();
    let best = top.first().map_or(1.0, |&i| scores[i].score).max(1.0);
    let mut extra: Vec<(f64, Vec<Reason>)> = vec![(0.0, Vec::new()); docs.len()];
    let links = graph_links(docs, &top, &idf_of);
    for (slot, &t) in top.iter().enumerate() {
        let hit = docs[t];
        let weight = W_GRAPH * scores[t].score;
        for &(f, ref row) in &links {
            if let Some((link, strength)) = row[slot] {
                let points = weight * strength;
                extra[f].0 += points;
                extra[f].1.push(Reason::Graph {
                    with: hit.path.to_string(),
                    link,
                    points: round(points),
                });
            }
        }
        // Files changed in the same commits as the top hit.
        let touching: Vec<&Vec<String>> = git
            .commits
            .iter()
            .filter(|c| c.iter().any(|p| p == hit.path))
            .collect();
        if !touching.is_empty() {
            let mut together: HashMap<&str, usize> = HashMap::new();
            for c in &touching {
                for p in c.iter() {
                    if p != hit.path {
                        *together.entry(p.as_str()).or_insert(0) += 1;
                    }
                }
            }
            for (f, doc) in docs.iter().enumerate() {
                if let Some(&k) = together.get(doc.path) {
                    let share = k as f64 / touching.len() as f64;
                    if share >= 0.2 {
                        let points = W_COCHANGE * scores[t].score * share;
                        extra[f].0 += points;
                        extra[f].1.push(Reason::ChangedTogether {
                            with: hit.path.to_string(),
                            commits: k,
                            points: round(points),
                        });
                    }
                }
            }
        }
    }
    // When most files are uncommitted (a new repository, a vendored import) that says nothing.
    let dirty_counts =
        git.dirty.len() <= (docs.len() / 4).max(20).min(docs.len().saturating_sub(1));
    for (f, doc) in docs.iter().enumerate() {
        if dirty_counts && git.dirty.contains(doc.path) {
            let points = W_DIRTY * best;
            extra[f].0 += points;
            extra[f].1.push(Reason::Uncommitted {
                points: round(points),
            });
        }
        if let Some(&w) = git.recent.get(doc.path) {
            let points = W_RECENT * best * w;
            extra[f].0 += points;
            extra[f].1.push(Reason::RecentlyChanged {
                points: round(points),
            });
        }
    }
    for (score, (points, reasons)) in scores.iter_mut().zip(extra) {
        // Neighbourhood never outweighs the best direct evidence.
        score.score += points.min(W_NEIGHBOURS_CAP * best);
        score.reasons.extend(reasons);
    }
    // Every index differs: an unstable sort gives the one order.
    scores.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    for score in scores.iter_mut().take(EXPLAINED) {
        let (mask, points, factor) = lexical[score.index];
        if points > 0.0 {
            let terms = words
                .iter()
                .enumerate()
                .filter(|(k, _)| mask & (1u64 << (*k).min(63)) != 0)
                .map(|(_, w)| w.0.clone())
                .collect();
            let at = score
                .reasons
                .iter()
                .position(|r| !matches!(r, Reason::PathNamed { .. } | Reason::DefinesNamed { .. }))
                .unwrap_or(score.reasons.len());
            score.reasons.insert(
                at,
                Reason::Lexical {
                    terms,
                    points: round(points * factor),
                },
            );
            if factor < 0.95 {
                score.reasons.insert(
                    at + 1,
                    Reason::SizePrior {
                        factor: round(factor),
                    },
                );
            }
        }
    }
    scores
}

/// A file's strongest link to each top hit, by slot.
type HitLinks = [Option<(Link, f64)>; TOP_HITS];

/// For every file linked to a top hit (by its place in `docs`, in order), its strongest link to each hit
/// (by slot): it imports the hit, the hit imports it, it uses what the hit defines (weighted by rarity), or it
/// defines what the hit uses. One parallel pass over every file's terms, with bit filters in front of the
/// lookups.
fn graph_links(
    docs: &[Doc<'_>],
    top: &[usize],
    idf_of: &(dyn Fn(usize) -> f64 + Sync),
) -> Vec<(usize, HitLinks)> {
    // Identifiers the top hits define, each with the slots defining it.
    let mut defined: HashMap<u32, Vec<usize>, Prehashed> = HashMap::default();
    for (slot, &t) in top.iter().enumerate() {
        for k in docs[t].index.defines.iter() {
            defined.entry(k).or_default().push(slot);
        }
    }
    // Larger than the others: the hits define hundreds of names.
    let mut filter = Box::new(BitFilter::<1024>::default());
    for &k in defined.keys() {
        filter.add(u64::from(k));
    }
    let keys: Vec<Vec<u32>> = top
        .iter()
        .map(|&t| module_keys(docs[t].path).map(key).collect())
        .collect();
    const _: () = assert!(TOP_HITS <= 8, "the slots of a term are a u8 mask");
    // The top hits' terms, each with the slots using it, for "defines what the hit uses".
    let mut used: HashMap<u32, u8, Prehashed> = HashMap::default();
    for (slot, &t) in top.iter().enumerate() {
        for k in docs[t].index.terms.keys().iter() {
            *used.entry(k).or_default() |= 1 << slot;
        }
    }
    let mut used_filter = BitFilter::<64>::default();
    for &k in used.keys() {
        used_filter.add(u64::from(k));
    }
    // Only the files with some link to a hit are kept (a few hundred of thirty thousand).
    struct Row {
        file: usize,
        uses: Vec<u32>,
        imports_hit: [bool; TOP_HITS],
        imported_by_hit: [bool; TOP_HITS],
        defines_used: [usize; TOP_HITS],
    }
    let row_of = |file: usize, doc: &Doc<'_>| -> Option<Row> {
        let mut uses = Vec::new();
        if !defined.is_empty() {
            for k in doc.index.terms.keys().iter() {
                if filter.might_hold(u64::from(k)) && defined.contains_key(&k) {
                    uses.push(k);
                }
            }
        }
        let mut row = Row {
            file,
            uses,
            imports_hit: [false; TOP_HITS],
            imported_by_hit: [false; TOP_HITS],
            defines_used: [0; TOP_HITS],
        };
        let mut own_keys = [0u32; 2];
        let mut own_n = 0;
        for k in module_keys(doc.path).take(2) {
            own_keys[own_n] = key(k);
            own_n += 1;
        }
        let own_keys = &own_keys[..own_n];
        for (slot, &t) in top.iter().enumerate() {
            row.imports_hit[slot] = keys[slot].iter().any(|&k| doc.index.imports.contains(k));
            row.imported_by_hit[slot] = own_keys.iter().any(|&k| docs[t].index.imports.contains(k));
        }
        for k in doc.index.defines.iter() {
            if used_filter.might_hold(u64::from(k))
                && let Some(&slots) = used.get(&k)
            {
                for (slot, n) in row.defines_used.iter_mut().enumerate() {
                    *n += usize::from(slots & (1 << slot) != 0);
                }
            }
        }
        let linked = !row.uses.is_empty()
            || row.imports_hit.contains(&true)
            || row.imported_by_hit.contains(&true)
            || row.defines_used.iter().any(|&n| n > 0);
        linked.then_some(row)
    };
    let runs: Vec<(usize, &[Doc<'_>])> = docs
        .chunks(RUN)
        .enumerate()
        .map(|(n, run)| (n * RUN, run))
        .collect();
    let rows: Vec<Row> = if top.is_empty() {
        Vec::new()
    } else {
        super::par_map_from(&runs, 2, |(start, run)| {
            run.iter()
                .enumerate()
                .filter_map(|(j, doc)| row_of(start + j, doc))
                .collect::<Vec<Row>>()
        })
        .into_iter()
        .flatten()
        .collect()
    };
    // How many files use each identifier: a rare one says more.
    let mut df: HashMap<u32, usize, Prehashed> = HashMap::default();
    for row in &rows {
        for &h in &row.uses {
            *df.entry(h).or_insert(0) += 1;
        }
    }
    let idf: HashMap<u32, f64, Prehashed> = df
        .into_iter()
        .map(|(h, n)| (h, idf_of(n)))
        .filter(|(_, idf)| *idf > 2.0)
        .collect();
    // Being imported by everything (a common header, a prelude) says little about one file.
    let import_strength: Vec<f64> = (0..top.len())
        .map(|slot| {
            let importers = rows.iter().filter(|r| r.imports_hit[slot]).count();
            1.0 / (1.0 + (1.0 + importers as f64 / 4.0).log2())
        })
        .collect();
    rows.iter()
        .filter_map(|row| {
            let mut uses = [0.0; TOP_HITS];
            for h in &row.uses {
                if let Some(idf) = idf.get(h) {
                    for &slot in &defined[h] {
                        uses[slot] += idf;
                    }
                }
            }
            let mut out = [None; TOP_HITS];
            for (slot, &t) in top.iter().enumerate() {
                if row.file == t {
                    continue;
                }
                let mut best: Option<(Link, f64)> = None;
                let mut consider = |link: Link, strength: f64| {
                    if strength > 0.0 && best.is_none_or(|(_, s)| strength > s) {
                        best = Some((link, strength));
                    }
                };
                if row.imports_hit[slot] {
                    consider(Link::Imports, import_strength[slot]);
                }
                if row.imported_by_hit[slot] {
                    consider(Link::ImportedBy, 1.0);
                }
                consider(Link::UsesDefined, (uses[slot] / 12.0).min(0.8));
                consider(
                    Link::DefinesUsed,
                    (row.defines_used[slot] as f64 / 4.0).min(0.8),
                );
                out[slot] = best;
            }
            out.iter().any(Option::is_some).then_some((row.file, out))
        })
        .collect()
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Pinned => f.write_str("pinned"),
            Reason::PathNamed { mention, points } => write!(f, "path named {mention:?} +{points}"),
            Reason::DefinesNamed { symbol, points } => write!(f, "defines {symbol} +{points}"),
            Reason::Lexical { terms, points } => {
                write!(f, "words [{}] +{points}", terms.join(" "))
            }
            Reason::Phrase { phrase, points } => write!(f, "phrase {phrase:?} +{points}"),
            Reason::Message { phrase, points } => write!(f, "prints {phrase:?} +{points}"),
            Reason::Graph { with, link, points } => {
                let how = match link {
                    Link::DefinesUsed => "defines what",
                    Link::UsesDefined => "uses what",
                    Link::Imports => "imports",
                    Link::ImportedBy => "imported by",
                };
                let tail = match link {
                    Link::DefinesUsed => " uses",
                    Link::UsesDefined => " defines",
                    _ => "",
                };
                write!(f, "{how} {with}{tail} +{points}")
            }
            Reason::Uncommitted { points } => write!(f, "uncommitted changes +{points}"),
            Reason::RecentlyChanged { points } => write!(f, "recently changed +{points}"),
            Reason::ChangedTogether {
                with,
                commits,
                points,
            } => write!(f, "changed with {with} in {commits} commit(s) +{points}"),
            Reason::SizePrior { factor } => write!(f, "size x{factor}"),
            Reason::FileKind { file, factor } => write!(f, "{file} x{factor}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kinds_by_directory_and_name_in_any_case() {
        let kind = |path: &str| file_kind(path).0;
        assert_eq!(kind("src/__tests__/Foo.test.js"), "test");
        assert_eq!(kind("Tests/parser.py"), "test");
        assert_eq!(kind("pkg/store/Cache_test.go"), "test");
        assert_eq!(kind("src/main/FooTest.java"), "test");
        assert_eq!(kind("Docs/intro.md"), "docs");
        assert_eq!(kind("README.MD"), "docs");
        assert_eq!(kind("src/testing_utils.rs"), "code");
        assert_eq!(kind("latest/spectrum.rs"), "code");
    }

    #[test]
    fn module_keys_are_the_stem_and_the_directory_of_index_like_files() {
        let keys = |path: &str| module_keys(path).collect::<Vec<u64>>();
        assert_eq!(keys("lib/Shrinkwrap.js"), [hash_term("shrinkwrap")]);
        assert_eq!(keys("src/parser/index.ts"), [hash_term("parser")]);
        assert_eq!(
            keys("pkg/store/cache.go"),
            [hash_term("cache"), hash_term("store")]
        );
        assert_eq!(keys("Utils.py"), Vec::<u64>::new());
        assert_eq!(keys("a/x.rs"), Vec::<u64>::new());
    }

    fn ranked(request: &str, files: &[(&str, &str)], git: &GitFacts) -> Vec<String> {
        let indexes: Vec<FileIndex> = files.iter().map(|(_, t)| index(t)).collect();
        let docs: Vec<Doc<'_>> = files
            .iter()
            .zip(&indexes)
            .map(|((p, _), i)| Doc { path: p, index: i })
            .collect();
        rank(request, &docs, git)
            .into_iter()
            .map(|s| files[s.index].0.to_string())
            .collect()
    }

    /// The best-ranked file, without git signals.
    fn top(request: &str, files: &[(&str, &str)]) -> String {
        ranked(request, files, &GitFacts::default()).remove(0)
    }

    #[test]
    fn terms_split_identifiers() {
        let t = terms("Add a --verbose flag to parseArgs in cli_opts.rs");
        for want in [
            "verbose",
            "flag",
            "parseargs",
            "parse",
            "args",
            "cli_opts",
            "cli",
            "opts",
            "rs",
        ] {
            assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
        }
        assert!(!t.contains(&"a".to_string()));
    }

    #[test]
    fn hashed_terms_are_the_hashes_of_the_terms() {
        let long = "aB".repeat(40);
        let longer = format!("{long}c");
        let texts = [
            "fn parseArgs(cli_opts: &str) -> HTTPServer { x2 = café_au_lait; GIT_OID_HEX_SZ; a_b }",
            "ñandúFoo __init__ _x_ x9Y parsedURLs9 ABCdef ÉTAT_civil HTTPServerError2",
            &long,
            &format!("{longer} {long}_x {long}é tail_wordEnd"),
            "x",
            "",
        ];
        for text in texts {
            let mut slow = Vec::new();
            for_each_term(text, |t| slow.push(hash_term(t)));
            let mut fast = Vec::new();
            for_each_term_hash(text, |h| fast.push(h));
            assert_eq!(fast, slow, "{text}");
        }
    }

    #[test]
    fn the_query_finds_identifiers_paths_and_phrases() {
        let q = Query::parse(
            "In src/cli.rs, `retry_count` of HttpClient panics with \"connection reset by peer\"; see parser.py and run()",
        );
        assert_eq!(q.paths, ["src/cli.rs", "parser.py"]);
        for want in ["retry_count", "httpclient", "run"] {
            assert!(q.identifiers.contains(&want.to_string()), "{want}: {q:?}");
        }
        assert_eq!(q.phrases.len(), 1);
        assert_eq!(q.phrases[0].0, "connection reset by peer");
    }

    #[test]
    fn the_last_part_of_a_qualified_name_is_an_identifier() {
        let q = Query::parse("git2::Error prints its class; email.utils.parseaddr splits names");
        for want in ["error", "parseaddr"] {
            assert!(q.identifiers.contains(&want.to_string()), "{want}: {q:?}");
        }
        // A common word written as code is a word of the request too (`Error` names error.rs).
        assert!(q.words.contains(&"error".to_string()), "{q:?}");
        for not in ["git2", "email", "utils", "prints"] {
            assert!(!q.identifiers.contains(&not.to_string()), "{not}: {q:?}");
        }
    }

    #[test]
    fn words_find_their_other_forms() {
        for (word, form) in [
            ("decorators", "decorator"),
            ("parsing", "parse"),
            ("closes", "close"),
            ("retries", "retry"),
            ("running", "run"),
            ("query", "queries"),
            ("parse", "parsing"),
            ("parse", "parser"),
        ] {
            assert!(
                inflections(word).contains(&form.to_string()),
                "{word} -> {form}: {:?}",
                inflections(word)
            );
        }
        assert!(inflections("class").iter().all(|f| f != "clas"));
        let files = [
            (
                "lib/util.py",
                "def helper():\n    \"\"\"A docstring.\"\"\"\n",
            ),
            (
                "lib/decorator.py",
                "def decorator(fn):\n    wrapper.__doc__ = fn.__doc__\n    return wrapper\n",
            ),
            ("lib/other.py", "x = 1\n"),
        ];
        assert_eq!(
            top("class decorators lose their docstring", &files),
            "lib/decorator.py"
        );
    }

    #[test]
    fn tests_and_docs_count_less_than_the_code_they_are_about() {
        let files = [
            (
                "tests/header_tests.rs",
                "#[test]\nfn last_line() { header(\"a\\nlast line\"); }\n#[test]\nfn last_line_dropped() { header(\"last line\"); }\n",
            ),
            (
                "docs/header.md",
                "The header keeps the last line. The last line of a header.\n",
            ),
            (
                "src/header.rs",
                "pub fn header(text: &str) -> Vec<&str> {\n    text.lines().collect()\n}\n",
            ),
        ];
        assert_eq!(top("header drops the last line", &files), "src/header.rs");
        // Named by path, a test file is what the request is about.
        assert_eq!(
            top("tests/header_tests.rs drops the last line", &files),
            "tests/header_tests.rs"
        );
        assert_eq!(file_kind("src/pkg/thing_test.go").0, "test");
        assert_eq!(file_kind("web/app.spec.ts").0, "test");
        assert_eq!(file_kind("lib/test_utils/x.py").0, "code");
        assert_eq!(file_kind("README.md").0, "docs");
        // Any case, in the folders and the name; an extension-less name is its own extension.
        for (path, kind) in [
            ("src/__TESTS__/a.js", "test"),
            ("pkg/Foo.Spec.ts", "test"),
            ("Test_Parser.py", "test"),
            ("core/TESTS.rs", "test"),
            ("src/FooTest.java", "test"),
            ("src/Footest.java", "code"),
            ("Docs/guide.js", "docs"),
            ("notes/Guide.MD", "docs"),
            ("md", "docs"),
            ("src/api.md.js", "code"),
            ("src/testament/latest.rs", "code"),
        ] {
            assert_eq!(file_kind(path).0, kind, "{path}");
        }
    }

    #[test]
    fn definitions_in_common_languages() {
        for (line, name) in [
            ("pub fn parse_args(x: &str) -> Args {", "parse_args"),
            ("pub(crate) struct Config {", "Config"),
            ("def handle_request(self, req):", "handle_request"),
            ("class HttpClient(Base):", "HttpClient"),
            ("export function renderTree(node) {", "renderTree"),
            ("export const DEFAULT_PORT = 80;", "DEFAULT_PORT"),
            (
                "func (s *Server) ServeHTTP(w http.ResponseWriter) {",
                "ServeHTTP",
            ),
            ("type Handler interface {", "Handler"),
            (
                "  public static int countLines(String text) {",
                "countLines",
            ),
            ("static int read_block(FILE *f) {", "read_block"),
            ("  async fetchAll(urls) {", "fetchAll"),
            ("int git_oid_fromstrn(", "git_oid_fromstrn"),
            (
                "int git_config_parse_bool(int *out, const char *value)",
                "git_config_parse_bool",
            ),
            (
                "const char * Z_EXPORT PREFIX(zError)(z_int32_t err) {",
                "zError",
            ),
            ("EXPORT_API(int) ng_init(void *p) {", "ng_init"),
            ("int ASSERT_OK(void) {", "ASSERT_OK"),
        ] {
            assert_eq!(defined_name(line), Some(name), "{line}");
        }
        for line in [
            "  if (x) {",
            "    let y = 2;",
            "// fn commented() {",
            "x = foo(1)",
        ] {
            assert_eq!(defined_name(line), None, "{line}");
        }
    }

    #[test]
    fn imports_name_module_segments() {
        let segs = |line: &str| {
            let mut v = Vec::new();
            import_segments(line, |s| v.push(s.to_string()));
            v
        };
        assert_eq!(segs("from app.storage import Store"), ["storage", "store"]);
        assert_eq!(
            segs("import { x } from './render/tree';"),
            ["render", "tree"]
        );
        assert_eq!(
            segs("use crate::pack::budget::fit;"),
            ["pack", "budget", "fit"]
        );
        assert_eq!(segs("#include \"net/socket.h\""), ["socket"]);
        assert_eq!(segs("const a = require('../lib/walker')"), ["walker"]);
        assert!(segs("let x = 1;").is_empty());
    }

    #[test]
    fn a_named_path_or_defined_symbol_comes_first() {
        let files = [
            (
                "README.md",
                "parse the config, parse everything, parse parse parse",
            ),
            (
                "src/config.rs",
                "pub struct Config { port: u16 }\nfn load_config() {}",
            ),
            ("src/net.rs", "fn connect() { let c = load_config(); }"),
            ("src/other.rs", "fn other() {}"),
        ];
        let none = GitFacts::default();
        let order = ranked("make load_config read the port from env", &files, &none);
        assert_eq!(order[0], "src/config.rs", "{order:?}");
        let order = ranked("something about other.rs", &files, &none);
        assert_eq!(order[0], "src/other.rs", "{order:?}");
    }

    #[test]
    fn the_graph_brings_in_what_a_top_hit_uses() {
        let files = [
            ("src/a.rs", "fn unrelated() {}"),
            (
                "src/retry.rs",
                "pub fn backoff_delay(n: u32) -> u64 { 2u64.pow(n) }",
            ),
            (
                "src/client.rs",
                "fn send_request() { retry loop: let d = backoff_delay(attempt); }",
            ),
            ("src/z.rs", "fn nothing() {}"),
        ];
        let order = ranked("send_request should retry", &files, &GitFacts::default());
        assert_eq!(order[0], "src/client.rs");
        assert_eq!(order[1], "src/retry.rs", "{order:?}");
    }

    #[test]
    fn git_signals_lift_dirty_and_co_changed_files() {
        let files = [
            ("src/a.rs", "fn alpha() {}"),
            ("src/b.rs", "fn beta() {}"),
            ("src/parser.rs", "fn parse_header() {}"),
            ("src/parser_tests.rs", "fn t() {}"),
        ];
        let mut git = GitFacts::default();
        git.dirty.insert("src/b.rs".into());
        git.commits = vec![
            vec!["src/parser.rs".into(), "src/parser_tests.rs".into()],
            vec!["src/parser.rs".into(), "src/parser_tests.rs".into()],
        ];
        let order = ranked("parse_header drops the last line", &files, &git);
        assert_eq!(order[0], "src/parser.rs");
        assert_eq!(order[1], "src/parser_tests.rs", "{order:?}");
        assert_eq!(order[2], "src/b.rs", "{order:?}");
    }

    #[test]
    fn a_quoted_message_finds_the_file_that_prints_it() {
        // Both files have every word of the message, in literals too; only one prints it.
        let files = [
            (
                "loop/events.py",
                "class Loop:\n    def close(self):\n        \"\"\"Close the event loop.\"\"\"\n        log('event loop')\n        log('loop is')\n        log('it is closed')\n        self._closed = True\n",
            ),
            (
                "loop/base.py",
                "def check(self):\n    if self._closed:\n        raise RuntimeError('Event loop is closed')\n",
            ),
            ("loop/other.py", "def unrelated():\n    pass\n"),
        ];
        let request = "Calling the loop after close raises \"Event loop is closed\"";
        assert_eq!(top(request, &files), "loop/base.py");
        // Pasted without quotes, the message is found by its runs of words.
        let request = "Calling the loop after close fails: Event loop is closed";
        assert_eq!(top(request, &files), "loop/base.py");
    }

    #[test]
    fn string_literals_are_indexed_as_runs_of_words() {
        let runs = |text: &str| {
            let mut v = Vec::new();
            for_each_literal_bigram(text, |h| v.push(h));
            v.sort_unstable();
            v
        };
        let printed = runs("panic!(\"Cannot start a runtime from \\\n    within a runtime.\");");
        for unit in phrase_units("start a runtime from within") {
            assert!(printed.binary_search(&unit).is_ok());
        }
        assert_eq!(phrase_units("Send pending").len(), 1);
        let pending = phrase_units("send PENDING")[0];
        assert!(runs("x = 'Send pending'").binary_search(&pending).is_ok());
        // Words outside literals, and an apostrophe that opens none, give nothing.
        assert!(runs("send pending // don't\nfn f() {}\n").is_empty());
    }

    #[test]
    fn ties_keep_input_order() {
        let order = ranked(
            "nothing matches",
            &[("b.rs", "x"), ("a.rs", "y")],
            &GitFacts::default(),
        );
        assert_eq!(order, ["b.rs", "a.rs"]);
    }
}
