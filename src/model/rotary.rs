//! Rotary position embeddings in transformers' `rotate_half` form, indexed by per-sequence
//! position ids (so left-padded rows rotate from their first real token).
//!
//! Burn's `RotaryEncoding` rotates interleaved pairs, which is a different layout from
//! Qwen2's checkpoints; this module implements the split-halves form instead.

use burn::tensor::{DType, Tensor, TensorData, backend::Backend};

/// Inverse frequencies `1 / theta^(2i/d)`, in f32 arithmetic as transformers computes them.
pub fn inverse_frequencies(head_dim: usize, theta: f64) -> Vec<f32> {
    let theta = theta as f32;
    (0..head_dim / 2)
        .map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32))
        .collect()
}

/// Cosine and sine tables `[batch, 1, seq, head_dim]` for the given positions.
#[derive(Clone, Debug)]
pub struct RotaryTables<B: Backend> {
    /// `cos(pos · inv_freq)`, repeated over both halves.
    pub cos: Tensor<B, 4>,
    /// `sin(pos · inv_freq)`, repeated over both halves.
    pub sin: Tensor<B, 4>,
}

impl<B: Backend> RotaryTables<B> {
    /// Builds the tables for `positions[b][t]` on the host and uploads them in `dtype`.
    pub fn new(
        positions: &[Vec<usize>],
        head_dim: usize,
        theta: f64,
        dtype: DType,
        device: &B::Device,
    ) -> Self {
        let inv = inverse_frequencies(head_dim, theta);
        let batch = positions.len();
        let seq = positions.first().map_or(0, Vec::len);
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(batch * seq * head_dim);
        let mut sin = Vec::with_capacity(batch * seq * head_dim);
        for row in positions {
            assert_eq!(row.len(), seq, "every row needs one position per token");
            for &p in row {
                for _half in 0..2 {
                    for &f in inv.iter().take(half) {
                        let angle = (p as f32 * f) as f64;
                        cos.push(angle.cos() as f32);
                        sin.push(angle.sin() as f32);
                    }
                }
            }
        }
        let shape = [batch, 1, seq, head_dim];
        let cos = Tensor::<B, 4>::from_data(TensorData::new(cos, shape), device).cast(dtype);
        let sin = Tensor::<B, 4>::from_data(TensorData::new(sin, shape), device).cast(dtype);
        Self { cos, sin }
    }

    /// Rotates `x: [batch, heads, seq, head_dim]`: `x·cos + rotate_half(x)·sin`.
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        x.clone() * self.cos.clone() + rotate_half(x) * self.sin.clone()
    }
}

/// `[x1, x2] -> [-x2, x1]` over the last dimension.
pub fn rotate_half<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, _, d] = x.dims();
    let x1 = x.clone().narrow(3, 0, d / 2);
    let x2 = x.narrow(3, d / 2, d / 2);
    Tensor::cat(vec![x2.neg(), x1], 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn position_zero_is_identity_and_rotation_matches_hand_values() {
        let device = Default::default();
        // head_dim 2: a single frequency 1.0, so position p rotates by p radians.
        let tables = RotaryTables::<Flex>::new(&[vec![0, 1]], 2, 10000.0, DType::F32, &device);
        let x = Tensor::<Flex, 4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 1.0, 2.0], [1, 1, 2, 2]),
            &device,
        );
        let y: Vec<f32> = tables.apply(x).into_data().to_vec().unwrap();
        let (c, s) = (1f32.cos(), 1f32.sin());
        let expected = [1.0, 2.0, c - 2.0 * s, 2.0 * c + s];
        for (a, b) in y.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{y:?} vs {expected:?}");
        }
    }
}
