//! Which of CubeCL's kernels a forward pass queues itself on a fused GPU backend, instead of
//! leaving the choice to Burn.
//!
//! Built without the `autotune` feature, Burn runs every matrix product on one tiling kernel and
//! attention as a dozen separate kernels; CubeCL's matrix-vector kernel ([`super::gemv`]) and
//! its flash-attention kernel ([`super::flash_attention`]) are reached only through autotuning.
//! Such builds queue them directly by default; builds with autotuning leave the choice to the
//! autotuner, which times them against the others. [`with_decode_kernels`] overrides the
//! build's choice for one thread (the bench's `--vector-kernel`, `--flash-attention` and
//! `--device-sampling`, and the GPU checks, which compare both in one build). Token choice on the
//! device in decoding is on in every GPU build.

use std::cell::Cell;

use super::matmul_kernels::MatmulKernel;

/// Whether the kernels are queued unless a caller says otherwise: in builds with a GPU backend
/// and without the `autotune` feature.
pub const BY_DEFAULT: bool = cfg!(all(feature = "gpu", not(feature = "autotune")));

/// The kernels a forward pass queues itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeKernels {
    /// A single token's product by an `[out, in]` weight, and the tied head's at batch 1, on
    /// CubeCL's plane-parallel matrix-vector kernel.
    pub vector_matrix: bool,
    /// Attention of f16 and bf16 models in inference on CubeCL's flash-attention kernel (unit
    /// variant).
    pub flash_attention: bool,
    /// The CubeCL kernel for the linear layers' products of more than one row in inference (a
    /// prefill's, a log-prob forward's, a decoding step's at batch > 1), queued by the model
    /// itself; `None` leaves them to Burn (see [`super::matmul_kernels`]).
    pub products: Option<MatmulKernel>,
    /// Token choice on the device in decoding, for greedy and untruncated sampling (see
    /// [`crate::generation::device_sampling`]); the host samples from logits read back
    /// otherwise. On by default in every GPU build; the CPU backend always samples on the host.
    pub device_sampling: bool,
}

impl DecodeKernels {
    /// The build's choice: both kernels or neither (see [`BY_DEFAULT`]), and token choice on the
    /// device.
    pub const BUILD_DEFAULT: Self = Self {
        vector_matrix: BY_DEFAULT,
        flash_attention: BY_DEFAULT,
        products: None,
        device_sampling: true,
    };
}

thread_local! {
    static CHOICE: Cell<Option<DecodeKernels>> = const { Cell::new(None) };
}

/// The kernels this thread's forward passes queue.
pub fn current() -> DecodeKernels {
    CHOICE
        .with(|choice| choice.get())
        .unwrap_or(DecodeKernels::BUILD_DEFAULT)
}

/// `f()` with `kernels` queued by the forward passes this thread runs meanwhile, whatever the
/// build's default.
pub fn with_decode_kernels<T>(kernels: DecodeKernels, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<DecodeKernels>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CHOICE.with(|choice| choice.set(self.0));
        }
    }
    let _restore = Restore(CHOICE.with(|choice| choice.replace(Some(kernels))));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The override holds inside the closure only, nested ones included, and the default comes
    /// back afterwards, also after a panic.
    #[test]
    fn the_override_is_scoped() {
        let on = DecodeKernels {
            vector_matrix: true,
            flash_attention: false,
            products: None,
            device_sampling: true,
        };
        let off = DecodeKernels {
            vector_matrix: false,
            flash_attention: true,
            products: MatmulKernel::all().next(),
            device_sampling: false,
        };
        assert_eq!(current(), DecodeKernels::BUILD_DEFAULT);
        with_decode_kernels(on, || {
            assert_eq!(current(), on);
            with_decode_kernels(off, || assert_eq!(current(), off));
            assert_eq!(current(), on);
        });
        assert_eq!(current(), DecodeKernels::BUILD_DEFAULT);
        let caught = std::panic::catch_unwind(|| with_decode_kernels(on, || panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(current(), DecodeKernels::BUILD_DEFAULT);
    }
}
