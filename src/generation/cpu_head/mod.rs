//! The LM head on the CPU backend, fused with what consumes its logits. Burn's CPU (flex) backend
//! runs each tensor op as a pass over memory; for the head, whose `[tokens, vocab]` logits are
//! far larger than the cache, fusing the matrix product with the log-sum-exp on cache-sized tiles
//! is several times faster. Other backends return `None` and take the generic path.

mod few_rows;
mod logits;
mod stats;

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::host::flex::{flex_f32, matrix_view as view};

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
