//! The LM head's per-token log-sum-exp and expected logit on the CPU, fused with the matrix
//! product: each tile of logits (a few hundred tokens × [`TILE_COLUMNS`] vocabulary entries, small
//! enough to stay in cache) is folded into running statistics as soon as it is computed, so the
//! logits never reach main memory.
//!
//! Work is split into fixed vocabulary blocks run in parallel; each block's per-token partial
//! statistics are merged in block order, so results do not depend on the number of threads.

use rayon::prelude::*;

use crate::host::fast_exp::{exp, max_ordered};
use crate::host::product::{Threads, product_into};
use crate::host::simd::with_avx2_fma;
use crate::host::view::MatRef;

/// Vocabulary columns per parallel work item.
const BLOCK_COLUMNS: usize = 2048;
/// Vocabulary columns per tile.
pub(super) const TILE_COLUMNS: usize = 512;
/// Tokens per tile.
pub(super) const TILE_ROWS: usize = 256;

/// Per-token statistics of `z = hidden · matrix / T`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// `log Σ exp z`.
    pub lse: Vec<f32>,
    /// `Σ softmax(z) · z`.
    pub mean_logit: Vec<f32>,
    /// `z` at each token's target.
    pub target_logit: Vec<f32>,
}

/// Running maximum `m`, `Σ exp(z − m)` and `Σ exp(z − m)·z` of one token.
#[derive(Debug, Clone, Copy)]
struct Running {
    max: f32,
    sum: f32,
    weighted: f32,
}

impl Running {
    const EMPTY: Self = Self {
        max: f32::NEG_INFINITY,
        sum: 0.0,
        weighted: 0.0,
    };

    /// Combines two partial statistics.
    fn merge(self, other: Self) -> Self {
        if other.sum == 0.0 {
            return self;
        }
        if self.sum == 0.0 {
            return other;
        }
        let max = self.max.max(other.max);
        let a = (self.max - max).exp();
        let b = (other.max - max).exp();
        Self {
            max,
            sum: self.sum * a + other.sum * b,
            weighted: self.weighted * a + other.weighted * b,
        }
    }
}

/// Statistics of `hidden [n, H] · matrix [H, V] / temperature`, with `targets[i] < V`.
pub fn head_stats(
    hidden: MatRef<'_>,
    matrix: MatRef<'_>,
    targets: &[usize],
    temperature: f32,
) -> Stats {
    let (n, vocab) = (hidden.rows(), matrix.cols());
    assert_eq!(
        hidden.cols(),
        matrix.rows(),
        "head_stats: hidden size differs"
    );
    assert_eq!(targets.len(), n, "head_stats: one target per token");
    assert!(
        targets.iter().all(|&y| y < vocab),
        "head_stats: target out of range"
    );
    let inv_t = 1.0 / temperature.max(1e-6);
    let partials: Vec<Vec<Running>> = (0..vocab.div_ceil(BLOCK_COLUMNS))
        .into_par_iter()
        .map(|b| {
            let start = b * BLOCK_COLUMNS;
            block_stats(
                hidden,
                matrix.block(0, start, matrix.rows(), BLOCK_COLUMNS),
                inv_t,
            )
        })
        .collect();
    let target_logit: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| {
            let dot: f32 = (0..hidden.cols())
                .map(|j| hidden.at(i, j) * matrix.at(j, targets[i]))
                .sum();
            dot * inv_t
        })
        .collect();
    let mut lse = Vec::with_capacity(n);
    let mut mean_logit = Vec::with_capacity(n);
    for i in 0..n {
        let r = partials
            .iter()
            .fold(Running::EMPTY, |acc, block| acc.merge(block[i]));
        lse.push(r.max + r.sum.ln());
        mean_logit.push(r.weighted / r.sum);
    }
    Stats {
        lse,
        mean_logit,
        target_logit,
    }
}

/// Every token's statistics over the columns of `matrix` (one vocabulary block).
fn block_stats(hidden: MatRef<'_>, matrix: MatRef<'_>, inv_t: f32) -> Vec<Running> {
    let (n, cols) = (hidden.rows(), matrix.cols());
    let mut out = vec![Running::EMPTY; n];
    let mut tile = vec![0.0f32; TILE_ROWS.min(n) * TILE_COLUMNS];
    for c in (0..cols).step_by(TILE_COLUMNS) {
        let w = matrix.block(0, c, matrix.rows(), TILE_COLUMNS);
        for r in (0..n).step_by(TILE_ROWS) {
            let h = hidden.block(r, 0, TILE_ROWS, hidden.cols());
            product_into(&mut tile, TILE_COLUMNS, h, w, inv_t, false, Threads::One);
            let width = w.cols();
            for (i, row) in tile.chunks(TILE_COLUMNS).take(h.rows()).enumerate() {
                out[r + i] = fold(out[r + i], &row[..width]);
            }
        }
    }
    out
}

with_avx2_fma! {
    /// `acc` extended by the logits `z`.
    fn fold(acc: Running, z: &[f32]) -> Running = fold_portable;
}

/// Eight independent lanes so the loops vectorise; the lanes are summed in a fixed order.
#[inline(always)]
fn fold_portable(acc: Running, z: &[f32]) -> Running {
    const L: usize = 8;
    let mut lanes = [f32::NEG_INFINITY; L];
    let chunks = z.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks.clone() {
        for l in 0..L {
            lanes[l] = max_ordered(lanes[l], c[l]);
        }
    }
    let tile_max = tail.iter().fold(
        lanes.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)),
        |a, &b| a.max(b),
    );
    let max = acc.max.max(tile_max);
    let mut sum = [0.0f32; L];
    let mut weighted = [0.0f32; L];
    for c in chunks {
        for l in 0..L {
            let e = exp(c[l] - max);
            sum[l] += e;
            weighted[l] = e.mul_add(c[l], weighted[l]);
        }
    }
    let (mut s, mut w) = (sum.iter().sum::<f32>(), weighted.iter().sum::<f32>());
    for &x in tail {
        let e = exp(x - max);
        s += e;
        w = e.mul_add(x, w);
    }
    let rescale = if acc.sum == 0.0 {
        0.0
    } else {
        exp(acc.max - max)
    };
    Running {
        max,
        sum: acc.sum.mul_add(rescale, s),
        weighted: acc.weighted.mul_add(rescale, w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tokens over a vocabulary of 3 with temperature 2: hand-computed logits
    /// z = [[0, ln 2, ln 4]·… ] checked against the closed forms.
    #[test]
    fn hand_computed_statistics() {
        // hidden [2, 1], matrix [1, 3]: z_i = h_i · w / T.
        let hidden = [2.0, 0.0];
        let w = [0.0, 2.0 * 2f32.ln(), 2.0 * 3f32.ln()];
        let hidden = MatRef::row_major(&hidden, 2, 1).unwrap();
        let matrix = MatRef::row_major(&w, 1, 3).unwrap();
        let s = head_stats(hidden, matrix, &[2, 0], 2.0);
        // Token 0: z = [0, ln 4, ln 9]; Σe^z = 14. Token 1: z = 0 everywhere; Σe^z = 3.
        assert!((s.lse[0] - 14f32.ln()).abs() < 1e-6);
        assert!((s.lse[1] - 3f32.ln()).abs() < 1e-6);
        let mean0 = (4.0 * 4f32.ln() + 9.0 * 9f32.ln()) / 14.0;
        assert!((s.mean_logit[0] - mean0).abs() < 1e-6);
        assert_eq!(s.mean_logit[1], 0.0);
        assert!((s.target_logit[0] - 9f32.ln()).abs() < 1e-6);
        assert_eq!(s.target_logit[1], 0.0);
    }

    /// Against a plain f64 computation on shapes that cross every block and tile edge, through a
    /// transposed (tied-embedding) view of the matrix.
    #[test]
    fn equals_a_direct_computation_across_tile_edges() {
        let (n, h, v) = (TILE_ROWS + 3, 5, 2 * BLOCK_COLUMNS + TILE_COLUMNS + 7);
        let hidden: Vec<f32> = (0..n * h)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 20.0)
            .collect();
        let embed: Vec<f32> = (0..v * h)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 30.0)
            .collect();
        let targets: Vec<usize> = (0..n).map(|i| i * 131 % v).collect();
        let hm = MatRef::row_major(&hidden, n, h).unwrap();
        let wm = MatRef::row_major(&embed, v, h).unwrap().t();
        let t = 0.7;
        let s = head_stats(hm, wm, &targets, t);
        for i in 0..n {
            let z: Vec<f64> = (0..v)
                .map(|c| {
                    (0..h)
                        .map(|j| hidden[i * h + j] as f64 * embed[c * h + j] as f64)
                        .sum::<f64>()
                        / t as f64
                })
                .collect();
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|x| (x - m).exp()).sum();
            let lse = m + sum.ln();
            let mean: f64 = z.iter().map(|x| (x - lse).exp() * x).sum();
            assert!(
                (s.lse[i] as f64 - lse).abs() < 1e-4,
                "token {i}: lse {} vs {lse}",
                s.lse[i]
            );
            assert!(
                (s.mean_logit[i] as f64 - mean).abs() < 1e-4,
                "token {i}: mean logit"
            );
            assert!(
                (s.target_logit[i] as f64 - z[targets[i]]).abs() < 1e-4,
                "token {i}: target"
            );
        }
    }
}
