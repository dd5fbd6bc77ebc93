//! The SwiGLU gate on host memory: `silu(gate) · up`, with the vectorised `exp`.

use rayon::prelude::*;

use crate::host::fast_exp::exp;
use crate::host::simd::with_avx2_fma;

/// Values processed per parallel work item.
const CHUNK: usize = 16 * 1024;

/// `gate[i] ← gate[i] / (1 + e^(−gate[i])) · up[i]`.
pub fn swiglu_in_place(gate: &mut [f32], up: &[f32]) {
    gate.par_chunks_mut(CHUNK)
        .zip(up.par_chunks(CHUNK))
        .for_each(|(g, u)| swiglu_chunk(g, u));
}

with_avx2_fma! {
    /// One chunk of [`swiglu_in_place`].
    fn swiglu_chunk(gate: &mut [f32], up: &[f32]) = swiglu_portable;
}

#[inline(always)]
fn swiglu_portable(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + exp(-*g)) * u;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// silu(0) = 0, silu(2) = 2 / (1 + e⁻²) ≈ 1.761594, silu(−1) = −1 / (1 + e) ≈ −0.268941.
    #[test]
    fn matches_hand_computed_values() {
        let mut gate = [0.0f32, 2.0, -1.0];
        swiglu_in_place(&mut gate, &[5.0, 1.0, 2.0]);
        let want = [0.0, 1.761_594_2, -0.537_882_8];
        for (g, w) in gate.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{gate:?}");
        }
    }
}
