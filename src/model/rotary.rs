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

/// `(cos, sin)` of the angle `position · inv_freq`, the angle taken in f32 as transformers does
/// and its cosine and sine rounded from f64.
pub fn cos_sin(position: usize, inv_freq: f32) -> (f32, f32) {
    let angle = (position as f32 * inv_freq) as f64;
    (angle.cos() as f32, angle.sin() as f32)
}

/// Cosine and sine tables for the given positions, laid out `[batch, seq, heads, head_dim]` for
/// each head count the model uses, so rotating a projection is a few passes over contiguous
/// memory (no broadcasting, no strided reads).
#[derive(Clone, Debug)]
pub struct RotaryTables<B: Backend> {
    /// `(heads, cos, signed sin)`: `cos(pos · inv_freq)` over both halves, and
    /// `[−sin, +sin](pos · inv_freq)` so that `rotate_half(x)·sin = swap_halves(x)·signed_sin`.
    tables: Vec<(usize, Tensor<B, 4>, Tensor<B, 4>)>,
}

impl<B: Backend> RotaryTables<B> {
    /// Builds the tables for `positions[b][t]` and each count in `heads` on the host and uploads
    /// them in `dtype`.
    pub fn new(
        positions: &[Vec<usize>],
        heads: &[usize],
        head_dim: usize,
        theta: f64,
        dtype: DType,
        device: &B::Device,
    ) -> Self {
        let inv = inverse_frequencies(head_dim, theta);
        let batch = positions.len();
        let seq = positions.first().map_or(0, Vec::len);
        let half = head_dim / 2;
        let mut tables = Vec::new();
        for &h in heads {
            if tables.iter().any(|(n, _, _)| *n == h) {
                continue;
            }
            let mut cos = Vec::with_capacity(batch * seq * h * head_dim);
            let mut sin = Vec::with_capacity(batch * seq * h * head_dim);
            for row in positions {
                assert_eq!(row.len(), seq, "every row needs one position per token");
                for &p in row {
                    for _head in 0..h {
                        for sign in [-1.0f32, 1.0] {
                            for &f in inv.iter().take(half) {
                                let (c, s) = cos_sin(p, f);
                                cos.push(c);
                                sin.push(sign * s);
                            }
                        }
                    }
                }
            }
            let shape = [batch, seq, h, head_dim];
            let upload = |v: Vec<f32>| {
                Tensor::<B, 4>::from_data(TensorData::new(v, shape), device).cast(dtype)
            };
            tables.push((h, upload(cos), upload(sin)));
        }
        Self { tables }
    }

    /// Rotates `x: [batch, seq, heads, head_dim]`: `x·cos + rotate_half(x)·sin`.
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, _, h, d] = x.dims();
        let (_, cos, sin) = self
            .tables
            .iter()
            .find(|(n, _, _)| *n == h)
            .expect("rotary tables built for this head count");
        let swapped = Tensor::cat(
            vec![
                x.clone().narrow(3, d / 2, d / 2),
                x.clone().narrow(3, 0, d / 2),
            ],
            3,
        );
        x * cos.clone() + swapped * sin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn position_zero_is_identity_and_rotation_matches_hand_values() {
        let device = Default::default();
        // head_dim 2: a single frequency 1.0, so position p rotates by p radians.
        let tables =
            RotaryTables::<Flex>::new(&[vec![0, 1]], &[1], 2, 10000.0, DType::F32, &device);
        // [batch 1, seq 2, heads 1, head_dim 2]
        let x = Tensor::<Flex, 4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 1.0, 2.0], [1, 2, 1, 2]),
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
