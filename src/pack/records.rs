//! Sorted lists of 32-bit keys in a shared byte buffer: a file's index data either freshly built or read from
//! the cache without copying. Loading the cache of a large repository is then one read of the file; the
//! ranking scans the keys where they lie.
//!
//! A key is a 64-bit term hash folded to 32 bits ([`key`]): it halves what is stored, read and scanned.
//! Two different terms sharing a key among the few hundred thousand distinct terms of a large repository is
//! rare, and then only blurs one ranking signal of the files that hold them.

use std::sync::Arc;

/// The 32-bit key a 64-bit hash is stored and looked up under.
pub fn key(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

/// `n` little-endian keys, sorted ascending, at `buf[at..at + 4 * n]`.
#[derive(Clone, Default)]
pub struct Keys {
    buf: Arc<Vec<u8>>,
    at: usize,
    n: usize,
}

/// `end` of `n` items of `width` bytes from `at`, when they lie inside `len` bytes.
fn span(len: usize, at: usize, n: usize, width: usize) -> Option<usize> {
    let end = n.checked_mul(width)?.checked_add(at)?;
    (end <= len).then_some(end)
}

impl Keys {
    /// The `n` keys at `at` in `buf`; `None` when they do not lie inside it.
    pub fn view(buf: &Arc<Vec<u8>>, at: usize, n: usize) -> Option<Self> {
        span(buf.len(), at, n, 4)?;
        Some(Keys {
            buf: Arc::clone(buf),
            at,
            n,
        })
    }

    /// Encode keys sorted ascending.
    pub fn from_sorted(keys: &[u32]) -> Keys {
        let mut buf = Vec::with_capacity(keys.len() * 4);
        for k in keys {
            buf.extend_from_slice(&k.to_le_bytes());
        }
        Keys {
            buf: Arc::new(buf),
            at: 0,
            n: keys.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The raw bytes of the keys, to write them out as they are.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.at..self.at + self.n * 4]
    }

    pub fn get(&self, i: usize) -> u32 {
        let at = self.at + i * 4;
        let b = &self.buf[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Where `key` is, or where it would go.
    pub fn binary_search(&self, key: u32) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, key: u32) -> bool {
        self.binary_search(key).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes()
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A file's terms: its keys, then as many little-endian 16-bit occurrence counts (saturated), in one run of
/// bytes. A scan for the request's terms reads only the keys.
#[derive(Clone, Default)]
pub struct Terms {
    keys: Keys,
}

impl Terms {
    /// The `n` terms at `at` in `buf`; `None` when they do not lie inside it.
    pub fn view(buf: &Arc<Vec<u8>>, at: usize, n: usize) -> Option<Self> {
        span(buf.len(), at, n, 6)?;
        Keys::view(buf, at, n).map(|keys| Terms { keys })
    }

    /// Encode (key, occurrences) pairs sorted by key.
    pub fn from_sorted(pairs: &[(u32, u32)]) -> Terms {
        let mut buf = Vec::with_capacity(pairs.len() * 6);
        for &(k, _) in pairs {
            buf.extend_from_slice(&k.to_le_bytes());
        }
        for &(_, c) in pairs {
            buf.extend_from_slice(&(c.min(u32::from(u16::MAX)) as u16).to_le_bytes());
        }
        Terms {
            keys: Keys {
                buf: Arc::new(buf),
                at: 0,
                n: pairs.len(),
            },
        }
    }

    /// How many bytes `n` terms take.
    pub fn size(n: usize) -> Option<usize> {
        n.checked_mul(6)
    }

    pub fn len(&self) -> usize {
        self.keys.n
    }

    pub fn is_empty(&self) -> bool {
        self.keys.n == 0
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Occurrences of the `i`th term.
    pub fn count(&self, i: usize) -> u32 {
        let at = self.keys.at + self.keys.n * 4 + i * 2;
        let b = &self.keys.buf[at..at + 2];
        u32::from(u16::from_le_bytes([b[0], b[1]]))
    }

    /// The raw bytes (keys, then counts), to write them out as they are.
    pub fn bytes(&self) -> &[u8] {
        let k = &self.keys;
        &k.buf[k.at..k.at + k.n * 6]
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k, self.count(i)))
    }
}

macro_rules! by_bytes {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.bytes() == other.bytes()
            }
        }

        impl Eq for $t {}

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}[{}]", stringify!($t), self.len())
            }
        }
    };
}

by_bytes!(Keys);
by_bytes!(Terms);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_and_terms_read_back_and_search() {
        let terms = Terms::from_sorted(&[(3, 1), (10, 7), (u32::MAX, 70_000)]);
        assert_eq!(terms.len(), 3);
        assert_eq!(terms.count(1), 7);
        // Counts saturate at 16 bits.
        assert_eq!(
            terms.iter().collect::<Vec<_>>(),
            [(3, 1), (10, 7), (u32::MAX, 65_535)]
        );
        assert_eq!(terms.keys().binary_search(10), Ok(1));
        assert_eq!(terms.keys().binary_search(4), Err(1));
        assert!(terms.keys().contains(u32::MAX) && !terms.keys().contains(0));
        let keys = Keys::from_sorted(&[1, 5, 9]);
        assert_eq!(keys.iter().collect::<Vec<_>>(), [1, 5, 9]);
        assert!(keys.contains(5) && !keys.contains(6));
        assert!(Keys::default().is_empty() && !Keys::default().contains(0));
        // A view of another buffer: the same terms, and out-of-range views are refused.
        let mut buf = vec![0xAA; 4];
        buf.extend_from_slice(terms.bytes());
        let buf = Arc::new(buf);
        let view = Terms::view(&buf, 4, 3).unwrap();
        assert_eq!(view, terms);
        assert_eq!(view.count(2), 65_535);
        assert!(Terms::view(&buf, 5, 3).is_none());
        assert!(Terms::view(&buf, 4, usize::MAX).is_none());
        assert!(Keys::view(&buf, 4, usize::MAX / 2).is_none());
    }

    #[test]
    fn a_key_folds_both_halves_of_the_hash() {
        assert_eq!(key(0x0000_0001_0000_0000), 1);
        assert_eq!(key(0xFFFF_FFFF_FFFF_FFFF), 0);
        assert_ne!(key(0x1234_5678_9ABC_DEF0), key(0x1234_5678_0000_0000));
    }
}
