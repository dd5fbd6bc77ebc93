//! Zero-copy access to the host storage of f32 tensors of Burn's CPU (flex) backend.

use std::any::Any;

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Int, Tensor, backend::Backend};

use super::view::MatRef;

/// The flex tensor behind an f32 tensor (shared, not copied) when its strides are non-negative;
/// `None` for any other backend (autodiff included) or dtype.
pub fn flex_f32<B: Backend, const D: usize>(tensor: &Tensor<B, D>) -> Option<FlexTensor> {
    if tensor.dtype() != DType::F32 {
        return None;
    }
    let primitive: Box<dyn Any> = Box::new(tensor.clone().into_primitive().tensor());
    let flex = *primitive.downcast::<FlexTensor>().ok()?;
    flex.layout()
        .strides()
        .iter()
        .all(|&s| s >= 0)
        .then_some(flex)
}

/// A view of a 2-D flex tensor's elements.
pub fn matrix_view(flex: &FlexTensor) -> Option<MatRef<'_>> {
    let layout = flex.layout();
    let shape = layout.shape();
    let strides = layout.strides();
    if strides.len() != 2 {
        return None;
    }
    MatRef::new(
        flex.storage::<f32>(),
        layout.start_offset(),
        [shape[0], shape[1]],
        [strides[0] as usize, strides[1] as usize],
    )
}

/// The elements of a contiguous 1-D flex tensor.
pub fn vector_view(flex: &FlexTensor) -> Option<&[f32]> {
    let layout = flex.layout();
    let len = layout.shape()[0];
    let start = layout.start_offset();
    (layout.strides().len() == 1 && (len <= 1 || layout.strides()[0] == 1))
        .then(|| flex.storage::<f32>().get(start..start + len))
        .flatten()
}

/// The elements of an integer tensor as indices, each checked to be below `bound`; `None` if any
/// is negative or out of range.
pub fn indices_below<B: Backend, const D: usize>(
    ids: &Tensor<B, D, Int>,
    bound: usize,
) -> Option<Vec<usize>> {
    ids.to_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .ok()?
        .into_iter()
        .map(|i| usize::try_from(i).ok().filter(|&i| i < bound))
        .collect()
}
