//! Root-mean-square layer normalisation, computed in f32 as transformers' `Qwen2RMSNorm`.

use burn::module::{Module, Param};
use burn::tensor::{DType, Tensor, backend::Backend};

/// `y = weight · x / sqrt(mean(x²) + eps)`, normalised in f32 and cast back before the scale.
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// Per-channel scale (`*.weight` in the checkpoint).
    pub weight: Param<Tensor<B, 1>>,
    /// Stabiliser added to the mean square.
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// Normalises over the last dimension.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let dtype = x.dtype();
        let x32 = x.cast(DType::F32);
        let inv_rms = (x32.clone().square().mean_dim(D - 1) + self.eps)
            .sqrt()
            .recip();
        let normed = (x32 * inv_rms).cast(dtype);
        normed * self.weight.val().unsqueeze()
    }
}
