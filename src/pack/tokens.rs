//! Token counting with tiktoken-rs. The BPE tables are built once per process (a few hundred milliseconds),
//! then counting is a pure function of the text.

use tiktoken_rs::CoreBPE;

/// Counts tokens with the o200k_base encoding: an estimate for local models, whose own tokenizers differ, but
/// a close and stable one for code.
///
/// The tables are built on the first count, not before: a warm pack whose counts all come from the cache
/// never builds them. [`TokenCounter::prepare`] builds them ahead of time on another thread.
#[derive(Clone, Copy, Default)]
pub struct TokenCounter;

impl TokenCounter {
    pub fn new() -> TokenCounter {
        TokenCounter
    }

    fn bpe(&self) -> &'static CoreBPE {
        tiktoken_rs::o200k_base_singleton()
    }

    /// Build the tables now (they are shared by every counter of the process).
    pub fn prepare() {
        let _ = tiktoken_rs::o200k_base_singleton();
    }

    pub fn count(&self, text: &str) -> usize {
        self.bpe().encode_ordinary(text).len()
    }

    /// Count `text`, remembering the count in `memo` by a hash of the text.
    pub fn count_memo(&self, text: &str, memo: &super::cache::Cache) -> usize {
        let key = super::cache::text_key(text);
        if let Some(n) = memo.text_count(key) {
            return n as usize;
        }
        let n = self.count(text);
        memo.remember_count(key, n.min(u32::MAX as usize) as u32);
        n
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
