//! Dataset specs (`datasets/*.toml`): where a dataset comes from, its licence, its file and how
//! its fields map onto a [`Problem`].

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::boxed::{after_hashes, last_boxed, strip_dollars};
use super::field_path::FieldPath;
use super::problem::Problem;
use super::prompt::DEFAULT_USER_SUFFIX;
use super::toy::ToyConfig;
use crate::tokenizer::ChatMessage;

/// File formats the loader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array of objects.
    Json,
    /// Apache Parquet (read with polars).
    Parquet,
}

impl FileFormat {
    /// Format from a file extension (`.jsonl`, `.json`, `.parquet`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" => Some(Self::Jsonl),
            "json" => Some(Self::Json),
            "parquet" => Some(Self::Parquet),
            _ => None,
        }
    }
}

/// How the gold answer is taken out of its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoldExtract {
    /// The field's value (a JSON number becomes its decimal text: `27.0` → `27`).
    #[default]
    AsIs,
    /// The content of the last `\boxed{...}` of the field (a worked solution).
    LastBoxed,
    /// The text after the last `####` with thousands commas removed (GSM8K).
    AfterHashes,
    /// The value with `$` signs removed (OlympiadBench).
    StripDollars,
}

/// The gold-answer field and its extraction rule; in toml either `gold = "answer"` or
/// `gold = { field = "solution", extract = "last_boxed" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "GoldFieldToml")]
pub struct GoldField {
    /// Where the value is.
    pub field: FieldPath,
    /// How to turn it into the answer.
    pub extract: GoldExtract,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GoldFieldToml {
    Path(FieldPath),
    Full {
        field: FieldPath,
        #[serde(default)]
        extract: GoldExtract,
    },
}

impl From<GoldFieldToml> for GoldField {
    fn from(t: GoldFieldToml) -> Self {
        match t {
            GoldFieldToml::Path(field) => Self {
                field,
                extract: GoldExtract::AsIs,
            },
            GoldFieldToml::Full { field, extract } => Self { field, extract },
        }
    }
}

/// Which row fields make up a [`Problem`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// Id field (string or integer); the row number when absent.
    #[serde(default)]
    pub id: Option<FieldPath>,
    /// Problem statement; when absent, the last `user` message of `messages` (with the
    /// standard step-by-step suffix removed).
    #[serde(default)]
    pub problem: Option<FieldPath>,
    /// A list of `{role, content}` messages forming a ready prompt (verl's `prompt`).
    #[serde(default)]
    pub messages: Option<FieldPath>,
    /// Gold answer.
    pub gold: Option<GoldField>,
    /// Worked solution, if any.
    #[serde(default)]
    pub solution: Option<FieldPath>,
    /// Per-row source name (verl's `data_source`); the spec name when absent.
    #[serde(default)]
    pub source: Option<FieldPath>,
}

/// A problem generator in place of a file (the built-in toy set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    /// Number of problems.
    pub count: usize,
    /// RNG seed.
    pub seed: u64,
    /// Shape of the expressions.
    #[serde(default)]
    pub toy: ToyConfig,
}

/// Where a dataset lives on the Hugging Face hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpec {
    /// Dataset repository id.
    pub repo: String,
    /// Folder of the wanted configuration inside the repository (`data`, `main`); the root
    /// when absent.
    #[serde(default)]
    pub config_dir: Option<String>,
}

/// One dataset description (`datasets/<name>.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Name used to look the dataset up.
    pub name: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Provenance (paper, upstream repository).
    pub source: String,
    /// Licence of the data.
    pub license: String,
    /// File name inside the data directory.
    #[serde(default)]
    pub file: Option<String>,
    /// File format; from the file extension when absent.
    #[serde(default)]
    pub format: Option<FileFormat>,
    /// Number of rows the file should have.
    #[serde(default)]
    pub expected_rows: Option<usize>,
    /// The Hugging Face dataset repository, for `prepare`.
    #[serde(default)]
    pub hub: Option<HubSpec>,
    /// Field mapping.
    #[serde(default)]
    pub fields: FieldMapping,
    /// Generator used instead of a file.
    #[serde(default)]
    pub generator: Option<GeneratorSpec>,
}

/// Specs compiled into the binary, from `datasets/`.
const BUILTIN_SPECS: &[(&str, &str)] = &[
    ("math500", include_str!("../../datasets/math500.toml")),
    (
        "minerva_math",
        include_str!("../../datasets/minerva_math.toml"),
    ),
    (
        "olympiadbench",
        include_str!("../../datasets/olympiadbench.toml"),
    ),
    ("aime24", include_str!("../../datasets/aime24.toml")),
    ("amc23", include_str!("../../datasets/amc23.toml")),
    ("gsm8k", include_str!("../../datasets/gsm8k.toml")),
    ("math", include_str!("../../datasets/math.toml")),
    (
        "numina_math",
        include_str!("../../datasets/numina_math.toml"),
    ),
    ("verl", include_str!("../../datasets/verl.toml")),
    (
        "toy_arithmetic",
        include_str!("../../datasets/toy_arithmetic.toml"),
    ),
];

/// A problem with a field: the error of one bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field path as written in the spec (`None` for whole-row problems).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(field: &FieldPath, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

impl DatasetSpec {
    /// Parses a spec from toml text (checks the mapping is usable).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let spec: Self = toml::from_str(text).context("invalid dataset spec")?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads a spec file.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml_str(&text).with_context(|| format!("in {}", path.display()))
    }

    /// The built-in spec called `name`.
    pub fn builtin(name: &str) -> Option<Self> {
        BUILTIN_SPECS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| {
                Self::from_toml_str(text)
                    .unwrap_or_else(|e| panic!("built-in dataset spec {n} is invalid: {e:#}"))
            })
    }

    /// Names of all built-in specs.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN_SPECS.iter().map(|(n, _)| *n).collect()
    }

    fn validate(&self) -> Result<()> {
        if self.generator.is_some() {
            return Ok(());
        }
        if self.fields.problem.is_none() && self.fields.messages.is_none() {
            bail!(
                "dataset {}: [fields] needs `problem` or `messages`",
                self.name
            );
        }
        if self.fields.gold.is_none() {
            bail!("dataset {}: [fields] needs `gold`", self.name);
        }
        Ok(())
    }

    /// Builds a [`Problem`] from one row (a JSON object); `row_index` numbers rows from 0.
    pub fn problem_from_row(&self, row: &Value, row_index: usize) -> Result<Problem, FieldError> {
        if !row.is_object() {
            return Err(FieldError {
                field: None,
                message: format!("expected a JSON object, found {}", kind_name(row)),
            });
        }
        let f = &self.fields;
        let messages = match &f.messages {
            Some(path) => Some(messages_field(path, row)?),
            None => None,
        };
        let problem = match (&f.problem, &messages) {
            (Some(path), _) => required_string(path, row)?,
            (None, Some(msgs)) => {
                let path = f.messages.as_ref().expect("messages path");
                let user = msgs
                    .iter()
                    .rev()
                    .find(|m| m.role == "user")
                    .ok_or_else(|| FieldError::new(path, "no user message"))?;
                let text = user
                    .content
                    .strip_suffix(DEFAULT_USER_SUFFIX)
                    .unwrap_or(&user.content);
                non_empty(path, text.trim_end().to_string())?
            }
            (None, None) => unreachable!("validated: problem or messages"),
        };
        let gold_field = f.gold.as_ref().expect("validated: gold");
        let gold = extract_gold(gold_field, row)?;
        let solution = match &f.solution {
            Some(path) => optional_string(path, row)?,
            None => None,
        };
        let id = match &f.id {
            Some(path) => match path.lookup(row) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(other) => {
                    return Err(FieldError::new(
                        path,
                        format!(
                            "expected a string or integer id, found {}",
                            kind_name(other)
                        ),
                    ));
                }
                None => return Err(FieldError::new(path, "missing")),
            },
            None => row_index.to_string(),
        };
        let source = match &f.source {
            Some(path) => required_string(path, row)?,
            None => self.name.clone(),
        };
        Ok(Problem {
            id,
            source,
            problem,
            gold,
            solution,
            messages,
        })
    }
}

fn extract_gold(gold: &GoldField, row: &Value) -> Result<String, FieldError> {
    let path = &gold.field;
    let value = path
        .lookup(row)
        .ok_or_else(|| FieldError::new(path, "missing"))?;
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n)
            if gold.extract == GoldExtract::AsIs || gold.extract == GoldExtract::StripDollars =>
        {
            number_text(n)
        }
        other => {
            return Err(FieldError::new(
                path,
                format!("expected a string or number, found {}", kind_name(other)),
            ));
        }
    };
    let answer = match gold.extract {
        GoldExtract::AsIs => text.trim().to_string(),
        GoldExtract::StripDollars => strip_dollars(&text),
        GoldExtract::LastBoxed => last_boxed(&text)
            .map(|s| s.trim().to_string())
            .ok_or_else(|| FieldError::new(path, "no balanced \\boxed{...} in the text"))?,
        GoldExtract::AfterHashes => {
            after_hashes(&text).ok_or_else(|| FieldError::new(path, "no answer after `####`"))?
        }
    };
    non_empty(path, answer)
}

/// Decimal text of a JSON number; integral floats lose their `.0` (`27.0` → `27`).
pub fn number_text(n: &serde_json::Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64())
        && f.is_finite()
        && f.fract() == 0.0
        && f.abs() < 1e15
    {
        return format!("{}", f as i64);
    }
    n.to_string()
}

fn required_string(path: &FieldPath, row: &Value) -> Result<String, FieldError> {
    match path.lookup(row) {
        Some(Value::String(s)) => non_empty(path, s.clone()),
        Some(other) => Err(FieldError::new(
            path,
            format!("expected a string, found {}", kind_name(other)),
        )),
        None => Err(FieldError::new(path, "missing")),
    }
}

fn optional_string(path: &FieldPath, row: &Value) -> Result<Option<String>, FieldError> {
    match path.lookup(row) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // OlympiadBench stores solutions as a list of strings.
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n\n"),
        )),
        Some(other) => Err(FieldError::new(
            path,
            format!("expected a string, found {}", kind_name(other)),
        )),
        None => Ok(None),
    }
}

fn messages_field(path: &FieldPath, row: &Value) -> Result<Vec<ChatMessage>, FieldError> {
    let Some(value) = path.lookup(row) else {
        return Err(FieldError::new(path, "missing"));
    };
    let Value::Array(items) = value else {
        return Err(FieldError::new(
            path,
            format!(
                "expected a list of {{role, content}}, found {}",
                kind_name(value)
            ),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, m)| match (m.get("role"), m.get("content")) {
            (Some(Value::String(role)), Some(Value::String(content))) => {
                Ok(ChatMessage::new(role.clone(), content.clone()))
            }
            _ => Err(FieldError::new(
                path,
                format!("item {i} is not a {{role: string, content: string}} object"),
            )),
        })
        .collect()
}

fn non_empty(path: &FieldPath, s: String) -> Result<String, FieldError> {
    if s.trim().is_empty() {
        Err(FieldError::new(path, "empty"))
    } else {
        Ok(s)
    }
}

/// JSON type name for error messages.
pub fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn all_builtin_specs_parse() {
        for name in DatasetSpec::builtin_names() {
            let spec = DatasetSpec::builtin(name).unwrap();
            assert_eq!(spec.name, name);
            assert!(!spec.license.is_empty(), "{name}");
        }
    }

    #[test]
    fn olympiad_mapping_strips_dollars_from_first_final_answer() {
        let spec = DatasetSpec::builtin("olympiadbench").unwrap();
        let row = json!({"id": 7, "question": "Q?", "final_answer": ["$\\frac{1}{2}$", "x"],
                         "solution": ["a", "b"]});
        let p = spec.problem_from_row(&row, 3).unwrap();
        assert_eq!(p.gold, "\\frac{1}{2}");
        assert_eq!(p.id, "7");
        assert_eq!(p.solution.as_deref(), Some("a\n\nb"));
    }

    #[test]
    fn numbers_as_gold_and_missing_fields_named() {
        let spec = DatasetSpec::builtin("amc23").unwrap();
        let p = spec
            .problem_from_row(&json!({"id": 1, "problem": "P", "answer": 27.0}), 0)
            .unwrap();
        assert_eq!(p.gold, "27");
        let p = spec
            .problem_from_row(&json!({"id": 1, "problem": "P", "answer": 2.5}), 0)
            .unwrap();
        assert_eq!(p.gold, "2.5");
        let err = spec
            .problem_from_row(&json!({"id": 1, "problem": "P"}), 0)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("answer"));
        let err = spec
            .problem_from_row(&json!({"id": 1, "problem": 3, "answer": 1}), 0)
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("problem"));
        assert!(
            err.message.contains("expected a string, found a number"),
            "{}",
            err.message
        );
        let err = spec
            .problem_from_row(&json!({"id": 1, "problem": "  ", "answer": 1}), 0)
            .unwrap_err();
        assert_eq!(err.message, "empty");
    }

    #[test]
    fn verl_rows_use_prompt_messages() {
        let spec = DatasetSpec::builtin("verl").unwrap();
        let row = json!({
            "data_source": "numina_math",
            "prompt": [{"role": "system", "content": "S"},
                       {"role": "user", "content": format!("Find x.{DEFAULT_USER_SUFFIX}")}],
            "reward_model": {"style": "rule", "ground_truth": "4"},
            "extra_info": {"split": "train", "index": 12}
        });
        let p = spec.problem_from_row(&row, 0).unwrap();
        assert_eq!(p.problem, "Find x.");
        assert_eq!(p.gold, "4");
        assert_eq!(p.id, "12");
        assert_eq!(p.source, "numina_math");
        assert_eq!(p.messages.as_ref().unwrap().len(), 2);
        let bad = json!({"prompt": [{"role": "user"}], "reward_model": {"ground_truth": "4"},
                         "data_source": "d", "extra_info": {"index": 1}});
        let err = spec.problem_from_row(&bad, 0).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("prompt"));
    }

    #[test]
    fn gold_from_boxes_and_hashes() {
        let spec = DatasetSpec::builtin("minerva_math").unwrap();
        let row = json!({"idx": 0, "problem": "P", "solution": "so \\boxed{1.5 \\text{ m}}."});
        assert_eq!(
            spec.problem_from_row(&row, 0).unwrap().gold,
            "1.5 \\text{ m}"
        );
        let row = json!({"idx": 0, "problem": "P", "solution": "no box"});
        let err = spec.problem_from_row(&row, 0).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("solution"));
        let spec = DatasetSpec::builtin("gsm8k").unwrap();
        let row = json!({"idx": 0, "question": "Q", "answer": "work\n#### 1,000"});
        assert_eq!(spec.problem_from_row(&row, 0).unwrap().gold, "1000");
    }

    #[test]
    fn spec_errors_are_reported() {
        let err = DatasetSpec::from_toml_str(
            "name='x'\nsource='s'\nlicense='l'\n[fields]\nproblem='p'\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("gold"), "{err:#}");
        let err = DatasetSpec::from_toml_str(
            "name='x'\nsource='s'\nlicense='l'\n[fields]\nproblem='p'\ngold={field='a', extract='nope'}\n",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("invalid dataset spec"),
            "{err:#}"
        );
    }
}
