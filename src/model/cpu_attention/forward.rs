//! The forward pass: each block of query rows against the keys it sees, keeping each row's
//! log-sum-exp for the backward pass.

use rayon::prelude::*;

use super::scores::{Inputs, ROW_BLOCK, row_blocks};
use crate::host::fast_exp::softmax_in_place;
use crate::host::product::{Threads, product_into};
use crate::host::simd::with_avx2_fma;
use crate::host::view::MatRef;

/// What the forward pass keeps.
#[derive(Debug, Clone)]
pub struct Forward {
    /// `softmax(q kᵀ / √dim) v`, `[heads, rows, dim]`; zeros for a row that sees no key.
    pub out: Vec<f32>,
    /// Each row's `log Σ exp(score)` over the keys it sees, `[heads, rows]`; −∞ for a row that
    /// sees none.
    pub log_sum_exp: Vec<f32>,
}

/// Attention of every row of every head; blocks of rows run in parallel, each computed the same
/// way whatever the number of threads.
pub fn forward(x: &Inputs<'_>) -> Forward {
    let shape = x.shape;
    let mut out = vec![0.0f32; shape.heads * shape.rows * shape.dim];
    let mut log_sum_exp = vec![0.0f32; shape.heads * shape.rows];
    if shape.rows == 0 || shape.dim == 0 {
        return Forward { out, log_sum_exp };
    }
    let blocks: Vec<_> = row_blocks(0..shape.rows).collect();
    out.par_chunks_mut(shape.rows * shape.dim)
        .zip(log_sum_exp.par_chunks_mut(shape.rows))
        .enumerate()
        .for_each(|(head, (out, lse))| {
            out.par_chunks_mut(ROW_BLOCK * shape.dim)
                .zip(lse.par_chunks_mut(ROW_BLOCK))
                .zip(blocks.clone())
                .for_each(|((out, lse), rows)| {
                    let scores = x.scores(head, rows.clone());
                    if scores.span.is_empty() {
                        lse.fill(f32::NEG_INFINITY);
                        return;
                    }
                    let n = scores.span.len();
                    let mut probs = scores.values;
                    for (row, lse) in probs.chunks_mut(n).zip(lse.iter_mut()) {
                        // −∞ + ln 0 = −∞ for a row that sees no key.
                        let (max, sum) = normalise(row);
                        *lse = max + sum.ln();
                    }
                    let probs = MatRef::new(&probs, 0, [rows.len(), n], [n, 1]).expect("probs");
                    let values = x.key_view(x.v, head, scores.span);
                    product_into(out, shape.dim, probs, values, 1.0, false, Threads::One);
                });
        });
    Forward { out, log_sum_exp }
}

with_avx2_fma! {
    /// [`softmax_in_place`] of a row of scores (−∞ where hidden), vectorised.
    fn normalise(row: &mut [f32]) -> (f32, f32) = softmax_in_place;
}
