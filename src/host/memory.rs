//! How the process's allocator hands memory back to the operating system.
//!
//! A training step on the CPU backend allocates and frees the same large buffers every step
//! (activations, gradients, the LM head's tiles). glibc's malloc serves blocks above its mmap
//! threshold (dynamic, from 128 KiB) with fresh mappings and unmaps them on free, and trims the
//! top of its heaps as they shrink, so each step faults those pages in again and the kernel
//! zeroes every one of them: a fifth of a Qwen2.5-0.5B-shaped step's time in a profile. Raising
//! the threshold to glibc's maximum and switching trimming off keeps freed memory for the next
//! step instead: the process stays at its peak resident memory rather than falling back between
//! steps (the peak of a 0.5B step is unchanged; a smoke run plateaus at 78 MiB where it moved
//! between 44 and 60). `GLIBC_TUNABLES` setting either threshold turns this off.

/// glibc's largest accepted mmap threshold on 64-bit targets (`DEFAULT_MMAP_THRESHOLD_MAX`):
/// blocks of at least this size are still mapped and unmapped one by one.
pub const MMAP_THRESHOLD_BYTES: usize = 32 << 20;

/// Makes freed memory stay in the process for reuse (see the module docs). Returns whether the
/// allocator accepted both settings: `true` on glibc, `false` on other C libraries, where it
/// changes nothing, and when `GLIBC_TUNABLES` already sets either threshold (the user's choice
/// wins). Call it once, first thing in `main`, before other threads start.
pub fn retain_freed_memory() -> bool {
    if user_sets_thresholds() {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let threshold = MMAP_THRESHOLD_BYTES as libc::c_int;
        // SAFETY: mallopt only changes allocator parameters, under the allocator's own locks;
        // it reads or writes no memory of ours.
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

/// Whether this process's `GLIBC_TUNABLES` sets the mmap or the trim threshold.
fn user_sets_thresholds() -> bool {
    tunes_thresholds(std::env::var("GLIBC_TUNABLES").ok().as_deref())
}

/// Whether a `GLIBC_TUNABLES` value sets the mmap or the trim threshold.
fn tunes_thresholds(tunables: Option<&str>) -> bool {
    tunables.is_some_and(|t| {
        t.split(':').any(|setting| {
            let name = setting.split('=').next().unwrap_or_default();
            name == "glibc.malloc.mmap_threshold" || name == "glibc.malloc.trim_threshold"
        })
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
        assert!(!tunes_thresholds(Some("glibc.malloc.hugetlb=1")));
        assert!(!tunes_thresholds(Some("glibc.malloc.mmap_max=0")));
        assert!(!tunes_thresholds(None));
    }

    /// glibc accepts both settings, and a block below the threshold then comes from the heap
    /// rather than from a mapping of its own (without the settings, glibc's dynamic threshold
    /// starts at 128 KiB and maps it).
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn blocks_below_the_threshold_come_from_the_heap() {
        if user_sets_thresholds() {
            eprintln!("skipped: GLIBC_TUNABLES sets the allocator's thresholds");
            return;
        }
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
