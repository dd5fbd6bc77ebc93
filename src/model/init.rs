//! Seeded random initialisation, independent of any backend's global RNG: every tensor's values
//! come from a ChaCha stream keyed by (seed, tensor name), so the same seed gives the same model
//! on every backend and in every construction order.

use anyhow::Result;
use burn::tensor::{DType, Tensor, TensorData, backend::Backend};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

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

/// Values per parallel chunk of a tensor's normal draw.
const NORMAL_CHUNK: usize = 1 << 16;

/// ChaCha stream words one normal value consumes (two `f64` uniforms of 64 bits each).
const WORDS_PER_VALUE: u128 = 4;

/// One Normal(0, 1) value by Box–Muller from two uniforms in (0, 1].
fn standard_normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// `n` Normal(0, std) values from the ChaCha stream of `seed`, in stream order. Chunks are drawn
/// in parallel, each from its own offset in the same stream, so the values equal one sequential
/// draw whatever the thread count.
fn normal_values(seed: u64, n: usize, std: f32) -> Vec<f32> {
    let mut values = vec![0f32; n];
    values
        .par_chunks_mut(NORMAL_CHUNK)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_word_pos((chunk * NORMAL_CHUNK) as u128 * WORDS_PER_VALUE);
            for v in out {
                *v = standard_normal(&mut rng) * std;
            }
        });
    values
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
            normal_values(self.seed ^ name_hash(name), n, self.std)
        };
        Ok(Tensor::from_data(
            TensorData::new(values, shape).convert_dtype(dtype),
            (device, dtype),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_chunks_continue_one_sequential_stream() {
        let n = 2 * NORMAL_CHUNK + 77;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let sequential: Vec<f32> = (0..n).map(|_| standard_normal(&mut rng) * 0.5).collect();
        let parallel = normal_values(7, n, 0.5);
        assert_eq!(parallel, sequential);
        // The stream is really normal: mean about 0, standard deviation about 0.5.
        let mean = parallel.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = parallel
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!(
            mean.abs() < 0.01 && (var.sqrt() - 0.5).abs() < 0.01,
            "{mean} {var}"
        );
    }
}
