//! The LM head on the CPU backend, fused with what consumes its logits. Burn's CPU (flex) backend
//! runs each tensor op as a pass over memory; for the head, whose `[tokens, vocab]` logits are
//! far larger than the cache, fusing the matrix product with the log-sum-exp on cache-sized tiles
//! is several times faster. Other backends return `None` and take the generic path.

mod few_rows;
mod grads;
mod logits;
mod stats;

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::host::flex::{flex_f32, indices_below, matrix_view as view};

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
    let targets = indices_below(targets, vocab)?;
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

/// `(∂L/∂hidden [tokens, H], ∂L/∂matrix [H, vocab])` through the head, from the forward's
/// per-token log-sum-exp and expected logit and the loss's gradients with respect to each
/// token's log-prob and entropy, when `hidden` and `matrix` are f32 tensors of the CPU backend.
#[allow(clippy::too_many_arguments)]
pub fn head_grads<B: Backend>(
    hidden: &Tensor<B, 2>,
    matrix: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    temperature: f32,
    lse: &Tensor<B, 1>,
    mean_logit: &Tensor<B, 1>,
    d_logp: &Tensor<B, 1>,
    d_entropy: Option<&Tensor<B, 1>>,
) -> Option<(Tensor<B, 2>, Tensor<B, 2>)> {
    let (h, w) = (flex_f32(hidden)?, flex_f32(matrix)?);
    let (hv, wv) = (view(&h)?, view(&w)?);
    let (n, width, vocab) = (hv.rows(), hv.cols(), wv.cols());
    let targets = indices_below(targets, vocab)?;
    let values = |t: &Tensor<B, 1>| t.to_data().convert::<f32>().to_vec::<f32>().ok();
    let (lse, mean_logit, d_logp) = (values(lse)?, values(mean_logit)?, values(d_logp)?);
    let d_entropy = match d_entropy {
        Some(d) => Some(values(d)?),
        None => None,
    };
    let upstream = grads::Upstream {
        targets: &targets,
        lse: &lse,
        mean_logit: &mean_logit,
        d_logp: &d_logp,
        d_entropy: d_entropy.as_deref(),
    };
    let (d_hidden, d_matrix_t) = grads::head_grads(hv, wv, upstream, temperature);
    let device = hidden.device();
    let d_hidden = Tensor::from_data(TensorData::new(d_hidden, [n, width]), &device);
    let d_matrix_t =
        Tensor::<B, 2>::from_data(TensorData::new(d_matrix_t, [vocab, width]), &device);
    Some((d_hidden, d_matrix_t.transpose()))
}
