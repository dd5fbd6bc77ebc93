//! The forward pass: each block of query rows against the keys it sees, keeping each row's
//! log-sum-exp for the backward pass.

use rayon::prelude::*;

use super::scores::{Inputs, ROW_BLOCK, row_blocks};
use crate::host::fast_exp::{exp, lane_max};
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
    out.par_chunks_mut(shape.rows * shape.dim)
        .zip(log_sum_exp.par_chunks_mut(shape.rows))
        .enumerate()
        .for_each(|(head, (out, lse))| {
            let blocks: Vec<_> = row_blocks(0..shape.rows).collect();
            out.par_chunks_mut(ROW_BLOCK * shape.dim)
                .zip(lse.par_chunks_mut(ROW_BLOCK))
                .zip(blocks)
                .for_each(|((out, lse), rows)| {
                    let scores = x.scores(head, rows.clone());
                    if scores.span.is_empty() {
                        lse.fill(f32::NEG_INFINITY);
                        return;
                    }
                    let n = scores.span.len();
                    let mut probs = scores.values;
                    for (row, lse) in probs.chunks_mut(n).zip(lse.iter_mut()) {
                        *lse = normalise(row);
                    }
                    let probs = MatRef::new(&probs, 0, [rows.len(), n], [n, 1]).expect("probs");
                    let values = x.key_view(x.v, head, scores.span);
                    product_into(out, shape.dim, probs, values, 1.0, false, Threads::One);
                });
        });
    Forward { out, log_sum_exp }
}

with_avx2_fma! {
    /// Turns a row of scores (−∞ where hidden) into its softmax and returns its log-sum-exp;
    /// a row with nothing visible becomes zeros and gives −∞.
    fn normalise(row: &mut [f32]) -> f32 = normalise_portable;
}

#[inline(always)]
fn normalise_portable(row: &mut [f32]) -> f32 {
    let max = lane_max(row);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return f32::NEG_INFINITY;
    }
    for x in row.iter_mut() {
        // exp clamps −∞ to a tiny positive number; hidden keys must weigh exactly 0.
        let e = exp(*x - max);
        *x = if *x == f32::NEG_INFINITY { 0.0 } else { e };
    }
    let sum = row.iter().fold(0.0f32, |s, &x| s + x);
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
    max + sum.ln()
}
