//! The small binary files onepass keeps in `.git/onepass/`: little-endian fields read with bounds checks (a
//! truncated or corrupt file reads as `None`, never a panic) and files replaced atomically.

use std::path::Path;

/// Reads little-endian fields from a byte slice, front to back.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// Whether every byte was read.
    pub fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// The room to reserve for `count` records read from the file, each at least `min_size` bytes: no more
    /// than the unread bytes can hold, since a corrupt count can be anything.
    pub fn capacity(&self, count: usize, min_size: usize) -> usize {
        count.min((self.bytes.len() - self.at) / min_size.max(1))
    }
}

/// Replace the file at `path` with `bytes` atomically (write a temporary file beside it, then rename),
/// creating its directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_bounded_by_the_unread_bytes() {
        let bytes = [0u8; 100];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.capacity(3, 10), 3);
        assert_eq!(r.capacity(u32::MAX as usize, 10), 10);
        r.take(95).unwrap();
        assert_eq!(r.capacity(u32::MAX as usize, 10), 0);
        assert_eq!(r.capacity(u32::MAX as usize, 0), 5);
    }
}
