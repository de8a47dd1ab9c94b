//! Token counting with tiktoken-rs. The BPE tables are built once per process (a few hundred milliseconds),
//! then counting is a pure function of the text.

use tiktoken_rs::CoreBPE;

/// Counts tokens with the o200k_base encoding: an estimate for local models, whose own tokenizers differ, but
/// a close and stable one for code.
#[derive(Clone, Copy)]
pub struct TokenCounter {
    bpe: &'static CoreBPE,
}

impl TokenCounter {
    pub fn new() -> TokenCounter {
        TokenCounter {
            bpe: tiktoken_rs::o200k_base_singleton(),
        }
    }

    pub fn count(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// Count many texts on all cores, keeping their order.
    pub fn count_all(&self, texts: &[&str]) -> Vec<usize> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let chunk = texts.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = texts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|t| self.count(t)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }
}

impl Default for TokenCounter {
    fn default() -> Self {
        TokenCounter::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_plausible_and_ordered() {
        let counter = TokenCounter::new();
        assert_eq!(counter.count(""), 0);
        let short = counter.count("fn main() {}");
        assert!((3..=8).contains(&short), "{short}");
        let texts = ["a", "fn main() { println!(\"hello\"); }", ""];
        let counts = counter.count_all(&texts);
        assert_eq!(
            counts,
            texts.iter().map(|t| counter.count(t)).collect::<Vec<_>>()
        );
    }
}
