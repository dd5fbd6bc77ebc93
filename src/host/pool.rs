//! Where a command's work runs: on a thread of Rayon's global pool.
//!
//! Burn's CPU backend and our host kernels split their work over Rayon's global pool. Called from
//! a thread outside the pool (`main`), each parallel operation is handed to the pool while the
//! caller sleeps until a worker has finished it, so every operation costs two thread wake-ups and
//! a third thread competes for the cores; a decoding step of the 47M bench shape runs dozens of
//! such operations per token. Called from a worker, the caller starts on its own share at once
//! and only idle workers are woken. [`run_on_pool`] moves a whole command onto a worker.

/// Stack of the pool's threads: the 8 MiB a Linux main thread has, since the whole command now
/// runs on one of them (Rayon's own default is the platform's 2 MiB for spawned threads).
pub const WORKER_STACK_BYTES: usize = 8 << 20;

/// Sets Rayon's global pool up with [`WORKER_STACK_BYTES`] stacks (threads from
/// `RAYON_NUM_THREADS`, else one per logical CPU). Call it first thing in `main`: the first use of
/// the pool (a tokenizer's, Burn's) sets it up with Rayon's defaults, and then this does nothing.
pub fn configure_global_pool() {
    // An error only says that the global pool exists already; it is then used as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK_BYTES)
        .build_global();
}

/// Runs `work` on a thread of Rayon's global pool and returns its result; on the calling thread
/// when that already is one of a pool's.
pub fn run_on_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return work();
    }
    configure_global_pool();
    // `scope` runs its body on a worker of the global pool, the caller waiting for it.
    rayon::scope(|_| work())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work runs on a pool thread, not on the caller's, and a nested call stays on it.
    #[test]
    fn work_runs_on_a_worker() {
        std::thread::spawn(|| {
            assert_eq!(rayon::current_thread_index(), None);
            let (index, nested) = run_on_pool(|| {
                let here = std::thread::current().id();
                let nested = run_on_pool(|| std::thread::current().id() == here);
                (rayon::current_thread_index(), nested)
            });
            assert!(index.is_some());
            assert!(nested, "a call from a worker runs where it is");
        })
        .join()
        .unwrap();
    }
}
