//! The SwiGLU feed-forward block.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use super::exp_activations::silu;
use super::matrix_layout::MatrixLayout;
use super::token_linear::{folds_tokens, per_token, rows};

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
        let [batch, seq, width] = x.dims();
        if !folds_tokens::<B>(seq) {
            let gate = per_token(&self.gate_proj, layout, x.clone());
            let up = per_token(&self.up_proj, layout, x);
            return per_token(&self.down_proj, layout, silu(gate) * up);
        }
        // Folded into rows once for the three products, and both products before the
        // activation: on a fused GPU backend, an operation queued between two products (unfolding
        // the first one's rows, or the activation) runs as a kernel of its own, where after both
        // it joins the activation's.
        let x = x.reshape([batch * seq, width]);
        let gate = rows(&self.gate_proj, layout, x.clone());
        let up = rows(&self.up_proj, layout, x);
        let y = rows(&self.down_proj, layout, silu(gate) * up);
        let out = y.dims()[1];
        y.reshape([batch, seq, out])
    }
}
