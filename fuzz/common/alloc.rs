//! The largest single allocation the code under test asks for: a parser of a file of n bytes must not reserve
//! room by a count read from the file that the file cannot hold (a corrupt count can be anything).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Probe;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; the probe only notes the sizes asked for.
unsafe impl GlobalAlloc for Probe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static PROBE: Probe = Probe;

/// Run `parse` over `data` and check that no single allocation it made exceeded a small multiple of the
/// input's size (64 bytes of memory per byte read covers the widest record in memory per byte on disk), plus
/// 1 MiB for reservations capped by a constant (the cache's text memo reserves up to 1,024 texts).
pub fn bounded<T>(data: &[u8], parse: impl FnOnce(&[u8]) -> T) -> T {
    LARGEST.store(0, Ordering::Relaxed);
    let out = parse(data);
    let largest = LARGEST.load(Ordering::Relaxed);
    let limit = 64 * data.len() + (1 << 20);
    assert!(
        largest <= limit,
        "parsing {} bytes allocated {largest} bytes at once (limit {limit})",
        data.len()
    );
    out
}
