//! Zero-copy access to the host storage of f32 tensors of Burn's CPU (flex) backend.

use std::any::{Any, TypeId};

use burn::backend::flex::{FlexDevice, FlexTensor};
use burn::backend::{Autodiff, Flex};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Int, Tensor, TensorPrimitive, backend::Backend};

use super::view::MatRef;

/// The flex tensor behind an f32 tensor (shared, not copied) when its strides are non-negative;
/// `None` for any other backend (autodiff included) or dtype.
pub fn flex_f32<B: Backend, const D: usize>(tensor: &Tensor<B, D>) -> Option<FlexTensor> {
    let flex = flex_primitive(tensor.clone()).ok()?;
    flex.layout()
        .strides()
        .iter()
        .all(|&s| s >= 0)
        .then_some(flex)
}

/// The flex tensor behind an f32 tensor of the flex backend, owned, contiguous from offset 0
/// over its whole buffer (copied only when it is not), for writing in place; the tensor itself
/// for any other backend or dtype. Writing through it (`storage_mut`) first copies a buffer still
/// shared with another tensor, so no other tensor sees the writes.
pub fn into_flex_f32<B: Backend, const D: usize>(
    tensor: Tensor<B, D>,
) -> Result<FlexTensor, Tensor<B, D>> {
    flex_primitive(tensor).map(|flex| flex.to_contiguous())
}

/// The flex tensor behind an f32 tensor of the flex backend, as it is; the tensor itself for any
/// other backend or dtype.
fn flex_primitive<B: Backend, const D: usize>(
    tensor: Tensor<B, D>,
) -> Result<FlexTensor, Tensor<B, D>> {
    if tensor.dtype() != DType::F32 || !is_flex::<B>() {
        return Err(tensor);
    }
    Ok(same_type(tensor.into_primitive().tensor()))
}

/// A tensor of the flex backend `B` holding `flex`.
///
/// # Panics
/// If `B` is not the flex backend.
pub fn from_flex<B: Backend, const D: usize>(flex: FlexTensor) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(same_type(flex)))
}

/// `value` as `U`, where `T` and `U` are one type named two ways (a backend's primitive through
/// its associated type and by its own name, say).
///
/// # Panics
/// If they are different types.
pub fn same_type<T: 'static, U: 'static>(value: T) -> U {
    *(Box::new(value) as Box<dyn Any>)
        .downcast::<U>()
        .unwrap_or_else(|_| {
            panic!(
                "{} is not {}",
                std::any::type_name::<T>(),
                std::any::type_name::<U>()
            )
        })
}

/// Whether `B` runs on the CPU's flex backend, directly or wrapped (by autodiff, say).
pub fn on_flex<B: Backend>() -> bool {
    TypeId::of::<B::Device>() == TypeId::of::<FlexDevice>()
}

/// Whether `B` is the flex backend itself (not wrapped, e.g. by autodiff).
pub fn is_flex<B: Backend>() -> bool {
    TypeId::of::<B::FloatTensorPrimitive>() == TypeId::of::<FlexTensor>()
}

/// A float tensor of the autodiff backend over flex, as operations of its graph take it.
pub type TrackedFlexTensor = FloatTensor<Autodiff<Flex>>;

/// Whether `B` is the autodiff backend over flex.
pub fn is_tracked_flex<B: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<Autodiff<Flex>>()
}

/// The autodiff tensor behind a float tensor of `B`.
///
/// # Panics
/// If `B` is not the autodiff backend over flex ([`is_tracked_flex`]).
pub fn into_tracked_flex<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> TrackedFlexTensor {
    same_type(tensor.into_primitive().tensor())
}

/// A tensor of `B` holding `tracked`.
///
/// # Panics
/// If `B` is not the autodiff backend over flex ([`is_tracked_flex`]).
pub fn from_tracked_flex<B: Backend, const D: usize>(tracked: TrackedFlexTensor) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(same_type(tracked)))
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
