//! Seeded random Qwen2 checkpoints of a few fixed shapes, written in the Hugging Face layout
//! (`config.json`, `generation_config.json`, `model.safetensors`) by our own code, so a machine
//! without Python can make the bench model.

use anyhow::{Context, Result};
use burn::backend::Flex;
use burn::tensor::DType;
use prof_grpo::model::Qwen2Config;
use prof_grpo::model::export::{causal_lm_tensors, write_safetensors};
use prof_grpo::model::init::RandomInit;
use prof_grpo::model::loader::random_causal_lm;
use serde_json::{Value, json};
use std::path::Path;

/// Model shapes the bench can create.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A few hundred thousand parameters (tests of the model maker).
    Tiny,
    /// ~47M parameters: hidden 256, 8 layers, 4/2 heads, intermediate 1024, Qwen2.5 vocabulary, tied.
    #[value(name = "47m")]
    M47,
    /// Qwen2.5-0.5B: hidden 896, 24 layers, 14/2 heads, intermediate 4864, tied.
    #[value(name = "0.5b")]
    B0_5,
    /// Qwen2.5-Math-1.5B: hidden 1536, 28 layers, 12/2 heads, intermediate 8960, tied.
    #[value(name = "1.5b")]
    B1_5,
}

/// Shards larger than this are split (as `save_pretrained`'s default of 5 GB).
const MAX_SHARD_BYTES: usize = 5_000_000_000;

/// Qwen2.5's `<|endoftext|>` and `<|im_end|>`.
const ENDOFTEXT: u32 = 151643;
const IM_END: u32 = 151645;

impl Shape {
    /// `(vocab, hidden, intermediate, layers, heads, kv_heads)`.
    fn dims(self) -> (usize, usize, usize, usize, usize, usize) {
        match self {
            Shape::Tiny => (1024, 64, 128, 2, 4, 2),
            Shape::M47 => (151936, 256, 1024, 8, 4, 2),
            Shape::B0_5 => (151936, 896, 4864, 24, 14, 2),
            Shape::B1_5 => (151936, 1536, 8960, 28, 12, 2),
        }
    }

    /// The `config.json` transformers would write for this shape (4.x keys, which 5.x also reads).
    pub fn hf_config(self, dtype: DType) -> Value {
        let (vocab, hidden, intermediate, layers, heads, kv_heads) = self.dims();
        let eos = if vocab > ENDOFTEXT as usize {
            ENDOFTEXT
        } else {
            vocab as u32 - 1
        };
        json!({
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "hidden_act": "silu",
            "attention_dropout": 0.0,
            "bos_token_id": eos,
            "eos_token_id": eos,
            "vocab_size": vocab,
            "hidden_size": hidden,
            "intermediate_size": intermediate,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "num_key_value_heads": kv_heads,
            "max_position_embeddings": 4096,
            "max_window_layers": layers,
            "rms_norm_eps": 1e-6,
            "rope_theta": 10000.0,
            "rope_scaling": null,
            "sliding_window": null,
            "use_sliding_window": false,
            "tie_word_embeddings": true,
            "initializer_range": 0.02,
            "use_cache": true,
            "torch_dtype": hf_dtype_name(dtype),
        })
    }

    /// The `generation_config.json` for this shape.
    fn generation_config(self) -> Value {
        let (vocab, ..) = self.dims();
        if vocab > IM_END as usize {
            json!({"bos_token_id": ENDOFTEXT, "eos_token_id": [IM_END, ENDOFTEXT], "pad_token_id": ENDOFTEXT})
        } else {
            let eos = vocab as u32 - 1;
            json!({"bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos})
        }
    }
}

fn hf_dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        _ => "float32",
    }
}

/// Writes a random model of `shape` stored in `dtype` into `dir` (created if missing) and returns
/// its parameter count. Weights are Normal(0, 0.02), biases 0, norm scales 1, seeded by `seed`.
pub fn make_random_model(dir: &Path, shape: Shape, dtype: DType, seed: u64) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config_json = shape.hf_config(dtype);
    let config = Qwen2Config::from_json(&config_json.to_string())?;
    let init = RandomInit { seed, std: 0.02 };
    let lm = random_causal_lm::<Flex>(&config, &init, dtype, &Default::default())?;
    let tensors = causal_lm_tensors(&lm);
    drop(lm);
    write_safetensors(dir, tensors, dtype, MAX_SHARD_BYTES)?;
    for (name, value) in [
        ("config.json", config_json),
        ("generation_config.json", shape.generation_config()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&value)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(config.num_parameters())
}
