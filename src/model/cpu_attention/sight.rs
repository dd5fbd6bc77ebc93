//! Which keys each query row of a head may see: an explicit mask, Burn's `is_causal`, or both.

use std::ops::Range;

/// The keys each query row sees; rows are counted within their head.
#[derive(Debug, Clone, Copy)]
pub struct Sight<'a> {
    /// Query rows per head.
    pub rows: usize,
    /// Keys per row.
    pub keys: usize,
    /// With `is_causal`: row `i` sees at most keys `0..=i + offset` (bottom-right alignment).
    pub causal_offset: Option<usize>,
    /// `[heads, rows, keys]`, non-zero where attention is forbidden.
    pub forbidden: Option<&'a [u8]>,
}

impl Sight<'_> {
    /// The keys from the first to the last one that row `row` of `head` sees; empty when it
    /// sees none.
    pub fn span(&self, head: usize, row: usize) -> Range<usize> {
        let end = self
            .causal_offset
            .map_or(self.keys, |offset| (row + offset + 1).min(self.keys));
        match self.mask_row(head, row) {
            None => 0..end,
            Some(mask) => {
                let mask = &mask[..end];
                match mask.iter().position(|&f| f == 0) {
                    None => 0..0,
                    Some(first) => {
                        let last = mask.iter().rposition(|&f| f == 0).unwrap_or(first);
                        first..last + 1
                    }
                }
            }
        }
    }

    /// The smallest span holding the spans of rows `rows` of `head` (empty when none sees a key).
    pub fn block_span(&self, head: usize, rows: Range<usize>) -> Range<usize> {
        rows.map(|row| self.span(head, row))
            .filter(|span| !span.is_empty())
            .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end))
            .unwrap_or(0..0)
    }

    /// Sets to −∞ the `scores` of keys `span` that row `row` of `head` may not see.
    pub fn hide(&self, head: usize, row: usize, span: Range<usize>, scores: &mut [f32]) {
        if let Some(offset) = self.causal_offset {
            let end = (row + offset + 1).clamp(span.start, span.end);
            scores[end - span.start..].fill(f32::NEG_INFINITY);
        }
        if let Some(mask) = self.mask_row(head, row) {
            for (s, &f) in scores.iter_mut().zip(&mask[span]) {
                if f != 0 {
                    *s = f32::NEG_INFINITY;
                }
            }
        }
    }

    fn mask_row(&self, head: usize, row: usize) -> Option<&[u8]> {
        let at = (head * self.rows + row) * self.keys;
        self.forbidden.map(|f| &f[at..at + self.keys])
    }
}
