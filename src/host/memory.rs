//! How the process's allocator hands memory back to the operating system.
//!
//! A training step on the CPU backend allocates and frees the same large buffers every step
//! (activations, gradients, the LM head's tiles). glibc's malloc serves blocks above its mmap
//! threshold (dynamic, from 128 KiB) with fresh mappings and unmaps them on free, and trims the
//! top of its heaps as they shrink, so each step faults those pages in again and the kernel
//! zeroes every one of them: a fifth of a Qwen2.5-0.5B-shaped step's time in a profile. Raising
//! the threshold to glibc's maximum and switching trimming off keeps freed memory for the next
//! step instead; the peak resident memory is unchanged (measured), it is just not returned
//! between steps.

/// glibc's largest accepted mmap threshold on 64-bit targets (`DEFAULT_MMAP_THRESHOLD_MAX`):
/// blocks of at least this size are still mapped and unmapped one by one.
pub const MMAP_THRESHOLD_BYTES: usize = 32 << 20;

/// Makes freed memory stay in the process for reuse (see the module docs). Returns whether the
/// allocator accepted both settings: `true` on glibc, `false` on other C libraries, where it
/// changes nothing. Call it once, first thing in `main`, before other threads start.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let threshold = MMAP_THRESHOLD_BYTES as libc::c_int;
        // SAFETY: mallopt only sets allocator parameters; it is called before other threads
        // allocate, as glibc's documentation asks.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc accepts both settings, and a block below the threshold then comes from the heap
    /// rather than from a mapping of its own (without the settings, glibc's dynamic threshold
    /// starts at 128 KiB and maps it).
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn blocks_below_the_threshold_come_from_the_heap() {
        assert!(retain_freed_memory());
        let size = MMAP_THRESHOLD_BYTES - (8 << 20);
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let mapped = || unsafe { libc::mallinfo2() }.hblkhd;
        let before = mapped();
        let block = std::hint::black_box(vec![1u8; size]);
        let grown = mapped().saturating_sub(before);
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), size);
        assert!(
            grown < size,
            "a {size}-byte block was mapped on its own ({grown} bytes more mapped)"
        );
    }
}
