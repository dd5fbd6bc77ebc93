//! The inputs of one attention call on host memory and the scaled, masked scores of a block of
//! its query rows.

use std::ops::Range;

use super::sight::Sight;
use crate::host::product::{Threads, product_into};
use crate::host::view::MatRef;

/// Query rows per block: a block's scores against a thousand keys stay in the core's cache.
pub const ROW_BLOCK: usize = 128;

/// Sizes of one attention call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Independent heads (batch rows × key/value heads).
    pub heads: usize,
    /// Query rows per head.
    pub rows: usize,
    /// Keys (and values) per head.
    pub keys: usize,
    /// Width of a query, key or value.
    pub dim: usize,
}

/// `q [heads, rows, dim]`, `k` and `v` `[heads, keys, dim]`, row-major, and what each row sees.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The queries, `[heads, rows, dim]`.
    pub q: &'a [f32],
    /// The keys, `[heads, keys, dim]`.
    pub k: &'a [f32],
    /// The values, `[heads, keys, dim]`.
    pub v: &'a [f32],
    /// The sizes.
    pub shape: Shape,
    /// Which keys each row sees.
    pub sight: Sight<'a>,
}

/// The scores of a block of rows against the keys `span`: `[rows, span.len()]`, row-major.
pub struct Scores {
    /// The keys some row of the block sees, from the first to the last (empty: none).
    pub span: Range<usize>,
    /// `q kᵀ / √dim`, −∞ where a row may not see a key.
    pub values: Vec<f32>,
}

impl<'a> Inputs<'a> {
    /// The `1 / √dim` that scales the scores.
    pub fn scale(&self) -> f32 {
        (self.shape.dim as f32).sqrt().recip()
    }

    /// Rows `rows` of `head` of a `[heads, rows, dim]` buffer (`q`, an output or its gradient).
    pub fn row_view<'b>(&self, data: &'b [f32], head: usize, rows: Range<usize>) -> MatRef<'b> {
        let Shape { dim, .. } = self.shape;
        let at = (head * self.shape.rows + rows.start) * dim;
        MatRef::new(data, at, [rows.len(), dim], [dim, 1]).expect("rows inside the buffer")
    }

    /// Keys `span` of `head` of a `[heads, keys, dim]` buffer (`k`, `v`).
    pub fn key_view<'b>(&self, data: &'b [f32], head: usize, span: Range<usize>) -> MatRef<'b> {
        let Shape { keys, dim, .. } = self.shape;
        MatRef::new(
            data,
            (head * keys + span.start) * dim,
            [span.len(), dim],
            [dim, 1],
        )
        .expect("keys inside the buffer")
    }

    /// The scores of rows `rows` of `head`.
    pub fn scores(&self, head: usize, rows: Range<usize>) -> Scores {
        let span = self.sight.block_span(head, rows.clone());
        if span.is_empty() {
            return Scores {
                span,
                values: Vec::new(),
            };
        }
        let n = span.len();
        let mut values = vec![0.0f32; rows.len() * n];
        product_into(
            &mut values,
            n,
            self.row_view(self.q, head, rows.clone()),
            self.key_view(self.k, head, span.clone()).t(),
            self.scale(),
            false,
            Threads::One,
        );
        for (row, scores) in rows.zip(values.chunks_mut(n)) {
            self.sight.hide(head, row, span.clone(), scores);
        }
        Scores { span, values }
    }
}

/// The blocks of [`ROW_BLOCK`] rows that `rows` splits into.
pub fn row_blocks(rows: Range<usize>) -> impl Iterator<Item = Range<usize>> {
    rows.clone()
        .step_by(ROW_BLOCK)
        .map(move |start| start..(start + ROW_BLOCK).min(rows.end))
}
