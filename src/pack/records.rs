//! Sorted lists of little-endian records in a shared byte buffer: a file's index data either freshly built or
//! read from the cache without copying. Loading the cache of a large repository is then one read of the file;
//! the ranking scans the records where they lie.

use std::sync::Arc;

/// Records of `W` bytes, the first 8 of which are the sort key (a term hash), in `buf[at..at + n * W]`.
#[derive(Clone)]
pub struct Records<const W: usize> {
    buf: Arc<Vec<u8>>,
    at: usize,
    n: usize,
}

/// (term hash, occurrences) records.
pub type Terms = Records<12>;
/// Hash records.
pub type Hashes = Records<8>;

impl<const W: usize> Default for Records<W> {
    fn default() -> Self {
        Records {
            buf: Arc::default(),
            at: 0,
            n: 0,
        }
    }
}

impl<const W: usize> Records<W> {
    /// The `n` records at `at` in `buf`; `None` when they do not lie inside it.
    pub fn view(buf: &Arc<Vec<u8>>, at: usize, n: usize) -> Option<Self> {
        let end = n.checked_mul(W)?.checked_add(at)?;
        (end <= buf.len()).then(|| Records {
            buf: Arc::clone(buf),
            at,
            n,
        })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The raw bytes of the records, to write them out as they are.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.at..self.at + self.n * W]
    }

    fn record(&self, i: usize) -> &[u8] {
        let at = self.at + i * W;
        &self.buf[at..at + W]
    }

    fn key(&self, i: usize) -> u64 {
        let r = self.record(i);
        u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]])
    }

    /// Where `key` is, or where it would go.
    pub fn binary_search(&self, key: &u64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, key: &u64) -> bool {
        self.binary_search(key).is_ok()
    }
}

impl Terms {
    /// Encode (hash, count) pairs sorted by hash.
    pub fn from_sorted(pairs: &[(u64, u32)]) -> Terms {
        let mut buf = Vec::with_capacity(pairs.len() * 12);
        for &(h, c) in pairs {
            buf.extend_from_slice(&h.to_le_bytes());
            buf.extend_from_slice(&c.to_le_bytes());
        }
        Records {
            buf: Arc::new(buf),
            at: 0,
            n: pairs.len(),
        }
    }

    pub fn get(&self, i: usize) -> (u64, u32) {
        let r = self.record(i);
        (self.key(i), u32::from_le_bytes([r[8], r[9], r[10], r[11]]))
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.bytes().chunks_exact(12).map(|r| {
            (
                u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]),
                u32::from_le_bytes([r[8], r[9], r[10], r[11]]),
            )
        })
    }
}

impl Hashes {
    /// Encode hashes sorted ascending.
    pub fn from_sorted(hashes: &[u64]) -> Hashes {
        let mut buf = Vec::with_capacity(hashes.len() * 8);
        for h in hashes {
            buf.extend_from_slice(&h.to_le_bytes());
        }
        Records {
            buf: Arc::new(buf),
            at: 0,
            n: hashes.len(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bytes()
            .chunks_exact(8)
            .map(|r| u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]))
    }
}

impl<const W: usize> PartialEq for Records<W> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl<const W: usize> Eq for Records<W> {}

impl<const W: usize> std::fmt::Debug for Records<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Records<{W}>[{} records]", self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_records_read_back_and_search() {
        let terms = Terms::from_sorted(&[(3, 1), (10, 7), (u64::MAX, 2)]);
        assert_eq!(terms.len(), 3);
        assert_eq!(terms.get(1), (10, 7));
        assert_eq!(
            terms.iter().collect::<Vec<_>>(),
            [(3, 1), (10, 7), (u64::MAX, 2)]
        );
        assert_eq!(terms.binary_search(&10), Ok(1));
        assert_eq!(terms.binary_search(&4), Err(1));
        assert!(terms.contains(&u64::MAX) && !terms.contains(&0));
        let hashes = Hashes::from_sorted(&[1, 5, 9]);
        assert_eq!(hashes.iter().collect::<Vec<_>>(), [1, 5, 9]);
        assert!(hashes.contains(&5) && !hashes.contains(&6));
        assert!(Hashes::default().is_empty() && !Hashes::default().contains(&0));
        // A view of another buffer: the same records, and out-of-range views are refused.
        let mut buf = vec![0xAA; 4];
        buf.extend_from_slice(terms.bytes());
        let buf = Arc::new(buf);
        let view = Terms::view(&buf, 4, 3).unwrap();
        assert_eq!(view, terms);
        assert!(Terms::view(&buf, 5, 3).is_none());
        assert!(Terms::view(&buf, 4, usize::MAX).is_none());
    }
}
