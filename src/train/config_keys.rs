//! The list of configuration keys, derived from the section declarations in
//! [`crate::train::config`]: the `--help` text, nearest-key suggestions and annotated TOML.

use std::fmt::Write as _;

use crate::train::config::{ConfigSection, FieldDoc, TrainConfig};

/// One configuration key: its dotted path, its doc text and whether it is a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Dotted path, e.g. `actor.lr` or `policy.builtin`.
    pub path: String,
    /// One-paragraph documentation.
    pub doc: String,
    /// True for a section (a TOML table), false for a value.
    pub is_section: bool,
}

/// Every key of [`TrainConfig`], sections included, in declaration order (a section before its keys).
pub fn all_keys() -> Vec<KeyInfo> {
    let mut out = Vec::new();
    collect(TrainConfig::field_docs(), "", &mut out);
    out
}

fn collect(fields: &[FieldDoc], prefix: &str, out: &mut Vec<KeyInfo>) {
    // Values first, then nested sections: the order TOML requires and the help shows.
    for f in fields.iter().filter(|f| f.section.is_none()) {
        out.push(KeyInfo {
            path: format!("{prefix}{}", f.name),
            doc: f.doc.trim().to_string(),
            is_section: false,
        });
    }
    for f in fields.iter().filter(|f| f.section.is_some()) {
        let path = format!("{prefix}{}", f.name);
        out.push(KeyInfo {
            path: path.clone(),
            doc: f.doc.trim().to_string(),
            is_section: true,
        });
        let sub = f.section.expect("filtered on sections")();
        collect(sub, &format!("{path}."), out);
    }
}

/// The known key nearest to `unknown`: smallest edit distance on the whole path, or on the
/// last segment (plus one outside the same section), so that a key put in the wrong section
/// finds its real home. Ties go to the most similar name by Jaro-Winkler (which rewards a
/// common prefix), then to the first key in declaration order.
pub fn nearest_key(unknown: &str) -> String {
    let split = |p: &str| -> (String, String) {
        match p.rsplit_once('.') {
            Some((parent, name)) => (parent.to_string(), name.to_string()),
            None => (String::new(), p.to_string()),
        }
    };
    let (parent, name) = split(unknown);
    all_keys()
        .into_iter()
        .map(|k| {
            let (k_parent, k_name) = split(&k.path);
            let whole = strsim::levenshtein(unknown, &k.path);
            let by_name = strsim::levenshtein(&name, &k_name) + usize::from(parent != k_parent);
            let similarity = (strsim::jaro_winkler(&name, &k_name) * 1e6) as i64;
            ((whole.min(by_name), -similarity), k.path)
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, p)| p)
        .unwrap_or_default()
}

/// Looks up a dotted path in a TOML tree.
pub fn lookup<'a>(root: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut value = root.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// `config` as a TOML tree.
pub fn to_table(config: &TrainConfig) -> toml::Table {
    toml::Table::try_from(config).expect("a TrainConfig always serializes to a TOML table")
}

/// Help text listing every key with its default and documentation, for `prof-grpo train --help`.
pub fn keys_help() -> String {
    let defaults = to_table(&TrainConfig::default());
    let mut out = String::from(
        "Configuration keys (TOML sections of the --config file; any key can be overridden with \
         --set section.key=value; defaults are the paper's PROF-GRPO setup):\n",
    );
    for key in all_keys() {
        if key.is_section {
            let _ = write!(out, "\n[{}]  {}\n", key.path, key.doc);
        } else {
            let name = key.path.rsplit('.').next().unwrap_or(&key.path);
            let value = lookup(&defaults, &key.path).map_or_else(String::new, value_text);
            let _ = writeln!(out, "  {name} = {value}\n      {}", key.doc);
        }
    }
    out
}

/// `config` as TOML with every key preceded by its doc comment (the run's resolved config).
pub fn to_annotated_toml(config: &TrainConfig) -> String {
    let table = to_table(config);
    let mut out = String::new();
    for key in all_keys() {
        if key.is_section {
            let _ = write!(out, "\n# {}\n[{}]\n", key.doc, key.path);
        } else {
            let name = key.path.rsplit('.').next().unwrap_or(&key.path);
            let value = lookup(&table, &key.path).map_or_else(String::new, value_text);
            let _ = writeln!(out, "# {}\n{name} = {value}", key.doc);
        }
    }
    out.trim_start().to_string()
}

/// A TOML value written inline (strings quoted and escaped; small floats as `1e-6`).
pub fn value_text(value: &toml::Value) -> String {
    match value {
        toml::Value::Float(x) if *x != 0.0 && x.abs() < 1e-3 => format!("{x:e}"),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}
