//! Sums and scatter-adds split into pieces that Burn 0.21's GPU kernels get right.
//!
//! Measured on wgpu (Mesa's software Vulkan, whose launches are limited to 65,535 workgroups per
//! dimension, the WebGPU default): a sum along an axis longer than 65,532 entries returns the sum
//! of the first 65,532; a whole-tensor sum of more than 65,532 elements may return a partial sum
//! (depending on the strategy autotuning picks: seen from 2²¹ elements); a `select_assign` with
//! more than 65,535 indices applies only the first 65,535. Loads, products,
//! element-wise ops and `select` are right at any size. The helpers here split such work on every
//! backend but the CPU one, bare or under autodiff (where they pass straight through, leaving its
//! results bit for bit as they were); `tests/common/long_sums.rs` checks each limit on each backend.

use burn::tensor::{IndexingUpdateOp, Int, Tensor, backend::Backend};

use crate::host::flex::on_flex;

/// Most entries summed along one axis, or indices applied by one `select_assign`, in one kernel.
pub const MAX_AXIS: usize = 1 << 15;

/// The sum of every element of `x`, as sums along rows of at most [`MAX_AXIS`] elements (those of
/// a `[n / MAX_AXIS, MAX_AXIS]` view, then the rest), repeated over the partial sums.
pub fn sum_all<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, 1> {
    let n = x.shape().num_elements();
    if n <= MAX_AXIS || on_flex::<B>() {
        return x.sum();
    }
    let flat: Tensor<B, 1> = x.reshape([n]);
    let rows = n / MAX_AXIS;
    let whole = rows * MAX_AXIS;
    let mut partial: Tensor<B, 1> = flat
        .clone()
        .slice(0..whole)
        .reshape([rows, MAX_AXIS])
        .sum_dim(1)
        .reshape([rows]);
    if whole < n {
        partial = Tensor::cat(vec![partial, flat.slice(whole..n).sum()], 0);
    }
    sum_all(partial)
}

/// `base.select_assign(dim, ids, values, Add)`: slice `i` of `values` along `dim` is added to
/// slice `ids[i]` of `base`, at most [`MAX_AXIS`] indices at a time.
pub fn select_add<B: Backend, const D: usize>(
    base: Tensor<B, D>,
    dim: usize,
    ids: Tensor<B, 1, Int>,
    values: Tensor<B, D>,
) -> Tensor<B, D> {
    let n = ids.dims()[0];
    if n <= MAX_AXIS || on_flex::<B>() {
        return base.select_assign(dim, ids, values, IndexingUpdateOp::Add);
    }
    (0..n).step_by(MAX_AXIS).fold(base, |acc, start| {
        let end = (start + MAX_AXIS).min(n);
        acc.select_assign(
            dim,
            ids.clone().slice(start..end),
            values.clone().narrow(dim, start, end - start),
            IndexingUpdateOp::Add,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    /// On the CPU backend both helpers are Burn's own ops; the split paths are checked on GPU
    /// backends by the integration tests.
    #[test]
    fn the_cpu_backend_sums_and_scatters_as_burn_does() {
        let device = Default::default();
        let x = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2]),
            &device,
        );
        assert_eq!(sum_all(x.clone()).into_scalar(), 21.0);
        let ids = Tensor::<Flex, 1, Int>::from_data(TensorData::from([1i64, 1, 0]), &device);
        let got = select_add(Tensor::zeros([2, 2], &device), 0, ids, x);
        assert_eq!(
            got.into_data().to_vec::<f32>().unwrap(),
            vec![5.0, 6.0, 4.0, 6.0]
        );
    }

    /// Under autodiff too the CPU backend takes Burn's own sum, to the bit, past [`MAX_AXIS`].
    #[test]
    fn the_cpu_backend_under_autodiff_sums_in_one_pass() {
        type A = burn::backend::Autodiff<Flex>;
        let n = 3 * MAX_AXIS + 17;
        let values: Vec<f32> = (0..n)
            .map(|i| (i as f64 * 0.618_034).fract() as f32 - 0.5)
            .collect();
        let x = Tensor::<A, 1>::from_data(TensorData::new(values, [n]), &Default::default());
        let got = sum_all(x.clone()).into_scalar();
        assert_eq!(got.to_bits(), x.sum().into_scalar().to_bits());
    }
}
