//! Seeded random initialisation, independent of any backend's global RNG: every tensor's values
//! come from a ChaCha stream keyed by (seed, tensor name), so the same seed gives the same model
//! on every backend and in every construction order.

use anyhow::Result;
use burn::tensor::{DType, Tensor, TensorData, backend::Backend};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::weights::TensorSource;

/// Normal(0, std) weights, zero biases, unit norm scales.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomInit {
    /// Base seed.
    pub seed: u64,
    /// Standard deviation of matrices and embeddings.
    pub std: f32,
}

fn name_hash(name: &str) -> u64 {
    // FNV-1a: stable across platforms and releases.
    name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

impl TensorSource for RandomInit {
    fn load<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        _transpose: bool,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = if name.ends_with("norm.weight") {
            vec![1.0; n]
        } else if name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ name_hash(name));
            (0..n)
                .map(|_| {
                    // Box–Muller from two uniforms in (0, 1].
                    let u1: f64 = 1.0 - rng.random::<f64>();
                    let u2: f64 = rng.random::<f64>();
                    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32 * self.std
                })
                .collect()
        };
        Ok(Tensor::from_data(
            TensorData::new(values, shape).convert_dtype(dtype),
            (device, dtype),
        ))
    }
}
