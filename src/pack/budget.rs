//! Fits ranked files into a token budget. Pure: pinned files first and always whole, then the rest in rank
//! order, each whole or not at all; a file that does not fit does not stop smaller ones after it. Everything
//! left out is returned with its reason, never dropped silently.

use serde::Serialize;

/// One file offered to the packer, in rank order.
#[derive(Debug, Clone)]
pub struct Item {
    pub path: String,
    /// Tokens the file costs in the prompt, its framing included.
    pub tokens: usize,
    pub bytes: usize,
    pub pinned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Omitted {
    pub path: String,
    pub tokens: usize,
    pub bytes: usize,
    pub reason: OmitReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OmitReason {
    /// Did not fit in what was left of the budget.
    OverBudget,
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

/// Choose files for `budget` tokens. `items` must be in rank order; the prompt order of the result is by path,
/// which keeps the prompt's prefix stable between requests over the same files.
pub fn fit(items: &[Item], budget: usize) -> Result<Fit, BudgetError> {
    let pinned: usize = items.iter().filter(|i| i.pinned).map(|i| i.tokens).sum();
    if pinned > budget {
        return Err(BudgetError::PinnedOverBudget {
            needed: pinned,
            budget,
        });
    }
    let mut fit = Fit {
        tokens: pinned,
        ..Fit::default()
    };
    fit.included.extend(
        items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.pinned)
            .map(|(n, _)| n),
    );
    for (n, item) in items.iter().enumerate().filter(|(_, i)| !i.pinned) {
        if fit.tokens + item.tokens <= budget {
            fit.tokens += item.tokens;
            fit.included.push(n);
        } else {
            fit.omitted.push(Omitted {
                path: item.path.clone(),
                tokens: item.tokens,
                bytes: item.bytes,
                reason: OmitReason::OverBudget,
            });
        }
    }
    fit.included
        .sort_by(|&a, &b| items[a].path.cmp(&items[b].path));
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, tokens: usize, pinned: bool) -> Item {
        Item {
            path: path.into(),
            tokens,
            bytes: tokens * 4,
            pinned,
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
        let paths: Vec<_> = fit
            .included
            .iter()
            .map(|&i| items[i].path.as_str())
            .collect();
        assert_eq!(paths, ["a.rs", "b.rs", "z_pinned.rs"]);
        assert_eq!(fit.tokens, 100);
        assert_eq!(fit.omitted.len(), 1);
        assert_eq!(fit.omitted[0].path, "big.rs");
        assert_eq!(fit.omitted[0].reason, OmitReason::OverBudget);
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
        let items: Vec<_> = (0..20)
            .map(|n| item(&format!("f{n:02}.rs"), 10 + n, false))
            .collect();
        let fit = fit(&items, 120).unwrap();
        assert_eq!(fit.included.len() + fit.omitted.len(), items.len());
        assert!(fit.tokens <= 120);
    }
}
