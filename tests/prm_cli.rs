//! The `prm-score` command, run as a user would: raw ids against the PyTorch reference's step
//! probabilities, and question/response text against the library's scorer.

use crate::common;

use burn::backend::Flex;
use burn::tensor::DType;
use common::{cli_json, f32s, fixtures, ids_arg, read_json, run_cli, u32s};
use prof_grpo::reward::prm::{PrmScorer, PrmSettings};
use prof_grpo::tokenizer::Tokenizer;
use std::path::Path;

/// The fixture PRM's weights in `dir` with the built-in tokenizer (it has `<extra_0>` and fits
/// the fixture's vocabulary of 300).
fn prm_with_tokenizer(dir: &Path) {
    let src = fixtures().join("models/tiny-prm");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    Tokenizer::builtin_toy().save_to_dir(dir).unwrap();
}

#[test]
fn raw_ids_give_the_reference_step_probabilities() {
    let exp = read_json(&fixtures().join("expected/tiny-prm/step_probs.json"));
    let model = fixtures().join("models/tiny-prm");
    let step = exp["step_token_id"].to_string();
    for (i, case) in exp["single"].as_array().unwrap().iter().enumerate() {
        let ids = ids_arg(&u32s(&case["ids"]));
        let out = cli_json(&[
            "prm-score",
            "--model",
            model.to_str().unwrap(),
            "--ids",
            &ids,
            "--step-token-id",
            &step,
            "--json",
        ]);
        let got = f32s(&out["step_probs"]);
        let want = f32s(&case["step_probs"]);
        assert_eq!(got.len(), want.len(), "case {i}: step count");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5, "case {i}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn question_and_response_are_formatted_split_and_scored() {
    let dir = tempfile::tempdir().unwrap();
    prm_with_tokenizer(dir.path());
    let src = fixtures().join("models/tiny-prm");
    let model = dir.path().to_str().unwrap();
    let (question, response) = (
        "What is 2+3*4?",
        "3*4 = 12, so we get 2+12.\n\n2+12 = 14.\n\n",
    );
    let out = cli_json(&[
        "prm-score",
        "--model",
        model,
        "--question",
        question,
        "--response",
        response,
        "--json",
    ]);
    assert_eq!(out["num_steps"], 2);
    assert_eq!(out["steps"][1], "2+12 = 14.");
    let scorer = PrmScorer::<Flex>::load(
        model,
        DType::F32,
        PrmSettings::default(),
        &Default::default(),
    )
    .unwrap();
    let want = &scorer.score(&[(question, response)]).unwrap()[0].step_probs;
    let got = f32s(&out["step_probs"]);
    assert_eq!(got.len(), 2);
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-6, "{got:?} vs {want:?}");
    }

    // An empty response has zero steps and says why it has no scores.
    let empty = cli_json(&[
        "prm-score",
        "--model",
        model,
        "--question",
        question,
        "--response",
        "",
        "--json",
    ]);
    assert_eq!(empty["num_steps"], 0);
    assert_eq!(empty["step_probs"], serde_json::json!([]));
    assert!(empty["skipped"].as_str().unwrap().contains("empty"));

    // Text input needs tokenizer files: a clear error, not a crash.
    let bare = run_cli(&[
        "prm-score",
        "--model",
        src.to_str().unwrap(),
        "--question",
        question,
        "--response",
        response,
    ]);
    assert!(!bare.status.success());
    let err = String::from_utf8_lossy(&bare.stderr);
    assert!(err.contains("tokenizer"), "{err}");
}

#[test]
fn curate_scores_steps_with_a_prm() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("prm");
    std::fs::create_dir(&model).unwrap();
    prm_with_tokenizer(&model);
    let responses = [
        "2+3 = 5.\n\nThe final answer is \\boxed{5}.",
        "2+3 = 6.\n\nThe final answer is \\boxed{6}.",
        "The final answer is \\boxed{5}.",
        "",
    ];
    let lines: Vec<String> = responses
        .iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::json!({"group": 0, "question": "What is 2+3?", "response": r,
                               "reward": (i != 1) as u8, "id": i})
            .to_string()
        })
        .collect();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = dir.path().join("out.jsonl");
    let run = run_cli(&[
        "curate",
        "--input",
        input.to_str().unwrap(),
        "--algorithm",
        "prof",
        "--remove",
        "2",
        "--prm",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let scorer = PrmScorer::<Flex>::load(
        model.to_str().unwrap(),
        DType::F32,
        PrmSettings::default(),
        &Default::default(),
    )
    .unwrap();
    let pairs: Vec<(&str, &str)> = responses.iter().map(|r| ("What is 2+3?", *r)).collect();
    let want = scorer.score(&pairs).unwrap();
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    let mut kept = 0;
    for (row, w) in rows.iter().zip(&want) {
        let got = f32s(&row["step_probs"]);
        assert_eq!(got.len(), w.step_probs.len());
        for (g, p) in got.iter().zip(&w.step_probs) {
            assert!((g - p).abs() <= 1e-6, "{got:?} vs {:?}", w.step_probs);
        }
        kept += row["kept"].as_bool().unwrap() as usize;
    }
    assert_eq!(kept, 2, "k = 2 of 4 removed");
    assert_eq!(rows[1]["step_probs"].as_array().unwrap().len(), 2);
    assert!(rows[3]["prm_skipped"].as_str().unwrap().contains("empty"));
}
