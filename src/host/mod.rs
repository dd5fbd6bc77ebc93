//! Host kernels for f32 tensors of Burn's CPU (flex) backend: strided views of their storage,
//! a single-threaded matrix product into caller buffers, a vectorised `exp`, and the C library's
//! `expf` eight lanes at a time, to the bit ([`exact_exp`]). Burn runs each tensor op as a
//! separate pass over freshly allocated memory; the fused CPU paths built on these (the LM head,
//! the inference backbone) keep their data in cache-sized pieces instead; the allocator keeps
//! freed memory for the next step ([`memory`], and the last very large block freed:
//! [`kept_block`]) and puts large blocks on huge pages ([`huge_pages`]); a command on the CPU
//! backend runs on a thread of the pool its work is split over ([`pool`]), and a decoding step at
//! batch 1 splits its one-row products ([`row_product`]) over a team of threads that stay awake
//! for the step ([`team`]). Device tensors come back to the host together ([`read_back`]).

pub mod exact_exp;
pub mod fast_exp;
pub mod flex;
pub mod huge_pages;
pub mod kept_block;
pub mod memory;
pub mod pool;
pub mod product;
pub mod read_back;
pub mod row_product;
pub mod simd;
pub mod team;
pub mod view;

/// Sets the process up for commands on the CPU backend: freed memory stays in the process
/// between steps ([`memory::retain_freed_memory`]) and Rayon's pool gets a main thread's stack
/// ([`pool::configure_global_pool`]). Call it first thing in `main`, before other threads start
/// and before anything uses the pool.
pub fn set_up_process() {
    memory::retain_freed_memory();
    pool::configure_global_pool();
}
