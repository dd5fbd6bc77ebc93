//! The accuracy history file of the reference evaluator: `temp{T}_K{K}.jsonl` (e.g.
//! `temp1.0_K16.jsonl`), one line per evaluated step,
//! `{"step": 40, "math500": {"score": 0.732, "var": 0.121}, ...}`, where `score` is avg@k as a
//! fraction (not %) and `var` the mean per-problem population variance of the verdicts. A step
//! evaluated again replaces its line, so the file has one line per step, sorted by step.

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

use super::report::{EvalReport, write_atomic};

/// `temp{T}_K{K}.jsonl` in `dir` for the report's settings.
pub fn history_path(dir: &Path, report: &EvalReport) -> PathBuf {
    dir.join(format!(
        "temp{}_K{}.jsonl",
        report.settings.temperature_label(),
        report.settings.k
    ))
}

/// The line of one report (`step` 0 when the report has none).
pub fn history_line(report: &EvalReport) -> Value {
    let mut line = Map::new();
    line.insert("step".into(), json!(report.step.unwrap_or(0)));
    for m in &report.datasets {
        line.insert(
            m.dataset.clone(),
            json!({ "score": m.avg_at_k / 100.0, "var": m.variance }),
        );
    }
    Value::Object(line)
}

/// Adds (or replaces) the report's line in the history file in `dir`; returns the file.
pub fn record_history(dir: &Path, report: &EvalReport) -> Result<PathBuf> {
    let path = history_path(dir, report);
    let mut lines = if path.exists() {
        read_history(&path)?
    } else {
        Vec::new()
    };
    let new = history_line(report);
    let step = new["step"].as_u64();
    lines.retain(|l| l["step"].as_u64() != step);
    lines.push(new);
    lines.sort_by_key(|l| l["step"].as_u64().unwrap_or(0));
    let mut text = String::new();
    for l in &lines {
        text.push_str(&serde_json::to_string(l)?);
        text.push('\n');
    }
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// Reads a history file.
pub fn read_history(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}: line {}: not JSON", path.display(), i + 1))
        })
        .collect()
}
