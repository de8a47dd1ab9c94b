//! Read-only git facts for ranking: files with uncommitted changes, recently changed files, and which files
//! change together. Nothing here writes to the repository; a directory that is not a git repository simply
//! has no facts.

use std::path::Path;

use git2::{DiffOptions, Repository, Sort, StatusOptions};

use crate::pack::rank::GitFacts;

/// How many commits of history to read.
const HISTORY: usize = 300;
/// Commits changing more files than this say nothing about which files belong together.
const LARGE_COMMIT: usize = 40;

/// Gather the facts; any git failure yields fewer facts, never an error.
pub fn git_facts(root: &Path) -> GitFacts {
    let mut facts = GitFacts::default();
    let Ok(repo) = Repository::open(root) else {
        return facts;
    };
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .exclude_submodules(true)
        .include_ignored(false);
    if let Ok(statuses) = repo.statuses(Some(&mut opts)) {
        for entry in statuses.iter() {
            if let Ok(path) = entry.path() {
                facts.dirty.insert(path.to_string());
            }
        }
    }
    let Ok(mut walk) = repo.revwalk() else {
        return facts;
    };
    if walk.push_head().is_err() {
        return facts;
    }
    let _ = walk.set_sorting(Sort::TIME);
    for (age, oid) in walk.take(HISTORY).enumerate() {
        let Some(commit) = oid.ok().and_then(|o| repo.find_commit(o).ok()) else {
            break;
        };
        // Root commits import the project: they say nothing about recency or coupling.
        let Ok(parent) = commit.parent(0) else {
            continue;
        };
        let (Ok(tree), Ok(parent_tree)) = (commit.tree(), parent.tree()) else {
            continue;
        };
        let mut diff_opts = DiffOptions::new();
        diff_opts.skip_binary_check(true);
        let Ok(diff) =
            repo.diff_tree_to_tree(Some(&parent_tree), Some(&tree), Some(&mut diff_opts))
        else {
            continue;
        };
        let paths: Vec<String> = diff
            .deltas()
            .filter_map(|d| d.new_file().path().or_else(|| d.old_file().path()))
            .filter_map(|p| p.to_str().map(str::to_string))
            .collect();
        let weight = 1.0 / (1.0 + age as f64 / 10.0);
        for p in &paths {
            let w = facts.recent.entry(p.clone()).or_insert(0.0);
            *w = f64::max(*w, weight);
        }
        if (2..=LARGE_COMMIT).contains(&paths.len()) {
            facts.commits.push(paths);
        }
    }
    facts
}
