//! Checkpoints: exact round trip, atomic replacement, pruning and interrupted writes.

use std::path::Path;

use prof_grpo::train::checkpoint::{
    CheckpointContents, CheckpointManager, LATEST_FILE, NamedTensor, ResumableRng, STATE_FILE,
    TrainState, WEIGHTS_FILE, load_checkpoint, parse_step_dir_name, read_safetensors,
    resolve_checkpoint,
};
use prof_grpo::train::nan_guard::NanGuard;
use prof_grpo::train::prompt_sampler::SamplerCursor;
use rand::{Rng, SeedableRng};
use rand_chacha::{ChaCha8Rng, ChaCha20Rng};
use safetensors::tensor::{Dtype, SafeTensors};

fn weights(scale: f32) -> Vec<NamedTensor> {
    vec![
        NamedTensor::from_f32("model.embed_tokens.weight", vec![4, 3], &[scale; 12]),
        NamedTensor::from_f32(
            "model.layers.0.self_attn.q_proj.weight",
            vec![3, 3],
            &(0..9).map(|i| i as f32 * scale - 1.5).collect::<Vec<_>>(),
        ),
        NamedTensor {
            name: "model.norm.weight".into(),
            dtype: Dtype::BF16,
            shape: vec![3],
            data: vec![0x80, 0x3f, 0x00, 0x40, 0x40, 0x40],
        },
    ]
}

fn optimizer() -> Vec<NamedTensor> {
    vec![
        NamedTensor::from_f32("model.norm.weight.exp_avg", vec![3], &[0.1, -0.2, 0.3]),
        NamedTensor::from_f32("model.norm.weight.exp_avg_sq", vec![3], &[1e-8, 2e-8, 3e-8]),
        NamedTensor {
            name: "step".into(),
            dtype: Dtype::I64,
            shape: vec![],
            data: 17i64.to_le_bytes().to_vec(),
        },
    ]
}

fn state(step: u64) -> TrainState {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for _ in 0..13 {
        rng.next_u32();
    }
    let mut s = TrainState::new(
        step,
        SamplerCursor {
            epoch: 2,
            position: 48,
        },
        "abc123",
        NanGuard {
            max_in_row: 3,
            in_row: 1,
            total_skipped: 4,
        },
    );
    s.rngs.insert("rollout".into(), rng.save_state());
    s.rngs
        .insert("filter".into(), ChaCha20Rng::seed_from_u64(5).save_state());
    s.extra = serde_json::json!({"sft_done": true});
    s
}

fn save(manager: &CheckpointManager, step: u64, scale: f32) -> std::path::PathBuf {
    let w = weights(scale);
    let o = optimizer();
    let st = state(step);
    let contents = CheckpointContents {
        state: &st,
        weights: w.iter().map(|t| t.view().unwrap()).collect(),
        optimizer: o.iter().map(|t| t.view().unwrap()).collect(),
        files: vec![
            (
                "config.json".into(),
                b"{\"model_type\": \"qwen2\"}".as_slice(),
            ),
            ("config.toml".into(), b"[run]\nname = \"x\"\n".as_slice()),
        ],
    };
    manager.save(&contents).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn written_checkpoint_reads_back_equal() {
    let root = tempfile::tempdir().unwrap();
    let manager = CheckpointManager::new(root.path(), 3);
    let dir = save(&manager, 12, 0.5);
    assert_eq!(dir, root.path().join("step-00000012"));
    assert_eq!(
        names(&dir),
        vec![
            "config.json",
            "config.toml",
            "model.safetensors",
            "optimizer.safetensors",
            "state.json"
        ]
    );

    let loaded = load_checkpoint(&dir).unwrap();
    assert_eq!(loaded.state, state(12));
    assert_eq!(
        loaded.files,
        vec!["config.json".to_string(), "config.toml".to_string()]
    );
    let mut expected = weights(0.5);
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(loaded.read_weights().unwrap(), expected);
    let mut expected_opt = optimizer();
    expected_opt.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(loaded.read_optimizer().unwrap(), expected_opt);
    assert_eq!(
        loaded.read_file("config.json").unwrap(),
        b"{\"model_type\": \"qwen2\"}"
    );
    assert_eq!(
        loaded.read_weights().unwrap()[1].to_f32().unwrap(),
        (0..9).map(|i| i as f32 * 0.5 - 1.5).collect::<Vec<_>>()
    );

    // The weights file carries the metadata transformers checks for.
    let bytes = std::fs::read(loaded.weights_path()).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        meta.metadata()
            .as_ref()
            .and_then(|m| m.get("format"))
            .map(String::as_str),
        Some("pt")
    );
}

#[test]
fn restored_rngs_continue_the_same_sequence() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    rng.set_stream(3);
    for _ in 0..1001 {
        rng.next_u32();
    }
    let saved = rng.save_state();
    let json = serde_json::to_string(&saved).unwrap();
    let mut restored = ChaCha8Rng::from_state(&serde_json::from_str(&json).unwrap()).unwrap();
    let a: Vec<u64> = (0..50).map(|_| rng.next_u64()).collect();
    let b: Vec<u64> = (0..50).map(|_| restored.next_u64()).collect();
    assert_eq!(a, b);

    let mut r20 = ChaCha20Rng::seed_from_u64(1);
    r20.next_u64();
    let mut back = ChaCha20Rng::from_state(&r20.save_state()).unwrap();
    assert_eq!(r20.next_u64(), back.next_u64());

    let mut bad = saved.clone();
    bad.seed = "zz".into();
    assert!(ChaCha8Rng::from_state(&bad).is_err());
}

#[test]
fn latest_pointer_and_pruning_keep_the_newest() {
    let root = tempfile::tempdir().unwrap();
    let manager = CheckpointManager::new(root.path(), 2);
    for step in [2, 4, 6, 8] {
        save(&manager, step, step as f32);
    }
    let steps: Vec<u64> = manager
        .list()
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(steps, vec![6, 8]);
    assert_eq!(manager.latest().unwrap(), Some(manager.dir_for_step(8)));
    assert_eq!(
        std::fs::read_to_string(root.path().join(LATEST_FILE))
            .unwrap()
            .trim(),
        "step-00000008"
    );
    // Resolving the root or a run directory holding it finds the latest checkpoint.
    assert_eq!(load_checkpoint(root.path()).unwrap().state.step, 8);
    let run = tempfile::tempdir().unwrap();
    let run_manager = CheckpointManager::new(run.path().join("checkpoints"), 0);
    save(&run_manager, 3, 1.0);
    assert_eq!(
        resolve_checkpoint(run.path()).unwrap(),
        run_manager.dir_for_step(3)
    );
    // A stale or broken pointer falls back to the highest complete checkpoint.
    std::fs::write(root.path().join(LATEST_FILE), "step-00000099\n").unwrap();
    assert_eq!(manager.latest().unwrap(), Some(manager.dir_for_step(8)));
    std::fs::write(root.path().join(LATEST_FILE), "../elsewhere").unwrap();
    assert_eq!(manager.latest().unwrap(), Some(manager.dir_for_step(8)));
}

#[test]
fn saving_an_earlier_step_keeps_later_ones_but_points_latest_at_it() {
    let root = tempfile::tempdir().unwrap();
    let manager = CheckpointManager::new(root.path(), 2);
    for step in [1, 2, 3] {
        save(&manager, step, 1.0);
    }
    // A run resumed from step 1 saves step 2 again: it replaces the old step 2.
    save(&manager, 2, 9.0);
    assert_eq!(manager.latest().unwrap(), Some(manager.dir_for_step(2)));
    let w = load_checkpoint(&manager.dir_for_step(2))
        .unwrap()
        .read_weights()
        .unwrap();
    assert_eq!(w[0].to_f32().unwrap(), vec![9.0; 12]);
    let steps: Vec<u64> = manager
        .list()
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        steps,
        vec![2, 3],
        "step 1 pruned by keep_last = 2, step 3 untouched"
    );
}

#[test]
fn interrupted_write_is_ignored_and_cleaned() {
    let root = tempfile::tempdir().unwrap();
    let manager = CheckpointManager::new(root.path(), 0);
    save(&manager, 5, 1.0);

    // A later write killed half-way: a tmp directory with (even) a state file, and a stale
    // pointer swap file, from a process that no longer exists.
    let torn = root.path().join("step-00000010.tmp-4194999");
    std::fs::create_dir(&torn).unwrap();
    std::fs::write(torn.join(STATE_FILE), "{\"step\": 10").unwrap();
    std::fs::write(torn.join(WEIGHTS_FILE), [1, 2, 3]).unwrap();
    std::fs::write(
        root.path().join("latest.tmp-4194999"),
        "step-00000010.tmp-4194999",
    )
    .unwrap();
    let moved = root.path().join("step-00000004.old-4194999");
    std::fs::create_dir(&moved).unwrap();

    assert_eq!(parse_step_dir_name("step-00000010.tmp-4194999"), None);
    assert_eq!(parse_step_dir_name("step-00000010"), Some(10));
    let steps: Vec<u64> = manager
        .list()
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(steps, vec![5]);
    assert_eq!(manager.latest().unwrap(), Some(manager.dir_for_step(5)));
    assert_eq!(load_checkpoint(root.path()).unwrap().state.step, 5);

    // The next save removes the leftovers.
    save(&manager, 6, 1.0);
    assert_eq!(
        names(root.path()),
        vec!["latest", "step-00000005", "step-00000006"]
    );
}

#[test]
fn broken_checkpoints_are_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let e = format!("{:#}", load_checkpoint(root.path()).unwrap_err());
    assert!(e.contains("no checkpoint in"), "{e}");

    let manager = CheckpointManager::new(root.path(), 0);
    let dir = save(&manager, 1, 1.0);
    std::fs::write(dir.join(STATE_FILE), "{ not json").unwrap();
    let e = format!("{:#}", load_checkpoint(&dir).unwrap_err());
    assert!(e.contains("state.json"), "{e}");

    let dir = save(&manager, 2, 1.0);
    std::fs::write(dir.join(WEIGHTS_FILE), b"garbage").unwrap();
    let e = format!(
        "{:#}",
        load_checkpoint(&dir).unwrap().read_weights().unwrap_err()
    );
    assert!(e.contains("model.safetensors"), "{e}");
    assert!(read_safetensors(&dir.join("missing.safetensors")).is_err());

    let st = state(3);
    let contents = CheckpointContents {
        state: &st,
        weights: Vec::new(),
        optimizer: Vec::new(),
        files: vec![("../escape".into(), b"x".as_slice())],
    };
    assert!(manager.save(&contents).is_err());
}
