//! Building a [`Qwen2ForCausalLm`] or a bare backbone from a checkpoint's tensors.

use anyhow::{Context, Result};
use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::{DType, backend::Backend};
use std::path::Path;

use super::attention::Attention;
use super::config::Qwen2Config;
use super::decoder_layer::DecoderLayer;
use super::matrix_layout::MatrixLayout;
use super::mlp::Mlp;
use super::qwen2::{Qwen2ForCausalLm, Qwen2Model};
use super::rms_norm::RmsNorm;
use super::weights::{TensorSource, WeightStore};

/// Loads a linear layer stored as HF `[out, in]` (`{prefix}.weight`, optional `{prefix}.bias`).
pub fn load_linear<B: Backend>(
    store: &impl TensorSource,
    prefix: &str,
    d_in: usize,
    d_out: usize,
    bias: bool,
    dtype: DType,
    device: &B::Device,
) -> Result<Linear<B>> {
    let weight = store.load::<B, 2>(
        &format!("{prefix}.weight"),
        [d_in, d_out],
        true,
        dtype,
        device,
    )?;
    let bias = if bias {
        Some(Param::from_tensor(store.load::<B, 1>(
            &format!("{prefix}.bias"),
            [d_out],
            false,
            dtype,
            device,
        )?))
    } else {
        None
    };
    Ok(Linear {
        weight: Param::from_tensor(weight),
        bias,
    })
}

fn load_norm<B: Backend>(
    store: &impl TensorSource,
    name: &str,
    size: usize,
    eps: f64,
    dtype: DType,
    device: &B::Device,
) -> Result<RmsNorm<B>> {
    Ok(RmsNorm {
        weight: Param::from_tensor(store.load::<B, 1>(name, [size], false, dtype, device)?),
        eps,
    })
}

/// Loads the backbone from tensors named `{prefix}embed_tokens.weight`, `{prefix}layers.N.…`,
/// `{prefix}norm.weight` (prefix `model.` in Hugging Face checkpoints).
pub fn load_backbone<B: Backend>(
    store: &impl TensorSource,
    config: &Qwen2Config,
    prefix: &str,
    dtype: DType,
    device: &B::Device,
) -> Result<Qwen2Model<B>> {
    let h = config.hidden_size;
    let hd = config.head_dim();
    let (nh, nkv) = (config.num_attention_heads, config.num_key_value_heads);
    let eps = config.rms_norm_eps;
    let embed = store.load::<B, 2>(
        &format!("{prefix}embed_tokens.weight"),
        [config.vocab_size, h],
        false,
        dtype,
        device,
    )?;
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
    for i in 0..config.num_hidden_layers {
        let p = format!("{prefix}layers.{i}");
        let lin = |name: &str, d_in, d_out, bias| {
            load_linear::<B>(
                store,
                &format!("{p}.{name}"),
                d_in,
                d_out,
                bias,
                dtype,
                device,
            )
        };
        layers.push(DecoderLayer {
            input_layernorm: load_norm(
                store,
                &format!("{p}.input_layernorm.weight"),
                h,
                eps,
                dtype,
                device,
            )?,
            self_attn: Attention {
                q_proj: lin("self_attn.q_proj", h, nh * hd, true)?,
                k_proj: lin("self_attn.k_proj", h, nkv * hd, true)?,
                v_proj: lin("self_attn.v_proj", h, nkv * hd, true)?,
                o_proj: lin("self_attn.o_proj", nh * hd, h, false)?,
                num_heads: nh,
                num_kv_heads: nkv,
                head_dim: hd,
                matrix_layout: MatrixLayout::InOut,
            },
            post_attention_layernorm: load_norm(
                store,
                &format!("{p}.post_attention_layernorm.weight"),
                h,
                eps,
                dtype,
                device,
            )?,
            mlp: Mlp {
                gate_proj: lin("mlp.gate_proj", h, config.intermediate_size, false)?,
                up_proj: lin("mlp.up_proj", h, config.intermediate_size, false)?,
                down_proj: lin("mlp.down_proj", config.intermediate_size, h, false)?,
                matrix_layout: MatrixLayout::InOut,
            },
        });
    }
    Ok(Qwen2Model {
        embed_tokens: Embedding {
            weight: Param::from_tensor(embed),
        },
        layers,
        norm: load_norm(
            store,
            &format!("{prefix}norm.weight"),
            h,
            eps,
            dtype,
            device,
        )?,
        rope_theta: config.rope_theta(),
        head_dim: hd,
    })
}

/// Loads a causal LM (`model.*` + `lm_head.weight` unless tied) from a checkpoint directory.
pub fn load_causal_lm<B: Backend>(
    dir: &Path,
    config: &Qwen2Config,
    dtype: DType,
    device: &B::Device,
) -> Result<Qwen2ForCausalLm<B>> {
    let store = WeightStore::open(dir)?;
    let model = load_backbone(&store, config, "model.", dtype, device)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let lm_head = if config.tie_word_embeddings {
        None
    } else {
        Some(
            load_linear(
                &store,
                "lm_head",
                config.hidden_size,
                config.vocab_size,
                false,
                dtype,
                device,
            )
            .with_context(|| format!("loading the model in {}", dir.display()))?,
        )
    };
    Ok(Qwen2ForCausalLm {
        model,
        lm_head,
        head_layout: MatrixLayout::InOut,
    })
}

/// A causal LM with seeded random weights (see [`RandomInit`](super::init::RandomInit)).
pub fn random_causal_lm<B: Backend>(
    config: &Qwen2Config,
    init: &super::init::RandomInit,
    dtype: DType,
    device: &B::Device,
) -> Result<Qwen2ForCausalLm<B>> {
    let model = load_backbone(init, config, "model.", dtype, device)?;
    let lm_head = if config.tie_word_embeddings {
        None
    } else {
        Some(load_linear(
            init,
            "lm_head",
            config.hidden_size,
            config.vocab_size,
            false,
            dtype,
            device,
        )?)
    };
    Ok(Qwen2ForCausalLm {
        model,
        lm_head,
        head_layout: MatrixLayout::InOut,
    })
}
