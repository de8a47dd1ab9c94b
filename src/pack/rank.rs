//! Orders candidate files by relevance to the request. Pure: paths, texts and the request in, scores out.
//!
//! Signals: words of the request found in a file's path (strongest), identifiers and words of the request
//! found in its text (weighted by rarity across the repository, BM25-style saturation), and a mild size prior
//! so that a short file naming the topic beats a huge one mentioning it in passing.

use std::collections::{HashMap, HashSet};

/// A file's relevance and the signals behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub index: usize,
    pub score: f64,
}

/// Split text into lower-cased terms: identifiers are split on `_`, `-`, `.`, `/` and camelCase humps, and the
/// whole identifier is kept as a term too.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if word.is_empty() {
            continue;
        }
        let lower = word.to_lowercase();
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut prev_lower = false;
        for c in word.chars() {
            if c == '_' {
                if !current.is_empty() {
                    parts.push(std::mem::take(&mut current));
                }
                prev_lower = false;
                continue;
            }
            if c.is_uppercase() && prev_lower && !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            current.extend(c.to_lowercase());
        }
        if !current.is_empty() {
            parts.push(current);
        }
        if parts.len() > 1 {
            out.push(lower);
        }
        out.extend(parts);
    }
    out.retain(|t| t.chars().count() >= 2 && !STOP_WORDS.contains(&t.as_str()));
    out
}

const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "to", "of", "in", "on", "for", "and", "or", "is", "it", "be", "by", "with",
    "as", "at", "that", "this", "from", "add", "make", "use", "new", "all", "so", "we", "should",
    "when", "into", "can", "not", "do", "does", "if", "please", "change", "fix", "update",
];

/// Score every file against the request, highest first; ties are broken by path order (the input order).
pub fn rank(request: &str, files: &[(&str, &str)]) -> Vec<Score> {
    let query: HashSet<String> = terms(request).into_iter().collect();
    let docs: Vec<HashMap<String, usize>> = files
        .iter()
        .map(|(_, text)| {
            let mut counts = HashMap::new();
            for t in terms(text) {
                if query.contains(&t) {
                    *counts.entry(t).or_insert(0) += 1;
                }
            }
            counts
        })
        .collect();
    let n = files.len().max(1) as f64;
    let idf: HashMap<&String, f64> = query
        .iter()
        .map(|q| {
            let df = docs.iter().filter(|d| d.contains_key(q)).count() as f64;
            (q, ((n - df + 0.5) / (df + 0.5) + 1.0).ln())
        })
        .collect();
    let avg_len = files.iter().map(|(_, t)| t.len()).sum::<usize>() as f64 / n;
    let mut scores: Vec<Score> = files
        .iter()
        .enumerate()
        .map(|(index, (path, text))| {
            let path_terms: HashSet<String> = terms(path).into_iter().collect();
            let len_ratio = text.len() as f64 / avg_len.max(1.0);
            let mut score = 0.0;
            for q in &query {
                let w = idf[q];
                if path_terms.contains(q) {
                    score += 3.0 * w;
                }
                if let Some(&tf) = docs[index].get(q) {
                    let tf = tf as f64;
                    score += w * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len_ratio));
                }
            }
            // Size prior: very large files cost more than they usually give.
            score /= 1.0 + (text.len() as f64 / 200_000.0);
            Score { index, score }
        })
        .collect();
    scores.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn path_and_content_matches_rank_first() {
        let files = [
            ("README.md", "A tool."),
            ("src/cli.rs", "struct Args { quiet: bool }"),
            ("src/other.rs", "fn other() {}"),
            ("src/verbose.rs", "fn log() {}"),
        ];
        let ranked = rank("add a verbose flag to the Args of the cli", &files);
        let order: Vec<_> = ranked.iter().map(|s| files[s.index].0).collect();
        assert_eq!(order[0], "src/cli.rs", "{order:?}");
        assert!(
            order.iter().position(|p| *p == "src/verbose.rs")
                < order.iter().position(|p| *p == "src/other.rs")
        );
    }

    #[test]
    fn ties_keep_input_order() {
        let files = [("b.rs", "x"), ("a.rs", "y")];
        let ranked = rank("nothing matches", &files);
        assert_eq!(
            ranked.iter().map(|s| s.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
    }
}
