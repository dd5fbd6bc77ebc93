//! The training configuration: shipped files, key documentation, overrides and errors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use prof_grpo::train::config::{Algorithm, Backend, KlEstimator, LossAgg, TrainConfig};
use prof_grpo::train::config_keys::{all_keys, keys_help, lookup, to_annotated_toml, to_table};
use prof_grpo::train::config_load::{load, load_from_str};

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

fn config_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(configs_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn load_config(name: &str) -> TrainConfig {
    load(Some(&configs_dir().join(name)), &[]).unwrap()
}

fn sets(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A minimal valid file: the defaults plus training data.
const MINIMAL: &str = "[data]\ntrain_files = [\"train.jsonl\"]\n";

fn err_of(text: &str, set: &[&str]) -> String {
    format!(
        "{:#}",
        load_from_str(text, "my.toml", &sets(set)).unwrap_err()
    )
}

/// Dotted paths of the leaves (non-table values) and of the tables of a TOML tree.
fn tree_paths(
    table: &toml::Table,
    prefix: &str,
    leaves: &mut BTreeSet<String>,
    tables: &mut BTreeSet<String>,
) {
    for (k, v) in table {
        let path = format!("{prefix}{k}");
        match v {
            toml::Value::Table(sub) => {
                tables.insert(path.clone());
                tree_paths(sub, &format!("{path}."), leaves, tables);
            }
            _ => {
                leaves.insert(path);
            }
        }
    }
}

#[test]
fn every_shipped_config_loads_and_validates() {
    let files = config_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "grpo.toml",
        "prof_grpo.toml",
        "prof_grpo_correct.toml",
        "blend_grpo.toml",
        "smoke.toml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "configs/{expected} is missing"
        );
    }
    for file in files {
        load(Some(&file), &[]).unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
    }
}

#[test]
fn every_shipped_config_lists_and_documents_every_key() {
    let keys = all_keys();
    for file in config_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut section = String::new();
        let mut seen = BTreeSet::new();
        for (i, line) in lines.iter().enumerate() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_string();
                seen.insert(section.clone());
            } else if let Some((key, _)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                let path = format!("{section}.{}", key.trim());
                let doc = &keys.iter().find(|k| k.path == path).unwrap().doc;
                assert!(
                    i > 0 && lines[i - 1].trim_start().starts_with('#'),
                    "{}:{}: `{path}` has no comment above it",
                    file.display(),
                    i + 1
                );
                // The comment block above the key carries the key's documentation.
                let block: Vec<&str> = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| l.trim_start().starts_with('#'))
                    .map(|l| l.trim_start().trim_start_matches('#').trim())
                    .collect();
                assert!(
                    block.iter().any(|l| l == doc),
                    "{}:{}: the comment above `{path}` lacks its documentation: {doc}",
                    file.display(),
                    i + 1
                );
                seen.insert(path);
            }
        }
        for key in &keys {
            assert!(
                seen.contains(&key.path),
                "{} does not list `{}`",
                file.display(),
                key.path
            );
        }
    }
}

#[test]
fn help_lists_exactly_the_fields_of_the_default_config() {
    let mut leaves = BTreeSet::new();
    let mut tables = BTreeSet::new();
    tree_paths(
        &to_table(&TrainConfig::default()),
        "",
        &mut leaves,
        &mut tables,
    );
    let documented_leaves: BTreeSet<String> = all_keys()
        .into_iter()
        .filter(|k| !k.is_section)
        .map(|k| k.path)
        .collect();
    let documented_sections: BTreeSet<String> = all_keys()
        .into_iter()
        .filter(|k| k.is_section)
        .map(|k| k.path)
        .collect();
    assert_eq!(leaves, documented_leaves);
    assert_eq!(tables, documented_sections);

    let help = keys_help();
    for key in all_keys() {
        assert!(!key.doc.is_empty(), "`{}` has no documentation", key.path);
        if key.is_section {
            assert!(
                help.contains(&format!("\n[{}]  {}\n", key.path, key.doc)),
                "{}",
                key.path
            );
        } else {
            let (section, name) = key.path.rsplit_once('.').unwrap();
            let after_header = help.split(&format!("\n[{section}]  ")).nth(1).unwrap();
            let section_text = after_header.split("\n[").next().unwrap();
            assert!(
                section_text.contains(&format!("\n  {name} = ")) && section_text.contains(&key.doc),
                "help of [{section}] lacks `{name}`"
            );
        }
    }
    // Defaults appear with their value.
    assert!(help.contains("  lr = 1e-6\n"), "{help}");
    assert!(help.contains("  n = 8\n"));
}

#[test]
fn annotated_toml_round_trips() {
    let mut changed = TrainConfig::smoke();
    changed.actor.lr = 3.5e-7;
    changed.rollout.stop = vec!["\"quoted\"\n".into(), "</s>".into()];
    changed.data.system_prompt = "It's a 'test' with \\boxed{}".into();
    changed.actor.betas = [0.85, 0.95];
    for config in [TrainConfig::default(), TrainConfig::smoke(), changed] {
        let text = to_annotated_toml(&config);
        let back: TrainConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config, "{text}");
    }
}

#[test]
fn reference_configs_reproduce_the_reference_scripts() {
    let c = load_config("prof_grpo.toml");
    assert_eq!(c.algorithm.name, Algorithm::Prof);
    assert_eq!(c.policy.model, "Qwen/Qwen2.5-Math-1.5B");
    assert_eq!(c.prm.model, "Qwen/Qwen2.5-Math-PRM-7B");
    assert_eq!(c.run.backend, Backend::Cuda);
    assert_eq!((c.rollout.n, c.algorithm.prof_remove), (8, 4));
    assert_eq!(c.actor.lr, 1e-6);
    assert_eq!(
        (c.data.max_prompt_length, c.rollout.max_response_length),
        (1024, 3072)
    );
    assert_eq!(
        (
            c.actor.prompts_per_step,
            c.actor.mini_batch_prompts,
            c.actor.micro_batch_size
        ),
        (1024, 256, 8)
    );
    assert_eq!(c.rollout.temperature, 1.0);
    assert_eq!(
        (c.reference.kl_coef, c.reference.kl_estimator),
        (0.001, KlEstimator::K3)
    );
    assert_eq!(c.actor.entropy_coef, 0.001);
    assert_eq!((c.run.total_steps, c.run.total_epochs), (0, 1));
    assert_eq!(
        (c.actor.clip_low, c.actor.clip_high, c.actor.dual_clip),
        (0.2, 0.2, 3.0)
    );
    assert_eq!(
        (
            c.algorithm.min_steps,
            c.algorithm.max_steps,
            c.algorithm.step_penalty
        ),
        (2, 30, 10.0)
    );
    assert_eq!(c.actor.loss_agg, LossAgg::TokenMean);
    assert_eq!(c.actor.grad_clip, 1.0);
    assert_eq!(c.actor.weight_decay, 0.01);
    assert!(c.uses_prm() && c.uses_reference());

    // The other three differ from prof_grpo.toml only in their names.
    for (file, algorithm) in [
        ("grpo.toml", Algorithm::Grpo),
        ("prof_grpo_correct.toml", Algorithm::ProfCorrect),
        ("blend_grpo.toml", Algorithm::Blend),
    ] {
        let mut other = load_config(file);
        assert_eq!(other.algorithm.name, algorithm, "{file}");
        assert_eq!(other.run.name, file.trim_end_matches(".toml"));
        other.algorithm.name = c.algorithm.name;
        other.run.name = c.run.name.clone();
        assert_eq!(
            other, c,
            "{file} differs from prof_grpo.toml beyond its names"
        );
    }
    assert_eq!(load_config("blend_grpo.toml").algorithm.blend_beta, 0.8);
    assert!(!load_config("grpo.toml").uses_prm());
}

#[test]
fn smoke_is_the_no_argument_default_and_runs_on_cpu() {
    let smoke = load_config("smoke.toml");
    assert_eq!(TrainConfig::smoke(), smoke);
    assert_eq!(load(None, &[]).unwrap(), smoke);
    assert_eq!(smoke.run.backend, Backend::Flex);
    assert!(smoke.policy.model.starts_with("builtin:"));
    assert!(smoke.prm.model.starts_with("builtin:"));
    assert!(
        smoke
            .data
            .train_files
            .iter()
            .all(|f| f.starts_with("builtin:"))
    );
    assert!(smoke.run.total_steps > 0);
    assert!(smoke.uses_prm());
}

#[test]
fn set_overrides_are_typed_by_the_key() {
    let c = load_from_str(
        MINIMAL,
        "my.toml",
        &sets(&[
            "actor.lr=1e-5",
            "rollout.n=4",
            "run.name=2024",
            "data.val_files=a.jsonl",
            "rollout.stop=[\"</s>\", \"\\n\\n\\n\"]",
            "actor.betas=[0.8, 0.9]",
            "algorithm.name=grpo",
            "reference.kl_estimator=low_var_kl",
            "policy.builtin.hidden_size=128",
            "data.system_prompt=\"quoted text\"",
            "rollout.top_p = 0.95",
            "actor.grad_clip=2",
            "rollout.n=6",
        ]),
    )
    .unwrap();
    assert_eq!(c.actor.lr, 1e-5);
    assert_eq!(c.rollout.n, 6, "a later --set wins");
    assert_eq!(c.run.name, "2024");
    assert_eq!(c.data.val_files, vec!["a.jsonl".to_string()]);
    assert_eq!(
        c.rollout.stop,
        vec!["</s>".to_string(), "\n\n\n".to_string()]
    );
    assert_eq!(c.actor.betas, [0.8, 0.9]);
    assert_eq!(c.algorithm.name, Algorithm::Grpo);
    assert_eq!(c.reference.kl_estimator, KlEstimator::K3);
    assert_eq!(c.policy.builtin.hidden_size, 128);
    assert_eq!(c.data.system_prompt, "quoted text");
    assert_eq!(c.rollout.top_p, 0.95);
    assert_eq!(
        c.actor.grad_clip, 2.0,
        "an integer is accepted for a float key"
    );
    // Untouched keys keep the file's or default values.
    assert_eq!(c.data.train_files, vec!["train.jsonl".to_string()]);
    assert_eq!(c.actor.mini_batch_prompts, 256);
}

#[test]
fn set_overrides_a_value_of_the_file() {
    let text = "[data]\ntrain_files = [\"a\"]\n[actor]\nlr = 2e-6\n";
    assert_eq!(load_from_str(text, "f", &[]).unwrap().actor.lr, 2e-6);
    assert_eq!(
        load_from_str(text, "f", &sets(&["actor.lr=3e-6"]))
            .unwrap()
            .actor
            .lr,
        3e-6
    );
}

#[test]
fn unknown_keys_are_errors_suggesting_the_nearest_key() {
    let e = err_of(MINIMAL, &["actor.lrr=1e-5"]);
    assert!(
        e.contains("`actor.lrr`") && e.contains("did you mean `actor.lr`"),
        "{e}"
    );
    let e = err_of(MINIMAL, &["rollout.lr=1e-5"]);
    assert!(
        e.contains("did you mean `actor.lr`"),
        "a key in the wrong section finds its home: {e}"
    );
    let e = err_of(MINIMAL, &["actr.lr=1"]);
    assert!(e.contains("did you mean `actor.lr`"), "{e}");
    let e = err_of(&format!("{MINIMAL}[rollout]\ntemprature = 0.7\n"), &[]);
    assert!(
        e.contains("`rollout.temprature`") && e.contains("my.toml"),
        "{e}"
    );
    assert!(e.contains("did you mean `rollout.temperature`"), "{e}");
    let e = err_of(&format!("{MINIMAL}[algoritm]\nname = \"grpo\"\n"), &[]);
    assert!(
        e.contains("`algoritm`") && e.contains("did you mean `algorithm`"),
        "{e}"
    );
    let e = err_of(&format!("{MINIMAL}[policy.builtin]\nhidden = 3\n"), &[]);
    assert!(
        e.contains("`policy.builtin.hidden`") && e.contains("policy.builtin.hidden_size"),
        "{e}"
    );
}

#[test]
fn type_and_syntax_errors_name_the_file_or_the_set() {
    let e = err_of(&format!("{MINIMAL}[actor]\nlr = \"fast\"\n"), &[]);
    assert!(e.contains("my.toml") && e.contains("line 4"), "{e}");
    let e = err_of(MINIMAL, &["actor.lr=fast"]);
    assert!(e.contains("--set actor.lr=fast"), "{e}");
    let e = err_of(MINIMAL, &["rollout.n=-3"]);
    assert!(e.contains("--set rollout.n=-3"), "{e}");
    let e = err_of(MINIMAL, &["algorithm.name=ppo"]);
    assert!(
        e.contains("ppo") && e.contains("prof_correct"),
        "the error lists the accepted names: {e}"
    );
    let e = err_of(MINIMAL, &["actor.lr"]);
    assert!(e.contains("expected key=value"), "{e}");
    let e = err_of("[actor\nlr = 1", &[]);
    assert!(e.contains("my.toml") && e.contains("line 1"), "{e}");
}

#[test]
fn validation_reports_every_inconsistency() {
    let e = err_of(
        MINIMAL,
        &[
            "actor.mini_batch_prompts=300",
            "algorithm.prof_remove=8",
            "rollout.top_p=0",
        ],
    );
    assert!(
        e.contains("actor.mini_batch_prompts (300) must divide actor.prompts_per_step (1024)"),
        "{e}"
    );
    assert!(
        e.contains("algorithm.prof_remove (8) must be below rollout.n (8)"),
        "{e}"
    );
    assert!(e.contains("rollout.top_p"), "{e}");
    // prof_remove is not checked for algorithms without a filter.
    load_from_str(
        MINIMAL,
        "f",
        &sets(&["algorithm.prof_remove=8", "algorithm.name=blend"]),
    )
    .unwrap();
    let e = err_of("", &[]);
    assert!(e.contains("data.train_files is empty"), "{e}");
    let e = err_of(
        MINIMAL,
        &[
            "policy.model=builtin:tiny",
            "policy.builtin.max_position_embeddings=100",
        ],
    );
    assert!(e.contains("max_position_embeddings (100)"), "{e}");
    let e = err_of(MINIMAL, &["actor.dual_clip=0.5"]);
    assert!(e.contains("actor.dual_clip"), "{e}");
}

#[test]
fn hash_identifies_the_configuration() {
    let a = TrainConfig::smoke();
    let mut b = a.clone();
    assert_eq!(a.hash_hex(), b.hash_hex());
    assert_eq!(a.hash_hex().len(), 64);
    assert!(a.hash_hex().bytes().all(|c| c.is_ascii_hexdigit()));
    b.actor.lr *= 2.0;
    assert_ne!(a.hash_hex(), b.hash_hex());
}

#[test]
fn total_steps_come_from_steps_or_epochs() {
    let mut c = TrainConfig::default();
    c.run.total_epochs = 3;
    assert_eq!(c.total_steps(7), 21);
    c.run.total_steps = 5;
    assert_eq!(c.total_steps(7), 5);
}

#[test]
fn lookup_reads_dotted_paths() {
    let t = to_table(&TrainConfig::default());
    assert_eq!(
        lookup(&t, "rollout.n").and_then(|v| v.as_integer()),
        Some(8)
    );
    assert_eq!(
        lookup(&t, "policy.builtin.num_hidden_layers").and_then(|v| v.as_integer()),
        Some(2)
    );
    assert!(lookup(&t, "rollout.nope").is_none());
}
