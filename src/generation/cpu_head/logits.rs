//! All logits of a decoding step's tokens on the CPU, vocabulary blocks in parallel, written
//! straight into one row-major host buffer for sampling: streamed rows ([`few_rows_logits`]) when
//! the vocabulary rows are contiguous, the packed matrix kernel otherwise.

use rayon::prelude::*;

use super::few_rows::few_rows_logits;
use crate::host::product::{Threads, product_into};
use crate::host::view::MatRef;

/// Vocabulary columns per parallel work item.
const BLOCK_COLUMNS: usize = 4096;

/// `scale · hidden [m, H] · matrix [H, V]`, row-major `[m, V]`.
pub fn logits(hidden: MatRef<'_>, matrix: MatRef<'_>, scale: f32) -> Vec<f32> {
    let (m, k, vocab) = (hidden.rows(), hidden.cols(), matrix.cols());
    assert_eq!(k, matrix.rows(), "logits: hidden size differs");
    let mut out = vec![0.0f32; m * vocab];
    let hidden_rows: Vec<f32> = (0..m * k).map(|x| hidden.at(x / k, x % k)).collect();
    let streamed = matrix.contiguous_column(0).is_some();
    // Each block's slice of every row: disjoint, so the blocks can be written in parallel.
    let mut parts: Vec<Vec<&mut [f32]>> = (0..vocab.div_ceil(BLOCK_COLUMNS))
        .map(|_| Vec::with_capacity(m))
        .collect();
    for row in out.chunks_mut(vocab) {
        for (b, part) in row.chunks_mut(BLOCK_COLUMNS).enumerate() {
            parts[b].push(part);
        }
    }
    parts.into_par_iter().enumerate().for_each(|(b, rows)| {
        let w = matrix.block(0, b * BLOCK_COLUMNS, k, BLOCK_COLUMNS);
        let width = w.cols();
        let mut tile = vec![0.0f32; m * width];
        if streamed {
            let row = |v| w.contiguous_column(v).expect("contiguous vocabulary rows");
            few_rows_logits(&mut tile, width, &hidden_rows, k, width, row, scale);
        } else {
            product_into(&mut tile, width, hidden, w, scale, false, Threads::One);
        }
        for (row, values) in rows.into_iter().zip(tile.chunks(width)) {
            row.copy_from_slice(values);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a direct computation, over a vocabulary that ends in a partial block.
    #[test]
    fn equals_a_direct_product() {
        let (m, h, v) = (3, 4, BLOCK_COLUMNS + 5);
        let hidden: Vec<f32> = (0..m * h).map(|i| i as f32 - 5.0).collect();
        let embed: Vec<f32> = (0..v * h).map(|i| ((i * 7 % 13) as f32) / 4.0).collect();
        let embed_t: Vec<f32> = (0..h * v).map(|x| embed[(x % v) * h + x / v]).collect();
        let hidden_view = MatRef::row_major(&hidden, m, h).unwrap();
        // Tied (vocabulary rows contiguous: streamed) and untied ([H, V] row-major: packed).
        let streamed = logits(
            hidden_view,
            MatRef::row_major(&embed, v, h).unwrap().t(),
            0.5,
        );
        let packed = logits(hidden_view, MatRef::row_major(&embed_t, h, v).unwrap(), 0.5);
        for out in [streamed, packed] {
            for i in 0..m {
                for c in 0..v {
                    let want: f32 = (0..h)
                        .map(|j| hidden[i * h + j] * embed[c * h + j])
                        .sum::<f32>()
                        * 0.5;
                    assert!((out[i * v + c] - want).abs() < 1e-4, "({i}, {c})");
                }
            }
        }
    }
}
