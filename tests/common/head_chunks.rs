//! The LM head's statistics over a full 151,936-token vocabulary on a GPU backend against the
//! CPU backend's fused head.

use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use prof_grpo::generation::vocab_chunks::{chunk_columns, head_stats};

/// Log-probs, entropies and log-sum-exps of `tokens` positions over Qwen2.5's vocabulary, with
/// the chunk width the model uses for that many tokens, equal the CPU's within `tolerance`.
pub fn check_full_vocabulary_head<B: Backend>(tokens: usize, tolerance: f32, device: &B::Device) {
    let (width, vocab) = (32, 151_936);
    let wave = |n: usize, phase: f32| -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.618_034 + phase).fract() - 0.5) * 2.0)
            .collect()
    };
    let hidden = wave(tokens * width, 0.1);
    let matrix = wave(width * vocab, 0.3);
    let targets: Vec<i64> = (0..tokens)
        .map(|t| (t as i64 * 9_973) % vocab as i64)
        .collect();
    fn stats<C: Backend>(
        hidden: &[f32],
        matrix: &[f32],
        targets: &[i64],
        [tokens, width, vocab]: [usize; 3],
        device: &C::Device,
    ) -> [Vec<f32>; 3] {
        let h =
            Tensor::<C, 2>::from_data(TensorData::new(hidden.to_vec(), [tokens, width]), device);
        let m = Tensor::<C, 2>::from_data(TensorData::new(matrix.to_vec(), [width, vocab]), device);
        let t = Tensor::<C, 1, Int>::from_data(TensorData::new(targets.to_vec(), [tokens]), device);
        let s = head_stats(&h, &m, &t, 0.8, chunk_columns(tokens, vocab));
        let read = |x: Tensor<C, 1>| x.into_data().convert::<f32>().to_vec::<f32>().unwrap();
        [read(s.logp), read(s.entropy), read(s.lse)]
    }
    let shape = [tokens, width, vocab];
    let want = stats::<Flex>(&hidden, &matrix, &targets, shape, &Default::default());
    let got = stats::<B>(&hidden, &matrix, &targets, shape, device);
    for (name, (g, w)) in ["log-prob", "entropy", "log-sum-exp"]
        .iter()
        .zip(got.iter().zip(&want))
    {
        let worst = crate::common::max_abs_diff(g, w);
        assert!(
            worst < tolerance,
            "{name} of {tokens} tokens: off by {worst}"
        );
    }
}
