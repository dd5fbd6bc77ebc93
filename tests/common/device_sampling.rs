//! Token choice on the device against the host sampler, on the same logits.

use burn::tensor::{DType, Tensor, TensorData, backend::Backend};
use prof_grpo::generation::device_sampling::{self, DeviceSampler};
use prof_grpo::generation::sampling::{SamplingParams, sample_with_draw};

/// How far (in probability) a draw may lie from a cumulative boundary for the device's f32
/// running sums to land on the other side of it than the host's f64 ones.
const BOUNDARY: f64 = 1e-4;

/// `rows` rows of random logits over Qwen2.5's 151,936-token vocabulary, stored as `dtype` on
/// `device`: greedy and sampled choices (T = 1 and 0.6) on the device equal the host sampler's
/// on the same values read back, with log-probs within `1e-3`. A sampled token may differ only
/// where the draw lies within [`BOUNDARY`] of the cumulative probability where they part.
pub fn check_device_sampling<B: Backend>(rows: usize, dtype: DType, device: &B::Device) {
    let vocab = 151_936;
    let values: Vec<f32> = (0..rows * vocab)
        .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 12.0 + ((i / vocab) as f32 * 0.37).sin())
        .collect();
    let logits = Tensor::<B, 2>::from_data(TensorData::new(values, [rows, vocab]), (device, dtype));
    let host: Vec<f32> = logits
        .clone()
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 logits");
    let draws: Vec<f64> = (0..rows)
        .map(|r| (r as f64 * 0.754_877_666).fract())
        .collect();
    let sampler = DeviceSampler::<B>::new(vocab, device);
    for temperature in [0.0, 1.0, 0.6] {
        let params = SamplingParams {
            temperature,
            ..SamplingParams::default()
        };
        let got = sampler.sample(logits.clone(), &params, &draws);
        for (r, s) in got.iter().enumerate() {
            let row = &host[r * vocab..(r + 1) * vocab];
            let want = sample_with_draw(row, &params, draws[r]);
            // Within rounding of a boundary the two may part; beyond it they may not.
            let t = if temperature > 0.0 { temperature } else { 1.0 };
            if s.token != want.token {
                let parting = cumulative(row, t, s.token.min(want.token) as usize);
                assert!(
                    temperature > 0.0 && (parting - draws[r]).abs() < BOUNDARY,
                    "row {r}, T = {temperature}, {dtype:?}: token {} where the host takes {} \
                     (draw {}, cumulative {parting})",
                    s.token,
                    want.token,
                    draws[r]
                );
            }
            let lse = row[want.token as usize] / t - want.logprob;
            let logprob = row[s.token as usize] / t - lse;
            assert!(
                (s.logprob - logprob).abs() < 1e-3,
                "row {r}, T = {temperature}: {s:?}, the host's log-prob {logprob}"
            );
        }
    }
}

/// `P(token ≤ last)` under `softmax(row / T)`, in f64.
fn cumulative(row: &[f32], temperature: f32, last: usize) -> f64 {
    let scaled: Vec<f64> = row.iter().map(|&x| (x / temperature) as f64).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = scaled.iter().map(|x| (x - max).exp()).sum();
    scaled[..=last].iter().map(|x| (x - max).exp()).sum::<f64>() / total
}

/// Sampled generation (T = 1, top-k and top-p off) from the fixture model `model` with a seeded
/// generator, on prompts of different lengths: token choice on the device gives the tokens of
/// the host's choice from the logits read back, with log-probs within `1e-4`.
pub fn check_generation_on_and_off<B: Backend>(model: &str, device: &B::Device) {
    use prof_grpo::generation::{GenerationConfig, generate};
    use prof_grpo::model::decode_kernels::{self, with_decode_kernels};
    use rand::SeedableRng;

    let lm = crate::common::parity::load::<B>(model, DType::F32, device);
    let prompts = vec![vec![3, 17, 42, 8], vec![5, 9], vec![11, 12, 13, 14, 15, 16]];
    let config = GenerationConfig {
        sampling: SamplingParams::default(),
        max_new_tokens: 12,
        stop_ids: Vec::new(),
        pad_id: 0,
    };
    let run = |on: bool| {
        let kernels = decode_kernels::DecodeKernels {
            device_sampling: on,
            ..decode_kernels::current()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        with_decode_kernels(kernels, || {
            generate(&lm, &prompts, &config, &mut rng, |_| {})
        })
    };
    let before = device_sampling::steps();
    let on = run(true);
    let during = device_sampling::steps();
    let off = run(false);
    // Each of the 12 steps of the first run picked on the device; none of the second.
    assert_eq!(
        during - before,
        config.max_new_tokens,
        "steps on the device"
    );
    assert_eq!(
        device_sampling::steps(),
        during,
        "steps on the device with it off"
    );
    for (row, (a, b)) in on.iter().zip(&off).enumerate() {
        assert_eq!(a.ids, b.ids, "row {row}: device and host token choices");
        let worst = crate::common::max_abs_diff(&a.logprobs, &b.logprobs);
        assert!(worst < 1e-4, "row {row}: log-probs off by {worst}");
    }
}
