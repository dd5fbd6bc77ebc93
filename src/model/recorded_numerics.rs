//! Forward passes outside the autodiff graph that compute what a recorded pass computes.
//!
//! Some of the model's code picks its kernels by whether the backend records gradients:
//! attention runs [`super::tracked_attention`] under autodiff and may queue the flash kernel
//! otherwise, and the rotation and the linear layers' biases take forms chosen for their backward
//! pass. Gradient checkpointing runs the decoder layers once without recording and then again,
//! one layer at a time, under autodiff in the backward pass; [`with_recorded_numerics`] makes the
//! first pass take the recorded pass's kernels, so that both passes compute the same values.

use std::cell::Cell;

use burn::tensor::backend::Backend;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
}

/// Whether a forward pass on `device` computes as a recorded one does: the backend records
/// gradients, or this thread is inside [`with_recorded_numerics`].
pub fn as_recorded<B: Backend>(device: &B::Device) -> bool {
    B::ad_enabled(device) || ON.with(Cell::get)
}

/// `f()` with this thread's forward passes computing as recorded ones do, also on a backend that
/// records nothing; the previous setting comes back afterwards, also after a panic.
pub fn with_recorded_numerics<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ON.with(|on| on.set(self.0));
        }
    }
    let _restore = Restore(ON.with(|on| on.replace(true)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    #[test]
    fn holds_inside_the_closure_only() {
        let device = Default::default();
        assert!(!as_recorded::<Flex>(&device));
        assert!(as_recorded::<Autodiff<Flex>>(&device));
        with_recorded_numerics(|| {
            assert!(as_recorded::<Flex>(&device));
            with_recorded_numerics(|| assert!(as_recorded::<Flex>(&device)));
            assert!(as_recorded::<Flex>(&device));
        });
        assert!(!as_recorded::<Flex>(&device));
        let _ = std::panic::catch_unwind(|| with_recorded_numerics(|| panic!("inside")));
        assert!(!as_recorded::<Flex>(&device));
    }
}
