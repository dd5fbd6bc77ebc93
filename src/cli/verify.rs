//! `prof-grpo verify`: check one response against a gold answer, or label a JSONL file of
//! `{"gold": ..., "pred": ...}` lines with `"correct": true|false`.

use crate::reward::verifier::Verifier;
use anyhow::{Context, bail};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

/// Arguments of `prof-grpo verify`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct VerifyArgs {
    /// Gold answer, bare (as in a dataset's `answer` field).
    #[arg(long, requires = "pred", conflicts_with = "jsonl")]
    pub gold: Option<String>,
    /// Model response to check (its last \boxed{} or answer phrase is the answer).
    #[arg(long, requires = "gold")]
    pub pred: Option<String>,
    /// Also print the extracted answer, the rule that decided and why.
    #[arg(long)]
    pub why: bool,
    /// Lenient mode: answers written with decimals match within this relative tolerance.
    #[arg(long, value_name = "X")]
    pub numeric_tolerance: Option<f64>,
    /// JSONL file whose lines are objects with "gold" and "pred".
    #[arg(long, value_name = "FILE", conflicts_with_all = ["gold", "pred"])]
    pub jsonl: Option<PathBuf>,
    /// Output file for the labelled JSONL (default: standard output).
    #[arg(long, value_name = "FILE", requires = "jsonl")]
    pub out: Option<PathBuf>,
}

/// Runs the command on the process's standard output and error.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_with(args, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs the command, writing results to `out` and per-line problems to `err`.
pub fn run_with(args: VerifyArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let mut verifier = Verifier::default();
    if let Some(t) = args.numeric_tolerance {
        if !(t.is_finite() && t >= 0.0) {
            bail!("--numeric-tolerance must be a finite non-negative number, got {t}");
        }
        verifier = verifier.with_numeric_tolerance(t);
    }
    match (&args.gold, &args.pred, &args.jsonl) {
        (Some(gold), Some(pred), None) => {
            let v = verifier.verify(gold, pred);
            writeln!(out, "{}", v.correct)?;
            if args.why {
                writeln!(
                    out,
                    "extracted: {}",
                    v.extracted.as_deref().unwrap_or("(none)")
                )?;
                writeln!(out, "rule: {}", v.rule)?;
                writeln!(out, "reason: {}", v.reason)?;
            }
            Ok(())
        }
        (None, None, Some(path)) => {
            let input = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            match &args.out {
                Some(o) => {
                    let file =
                        File::create(o).with_context(|| format!("creating {}", o.display()))?;
                    let mut w = BufWriter::new(file);
                    label_jsonl(
                        &verifier,
                        path,
                        BufReader::new(input),
                        &mut w,
                        err,
                        args.why,
                    )?;
                    w.flush()
                        .with_context(|| format!("writing {}", o.display()))?;
                    Ok(())
                }
                None => label_jsonl(&verifier, path, BufReader::new(input), out, err, args.why),
            }
        }
        _ => bail!("give --gold G --pred RESPONSE, or --jsonl FILE"),
    }
}

/// Labels each `{"gold", "pred"}` line with `"correct"` (and, with `why`, `"extracted"`,
/// `"rule"`, `"reason"`), keeping the other fields in order. Malformed lines are reported on
/// `err` with their line number and skipped.
pub fn label_jsonl(
    verifier: &Verifier,
    path: &std::path::Path,
    input: impl BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    why: bool,
) -> anyhow::Result<()> {
    let (mut labelled, mut correct, mut skipped) = (0usize, 0usize, 0usize);
    for (k, line) in input.lines().enumerate() {
        let lineno = k + 1;
        let line = line.with_context(|| format!("reading {} line {lineno}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut obj = match parse_line(&line) {
            Ok(o) => o,
            Err(msg) => {
                writeln!(err, "{}:{lineno}: {msg}; line skipped", path.display())?;
                skipped += 1;
                continue;
            }
        };
        let gold = match &obj["gold"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let pred = obj["pred"].as_str().unwrap_or_default().to_string();
        let v = verifier.verify(&gold, &pred);
        obj.insert("correct".into(), Value::Bool(v.correct));
        if why {
            obj.insert(
                "extracted".into(),
                v.extracted.map_or(Value::Null, Value::String),
            );
            obj.insert("rule".into(), Value::String(v.rule.as_str().into()));
            obj.insert("reason".into(), Value::String(v.reason));
        }
        writeln!(out, "{}", Value::Object(obj))?;
        labelled += 1;
        correct += usize::from(v.correct);
    }
    writeln!(
        err,
        "{}: {labelled} lines labelled ({correct} correct), {skipped} skipped",
        path.display()
    )?;
    Ok(())
}

fn parse_line(line: &str) -> Result<serde_json::Map<String, Value>, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON ({e})"))?;
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    match obj.get("gold") {
        Some(Value::String(_)) | Some(Value::Number(_)) => {}
        Some(_) => return Err("field \"gold\" must be a string or a number".into()),
        None => return Err("missing field \"gold\"".into()),
    }
    match obj.get("pred") {
        Some(Value::String(_)) => {}
        Some(_) => return Err("field \"pred\" must be a string".into()),
        None => return Err("missing field \"pred\"".into()),
    }
    Ok(obj)
}
