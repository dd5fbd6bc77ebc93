//! `export` writes a Hugging Face directory that our loader reads back to identical logits,
//! with the original tensor names and dtype.

use crate::common;

use burn::backend::Flex;
use burn::tensor::DType;
use prof_grpo::eval::export::{ExportOptions, export_hf_dir};
use prof_grpo::model::{Batch, load_pretrained};
use safetensors::SafeTensors;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn model_dir(name: &str) -> PathBuf {
    common::fixtures().join("models").join(name)
}

/// Logits of a fixed sequence, as raw f32 bits.
fn logit_bits(dir: &Path) -> Vec<u32> {
    let lm =
        load_pretrained::<Flex>(dir.to_str().unwrap(), DType::F32, &Default::default()).unwrap();
    let ids: Vec<u32> = vec![3, 17, 250, 99, 4, 12, 150];
    let batch = Batch::<Flex>::dense(&[ids], &Default::default());
    let logits: Vec<f32> = lm.model.forward(&batch, None).into_data().to_vec().unwrap();
    logits.iter().map(|v| v.to_bits()).collect()
}

/// Tensor name → (dtype, shape) of every safetensors file in `dir`.
fn tensor_table(dir: &Path) -> BTreeMap<String, (String, Vec<usize>)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "safetensors") {
            let bytes = std::fs::read(&path).unwrap();
            let st = SafeTensors::deserialize(&bytes).unwrap();
            for (name, view) in st.tensors() {
                out.insert(name, (format!("{:?}", view.dtype()), view.shape().to_vec()));
            }
        }
    }
    out
}

fn config(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

fn export(
    src: &Path,
    out: &Path,
    options: &ExportOptions,
) -> prof_grpo::eval::export::ExportSummary {
    export_hf_dir::<Flex>(src, out, options, &Default::default()).unwrap()
}

#[test]
fn f32_and_bf16_checkpoints_round_trip_exactly() {
    for name in [
        "tiny-untied",
        "tiny-tied",
        "tiny-tied-bf16",
        "tiny-untied-sharded",
    ] {
        let src = model_dir(name);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("hf");
        let summary = export(&src, &out, &ExportOptions::default());
        assert_eq!(
            logit_bits(&src),
            logit_bits(&out),
            "{name}: logits differ after export"
        );
        assert_eq!(
            tensor_table(&src),
            tensor_table(&out),
            "{name}: tensor names, dtypes or shapes differ"
        );
        let expected_dtype = if name.ends_with("bf16") {
            DType::BF16
        } else {
            DType::F32
        };
        assert_eq!(summary.dtype, expected_dtype, "{name}");
        assert_eq!(config(&src), config(&out), "{name}: config.json changed");
        assert_eq!(
            std::fs::read(src.join("generation_config.json")).unwrap(),
            std::fs::read(out.join("generation_config.json")).unwrap()
        );
        // Nothing but the output directory is left behind.
        let left: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["hf".to_string()], "{name}");
    }
}

#[test]
fn dtype_shards_tokenizer_and_overwrite() {
    let src = model_dir("tiny-untied");
    let tmp = tempfile::tempdir().unwrap();
    let tok = tmp.path().join("tok");
    std::fs::create_dir(&tok).unwrap();
    std::fs::write(tok.join("tokenizer.json"), "{\"version\": \"1.0\"}").unwrap();
    std::fs::write(tok.join("tokenizer_config.json"), "{}").unwrap();
    let out = tmp.path().join("bf16");
    let options = ExportOptions {
        dtype: Some(DType::BF16),
        max_shard_bytes: 60_000,
        tokenizer_dir: Some(tok.clone()),
        overwrite: false,
    };
    let summary = export(&src, &out, &options);
    assert!(
        summary
            .files
            .iter()
            .filter(|f| f.ends_with(".safetensors"))
            .count()
            > 1
    );
    assert!(out.join("model.safetensors.index.json").is_file());
    assert_eq!(
        summary.tokenizer_files,
        vec![
            "tokenizer.json".to_string(),
            "tokenizer_config.json".to_string()
        ]
    );
    assert_eq!(config(&out)["dtype"], "bfloat16");
    let table = tensor_table(&out);
    assert!(table.values().all(|(dtype, _)| dtype == "BF16"));
    let names: Vec<&String> = table.keys().collect();
    let original = tensor_table(&src);
    assert_eq!(names, original.keys().collect::<Vec<_>>());
    // bf16 export of f32 weights: loading it gives the bf16-rounded model, close to the original.
    let a: Vec<f32> = logit_bits(&src).into_iter().map(f32::from_bits).collect();
    let b: Vec<f32> = logit_bits(&out).into_iter().map(f32::from_bits).collect();
    assert!(common::max_abs_diff(&a, &b) < 0.5);
    // Exporting that bf16 directory again is exact.
    let again = tmp.path().join("again");
    export(&out, &again, &ExportOptions::default());
    assert_eq!(logit_bits(&out), logit_bits(&again));

    // An existing directory is kept unless overwrite is asked for.
    let err = export_hf_dir::<Flex>(&src, &out, &ExportOptions::default(), &Default::default())
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    let replaced = export(
        &src,
        &out,
        &ExportOptions {
            overwrite: true,
            ..ExportOptions::default()
        },
    );
    assert_eq!(replaced.dtype, DType::F32);
    assert!(!out.join("model.safetensors.index.json").exists());
    assert_eq!(logit_bits(&src), logit_bits(&out));
}
