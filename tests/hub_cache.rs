//! Loading a model by hub id from a Hugging Face cache directory, offline.

use crate::common;

use burn::backend::Flex;
use burn::tensor::DType;
use common::{f32s, fixtures, max_abs_diff, read_json, u32s};
use prof_grpo::model::{Batch, load_pretrained};
use std::path::Path;

/// Lays out `models--{org}--{name}/{refs/main, snapshots/<commit>/...}` as hf-hub writes it.
fn fake_cache(root: &Path, id: &str, src: &Path) {
    let folder = root.join(format!("models--{}", id.replace('/', "--")));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), commit).unwrap();
    let snap = folder.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    for f in ["config.json", "model.safetensors", "generation_config.json"] {
        std::fs::copy(src.join(f), snap.join(f)).unwrap();
    }
}

fn check_logits(spec: &str) {
    let device = Default::default();
    let lm = load_pretrained::<Flex>(spec, DType::F32, &device).unwrap();
    let exp = read_json(&fixtures().join("expected/tiny-tied/logits.json"));
    let case = &exp["cases"][0];
    let ids = u32s(&case["ids"]);
    let logits = lm
        .model
        .forward(&Batch::<Flex>::dense(&[ids], &device), None);
    let v = logits.dims()[2];
    let flat: Vec<f32> = logits.into_data().to_vec().unwrap();
    for (t, row) in case["logits"].as_array().unwrap().iter().enumerate() {
        assert!(max_abs_diff(&flat[t * v..(t + 1) * v], &f32s(row)) <= 1e-4);
    }
    assert_eq!(
        lm.generation.eos_ids,
        vec![78, 298],
        "generation_config.json stop ids"
    );
}

#[test]
fn hub_ids_resolve_through_the_cache_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("models/tiny-tied");
    let _env = crate::common::ENV_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // SAFETY: the hub_env binary runs only tests holding ENV_LOCK, so no other thread reads the
    // environment meanwhile.
    unsafe {
        std::env::set_var("HF_HUB_OFFLINE", "1");
        std::env::remove_var("HF_HUB_CACHE");
    }

    // $HF_HOME/hub layout.
    fake_cache(&tmp.path().join("home/hub"), "test-org/tiny-qwen2", &src);
    unsafe { std::env::set_var("HF_HOME", tmp.path().join("home")) };
    check_logits("test-org/tiny-qwen2");

    // $HF_HUB_CACHE takes precedence.
    fake_cache(&tmp.path().join("cache"), "other-org/tiny-qwen2", &src);
    unsafe { std::env::set_var("HF_HUB_CACHE", tmp.path().join("cache")) };
    check_logits("other-org/tiny-qwen2");

    // A missing model is a clear error naming the cache, not a download attempt.
    let err = load_pretrained::<Flex>("nobody/missing", DType::F32, &Default::default())
        .err()
        .expect("must fail");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("HF_HUB_OFFLINE") && msg.contains("config.json"),
        "{msg}"
    );
}
