//! The LM head's per-token log-probs and entropies computed over vocabulary chunks, never holding
//! `[tokens, vocab]` logits: each chunk's logits are folded into a running maximum, sum of
//! exponentials and exponential-weighted logit sum (an online log-sum-exp). The gradient of any
//! function of those outputs, with respect to the hidden states and the output matrix, is computed
//! by recomputing the chunks ([`head_grads`]), so training needs no `[tokens, vocab]` buffer either.
//!
//! With logits `z = h·W / T` for one token, target `y` and `p = softmax(z)`:
//! `logp = z_y − lse(z)`, `entropy = lse(z) − Σ p·z`, and
//! `∂logp/∂z = onehot(y) − p`, `∂entropy/∂z = −p ⊙ (z − Σ p·z)`.

use burn::tensor::{DType, Int, Tensor, backend::Backend};

use crate::model::launch_limits::{MAX_AXIS, select_add};

/// Elements of one chunk's `[tokens, columns]` logits (32 Mi: 128 MiB in f32).
const CHUNK_ELEMENTS: usize = 1 << 25;

/// Most columns per chunk. Burn 0.21's row reductions on wgpu sum only the first 65,532 entries
/// of longer rows (a log-sum-exp off by whole units over a 151,936-token vocabulary, found on
/// Mesa's software Vulkan; see [`crate::model::launch_limits`]); chunks stay well below that on
/// every backend.
const MAX_COLUMNS: usize = MAX_AXIS;

/// Vocabulary columns per chunk for `tokens` rows: about [`CHUNK_ELEMENTS`] logits, at least 1024
/// columns, at most [`MAX_COLUMNS`] or the whole vocabulary.
pub fn chunk_columns(tokens: usize, vocab: usize) -> usize {
    (CHUNK_ELEMENTS / tokens.max(1))
        .clamp(1024, MAX_COLUMNS)
        .min(vocab.max(1))
}

/// Per-token results of the head, each `[tokens]` in f32.
#[derive(Debug, Clone)]
pub struct HeadStats<B: Backend> {
    /// Log-prob of each target token.
    pub logp: Tensor<B, 1>,
    /// Entropy of each position's distribution.
    pub entropy: Tensor<B, 1>,
    /// Log-sum-exp of each position's logits.
    pub lse: Tensor<B, 1>,
    /// Expected logit `Σ p·z` at each position.
    pub mean_logit: Tensor<B, 1>,
}

impl<B: Backend> HeadStats<B> {
    /// The statistics from each token's target logit, log-sum-exp and expected logit.
    fn new(target_logit: Tensor<B, 1>, lse: Tensor<B, 1>, mean_logit: Tensor<B, 1>) -> Self {
        Self {
            logp: target_logit - lse.clone(),
            entropy: lse.clone() - mean_logit.clone(),
            lse,
            mean_logit,
        }
    }
}

/// The head applied to `hidden` `[tokens, H]` with the output `matrix` `[H, V]` at `temperature`,
/// scored at `targets` `[tokens]`: fused on cache-sized tiles on the CPU backend
/// ([`super::cpu_head`]), else `columns` vocabulary entries at a time.
pub fn head_stats<B: Backend>(
    hidden: &Tensor<B, 2>,
    matrix: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    temperature: f32,
    columns: usize,
) -> HeadStats<B> {
    match super::cpu_head::head_stats(hidden, matrix, targets, temperature) {
        Some([target_logit, lse, mean_logit]) => HeadStats::new(target_logit, lse, mean_logit),
        None => chunked_head_stats(hidden, matrix, targets, temperature, columns),
    }
}

/// [`head_stats`] with Burn tensor ops, on any backend: `columns` vocabulary entries at a time.
fn chunked_head_stats<B: Backend>(
    hidden: &Tensor<B, 2>,
    matrix: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    temperature: f32,
    columns: usize,
) -> HeadStats<B> {
    let [n, _] = hidden.dims();
    let vocab = matrix.dims()[1];
    let inv_t = 1.0 / temperature.max(1e-6);
    // Running maximum m, Σ exp(z − m) and Σ exp(z − m)·z per token, each [n, 1].
    let mut running: Option<(Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>)> = None;
    for start in (0..vocab).step_by(columns.max(1)) {
        let w = columns_of(matrix, start, (start + columns).min(vocab));
        let z = chunk_logits(hidden, w, inv_t);
        let chunk_max = z.clone().max_dim(1);
        running = Some(match running {
            None => {
                let e = (z.clone() - chunk_max.clone()).exp();
                (chunk_max, e.clone().sum_dim(1), (e * z).sum_dim(1))
            }
            Some((m, s, t)) => {
                let new_m = m.clone().max_pair(chunk_max);
                let rescale = (m - new_m.clone()).exp();
                let e = (z.clone() - new_m.clone()).exp();
                (
                    new_m,
                    s * rescale.clone() + e.clone().sum_dim(1),
                    t * rescale + (e * z).sum_dim(1),
                )
            }
        });
    }
    let (m, s, t) = running.expect("a vocabulary of at least one entry");
    let lse = (m + s.clone().log()).reshape([n]);
    let mean_logit = (t / s).reshape([n]);
    let target_logit = target_logits(hidden, matrix, targets, inv_t);
    HeadStats::new(target_logit, lse, mean_logit)
}

/// Gradients `(∂L/∂hidden [tokens, H], ∂L/∂matrix [H, V])` of a function `L` of the head's
/// outputs, given `d_logp = ∂L/∂logp` and `d_entropy = ∂L/∂entropy` (each `[tokens]`, `None` when
/// `L` does not depend on it). `stats` come from [`head_stats`] on the same inputs. Returned in
/// the dtypes of `hidden` and `matrix`. Fused on cache-sized tiles on the CPU backend
/// ([`super::cpu_head`]), else `columns` vocabulary entries at a time.
#[allow(clippy::too_many_arguments)]
pub fn head_grads<B: Backend>(
    hidden: &Tensor<B, 2>,
    matrix: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    temperature: f32,
    columns: usize,
    stats: &HeadStats<B>,
    d_logp: Tensor<B, 1>,
    d_entropy: Option<Tensor<B, 1>>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let fused = super::cpu_head::head_grads(
        hidden,
        matrix,
        targets,
        temperature,
        &stats.lse,
        &stats.mean_logit,
        &d_logp,
        d_entropy.as_ref(),
    );
    match fused {
        Some(grads) => grads,
        None => chunked_head_grads(
            hidden,
            matrix,
            targets,
            temperature,
            columns,
            stats,
            d_logp,
            d_entropy,
        ),
    }
}

/// [`head_grads`] through Burn's tensor ops, `columns` vocabulary entries at a time.
#[allow(clippy::too_many_arguments)]
fn chunked_head_grads<B: Backend>(
    hidden: &Tensor<B, 2>,
    matrix: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    temperature: f32,
    columns: usize,
    stats: &HeadStats<B>,
    d_logp: Tensor<B, 1>,
    d_entropy: Option<Tensor<B, 1>>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [n, _] = hidden.dims();
    let vocab = matrix.dims()[1];
    let compute = matrix.dtype();
    let inv_t = 1.0 / temperature.max(1e-6);
    let lse = stats.lse.clone().reshape([n, 1]);
    let mean_logit = stats.mean_logit.clone().reshape([n, 1]);
    let d_logp = d_logp.reshape([n, 1]);
    let d_entropy = d_entropy.map(|d| d.reshape([n, 1]));
    let hidden_t = hidden.clone().transpose();
    let mut d_hidden: Option<Tensor<B, 2>> = None;
    let mut d_matrix_chunks = Vec::new();
    for start in (0..vocab).step_by(columns.max(1)) {
        let end = (start + columns).min(vocab);
        let w = columns_of(matrix, start, end);
        let z = chunk_logits(hidden, w.clone(), inv_t);
        let p = (z.clone() - lse.clone()).exp();
        // ∂L/∂z without the one-hot term, which is added once below.
        let weight = match &d_entropy {
            Some(d_ent) => d_logp.clone() + d_ent.clone() * (z - mean_logit.clone()),
            None => d_logp.clone(),
        };
        let d_z = (p * weight).neg().cast(compute) * inv_t;
        let d_h = d_z.clone().matmul(w.transpose());
        d_hidden = Some(match d_hidden {
            Some(acc) => acc + d_h,
            None => d_h,
        });
        d_matrix_chunks.push(hidden_t.clone().matmul(d_z));
    }
    // The one-hot term: ∂L/∂z_y += ∂L/∂logp.
    let scaled = d_logp.cast(compute) * inv_t;
    let target_columns = matrix.clone().select(1, targets.clone()).transpose();
    let d_hidden =
        d_hidden.expect("a vocabulary of at least one entry") + target_columns * scaled.clone();
    let d_matrix = select_add(
        Tensor::cat(d_matrix_chunks, 1),
        1,
        targets.clone(),
        (hidden.clone() * scaled).transpose(),
    );
    (d_hidden.cast(hidden.dtype()), d_matrix)
}

/// Columns `start..end` of `matrix` `[H, V]` (a view).
fn columns_of<B: Backend>(matrix: &Tensor<B, 2>, start: usize, end: usize) -> Tensor<B, 2> {
    let h = matrix.dims()[0];
    matrix.clone().slice([0..h, start..end])
}

/// `hidden · w / T` in f32, for one chunk `w` of the output matrix.
fn chunk_logits<B: Backend>(hidden: &Tensor<B, 2>, w: Tensor<B, 2>, inv_t: f32) -> Tensor<B, 2> {
    hidden.clone().matmul(w).cast(DType::F32) * inv_t
}

/// `z_y = hidden_i · matrix[:, y_i] / T` per token, in f32.
fn target_logits<B: Backend>(
    hidden: &Tensor<B, 2>,
    matrix: &Tensor<B, 2>,
    targets: &Tensor<B, 1, Int>,
    inv_t: f32,
) -> Tensor<B, 1> {
    let [n, _] = hidden.dims();
    let columns = matrix.clone().select(1, targets.clone()).transpose();
    (hidden.clone().cast(DType::F32) * columns.cast(DType::F32))
        .sum_dim(1)
        .reshape([n])
        * inv_t
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, TensorData, activation::log_softmax};

    type B = Flex;
    type AB = Autodiff<Flex>;

    fn values(t: Tensor<B, 1>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().unwrap()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// One token, two logits `[0, ln 3]` (so p = [1/4, 3/4]): log-probs ln(1/4) and ln(3/4),
    /// entropy −(¼ ln ¼ + ¾ ln ¾), whichever chunking is used.
    /// 2²⁵ logits per chunk, between 1,024 and 32,768 columns, never past the vocabulary.
    #[test]
    fn chunks_hold_about_32_mi_logits_within_their_column_bounds() {
        assert_eq!(chunk_columns(4096, 151_936), 8192);
        assert_eq!(chunk_columns(16, 151_936), 32_768);
        assert_eq!(chunk_columns(1 << 20, 151_936), 1024);
        assert_eq!(chunk_columns(16, 1000), 1000);
        assert_eq!(chunk_columns(0, 151_936), 32_768);
    }

    #[test]
    fn a_hand_computed_two_word_vocabulary() {
        let device = Default::default();
        let hidden = Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32], [1, 1]), &device);
        let matrix =
            Tensor::<B, 2>::from_data(TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2]), &device);
        let entropy = -(0.25f32 * 0.25f32.ln() + 0.75 * 0.75f32.ln());
        for columns in [1, 2] {
            for (target, want) in [(0i64, 0.25f32.ln()), (1, 0.75f32.ln())] {
                let targets = Tensor::<B, 1, Int>::from_data([target], &device);
                let fused = head_stats(&hidden, &matrix, &targets, 1.0, columns);
                let chunked = chunked_head_stats(&hidden, &matrix, &targets, 1.0, columns);
                for s in [fused, chunked] {
                    assert!((values(s.logp)[0] - want).abs() < 1e-6);
                    assert!((values(s.entropy)[0] - entropy).abs() < 1e-6);
                    assert!((values(s.lse)[0] - 4f32.ln()).abs() < 1e-6);
                }
            }
        }
    }

    struct Case {
        hidden: Tensor<B, 2>,
        matrix: Tensor<B, 2>,
        targets: Tensor<B, 1, Int>,
    }

    fn case(n: usize, h: usize, v: usize) -> Case {
        let device = Default::default();
        B::seed(&device, 3);
        let targets: Vec<i64> = (0..n).map(|i| ((i * 7 + 3) % v) as i64).collect();
        Case {
            hidden: Tensor::random([n, h], Distribution::Normal(0.0, 1.0), &device),
            matrix: Tensor::random([h, v], Distribution::Normal(0.0, 1.0), &device),
            targets: Tensor::from_data(TensorData::new(targets, [n]), &device),
        }
    }

    /// Chunked results equal a full `log_softmax` over the vocabulary, for chunk widths that
    /// divide the vocabulary, leave a remainder, or cover it at once.
    #[test]
    fn chunked_statistics_equal_the_full_log_softmax() {
        let c = case(6, 8, 37);
        let t = 0.7;
        let logits = c.hidden.clone().matmul(c.matrix.clone()) / t;
        let logp = log_softmax(logits, 1);
        let want_logp = logp
            .clone()
            .gather(1, c.targets.clone().reshape([6, 1]))
            .reshape([6]);
        let want_entropy = (logp.clone().exp() * logp).sum_dim(1).reshape([6]).neg();
        let fused = head_stats(&c.hidden, &c.matrix, &c.targets, t, 0);
        let chunked = [5, 37, 40, 1]
            .map(|columns| chunked_head_stats(&c.hidden, &c.matrix, &c.targets, t, columns));
        for (columns, s) in [(0, fused)]
            .into_iter()
            .chain([5, 37, 40, 1].into_iter().zip(chunked))
        {
            let d = max_diff(&values(s.logp), &values(want_logp.clone()));
            assert!(d < 1e-5, "columns {columns}: log-prob diff {d}");
            let d = max_diff(&values(s.entropy), &values(want_entropy.clone()));
            assert!(d < 1e-5, "columns {columns}: entropy diff {d}");
        }
    }

    /// The recomputed gradients equal autodiff through the full `log_softmax` for a loss that
    /// weights every token's log-prob and entropy differently.
    #[test]
    fn recomputed_gradients_equal_autodiff_of_the_full_head() {
        let (n, h, v) = (5, 6, 29);
        let c = case(n, h, v);
        let t = 1.3;
        let device = Default::default();
        let a: Vec<f32> = (0..n).map(|i| i as f32 - 1.5).collect();
        let e: Vec<f32> = (0..n).map(|i| 0.3 * (i as f32) - 0.4).collect();
        let a_t = Tensor::<B, 1>::from_data(TensorData::new(a, [n]), &device);
        let e_t = Tensor::<B, 1>::from_data(TensorData::new(e, [n]), &device);

        let hidden = Tensor::<AB, 2>::from_inner(c.hidden.clone()).require_grad();
        let matrix = Tensor::<AB, 2>::from_inner(c.matrix.clone()).require_grad();
        let logp = log_softmax(hidden.clone().matmul(matrix.clone()) / t, 1);
        let token_logp = logp
            .clone()
            .gather(1, Tensor::from_inner(c.targets.clone()).reshape([n, 1]))
            .reshape([n]);
        let entropy = (logp.clone().exp() * logp).sum_dim(1).reshape([n]).neg();
        let loss = (token_logp * Tensor::from_inner(a_t.clone())
            + entropy * Tensor::from_inner(e_t.clone()))
        .sum();
        let grads = loss.backward();
        let want_h = hidden.grad(&grads).unwrap();
        let want_m = matrix.grad(&grads).unwrap();

        for columns in [4, 29] {
            let s = head_stats(&c.hidden, &c.matrix, &c.targets, t, columns);
            let (d_h, d_m) = chunked_head_grads(
                &c.hidden,
                &c.matrix,
                &c.targets,
                t,
                columns,
                &s,
                a_t.clone(),
                Some(e_t.clone()),
            );
            let flat = |x: Tensor<B, 2>| x.into_data().to_vec::<f32>().unwrap();
            let d = max_diff(&flat(d_h), &flat(want_h.clone()));
            assert!(d < 1e-5, "columns {columns}: hidden grad diff {d}");
            let d = max_diff(&flat(d_m), &flat(want_m.clone()));
            assert!(d < 1e-5, "columns {columns}: matrix grad diff {d}");
        }
    }

    /// The fused CPU gradients equal the chunked ones across tile and span edges (259 tokens,
    /// a vocabulary that leaves partial tiles), for a transposed (tied) output matrix, with and
    /// without an entropy term.
    #[test]
    fn fused_gradients_equal_the_chunked_ones() {
        let (n, h, v) = (259, 5, 8 * 1024 + 300);
        let c = case(n, h, v);
        let tied = c.matrix.clone().transpose().into_data();
        let device = Default::default();
        let matrix = Tensor::<B, 2>::from_data(tied, &device).transpose();
        let t = 0.7;
        let a: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
        let e: Vec<f32> = (0..n).map(|i| 0.1 * (i % 7) as f32 - 0.3).collect();
        let a = Tensor::<B, 1>::from_data(TensorData::new(a, [n]), &device);
        let e = Tensor::<B, 1>::from_data(TensorData::new(e, [n]), &device);
        let s = head_stats(&c.hidden, &matrix, &c.targets, t, v);
        for d_entropy in [None, Some(e)] {
            let args = (
                &c.hidden,
                &matrix,
                &c.targets,
                t,
                1024,
                &s,
                a.clone(),
                d_entropy,
            );
            let (want_h, want_m) = chunked_head_grads(
                args.0,
                args.1,
                args.2,
                args.3,
                args.4,
                args.5,
                args.6.clone(),
                args.7.clone(),
            );
            let (got_h, got_m) = super::super::cpu_head::head_grads(
                args.0,
                args.1,
                args.2,
                args.3,
                &s.lse,
                &s.mean_logit,
                &args.6,
                args.7.as_ref(),
            )
            .expect("f32 tensors of the CPU backend take the fused path");
            let flat = |x: Tensor<B, 2>| x.into_data().to_vec::<f32>().unwrap();
            let d = max_diff(&flat(got_h), &flat(want_h));
            assert!(d < 1e-4, "hidden grad diff {d}");
            let d = max_diff(&flat(got_m), &flat(want_m));
            assert!(d < 1e-4, "matrix grad diff {d}");
        }
    }
}
