//! Where the weight matrices of a model's linear layers lie in memory.
//!
//! Burn's `Linear` computes `x · W` with `W: [in, out]`. That matrix may be stored row by row
//! (`[in, out]` contiguous, what the loader builds) or as the transpose of a contiguous
//! `[out, in]` matrix, the checkpoint's own order. The numbers are the same; the kernels a GPU
//! backend picks are not: CubeCL tunes its matrix-vector kernels (one token per row, the decoding
//! step) for a weight whose input axis is contiguous, `[out, in]`, and has no fast kernel for
//! the other order. The throughput bench measures both (`--weight-layout`). With `OutIn`, a
//! single token's product runs as `Wᵀ · xᵀ` (see [`per_token`](super::token_linear::per_token)).
//! The modules that multiply by these weights record the layout (`matrix_layout`,
//! `head_layout`), so only [`with_matrix_layout`] changes it.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use super::qwen2::Qwen2ForCausalLm;

/// The memory order of a linear layer's `[in, out]` weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MatrixLayout {
    /// `[in, out]` row-major: each input channel's outputs are contiguous (the loader's order).
    InOut,
    /// The transpose of a row-major `[out, in]`: each output's inputs are contiguous (the
    /// checkpoint's order).
    OutIn,
}

/// `weight` with the same values laid out as `layout` says (one copy through host memory).
pub fn relaid<B: Backend>(weight: Tensor<B, 2>, layout: MatrixLayout) -> Tensor<B, 2> {
    let (device, dtype) = (weight.device(), weight.dtype());
    match layout {
        MatrixLayout::InOut => Tensor::from_data(weight.into_data(), (&device, dtype)),
        MatrixLayout::OutIn => {
            Tensor::<B, 2>::from_data(weight.transpose().into_data(), (&device, dtype)).transpose()
        }
    }
}

fn relay_linear<B: Backend>(layer: Linear<B>, layout: MatrixLayout) -> Linear<B> {
    Linear {
        weight: layer.weight.map(|w| relaid(w, layout)),
        bias: layer.bias,
    }
}

/// `lm` with the weight of every linear layer (projections, MLP, an untied `lm_head`) laid out as
/// `layout`; the embedding matrix, which a tied head already reads transposed, is left as it is.
pub fn with_matrix_layout<B: Backend>(
    mut lm: Qwen2ForCausalLm<B>,
    layout: MatrixLayout,
) -> Qwen2ForCausalLm<B> {
    for layer in &mut lm.model.layers {
        let attn = &mut layer.self_attn;
        for linear in [
            &mut attn.q_proj,
            &mut attn.k_proj,
            &mut attn.v_proj,
            &mut attn.o_proj,
            &mut layer.mlp.gate_proj,
            &mut layer.mlp.up_proj,
            &mut layer.mlp.down_proj,
        ] {
            *linear = relay_linear(linear.clone(), layout);
        }
        layer.self_attn.matrix_layout = layout;
        layer.mlp.matrix_layout = layout;
    }
    lm.lm_head = lm.lm_head.map(|head| relay_linear(head, layout));
    lm.head_layout = layout;
    lm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::{GenerationConfig, SamplingParams, generate};
    use crate::host::flex::flex_f32;
    use crate::model::Qwen2Config;
    use crate::model::init::RandomInit;
    use crate::model::loader::random_causal_lm;
    use crate::model::qwen2::Batch;
    use burn::backend::Flex;
    use burn::tensor::{DType, Tolerance};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// An untied two-layer model whose projections are all non-square.
    fn model() -> Qwen2ForCausalLm<Flex> {
        let config = Qwen2Config::from_json(
            r#"{"vocab_size": 40, "hidden_size": 32, "intermediate_size": 48,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 64, "tie_word_embeddings": false}"#,
        )
        .unwrap();
        let init = RandomInit { seed: 3, std: 0.3 };
        random_causal_lm::<Flex>(&config, &init, DType::F32, &Default::default()).unwrap()
    }

    /// The strides of a flex matrix.
    fn strides(w: &Tensor<Flex, 2>) -> Vec<isize> {
        flex_f32(w).unwrap().layout().strides().to_vec()
    }

    /// Both layouts hold the loader's values: the strides change (`[out, in]` rows become
    /// contiguous), the logits of a batch and a greedy continuation do not, and switching back
    /// gives row-major `[in, out]` again.
    #[test]
    fn out_in_weights_give_the_same_logits_and_tokens() {
        let device = Default::default();
        let lm = model();
        let q = |lm: &Qwen2ForCausalLm<Flex>| lm.model.layers[1].self_attn.q_proj.weight.val();
        let head = |lm: &Qwen2ForCausalLm<Flex>| lm.lm_head.as_ref().unwrap().weight.val();
        assert_eq!(strides(&q(&lm)), vec![32, 1]);
        let out_in = with_matrix_layout(lm.clone(), MatrixLayout::OutIn);
        assert_eq!(strides(&q(&out_in)), vec![1, 32]);
        assert_eq!(strides(&head(&out_in)), vec![1, 32]);
        assert_eq!(
            strides(&out_in.model.layers[0].mlp.down_proj.weight.val()),
            vec![1, 48]
        );
        let back = with_matrix_layout(out_in.clone(), MatrixLayout::InOut);
        assert_eq!(strides(&q(&back)), vec![32, 1]);
        assert_eq!(strides(&head(&back)), vec![40, 1]);

        let prompts = vec![vec![3u32, 7, 11, 2, 5], vec![9, 1]];
        let batch = Batch::left_padded(&prompts, 0, &device);
        let logits = |lm: &Qwen2ForCausalLm<Flex>| lm.forward(&batch, None).into_data();
        let want = logits(&lm);
        for other in [&out_in, &back] {
            want.assert_approx_eq::<f32>(&logits(other), Tolerance::absolute(1e-5));
        }
        let config = GenerationConfig {
            sampling: SamplingParams::greedy(),
            max_new_tokens: 6,
            stop_ids: vec![],
            pad_id: 0,
        };
        let tokens = |lm: &Qwen2ForCausalLm<Flex>| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            generate(lm, &prompts, &config, &mut rng, |_| {})
                .into_iter()
                .map(|c| c.ids)
                .collect::<Vec<_>>()
        };
        assert_eq!(tokens(&out_in), tokens(&lm));
    }
}
