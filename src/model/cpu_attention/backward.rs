//! The backward pass: the scores are recomputed block by block from the kept log-sum-exps, so
//! no `[rows, keys]` matrix outlives its block.
//!
//! With `P` the probabilities, `dO` the outputs' gradient and `s = 1/√dim`:
//! `dV = Pᵀ dO`, `dS = P ∘ (dO Vᵀ − rowsum(dO ∘ O))`, `dQ = s · dS K`, `dK = s · dSᵀ Q`.

use std::ops::Range;

use rayon::prelude::*;

use super::scores::{Inputs, ROW_BLOCK, row_blocks};
use crate::host::fast_exp::exp;
use crate::host::product::{Threads, product_into};
use crate::host::simd::with_avx2_fma;
use crate::host::view::MatRef;

/// Query rows whose contributions to the keys' and values' gradients are summed in one buffer;
/// the groups' buffers are then added in order, so the result does not depend on the threads.
const GROUP_ROWS: usize = 4 * ROW_BLOCK;

/// The gradients of the queries, keys and values, laid out as they are.
#[derive(Debug, Clone)]
pub struct Grads {
    /// `[heads, rows, dim]`.
    pub dq: Vec<f32>,
    /// `[heads, keys, dim]`.
    pub dk: Vec<f32>,
    /// `[heads, keys, dim]`.
    pub dv: Vec<f32>,
}

/// What the forward pass kept: its outputs `[heads, rows, dim]` and each row's log-sum-exp.
#[derive(Debug, Clone, Copy)]
pub struct Kept<'a> {
    /// The outputs, `[heads, rows, dim]`.
    pub out: &'a [f32],
    /// `[heads, rows]`, −∞ for a row that sees no key.
    pub log_sum_exp: &'a [f32],
}

/// The gradients given the forward pass `fwd` of `x` and the outputs' gradient `d_out`.
pub fn backward(x: &Inputs<'_>, fwd: Kept<'_>, d_out: &[f32]) -> Grads {
    let shape = x.shape;
    let (head_rows, head_keys) = (shape.rows * shape.dim, shape.keys * shape.dim);
    let mut grads = Grads {
        dq: vec![0.0f32; shape.heads * head_rows],
        dk: vec![0.0f32; shape.heads * head_keys],
        dv: vec![0.0f32; shape.heads * head_keys],
    };
    if head_rows == 0 || head_keys == 0 {
        return grads;
    }
    // Each group of rows writes its rows of dq and returns its share of dk and dv.
    let shares: Vec<Vec<KeyGrads>> = grads
        .dq
        .par_chunks_mut(head_rows)
        .enumerate()
        .map(|(head, dq)| {
            dq.par_chunks_mut(GROUP_ROWS * shape.dim)
                .enumerate()
                .map(|(group, dq)| {
                    let start = group * GROUP_ROWS;
                    let rows = start..(start + GROUP_ROWS).min(shape.rows);
                    group_backward(x, fwd, d_out, head, rows, dq)
                })
                .collect()
        })
        .collect();
    grads
        .dk
        .par_chunks_mut(head_keys)
        .zip(grads.dv.par_chunks_mut(head_keys))
        .zip(shares)
        .for_each(|((dk, dv), shares)| {
            for share in shares {
                add(dk, &share.dk);
                add(dv, &share.dv);
            }
        });
    grads
}

/// One group's share of a head's key and value gradients, `[keys, dim]` each.
struct KeyGrads {
    dk: Vec<f32>,
    dv: Vec<f32>,
}

/// Rows `rows` of `head`: writes their query gradients into `dq` and returns their share of
/// the key and value gradients.
fn group_backward(
    x: &Inputs<'_>,
    fwd: Kept<'_>,
    d_out: &[f32],
    head: usize,
    rows: Range<usize>,
    dq: &mut [f32],
) -> KeyGrads {
    let dim = x.shape.dim;
    let mut share = KeyGrads {
        dk: vec![0.0f32; x.shape.keys * dim],
        dv: vec![0.0f32; x.shape.keys * dim],
    };
    for block in row_blocks(rows.clone()) {
        let scores = x.scores(head, block.clone());
        let span = scores.span.clone();
        if span.is_empty() {
            continue;
        }
        let n = span.len();
        let first = head * x.shape.rows;
        let mut probs = scores.values;
        let mut d_scores = vec![0.0f32; block.len() * n];
        let d_out_block = x.row_view(d_out, head, block.clone());
        // dP = dO Vᵀ.
        product_into(
            &mut d_scores,
            n,
            d_out_block,
            x.key_view(x.v, head, span.clone()).t(),
            1.0,
            false,
            Threads::One,
        );
        for (i, row) in block.clone().enumerate() {
            let at = (first + row) * dim;
            let (o, g) = (&fwd.out[at..at + dim], &d_out[at..at + dim]);
            let delta = o.iter().zip(g).fold(0.0f32, |s, (o, g)| s + o * g);
            let cells = i * n..(i + 1) * n;
            score_grads(
                &mut probs[cells.clone()],
                &mut d_scores[cells],
                fwd.log_sum_exp[first + row],
                delta,
            );
        }
        let view = |m| MatRef::new(m, 0, [block.len(), n], [n, 1]).expect("a block");
        let keys_at = span.start * dim..span.end * dim;
        let q_rows = block.start - rows.start..block.end - rows.start;
        product_into(
            &mut dq[q_rows.start * dim..q_rows.end * dim],
            dim,
            view(&d_scores),
            x.key_view(x.k, head, span.clone()),
            x.scale(),
            false,
            Threads::One,
        );
        product_into(
            &mut share.dk[keys_at.clone()],
            dim,
            view(&d_scores).t(),
            x.row_view(x.q, head, block.clone()),
            x.scale(),
            true,
            Threads::One,
        );
        product_into(
            &mut share.dv[keys_at],
            dim,
            view(&probs).t(),
            d_out_block,
            1.0,
            true,
            Threads::One,
        );
    }
    share
}

with_avx2_fma! {
    /// One row: `scores` (−∞ where hidden) become the probabilities `exp(score − lse)`, and
    /// `d_probs` (`dO Vᵀ`) becomes the scores' gradient `P ∘ (dP − delta)`. A row that sees no
    /// key (`lse` = −∞) has zero gradients.
    fn score_grads(scores: &mut [f32], d_probs: &mut [f32], lse: f32, delta: f32) =
        score_grads_portable;
}

#[inline(always)]
fn score_grads_portable(scores: &mut [f32], d_probs: &mut [f32], lse: f32, delta: f32) {
    if lse == f32::NEG_INFINITY {
        scores.fill(0.0);
        d_probs.fill(0.0);
        return;
    }
    for (s, d) in scores.iter_mut().zip(d_probs.iter_mut()) {
        let p = exp(*s - lse);
        let p = if *s == f32::NEG_INFINITY { 0.0 } else { p };
        *s = p;
        *d = p * (*d - delta);
    }
}

with_avx2_fma! {
    /// `acc += x`, element by element.
    fn add(acc: &mut [f32], x: &[f32]) = add_portable;
}

#[inline(always)]
fn add_portable(acc: &mut [f32], x: &[f32]) {
    acc.iter_mut().zip(x).for_each(|(a, x)| *a += x);
}
