//! Finding a model's files: a local directory, a preset name, or a Hugging Face hub id resolved
//! through `hf-hub` (its cache first; `HF_HOME`, `HF_HUB_CACHE` and `HF_HUB_OFFLINE` respected).

use anyhow::{Context, Result, anyhow, bail};
use hf_hub::{Cache, Repo, api::sync::ApiBuilder};
use std::path::{Path, PathBuf};

use super::preset::find_preset;

/// Files a model directory may hold besides the weights; `config.json` is required.
const OPTIONAL_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
];

/// Resolves `spec` (directory, preset name or hub id) to a local directory holding the model.
pub fn resolve_model_dir(spec: &str) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if let Some(preset) = find_preset(spec)? {
        return resolve_hub_model(&preset.hub_id);
    }
    if looks_like_hub_id(spec) {
        return resolve_hub_model(spec);
    }
    bail!(
        "model {spec:?} is neither a directory, a preset name nor a hub id like `Qwen/Qwen2.5-Math-1.5B`"
    )
}

fn looks_like_hub_id(spec: &str) -> bool {
    let parts: Vec<&str> = spec.split('/').collect();
    parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && !p.starts_with('.'))
}

/// Whether `HF_HUB_OFFLINE` asks for cache-only resolution.
pub fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false)
}

/// The hub cache in use: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn hub_cache() -> Cache {
    match std::env::var_os("HF_HUB_CACHE") {
        Some(dir) => Cache::new(PathBuf::from(dir)),
        None => Cache::from_env(),
    }
}

/// Fetches (or finds in the cache) every file of a hub model and returns its snapshot directory.
pub fn resolve_hub_model(id: &str) -> Result<PathBuf> {
    let cache = hub_cache();
    let repo = Repo::model(id.to_string());
    let get = |file: &str| -> Result<Option<PathBuf>> {
        if let Some(p) = cache.repo(repo.clone()).get(file) {
            return Ok(Some(p));
        }
        if hub_offline() {
            return Ok(None);
        }
        let api = ApiBuilder::from_cache(cache.clone())
            .with_progress(true)
            .build()
            .context("starting the Hugging Face hub client")?;
        match api.repo(repo.clone()).get(file) {
            Ok(p) => Ok(Some(p)),
            Err(e) => {
                if file == "config.json" {
                    eprintln!("hub: {id}: {file}: {e}");
                }
                Ok(None)
            }
        }
    };
    let config = get("config.json")?.ok_or_else(|| {
        anyhow!(
            "model {id}: config.json not found in the hub cache {}{}",
            cache.path().display(),
            if hub_offline() {
                " (HF_HUB_OFFLINE is set)"
            } else {
                " and could not be downloaded"
            }
        )
    })?;
    let dir = config
        .parent()
        .ok_or_else(|| anyhow!("hub cache path {} has no parent", config.display()))?
        .to_path_buf();
    for file in OPTIONAL_FILES {
        get(file)?;
    }
    if let Some(index) = get(super::weights::INDEX_FILE)? {
        let text = std::fs::read_to_string(&index)?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", index.display()))?;
        let mut shards: Vec<String> = json["weight_map"]
            .as_object()
            .map(|m| {
                m.values()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        shards.sort();
        shards.dedup();
        for shard in shards {
            get(&shard)?.ok_or_else(|| anyhow!("model {id}: weight shard {shard} is missing"))?;
        }
    } else {
        get(super::weights::SINGLE_FILE)?.ok_or_else(|| {
            anyhow!("model {id}: no model.safetensors or shard index in the hub cache")
        })?;
    }
    Ok(dir)
}
