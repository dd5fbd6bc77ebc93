//! The LM head's backward on the CPU, fused like its forward ([`super::stats`]): each tile of
//! logits is recomputed, turned into `∂L/∂z` in place and multiplied straight into both
//! gradients, so no `[tokens, vocab]` buffer exists.
//!
//! With `p = softmax(z)` and per-token upstream gradients `a = ∂L/∂logp`, `e = ∂L/∂entropy`:
//! `∂L/∂z = a·(onehot(y) − p) − e·p ⊙ (z − Σ p·z)`; the one-hot part is added once at the end.
//! The vocabulary is split into a fixed number of spans run in parallel; each holds its own
//! partial `∂L/∂hidden`, summed in span order, so results do not depend on the thread count.

use rayon::prelude::*;

use super::stats::{TILE_COLUMNS, TILE_ROWS};
use crate::host::fast_exp::exp;
use crate::host::product::{Threads, product_into};
use crate::host::simd::with_avx2_fma;
use crate::host::view::MatRef;

/// Vocabulary spans computed in parallel (each with a `[tokens, H]` partial gradient).
const SPANS: usize = 8;

/// What the forward computed and what the loss sends back, per token.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    /// Target token of each row.
    pub targets: &'a [usize],
    /// `log Σ exp z` of each row.
    pub lse: &'a [f32],
    /// `Σ p·z` of each row.
    pub mean_logit: &'a [f32],
    /// `∂L/∂logp` of each row.
    pub d_logp: &'a [f32],
    /// `∂L/∂entropy` of each row, when the loss uses entropies.
    pub d_entropy: Option<&'a [f32]>,
}

/// `(∂L/∂hidden [n, H], ∂L/∂matrixᵀ [V, H])`, both row-major, for logits
/// `z = hidden [n, H] · matrix [H, V] / T`.
pub fn head_grads(
    hidden: MatRef<'_>,
    matrix: MatRef<'_>,
    up: Upstream<'_>,
    temperature: f32,
) -> (Vec<f32>, Vec<f32>) {
    let (n, h, vocab) = (hidden.rows(), hidden.cols(), matrix.cols());
    assert_eq!(h, matrix.rows(), "head_grads: hidden size differs");
    for len in [up.lse.len(), up.mean_logit.len(), up.d_logp.len()] {
        assert_eq!(len, n, "head_grads: one value per token");
    }
    assert!(
        up.targets.iter().all(|&y| y < vocab),
        "head_grads: target out of range"
    );
    let inv_t = 1.0 / temperature.max(1e-6);
    let span = vocab.div_ceil(SPANS).next_multiple_of(TILE_COLUMNS);
    let mut d_matrix_t = vec![0.0f32; vocab * h];
    let partials: Vec<Vec<f32>> = d_matrix_t
        .par_chunks_mut(span * h)
        .enumerate()
        .map(|(s, d_w)| {
            let cols = d_w.len() / h;
            span_grads(hidden, matrix.block(0, s * span, h, cols), up, inv_t, d_w)
        })
        .collect();
    let mut d_hidden = vec![0.0f32; n * h];
    for partial in &partials {
        d_hidden.iter_mut().zip(partial).for_each(|(d, p)| *d += p);
    }
    // The one-hot part: ∂L/∂z_y += a.
    for (i, &y) in up.targets.iter().enumerate() {
        let a = up.d_logp[i] * inv_t;
        for j in 0..h {
            d_hidden[i * h + j] += a * matrix.at(j, y);
            d_matrix_t[y * h + j] += a * hidden.at(i, j);
        }
    }
    (d_hidden, d_matrix_t)
}

/// One span of columns: writes `∂L/∂matrixᵀ` of its columns into `d_w` (`[cols, H]`) and returns
/// its partial `∂L/∂hidden` (without the one-hot part).
fn span_grads(
    hidden: MatRef<'_>,
    matrix: MatRef<'_>,
    up: Upstream<'_>,
    inv_t: f32,
    d_w: &mut [f32],
) -> Vec<f32> {
    let (n, h, cols) = (hidden.rows(), hidden.cols(), matrix.cols());
    let mut d_hidden = vec![0.0f32; n * h];
    let mut tile = vec![0.0f32; TILE_ROWS.min(n) * TILE_COLUMNS];
    for c in (0..cols).step_by(TILE_COLUMNS) {
        let w = matrix.block(0, c, h, TILE_COLUMNS);
        let width = w.cols();
        for r in (0..n).step_by(TILE_ROWS) {
            let rows = hidden.block(r, 0, TILE_ROWS, h);
            product_into(&mut tile, width, rows, w, inv_t, false, Threads::One);
            for (i, z) in tile.chunks_mut(width).take(rows.rows()).enumerate() {
                let t = r + i;
                let e = up.d_entropy.map_or(0.0, |d| d[t]);
                logit_grads(z, up.lse[t], up.mean_logit[t], up.d_logp[t], e, inv_t);
            }
            let d_z = MatRef::new(&tile, 0, [rows.rows(), width], [width, 1])
                .expect("tile holds the block");
            let d_h = &mut d_hidden[r * h..];
            product_into(d_h, h, d_z, w.t(), 1.0, true, Threads::One);
            let d_w_tile = &mut d_w[c * h..];
            product_into(d_w_tile, h, d_z.t(), rows, 1.0, r > 0, Threads::One);
        }
    }
    d_hidden
}

with_avx2_fma! {
    /// `z ← ∂L/∂(h·w)` for one token's logits `z` (already divided by the temperature), without
    /// the one-hot part: `−p ⊙ (a + e·(z − mean)) / T` with `p = exp(z − lse)`.
    fn logit_grads(z: &mut [f32], lse: f32, mean: f32, a: f32, e: f32, inv_t: f32) = logit_grads_portable;
}

#[inline(always)]
fn logit_grads_portable(z: &mut [f32], lse: f32, mean: f32, a: f32, e: f32, inv_t: f32) {
    for v in z.iter_mut() {
        let p = exp(*v - lse);
        *v = -p * (a + e * (*v - mean)) * inv_t;
    }
}
