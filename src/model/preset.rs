//! Named model presets (`models/*.toml`), compiled into the binary.

use anyhow::{Context, Result};
use serde::Deserialize;

/// A preset: where a known model lives and how to run it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Hugging Face hub repository id.
    pub hub_id: String,
    /// `policy` or `prm`.
    pub role: String,
    /// dtype to compute in on GPUs.
    pub gpu_dtype: String,
}

const PRESETS: &[(&str, &str)] = &[
    (
        "qwen2.5-math-1.5b",
        include_str!("../../models/qwen2.5-math-1.5b.toml"),
    ),
    (
        "qwen2.5-math-7b",
        include_str!("../../models/qwen2.5-math-7b.toml"),
    ),
    (
        "qwen2.5-math-prm-7b",
        include_str!("../../models/qwen2.5-math-prm-7b.toml"),
    ),
];

/// Names of every preset.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The preset of this name, if there is one.
pub fn find_preset(name: &str) -> Result<Option<Preset>> {
    PRESETS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, text)| toml::from_str(text).with_context(|| format!("preset models/{n}.toml")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses() {
        for name in preset_names() {
            let p = find_preset(name).unwrap().unwrap();
            assert!(p.hub_id.starts_with("Qwen/"), "{name}");
        }
        assert_eq!(
            find_preset("qwen2.5-math-prm-7b").unwrap().unwrap().role,
            "prm"
        );
        assert!(find_preset("nope").unwrap().is_none());
    }
}
