//! `prepare` and tokenizer lookup through an hf-hub cache laid out as hf-hub writes it, with
//! `HF_HUB_OFFLINE=1` (no network). One test in its own binary, because it sets process-wide
//! environment variables.

use std::path::Path;

use prof_grpo::data::{LoadOptions, PrepareOptions, PrepareSource, load_dataset, prepare};
use prof_grpo::tokenizer::Tokenizer;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn offline_hub_cache_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = tmp.path().join("hf_home/hub");
    // A dataset snapshot: refs/main names the commit folder under snapshots/.
    let repo = hub.join("datasets--HuggingFaceH4--MATH-500");
    write(&repo.join("refs/main"), "0123abcd");
    let rows: String = (0..5)
        .map(|i| {
            format!("{{\"problem\": \"P{i}\", \"answer\": \"{i}\", \"unique_id\": \"u{i}\"}}\n")
        })
        .collect();
    write(&repo.join("snapshots/0123abcd/test.jsonl"), &rows);
    // A model snapshot holding only tokenizer files.
    let model = hub.join("models--Example--Tiny");
    write(&model.join("refs/main"), "feed");
    Tokenizer::builtin_toy()
        .save_to_dir(&model.join("snapshots/feed"))
        .unwrap();

    let _env = crate::common::ENV_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // SAFETY: the hub_env binary runs only tests holding ENV_LOCK, so no other thread reads the
    // environment meanwhile.
    unsafe {
        std::env::set_var("HF_HOME", tmp.path().join("hf_home"));
        std::env::set_var("HF_HUB_OFFLINE", "1");
    }
    let tok = Tokenizer::from_dir_or_hub("Example/Tiny").unwrap();
    assert_eq!(tok.vocab_size(), Tokenizer::builtin_toy().vocab_size());
    let err = Tokenizer::from_dir_or_hub("Example/Missing").unwrap_err();
    assert!(format!("{err:#}").contains("HF_HUB_OFFLINE"), "{err:#}");

    let mut opts = PrepareOptions::new(PrepareSource::Math500, tmp.path().join("out"));
    opts.seed = Some(0);
    let reports = prepare(&opts, Some(&tok)).unwrap();
    assert_eq!(reports[0].written, 5);
    let out = tmp.path().join("out/validation.parquet");
    let problems = load_dataset(
        out.to_str().unwrap(),
        Path::new("."),
        &LoadOptions::default(),
    )
    .unwrap()
    .problems;
    let mut golds: Vec<String> = problems.into_iter().map(|p| p.gold).collect();
    golds.sort();
    assert_eq!(golds, ["0", "1", "2", "3", "4"]);

    let err = prepare(
        &PrepareOptions::new(PrepareSource::Gsm8k, tmp.path().join("o2")),
        Some(&tok),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("openai/gsm8k is not in the cache"),
        "{err:#}"
    );
}
