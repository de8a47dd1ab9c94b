//! The pack stage: from the walked candidates and the request to the prompt. Pins are resolved, files ranked,
//! counted and fitted into the budget, and the prompt rendered; everything left out is reported with a reason.

pub mod budget;
pub mod rank;
pub mod tokens;

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::prompt::{FileBlock, OmittedBlock, Prompt, PromptError, Templates};
use crate::repo::walk::{self, Candidate, SkipReason, Skipped, Walk};
use budget::{BudgetError, Item, Omitted};
use tokens::TokenCounter;

/// How many omitted files the prompt names one by one; the rest are counted.
const OMITTED_LISTED: usize = 100;
/// Tokens a chat request adds around the two messages (role markers, template framing).
const CHAT_OVERHEAD: usize = 16;

/// The sizes that decide the budget.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total tokens the prompt may use, when the user says so (`--budget`).
    pub budget: Option<usize>,
    /// The model's context window.
    pub context: usize,
    /// Tokens kept free for the reply.
    pub reply_reserve: usize,
    pub max_file_size: u64,
    /// Real tokens per estimated token for this model (1.0 when unknown): estimates are scaled by it, so a
    /// model whose tokenizer is less efficient than tiktoken's gets a smaller share of files.
    pub token_ratio: f64,
}

/// A file included whole.
#[derive(Debug, Clone, Serialize)]
pub struct PackedFile {
    pub path: String,
    pub tokens: usize,
    pub bytes: usize,
    pub pinned: bool,
    pub score: f64,
}

/// The result of packing: the prompt and the account of every file.
#[derive(Debug, Clone, Serialize)]
pub struct Packed {
    #[serde(skip)]
    pub prompt: Prompt,
    /// The template context of the repository part (everything but the request), for context sessions.
    #[serde(skip)]
    pub context: serde_json::Value,
    /// Files included whole, in prompt order.
    pub files: Vec<PackedFile>,
    /// Files left out for the budget, in rank order.
    pub omitted: Vec<Omitted>,
    /// Files passed over by the walk for their content.
    pub skipped: Vec<Skipped>,
    /// Total tokens the prompt may use.
    pub budget: usize,
    /// Tokens of the instructions and the request, without files.
    pub template_tokens: usize,
    /// Estimated tokens of the whole prompt.
    pub prompt_tokens: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Walk(#[from] walk::WalkError),
    #[error("{path}: {reason}; it cannot be pinned")]
    PinUnusable { path: String, reason: SkipReason },
    #[error("{0} is outside the repository")]
    PinOutside(String),
    #[error("{0} matches no file in the repository")]
    PinNoMatch(String),
    #[error(transparent)]
    Budget(#[from] BudgetError),
    #[error(
        "the budget of {budget} tokens is smaller than the instructions and the request alone ({needed} tokens); raise --budget or --context"
    )]
    TemplateOverBudget { budget: usize, needed: usize },
    #[error(transparent)]
    Prompt(#[from] PromptError),
}

/// Resolve the pinned PATHS (files, directories or globs, relative to `cwd` or the root) to repo-relative
/// candidate paths, reading named files the walk passed over.
pub fn resolve_pins(
    root: &Path,
    cwd: &Path,
    pins: &[String],
    walk: &mut Walk,
    max_file_size: u64,
) -> Result<BTreeSet<String>, PackError> {
    let mut pinned = BTreeSet::new();
    for pin in pins {
        let on_disk = cwd.join(pin);
        if on_disk.exists() {
            let full = on_disk.canonicalize().unwrap_or(on_disk);
            let rel = full
                .strip_prefix(root)
                .map_err(|_| PackError::PinOutside(pin.clone()))?;
            let rel: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
            let rel = rel.join("/");
            if full.is_dir() {
                let prefix = if rel.is_empty() {
                    String::new()
                } else {
                    format!("{rel}/")
                };
                let before = pinned.len();
                pinned.extend(
                    walk.files
                        .iter()
                        .filter(|f| f.path.starts_with(&prefix))
                        .map(|f| f.path.clone()),
                );
                if pinned.len() == before {
                    return Err(PackError::PinNoMatch(pin.clone()));
                }
            } else {
                if walk
                    .files
                    .binary_search_by(|f| f.path.as_str().cmp(&rel))
                    .is_err()
                {
                    let file = walk::read_one(root, &rel, max_file_size).map_err(|reason| {
                        PackError::PinUnusable {
                            path: rel.clone(),
                            reason,
                        }
                    })?;
                    walk.skipped.retain(|s| s.path != rel);
                    let at = walk.files.partition_point(|f| f.path < rel);
                    walk.files.insert(at, file);
                }
                pinned.insert(rel);
            }
        } else {
            let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
            builder.add_line(None, pin).map_err(|e| {
                PackError::Walk(walk::WalkError::Glob {
                    glob: pin.clone(),
                    message: e.to_string(),
                })
            })?;
            let glob = builder.build().map_err(|e| {
                PackError::Walk(walk::WalkError::Glob {
                    glob: pin.clone(),
                    message: e.to_string(),
                })
            })?;
            let matched: Vec<String> = walk
                .files
                .iter()
                .filter(|f| glob.matched_path_or_any_parents(&f.path, false).is_ignore())
                .map(|f| f.path.clone())
                .collect();
            if matched.is_empty() {
                return Err(PackError::PinNoMatch(pin.clone()));
            }
            pinned.extend(matched);
        }
    }
    Ok(pinned)
}

/// Rank, count and fit the candidates, then render the prompt.
pub fn pack(
    files: &[Candidate],
    skipped: Vec<Skipped>,
    pinned: &BTreeSet<String>,
    request: &str,
    limits: Limits,
    templates: &Templates,
    counter: TokenCounter,
) -> Result<Packed, PackError> {
    let ratio = if limits.token_ratio.is_finite() && limits.token_ratio > 0.0 {
        limits.token_ratio
    } else {
        1.0
    };
    let scale = |n: usize| (n as f64 * ratio).ceil() as usize;
    let bare = templates.render(&[], &[], request)?;
    let template_tokens =
        scale(counter.count(&bare.system) + counter.count(&bare.user) + CHAT_OVERHEAD);
    let budget = limits
        .budget
        .unwrap_or_else(|| limits.context.saturating_sub(limits.reply_reserve));
    if budget <= template_tokens {
        return Err(PackError::TemplateOverBudget {
            budget,
            needed: template_tokens,
        });
    }

    let docs: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.path.as_str(), f.text.as_str()))
        .collect();
    let ranked = rank::rank(request, &docs);
    let texts: Vec<&str> = ranked
        .iter()
        .map(|s| files[s.index].text.as_str())
        .collect();
    let counts = counter.count_all(&texts);
    let items: Vec<Item> = ranked
        .iter()
        .zip(&counts)
        .map(|(s, &tokens)| {
            let f = &files[s.index];
            Item {
                path: f.path.clone(),
                tokens: scale(tokens + counter.count(&f.path) + 8),
                bytes: f.text.len(),
                pinned: pinned.contains(&f.path),
            }
        })
        .collect();

    // The list of omitted files costs tokens too: fit, measure the whole prompt, and shrink the share of the
    // files until everything is inside the budget.
    let mut files_budget = budget - template_tokens;
    loop {
        let fit = budget::fit(&items, files_budget)?;
        let blocks: Vec<FileBlock<'_>> = fit
            .included
            .iter()
            .map(|&i| FileBlock::new(&files[ranked[i].index].path, &files[ranked[i].index].text))
            .collect();
        let listed: Vec<OmittedBlock<'_>> = fit
            .omitted
            .iter()
            .take(OMITTED_LISTED)
            .map(|o| OmittedBlock {
                path: &o.path,
                bytes: o.bytes,
            })
            .collect();
        let more = fit.omitted.len().saturating_sub(listed.len());
        let context = crate::prompt::context_of(&blocks, &listed, more);
        let prompt = templates.render_context(&context, request)?;
        let prompt_tokens =
            counter.count(&prompt.system) + counter.count(&prompt.user) + CHAT_OVERHEAD;
        if prompt_tokens > budget && fit.tokens > 0 {
            let excess = prompt_tokens - budget;
            files_budget = files_budget.saturating_sub(excess.max(16));
            continue;
        }
        let packed_files = fit
            .included
            .iter()
            .map(|&i| PackedFile {
                path: items[i].path.clone(),
                tokens: items[i].tokens,
                bytes: items[i].bytes,
                pinned: items[i].pinned,
                score: (ranked[i].score * 1000.0).round() / 1000.0,
            })
            .collect();
        return Ok(Packed {
            prompt,
            context,
            files: packed_files,
            omitted: fit.omitted,
            skipped,
            budget,
            template_tokens,
            prompt_tokens,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(path: &str, text: &str) -> Candidate {
        Candidate {
            path: path.into(),
            text: text.into(),
        }
    }

    #[test]
    fn packs_within_budget_and_lists_the_rest() {
        let templates = Templates::load(&[]).unwrap();
        let counter = TokenCounter::new();
        let big = "fn filler() { let x = 1; }\n".repeat(400);
        let files = vec![
            cand("src/big.rs", &big),
            cand("src/cli.rs", "struct Args { verbose: bool }\n"),
            cand("src/util.rs", "fn helper() {}\n"),
        ];
        let limits = Limits {
            budget: Some(1500),
            context: 100_000,
            reply_reserve: 0,
            max_file_size: 1 << 20,
            token_ratio: 1.0,
        };
        let packed = pack(
            &files,
            vec![],
            &BTreeSet::new(),
            "add verbose to Args",
            limits,
            &templates,
            counter,
        )
        .unwrap();
        let paths: Vec<_> = packed.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["src/cli.rs", "src/util.rs"]);
        assert_eq!(packed.omitted.len(), 1);
        assert!(packed.prompt_tokens <= 1500, "{}", packed.prompt_tokens);
        assert!(packed.prompt.user.contains("- src/big.rs ("));
        assert!(!packed.prompt.user.contains("fn filler"));
    }

    #[test]
    fn a_budget_below_the_template_is_an_error() {
        let templates = Templates::load(&[]).unwrap();
        let limits = Limits {
            budget: Some(20),
            context: 100_000,
            reply_reserve: 0,
            max_file_size: 1 << 20,
            token_ratio: 1.0,
        };
        let err = pack(
            &[],
            vec![],
            &BTreeSet::new(),
            "x",
            limits,
            &templates,
            TokenCounter::new(),
        )
        .unwrap_err();
        assert!(
            matches!(err, PackError::TemplateOverBudget { budget: 20, .. }),
            "{err}"
        );
    }
}
