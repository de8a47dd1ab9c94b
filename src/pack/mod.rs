//! The pack stage: from the walked candidates and the request to the prompt. Pins are resolved, files ranked,
//! counted and fitted into the budget, and the prompt rendered; everything left out is reported with a reason.

pub mod budget;
pub mod cache;
pub mod outline;
pub mod rank;
pub mod records;
pub mod tokens;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::prompt::{
    Context, FileBlock, OmittedBlock, OutlineBlock, Prompt, PromptError, Templates,
};
use crate::repo::walk::{self, Candidate, SkipReason, Skipped, Walk};
use crate::secrets::Redaction;
use budget::{BudgetError, Item, Omitted};
use cache::{BlobId, Cache};
use rank::{Doc, FileIndex, GitFacts, Reason};
use tokens::TokenCounter;

/// Tokens a chat request adds around the two messages (role markers, template framing).
const CHAT_OVERHEAD: usize = 16;
/// Tokens of a whole file's framing in the prompt (heading, fences, blank line), besides its path.
const FILE_FRAMING: usize = 8;
/// How many left-out files the prompt names one by one when the layout does not fit; the rest are counted.
const OMITTED_LISTED: usize = 100;
/// Share of the files' budget the path tree may use, and its ceiling.
const TREE_SHARE: f64 = 0.08;
const TREE_MAX_TOKENS: usize = 8_000;
/// Share of the files' budget kept for outlines when not everything fits whole.
const OUTLINE_SHARE: f64 = 0.12;
/// Outlines never use more than this share of the files' budget, and one outline at most a third of it
/// (but at least this many tokens).
const OUTLINE_MAX_SHARE: f64 = 0.25;
const OUTLINE_FILE_MIN: usize = 600;
/// At most this many files are outlined.
const OUTLINE_FILES: usize = 60;
/// Outlines are made this many at a time, in rank order.
const OUTLINE_BATCH: usize = 16;
/// Below this many tokens of room, no outline is worth its framing.
const OUTLINE_LEAST: usize = 32;
/// Bytes per token assumed before counting, on the safe side for code.
const BYTES_PER_TOKEN: f64 = 3.5;
/// Files are counted exactly in rank order until their estimates reach this multiple of the budget.
const COUNT_WINDOW: f64 = 2.0;

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

/// What packing works from: the walked files, the request, git facts and the cache.
#[derive(Debug)]
pub struct Input<'a> {
    /// Their texts are let go once indexed ([`Candidate::release_text`]) and read again where needed.
    pub files: &'a mut [Candidate],
    /// Blob ids already known for `files` (from git's index), by position; may be empty.
    pub known: &'a [Option<BlobId>],
    pub skipped: &'a [Skipped],
    pub pinned: &'a BTreeSet<String>,
    pub request: &'a str,
    pub git: &'a GitFacts,
    pub cache: &'a Cache,
    /// Scan what goes into the prompt for secrets, and redact them (off with `--allow-secrets`).
    pub scan_secrets: bool,
}

/// A file included whole.
#[derive(Debug, Clone, Serialize)]
pub struct PackedFile {
    pub path: String,
    pub tokens: usize,
    pub bytes: usize,
    pub pinned: bool,
    pub score: f64,
    pub reasons: Vec<Reason>,
}

/// A file shown as an outline of its definitions.
#[derive(Debug, Clone, Serialize)]
pub struct OutlinedFile {
    pub path: String,
    /// Tokens of the outline in the prompt.
    pub tokens: usize,
    /// Tokens the whole file would have cost.
    pub file_tokens: usize,
    pub bytes: usize,
    pub score: f64,
    pub method: outline::Method,
    pub reasons: Vec<Reason>,
}

/// How a ranked file ended up in the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    Whole,
    Outline,
    Omitted,
}

/// One line of `--explain`: a file with a positive score, in rank order.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub path: String,
    pub score: f64,
    pub placement: Placement,
    pub tokens: usize,
    /// Whether `tokens` is an estimate (the file was never a candidate for counting).
    pub estimated: bool,
    pub reasons: Vec<Reason>,
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
    /// Files shown as outlines, in prompt order.
    pub outlined: Vec<OutlinedFile>,
    /// Files left out for the budget (neither whole nor outlined), in rank order.
    pub omitted: Vec<Omitted>,
    /// Files passed over by the walk for their content.
    pub skipped: Vec<Skipped>,
    /// The best-ranked files with a positive score (at most [`rank::EXPLAINED`]), in rank order.
    pub ranking: Vec<Ranked>,
    /// Total tokens the prompt may use.
    pub budget: usize,
    /// Tokens of the instructions and the request, without files.
    pub template_tokens: usize,
    /// Tokens of the path tree.
    pub tree_tokens: usize,
    /// Estimated tokens of the whole prompt.
    pub prompt_tokens: usize,
    /// Files counted exactly this run, and how many counts came from the cache.
    pub counted: usize,
    pub cache_hits: usize,
    /// Milliseconds per stage.
    pub timings_ms: BTreeMap<&'static str, f64>,
    /// The blob id of every candidate, by position (for the walk's snapshot).
    #[serde(skip)]
    pub ids: Vec<BlobId>,
    /// Secrets redacted from the files in the prompt, in path order.
    pub redactions: Vec<Redaction>,
    /// Candidates (by position) this pack found free of secrets for the first time.
    pub clean: Vec<usize>,
    /// The files with uncommitted changes the ranking saw.
    #[serde(skip)]
    pub dirty: std::collections::HashSet<String>,
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

/// Lock a mutex, taking the data as it is if another thread panicked while holding it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `f` over `items` on all cores, keeping the order (on one core for fewer than 64 items).
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_map_from(items, 64, f)
}

/// Call `f` with `name` lower-cased (ASCII), on the stack when it is short: for the checks made on every
/// file of a large repository.
pub fn with_ascii_lower<R>(name: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 128];
    if name.len() <= buf.len() {
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name.as_bytes());
        lower.make_ascii_lowercase();
        // Lower-casing ASCII keeps UTF-8 valid.
        f(std::str::from_utf8(lower).unwrap_or(name))
    } else {
        f(&name.to_ascii_lowercase())
    }
}

/// As [`par_map`], parallel from `least` items: a few costly items (parsing) are worth the threads.
pub fn par_map_from<T: Sync, R: Send>(
    items: &[T],
    least: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    if items.len() < least.max(2) || threads == 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads * 4).max(1);
    let f = &f;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let parts: Vec<Vec<(usize, Vec<R>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let start = n * chunk;
                        if start >= items.len() {
                            break;
                        }
                        let end = (start + chunk).min(items.len());
                        done.push((n, items[start..end].iter().map(f).collect()));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut all: Vec<(usize, Vec<R>)> = parts.into_iter().flatten().collect();
    all.sort_by_key(|(n, _)| *n);
    all.into_iter().flat_map(|(_, v)| v).collect()
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// A file's text with its secrets redacted, and the blob id of that text (its token count and outline are
/// cached under it, never under the id of the text with the secrets).
struct Redacted {
    text: String,
    id: BlobId,
    redactions: Vec<Redaction>,
}

/// The candidates' texts as the prompt may show them. Only a file that may go into the prompt is scanned for
/// secrets, once, on first need (and not at all when an earlier scan found it clean).
struct Shown<'a> {
    files: &'a [Candidate],
    ids: &'a [BlobId],
    scan: bool,
    /// By position: `None` when the scan found nothing.
    seen: std::sync::Mutex<std::collections::HashMap<usize, Option<Arc<Redacted>>>>,
}

impl<'a> Shown<'a> {
    fn new(files: &'a [Candidate], ids: &'a [BlobId], scan: bool) -> Self {
        Shown {
            files,
            ids,
            scan,
            seen: Default::default(),
        }
    }

    /// The redacted text of file `i`, when it holds secrets.
    fn redacted(&self, i: usize) -> Option<Arc<Redacted>> {
        let file = &self.files[i];
        if !self.scan || file.scanned_clean {
            return None;
        }
        if let Some(known) = lock(&self.seen).get(&i) {
            return known.clone();
        }
        let found = crate::secrets::redacted(&file.path, file.text()).map(|(text, redactions)| {
            Arc::new(Redacted {
                id: cache::blob_id(text.as_bytes()),
                text,
                redactions,
            })
        });
        lock(&self.seen).entry(i).or_insert(found).clone()
    }

    /// `with` the text of file `i` the prompt may show, and the blob id its counts and outline go by.
    fn with<R>(&self, i: usize, with: impl FnOnce(&str, &BlobId) -> R) -> R {
        match self.redacted(i) {
            Some(r) => with(&r.text, &r.id),
            None => with(self.files[i].text(), &self.ids[i]),
        }
    }

    /// The files first found clean (by position, ascending), the redactions in path order, and the ids of
    /// the redacted texts.
    fn finish(self) -> (Vec<usize>, Vec<Redaction>, Vec<BlobId>) {
        let seen = self.seen.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut clean: Vec<usize> = Vec::new();
        let mut redacted: Vec<(usize, Arc<Redacted>)> = Vec::new();
        for (i, found) in seen {
            match found {
                None => clean.push(i),
                Some(r) => redacted.push((i, r)),
            }
        }
        clean.sort_unstable();
        redacted.sort_by_key(|(i, _)| *i);
        let ids = redacted.iter().map(|(_, r)| r.id).collect();
        let redactions = redacted
            .into_iter()
            .flat_map(|(_, r)| r.redactions.clone())
            .collect();
        (clean, redactions, ids)
    }
}

/// Index every candidate (from the cache where its blob is known).
pub fn index_files(
    files: &[Candidate],
    known: &[Option<BlobId>],
    cache: &Cache,
) -> (Vec<BlobId>, Vec<Arc<FileIndex>>, usize) {
    let hits = std::sync::atomic::AtomicUsize::new(0);
    let positions: Vec<usize> = (0..files.len()).collect();
    let done = par_map(&positions, |&i| {
        let f = &files[i];
        let id = f
            .blob
            .or_else(|| known.get(i).copied().flatten())
            .unwrap_or_else(|| cache::blob_id(f.text().as_bytes()));
        let index = match cache.index(&id) {
            Some(index) => {
                hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                index
            }
            None => {
                let index = Arc::new(rank::index(f.text()));
                cache.update(id, |e| e.index = Some(Arc::clone(&index)));
                index
            }
        };
        (id, index)
    });
    let (ids, indexes) = done.into_iter().unzip();
    (ids, indexes, hits.into_inner())
}

/// Rank, count and fit the candidates, outline what does not fit, then render the prompt.
pub fn pack(
    input: Input<'_>,
    limits: Limits,
    templates: &Templates,
    counter: TokenCounter,
) -> Result<Packed, PackError> {
    let Input {
        files,
        known,
        skipped,
        pinned,
        request,
        git,
        cache,
        scan_secrets,
    } = input;
    let mut timings = BTreeMap::new();
    let ratio = if limits.token_ratio.is_finite() && limits.token_ratio > 0.0 {
        limits.token_ratio
    } else {
        1.0
    };
    let scale = |n: usize| (n as f64 * ratio).ceil() as usize;
    // The instructions and the template framing are counted once and remembered; the request, new every
    // time, is estimated on the safe side so that a warm pack needs no tokenizer at all.
    let bare = templates.render(&[], &[], "")?;
    let template_tokens = scale(
        counter.count_memo(&bare.system, cache)
            + counter.count_memo(&bare.user, cache)
            + request_tokens(request)
            + CHAT_OVERHEAD,
    );
    let budget = limits
        .budget
        .unwrap_or_else(|| limits.context.saturating_sub(limits.reply_reserve));
    if budget <= template_tokens {
        return Err(PackError::TemplateOverBudget {
            budget,
            needed: template_tokens,
        });
    }
    let files_budget = budget - template_tokens;

    let started = Instant::now();
    let (ids, indexes, index_hits) = index_files(files, known, cache);
    cache.keep_only(&ids);
    // What follows needs the text of a few hundred files at most: the rest of the tree's text goes now.
    for f in files.iter_mut() {
        f.release_text();
    }
    let files: &[Candidate] = files;
    timings.insert("index", ms(started));

    let started = Instant::now();
    let docs: Vec<Doc<'_>> = files
        .iter()
        .zip(&indexes)
        .map(|(f, index)| Doc {
            path: &f.path,
            index,
        })
        .collect();
    // Uncommitted changes: content that is not the blob git's index holds for the path.
    let facts;
    let git = match &git.tracked {
        Some(tracked) => {
            facts = GitFacts {
                dirty: files
                    .iter()
                    .zip(&ids)
                    .filter(|(f, id)| tracked.get(&f.path) != Some(*id))
                    .map(|(f, _)| f.path.clone())
                    .collect(),
                tracked: None,
                recent: git.recent.clone(),
                commits: git.commits.clone(),
            };
            &facts
        }
        None => git,
    };
    let mut ranked = rank::rank(request, &docs, git);
    // Pinned files lead, whatever their score.
    ranked.sort_by_key(|s| !pinned.contains(&files[s.index].path));
    for s in ranked.iter_mut() {
        if pinned.contains(&files[s.index].path) {
            s.reasons.insert(0, Reason::Pinned);
        }
    }
    timings.insert("rank", ms(started));

    // Count exactly only what may be packed: the pinned files and the best-ranked ones up to a multiple of
    // the budget by estimate; the rest keep their estimate.
    let started = Instant::now();
    let estimate = |bytes: usize| (bytes as f64 / BYTES_PER_TOKEN).ceil() as usize;
    let window_tokens = (files_budget as f64 * COUNT_WINDOW) as usize;
    let mut to_count = Vec::new();
    let mut so_far = 0usize;
    for (r, s) in ranked.iter().enumerate() {
        let f = &files[s.index];
        let est = estimate(f.bytes as usize);
        if pinned.contains(&f.path) || so_far < window_tokens {
            to_count.push(r);
            if !pinned.contains(&f.path) {
                so_far += est.min(files_budget);
            }
        }
    }
    // What may be packed is what the prompt may show: scanned for secrets now, counted as redacted.
    let shown = Shown::new(files, &ids, scan_secrets);
    let count_hits = std::sync::atomic::AtomicUsize::new(0);
    let counted: Vec<usize> = par_map(&to_count, |&r| {
        shown.with(ranked[r].index, |text, id| {
            if let Some(t) = cache.find(id, |e| e.tokens) {
                count_hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return t as usize;
            }
            let t = counter.count(text);
            cache.update(*id, |e| e.tokens = Some(t.min(u32::MAX as usize) as u32));
            t
        })
    });
    let mut exact: Vec<Option<usize>> = vec![None; ranked.len()];
    for (&r, &t) in to_count.iter().zip(&counted) {
        exact[r] = Some(t);
    }
    let items: Vec<Item> = ranked
        .iter()
        .zip(&exact)
        .map(|(s, t)| {
            let f = &files[s.index];
            // Exact counts for the files that may be packed, estimates for the rest (their path too).
            let (body, path) = match t {
                Some(t) => (*t, counter.count_memo(&f.path, cache)),
                None => (estimate(f.bytes as usize), estimate(f.path.len())),
            };
            Item {
                path: &f.path,
                tokens: scale(body + path + FILE_FRAMING),
                bytes: f.bytes as usize,
                pinned: pinned.contains(&f.path),
                score: s.score,
            }
        })
        .collect();
    timings.insert("count", ms(started));

    // The layout of the whole repository, folded to its share of the budget.
    let started = Instant::now();
    let mut all_paths: Vec<&str> = files
        .iter()
        .map(|f| f.path.as_str())
        .chain(skipped.iter().map(|s| s.path.as_str()))
        .collect();
    // Two runs already in order (the candidates, the skipped files): a stable sort merges them.
    all_paths.sort();
    let tree_room = ((files_budget as f64 * TREE_SHARE) as usize).min(TREE_MAX_TOKENS);
    let tree_key = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = rank::Quick.build_hasher();
        for p in &all_paths {
            h.write(p.as_bytes());
            h.write_u8(0);
        }
        h.finish() ^ (tree_room as u64)
    };
    let mut tree = cache.text_memo(tree_key, || outline::path_tree(&all_paths, tree_room * 3));
    let mut tree_tokens = scale(counter.count_memo(&tree, cache) + FILE_FRAMING);
    if tree.is_empty() || tree_tokens > tree_room.max(1) {
        tree.clear();
        tree_tokens = 0;
    }
    timings.insert("tree", ms(started));

    let started = Instant::now();
    let total: usize = items.iter().map(|i| i.tokens).sum();
    let pinned_tokens: usize = items.iter().filter(|i| i.pinned).map(|i| i.tokens).sum();
    let outline_reserve = if total + tree_tokens > files_budget {
        (files_budget as f64 * OUTLINE_SHARE) as usize
    } else {
        0
    };
    // The tree and the outlines give way when they would push the best-ranked file out: first the outline
    // reserve, then the tree. Pinned files may use all of the room too.
    let best = items.iter().position(|i| !i.pinned && i.score > 0.0);
    let mut fit = None;
    for (reserve, keep_tree) in [(outline_reserve, true), (0, true), (0, false)] {
        let tree_here = if keep_tree { tree_tokens } else { 0 };
        let room = files_budget.saturating_sub(tree_here + reserve);
        let Ok(attempt) = budget::fit(&items, room) else {
            continue;
        };
        let best_in = best.is_none_or(|b| {
            attempt.included.contains(&b) || items[b].tokens + pinned_tokens > files_budget
        });
        if best_in || !keep_tree {
            if !keep_tree {
                tree.clear();
                tree_tokens = 0;
            }
            fit = Some(attempt);
            break;
        }
    }
    let fit = match fit {
        Some(fit) => fit,
        None => budget::fit(&items, files_budget)?,
    };
    timings.insert("fit", ms(started));

    // Outlines of the best-ranked files that did not fit, in what is left.
    let started = Instant::now();
    let mut outline_room = files_budget
        .saturating_sub(tree_tokens + fit.tokens)
        .min((files_budget as f64 * OUTLINE_MAX_SHARE) as usize);
    let outline_file_room = (outline_room / 3).max(OUTLINE_FILE_MIN);
    let wanted: Vec<usize> = fit
        .omitted
        .iter()
        .filter(|o| o.score > 0.0)
        .take(OUTLINE_FILES * 2)
        .map(|o| o.rank)
        .collect();
    // Outlines are made (or taken from the cache) in rank order, a batch at a time, until the room or the
    // number of outlined files runs out: a large repository does not parse files it will not show.
    let make = |r: &usize| -> Option<(String, outline::Method)> {
        let i = ranked[*r].index;
        shown.with(i, |text, id| {
            if let Some(saved) = cache.find(id, |e| e.outline.clone()) {
                let method = if outline::parsed(&files[i].path) {
                    outline::Method::TreeSitter
                } else {
                    outline::Method::PlainText
                };
                return saved.map(|text| (text, method));
            }
            let made = outline::outline(&files[i].path, text);
            cache.update(*id, |e| {
                e.outline = Some(made.as_ref().map(|(t, _)| t.clone()))
            });
            made
        })
    };
    let mut outlined: Vec<(usize, String, usize, outline::Method)> = Vec::new();
    'batches: for batch in wanted.chunks(OUTLINE_BATCH) {
        if outlined.len() >= OUTLINE_FILES || outline_room < OUTLINE_LEAST {
            break;
        }
        let made_here = par_map_from(batch, 4, make);
        for (&r, made) in batch.iter().zip(made_here) {
            if outlined.len() >= OUTLINE_FILES {
                break 'batches;
            }
            let Some((text, method)) = made else { continue };
            let path = &files[ranked[r].index].path;
            let framing = counter.count_memo(path, cache) + FILE_FRAMING + 3;
            let mut tokens = scale(counter.count_memo(&text, cache) + framing);
            let mut text = text;
            let room_here = outline_room.min(outline_file_room);
            if tokens > room_here {
                // Keep the outline's first lines (the file's top-level shape) that fit.
                let room = (room_here as f64 / ratio) as usize;
                let mut used = framing + 8;
                let mut kept = String::new();
                let lines: Vec<&str> = text.lines().collect();
                let mut n = 0;
                while n < lines.len() {
                    let cost = counter.count(lines[n]) + 1;
                    if used + cost > room {
                        break;
                    }
                    used += cost;
                    kept.push_str(lines[n]);
                    kept.push('\n');
                    n += 1;
                }
                if n < 5 {
                    continue;
                }
                kept.push_str(&format!("… {} more lines of outline\n", lines.len() - n));
                tokens = scale(counter.count(&kept) + framing);
                text = kept;
            }
            if tokens <= outline_room && tokens < items[r].tokens {
                outline_room -= tokens;
                outlined.push((r, text, tokens, method));
            }
        }
    }
    outlined.sort_by(|a, b| {
        files[ranked[a.0].index]
            .path
            .cmp(&files[ranked[b.0].index].path)
    });
    timings.insert("outline", ms(started));

    let started = Instant::now();
    let whole_redacted: Vec<Option<Arc<Redacted>>> = fit
        .included
        .iter()
        .map(|&r| shown.redacted(ranked[r].index))
        .collect();
    let blocks: Vec<FileBlock<'_>> = fit
        .included
        .iter()
        .zip(&whole_redacted)
        .map(|(&r, redacted)| {
            let file = &files[ranked[r].index];
            let text = redacted.as_ref().map_or(file.text(), |r| r.text.as_str());
            FileBlock::new(&file.path, text)
        })
        .collect();
    let outline_blocks: Vec<OutlineBlock<'_>> = outlined
        .iter()
        .map(|(r, text, _, _)| OutlineBlock::new(&files[ranked[*r].index].path, text))
        .collect();
    let outline_tokens: usize = outlined.iter().map(|o| o.2).sum();
    let mut prompt_tokens = template_tokens + tree_tokens + fit.tokens + outline_tokens;
    // Without the layout (it did not fit), the files left out are still named, most relevant first, in
    // what room is left; nothing is dropped without a word.
    let is_outlined: BTreeSet<usize> = outlined.iter().map(|o| o.0).collect();
    let mut listed: Vec<OmittedBlock<'_>> = Vec::new();
    let mut unlisted = 0;
    if tree.is_empty() {
        let left_out = fit
            .omitted
            .iter()
            .filter(|o| !is_outlined.contains(&o.rank));
        for o in left_out {
            let cost = scale(counter.count_memo(&o.path, cache) + 6);
            if listed.len() < OMITTED_LISTED && prompt_tokens + cost + 12 <= budget {
                prompt_tokens += cost;
                listed.push(OmittedBlock {
                    path: &o.path,
                    bytes: o.bytes,
                });
            } else {
                unlisted += 1;
            }
        }
        if !listed.is_empty() {
            prompt_tokens += 12;
        }
    }
    let ctx = Context {
        tree: &tree,
        files: &blocks,
        outlines: &outline_blocks,
        omitted: &listed,
        omitted_more: unlisted,
    };
    let prompt = templates.render_context(&ctx, request)?;
    let context = ctx.to_value();
    let (clean, redactions, redacted_ids) = shown.finish();
    // The counts and outlines of redacted texts are kept with the files' own.
    cache.keep_also(&redacted_ids);
    timings.insert("render", ms(started));

    let whole: BTreeSet<usize> = fit.included.iter().copied().collect();
    let packed_files = fit
        .included
        .iter()
        .map(|&r| PackedFile {
            path: items[r].path.to_string(),
            tokens: items[r].tokens,
            bytes: items[r].bytes,
            pinned: items[r].pinned,
            score: round(ranked[r].score),
            reasons: ranked[r].reasons.clone(),
        })
        .collect();
    let outlined_files = outlined
        .iter()
        .map(|(r, _, tokens, method)| OutlinedFile {
            path: items[*r].path.to_string(),
            tokens: *tokens,
            file_tokens: items[*r].tokens,
            bytes: items[*r].bytes,
            score: round(ranked[*r].score),
            method: *method,
            reasons: ranked[*r].reasons.clone(),
        })
        .collect();
    let omitted = fit
        .omitted
        .into_iter()
        .filter(|o| !is_outlined.contains(&o.rank))
        .map(|mut o| {
            o.score = round(o.score);
            o
        })
        .collect();
    let ranking = ranked
        .iter()
        .enumerate()
        .take(rank::EXPLAINED)
        .filter(|(r, s)| s.score > 0.0 || items[*r].pinned)
        .map(|(r, s)| Ranked {
            path: items[r].path.to_string(),
            score: round(s.score),
            placement: if whole.contains(&r) {
                Placement::Whole
            } else if is_outlined.contains(&r) {
                Placement::Outline
            } else {
                Placement::Omitted
            },
            tokens: items[r].tokens,
            estimated: exact[r].is_none(),
            reasons: s.reasons.clone(),
        })
        .collect();
    Ok(Packed {
        prompt,
        context,
        files: packed_files,
        outlined: outlined_files,
        omitted,
        skipped: skipped.to_vec(),
        ranking,
        budget,
        template_tokens,
        tree_tokens,
        prompt_tokens,
        counted: to_count.len(),
        cache_hits: index_hits + count_hits.into_inner(),
        timings_ms: timings,
        ids,
        redactions,
        clean,
        dirty: git.dirty.clone(),
    })
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Tokens of the request, estimated without the tokenizer: at least one per 2.5 bytes, which is more than
/// o200k needs for prose or code.
fn request_tokens(request: &str) -> usize {
    (request.trim().len() as f64 / 2.5).ceil() as usize + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(path: &str, text: &str) -> Candidate {
        Candidate::new(path, text)
    }

    #[test]
    fn packs_within_budget_and_lists_the_rest() {
        let templates = Templates::load(&[]).unwrap();
        let counter = TokenCounter::new();
        let big = "fn filler() { let x = 1; }\n".repeat(400);
        let mut files = vec![
            cand("src/big.rs", &big),
            cand("src/cli.rs", "struct Args { verbose: bool }\n"),
            cand("src/util.rs", "fn helper() {}\n"),
        ];
        let limits = budget(1500);
        let git = GitFacts::default();
        let cache = Cache::default();
        let packed = pack(
            input(
                &mut files,
                &BTreeSet::new(),
                "add verbose to Args",
                &git,
                &cache,
            ),
            limits,
            &templates,
            counter,
        )
        .unwrap();
        let paths: Vec<_> = packed.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["src/cli.rs", "src/util.rs"]);
        assert!(packed.prompt_tokens <= 1500, "{}", packed.prompt_tokens);
        // The big file is named in the layout; nothing of it is shown, it does not match the request.
        assert!(packed.prompt.user.contains("src/: big.rs cli.rs util.rs\n"));
        assert!(!packed.prompt.user.contains("fn filler"));
        assert_eq!(packed.omitted.len(), 1);
        assert_eq!(packed.omitted[0].path, "src/big.rs");
        assert!(packed.outlined.is_empty());
    }

    /// Limits of `tokens` for the files and the prompt, nothing reserved for the reply.
    fn budget(tokens: usize) -> Limits {
        Limits {
            budget: Some(tokens),
            context: 100_000,
            reply_reserve: 0,
            max_file_size: 1 << 20,
            token_ratio: 1.0,
        }
    }

    fn input<'a>(
        files: &'a mut [Candidate],
        pinned: &'a BTreeSet<String>,
        request: &'a str,
        git: &'a GitFacts,
        cache: &'a Cache,
    ) -> Input<'a> {
        Input {
            files,
            known: &[],
            skipped: &[],
            pinned,
            request,
            git,
            cache,
            scan_secrets: true,
        }
    }

    #[test]
    fn only_what_goes_into_the_prompt_is_scanned_for_secrets_and_it_goes_redacted() {
        let templates = Templates::load(&[]).unwrap();
        let key = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let filler = "fn filler() { let x = 1; }\n".repeat(3000);
        let mut files = vec![
            cand(
                "src/config.rs",
                &format!("const TOKEN: &str = \"{key}\";\nfn config() {{}}\n"),
            ),
            cand("src/main.rs", "fn main() { config(); }\n"),
            // Ranked last, past what is counted and outlined: its secret is never looked for.
            cand(
                "zz/huge.txt",
                &format!("{filler}password = \"hunter2-hunter2\"\n"),
            ),
        ];
        // Files that rank above it and fill the counting window.
        for n in 0..8 {
            let text = format!("// config notes\n{}", "let y = 2;\n".repeat(350));
            files.push(cand(&format!("notes/n{n}.rs"), &text));
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let pinned = BTreeSet::new();
        let cache = Cache::default();
        let git = GitFacts::default();
        let limits = budget(3_000);
        let packed = pack(
            input(&mut files, &pinned, "config token", &git, &cache),
            limits,
            &templates,
            TokenCounter::new(),
        )
        .unwrap();
        assert!(!packed.prompt.user.contains(key), "{}", packed.prompt.user);
        assert!(packed.prompt.user.contains("[REDACTED:github-token]"));
        assert_eq!(packed.redactions.len(), 1);
        assert_eq!(packed.redactions[0].path, "src/config.rs");
        // The clean files scanned are known clean from now on; the one with the secret is not, and the huge
        // file was never scanned.
        let at = |path: &str| files.iter().position(|f| f.path == path).unwrap();
        assert!(packed.clean.contains(&at("src/main.rs")));
        assert!(!packed.clean.contains(&at("src/config.rs")));
        assert!(!packed.clean.contains(&at("zz/huge.txt")));
        // The file's own blob id is what the snapshot records; its count went to the redacted text's id.
        let config = at("src/config.rs");
        assert_eq!(
            packed.ids[config],
            cache::blob_id(files[config].text().as_bytes())
        );
        assert!(cache.find(&packed.ids[config], |e| e.tokens).is_none());
        // Allowed, the secret goes as it is and nothing is scanned.
        let mut allowed = input(&mut files, &pinned, "config token", &git, &cache);
        allowed.scan_secrets = false;
        let packed = pack(allowed, limits, &templates, TokenCounter::new()).unwrap();
        assert!(packed.prompt.user.contains(key));
        assert!(packed.redactions.is_empty() && packed.clean.is_empty());
    }

    #[test]
    fn a_relevant_file_too_large_to_fit_is_outlined_and_a_second_run_hits_the_cache() {
        let templates = Templates::load(&[]).unwrap();
        let mut big = String::from("pub struct Verbose;\n");
        for n in 0..300 {
            big.push_str(&format!(
                "pub fn verbose_step_{n}(x: u32) -> u32 {{\n    x + {n}\n}}\n"
            ));
        }
        let mut files = vec![
            cand("src/verbose.rs", &big),
            cand(
                "src/cli.rs",
                "struct Args { quiet: bool }\nfn parse() -> Args { todo() }\n",
            ),
        ];
        let limits = budget(2500);
        let git = GitFacts::default();
        let cache = Cache::default();
        let pinned = BTreeSet::new();
        let mut run = || {
            pack(
                input(&mut files, &pinned, "make Verbose print more", &git, &cache),
                limits,
                &templates,
                TokenCounter::new(),
            )
            .unwrap()
        };
        let packed = run();
        assert_eq!(packed.outlined.len(), 1, "{:?}", packed.ranking);
        assert_eq!(packed.outlined[0].path, "src/verbose.rs");
        assert!(
            packed
                .prompt
                .user
                .contains("### src/verbose.rs (outline)\n")
        );
        assert!(packed.prompt.user.contains(" 1: pub struct Verbose;\n"));
        assert!(packed.prompt_tokens <= 2500);
        assert_eq!(packed.cache_hits, 0);
        let again = run();
        assert!(again.cache_hits >= 2, "{}", again.cache_hits);
        assert_eq!(again.prompt, packed.prompt);
    }

    /// Once indexed, the text of a file the walk read is let go; the files the prompt shows are read again,
    /// and the prompt is what it would have been with every text in hand.
    #[test]
    fn a_cold_pack_lets_go_of_the_text_it_indexed_and_reads_again_what_it_shows() {
        let dir = tempfile::tempdir().unwrap();
        let filler = "fn filler() { let x = 1; }\n".repeat(2000);
        let sources = [
            (
                "src/cli.rs",
                "struct Args { verbose: bool }\nfn parse() -> Args { todo() }\n",
            ),
            ("src/main.rs", "fn main() { let args = cli::parse(); }\n"),
        ];
        let sources = sources.map(|(p, t)| (p.to_string(), t.to_string()));
        let fillers = (0..10).map(|n| (format!("zz/filler{n}.txt"), filler.clone()));
        for (path, text) in sources.into_iter().chain(fillers) {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        let opts = crate::repo::walk::WalkOptions {
            max_file_size: 1 << 20,
            ..Default::default()
        };
        let walk = crate::repo::walk::walk(dir.path(), &opts, &Default::default()).unwrap();
        let mut files = walk.files;
        assert!(files.iter().all(Candidate::is_read));
        let mut in_hand: Vec<Candidate> = files
            .iter()
            .map(|f| Candidate::new(f.path.clone(), f.text()))
            .collect();
        let templates = Templates::load(&[]).unwrap();
        let limits = budget(1200);
        let (git, pinned) = (GitFacts::default(), BTreeSet::new());
        let request = "add a verbose flag to the cli args";
        let run = |files: &mut [Candidate]| {
            let cache = Cache::default();
            let input = input(files, &pinned, request, &git, &cache);
            pack(input, limits, &templates, TokenCounter::new()).unwrap()
        };
        let released = run(&mut files);
        let kept = run(&mut in_hand);
        assert_eq!(released.prompt, kept.prompt);
        assert!(
            released
                .prompt
                .user
                .contains("struct Args { verbose: bool }")
        );
        // Past what is counted, outlined or shown, nothing was read again.
        let held = files.iter().filter(|f| f.is_read()).count();
        assert!(held <= 6, "{held} texts held");
        // A candidate that was never on disk keeps its text.
        assert!(in_hand.iter().all(Candidate::is_read));
    }

    #[test]
    fn a_budget_below_the_template_is_an_error() {
        let templates = Templates::load(&[]).unwrap();
        let limits = budget(20);
        let err = pack(
            input(
                &mut [],
                &BTreeSet::new(),
                "x",
                &GitFacts::default(),
                &Cache::default(),
            ),
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
