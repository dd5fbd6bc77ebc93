//! Contiguous copies of strided views, row by row, on the CPU (flex) backend.
//!
//! Attention works head-major (`[batch, heads, seq, head_dim]`) on projections laid out
//! sequence-major (`[batch, seq, heads, head_dim]`), so each layer swaps the two axes: a free view
//! one way, a copy the other (merging the heads for the output projection in the forward pass;
//! the gradients of q, k and v in the backward pass). The CPU backend copies a view that does not
//! reduce to two dimensions one element at a time, through a general strided index; here the
//! innermost axis, contiguous in such a view, is copied as whole rows, and a transposed view (the
//! keys' gradient, whose contiguous axis is the sequence) in square tiles. Only the layout
//! changes, so the values, and everything computed from them, are the same bits.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorData, backend::Backend};

use crate::host::flex::{
    TrackedFlexTensor, flex_f32, from_flex, from_tracked_flex, into_tracked_flex, is_tracked_flex,
};

/// `x` laid out contiguously, its gradient passed back as it comes. On f32 tensors of the flex
/// backend (under autodiff or not) a strided view is copied row by row; elsewhere `x` is returned
/// as it is, and the backend copies it where an operation needs it.
pub fn contiguous<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    if x.dtype() != DType::F32 {
        return x;
    }
    if let Some(flex) = flex_f32(&x) {
        return from_flex(copy_rows(flex));
    }
    if is_tracked_flex::<B>() {
        return from_tracked_flex(tracked_op(into_tracked_flex(x), Direction::Forward));
    }
    x
}

/// `x` itself, whose gradient is made contiguous in the backward pass, so that the operations
/// before it read their gradient from contiguous memory. On f32 tensors of the flex backend
/// under autodiff a strided gradient is copied row by row; on other backends that record
/// gradients the round trip through a flat shape does it (free in the forward pass, a copy of a
/// strided gradient in the backward); without gradients `x` is returned as it is.
pub fn contiguous_gradient<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    if !B::ad_enabled(&x.device()) {
        return x;
    }
    if x.dtype() == DType::F32 && is_tracked_flex::<B>() {
        return from_tracked_flex(tracked_op(into_tracked_flex(x), Direction::Backward));
    }
    let dims = x.dims();
    x.reshape([dims.iter().product::<usize>()]).reshape(dims)
}

/// Which pass copies.
#[derive(Debug, Clone, Copy)]
enum Direction {
    /// The forward pass copies its input; the gradient passes through.
    Forward,
    /// The forward pass passes its input through; the gradient is copied.
    Backward,
}

impl Backward<Flex, 1> for Direction {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [parent] = ops.parents;
        if let Some(parent) = parent {
            let grad = match self {
                Direction::Forward => grad,
                Direction::Backward => copy_rows(grad),
            };
            grads.register::<Flex>(parent.id, grad);
        }
    }
}

fn tracked_op(x: TrackedFlexTensor, direction: Direction) -> TrackedFlexTensor {
    let output = match direction {
        Direction::Forward => copy_rows(x.primitive.clone()),
        Direction::Backward => x.primitive.clone(),
    };
    match direction
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

/// `t` laid out contiguously: an f32 view with non-negative strides and an axis of stride 1 is
/// copied along that axis, a row at a time when it is the innermost one, and otherwise (a
/// transposed view, such as the keys' gradient coming back from `q·kᵀ`) in square tiles that
/// read along it and write along the innermost axis; anything else goes through the backend's own
/// copy (which returns a contiguous tensor as it is).
pub(crate) fn copy_rows(t: FlexTensor) -> FlexTensor {
    let layout = t.layout();
    let shape = layout.shape().to_vec();
    let n = layout.num_elements();
    let rank = shape.len();
    let strides: Option<Vec<usize>> = layout
        .strides()
        .iter()
        .map(|&s| usize::try_from(s).ok())
        .collect();
    let unit_axis = strides.as_ref().and_then(|strides| {
        (0..rank)
            .rev()
            .find(|&axis| strides[axis] == 1 && shape[axis] > 1)
    });
    let (Some(strides), Some(unit_axis)) = (strides, unit_axis) else {
        return t.to_contiguous();
    };
    if t.dtype() != DType::F32 || layout.is_contiguous() || n == 0 {
        return t.to_contiguous();
    }
    let src = &t.storage::<f32>()[layout.start_offset()..];
    let last = rank - 1;
    let out_strides = contiguous_strides(&shape);
    let others: Vec<usize> = (0..last).filter(|&axis| axis != unit_axis).collect();
    let blocks = offsets(&others, &shape, &strides, &out_strides);
    let out = if unit_axis == last {
        let row = shape[last];
        let mut out = Vec::with_capacity(n);
        // The other axes in order give the rows in order.
        for (from, _) in blocks {
            out.extend_from_slice(&src[from..from + row]);
        }
        out
    } else {
        let mut out = vec![0.0f32; n];
        let tile = Tile {
            rows: shape[unit_axis],
            cols: shape[last],
            src_col_stride: strides[last],
            dst_row_stride: out_strides[unit_axis],
        };
        for (from, to) in blocks {
            tile.transpose(&src[from..], &mut out[to..]);
        }
        out
    };
    FlexTensor::from_data(TensorData::new(out, shape))
}

/// The strides of a contiguous (row-major) tensor of `shape`.
fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for axis in (0..shape.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * shape[axis + 1];
    }
    strides
}

/// The source and destination offsets of every combination of indices along `axes`, the last of
/// them moving fastest.
fn offsets(
    axes: &[usize],
    shape: &[usize],
    src_strides: &[usize],
    dst_strides: &[usize],
) -> Vec<(usize, usize)> {
    let mut all = vec![(0, 0)];
    for &axis in axes {
        all = all
            .into_iter()
            .flat_map(|(from, to)| {
                (0..shape[axis])
                    .map(move |i| (from + i * src_strides[axis], to + i * dst_strides[axis]))
            })
            .collect();
    }
    all
}

/// A `rows × cols` block read with rows contiguous in the source (element `(r, c)` at `r + c ·
/// src_col_stride`) and written with columns contiguous in the destination (at `r ·
/// dst_row_stride + c`).
struct Tile {
    rows: usize,
    cols: usize,
    src_col_stride: usize,
    dst_row_stride: usize,
}

impl Tile {
    /// Side of the square pieces, small enough that one piece's source and destination lines
    /// stay in L1.
    const SIDE: usize = 16;

    fn transpose(&self, src: &[f32], dst: &mut [f32]) {
        for r0 in (0..self.rows).step_by(Self::SIDE) {
            let r1 = (r0 + Self::SIDE).min(self.rows);
            for c0 in (0..self.cols).step_by(Self::SIDE) {
                let c1 = (c0 + Self::SIDE).min(self.cols);
                for r in r0..r1 {
                    let row = &mut dst[r * self.dst_row_stride..];
                    for c in c0..c1 {
                        row[c] = src[r + c * self.src_col_stride];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::tensor::Distribution;

    type A = Autodiff<Flex>;

    /// A `[2, 3, 4, 5]` tensor of distinct values.
    fn numbered<B: Backend>() -> Tensor<B, 4> {
        let values: Vec<f32> = (0..120).map(|i| i as f32).collect();
        Tensor::from_data(TensorData::new(values, [2, 3, 4, 5]), &Default::default())
    }

    fn is_contiguous_flex(t: &Tensor<Flex, 4>) -> bool {
        flex_f32(t).unwrap().layout().is_contiguous()
    }

    #[test]
    fn a_swapped_view_is_copied_in_order() {
        let x = numbered::<Flex>();
        for view in [
            x.clone().swap_dims(1, 2),
            x.clone().permute([3, 1, 0, 2]),
            x.clone().slice([0..2, 1..3, 0..4, 1..4]).swap_dims(0, 1),
            // Transposed: the axis of stride 1 is not the innermost.
            x.clone().swap_dims(2, 3),
            x.clone().swap_dims(2, 3).swap_dims(1, 2),
            x.clone().permute([3, 0, 2, 1]),
            x.clone().slice([0..2, 0..3, 1..4, 0..5]).swap_dims(1, 3),
        ] {
            assert!(!is_contiguous_flex(&view));
            let copied = contiguous(view.clone());
            assert!(is_contiguous_flex(&copied));
            assert_eq!(copied.dims(), view.dims());
            assert_eq!(copied.to_data(), view.to_data());
        }
        // By hand: element [0, 1, 2, 3] of x.swap_dims(1, 2) is x[0, 2, 1, 3] = 2·20 + 1·5 + 3.
        let swapped = contiguous(x.swap_dims(1, 2));
        let value = swapped.slice([0..1, 1..2, 2..3, 3..4]).into_scalar();
        assert_eq!(value, 48.0);
    }

    /// A transposed view larger than a tile, with sides that leave partial tiles: the keys'
    /// gradient as it comes back from `q·kᵀ`, `[batch, seq, heads, head_dim]` with `seq` of
    /// stride 1.
    #[test]
    fn a_transposed_view_is_copied_across_tiles() {
        let values: Vec<f32> = (0..2 * 3 * 40 * 24).map(|i| i as f32).collect();
        let grad = Tensor::<Flex, 4>::from_data(
            TensorData::new(values, [2, 3, 24, 40]),
            &Default::default(),
        );
        let view = grad.swap_dims(2, 3).swap_dims(1, 2);
        assert_eq!(view.dims(), [2, 40, 3, 24]);
        assert_eq!(flex_f32(&view).unwrap().layout().strides()[1], 1);
        let copied = contiguous(view.clone());
        assert!(is_contiguous_flex(&copied));
        assert_eq!(copied.to_data(), view.to_data());
        // By hand: element [1, 33, 2, 17] is grad[1, 2, 17, 33] = 1·2880 + 2·960 + 17·40 + 33.
        let value = copied.slice([1..2, 33..34, 2..3, 17..18]).into_scalar();
        assert_eq!(value, 5513.0);
    }

    #[test]
    fn a_contiguous_or_reversed_tensor_keeps_its_values() {
        let x = numbered::<Flex>();
        assert_eq!(contiguous(x.clone()).to_data(), x.to_data());
        let flipped = x.clone().flip([3]);
        assert_eq!(contiguous(flipped.clone()).to_data(), flipped.to_data());
    }

    /// Under autodiff: the copy's values, and gradients equal to those of the plain view.
    #[test]
    fn gradients_pass_through_both_ways() {
        let device = Default::default();
        let x = Tensor::<A, 4>::random([2, 3, 4, 5], Distribution::Default, &device).require_grad();
        let weights = Tensor::<A, 4>::random([2, 4, 3, 5], Distribution::Default, &device);
        let loss_of = |y: Tensor<A, 4>| (y * weights.clone()).sin().sum();
        let plain = loss_of(x.clone().swap_dims(1, 2)).backward();
        let copied_forward = contiguous(x.clone().swap_dims(1, 2));
        assert_eq!(
            copied_forward.to_data(),
            x.clone().swap_dims(1, 2).to_data()
        );
        let forward = loss_of(copied_forward).backward();
        let backward = loss_of(contiguous_gradient(x.clone()).swap_dims(1, 2)).backward();
        let want = x.grad(&plain).unwrap();
        assert!(!is_contiguous_flex(&want));
        let want = want.into_data();
        assert_eq!(x.grad(&forward).unwrap().into_data(), want);
        let got = x.grad(&backward).unwrap();
        assert_eq!(got.clone().into_data(), want);
        assert!(is_contiguous_flex(&got));
    }
}
