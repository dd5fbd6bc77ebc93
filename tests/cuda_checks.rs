//! The checks that need an NVIDIA GPU: parity on the CUDA backend against the same transformers
//! fixtures as on flex (logits in f32 within TF32 tolerance and in bf16; padded batches, KV-cache
//! decoding and greedy generation) and a short training run. Built only with `--features cuda`,
//! and ignored by default: run them on a GPU machine with
//! `cargo test --features cuda --test integration cuda_checks -- --ignored`.

#![cfg(feature = "cuda")]

use crate::common;

use burn::backend::cuda::CudaDevice;
use burn::backend::{Autodiff, Cuda};
use burn::tensor::DType;
use common::parity::*;

fn dev() -> CudaDevice {
    CudaDevice { index: 0 }
}

/// CubeCL's tensor-core matmul stages f32 operands as TF32 (10-bit mantissa), as PyTorch does with
/// `allow_tf32`: logits of the tiny fixtures (range about ±16) then differ from transformers' f32
/// by about 1e-2 (9.3e-3 measured on an H200), so this bound replaces the CPU's 1e-4.
const TF32_TOLERANCE: f32 = 2e-2;

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cuda_logits_match_transformers_within_tf32_tolerance() {
    for model in ["tiny-tied", "tiny-untied"] {
        let expected = format!("{model}/logits.json");
        check_logits::<Cuda>(model, &expected, DType::F32, TF32_TOLERANCE, &dev());
    }
}

/// Padded batches and KV-cache decoding give the unpadded, uncached logits within TF32 tolerance;
/// greedy continuations equal transformers' where no step's top-2 gap is within twice of it.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cuda_padding_cache_and_greedy_match_transformers() {
    check_padded::<Cuda>(
        "tiny-untied",
        "tiny-untied/padded.json",
        TF32_TOLERANCE,
        &dev(),
    );
    check_incremental::<Cuda>("tiny-tied", "tiny-tied/logits.json", TF32_TOLERANCE, &dev());
    // tiny-tied's prompts 0 and 2, alone and in the left-padded batch (top-2 gaps 0.082 and
    // 0.130; prompt 1's is 0.019).
    let checked = check_greedy::<Cuda>(
        "tiny-tied",
        "tiny-tied/greedy.json",
        2.0 * TF32_TOLERANCE,
        &dev(),
    );
    assert_eq!(checked, 4);
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cuda_bf16_matches_within_bf16_tolerance() {
    // transformers' own bf16 and f32 runs differ by up to 0.26 on these inputs; CUDA's bf16
    // kernels gave 0.277 against transformers' bf16 on an H200.
    check_logits::<Cuda>(
        "tiny-tied-bf16",
        "tiny-tied-bf16/logits_bf16.json",
        DType::BF16,
        0.35,
        &dev(),
    );
}

/// A short smoke run (warm-up, toy PRM, PROF-GRPO steps) on CUDA: every step's loss, gradient
/// norm and reward are finite and in range, and the run writes its final checkpoint.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cuda_smoke_training_runs() {
    use prof_grpo::train::config_load::load_from_str;
    use prof_grpo::train::trainer::Trainer;
    let dir = tempfile::tempdir().unwrap();
    let sets: Vec<String> = [
        format!("run.out_dir={:?}", dir.path().display().to_string()),
        "run.backend=cuda".into(),
        "run.total_steps=8".into(),
        "run.eval_every=0".into(),
        "warmup_sft.steps=100".into(),
        "logging.progress=false".into(),
        "logging.print_every=1".into(),
    ]
    .into();
    let config = load_from_str(prof_grpo::train::config::SMOKE_TOML, "smoke", &sets).unwrap();
    let mut trainer = Trainer::<Autodiff<Cuda>>::new(config, None, dev()).unwrap();
    let metrics = trainer.run().unwrap();
    assert_eq!(metrics.len(), 8);
    for m in &metrics {
        for key in ["loss", "grad_norm", "entropy"] {
            let v = m.values[key];
            assert!(v.is_finite(), "step {}: {key} = {v}", m.step);
        }
        let reward = m.values["reward"];
        assert!(
            (0.0..=1.0).contains(&reward),
            "step {}: reward {reward}",
            m.step
        );
    }
    assert!(dir.path().join("checkpoints").exists());
}
