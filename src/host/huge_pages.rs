//! Large blocks of memory on transparent huge pages.
//!
//! Decoding one token on the CPU reads every weight once; with the 47M bench shape that is the
//! 155 MB LM head plus 32 MB of layers per token, so a decoding step is bound by how fast memory
//! streams in. On 4 KiB pages that read also walks the page tables for every 4 KiB (twice over
//! in a virtual machine, through the guest's and the host's tables): measured on a 2-vCPU Xeon
//! VM, two threads summing a 155 MB buffer read it at 23 GB/s on 4 KiB pages and at 35 GB/s on
//! 2 MiB pages. Linux gives anonymous memory huge pages only where the process asks for them
//! (`madvise(MADV_HUGEPAGE)`) when the system's `transparent_hugepage/enabled` is `madvise`, the
//! default of most distributions. [`HugePageAllocator`], the process's global allocator, asks for
//! them on the 2 MiB-aligned interior of every block of at least [`HUGE_PAGE_BYTES`]: weight
//! matrices, the LM head, activations and gradients of a training step. Smaller blocks stay as
//! the system allocator gives them. The advice changes page sizes only, never values; where the
//! kernel has no transparent huge pages (or `enabled` is `never`, or the process set
//! `PR_SET_THP_DISABLE`) it changes nothing. The allocator also keeps the last very large block
//! freed for the next request of its size ([`super::kept_block`]).

use std::alloc::{GlobalAlloc, Layout, System};

use super::kept_block::{Block, KeptBlock};

/// Size of an x86-64 / aarch64 (4 KiB base page) transparent huge page, and the smallest block
/// the allocator advises.
pub const HUGE_PAGE_BYTES: usize = 2 << 20;

/// The system allocator, asking for huge pages on large blocks and keeping the last very large
/// block freed (see the module docs).
#[derive(Debug, Default)]
pub struct HugePageAllocator {
    kept: KeptBlock,
}

impl HugePageAllocator {
    /// An allocator with nothing kept.
    pub const fn new() -> Self {
        Self {
            kept: KeptBlock::new(),
        }
    }

    /// For a request of `layout`: the kept block, when its layout is exactly `layout`; a kept
    /// block of another layout is freed when `layout` is very large too ([`KeptBlock::keeps`]).
    fn take_kept(&self, layout: Layout) -> Option<*mut u8> {
        if !KeptBlock::keeps(layout) {
            return None;
        }
        match self.kept.take(layout) {
            Ok(block) => Some(block.address as *mut u8),
            Err(evicted) => {
                if let Some(evicted) = evicted {
                    // SAFETY: a kept block was allocated by `System` with its layout, and the
                    // slot no longer holds it.
                    unsafe { System.dealloc(evicted.address as *mut u8, evicted.layout) }
                }
                None
            }
        }
    }
}

#[global_allocator]
static GLOBAL: HugePageAllocator = HugePageAllocator::new();

// SAFETY: every call is forwarded to `System` with the caller's arguments, except that a freed
// block of at least `KEPT_BLOCK_MIN_BYTES` may be kept (still allocated by `System`, owned by
// `self.kept`) and handed out again, whole, for a request of exactly its layout, zeroed first
// when the request is for zeroed memory; a block it displaces goes to `System.dealloc` with its
// own layout. The advice only changes the page size behind whole huge pages inside a block.
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(kept) = self.take_kept(layout) {
            return kept;
        }
        // SAFETY: the caller's contract for `alloc` is `System.alloc`'s.
        let block = unsafe { System.alloc(layout) };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if let Some(kept) = self.take_kept(layout) {
            // SAFETY: the kept block is `layout.size()` bytes, allocated and now the caller's.
            unsafe { kept.write_bytes(0, layout.size()) };
            return kept;
        }
        // SAFETY: as for `alloc`.
        let block = unsafe { System.alloc_zeroed(layout) };
        advise_huge_pages(block, layout.size());
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let block = Block {
            address: block as usize,
            layout,
        };
        let freed = if KeptBlock::keeps(layout) {
            self.kept.keep(block)
        } else {
            Some(block)
        };
        if let Some(freed) = freed {
            // SAFETY: `freed` is the caller's block (the caller's contract for `dealloc` is
            // `System.dealloc`'s) or one `self.kept` held, allocated by `System` with its layout.
            unsafe { System.dealloc(freed.address as *mut u8, freed.layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is `System.realloc`'s.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        advise_huge_pages(moved, new_size);
        moved
    }
}

/// The whole huge pages inside `[start, start + len)`, as `(first byte, length)`, or `None`
/// when the range holds none.
pub fn huge_page_interior(start: usize, len: usize) -> Option<(usize, usize)> {
    let first = start.checked_next_multiple_of(HUGE_PAGE_BYTES)?;
    let end = start.checked_add(len)? / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
    (end > first).then(|| (first, end - first))
}

/// Asks the kernel for huge pages behind the whole huge pages of a block of `len` bytes at
/// `block` (nothing for a null block or one without a whole huge page). Errors are ignored: the
/// advice is an optimisation, and without it the block is still valid memory.
fn advise_huge_pages(block: *mut u8, len: usize) {
    if block.is_null() || len < HUGE_PAGE_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Some((first, bytes)) = huge_page_interior(block as usize, len) {
        // SAFETY: the range lies inside the block the allocator has just handed out, which is
        // mapped; MADV_HUGEPAGE changes the page size backing it and no byte of its contents.
        unsafe {
            libc::madvise(first as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn the_interior_is_the_whole_huge_pages_of_the_range() {
        // Aligned start and length: the whole range.
        assert_eq!(
            huge_page_interior(4 * MIB, 4 * MIB),
            Some((4 * MIB, 4 * MIB))
        );
        // 16 bytes past a boundary (a malloc header): the next boundary to the last whole one.
        assert_eq!(
            huge_page_interior(2 * MIB + 16, 6 * MIB),
            Some((4 * MIB, 4 * MIB))
        );
        // 2 MiB straddling a boundary holds no whole huge page, one byte short of one neither.
        assert_eq!(huge_page_interior(MIB, 2 * MIB), None);
        assert_eq!(huge_page_interior(MIB, 3 * MIB - 1), None);
        // Ending exactly on a boundary: the page before it.
        assert_eq!(huge_page_interior(MIB, 3 * MIB), Some((2 * MIB, 2 * MIB)));
        assert_eq!(huge_page_interior(MIB, 5 * MIB), Some((2 * MIB, 4 * MIB)));
        assert_eq!(huge_page_interior(0, MIB), None);
        assert_eq!(huge_page_interior(usize::MAX - MIB, 2 * MIB), None);
    }

    /// The process's allocator is this one (the library declares it), so a large vector lies in
    /// a mapping marked for huge pages (`hg` in its smaps `VmFlags`; the system allocator maps
    /// a 64 MiB block on its own, without the mark).
    #[test]
    #[cfg(target_os = "linux")]
    fn large_blocks_are_advised() {
        let enabled = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        if !enabled
            .as_deref()
            .is_ok_and(|modes| !modes.contains("[never]"))
        {
            eprintln!("skipped: no transparent huge pages on this system ({enabled:?})");
            return;
        }
        let large = vec![1u8; 64 * MIB];
        let large_flags = vm_flags_at(large.as_ptr() as usize + 32 * MIB);
        assert!(large_flags.contains(&"hg".to_string()), "{large_flags:?}");
    }

    /// A very large block freed is kept and goes, whole, to the next request of its layout,
    /// zeroed when that request wants zeroed memory; other blocks are freed.
    #[test]
    fn a_freed_very_large_block_is_kept_and_reused() {
        let allocator = HugePageAllocator::new();
        let size = super::super::kept_block::KEPT_BLOCK_MIN_BYTES;
        let layout = Layout::from_size_align(size, 64).unwrap();
        let small = Layout::from_size_align(size / 2, 64).unwrap();
        // SAFETY: each block is used within its layout and freed once, with its layout.
        unsafe {
            let first = allocator.alloc(layout);
            assert!(!first.is_null());
            first.add(size / 2).write(7);
            first.add(size - 1).write(9);
            allocator.dealloc(first, layout);
            // Too small to keep: freed, and the kept block stays.
            let other = allocator.alloc(small);
            allocator.dealloc(other, small);
            let second = allocator.alloc_zeroed(layout);
            assert_eq!(second, first, "the kept block was not handed out");
            assert_eq!(
                (second.add(size / 2).read(), second.add(size - 1).read()),
                (0, 0)
            );
            assert_eq!(
                allocator.kept.take(layout),
                Err(None),
                "handed out, yet still kept"
            );
            allocator.dealloc(second, layout);
            let third = allocator.alloc(layout);
            assert_eq!(third, first);
            allocator.dealloc(third, layout);
            // A very large request of another size frees the kept block.
            let larger = Layout::from_size_align(2 * size, 64).unwrap();
            let fourth = allocator.alloc(larger);
            assert_eq!(allocator.kept.take(layout), Err(None), "still kept");
            allocator.dealloc(fourth, larger);
            let kept = allocator
                .kept
                .take(larger)
                .expect("kept after the last free");
            System.dealloc(kept.address as *mut u8, kept.layout);
        }
    }

    /// The `VmFlags` of the mapping of this process holding `address`.
    #[cfg(target_os = "linux")]
    fn vm_flags_at(address: usize) -> Vec<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let range = |line: &str| {
            let (from, to) = line.split_whitespace().next()?.split_once('-')?;
            Some(usize::from_str_radix(from, 16).ok()?..usize::from_str_radix(to, 16).ok()?)
        };
        let mut inside = false;
        for line in smaps.lines() {
            if let Some(range) = range(line) {
                inside = range.contains(&address);
            } else if let Some(flags) = line.strip_prefix("VmFlags:").filter(|_| inside) {
                return flags.split_whitespace().map(str::to_string).collect();
            }
        }
        panic!("no mapping of this process holds {address:#x}")
    }
}
