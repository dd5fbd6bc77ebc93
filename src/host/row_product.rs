//! One row times a row-major matrix, split by columns over a [`Team`]: a decoding step's linear
//! layers at batch 1.
//!
//! A general matrix kernel runs a one-row product on one thread. Here each thread takes a band of
//! output columns and streams the weight rows across it in panels, the band's sums staying in
//! registers or the L1 cache. Every output is summed in the same order (its starting value, then
//! the input's elements in turn, each with a fused multiply-add) whatever the band, the team or
//! the vector width, so results do not depend on the number of threads.

use crate::host::simd::with_avx2_fma;
use crate::host::team::Team;

/// Output columns a band starts on a multiple of (one block of [`band_portable`]).
const BLOCK: usize = 64;

/// Weight rows one pass over a band's blocks covers, so each block's sums go through registers
/// once per panel rather than once per row.
const PANEL: usize = 32;

/// `dst[j] = (dst[j] if accumulate, else 0) + Σ_k x[k] · w[k · stride + j]` for the `dst.len()`
/// columns of the `x.len() × dst.len()` matrix at the start of `w` (rows `stride` apart), split
/// into one band of whole blocks per thread of `team`.
pub fn row_times_matrix(
    dst: &mut [f32],
    x: &[f32],
    w: &[f32],
    stride: usize,
    accumulate: bool,
    team: &Team,
) {
    let (k, n) = (x.len(), dst.len());
    assert!(
        n <= stride,
        "row_times_matrix: rows shorter than the output"
    );
    assert!(
        k == 0 || (k - 1) * stride + n <= w.len(),
        "row_times_matrix: weight smaller than {k} × {n}"
    );
    if !accumulate {
        dst.fill(0.0);
    }
    let band = (n.div_ceil(team.size()).div_ceil(BLOCK) * BLOCK).max(BLOCK);
    team.for_each_chunk(dst, band, &|i, cols| {
        band_of_columns(cols, x, &w[i * band..], stride);
    });
}

with_avx2_fma! {
    /// Adds `x · w[.., 0..dst.len()]` to `dst` (see [`band_portable`]).
    fn band_of_columns(dst: &mut [f32], x: &[f32], w: &[f32], stride: usize) = band_portable;
}

/// Adds `Σ_k x[k] · w[k · stride + j]` to `dst[j]` for every column `j` of the band, one
/// multiply-add per row in row order: blocks of [`BLOCK`] columns whose sums stay in registers
/// over a panel of [`PANEL`] rows, then the leftover columns row by row.
#[inline(always)]
fn band_portable(dst: &mut [f32], x: &[f32], w: &[f32], stride: usize) {
    let width = dst.len();
    for k0 in (0..x.len()).step_by(PANEL) {
        let rows = k0..(k0 + PANEL).min(x.len());
        let mut blocks = dst.chunks_exact_mut(BLOCK);
        for (b, block) in blocks.by_ref().enumerate() {
            let mut sums = [0.0f32; BLOCK];
            sums.copy_from_slice(block);
            for k in rows.clone() {
                let row = &w[k * stride + b * BLOCK..][..BLOCK];
                let xk = x[k];
                for (s, &v) in sums.iter_mut().zip(row) {
                    *s = v.mul_add(xk, *s);
                }
            }
            block.copy_from_slice(&sums);
        }
        let rest = blocks.into_remainder();
        let start = width - rest.len();
        for k in rows {
            let row = &w[k * stride + start..][..rest.len()];
            let xk = x[k];
            for (s, &v) in rest.iter_mut().zip(row) {
                *s = v.mul_add(xk, *s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::team::with_team;

    /// [1, 2] · [[1, 2, 3], [4, 5, 6]] = [9, 12, 15], added to what `dst` holds when
    /// accumulating; rows read `stride` apart.
    #[test]
    fn a_hand_computed_row_product() {
        let w = [1.0, 2.0, 3.0, 99.0, 4.0, 5.0, 6.0];
        let mut dst = vec![7.0; 3];
        row_times_matrix(&mut dst, &[1.0, 2.0], &w, 4, false, &Team::solo());
        assert_eq!(dst, [9.0, 12.0, 15.0]);
        row_times_matrix(&mut dst, &[1.0, 2.0], &w, 4, true, &Team::solo());
        assert_eq!(dst, [18.0, 24.0, 30.0]);
    }

    /// Each output is the fused multiply-add chain over the rows in order, bit for bit, on one
    /// thread and on a team of three, for widths with and without leftover columns.
    #[test]
    fn every_output_is_one_chain_in_row_order() {
        let value = |i: usize| ((i * 7919) % 1009) as f32 / 1009.0 - 0.5;
        for (k, n) in [(70, 300), (33, 64), (5, 7), (256, 1000)] {
            let x: Vec<f32> = (0..k).map(|i| value(i + 3)).collect();
            let w: Vec<f32> = (0..k * n).map(value).collect();
            let start: Vec<f32> = (0..n).map(|j| value(j + 11)).collect();
            let want: Vec<f32> = (0..n)
                .map(|j| (0..k).fold(start[j], |s, r| w[r * n + j].mul_add(x[r], s)))
                .collect();
            let mut alone = start.clone();
            row_times_matrix(&mut alone, &x, &w, n, true, &Team::solo());
            assert_eq!(alone, want, "{k} × {n}");
            let threads = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            let mut shared = start.clone();
            threads
                .install(|| with_team(|team| row_times_matrix(&mut shared, &x, &w, n, true, team)));
            assert_eq!(shared, want, "{k} × {n} on a team");
        }
    }
}
