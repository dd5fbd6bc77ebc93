//! The Qwen2 backbone's inference forward on the CPU backend, run on host buffers.
//!
//! Burn's CPU backend runs each tensor op as its own pass into a freshly allocated, zeroed and
//! copied buffer, and batches every linear layer as one small product per row. For a forward
//! without a KV cache (log-probs of the update, reference log-probs, PRM scoring) this module
//! runs the same computation on a few reused buffers instead: one matrix product per linear
//! layer over every token, residual additions folded into the output projections, blocked causal
//! attention, and vectorised `exp` in the softmax and SiLU. It applies to f32 models of the
//! flex backend under plain causal masking; anything else takes the Burn path.

mod attention;
mod layer;
mod linear;
mod rms_norm;
mod rotary;
mod swiglu;

use burn::tensor::{Tensor, TensorData, backend::Backend};

use self::layer::{HostLayer, HostNorm, Scratch};
use self::rotary::HostRotary;
use crate::host::flex::{flex_f32, matrix_view};
use crate::model::{AttentionMask, Batch, Qwen2Model};

/// Final-norm hidden states `[batch, seq, hidden]`, when the model's weights are f32 tensors of
/// the CPU backend and the batch uses causal masking; `None` otherwise.
pub fn forward<B: Backend>(model: &Qwen2Model<B>, batch: &Batch<B>) -> Option<Tensor<B, 3>> {
    if !matches!(batch.mask, AttentionMask::Causal) {
        return None;
    }
    let embed = flex_f32(&model.embed_tokens.weight.val())?;
    let embed = matrix_view(&embed)?;
    let layers: Vec<HostLayer> = model
        .layers
        .iter()
        .map(HostLayer::new)
        .collect::<Option<_>>()?;
    let final_norm = HostNorm::new(&model.norm)?;
    let [rows, seq] = batch.ids.dims();
    let (vocab, hidden, tokens) = (embed.rows(), embed.cols(), rows * seq);
    let ids: Vec<usize> = batch
        .ids
        .to_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .ok()?
        .into_iter()
        .map(|id| usize::try_from(id).ok().filter(|&id| id < vocab))
        .collect::<Option<_>>()?;
    let positions: Vec<usize> = batch.positions.iter().flatten().copied().collect();
    if tokens == 0 || positions.len() != tokens {
        return None;
    }

    let mut x = vec![0.0f32; tokens * hidden];
    for (row, &id) in x.chunks_exact_mut(hidden).zip(&ids) {
        row.iter_mut()
            .enumerate()
            .for_each(|(j, v)| *v = embed.at(id, j));
    }
    let rotary = HostRotary::new(
        positions.iter().copied().max().unwrap_or(0),
        model.head_dim,
        model.rope_theta,
    );
    if let Some(first) = layers.first() {
        let mut scratch = Scratch::new(first, tokens, hidden);
        for layer in &layers {
            layer.forward(&mut x, [rows, seq], &rotary, &positions, &mut scratch);
        }
    }
    let mut out = vec![0.0f32; tokens * hidden];
    final_norm.apply(&x, &mut out);
    let device = batch.ids.device();
    Some(Tensor::from_data(
        TensorData::new(out, [rows, seq, hidden]),
        &device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qwen2Config;
    use crate::model::init::RandomInit;
    use crate::model::loader::random_causal_lm;
    use burn::backend::Flex;
    use burn::tensor::{DType, Tolerance};

    /// The host forward gives Burn's hidden states on right-padded rows longer than one query
    /// block, with grouped heads, biases and a non-default rotary base; a left-padded batch
    /// (explicit mask) and a bf16 model are left to Burn. Three threads give the same bits.
    #[test]
    fn matches_the_burn_forward() {
        let config = Qwen2Config::from_json(
            r#"{"vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 512, "rope_theta": 1000.0, "rms_norm_eps": 1e-5}"#,
        )
        .unwrap();
        let device = Default::default();
        let init = RandomInit { seed: 3, std: 0.3 };
        let lm = random_causal_lm::<Flex>(&config, &init, DType::F32, &device).unwrap();
        let rows: Vec<Vec<u32>> = vec![
            (0..150).map(|i| (i * 7 % 50) as u32).collect(),
            (0..90).map(|i| (i * 3 % 50) as u32).collect(),
        ];
        let batch = Batch::<Flex>::right_padded(&rows, 0, &device);
        let host = forward(&lm.model, &batch).expect("f32 flex model, causal batch");
        let ops = lm.model.forward_ops(&batch, None);
        host.to_data()
            .assert_approx_eq::<f32>(&ops.to_data(), Tolerance::absolute(2e-5));

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let threaded = pool.install(|| forward(&lm.model, &batch)).unwrap();
        assert_eq!(
            host.to_data().to_vec::<f32>().unwrap(),
            threaded.to_data().to_vec::<f32>().unwrap(),
            "the thread count changes no bit"
        );

        let left = Batch::<Flex>::left_padded(&rows, 0, &device);
        assert!(forward(&lm.model, &left).is_none());
        let half = random_causal_lm::<Flex>(&config, &init, DType::BF16, &device).unwrap();
        assert!(forward(&half.model, &batch).is_none());
    }
}
