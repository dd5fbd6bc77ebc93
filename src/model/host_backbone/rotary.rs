//! Rotary position embeddings applied in place to `[tokens, heads · head_dim]` rows on host
//! memory, with the same tables as `model::rotary` (angles in f32, cos/sin rounded from f64).

use rayon::prelude::*;

use crate::model::rotary::{cos_sin, inverse_frequencies};

/// `cos` and `sin` of `p · inv_freq` for each position `p` up to the largest one used.
pub struct HostRotary {
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl HostRotary {
    /// Tables for positions `0..=max_position`.
    pub fn new(max_position: usize, head_dim: usize, theta: f64) -> Self {
        let inv = inverse_frequencies(head_dim, theta);
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity((max_position + 1) * half);
        let mut sin = Vec::with_capacity((max_position + 1) * half);
        for p in 0..=max_position {
            for &f in inv.iter().take(half) {
                let (c, s) = cos_sin(p, f);
                cos.push(c);
                sin.push(s);
            }
        }
        Self { half, cos, sin }
    }

    /// Rotates every head of every token: `x[t]` holds the heads of the token at
    /// `positions[t]`, `rotate_half` form (the two halves of a head are a pair).
    pub fn apply(&self, x: &mut [f32], positions: &[usize], heads: usize) {
        let width = heads * 2 * self.half;
        x.par_chunks_mut(width)
            .zip(positions.par_iter())
            .for_each(|(row, &p)| {
                let cos = &self.cos[p * self.half..(p + 1) * self.half];
                let sin = &self.sin[p * self.half..(p + 1) * self.half];
                for head in row.chunks_exact_mut(2 * self.half) {
                    let (a, b) = head.split_at_mut(self.half);
                    for i in 0..self.half {
                        let (x1, x2) = (a[i], b[i]);
                        a[i] = x1 * cos[i] + x2 * -sin[i];
                        b[i] = x2 * cos[i] + x1 * sin[i];
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Head width 2 has one frequency, 1: position 0 leaves the pair alone and position 1 rotates
    /// (1, 0) by one radian to (cos 1, sin 1), in each of two heads.
    #[test]
    fn rotates_pairs_by_hand_computed_angles() {
        let rotary = HostRotary::new(1, 2, 10_000.0);
        let mut x = [1.0, 0.0, 0.0, 2.0, 1.0, 0.0, 1.0, 0.0];
        rotary.apply(&mut x, &[0, 1], 2);
        let (c, s) = (1f32.cos(), 1f32.sin());
        let want = [1.0, 0.0, 0.0, 2.0, c, s, c, s];
        for (g, w) in x.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{x:?}");
        }
    }
}
