//! Root-mean-square normalisation of token rows on host memory, as `model::rms_norm` computes it.

use rayon::prelude::*;

use crate::host::simd::with_avx2_fma;

/// `out[t] = x[t] / sqrt(mean(x[t]²) + eps) · weight` for every row of width `weight.len()`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f64, out: &mut [f32]) {
    let width = weight.len();
    out[..x.len()]
        .par_chunks_mut(width)
        .zip(x.par_chunks(width))
        .for_each(|(y, x)| normalise_row(x, weight, eps as f32, y));
}

with_avx2_fma! {
    /// One row of [`rms_norm`].
    fn normalise_row(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) = normalise_portable;
}

#[inline(always)]
fn normalise_portable(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let inv = 1.0 / (sum_of_squares(x) / weight.len() as f32 + eps).sqrt();
    for ((y, &x), &w) in out.iter_mut().zip(x).zip(weight) {
        *y = (x * inv) * w;
    }
}

/// `Σ x²` over eight lanes (so the loop vectorises), summed in a fixed order.
#[inline(always)]
fn sum_of_squares(x: &[f32]) -> f32 {
    const L: usize = 8;
    let mut lanes = [0.0f32; L];
    let chunks = x.chunks_exact(L);
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for c in chunks {
        for l in 0..L {
            lanes[l] = c[l].mul_add(c[l], lanes[l]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row [3, 4]: mean square 12.5, so with eps 0 each value is divided by √12.5 ≈ 3.5355.
    #[test]
    fn normalises_a_hand_computed_row() {
        let mut out = [0.0; 4];
        rms_norm(&[3.0, 4.0, 0.0, 2.0], &[1.0, 2.0], 0.0, &mut out);
        let r = 12.5f32.sqrt();
        let want = [3.0 / r, 8.0 / r, 0.0, 2.0 * 2f32.sqrt()];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{out:?}");
        }
    }
}
