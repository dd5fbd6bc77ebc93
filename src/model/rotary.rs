//! Rotary position embeddings in transformers' `rotate_half` form, indexed by per-sequence
//! position ids (so left-padded rows rotate from their first real token).
//!
//! Burn's `RotaryEncoding` rotates interleaved pairs, which is a different layout from
//! Qwen2's checkpoints; this module implements the split-halves form instead.

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Int, Tensor, TensorData};

use super::contiguous::contiguous_gradient;
use super::recorded_numerics::as_recorded;
use crate::host::flex::on_flex;

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
    /// `[d/2, …, d − 1, 0, …, d/2 − 1]`, the last axis's indices with its halves swapped: one
    /// gather (on a fused GPU backend sometimes inside the rotation's elementwise kernel) in place
    /// of two slice assignments; under autodiff its gradient is one zero fill and one assignment,
    /// where the two slices' is a zero fill and an assignment each. `None` when the CPU backend
    /// records gradients: the halves are concatenated from two slices there, whose gradient needs
    /// no scatter-add.
    swap_index: Option<Tensor<B, 1, Int>>,
}

impl<B: AutodiffBackend> RotaryTables<B> {
    /// The same tables on the backend autodiff wraps.
    pub fn inner(&self) -> RotaryTables<B::InnerBackend> {
        RotaryTables {
            tables: self
                .tables
                .iter()
                .map(|(h, cos, sin)| (*h, cos.clone().inner(), sin.clone().inner()))
                .collect(),
            swap_index: self.swap_index.clone().map(Tensor::inner),
        }
    }
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
        let rows = PositionRows::new(positions, &inv);
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
                    let (c, s) = rows.get(p);
                    for _head in 0..h {
                        cos.extend_from_slice(c);
                        sin.extend_from_slice(s);
                    }
                }
            }
            let shape = [batch, seq, h, head_dim];
            let upload = |v: Vec<f32>| {
                Tensor::<B, 4>::from_data(TensorData::new(v, shape), device).cast(dtype)
            };
            tables.push((h, upload(cos), upload(sin)));
        }
        let swap_index = (!as_recorded::<B>(device) || !on_flex::<B>())
            .then(|| halves_swapped(head_dim, device));
        Self { tables, swap_index }
    }

    /// Rotates `x: [batch, seq, heads, head_dim]`: `x·cos + rotate_half(x)·sin`.
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let (cos, sin) = self.table(x.dims()[2]);
        let swapped = self.swap_halves(x.clone());
        // In the backward pass the strided gradient of the caller's head-major view becomes one
        // contiguous copy, so the multiplications' gradients read contiguous memory.
        contiguous_gradient(x * cos + swapped * sin)
    }

    /// Rotates a head-major view `x: [batch, heads, seq, head_dim]` of a `[batch, seq, heads,
    /// head_dim]` tensor, reading the tables through the same view. On a fused GPU backend the
    /// rotation's kernel then writes the head-major layout attention reads, where rotating first
    /// leaves a strided view that attention copies.
    pub fn apply_head_major(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let (cos, sin) = self.table(x.dims()[1]);
        let swapped = self.swap_halves(x.clone());
        x * cos.swap_dims(1, 2) + swapped * sin.swap_dims(1, 2)
    }

    /// The `(cos, signed sin)` tables for `heads` heads, `[batch, seq, heads, head_dim]`.
    fn table(&self, heads: usize) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let (_, cos, sin) = self
            .tables
            .iter()
            .find(|(n, _, _)| *n == heads)
            .expect("rotary tables built for this head count");
        (cos.clone(), sin.clone())
    }

    /// `x` with the halves of its last axis swapped.
    fn swap_halves(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let d = x.dims()[3];
        match &self.swap_index {
            Some(index) => x.select(3, index.clone()),
            None => Tensor::cat(
                vec![x.clone().narrow(3, d / 2, d / 2), x.narrow(3, 0, d / 2)],
                3,
            ),
        }
    }
}

/// `[d/2, …, d − 1, 0, …, d/2 − 1]` for `d = head_dim`.
fn halves_swapped<B: Backend>(head_dim: usize, device: &B::Device) -> Tensor<B, 1, Int> {
    let half = head_dim as i64 / 2;
    let swap: Vec<i64> = (half..2 * half).chain(0..half).collect();
    Tensor::from_data(TensorData::new(swap, [head_dim]), device)
}

/// One head's `cos` and signed `sin` row for each position that occurs, computed once per
/// position rather than once per token and head.
struct PositionRows {
    head_dim: usize,
    /// Where each position's rows start in `cos` / `sin`; `None` when it does not occur.
    start: Vec<Option<usize>>,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl PositionRows {
    fn new(positions: &[Vec<usize>], inv: &[f32]) -> Self {
        let end = positions.iter().flatten().max().map_or(0, |&p| p + 1);
        let mut rows = Self {
            head_dim: 2 * inv.len(),
            start: vec![None; end],
            cos: Vec::new(),
            sin: Vec::new(),
        };
        for &p in positions.iter().flatten() {
            if rows.start[p].is_some() {
                continue;
            }
            rows.start[p] = Some(rows.cos.len());
            for sign in [-1.0f32, 1.0] {
                for &f in inv {
                    let (c, s) = cos_sin(p, f);
                    rows.cos.push(c);
                    rows.sin.push(sign * s);
                }
            }
        }
        rows
    }

    /// `(cos, signed sin)` rows of `position`, `head_dim` values each.
    fn get(&self, position: usize) -> (&[f32], &[f32]) {
        let at = self.start[position].expect("rows are built for every position given");
        let range = at..at + self.head_dim;
        (&self.cos[range.clone()], &self.sin[range])
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

    /// Inference swaps the halves with a gather, training with two slices: the same rotation.
    #[test]
    fn inference_and_training_rotate_alike() {
        use burn::backend::Autodiff;
        use burn::tensor::Distribution;
        let device = Default::default();
        let positions = [vec![3, 1, 2], vec![0, 4, 5]];
        let x = Tensor::<Flex, 4>::random([2, 3, 2, 8], Distribution::Normal(0.0, 1.0), &device);
        let plain = RotaryTables::<Flex>::new(&positions, &[2], 8, 10000.0, DType::F32, &device)
            .apply(x.clone());
        let tracked =
            RotaryTables::<Autodiff<Flex>>::new(&positions, &[2], 8, 10000.0, DType::F32, &device)
                .apply(Tensor::from_inner(x.clone()))
                .inner();
        assert_eq!(plain.to_data(), tracked.to_data());
        // Not the identity: the swap moves values.
        assert_ne!(plain.to_data(), x.to_data());
    }

    /// Under autodiff the gather (GPU backends) and the slices (the CPU) give the same rotation
    /// and the same gradient.
    #[test]
    fn gathered_and_sliced_halves_back_propagate_alike() {
        use burn::backend::Autodiff;
        use burn::tensor::Distribution;
        type A = Autodiff<Flex>;
        let device = Default::default();
        let positions = [vec![3, 1, 2], vec![0, 4, 5]];
        let x = Tensor::<Flex, 4>::random([2, 3, 2, 8], Distribution::Normal(0.0, 1.0), &device);
        let upstream =
            Tensor::<Flex, 4>::random([2, 3, 2, 8], Distribution::Normal(0.0, 1.0), &device);
        let run = |gather: bool| {
            let mut tables =
                RotaryTables::<A>::new(&positions, &[2], 8, 10000.0, DType::F32, &device);
            assert!(tables.swap_index.is_none(), "the CPU slices under autodiff");
            if gather {
                tables.swap_index = Some(halves_swapped(8, &device));
            }
            let x = Tensor::<A, 4>::from_inner(x.clone()).require_grad();
            let y = tables.apply(x.clone());
            let grads = (y.clone() * Tensor::from_inner(upstream.clone()))
                .sum()
                .backward();
            (y.inner(), x.grad(&grads).expect("a gradient"))
        };
        let ((y_gather, g_gather), (y_slice, g_slice)) = (run(true), run(false));
        assert_eq!(y_gather.to_data(), y_slice.to_data());
        assert_eq!(g_gather.to_data(), g_slice.to_data());
        // Not the upstream gradient itself: the rotation moves values.
        assert_ne!(g_slice.to_data(), upstream.to_data());
    }

    /// Rotating through the head-major view equals rotating first and then viewing head-major.
    #[test]
    fn head_major_rotation_equals_rotating_first() {
        use burn::tensor::Distribution;
        let device = Default::default();
        let positions = [vec![3, 1, 2], vec![0, 4, 5]];
        let tables = RotaryTables::<Flex>::new(&positions, &[2], 8, 10000.0, DType::F32, &device);
        let x = Tensor::<Flex, 4>::random([2, 3, 2, 8], Distribution::Normal(0.0, 1.0), &device);
        let first = tables.apply(x.clone()).swap_dims(1, 2);
        let viewed = tables.apply_head_major(x.clone().swap_dims(1, 2));
        assert_eq!(viewed.dims(), [2, 2, 3, 8]);
        assert_eq!(first.to_data(), viewed.to_data());
        assert_ne!(first.to_data(), x.swap_dims(1, 2).to_data());
    }

    #[test]
    fn tables_repeat_each_position_row_per_head_in_layout_order() {
        let device = Default::default();
        // head_dim 4: frequencies 1 and 1/100 (theta 10000); repeated and unordered positions,
        // as left padding produces, and two head counts.
        let positions = [vec![0, 0, 1, 2], vec![3, 1, 2, 0]];
        let tables =
            RotaryTables::<Flex>::new(&positions, &[2, 1], 4, 10000.0, DType::F32, &device);
        let inv = [1.0f32, 0.01];
        for (h, cos, sin) in &tables.tables {
            assert_eq!(cos.dims(), [2, 4, *h, 4]);
            let cos: Vec<f32> = cos.clone().into_data().to_vec().unwrap();
            let sin: Vec<f32> = sin.clone().into_data().to_vec().unwrap();
            let mut at = 0;
            for row in &positions {
                for &p in row {
                    for _ in 0..*h {
                        for (k, sign) in [(0, -1.0f32), (1, -1.0), (0, 1.0), (1, 1.0)] {
                            let angle = (p as f32 * inv[k]) as f64;
                            assert_eq!(cos[at], angle.cos() as f32, "cos at {at}");
                            assert_eq!(sin[at], sign * angle.sin() as f32, "sin at {at}");
                            at += 1;
                        }
                    }
                }
            }
            assert_eq!(at, cos.len());
        }
    }
}
