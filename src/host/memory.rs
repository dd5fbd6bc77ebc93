//! How the process's allocator hands memory back to the operating system.
//!
//! A training step on the CPU backend allocates and frees the same large buffers every step
//! (activations, gradients, the LM head's tiles). glibc's malloc hands freed memory back in three
//! ways, and each step then faults those pages in again and the kernel zeroes every one of them
//! (a fifth of a Qwen2.5-0.5B-shaped step's time in a profile):
//! - blocks above its mmap threshold (dynamic, from 128 KiB) get mappings of their own, unmapped
//!   on free: the threshold goes to glibc's maximum, 32 MiB;
//! - the top of a heap is trimmed as it shrinks: trimming goes off;
//! - a thread's arena grows by heaps of 64 MiB and unmaps a heap once all of it is free, whatever
//!   the trim threshold (the CPU backend's work runs on the pool's threads, so a step's
//!   activations fill and empty several such heaps): a top pad of a whole heap keeps them.
//!
//! The process then stays at its peak resident memory rather than falling back between steps
//! (the peak of a 0.5B step is unchanged; a smoke run plateaus at 78 MiB where it moved between
//! 44 and 60). `GLIBC_TUNABLES` setting any of the three turns this off.

/// glibc's largest accepted mmap threshold on 64-bit targets (`DEFAULT_MMAP_THRESHOLD_MAX`):
/// blocks of at least this size are still mapped and unmapped one by one.
pub const MMAP_THRESHOLD_BYTES: usize = 32 << 20;

/// The size of a thread arena's heap on 64-bit targets (`HEAP_MAX_SIZE`). glibc unmaps an
/// emptied heap unless the heap before it lacks room for the top pad; a pad this large never
/// fits, so no heap is unmapped. The pad also rounds up each growth of a heap or of the main
/// arena, address space the process touches only when it uses it.
pub const TOP_PAD_BYTES: usize = 64 << 20;

/// Makes freed memory stay in the process for reuse (see the module docs). Returns whether the
/// allocator accepted the settings: `true` on glibc, `false` on other C libraries, where it
/// changes nothing, and when `GLIBC_TUNABLES` already sets the mmap threshold, the trim threshold
/// or the top pad (the user's choice wins). Call it once, first thing in `main`, before other
/// threads start.
pub fn retain_freed_memory() -> bool {
    if user_sets_thresholds() {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let threshold = MMAP_THRESHOLD_BYTES as libc::c_int;
        let pad = TOP_PAD_BYTES as libc::c_int;
        // SAFETY: mallopt only changes allocator parameters, under the allocator's own locks;
        // it reads or writes no memory of ours. A trim threshold of -1 is glibc's "never trim".
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, -1) == 1
                && libc::mallopt(libc::M_TOP_PAD, pad) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Whether this process's `GLIBC_TUNABLES` sets the mmap threshold, the trim threshold or the
/// top pad.
fn user_sets_thresholds() -> bool {
    tunes_thresholds(std::env::var("GLIBC_TUNABLES").ok().as_deref())
}

/// Whether a `GLIBC_TUNABLES` value sets the mmap threshold, the trim threshold or the top pad.
fn tunes_thresholds(tunables: Option<&str>) -> bool {
    const OURS: [&str; 3] = [
        "glibc.malloc.mmap_threshold",
        "glibc.malloc.trim_threshold",
        "glibc.malloc.top_pad",
    ];
    tunables.is_some_and(|t| {
        t.split(':')
            .any(|setting| OURS.contains(&setting.split('=').next().unwrap_or_default()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_thresholds_win() {
        assert!(tunes_thresholds(Some("glibc.malloc.mmap_threshold=65536")));
        assert!(tunes_thresholds(Some(
            "glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=0"
        )));
        assert!(tunes_thresholds(Some("glibc.malloc.top_pad=0")));
        assert!(!tunes_thresholds(Some("glibc.malloc.hugetlb=1")));
        assert!(!tunes_thresholds(Some("glibc.malloc.mmap_max=0")));
        assert!(!tunes_thresholds(None));
    }

    /// Applies the settings for a test of their effect, asserting that glibc accepts them; `false`
    /// (with a message) when the user's `GLIBC_TUNABLES` keeps them off, and the test skips.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn settings_applied() -> bool {
        if user_sets_thresholds() {
            eprintln!("skipped: GLIBC_TUNABLES sets the allocator's thresholds");
            return false;
        }
        assert!(retain_freed_memory());
        true
    }

    /// glibc accepts the settings, and a block below the threshold then comes from the heap
    /// rather than from a mapping of its own (without the settings, glibc's dynamic threshold
    /// starts at 128 KiB and maps it).
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn blocks_below_the_threshold_come_from_the_heap() {
        if !settings_applied() {
            return;
        }
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

    /// A thread arena keeps its heaps once their blocks are freed: the memory glibc holds from
    /// the system does not fall when a thread frees what it allocated (without the top pad,
    /// glibc unmaps every emptied 64 MiB heap and it falls by about the blocks' size).
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn a_thread_arena_keeps_its_emptied_heaps() {
        if !settings_applied() {
            return;
        }
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let held = || unsafe { libc::mallinfo2() }.arena;
        let (filled, emptied) = std::thread::spawn(move || {
            let blocks: Vec<Vec<u8>> = (0..12).map(|i| vec![i as u8 + 1; 8 << 20]).collect();
            let touched: usize = blocks.iter().map(|b| b[b.len() / 2] as usize).sum();
            assert_eq!(touched, (1..=12).sum::<usize>());
            let filled = held();
            drop(std::hint::black_box(blocks));
            (filled, held())
        })
        .join()
        .unwrap();
        assert!(
            emptied + (16 << 20) > filled,
            "the arenas held {filled} bytes with 96 MiB allocated and {emptied} after freeing it"
        );
    }
}
