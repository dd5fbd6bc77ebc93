//! Raw rows of JSONL, JSON and Parquet files as JSON values, each with its location.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use polars::prelude::*;
use serde_json::Value;

use super::spec::FileFormat;

/// Where a row is: a 1-based line of a JSONL file or a 0-based row/item of a Parquet/JSON file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowLocation {
    /// 1-based line number.
    Line(usize),
    /// 0-based row (Parquet) or array item (JSON) index.
    Row(usize),
}

impl fmt::Display for RowLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// One raw row: its location and either its JSON value or why it could not be read.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// Where it is in the file.
    pub location: RowLocation,
    /// The row as a JSON value, or the parse error.
    pub value: Result<Value, String>,
}

/// Reads every row of `path` (format from `format` or the extension). Blank JSONL lines are
/// not rows. Whole-file failures (unreadable file, broken Parquet) are errors; a single bad
/// JSONL line is a row with an error.
pub fn read_rows(path: &Path, format: Option<FileFormat>) -> Result<Vec<RawRow>> {
    let format = format
        .or_else(|| FileFormat::from_path(path))
        .with_context(|| {
            format!(
                "{}: unknown file format (use .jsonl, .json or .parquet)",
                path.display()
            )
        })?;
    match format {
        FileFormat::Jsonl => read_jsonl(path),
        FileFormat::Json => read_json_array(path),
        FileFormat::Parquet => read_parquet(path),
    }
}

fn read_jsonl(path: &Path) -> Result<Vec<RawRow>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: reading line {}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str::<Value>(&line).map_err(|e| format!("invalid JSON: {e}"));
        rows.push(RawRow {
            location: RowLocation::Line(i + 1),
            value,
        });
    }
    Ok(rows)
}

fn read_json_array(path: &Path) -> Result<Vec<RawRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?;
    let Value::Array(items) = value else {
        bail!("{}: expected a JSON array of rows", path.display());
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, v)| RawRow {
            location: RowLocation::Row(i),
            value: Ok(v),
        })
        .collect())
}

fn read_parquet(path: &Path) -> Result<Vec<RawRow>> {
    let df = read_parquet_frame(path)?;
    let columns: Vec<(String, Series)> = df
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.as_materialized_series().rechunk()))
        .collect();
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut obj = serde_json::Map::with_capacity(columns.len());
        let mut error = None;
        for (name, series) in &columns {
            match series.get(i) {
                Ok(av) => {
                    obj.insert(name.clone(), any_value_to_json(&av));
                }
                Err(e) => error = Some(format!("column {name}: {e}")),
            }
        }
        let value = match error {
            Some(e) => Err(e),
            None => Ok(Value::Object(obj)),
        };
        rows.push(RawRow {
            location: RowLocation::Row(i),
            value,
        });
    }
    Ok(rows)
}

/// Reads a Parquet file into a polars frame.
pub fn read_parquet_frame(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("{}: reading Parquet", path.display()))
}

/// Converts a polars value to JSON (lists and structs recursively).
pub fn any_value_to_json(av: &AnyValue<'_>) -> Value {
    match av {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::UInt8(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        AnyValue::Float32(x) => {
            serde_json::Number::from_f64(f64::from(*x)).map_or(Value::Null, Value::Number)
        }
        AnyValue::Float64(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        AnyValue::List(series) => {
            let series = series.rechunk();
            Value::Array(
                (0..series.len())
                    .map(|i| series.get(i).map_or(Value::Null, |v| any_value_to_json(&v)))
                    .collect(),
            )
        }
        AnyValue::Struct(_, _, fields) => {
            let obj = fields
                .iter()
                .zip(av._iter_struct_av())
                .map(|(f, v)| (f.name().to_string(), any_value_to_json(&v)))
                .collect();
            Value::Object(obj)
        }
        AnyValue::StructOwned(payload) => {
            let (values, fields) = &**payload;
            let obj = fields
                .iter()
                .zip(values)
                .map(|(f, v)| (f.name().to_string(), any_value_to_json(v)))
                .collect();
            Value::Object(obj)
        }
        other => Value::String(other.to_string()),
    }
}

/// All data files (`.jsonl`, `.json`, `.parquet`) under `dir`, as sorted paths relative to it.
pub fn data_files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if FileFormat::from_path(&path).is_some() {
                out.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}
