//! The SwiGLU feed-forward block.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, activation::silu, backend::Backend};

use super::matrix_layout::MatrixLayout;
use super::token_linear::per_token;

/// `down(silu(gate(x)) · up(x))`, no biases.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// `mlp.gate_proj`.
    pub gate_proj: Linear<B>,
    /// `mlp.up_proj`.
    pub up_proj: Linear<B>,
    /// `mlp.down_proj`.
    pub down_proj: Linear<B>,
    /// Memory order of the three weights.
    #[module(skip)]
    pub matrix_layout: MatrixLayout,
}

impl<B: Backend> Mlp<B> {
    /// Applies the block to `[batch, seq, hidden]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let layout = self.matrix_layout;
        let gate = silu(per_token(&self.gate_proj, layout, x.clone()));
        per_token(
            &self.down_proj,
            layout,
            gate * per_token(&self.up_proj, layout, x),
        )
    }
}
