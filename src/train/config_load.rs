//! Loading a [`TrainConfig`]: TOML file → unknown-key check → `--set` overrides on the TOML tree
//! → serde (types) → [`validate`] (ranges and consistency). Every error names the file or the
//! `--set` argument and the key.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::train::config::{Algorithm, TrainConfig};
use crate::train::config_keys::{all_keys, lookup, nearest_key, to_table};

/// Loads the configuration file at `path` (or the built-in smoke configuration when `None`) and
/// applies the `--set key=value` overrides in order.
pub fn load(path: Option<&Path>, sets: &[String]) -> Result<TrainConfig> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            load_from_str(&text, &path.display().to_string(), sets)
        }
        None => load_from_str(
            crate::train::config::SMOKE_TOML,
            "configs/smoke.toml (built in)",
            sets,
        ),
    }
}

/// Like [`load`] for TOML text; `source` names it in error messages.
pub fn load_from_str(text: &str, source: &str, sets: &[String]) -> Result<TrainConfig> {
    let mut table: toml::Table =
        toml::from_str(text).with_context(|| format!("parsing config {source}"))?;
    check_keys(&table, "", &|key| {
        format!(
            "unknown key `{key}` in {source}; did you mean `{}`? (`prof-grpo train --help` lists every key)",
            nearest_key(key)
        )
    })?;
    // Deserialize the file text alone first: type errors then carry the file's line and column.
    let mut config: TrainConfig =
        toml::from_str(text).with_context(|| format!("invalid value in {source}"))?;
    for set in sets {
        apply_set(&mut table, set)?;
        config = TrainConfig::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| anyhow!("--set {set}: {e}"))?;
    }
    validate(&config).with_context(|| format!("invalid configuration {source}"))?;
    Ok(config)
}

/// Fails on the first key of `table` (under the dotted `prefix`) that is not a configuration key.
fn check_keys(table: &toml::Table, prefix: &str, message: &dyn Fn(&str) -> String) -> Result<()> {
    let keys = all_keys();
    for (name, value) in table {
        let path = format!("{prefix}{name}");
        let Some(key) = keys.iter().find(|k| k.path == path) else {
            bail!(message(&path));
        };
        if let (true, Some(sub)) = (key.is_section, value.as_table()) {
            check_keys(sub, &format!("{path}."), message)?;
        }
    }
    Ok(())
}

/// Applies one `key=value` override to a TOML tree. The value is read as TOML; where the key
/// holds a string, unquoted text is taken as it is, and where it holds a list, a single value
/// becomes a one-element list.
pub fn apply_set(table: &mut toml::Table, set: &str) -> Result<()> {
    let (key, raw) = set
        .split_once('=')
        .ok_or_else(|| anyhow!("--set {set}: expected key=value, e.g. actor.lr=1e-6"))?;
    let (key, raw) = (key.trim(), raw.trim());
    let keys = all_keys();
    if !keys.iter().any(|k| k.path == key) {
        bail!(
            "--set {set}: unknown key `{key}`; did you mean `{}`? (`prof-grpo train --help` lists every key)",
            nearest_key(key)
        );
    }
    let default = lookup(&to_table(&TrainConfig::default()), key).cloned();
    let parsed = parse_toml_value(raw);
    let value = match (default, parsed) {
        (Some(toml::Value::String(_)), Some(v @ toml::Value::String(_))) => v,
        (Some(toml::Value::String(_)), _) => toml::Value::String(raw.to_string()),
        (Some(toml::Value::Array(_)), Some(v @ toml::Value::Array(_))) => v,
        (Some(toml::Value::Array(_)), _) if raw.is_empty() => toml::Value::Array(Vec::new()),
        (Some(toml::Value::Array(_)), parsed) => toml::Value::Array(vec![
            parsed.unwrap_or_else(|| toml::Value::String(raw.to_string())),
        ]),
        (_, Some(v)) => v,
        (_, None) => toml::Value::String(raw.to_string()),
    };
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("split yields at least one part");
    let mut node = table;
    for part in parts {
        let entry = node
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| anyhow!("--set {set}: `{part}` is not a section in the config file"))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

/// Parses `raw` as one TOML value (`None` when it is not valid TOML).
fn parse_toml_value(raw: &str) -> Option<toml::Value> {
    let mut table: toml::Table = toml::from_str(&format!("v = {raw}")).ok()?;
    if table.len() != 1 {
        return None;
    }
    table.remove("v")
}

/// Checks ranges and consistency between keys; the error lists every problem found.
pub fn validate(c: &TrainConfig) -> Result<()> {
    let mut errors: Vec<String> = Vec::new();
    let mut check = |ok: bool, msg: String| {
        if !ok {
            errors.push(msg);
        }
    };
    let finite = |x: f64| x.is_finite();

    check(
        c.run.total_steps > 0 || c.run.total_epochs > 0,
        "run.total_steps and run.total_epochs are both 0: nothing to train".into(),
    );
    check(!c.policy.model.is_empty(), "policy.model is empty".into());
    if c.uses_prm() {
        check(
            !c.prm.model.is_empty(),
            format!(
                "prm.model is empty but algorithm.name = {} needs a PRM",
                c.algorithm.name
            ),
        );
    }
    check(
        c.prm.batch_size >= 1,
        "prm.batch_size must be at least 1".into(),
    );
    check(
        c.prm.max_length >= 1,
        "prm.max_length must be at least 1".into(),
    );
    check(
        !c.data.train_files.is_empty(),
        "data.train_files is empty".into(),
    );
    check(
        c.data.max_prompt_length >= 1,
        "data.max_prompt_length must be at least 1".into(),
    );

    let r = &c.rollout;
    check(r.n >= 1, "rollout.n must be at least 1".into());
    check(
        finite(r.temperature) && r.temperature > 0.0,
        format!("rollout.temperature must be > 0 (got {})", r.temperature),
    );
    check(
        r.top_p > 0.0 && r.top_p <= 1.0,
        format!("rollout.top_p must be in (0, 1] (got {})", r.top_p),
    );
    check(
        r.max_response_length >= 1,
        "rollout.max_response_length must be at least 1".into(),
    );

    let a = &c.algorithm;
    let filters = matches!(
        a.name,
        Algorithm::Prof | Algorithm::ProfCorrect | Algorithm::ProfJoint | Algorithm::RandomFilter
    );
    if filters {
        check(
            a.prof_remove < r.n,
            format!(
                "algorithm.prof_remove ({}) must be below rollout.n ({}): {} would drop every completion",
                a.prof_remove, r.n, a.name
            ),
        );
    }
    check(
        a.min_steps <= a.max_steps,
        format!(
            "algorithm.min_steps ({}) exceeds algorithm.max_steps ({})",
            a.min_steps, a.max_steps
        ),
    );
    check(
        finite(a.step_penalty) && a.step_penalty >= 0.0,
        format!(
            "algorithm.step_penalty must be finite and >= 0 (got {})",
            a.step_penalty
        ),
    );
    check(
        finite(a.blend_beta),
        "algorithm.blend_beta must be finite".into(),
    );
    check(
        finite(a.adv_epsilon) && a.adv_epsilon >= 0.0,
        format!(
            "algorithm.adv_epsilon must be finite and >= 0 (got {})",
            a.adv_epsilon
        ),
    );

    let ac = &c.actor;
    check(
        finite(ac.lr) && ac.lr > 0.0,
        format!("actor.lr must be > 0 (got {})", ac.lr),
    );
    check(
        (0.0..=1.0).contains(&ac.min_lr_ratio),
        format!(
            "actor.min_lr_ratio must be in [0, 1] (got {})",
            ac.min_lr_ratio
        ),
    );
    check(
        finite(ac.weight_decay) && ac.weight_decay >= 0.0,
        format!("actor.weight_decay must be >= 0 (got {})", ac.weight_decay),
    );
    check(
        ac.betas.iter().all(|b| (0.0..1.0).contains(b)),
        format!("actor.betas must be in [0, 1) (got {:?})", ac.betas),
    );
    check(
        ac.adam_eps > 0.0 && finite(ac.adam_eps),
        "actor.adam_eps must be > 0".into(),
    );
    check(
        finite(ac.grad_clip) && ac.grad_clip >= 0.0,
        format!("actor.grad_clip must be >= 0 (got {})", ac.grad_clip),
    );
    check(
        ac.ppo_epochs >= 1,
        "actor.ppo_epochs must be at least 1".into(),
    );
    check(
        ac.prompts_per_step >= 1,
        "actor.prompts_per_step must be at least 1".into(),
    );
    check(
        ac.micro_batch_size >= 1,
        "actor.micro_batch_size must be at least 1".into(),
    );
    check(
        ac.mini_batch_prompts >= 1
            && ac
                .prompts_per_step
                .is_multiple_of(ac.mini_batch_prompts.max(1)),
        format!(
            "actor.mini_batch_prompts ({}) must divide actor.prompts_per_step ({})",
            ac.mini_batch_prompts, ac.prompts_per_step
        ),
    );
    check(
        (0.0..1.0).contains(&ac.clip_low),
        format!("actor.clip_low must be in [0, 1) (got {})", ac.clip_low),
    );
    check(
        finite(ac.clip_high) && ac.clip_high >= 0.0,
        format!("actor.clip_high must be >= 0 (got {})", ac.clip_high),
    );
    check(
        ac.dual_clip == 0.0 || (finite(ac.dual_clip) && ac.dual_clip > 1.0),
        format!(
            "actor.dual_clip must be 0 (off) or > 1 (got {})",
            ac.dual_clip
        ),
    );
    check(
        finite(ac.entropy_coef),
        "actor.entropy_coef must be finite".into(),
    );

    let re = &c.reference;
    check(
        finite(re.kl_coef) && re.kl_coef >= 0.0,
        format!("reference.kl_coef must be >= 0 (got {})", re.kl_coef),
    );
    check(
        finite(re.kl_clamp) && re.kl_clamp >= 0.0,
        format!("reference.kl_clamp must be >= 0 (got {})", re.kl_clamp),
    );

    let e = &c.eval;
    check(e.n >= 1, "eval.n must be at least 1".into());
    check(
        e.max_new_tokens >= 1,
        "eval.max_new_tokens must be at least 1".into(),
    );
    if !e.greedy {
        check(
            finite(e.temperature) && e.temperature > 0.0,
            format!(
                "eval.temperature must be > 0 when eval.greedy = false (got {})",
                e.temperature
            ),
        );
        check(
            e.top_p > 0.0 && e.top_p <= 1.0,
            format!("eval.top_p must be in (0, 1] (got {})", e.top_p),
        );
    }

    let w = &c.warmup_sft;
    if w.steps > 0 {
        check(
            finite(w.lr) && w.lr > 0.0,
            format!("warmup_sft.lr must be > 0 (got {})", w.lr),
        );
        check(
            w.batch_size >= 1,
            "warmup_sft.batch_size must be at least 1".into(),
        );
        check(
            (0.0..=1.0).contains(&w.flawed_fraction),
            format!(
                "warmup_sft.flawed_fraction must be in [0, 1] (got {})",
                w.flawed_fraction
            ),
        );
    }

    if c.policy.model.starts_with("builtin:") {
        let b = &c.policy.builtin;
        check(
            b.num_attention_heads >= 1
                && b.num_key_value_heads >= 1
                && b.hidden_size.is_multiple_of(b.num_attention_heads.max(1))
                && b.num_attention_heads
                    .is_multiple_of(b.num_key_value_heads.max(1))
                && (b.hidden_size / b.num_attention_heads.max(1)).is_multiple_of(2),
            format!(
                "policy.builtin: hidden_size ({}) must split into num_attention_heads ({}) heads of even size, \
                 and num_attention_heads must be a multiple of num_key_value_heads ({})",
                b.hidden_size, b.num_attention_heads, b.num_key_value_heads
            ),
        );
        check(
            b.max_position_embeddings >= c.data.max_prompt_length + r.max_response_length,
            format!(
                "policy.builtin.max_position_embeddings ({}) is below data.max_prompt_length + \
                 rollout.max_response_length ({})",
                b.max_position_embeddings,
                c.data.max_prompt_length + r.max_response_length
            ),
        );
    }

    if errors.is_empty() {
        Ok(())
    } else {
        bail!("{}", errors.join("\n"))
    }
}

impl TrainConfig {
    /// Loads a config file (or the built-in smoke run when `None`) with `--set` overrides; see [`load`].
    pub fn load(path: Option<&Path>, sets: &[String]) -> Result<Self> {
        load(path, sets)
    }

    /// SHA-256 (hex) of the canonical TOML form: identifies the configuration in checkpoints.
    pub fn hash_hex(&self) -> String {
        let text = toml::to_string(self).expect("a TrainConfig always serializes to TOML");
        format!("{:x}", Sha256::digest(text.as_bytes()))
    }
}
