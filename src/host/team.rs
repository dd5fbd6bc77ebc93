//! A team for a burst of short parallel jobs: the calling pool thread plus helpers that spin
//! between jobs instead of sleeping.
//!
//! Decoding one token at batch 1 runs about sixty one-row products of tens of microseconds each.
//! Handing each to Rayon wakes a sleeping thread per product, which on a virtual machine takes
//! about as long as the product itself, so those products ran on one thread. Inside
//! [`with_team`], helpers taken from Rayon's pool stay awake for the whole burst, watching an
//! atomic job slot; [`Team::for_each_chunk`] splits a buffer into chunks that the caller and the
//! helpers claim one at a time. The caller never waits for a helper to arrive: chunks nobody has
//! claimed it runs itself, so a busy pool costs speed, never progress. Which thread fills a
//! chunk changes no result.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Spins of an idle helper before it starts yielding its core between looks at the slot (about
/// a millisecond): a helper that shares a core with the caller must not starve it.
const SPINS_BEFORE_YIELDING: u32 = 1 << 13;

/// Most chunks one job may have (the claim counter's range).
const MAX_CHUNKS: usize = 0xffff;

/// One job: fills chunk `index`, whose slice it is given.
type Job<'a> = &'a (dyn Fn(usize, &mut [f32]) + Sync);

/// The job of the current generation and the buffer it splits.
struct Posted<'a> {
    job: Job<'a>,
    data: *mut f32,
    len: usize,
    chunk: usize,
}

/// The caller and its helpers (see the module docs).
pub struct Team {
    /// Rayon index of the caller's thread: a helper task that thread picks up itself returns.
    owner: Option<usize>,
    helpers: usize,
    /// The job's generation (bits 32–63), its number of chunks (bits 16–31) and the next
    /// unclaimed chunk (bits 0–15), changed together so that a claim never mixes two jobs.
    state: AtomicU64,
    posted: AtomicPtr<Posted<'static>>,
    /// Chunks of the current generation finished (or abandoned by a panic).
    done: AtomicUsize,
    finished: AtomicBool,
    chunk_panicked: AtomicBool,
}

impl Team {
    fn new(owner: Option<usize>, helpers: usize) -> Self {
        Self {
            owner,
            helpers,
            state: AtomicU64::new(0),
            posted: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            chunk_panicked: AtomicBool::new(false),
        }
    }

    /// A team of the caller alone: every job runs on the calling thread.
    pub fn solo() -> Self {
        Self::new(None, 0)
    }

    /// Threads that may run a job's chunks: the caller and its helpers.
    pub fn size(&self) -> usize {
        1 + self.helpers
    }

    /// Runs `job(i, chunk_i)` for every `chunk`-long piece of `data` (the last may be shorter),
    /// on the caller and whichever helpers claim a piece first; returns when all are done.
    pub fn for_each_chunk(
        &self,
        data: &mut [f32],
        chunk: usize,
        job: &(dyn Fn(usize, &mut [f32]) + Sync),
    ) {
        assert!(chunk > 0, "Team::for_each_chunk: empty chunks");
        let chunks = data.len().div_ceil(chunk);
        if self.helpers == 0 || chunks < 2 {
            data.chunks_mut(chunk)
                .enumerate()
                .for_each(|(i, c)| job(i, c));
            return;
        }
        assert!(
            chunks <= MAX_CHUNKS,
            "Team::for_each_chunk: too many chunks"
        );
        let posted = Posted {
            job,
            data: data.as_mut_ptr(),
            len: data.len(),
            chunk,
        };
        self.done.store(0, Ordering::Relaxed);
        self.posted.store(
            (&posted as *const Posted<'_>).cast_mut().cast(),
            Ordering::Relaxed,
        );
        let generation = (self.state.load(Ordering::Relaxed) >> 32) + 1;
        // Publishes the job: a helper that sees this generation sees the stores above.
        self.state
            .store(generation << 32 | (chunks as u64) << 16, Ordering::Release);
        // Until every claimed chunk is done, helpers may still be writing `data` and reading
        // `posted`: the guard waits for them even when a chunk of ours panics.
        let wait = WaitForChunks {
            team: self,
            generation,
            chunks,
        };
        while let Some(i) = self.claim(generation) {
            let _done = ChunkDone(self);
            // SAFETY: chunk `i` was claimed once, by this thread, from the live `posted`.
            unsafe { run_chunk(&posted, i) };
        }
        drop(wait);
        if self.chunk_panicked.load(Ordering::Acquire) {
            panic!("a chunk of the team's job panicked on a helper");
        }
    }

    /// Claims the next chunk of `generation`, if any is left.
    fn claim(&self, generation: u64) -> Option<usize> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (next, chunks) = ((state & 0xffff) as usize, (state >> 16 & 0xffff) as usize);
            if state >> 32 != generation || next >= chunks {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(next),
                Err(now) => state = now,
            }
        }
    }

    /// A helper's loop: claims chunks of each new job until the team is finished.
    fn serve(&self) {
        if rayon::current_thread_index() == self.owner {
            // The caller's own thread picked this task up while waiting inside the burst.
            return;
        }
        let mut seen = self.state.load(Ordering::Acquire) >> 32;
        let mut idle = 0u32;
        loop {
            let generation = self.state.load(Ordering::Acquire) >> 32;
            if generation != seen {
                seen = generation;
                idle = 0;
                while let Some(i) = self.claim(generation) {
                    let _done = ChunkDone(self);
                    let posted = self.posted.load(Ordering::Relaxed);
                    // SAFETY: a claimed chunk of the current generation keeps the caller inside
                    // `for_each_chunk` (waiting for it), so `posted` and its buffer are alive,
                    // and no other thread touches this chunk.
                    unsafe { run_chunk(&*posted, i) };
                }
                continue;
            }
            if self.finished.load(Ordering::Acquire) {
                return;
            }
            if idle < SPINS_BEFORE_YIELDING {
                idle += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Runs chunk `i` of `posted`'s job on its slice of the buffer.
///
/// # Safety
/// `posted` and its buffer must be alive, and no other thread may touch chunk `i` meanwhile.
unsafe fn run_chunk(posted: &Posted<'_>, i: usize) {
    let start = i * posted.chunk;
    let len = posted.chunk.min(posted.len - start);
    // SAFETY: the chunk lies inside the buffer, and the caller guarantees exclusive access.
    let slice = unsafe { std::slice::from_raw_parts_mut(posted.data.add(start), len) };
    (posted.job)(i, slice);
}

/// Counts a claimed chunk as done when it returns, and also when it unwinds (marking the team,
/// so that the caller panics in turn).
struct ChunkDone<'a>(&'a Team);

impl Drop for ChunkDone<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.chunk_panicked.store(true, Ordering::Release);
        }
        self.0.done.fetch_add(1, Ordering::Release);
    }
}

/// Closes a job (claims what is left, counting it done) and waits until every chunk is.
struct WaitForChunks<'a> {
    team: &'a Team,
    generation: u64,
    chunks: usize,
}

impl Drop for WaitForChunks<'_> {
    fn drop(&mut self) {
        let team = self.team;
        while team.claim(self.generation).is_some() {
            team.done.fetch_add(1, Ordering::Release);
        }
        while team.done.load(Ordering::Acquire) < self.chunks {
            std::hint::spin_loop();
        }
    }
}

/// Sets `finished` when the burst ends, also by a panic, so helpers return.
struct FinishTeam<'a>(&'a Team);

impl Drop for FinishTeam<'_> {
    fn drop(&mut self) {
        self.0.finished.store(true, Ordering::Release);
    }
}

/// Helpers a burst on this thread gets: one fewer than the threads of the current Rayon pool
/// (no more than the CPU has), when this thread is one of its workers; none otherwise.
fn helpers_here() -> usize {
    // Looked up once: on Linux the standard library reads the affinity mask and the cgroup's CPU
    // quota (files) on every call, and a burst starts once per decoded token.
    static CPUS: LazyLock<usize> =
        LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if rayon::current_thread_index().is_none() {
        return 0;
    }
    rayon::current_num_threads().min(*CPUS).saturating_sub(1)
}

/// Runs `work` with a team of this thread and, on a worker of a Rayon pool, helpers from that
/// pool that spin until `work` returns. Use it around bursts of short jobs only: the helpers
/// take their cores for the whole of `work`, and a parallel Rayon operation inside it runs
/// without them.
pub fn with_team<R: Send>(work: impl FnOnce(&Team) -> R + Send) -> R {
    let helpers = helpers_here();
    if helpers == 0 {
        return work(&Team::solo());
    }
    let team = Team::new(rayon::current_thread_index(), helpers);
    rayon::scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| team.serve());
        }
        let _finish = FinishTeam(&team);
        work(&team)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Every chunk is filled once with its own index and slice, over many jobs in a row, and
    /// a job of one chunk or on a team alone runs in place.
    #[test]
    fn every_chunk_runs_once() {
        let jobs = pool(3).install(|| {
            with_team(|team| {
                assert_eq!(
                    team.size(),
                    3.min(std::thread::available_parallelism().unwrap().get())
                );
                (0..200)
                    .map(|j| {
                        let mut data = vec![0.0f32; 37 + j];
                        team.for_each_chunk(&mut data, 5, &|i, chunk| {
                            for (o, v) in chunk.iter_mut().enumerate() {
                                *v += (i * 5 + o) as f32 + 1.0;
                            }
                        });
                        data
                    })
                    .collect::<Vec<_>>()
            })
        });
        for data in jobs {
            let want: Vec<f32> = (0..data.len()).map(|i| i as f32 + 1.0).collect();
            assert_eq!(data, want);
        }
        let mut one = vec![0.0f32; 4];
        Team::solo().for_each_chunk(&mut one, 3, &|i, c| c.fill(i as f32 + 2.0));
        assert_eq!(one, [2.0, 2.0, 2.0, 3.0]);
    }

    /// A panic in a chunk reaches the caller, and the pool is usable afterwards.
    #[test]
    fn a_panicking_chunk_panics_the_caller() {
        let threads = pool(2);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            threads.install(|| {
                with_team(|team| {
                    let mut data = vec![0.0f32; 64];
                    team.for_each_chunk(&mut data, 8, &|i, _| assert_ne!(i, 5, "chunk 5"));
                })
            })
        }));
        assert!(result.is_err());
        let sum = threads.install(|| with_team(|_| 1 + 1));
        assert_eq!(sum, 2);
    }

    /// Off a pool's threads there are no helpers.
    #[test]
    fn outside_a_pool_the_caller_works_alone() {
        std::thread::spawn(|| with_team(|team| assert_eq!(team.size(), 1)))
            .join()
            .unwrap();
    }
}
