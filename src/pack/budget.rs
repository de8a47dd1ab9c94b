//! Fits ranked files into a token budget. Pure: pinned files first and always whole, then the rest in rank
//! order, each whole or not at all; a file that does not fit does not stop smaller ones after it. Everything
//! left out is returned with its reason, never dropped silently.

use serde::Serialize;

/// One file offered to the packer, in rank order.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub path: &'a str,
    /// Tokens the file costs in the prompt, its framing included.
    pub tokens: usize,
    pub bytes: usize,
    pub pinned: bool,
    /// Relevance from the ranker; only its ratio to the best score matters.
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Omitted {
    pub path: String,
    pub tokens: usize,
    pub bytes: usize,
    pub score: f64,
    pub reason: OmitReason,
    /// Its place in `items` (the ranking).
    #[serde(skip)]
    pub rank: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OmitReason {
    /// Did not fit in what was left of the budget.
    OverBudget,
    /// Larger than the whole budget: it can only be outlined.
    LargerThanBudget,
}

/// The selection: indices into the offered items, in prompt order, and the omissions.
#[derive(Debug, Clone, Default)]
pub struct Fit {
    pub included: Vec<usize>,
    pub omitted: Vec<Omitted>,
    pub tokens: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("the pinned files need {needed} tokens but the budget is {budget}")]
    PinnedOverBudget { needed: usize, budget: usize },
}

/// How many of the best-ranked files the knapsack weighs; the rest fill what is left in rank order.
const WINDOW: usize = 400;
/// The knapsack counts tokens in at most this many steps.
const STEPS: usize = 4000;
/// Each place down the ranking multiplies a file's value in the knapsack by this.
const RANK_DECAY: f64 = 0.9;

/// Choose files for `budget` tokens. `items` must be in rank order. Pinned files come first and whole, then
/// the best-ranked file when it fits; the rest is a 0/1 knapsack over the best-ranked files whose value grows with the cube of the relevance
/// and decays with the rank, so a
/// few highly relevant small files are not crowded out by one huge file of similar relevance, but many
/// marginal files never outweigh one clearly relevant file. What is left is filled in rank order. The
/// prompt order of the result is by path, which keeps the prompt's prefix stable between requests.
pub fn fit(items: &[Item<'_>], budget: usize) -> Result<Fit, BudgetError> {
    let pinned: usize = items.iter().filter(|i| i.pinned).map(|i| i.tokens).sum();
    if pinned > budget {
        return Err(BudgetError::PinnedOverBudget {
            needed: pinned,
            budget,
        });
    }
    let mut room = budget - pinned;
    let mut chosen = vec![false; items.len()];
    for (n, item) in items.iter().enumerate() {
        chosen[n] = item.pinned;
    }
    // The best-ranked file is the one most often needed: it goes in whole whenever it fits at all.
    if let Some(top) = items.iter().position(|i| !i.pinned)
        && items[top].score > 0.0
        && items[top].tokens <= room
    {
        chosen[top] = true;
        room -= items[top].tokens;
    }
    let best = items
        .iter()
        .filter(|i| !i.pinned)
        .map(|i| i.score)
        .fold(0.0f64, f64::max);
    let window: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(n, i)| !chosen[*n] && i.tokens <= room)
        .map(|(n, _)| n)
        .take(WINDOW)
        .collect();
    if room > 0 && !window.is_empty() {
        let step = room.div_ceil(STEPS).max(1);
        let capacity = room / step;
        let cost: Vec<usize> = window
            .iter()
            .map(|&n| items[n].tokens.div_ceil(step))
            .collect();
        let value: Vec<f64> = window
            .iter()
            .enumerate()
            .map(|(rank, &n)| {
                let rel = if best > 0.0 {
                    items[n].score / best
                } else {
                    0.0
                };
                // Worth less the further down the ranking, whatever the score: when scores are close (no
                // strong signal) the rank still says which file is likelier needed, and a dozen small files
                // far down must not buy out one file near the top. A tiny rank-ordered bonus so that, all else
                // equal, more files and better-ranked ones win.
                rel.powi(3) * RANK_DECAY.powi(rank.min(1000) as i32) + 1e-6 / (1.0 + rank as f64)
            })
            .collect();
        // The best value for each capacity before and after weighing file k: two tables rather than one
        // updated in place, so that the inner loop has no dependency between capacities and no branch.
        let mut table = vec![0.0f64; capacity + 1];
        let mut next = vec![0.0f64; capacity + 1];
        let mut take = vec![vec![false; capacity + 1]; window.len()];
        for k in 0..window.len() {
            let cost = cost[k];
            if cost > capacity {
                continue;
            }
            next[..cost].copy_from_slice(&table[..cost]);
            let without = &table[cost..];
            let with_room = &table[..=capacity - cost];
            for (((best, took), &without), &before) in next[cost..]
                .iter_mut()
                .zip(&mut take[k][cost..])
                .zip(without)
                .zip(with_room)
            {
                let with = before + value[k];
                *took = with > without;
                *best = if *took { with } else { without };
            }
            std::mem::swap(&mut table, &mut next);
        }
        let mut c = capacity;
        for k in (0..window.len()).rev() {
            if take[k][c] {
                chosen[window[k]] = true;
                c -= cost[k];
            }
        }
    }
    let mut fit = Fit {
        tokens: items
            .iter()
            .zip(&chosen)
            .filter(|(_, c)| **c)
            .map(|(i, _)| i.tokens)
            .sum(),
        ..Fit::default()
    };
    for (n, item) in items.iter().enumerate() {
        if chosen[n] {
            fit.included.push(n);
        } else if fit.tokens + item.tokens <= budget {
            fit.tokens += item.tokens;
            fit.included.push(n);
        } else {
            fit.omitted.push(Omitted {
                path: item.path.to_string(),
                tokens: item.tokens,
                bytes: item.bytes,
                score: item.score,
                reason: if item.tokens > budget {
                    OmitReason::LargerThanBudget
                } else {
                    OmitReason::OverBudget
                },
                rank: n,
            });
        }
    }
    fit.included
        .sort_by(|&a, &b| items[a].path.cmp(items[b].path));
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, tokens: usize, pinned: bool) -> Item<'_> {
        scored(path, tokens, pinned, 1.0)
    }

    fn scored(path: &str, tokens: usize, pinned: bool, score: f64) -> Item<'_> {
        Item {
            path,
            tokens,
            bytes: tokens * 4,
            pinned,
            score,
        }
    }

    #[test]
    fn pinned_first_then_rank_order_skipping_what_does_not_fit() {
        let items = [
            item("z_pinned.rs", 50, true),
            item("big.rs", 80, false),
            item("b.rs", 30, false),
            item("a.rs", 20, false),
        ];
        let fit = fit(&items, 100).unwrap();
        let paths: Vec<_> = fit.included.iter().map(|&i| items[i].path).collect();
        assert_eq!(paths, ["a.rs", "b.rs", "z_pinned.rs"]);
        assert_eq!(fit.tokens, 100);
        assert_eq!(fit.omitted.len(), 1);
        assert_eq!(fit.omitted[0].path, "big.rs");
        assert_eq!(fit.omitted[0].reason, OmitReason::OverBudget);
    }

    #[test]
    fn small_relevant_files_are_not_crowded_out_by_a_huge_one() {
        let items = [
            scored("top.rs", 100, false, 12.0),
            scored("huge.rs", 1200, false, 10.0),
            scored("b.rs", 300, false, 9.0),
            scored("c.rs", 300, false, 8.5),
            scored("d.rs", 300, false, 8.0),
        ];
        let fit = fit(&items, 1400).unwrap();
        let paths: Vec<_> = fit.included.iter().map(|&i| items[i].path).collect();
        assert_eq!(paths, ["b.rs", "c.rs", "d.rs", "top.rs"]);
        assert_eq!(fit.omitted[0].path, "huge.rs");
    }

    #[test]
    fn many_marginal_files_do_not_outweigh_one_relevant_file() {
        let mut items = vec![
            scored("first.rs", 10, false, 11.0),
            scored("target.rs", 900, false, 10.0),
        ];
        let names: Vec<String> = (0..30).map(|n| format!("m{n:02}.rs")).collect();
        items.extend(names.iter().map(|name| scored(name, 30, false, 2.0)));
        let fit = fit(&items, 1010).unwrap();
        assert!(fit.included.contains(&1), "the relevant file is kept");
        assert!(fit.tokens <= 1010);
    }

    #[test]
    fn a_file_near_the_top_is_not_traded_for_many_small_ones_further_down() {
        // Close scores (no strong signal): at the margin, the third-ranked file must not give way to ten
        // small files from far down the ranking that together cost the same.
        let mut items = vec![
            scored("top.rs", 100, false, 34.0),
            scored("second.rs", 100, false, 31.0),
            scored("third.rs", 1000, false, 29.5),
        ];
        let names: Vec<String> = (0..60).map(|n| format!("m{n:02}.rs")).collect();
        items.extend(names.iter().map(|name| scored(name, 100, false, 26.0)));
        let fit = fit(&items, 4200).unwrap();
        assert!(fit.included.contains(&2), "{:?}", fit.included);
        assert_eq!(fit.tokens, 4200);
    }

    #[test]
    fn a_file_larger_than_the_budget_is_marked_so() {
        let items = [
            scored("giant.rs", 5000, false, 10.0),
            item("a.rs", 10, false),
        ];
        let fit = fit(&items, 1000).unwrap();
        assert_eq!(fit.omitted[0].reason, OmitReason::LargerThanBudget);
        assert_eq!(fit.included, [1]);
    }

    #[test]
    fn pinned_over_budget_is_an_error() {
        let items = [item("p.rs", 500, true)];
        assert_eq!(
            fit(&items, 100).unwrap_err(),
            BudgetError::PinnedOverBudget {
                needed: 500,
                budget: 100
            }
        );
    }

    #[test]
    fn nothing_is_dropped_silently() {
        let names: Vec<String> = (0..20).map(|n| format!("f{n:02}.rs")).collect();
        let items: Vec<_> = (0..20).map(|n| item(&names[n], 10 + n, false)).collect();
        let fit = fit(&items, 120).unwrap();
        assert_eq!(fit.included.len() + fit.omitted.len(), items.len());
        assert!(fit.tokens <= 120);
    }
}
