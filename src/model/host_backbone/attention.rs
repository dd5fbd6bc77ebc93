//! Causal grouped-query attention on host memory, for rows of equal length (right padding is
//! harmless: real tokens never look ahead at it). Queries are taken in blocks so the scores of
//! one block stay in cache and the keys past a block's last query are never read; blocks of
//! every row and head run in parallel.

use rayon::prelude::*;

use crate::host::fast_exp::softmax_in_place;
use crate::host::product::{Threads, product_into};
use crate::host::simd::with_avx2_fma;
use crate::host::view::MatRef;

/// Queries per block.
const QUERY_BLOCK: usize = 128;

/// Shapes of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Rows in the batch.
    pub batch: usize,
    /// Tokens per row.
    pub seq: usize,
    /// Query heads.
    pub query: usize,
    /// Key/value heads (each shared by `query / kv` query heads).
    pub kv: usize,
    /// Width of one head.
    pub dim: usize,
}

/// Which keys each query may see.
#[derive(Debug, Clone, Copy)]
pub enum Visibility<'a> {
    /// Query `i` of a row sees keys `0..=past + i`.
    Causal {
        /// Keys before the first query.
        past: usize,
    },
    /// `forbidden[(row · queries + i) · keys + j]` forbids key `j` to query `i` (the layout of
    /// a `[batch, 1, queries, keys]` mask).
    Mask {
        /// The mask, `true` where attention is forbidden.
        forbidden: &'a [bool],
    },
}

/// `out [batch·seq, query·dim] = softmax(q kᵀ / √dim, causal) v`, with `q [batch·seq, query·dim]`
/// and `k`, `v` `[batch·seq, kv·dim]`, all row-major.
#[cfg(test)]
fn causal_attention(q: &[f32], k: &[f32], v: &[f32], shape: Heads, out: &mut [f32]) {
    let Heads { seq, kv, dim, .. } = shape;
    let view = |data, b: usize, head: usize| {
        MatRef::new(
            data,
            b * seq * kv * dim + head * dim,
            [seq, dim],
            [kv * dim, 1],
        )
        .expect("attention inputs cover the batch")
    };
    let keys_values = |b, head| (view(k, b, head), view(v, b, head));
    attention(q, shape, keys_values, Visibility::Causal { past: 0 }, out);
}

/// `out [batch·seq, query·dim] = softmax(q kᵀ / √dim) v` for `seq` new queries per row, where
/// `keys_values(row, kv_head)` gives that row's keys and values `[keys, dim]` (the same number
/// for every row), each visible as `visibility` says. A query that sees no key gets zeros.
pub fn attention<'k, F>(
    q: &[f32],
    shape: Heads,
    keys_values: F,
    visibility: Visibility<'_>,
    out: &mut [f32],
) where
    F: Fn(usize, usize) -> (MatRef<'k>, MatRef<'k>) + Sync,
{
    let Heads {
        batch,
        seq,
        query,
        kv,
        dim,
    } = shape;
    let q_width = query * dim;
    let blocks = seq.div_ceil(QUERY_BLOCK);
    // One work item per (row, query head, block of queries), each into its own buffer.
    let item = |i: usize| {
        (
            i / (query * blocks),
            i / blocks % query,
            i % blocks * QUERY_BLOCK,
        )
    };
    let results: Vec<Vec<f32>> = (0..batch * query * blocks)
        .into_par_iter()
        .map(|i| {
            let (b, h, start) = item(i);
            let qh = MatRef::new(q, b * seq * q_width + h * dim, [seq, dim], [q_width, 1])
                .expect("queries cover the batch");
            let (kh, vh) = keys_values(b, h / (query / kv));
            let rows = QUERY_BLOCK.min(seq - start);
            let sight = match visibility {
                Visibility::Causal { past } => Sight::Causal {
                    first: past + start + 1,
                },
                Visibility::Mask { forbidden } => {
                    let keys = kh.rows();
                    let from = (b * seq + start) * keys;
                    Sight::Mask(&forbidden[from..from + rows * keys])
                }
            };
            query_block(qh.block(start, 0, rows, dim), kh, vh, sight)
        })
        .collect();
    for (i, block) in results.iter().enumerate() {
        let (b, h, start) = item(i);
        for (t, values) in block.chunks_exact(dim).enumerate() {
            let at = (b * seq + start + t) * q_width + h * dim;
            out[at..at + dim].copy_from_slice(values);
        }
    }
}

/// The keys a block of queries sees.
#[derive(Debug, Clone, Copy)]
enum Sight<'a> {
    /// The block's query `i` sees keys `0..first + i`.
    Causal { first: usize },
    /// Row `i` of `[rows, keys]`, `true` where forbidden.
    Mask(&'a [bool]),
}

/// `[rows, dim]` outputs of a block of queries `[rows, dim]` against keys and values
/// `[keys, dim]`.
fn query_block(q: MatRef<'_>, k: MatRef<'_>, v: MatRef<'_>, sight: Sight<'_>) -> Vec<f32> {
    let (rows, dim) = (q.rows(), q.cols());
    let keys = match sight {
        Sight::Causal { first } => (first + rows - 1).min(k.rows()),
        Sight::Mask(_) => k.rows(),
    };
    let scale = 1.0 / (dim as f32).sqrt();
    let mut scores = vec![0.0f32; rows * keys];
    let seen = k.block(0, 0, keys, dim).t();
    product_into(&mut scores, keys, q, seen, scale, false, Threads::One);
    for (i, row) in scores.chunks_mut(keys).enumerate() {
        match sight {
            Sight::Causal { first } => softmax_prefix(row, (first + i).min(keys), &[]),
            Sight::Mask(forbidden) => {
                softmax_prefix(row, keys, &forbidden[i * keys..(i + 1) * keys])
            }
        }
    }
    let probs = MatRef::new(&scores, 0, [rows, keys], [keys, 1]).expect("scores block");
    let mut out = vec![0.0f32; rows * dim];
    product_into(
        &mut out,
        dim,
        probs,
        v.block(0, 0, keys, dim),
        1.0,
        false,
        Threads::One,
    );
    out
}

with_avx2_fma! {
    /// Softmax over `row[..visible]` leaving out the keys `forbidden` marks (when not empty);
    /// the rest of the row (future keys) becomes 0, and so does a row that sees no key.
    fn softmax_prefix(row: &mut [f32], visible: usize, forbidden: &[bool]) = softmax_prefix_portable;
}

#[inline(always)]
fn softmax_prefix_portable(row: &mut [f32], visible: usize, forbidden: &[bool]) {
    let (seen, future) = row.split_at_mut(visible);
    future.fill(0.0);
    if !forbidden.is_empty() {
        seen.iter_mut()
            .zip(forbidden)
            .filter(|(_, f)| **f)
            .for_each(|(x, _)| *x = f32::NEG_INFINITY);
    }
    softmax_in_place(seen);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fast_exp::exp;

    /// One row of two tokens, two query heads sharing one key/value head of width 1.
    /// Token 0 sees only itself; token 1 weighs keys with scores q·k (scale 1 for width 1):
    /// head 0 has q = 0 (equal weights), head 1 has q = ln 3 against keys 0 and 1 (weights 1:3).
    #[test]
    fn matches_hand_computed_weights() {
        let ln3 = 3f32.ln();
        let q = [5.0, 7.0, 0.0, ln3]; // [token, head]
        let k = [0.0, 1.0];
        let v = [2.0, 6.0];
        let mut out = [0.0; 4];
        let shape = Heads {
            batch: 1,
            seq: 2,
            query: 2,
            kv: 1,
            dim: 1,
        };
        causal_attention(&q, &k, &v, shape, &mut out);
        let want = [2.0, 2.0, 4.0, 0.25 * 2.0 + 0.75 * 6.0];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{out:?}");
        }
    }

    /// Blocks of queries give what one pass over all keys gives, on a sequence longer than a
    /// block, against a direct f64 computation.
    #[test]
    fn blocks_agree_with_a_direct_computation() {
        let (seq, dim) = (QUERY_BLOCK + 37, 4);
        let value = |i: usize| ((i * 7919) % 997) as f32 / 997.0 - 0.5;
        let q: Vec<f32> = (0..seq * dim).map(value).collect();
        let k: Vec<f32> = (0..seq * dim).map(|i| value(i + 11)).collect();
        let v: Vec<f32> = (0..seq * dim).map(|i| value(i + 23)).collect();
        let mut out = vec![0.0; seq * dim];
        let shape = Heads {
            batch: 1,
            seq,
            query: 1,
            kv: 1,
            dim,
        };
        causal_attention(&q, &k, &v, shape, &mut out);
        for i in [0, 1, QUERY_BLOCK - 1, QUERY_BLOCK, seq - 1] {
            let scores: Vec<f64> = (0..=i)
                .map(|j| {
                    (0..dim)
                        .map(|d| (q[i * dim + d] * k[j * dim + d]) as f64)
                        .sum::<f64>()
                        / 2.0
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            for d in 0..dim {
                let want: f64 = (0..=i)
                    .map(|j| weights[j] * v[j * dim + d] as f64)
                    .sum::<f64>()
                    / total;
                assert!((out[i * dim + d] as f64 - want).abs() < 1e-5, "token {i}");
            }
        }
    }

    /// The softmax in passes gives bit for bit what one pass in the row's order gives (max,
    /// then exponentials summed as they are made), so rollouts do not change with it: rows of
    /// every length around the lanes, with forbidden keys, a −∞ score, a row that sees nothing
    /// and a NaN.
    #[test]
    fn softmax_in_passes_equals_one_pass_bit_for_bit() {
        fn one_pass(row: &mut [f32], visible: usize, forbidden: &[bool]) {
            let (seen, future) = row.split_at_mut(visible);
            future.fill(0.0);
            for (x, f) in seen.iter_mut().zip(forbidden) {
                if *f {
                    *x = f32::NEG_INFINITY;
                }
            }
            let max = seen
                .iter()
                .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
            if max == f32::NEG_INFINITY {
                seen.fill(0.0);
                return;
            }
            let mut sum = 0.0f32;
            for x in seen.iter_mut() {
                *x = if *x == f32::NEG_INFINITY {
                    0.0
                } else {
                    exp(*x - max)
                };
                sum += *x;
            }
            seen.iter_mut().for_each(|x| *x *= 1.0 / sum);
        }
        let value = |i: usize| ((i * 7919) % 997) as f32 / 31.0 - 16.0;
        for len in [1usize, 7, 8, 9, 16, 23, 80, 129] {
            for visible in [len, len.div_ceil(2), 0] {
                let row: Vec<f32> = (0..len).map(|i| value(i + len)).collect();
                let no_mask = Vec::new();
                let mask: Vec<bool> = (0..len).map(|i| i % 5 == 3).collect();
                let mut minus_inf = row.clone();
                minus_inf[len / 2] = f32::NEG_INFINITY;
                let mut nan = row.clone();
                nan[len - 1] = f32::NAN;
                for (input, forbidden) in [
                    (&row, &no_mask),
                    (&row, &mask),
                    (&minus_inf, &no_mask),
                    (&nan, &no_mask),
                    (&row, &vec![true; len]),
                ] {
                    let forbidden = if forbidden.is_empty() {
                        &forbidden[..]
                    } else {
                        &forbidden[..visible]
                    };
                    let (mut got, mut want) = (input.clone(), input.clone());
                    softmax_prefix(&mut got, visible, forbidden);
                    one_pass(&mut want, visible, forbidden);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "length {len}, visible {visible}");
                }
            }
        }
    }
}
