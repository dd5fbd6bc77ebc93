//! Parity of the Qwen2 model with transformers on tiny random checkpoints (fixtures made by
//! `tests/fixtures/make_fixtures.py`), on the CPU backend.

use crate::common;

use burn::backend::Flex;
use burn::tensor::DType;
use common::parity::*;

fn dev() -> burn::backend::flex::FlexDevice {
    Default::default()
}

#[test]
fn logits_match_transformers_tied_and_untied() {
    check_logits::<Flex>(
        "tiny-tied",
        "tiny-tied/logits.json",
        DType::F32,
        F32_TOLERANCE,
        &dev(),
    );
    check_logits::<Flex>(
        "tiny-untied",
        "tiny-untied/logits.json",
        DType::F32,
        F32_TOLERANCE,
        &dev(),
    );
}

/// The warm-up's mean response cross-entropy of the training fixture's batch (right-padded, in
/// vocabulary chunks) equals PyTorch's, computed one sequence at a time.
#[test]
fn training_cross_entropy_matches_transformers() {
    use burn::backend::Autodiff;
    use burn::tensor::ElementConversion;
    use common::training_parity::{sft_loss, training_batch, training_fixture};
    let policy = load::<Autodiff<Flex>>("tiny-tied", DType::F32, &dev());
    let got: f32 = sft_loss(&policy, &training_batch(), &dev())
        .into_scalar()
        .elem();
    let want = training_fixture()["loss_float32"].as_f64().unwrap() as f32;
    assert!(
        (got - want).abs() <= 1e-5 * want,
        "{got} against transformers' {want}"
    );
}

#[test]
fn both_config_layouts_and_sharded_checkpoints_load_to_the_same_numbers() {
    check_logits::<Flex>(
        "tiny-tied-config4",
        "tiny-tied/logits.json",
        DType::F32,
        F32_TOLERANCE,
        &dev(),
    );
    check_logits::<Flex>(
        "tiny-untied-sharded",
        "tiny-untied/logits.json",
        DType::F32,
        F32_TOLERANCE,
        &dev(),
    );
}

#[test]
fn bf16_checkpoint_matches_within_bf16_tolerance() {
    // bf16 weights upcast to f32 and computed in f32: as exact as f32.
    check_logits::<Flex>(
        "tiny-tied-bf16",
        "tiny-tied-bf16/logits_f32.json",
        DType::F32,
        F32_TOLERANCE,
        &dev(),
    );
    // Computed in bf16 on both sides: bf16 rounding differs between kernels, so a loose bound.
    check_logits::<Flex>(
        "tiny-tied-bf16",
        "tiny-tied-bf16/logits_bf16.json",
        DType::BF16,
        0.25,
        &dev(),
    );
    // Against the f32 original: bf16 rounding of the weights moves logits (range about ±16) by up
    // to about 1%; transformers' own bf16 and f32 runs differ by up to 0.26 on these inputs.
    check_logits::<Flex>(
        "tiny-tied-bf16",
        "tiny-tied/logits.json",
        DType::F32,
        0.25,
        &dev(),
    );
}

#[test]
fn kv_cache_decoding_matches_full_forward() {
    check_incremental::<Flex>("tiny-tied", "tiny-tied/logits.json", F32_TOLERANCE, &dev());
    check_incremental::<Flex>(
        "tiny-untied",
        "tiny-untied/logits.json",
        F32_TOLERANCE,
        &dev(),
    );
}

#[test]
fn padded_batches_match_sequences_alone() {
    check_padded::<Flex>("tiny-tied", "tiny-tied/padded.json", F32_TOLERANCE, &dev());
    check_padded::<Flex>(
        "tiny-untied",
        "tiny-untied/padded.json",
        F32_TOLERANCE,
        &dev(),
    );
}

#[test]
fn greedy_generation_matches_transformers() {
    // Every case: the three prompts alone and the three rows of the left-padded batch.
    assert_eq!(
        check_greedy::<Flex>("tiny-tied", "tiny-tied/greedy.json", 0.0, &dev()),
        6
    );
    assert_eq!(
        check_greedy::<Flex>("tiny-untied", "tiny-untied/greedy.json", 0.0, &dev()),
        6
    );
    // A margin (as the CUDA check uses) keeps the prompts whose top-2 gaps exceed it, alone and
    // batched: tiny-tied's are 0.082, 0.019 and 0.130.
    assert_eq!(
        check_greedy::<Flex>("tiny-tied", "tiny-tied/greedy.json", 0.04, &dev()),
        4
    );
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::fixtures().join("models/tiny-tied");
    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    // A checkpoint with only the embedding.
    let store = prof_grpo::model::weights::WeightStore::open(&src).unwrap();
    let (shape, _) = store.info("model.embed_tokens.weight").unwrap();
    let data: Vec<f32> = vec![0.0; shape.iter().product()];
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, &bytes).unwrap();
    safetensors::serialize_to_file(
        vec![("model.embed_tokens.weight".to_string(), view)],
        None,
        &dir.path().join("model.safetensors"),
    )
    .unwrap();
    let config = prof_grpo::model::Qwen2Config::from_file(&dir.path().join("config.json")).unwrap();
    let err = prof_grpo::model::load_causal_lm::<Flex>(dir.path(), &config, DType::F32, &dev())
        .expect_err("must fail");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("model.layers.0.input_layernorm.weight"),
        "{msg}"
    );
}

#[test]
fn a_wrong_shape_names_tensor_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::fixtures().join("models/tiny-tied");
    std::fs::copy(
        src.join("model.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    let text = std::fs::read_to_string(src.join("config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let inter = json["intermediate_size"].as_u64().unwrap();
    json["intermediate_size"] = (inter + 4).into();
    std::fs::write(dir.path().join("config.json"), json.to_string()).unwrap();
    let config = prof_grpo::model::Qwen2Config::from_file(&dir.path().join("config.json")).unwrap();
    let err = prof_grpo::model::load_causal_lm::<Flex>(dir.path(), &config, DType::F32, &dev())
        .expect_err("must fail");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("mlp.gate_proj.weight") && msg.contains("expected"),
        "{msg}"
    );
    assert!(msg.contains(&format!("{}", inter + 4)), "{msg}");
}

/// The sums, scatter-adds and non-finite searches the GPU backends are checked with
/// (`wgpu_split_sums_and_scatters_are_right`) hold on the CPU backend.
#[test]
fn long_sums_and_scatters_are_right_on_the_cpu() {
    common::long_sums::check_split_sums_and_scatters::<Flex>(&dev());
    common::long_sums::check_non_finite_found_past_one_launch::<Flex>(&dev());
}
