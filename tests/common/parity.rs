//! Parity checks against transformers, generic over the backend so CPU and GPU tests share them.

use burn::tensor::{DType, backend::Backend};
use prof_grpo::generation::{FinishReason, GenerationConfig, SamplingParams, generate};
use prof_grpo::model::{Batch, Qwen2Config, Qwen2ForCausalLm, load_causal_lm};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{f32s, fixtures, max_abs_diff, read_json, u32s};

/// Largest logit difference allowed where both sides compute in f32 without TF32 (the CPU, wgpu).
pub const F32_TOLERANCE: f32 = 1e-4;

/// Loads a fixture model computing in `dtype`.
pub fn load<B: Backend>(name: &str, dtype: DType, device: &B::Device) -> Qwen2ForCausalLm<B> {
    let dir = fixtures().join("models").join(name);
    let config = Qwen2Config::from_file(&dir.join("config.json")).expect("config");
    load_causal_lm(&dir, &config, dtype, device).expect("load")
}

/// Logits of one unpadded sequence as host rows.
pub fn logits_rows<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    ids: &[u32],
    device: &B::Device,
) -> Vec<Vec<f32>> {
    let batch = Batch::<B>::dense(&[ids.to_vec()], device);
    rows(model.forward(&batch, None))
}

fn rows<B: Backend>(logits: burn::tensor::Tensor<B, 3>) -> Vec<Vec<f32>> {
    let [_, _, v] = logits.dims();
    let flat: Vec<f32> = logits.cast(DType::F32).into_data().to_vec().unwrap();
    flat.chunks(v).map(<[f32]>::to_vec).collect()
}

/// Full-forward logits of every fixture case match within `tol`.
pub fn check_logits<B: Backend>(
    model_dir: &str,
    expected: &str,
    dtype: DType,
    tol: f32,
    device: &B::Device,
) {
    let model = load::<B>(model_dir, dtype, device);
    check_model_logits(&model, model_dir, expected, tol, device);
}

/// [`check_logits`] for a model already loaded (`model_dir` names it in failures).
pub fn check_model_logits<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    model_dir: &str,
    expected: &str,
    tol: f32,
    device: &B::Device,
) {
    let exp = read_json(&fixtures().join("expected").join(expected));
    for (c, case) in exp["cases"].as_array().unwrap().iter().enumerate() {
        let ids = u32s(&case["ids"]);
        let got = logits_rows(model, &ids, device);
        for (t, row) in case["logits"].as_array().unwrap().iter().enumerate() {
            let err = max_abs_diff(&got[t], &f32s(row));
            assert!(
                err <= tol,
                "{model_dir} case {c} position {t}: max abs err {err} > {tol}"
            );
        }
    }
}

/// Tokens the KV-cache checks prefill before decoding one token per step.
const PREFILL: usize = 2;

/// Logits of one unpadded sequence as host rows, by KV-cache decoding: the first [`PREFILL`]
/// tokens (fewer if the sequence is shorter) in one forward, then one token per step.
pub fn cached_rows<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    ids: &[u32],
    device: &B::Device,
) -> Vec<Vec<f32>> {
    let mut cache = model.model.new_cache(1, ids.len());
    let prefill = PREFILL.min(ids.len());
    let first = Batch::<B>::dense(&[ids[..prefill].to_vec()], device);
    let mut got = rows(model.forward(&first, Some(&mut cache)));
    for (t, &token) in ids.iter().enumerate().skip(prefill) {
        let step = Batch::<B> {
            ids: prof_grpo::model::qwen2::ids_tensor(&[vec![token]], device),
            positions: vec![vec![t]],
            mask: prof_grpo::model::AttentionMask::Causal,
        };
        got.extend(rows(model.forward(&step, Some(&mut cache))));
    }
    got
}

/// KV-cache decoding (prefill of the first token(s), then one token per step) gives the same
/// logits as the full forward in the fixture, within `tol`.
pub fn check_incremental<B: Backend>(
    model_dir: &str,
    expected: &str,
    tol: f32,
    device: &B::Device,
) {
    let model = load::<B>(model_dir, DType::F32, device);
    check_model_incremental(&model, model_dir, expected, tol, device);
}

/// [`check_incremental`] for a model already loaded (`model_dir` names it in failures).
pub fn check_model_incremental<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    model_dir: &str,
    expected: &str,
    tol: f32,
    device: &B::Device,
) {
    let exp = read_json(&fixtures().join("expected").join(expected));
    for (c, case) in exp["cases"].as_array().unwrap().iter().enumerate() {
        let ids = u32s(&case["ids"]);
        let want: Vec<Vec<f32>> = case["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(f32s)
            .collect();
        let got = cached_rows(model, &ids, device);
        for t in 0..ids.len() {
            let err = max_abs_diff(&got[t], &want[t]);
            assert!(
                err <= tol,
                "{model_dir} case {c} cached position {t}: err {err} > {tol}"
            );
        }
    }
}

/// KV-cache decoding (see [`cached_rows`]) gives the model's own full-forward logits at every
/// decoded position within `tol`, for every fixture case of `expected`: a check in a dtype
/// the fixtures do not cover, of the one-token products a decoding step runs.
pub fn check_cache_against_full_forward<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    model_dir: &str,
    expected: &str,
    tol: f32,
    device: &B::Device,
) {
    let exp = read_json(&fixtures().join("expected").join(expected));
    for (c, case) in exp["cases"].as_array().unwrap().iter().enumerate() {
        let ids = u32s(&case["ids"]);
        let full = logits_rows(model, &ids, device);
        let cached = cached_rows(model, &ids, device);
        for t in PREFILL..ids.len() {
            let err = max_abs_diff(&cached[t], &full[t]);
            assert!(
                err <= tol,
                "{model_dir} case {c} cached position {t} against the full forward: err {err} > {tol}"
            );
        }
    }
}

/// A left- and a right-padded batch give each sequence its unpadded logits, within `tol`.
pub fn check_padded<B: Backend>(model_dir: &str, expected: &str, tol: f32, device: &B::Device) {
    let model = load::<B>(model_dir, DType::F32, device);
    check_model_padded(&model, model_dir, expected, tol, device);
}

/// [`check_padded`] for a model already loaded (`model_dir` names it in failures).
pub fn check_model_padded<B: Backend>(
    model: &Qwen2ForCausalLm<B>,
    model_dir: &str,
    expected: &str,
    tol: f32,
    device: &B::Device,
) {
    let exp = read_json(&fixtures().join("expected").join(expected));
    let pad = exp["pad_id"].as_u64().unwrap() as u32;
    for side in ["left", "right"] {
        let e = &exp[side];
        let masks: Vec<Vec<u32>> = e["attention_mask"]
            .as_array()
            .unwrap()
            .iter()
            .map(u32s)
            .collect();
        let seqs: Vec<Vec<u32>> = e["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&masks)
            .map(|(ids, m)| {
                u32s(ids)
                    .into_iter()
                    .zip(m)
                    .filter(|(_, m)| **m == 1)
                    .map(|(t, _)| t)
                    .collect()
            })
            .collect();
        let batch = match side {
            "left" => Batch::<B>::left_padded(&seqs, pad, device),
            _ => Batch::<B>::right_padded(&seqs, pad, device),
        };
        let got = rows(model.forward(&batch, None));
        let width = masks[0].len();
        for (i, seq) in seqs.iter().enumerate() {
            let offset = if side == "left" { width - seq.len() } else { 0 };
            let want = e["logits"][i].as_array().unwrap();
            for t in 0..seq.len() {
                let err = max_abs_diff(&got[i * width + offset + t], &f32s(&want[t]));
                assert!(
                    err <= tol,
                    "{model_dir} {side}-padded row {i} pos {t}: err {err} > {tol}"
                );
            }
        }
    }
}

/// Greedy continuations equal transformers' exactly, alone and as a left-padded batch; returns
/// how many continuations were compared (single cases plus batch rows).
///
/// With `min_gap > 0` (a backend whose logits carry an error of up to `min_gap / 2`), only the
/// continuations whose smallest top-2 logit gap exceeds `min_gap` are compared, since a smaller
/// gap may legitimately flip. Batch row `i` is single case `i`'s prompt (the fixture script
/// asserts that transformers continues both alike), so it takes that case's gap.
pub fn check_greedy<B: Backend>(
    model_dir: &str,
    expected: &str,
    min_gap: f32,
    device: &B::Device,
) -> usize {
    let model = load::<B>(model_dir, DType::F32, device);
    let exp = read_json(&fixtures().join("expected").join(expected));
    let config = GenerationConfig {
        sampling: SamplingParams::greedy(),
        max_new_tokens: exp["max_new_tokens"].as_u64().unwrap() as usize,
        stop_ids: u32s(&exp["stop_ids"]),
        pad_id: exp["pad_id"].as_u64().unwrap() as u32,
    };
    let finish = |s: &str| {
        if s == "stop" {
            FinishReason::Stop
        } else {
            FinishReason::Length
        }
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let single = exp["single"].as_array().unwrap();
    let clear = |c: usize| single[c]["min_top2_gap"].as_f64().unwrap() as f32 > min_gap;
    let mut checked = 0;
    for (c, case) in single.iter().enumerate() {
        if !clear(c) {
            continue;
        }
        checked += 1;
        let out = generate(&model, &[u32s(&case["ids"])], &config, &mut rng, |_| {});
        assert_eq!(
            out[0].ids,
            u32s(&case["new_ids"]),
            "{model_dir} single case {c}"
        );
        assert_eq!(
            out[0].finish,
            finish(case["finish_reason"].as_str().unwrap()),
            "{model_dir} case {c}"
        );
    }
    let batch = &exp["batch_left_padded"];
    let prompts: Vec<Vec<u32>> = batch["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .zip(batch["attention_mask"].as_array().unwrap())
        .map(|(ids, m)| {
            u32s(ids)
                .into_iter()
                .zip(u32s(m))
                .filter(|(_, m)| *m == 1)
                .map(|(t, _)| t)
                .collect()
        })
        .collect();
    let out = generate(&model, &prompts, &config, &mut rng, |_| {});
    for (i, want) in batch["new_ids"].as_array().unwrap().iter().enumerate() {
        if !clear(i) {
            continue;
        }
        checked += 1;
        assert_eq!(out[i].ids, u32s(want), "{model_dir} batched row {i}");
        assert_eq!(
            out[i].finish,
            finish(batch["finish_reason"][i].as_str().unwrap()),
            "{model_dir} batched row {i}"
        );
    }
    checked
}
