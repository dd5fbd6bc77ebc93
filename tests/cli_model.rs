//! The `logits` and `generate` commands, run as a user would, on the tiny fixture models.

use crate::common;

use common::{f32s, fixtures, ids_arg, max_abs_diff, read_json, u32s};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prof-grpo"))
}

#[test]
fn logits_command_prints_one_row_per_position() {
    let exp = read_json(&fixtures().join("expected/tiny-untied/logits.json"));
    let case = &exp["cases"][0];
    let ids = u32s(&case["ids"]);
    let model = fixtures().join("models/tiny-untied");
    let out = bin()
        .args([
            "logits",
            "--model",
            model.to_str().unwrap(),
            "--ids",
            &ids_arg(&ids),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["logits"].as_array().unwrap();
    assert_eq!(rows.len(), ids.len());
    for (t, row) in rows.iter().enumerate() {
        assert!(max_abs_diff(&f32s(row), &f32s(&case["logits"][t])) <= 1e-4);
    }
}

#[test]
fn greedy_generate_command_matches_transformers() {
    let exp = read_json(&fixtures().join("expected/tiny-tied/greedy.json"));
    let model = fixtures().join("models/tiny-tied");
    for case in exp["single"].as_array().unwrap() {
        let out = bin()
            .args([
                "generate",
                "--model",
                model.to_str().unwrap(),
                "--ids",
                &ids_arg(&u32s(&case["ids"])),
                "--max-new-tokens",
                "12",
                "--temperature",
                "0",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(u32s(&json["ids"]), u32s(&case["new_ids"]));
    }
}

#[test]
fn sampling_is_seeded_and_n_gives_k_completions() {
    let model = fixtures().join("models/tiny-untied");
    let run = |seed: &str| {
        let out = bin()
            .args([
                "generate",
                "--model",
                model.to_str().unwrap(),
                "--ids",
                "5,17,99",
                "--max-new-tokens",
                "6",
                "--n",
                "3",
                "--seed",
                seed,
                "--json",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let a = run("7");
    assert_eq!(a["completions"].as_array().unwrap().len(), 3);
    assert_eq!(a, run("7"));
    assert_ne!(a, run("8"));
}

#[test]
fn bad_ids_and_missing_features_are_clear_errors() {
    let model = fixtures().join("models/tiny-tied");
    let out = bin()
        .args([
            "logits",
            "--model",
            model.to_str().unwrap(),
            "--ids",
            "1,x,3",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("item 2"));
    let out = bin()
        .args([
            "logits",
            "--model",
            model.to_str().unwrap(),
            "--ids",
            "1,9999",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the vocabulary"));
    if !cfg!(feature = "cuda") {
        let out = bin()
            .args([
                "logits",
                "--model",
                model.to_str().unwrap(),
                "--ids",
                "1",
                "--backend",
                "cuda",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--features cuda"));
    }
}
