//! Writing Parquet files in the verl RL schema (read back through the `verl` dataset spec):
//!
//! | column | type |
//! | --- | --- |
//! | `data_source` | string |
//! | `prompt` | list of struct {`role`, `content`} |
//! | `ability` | string (`math`) |
//! | `reward_model` | struct {`style` (`rule`), `ground_truth`} |
//! | `extra_info` | struct {`split`, `index` (int64), `question`} |

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use polars::prelude::*;

use crate::tokenizer::ChatMessage;

/// One row of a verl Parquet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerlRecord {
    /// Dataset name the reward function keys on.
    pub data_source: String,
    /// The prompt messages.
    pub prompt: Vec<ChatMessage>,
    /// Task family (`math`).
    pub ability: String,
    /// Gold answer (`reward_model.ground_truth`, style `rule`).
    pub ground_truth: String,
    /// Split name (`train`, `validation`).
    pub split: String,
    /// Row index in the source split.
    pub index: i64,
    /// The bare problem statement.
    pub question: String,
}

fn str_series(name: &str, values: Vec<&str>) -> Series {
    Series::new(name.into(), values)
}

fn message_struct_dtype() -> DataType {
    DataType::Struct(vec![
        Field::new("role".into(), DataType::String),
        Field::new("content".into(), DataType::String),
    ])
}

fn struct_series(name: &str, len: usize, fields: &[Series]) -> Result<Series> {
    Ok(StructChunked::from_series(name.into(), len, fields.iter())
        .map_err(|e| anyhow!("{e}"))?
        .into_series())
}

/// Builds the verl data frame of `records`.
pub fn verl_frame(records: &[VerlRecord]) -> Result<DataFrame> {
    let n = records.len();
    let data_source = str_series(
        "data_source",
        records.iter().map(|r| r.data_source.as_str()).collect(),
    );
    let prompt = if records.is_empty() {
        Series::new_empty(
            "prompt".into(),
            &DataType::List(Box::new(message_struct_dtype())),
        )
    } else {
        let per_row: Vec<Series> = records
            .iter()
            .map(|r| {
                let roles = str_series("role", r.prompt.iter().map(|m| m.role.as_str()).collect());
                let contents = str_series(
                    "content",
                    r.prompt.iter().map(|m| m.content.as_str()).collect(),
                );
                struct_series("", r.prompt.len(), &[roles, contents])
            })
            .collect::<Result<_>>()?;
        Series::new("prompt".into(), per_row)
    };
    let ability = str_series(
        "ability",
        records.iter().map(|r| r.ability.as_str()).collect(),
    );
    let reward_model = struct_series(
        "reward_model",
        n,
        &[
            str_series("style", vec!["rule"; n]),
            str_series(
                "ground_truth",
                records.iter().map(|r| r.ground_truth.as_str()).collect(),
            ),
        ],
    )?;
    let extra_info = struct_series(
        "extra_info",
        n,
        &[
            str_series("split", records.iter().map(|r| r.split.as_str()).collect()),
            Series::new(
                "index".into(),
                records.iter().map(|r| r.index).collect::<Vec<i64>>(),
            ),
            str_series(
                "question",
                records.iter().map(|r| r.question.as_str()).collect(),
            ),
        ],
    )?;
    DataFrame::new(
        n,
        vec![
            data_source.into(),
            prompt.into(),
            ability.into(),
            reward_model.into(),
            extra_info.into(),
        ],
    )
    .map_err(|e| anyhow!("{e}"))
}

/// Writes `records` to `path` as verl Parquet (parent directories created).
pub fn write_verl_parquet(path: &Path, records: &[VerlRecord]) -> Result<()> {
    let mut df = verl_frame(records)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    ParquetWriter::new(file)
        .finish(&mut df)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::loader::{LoadOptions, load_file};
    use crate::data::spec::DatasetSpec;

    #[test]
    fn written_files_load_back_through_the_verl_spec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/train.parquet");
        let records: Vec<VerlRecord> = (0..3)
            .map(|i| VerlRecord {
                data_source: "numina_math".into(),
                prompt: vec![
                    ChatMessage::system("S"),
                    ChatMessage::user(format!("Problem {i}")),
                ],
                ability: "math".into(),
                ground_truth: format!("{}", i * 10),
                split: "train".into(),
                index: 100 + i,
                question: format!("Problem {i}"),
            })
            .collect();
        write_verl_parquet(&path, &records).unwrap();
        let spec = DatasetSpec::builtin("verl").unwrap();
        let loaded = load_file(&path, &spec, &LoadOptions::default()).unwrap();
        assert_eq!(loaded.problems.len(), 3);
        let p = &loaded.problems[2];
        assert_eq!(
            (p.id.as_str(), p.gold.as_str(), p.problem.as_str()),
            ("102", "20", "Problem 2")
        );
        assert_eq!(p.source, "numina_math");
        assert_eq!(p.messages.as_deref(), Some(&records[2].prompt[..]));

        let empty = dir.path().join("empty.parquet");
        write_verl_parquet(&empty, &[]).unwrap();
        assert!(
            load_file(&empty, &spec, &LoadOptions::default())
                .unwrap()
                .problems
                .is_empty()
        );
    }
}
