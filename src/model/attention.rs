//! Grouped-query self-attention with biases on q/k/v and none on o.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{
    Bool, Tensor, backend::Backend, module::attention, ops::AttentionModuleOptions,
};

use super::kv_cache::KvCache;
use super::rotary::RotaryTables;
use super::token_linear::per_token;

/// Which keys each query may see.
#[derive(Clone, Debug)]
pub enum AttentionMask<B: Backend> {
    /// Plain causal masking; valid when no row has left padding (right padding is harmless:
    /// real tokens never look ahead at it).
    Causal,
    /// An explicit mask `[batch, 1, queries, keys]`, `true` where attention is forbidden.
    Explicit(Tensor<B, 4, Bool>),
}

/// The attention block of one decoder layer.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// `self_attn.q_proj` (with bias).
    pub q_proj: Linear<B>,
    /// `self_attn.k_proj` (with bias).
    pub k_proj: Linear<B>,
    /// `self_attn.v_proj` (with bias).
    pub v_proj: Linear<B>,
    /// `self_attn.o_proj` (no bias).
    pub o_proj: Linear<B>,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

/// Burn's attention options: default scale, no soft-capping.
fn options(is_causal: bool) -> AttentionModuleOptions {
    AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal,
    }
}

impl<B: Backend> Attention<B> {
    /// Attends `x: [batch, seq, hidden]`; with a cache, the new keys are appended first.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rotary: &RotaryTables<B>,
        mask: &AttentionMask<B>,
        cache: Option<(&mut KvCache<B>, usize)>,
    ) -> Tensor<B, 3> {
        let [batch, seq, _] = x.dims();
        // [batch, seq, heads, head_dim] (contiguous) is rotated, then viewed head-major.
        let split = |t: Tensor<B, 3>, n: usize| t.reshape([batch, seq, n, self.head_dim]);
        let q = rotary
            .apply(split(per_token(&self.q_proj, x.clone()), self.num_heads))
            .swap_dims(1, 2);
        let k = rotary
            .apply(split(per_token(&self.k_proj, x.clone()), self.num_kv_heads))
            .swap_dims(1, 2);
        let v = split(per_token(&self.v_proj, x), self.num_kv_heads).swap_dims(1, 2);
        let (k, v) = match cache {
            Some((cache, layer)) => cache.append(layer, k, v),
            None => (k, v),
        };
        let groups = self.num_heads / self.num_kv_heads;
        let out = match mask {
            // With an explicit mask (generation, evaluation), the query heads that share a
            // key/value head are folded into the query axis, so the cached keys and values are
            // read as they are instead of being copied once per query head.
            AttentionMask::Explicit(m) if groups > 1 => {
                let [b, _, s, d] = q.dims();
                let t = k.dims()[2];
                let q = q.reshape([b, self.num_kv_heads, groups * s, d]);
                let m = m
                    .clone()
                    .unsqueeze_dim::<5>(2)
                    .expand([b, 1, groups, s, t])
                    .reshape([b, 1, groups * s, t]);
                attention(q, k, v, Some(m), None, options(false)).reshape([b, self.num_heads, s, d])
            }
            AttentionMask::Explicit(m) => attention(q, k, v, Some(m.clone()), None, options(false)),
            AttentionMask::Causal => {
                let (k, v) = (self.repeat_kv(k), self.repeat_kv(v));
                attention(q, k, v, None, None, options(true))
            }
        };
        let out = out
            .swap_dims(1, 2)
            .reshape([batch, seq, self.num_heads * self.head_dim]);
        per_token(&self.o_proj, out)
    }

    /// Repeats each key/value head for the query heads sharing it.
    fn repeat_kv(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let groups = self.num_heads / self.num_kv_heads;
        if groups == 1 {
            return x;
        }
        let [b, h, s, d] = x.dims();
        x.unsqueeze_dim::<5>(2)
            .expand([b, h, groups, s, d])
            .reshape([b, h * groups, s, d])
    }
}
