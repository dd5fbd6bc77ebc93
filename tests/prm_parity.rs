//! Parity of the process reward model with a PyTorch reference of the same architecture
//! (`tests/fixtures/models/tiny-prm`, made by `tests/fixtures/make_fixtures.py`).

use crate::common;

use burn::backend::Flex;
use burn::tensor::DType;
use common::{f32s, fixtures, read_json, u32s};
use prof_grpo::model::Qwen2Config;
use prof_grpo::reward::prm::{Padding, ProcessRewardModel, score_ids};

fn load() -> ProcessRewardModel<Flex> {
    let dir = fixtures().join("models/tiny-prm");
    let config = Qwen2Config::from_file(&dir.join("config.json")).unwrap();
    ProcessRewardModel::load(&dir, &config, DType::F32, &Default::default()).unwrap()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: step count");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-5, "{what}: {got:?} vs {want:?}");
    }
}

#[test]
fn single_sequences_match_the_reference() {
    let prm = load();
    let exp = read_json(&fixtures().join("expected/tiny-prm/step_probs.json"));
    let step = exp["step_token_id"].as_u64().unwrap() as u32;
    let pad = exp["pad_id"].as_u64().unwrap() as u32;
    for (i, case) in exp["single"].as_array().unwrap().iter().enumerate() {
        let ids = u32s(&case["ids"]);
        let got = score_ids(&prm, &[ids], step, 1, Padding::Right, pad);
        assert_close(
            &got[0].step_probs,
            &f32s(&case["step_probs"]),
            &format!("case {i}"),
        );
    }
}

#[test]
fn padded_batches_of_different_lengths_match_single_sequences() {
    let prm = load();
    let exp = read_json(&fixtures().join("expected/tiny-prm/step_probs.json"));
    let step = exp["step_token_id"].as_u64().unwrap() as u32;
    let pad = exp["pad_id"].as_u64().unwrap() as u32;
    let rows: Vec<Vec<u32>> = exp["single"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| u32s(&c["ids"]))
        .collect();
    assert!(
        rows.iter()
            .map(Vec::len)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    );
    for (padding, key) in [
        (Padding::Left, "batch_left_padded"),
        (Padding::Right, "batch_right_padded"),
    ] {
        // One micro-batch, and micro-batches of two read back together.
        for micro_batch in [rows.len(), 2] {
            let got = score_ids(&prm, &rows, step, micro_batch, padding, pad);
            for (i, want) in exp[key]["step_probs"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
            {
                let what = format!("{key} row {i}, micro-batches of {micro_batch}");
                assert_close(&got[i].step_probs, &f32s(want), &what);
            }
        }
    }
}

#[test]
fn the_lm_head_in_the_checkpoint_is_ignored_and_a_row_without_separator_has_no_steps() {
    let prm = load();
    let got = score_ids(&prm, &[vec![1, 2, 3], vec![]], 297, 4, Padding::Left, 299);
    assert!(got[0].step_probs.is_empty());
    assert!(got[1].step_probs.is_empty());
}
