//! The LM head on the CPU backend, fused with what consumes its logits. Burn's CPU (flex) backend
//! runs each tensor op as a pass over memory; for the head, whose `[tokens, vocab]` logits are
//! far larger than the cache, fusing the matrix product with the log-sum-exp on cache-sized tiles
//! is several times faster. Other backends return `None` and take the generic path.

mod few_rows;
mod logits;
mod product;
mod stats;
mod view;

use std::any::Any;

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Int, Tensor, TensorData, backend::Backend};

pub use view::MatRef;

/// The host storage of a 2-D f32 tensor of the flex backend (shared, not copied); `None` for any
/// other backend, dtype or layout.
fn flex_f32<B: Backend>(tensor: &Tensor<B, 2>) -> Option<FlexTensor> {
    if tensor.dtype() != DType::F32 {
        return None;
    }
    let primitive: Box<dyn Any> = Box::new(tensor.clone().into_primitive().tensor());
    let flex = *primitive.downcast::<FlexTensor>().ok()?;
    let strides = flex.layout().strides();
    (strides.len() == 2 && strides.iter().all(|&s| s >= 0)).then_some(flex)
}

/// A view of a flex tensor's elements.
fn view(flex: &FlexTensor) -> Option<MatRef<'_>> {
    let layout = flex.layout();
    let shape = layout.shape();
    let strides = layout.strides();
    MatRef::new(
        flex.storage::<f32>(),
        layout.start_offset(),
        [shape[0], shape[1]],
        [strides[0] as usize, strides[1] as usize],
    )
}

/// Per-token `(target logit, log-sum-exp, expected logit)` of `hidden · matrix / temperature`,
/// each `[tokens]`, when both are f32 tensors of the CPU backend.
pub fn head_stats<B: Backend>(
    hidden: &Tensor<B, 2>,
    matrix: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    temperature: f32,
) -> Option<[Tensor<B, 1>; 3]> {
    let (h, w) = (flex_f32(hidden)?, flex_f32(matrix)?);
    let (hv, wv) = (view(&h)?, view(&w)?);
    let vocab = wv.cols();
    let targets: Vec<usize> = targets
        .to_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .ok()?
        .into_iter()
        .map(|y| usize::try_from(y).ok().filter(|&y| y < vocab))
        .collect::<Option<_>>()?;
    let s = stats::head_stats(hv, wv, &targets, temperature);
    let device = hidden.device();
    let n = targets.len();
    let tensor = |v: Vec<f32>| Tensor::<B, 1>::from_data(TensorData::new(v, [n]), &device);
    Some([tensor(s.target_logit), tensor(s.lse), tensor(s.mean_logit)])
}

/// Logits `[rows, vocab]` (row-major, f32) of `hidden [rows, H] · matrix [H, vocab]`, when both
/// are f32 tensors of the CPU backend.
pub fn logits<B: Backend>(hidden: &Tensor<B, 2>, matrix: &Tensor<B, 2>) -> Option<Vec<f32>> {
    let (h, w) = (flex_f32(hidden)?, flex_f32(matrix)?);
    Some(logits::logits(view(&h)?, view(&w)?, 1.0))
}
