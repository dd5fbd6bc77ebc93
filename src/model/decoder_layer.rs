//! One pre-norm decoder layer: `x + attn(norm(x))`, then `x + mlp(norm(x))`.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

use super::attention::{Attention, LayerMask};
use super::kv_cache::KvCache;
use super::mlp::Mlp;
use super::rms_norm::RmsNorm;
use super::rotary::RotaryTables;

/// A Qwen2 decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    /// `input_layernorm`.
    pub input_layernorm: RmsNorm<B>,
    /// `self_attn`.
    pub self_attn: Attention<B>,
    /// `post_attention_layernorm`.
    pub post_attention_layernorm: RmsNorm<B>,
    /// `mlp`.
    pub mlp: Mlp<B>,
}

impl<B: Backend> DecoderLayer<B> {
    /// Applies the layer to `[batch, seq, hidden]`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rotary: &RotaryTables<B>,
        mask: &LayerMask<B>,
        cache: Option<(&mut KvCache<B>, usize)>,
    ) -> Tensor<B, 3> {
        let h = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), rotary, mask, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}
