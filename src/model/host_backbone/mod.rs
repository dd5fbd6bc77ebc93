//! The Qwen2 backbone's inference forward on the CPU backend, run on host buffers.
//!
//! Burn's CPU backend runs each tensor op as its own pass into a freshly allocated, zeroed and
//! copied buffer, and batches every linear layer as one small product per row. For inference on
//! an f32 model of the flex backend (log-probs of the update, reference log-probs, PRM scoring,
//! and generation's prefill and decoding steps with a [`HostKvCache`]) this module runs the same
//! computation on a few reused buffers instead: one matrix product per linear layer over every
//! token, residual additions folded into the output projections, blocked attention under causal
//! or explicit masks, and vectorised `exp` in the softmax and SiLU. Anything else (training under
//! autodiff, other backends and dtypes) takes the Burn path.

mod attention;
mod kv_cache;
mod layer;
mod linear;
mod rms_norm;
mod rotary;
mod swiglu;

use burn::tensor::{Tensor, TensorData, backend::Backend};

use self::attention::Visibility;
pub use self::kv_cache::HostKvCache;
use self::layer::{Context, HostLayer, HostNorm, Scratch};
use self::rotary::HostRotary;
use crate::host::flex::{flex_f32, indices_below, matrix_view};
use crate::host::team::{Team, with_team};
use crate::model::{AttentionMask, Batch, KvCache, Qwen2Model};

/// Whether `model`'s weights are f32 tensors of the CPU backend, so the host forward applies
/// (and [`Qwen2Model::new_cache`] makes a host cache).
pub fn applies<B: Backend>(model: &Qwen2Model<B>) -> bool {
    flex_f32(&model.embed_tokens.weight.val()).is_some_and(|e| matrix_view(&e).is_some())
        && HostNorm::new(&model.norm).is_some()
        && model.layers.iter().all(|l| HostLayer::new(l).is_some())
}

/// Final-norm hidden states `[batch, seq, hidden]` of the new tokens, when the model's weights
/// are f32 tensors of the CPU backend and `cache`, if any, is a host cache; `None` otherwise
/// (nothing is then written). With a cache, the new keys and values are appended to it.
pub fn forward<B: Backend>(
    model: &Qwen2Model<B>,
    batch: &Batch<B>,
    mut cache: Option<&mut KvCache<B>>,
) -> Option<Tensor<B, 3>> {
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
    let past = cache.as_ref().map_or(0, |c| c.len());
    if let Some(c) = cache.as_deref_mut() {
        let host = c.host_mut()?;
        if host.batch() != rows || past + seq > host.capacity() {
            return None;
        }
    }
    let ids = indices_below(&batch.ids, vocab)?;
    let positions: Vec<usize> = batch.positions.iter().flatten().copied().collect();
    if tokens == 0 || positions.len() != tokens {
        return None;
    }
    let mask = match &batch.mask {
        AttentionMask::Causal => None,
        AttentionMask::Explicit(m) => {
            if m.dims() != [rows, 1, seq, past + seq] {
                return None;
            }
            Some(m.to_data().to_vec::<bool>().ok()?)
        }
    };
    let visibility = match &mask {
        None => Visibility::Causal { past },
        Some(forbidden) => Visibility::Mask { forbidden },
    };

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
    let run_layers = |team: &Team, x: &mut [f32], cache: Option<&mut KvCache<B>>| {
        let at = Context {
            batch: rows,
            seq,
            past,
            positions: &positions,
            rotary: &rotary,
            visibility,
            team,
        };
        let mut cache = cache.and_then(|c| c.host_mut());
        if let Some(first) = layers.first() {
            let mut scratch = Scratch::new(first, tokens, hidden);
            for (i, layer) in layers.iter().enumerate() {
                let layer_cache = cache.as_deref_mut().map(|c| (c, i));
                layer.forward(x, &at, layer_cache, &mut scratch);
            }
        }
    };
    if tokens == 1 {
        // A decoding step at batch 1: dozens of short one-row products, each split over a team.
        with_team(|team| run_layers(team, &mut x, cache.as_deref_mut()));
    } else {
        run_layers(&Team::solo(), &mut x, cache.as_deref_mut());
    }
    if let Some(c) = cache {
        c.advance(seq);
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
    /// block, with grouped heads, biases and a non-default rotary base, and on the real tokens of
    /// a left-padded batch (explicit mask); a bf16 model is left to Burn. Three threads give the
    /// same bits.
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
        let host = forward(&lm.model, &batch, None).expect("f32 flex model, causal batch");
        let ops = lm.model.forward_ops(&batch, None);
        host.to_data()
            .assert_approx_eq::<f32>(&ops.to_data(), Tolerance::absolute(2e-5));

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let threaded = pool.install(|| forward(&lm.model, &batch, None)).unwrap();
        assert_eq!(
            host.to_data().to_vec::<f32>().unwrap(),
            threaded.to_data().to_vec::<f32>().unwrap(),
            "the thread count changes no bit"
        );

        let left = Batch::<Flex>::left_padded(&rows, 0, &device);
        let host = forward(&lm.model, &left, None).expect("explicit masks are supported");
        let ops = lm.model.forward_ops(&left, None);
        let close = |a: Tensor<Flex, 3>, b: Tensor<Flex, 3>| {
            a.to_data()
                .assert_approx_eq::<f32>(&b.to_data(), Tolerance::absolute(2e-5))
        };
        close(host.clone().narrow(0, 0, 1), ops.clone().narrow(0, 0, 1));
        close(host.slice([1..2, 60..150]), ops.slice([1..2, 60..150]));

        let half = random_causal_lm::<Flex>(&config, &init, DType::BF16, &device).unwrap();
        assert!(forward(&half.model, &batch, None).is_none());
    }

    /// Generation's pattern through a host cache gives the Burn forward's hidden states on the
    /// real tokens: a left-padded prefill under an explicit mask, one-token steps, and a step
    /// after a row has left the batch (a single token, whose products a team of two splits).
    #[test]
    fn a_cached_decode_matches_the_burn_forward() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(cached_decode_matches_the_burn_forward);
    }

    fn cached_decode_matches_the_burn_forward() {
        let config = Qwen2Config::from_json(
            r#"{"vocab_size": 50, "hidden_size": 32, "intermediate_size": 160,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 64}"#,
        )
        .unwrap();
        let device = Default::default();
        let init = RandomInit { seed: 9, std: 0.3 };
        let lm = random_causal_lm::<Flex>(&config, &init, DType::F32, &device).unwrap();
        let model = &lm.model;
        let prompts: Vec<Vec<u32>> = vec![vec![1, 2, 3, 4, 5], vec![6, 7, 8]];
        let capacity = 8;
        let mut host = model.new_cache(2, capacity);
        assert!(host.is_host());
        let mut ops = KvCache::new(2, 2, 2, capacity, 8, DType::F32, &device);
        let close = |a: Tensor<Flex, 3>, b: Tensor<Flex, 3>| {
            a.to_data()
                .assert_approx_eq::<f32>(&b.to_data(), Tolerance::absolute(2e-5))
        };

        let prefill = Batch::<Flex>::left_padded(&prompts, 0, &device);
        let got = model.forward(&prefill, Some(&mut host));
        let want = model.forward_ops(&prefill, Some(&mut ops));
        close(got.clone().narrow(0, 0, 1), want.clone().narrow(0, 0, 1));
        close(got.slice([1..2, 2..5]), want.slice([1..2, 2..5]));

        let mut valid = [vec![true; 5], vec![false, false, true, true, true]];
        let mut step = |rows: &[usize],
                        tokens: &[u32],
                        positions: &[usize],
                        host: &mut KvCache<Flex>,
                        ops: &mut KvCache<Flex>| {
            let past = host.len();
            let valid_now: Vec<Vec<bool>> = rows
                .iter()
                .map(|&r| {
                    valid[r].push(true);
                    valid[r].clone()
                })
                .collect();
            let batch = Batch::<Flex> {
                ids: crate::model::qwen2::ids_tensor(
                    &tokens.iter().map(|&t| vec![t]).collect::<Vec<_>>(),
                    &device,
                ),
                positions: positions.iter().map(|&p| vec![p]).collect(),
                mask: AttentionMask::Explicit(crate::model::qwen2::causal_padding_mask(
                    &valid_now, past, 1, &device,
                )),
            };
            close(
                model.forward(&batch, Some(host)),
                model.forward_ops(&batch, Some(ops)),
            );
        };
        step(&[0, 1], &[9, 10], &[5, 3], &mut host, &mut ops);
        step(&[0, 1], &[11, 12], &[6, 4], &mut host, &mut ops);
        let keep = Tensor::<Flex, 1, burn::tensor::Int>::from_data(
            TensorData::new(vec![1i64], [1]),
            &device,
        );
        host.retain_rows(keep.clone());
        ops.retain_rows(keep);
        step(&[1], &[13], &[5], &mut host, &mut ops);
        assert_eq!(host.len(), 8);
    }
}
