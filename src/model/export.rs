//! Writing a model back in the Hugging Face layout: tensor names, `[out, in]` linear weights,
//! the requested dtype, one `model.safetensors` or size-capped shards plus an index.

use anyhow::{Context, Result, anyhow};
use burn::nn::Linear;
use burn::tensor::{DType, Tensor, TensorData, backend::Backend};
use safetensors::{Dtype as StDtype, tensor::TensorView};
use std::collections::BTreeMap;
use std::path::Path;

use super::qwen2::{Qwen2ForCausalLm, Qwen2Model};
use super::weights::{INDEX_FILE, SINGLE_FILE};

/// A named tensor in Hugging Face layout.
pub struct NamedTensor {
    /// Checkpoint name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    pub name: String,
    /// Row-major data.
    pub data: TensorData,
}

fn push<B: Backend, const D: usize>(out: &mut Vec<NamedTensor>, name: String, t: Tensor<B, D>) {
    out.push(NamedTensor {
        name,
        data: t.into_data(),
    });
}

fn push_linear<B: Backend>(out: &mut Vec<NamedTensor>, prefix: &str, l: &Linear<B>) {
    // Burn stores [in, out]; checkpoints store [out, in].
    push(out, format!("{prefix}.weight"), l.weight.val().transpose());
    if let Some(b) = &l.bias {
        push(out, format!("{prefix}.bias"), b.val());
    }
}

/// The backbone's tensors under `prefix` (`model.` in checkpoints).
pub fn backbone_tensors<B: Backend>(model: &Qwen2Model<B>, prefix: &str) -> Vec<NamedTensor> {
    let mut out = Vec::new();
    push(
        &mut out,
        format!("{prefix}embed_tokens.weight"),
        model.embed_tokens.weight.val(),
    );
    for (i, layer) in model.layers.iter().enumerate() {
        let p = format!("{prefix}layers.{i}");
        push(
            &mut out,
            format!("{p}.input_layernorm.weight"),
            layer.input_layernorm.weight.val(),
        );
        push(
            &mut out,
            format!("{p}.post_attention_layernorm.weight"),
            layer.post_attention_layernorm.weight.val(),
        );
        let a = &layer.self_attn;
        push_linear(&mut out, &format!("{p}.self_attn.q_proj"), &a.q_proj);
        push_linear(&mut out, &format!("{p}.self_attn.k_proj"), &a.k_proj);
        push_linear(&mut out, &format!("{p}.self_attn.v_proj"), &a.v_proj);
        push_linear(&mut out, &format!("{p}.self_attn.o_proj"), &a.o_proj);
        push_linear(
            &mut out,
            &format!("{p}.mlp.gate_proj"),
            &layer.mlp.gate_proj,
        );
        push_linear(&mut out, &format!("{p}.mlp.up_proj"), &layer.mlp.up_proj);
        push_linear(
            &mut out,
            &format!("{p}.mlp.down_proj"),
            &layer.mlp.down_proj,
        );
    }
    push(
        &mut out,
        format!("{prefix}norm.weight"),
        model.norm.weight.val(),
    );
    out
}

/// Every tensor of a causal LM (`lm_head.weight` only when untied).
pub fn causal_lm_tensors<B: Backend>(lm: &Qwen2ForCausalLm<B>) -> Vec<NamedTensor> {
    let mut out = backbone_tensors(&lm.model, "model.");
    if let Some(head) = &lm.lm_head {
        push_linear(&mut out, "lm_head", head);
    }
    out
}

/// `(name, shape, little-endian bytes in dtype)` of each tensor.
pub fn to_bytes(tensors: Vec<NamedTensor>, dtype: DType) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    tensors
        .into_iter()
        .map(|t| {
            let shape = t.data.shape.to_vec();
            let data = t.data.convert_dtype(dtype);
            (t.name, shape, data.as_bytes().to_vec())
        })
        .collect()
}

/// The safetensors dtype of a Burn dtype.
pub fn st_dtype(dtype: DType) -> Result<StDtype> {
    Ok(match dtype {
        DType::F32 => StDtype::F32,
        DType::F16 => StDtype::F16,
        DType::BF16 => StDtype::BF16,
        other => return Err(anyhow!("cannot write dtype {other:?} to safetensors")),
    })
}

/// Writes `tensors` converted to `dtype` into `dir` as `model.safetensors`, or as shards of at
/// most `max_shard_bytes` with `model.safetensors.index.json` when they do not fit in one.
pub fn write_safetensors(
    dir: &Path,
    tensors: Vec<NamedTensor>,
    dtype: DType,
    max_shard_bytes: usize,
) -> Result<()> {
    let st = st_dtype(dtype)?;
    let prepared = to_bytes(tensors, dtype);
    let mut shards: Vec<Vec<usize>> = vec![Vec::new()];
    let mut size = 0usize;
    for (i, (_, _, bytes)) in prepared.iter().enumerate() {
        if size > 0 && size + bytes.len() > max_shard_bytes {
            shards.push(Vec::new());
            size = 0;
        }
        shards.last_mut().expect("a shard").push(i);
        size += bytes.len();
    }
    let write = |file: &Path, members: &[usize]| -> Result<()> {
        let views: Vec<(String, TensorView<'_>)> = members
            .iter()
            .map(|&i| {
                let (name, shape, bytes) = &prepared[i];
                TensorView::new(st, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| anyhow!("tensor {name}: {e}"))
            })
            .collect::<Result<_>>()?;
        let mut meta = std::collections::HashMap::new();
        meta.insert("format".to_string(), "pt".to_string());
        safetensors::serialize_to_file(views, Some(meta), file)
            .map_err(|e| anyhow!("writing {}: {e}", file.display()))
    };
    if shards.len() == 1 {
        return write(&dir.join(SINGLE_FILE), &shards[0]);
    }
    let total = shards.len();
    let mut weight_map = BTreeMap::new();
    let mut total_size = 0usize;
    for (k, members) in shards.iter().enumerate() {
        let file = format!("model-{:05}-of-{:05}.safetensors", k + 1, total);
        write(&dir.join(&file), members)?;
        for &i in members {
            weight_map.insert(prepared[i].0.clone(), file.clone());
            total_size += prepared[i].2.len();
        }
    }
    let index = serde_json::json!({
        "metadata": {"total_size": total_size},
        "weight_map": weight_map,
    });
    std::fs::write(dir.join(INDEX_FILE), serde_json::to_string_pretty(&index)?)
        .with_context(|| format!("writing {}", dir.join(INDEX_FILE).display()))
}
