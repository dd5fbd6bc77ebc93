//! The last freed very large block, kept for the next request of the same size.
//!
//! A training step allocates a few blocks far above glibc's largest mmap threshold and frees them
//! at its end: the LM head's `[vocab, hidden]` gradient is 519 MiB at the Qwen2.5-0.5B shape.
//! glibc maps each such block on its own and unmaps it on free, so every step faults the block in
//! again and the kernel zeroes each of its pages. [`KeptBlock`] holds the last one freed instead,
//! and hands it to the next request of a very large block if that request has exactly its size
//! and alignment; a request of another layout frees it first. So the process holds one block at
//! most beyond what the program holds, and only until the next very large request.

use std::alloc::Layout;
use std::sync::Mutex;

/// The smallest block kept: far above glibc's largest mmap threshold (32 MiB) and above a chunk
/// of logits (at most 128 MiB), so that in practice only a model-sized gradient is kept.
pub const KEPT_BLOCK_MIN_BYTES: usize = 256 << 20;

/// A block from the system allocator with the layout it was allocated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Its first byte.
    pub address: usize,
    /// Its size and alignment.
    pub layout: Layout,
}

/// One slot for a freed block (see the module docs). Taking and keeping lock a mutex, which
/// allocates nothing, so the global allocator can use it.
#[derive(Debug, Default)]
pub struct KeptBlock {
    slot: Mutex<Option<Block>>,
}

impl KeptBlock {
    /// An empty slot.
    pub const fn new() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }

    /// Whether blocks of `layout` are kept at all.
    pub fn keeps(layout: Layout) -> bool {
        layout.size() >= KEPT_BLOCK_MIN_BYTES
    }

    /// Empties the slot for a request of `layout`: `Ok` with the kept block when its layout is
    /// exactly `layout`, else `Err` with the block the caller must now free, if one was kept.
    pub fn take(&self, layout: Layout) -> Result<Block, Option<Block>> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some(block) if block.layout == layout => Ok(block),
            other => Err(other),
        }
    }

    /// Keeps `block` in place of the kept one, and returns what the caller must now free: the
    /// block it displaced, if any.
    pub fn keep(&self, block: Block) -> Option<Block> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.replace(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(address: usize, size: usize) -> Block {
        Block {
            address,
            layout: Layout::from_size_align(size, 64).unwrap(),
        }
    }

    #[test]
    fn a_kept_block_goes_to_a_request_of_its_exact_layout() {
        let kept = KeptBlock::new();
        let size = KEPT_BLOCK_MIN_BYTES;
        assert_eq!(kept.keep(block(4096, size)), None);
        assert_eq!(kept.take(block(0, size).layout), Ok(block(4096, size)));
        // Taken: the slot is empty.
        assert_eq!(kept.take(block(0, size).layout), Err(None));
    }

    #[test]
    fn a_request_of_another_layout_frees_the_kept_block() {
        let kept = KeptBlock::new();
        let size = KEPT_BLOCK_MIN_BYTES;
        // Another size, then another alignment: the kept block comes back to be freed.
        assert_eq!(kept.keep(block(4096, size)), None);
        let larger = block(0, size + 64).layout;
        assert_eq!(kept.take(larger), Err(Some(block(4096, size))));
        assert_eq!(kept.take(block(0, size).layout), Err(None));
        assert_eq!(kept.keep(block(4096, size)), None);
        let wider = Layout::from_size_align(size, 128).unwrap();
        assert_eq!(kept.take(wider), Err(Some(block(4096, size))));
    }

    #[test]
    fn keeping_a_block_hands_back_the_one_it_displaces() {
        let kept = KeptBlock::new();
        let size = KEPT_BLOCK_MIN_BYTES;
        assert_eq!(kept.keep(block(4096, size)), None);
        assert_eq!(kept.keep(block(8192, 2 * size)), Some(block(4096, size)));
        assert_eq!(
            kept.take(block(0, 2 * size).layout),
            Ok(block(8192, 2 * size))
        );
    }

    #[test]
    fn only_blocks_above_the_minimum_are_kept() {
        assert!(KeptBlock::keeps(block(0, KEPT_BLOCK_MIN_BYTES).layout));
        assert!(!KeptBlock::keeps(
            block(0, KEPT_BLOCK_MIN_BYTES - 64).layout
        ));
    }
}
