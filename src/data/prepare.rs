//! Building verl-schema training/validation Parquet files from the Hugging Face datasets the
//! reference trains and validates on (NuminaMath prompts, MATH, MATH-500, GSM8K), like its
//! preprocessing scripts: the reference prompt, a seeded shuffle, over-long prompts dropped.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::loader::{LoadOptions, load_file};
use super::problem::Problem;
use super::prompt::PromptTemplate;
use super::rows::data_files_under;
use super::spec::DatasetSpec;
use super::verl::{VerlRecord, write_verl_parquet};
use crate::tokenizer::{Tokenizer, hub_offline};

/// The datasets `prepare` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareSource {
    /// NuminaMath prompts (`Chenlu123/numia_prompt_ppo`): the RL training set.
    NuminaMath,
    /// Hendrycks MATH (`DigitalLearningGmbH/MATH-lighteval`): train and test.
    Math,
    /// MATH-500 (`HuggingFaceH4/MATH-500`): test only.
    Math500,
    /// GSM8K (`openai/gsm8k`, config `main`): train and test.
    Gsm8k,
}

impl PrepareSource {
    /// All sources.
    pub const ALL: [Self; 4] = [Self::NuminaMath, Self::Math, Self::Math500, Self::Gsm8k];

    /// Command-line name (also the dataset spec name).
    pub fn name(self) -> &'static str {
        match self {
            Self::NuminaMath => "numina_math",
            Self::Math => "math",
            Self::Math500 => "math500",
            Self::Gsm8k => "gsm8k",
        }
    }

    /// The dataset spec (field mapping, hub repository).
    pub fn spec(self) -> DatasetSpec {
        DatasetSpec::builtin(self.name()).expect("built-in spec for every prepare source")
    }

    /// `data_source` written to the files (as the reference scripts write it).
    pub fn data_source(self) -> &'static str {
        match self {
            Self::NuminaMath => "numina_math",
            Self::Math => "DigitalLearningGmbH/MATH-lighteval",
            Self::Math500 => "HuggingFaceH4/MATH-500",
            Self::Gsm8k => "openai/gsm8k",
        }
    }

    /// Shuffle seed of the reference (21 for Numina, 42 for MATH-500); `None` keeps file order.
    pub fn default_seed(self) -> Option<u64> {
        match self {
            Self::NuminaMath => Some(21),
            Self::Math500 => Some(42),
            Self::Math | Self::Gsm8k => None,
        }
    }

    /// `(split in the source repository, output split)` pairs.
    pub fn splits(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::NuminaMath => &[("train", "train")],
            Self::Math | Self::Gsm8k => &[("train", "train"), ("test", "validation")],
            Self::Math500 => &[("test", "validation")],
        }
    }
}

impl fmt::Display for PrepareSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PrepareSource {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .with_context(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|x| x.name()).collect();
                format!("unknown source {s:?} (one of {})", names.join(", "))
            })
    }
}

/// What the prompt-length limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthMeasure {
    /// Tokens of the bare problem statement (what the reference's filter counts).
    #[default]
    Problem,
    /// Tokens of the full rendered prompt (system, suffix, chat template).
    Prompt,
}

/// Options of [`prepare`].
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// Which dataset.
    pub source: PrepareSource,
    /// Output directory (`train.parquet`, `validation.parquet`).
    pub out_dir: PathBuf,
    /// Local file or directory instead of the hub. A directory is laid out like the hub
    /// repository (split files named `train…`/`test…`, optionally under the config folder);
    /// a single file is the source's first split.
    pub input: Option<PathBuf>,
    /// Drop problems whose length (see `length_measure`) exceeds this many tokens.
    pub max_prompt_tokens: Option<usize>,
    /// What the length limit counts.
    pub length_measure: LengthMeasure,
    /// Skip and count bad rows instead of failing.
    pub skip_bad_rows: bool,
    /// Shuffle seed; `None` uses [`PrepareSource::default_seed`].
    pub seed: Option<u64>,
    /// For sources with only a training split: hold out this many shuffled problems as
    /// `validation.parquet` (0: none).
    pub validation_size: usize,
    /// Keep at most this many rows per source split (for quick runs).
    pub limit: Option<usize>,
    /// Prompt construction.
    pub prompt: PromptTemplate,
}

impl PrepareOptions {
    /// Options with the reference defaults for `source`, writing to `out_dir`.
    pub fn new(source: PrepareSource, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            source,
            out_dir: out_dir.into(),
            input: None,
            max_prompt_tokens: Some(700),
            length_measure: LengthMeasure::Problem,
            skip_bad_rows: false,
            seed: None,
            validation_size: 0,
            limit: None,
            prompt: PromptTemplate::default(),
        }
    }
}

/// Counts for one written split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitReport {
    /// Output split name.
    pub split: String,
    /// The written file.
    pub path: PathBuf,
    /// Source files read.
    pub files: Vec<PathBuf>,
    /// Rows read.
    pub rows: usize,
    /// Bad rows skipped.
    pub bad_rows: usize,
    /// Problems dropped for length.
    pub too_long: usize,
    /// Problems written.
    pub written: usize,
}

impl fmt::Display for SplitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} rows from {} file(s), {} bad rows skipped, {} too long dropped, {} written to {}",
            self.split,
            self.rows,
            self.files.len(),
            self.bad_rows,
            self.too_long,
            self.written,
            self.path.display()
        )
    }
}

/// Builds the output files. `tokenizer` is required when `max_prompt_tokens` is set.
pub fn prepare(
    options: &PrepareOptions,
    tokenizer: Option<&Tokenizer>,
) -> Result<Vec<SplitReport>> {
    let source = options.source;
    let spec = source.spec();
    if options.max_prompt_tokens.is_some() && tokenizer.is_none() {
        bail!("a tokenizer is needed to drop prompts longer than the token limit");
    }
    let files = source_files(source, &spec, options.input.as_deref())?;
    let seed = options.seed.or(source.default_seed());
    let load_options = LoadOptions {
        skip_bad_rows: options.skip_bad_rows,
        limit: None,
    };

    let mut reports = Vec::new();
    for (source_split, out_split) in source.splits() {
        let split_files = files
            .iter()
            .find(|(s, _)| s == source_split)
            .map(|(_, f)| f.clone())
            .unwrap_or_default();
        if split_files.is_empty() {
            bail!("{source}: no files for the {source_split:?} split");
        }
        let mut rows = 0;
        let mut bad_rows = 0;
        let mut problems: Vec<Problem> = Vec::new();
        for file in &split_files {
            let loaded = load_file(file, &spec, &load_options)?;
            for bad in &loaded.report.bad_rows {
                eprintln!("skipped {bad}");
            }
            rows += loaded.report.rows;
            bad_rows += loaded.report.bad_rows.len();
            problems.extend(loaded.problems);
        }
        if let Some(limit) = options.limit {
            problems.truncate(limit);
        }
        // Index in the source split, kept through filtering and shuffling.
        let mut indexed: Vec<(usize, Problem)> = problems.into_iter().enumerate().collect();
        let before = indexed.len();
        if let (Some(max), Some(tok)) = (options.max_prompt_tokens, tokenizer) {
            let lengths = token_lengths(&indexed, options, tok)?;
            let mut keep = lengths.into_iter().map(|n| n <= max);
            indexed.retain(|_| keep.next().expect("one length per problem"));
        }
        let too_long = before - indexed.len();
        if let Some(seed) = seed {
            indexed.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        }
        let mut outputs: Vec<(&str, Vec<(usize, Problem)>)> = Vec::new();
        if source.splits().len() == 1 && *out_split == "train" && options.validation_size > 0 {
            let n_val = options.validation_size.min(indexed.len());
            let train = indexed.split_off(n_val);
            outputs.push(("validation", indexed));
            outputs.push(("train", train));
        } else {
            outputs.push((*out_split, indexed));
        }
        for (name, items) in outputs {
            let records: Vec<VerlRecord> = items
                .iter()
                .map(|(index, p)| VerlRecord {
                    data_source: source.data_source().to_string(),
                    prompt: options.prompt.messages(p),
                    ability: "math".into(),
                    ground_truth: p.gold.clone(),
                    split: name.to_string(),
                    index: *index as i64,
                    question: p.problem.clone(),
                })
                .collect();
            let path = options.out_dir.join(format!("{name}.parquet"));
            write_verl_parquet(&path, &records)?;
            let held_out = name != *out_split;
            reports.push(SplitReport {
                split: name.to_string(),
                path,
                files: split_files.clone(),
                // A held-out split is counted in the split it came from.
                rows: if held_out { 0 } else { rows },
                bad_rows: if held_out { 0 } else { bad_rows },
                too_long: if held_out { 0 } else { too_long },
                written: records.len(),
            });
        }
    }
    Ok(reports)
}

fn token_lengths(
    items: &[(usize, Problem)],
    options: &PrepareOptions,
    tok: &Tokenizer,
) -> Result<Vec<usize>> {
    let texts: Vec<String> = match options.length_measure {
        LengthMeasure::Problem => items.iter().map(|(_, p)| p.problem.clone()).collect(),
        LengthMeasure::Prompt => items
            .iter()
            .map(|(_, p)| options.prompt.render(p, tok))
            .collect::<Result<_>>()?,
    };
    let mut lengths = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(1024) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        lengths.extend(tok.encode_batch(&refs)?.into_iter().map(|ids| ids.len()));
    }
    Ok(lengths)
}

/// Source files per source split (`train`, `test`), from `input` or the hub.
pub fn source_files(
    source: PrepareSource,
    spec: &DatasetSpec,
    input: Option<&Path>,
) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let config_dir = spec.hub.as_ref().and_then(|h| h.config_dir.as_deref());
    let splits: Vec<&str> = source.splits().iter().map(|(s, _)| *s).collect();
    match input {
        Some(path) if path.is_file() => Ok(vec![(splits[0].to_string(), vec![path.to_path_buf()])]),
        Some(dir) if dir.is_dir() => {
            let names: Vec<String> = data_files_under(dir)?
                .iter()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .collect();
            Ok(splits
                .iter()
                .map(|split| {
                    let files = select_split_files(&names, config_dir, split)
                        .into_iter()
                        .map(|n| dir.join(n))
                        .collect();
                    (split.to_string(), files)
                })
                .collect())
        }
        Some(other) => bail!("--input {}: no such file or directory", other.display()),
        None => {
            let hub = spec
                .hub
                .as_ref()
                .with_context(|| format!("{source}: no hub repository known"))?;
            hub_split_files(&hub.repo, config_dir, &splits)
        }
    }
}

/// Files of `split` among repository-relative `names`: restricted to `config_dir/` when any
/// file is there; a file belongs to a split when its name starts with the split name followed by
/// a non-alphanumeric character (`train-00000-of-00001.parquet`, `test.jsonl`) or a folder of
/// its path is named like the split.
pub fn select_split_files(names: &[String], config_dir: Option<&str>, split: &str) -> Vec<String> {
    let data: Vec<&String> = names
        .iter()
        .filter(|n| super::spec::FileFormat::from_path(Path::new(n.as_str())).is_some())
        .collect();
    let prefix = config_dir.map(|c| format!("{}/", c.trim_end_matches('/')));
    let in_config: Vec<&String> = match &prefix {
        Some(p) if data.iter().any(|n| n.starts_with(p.as_str())) => data
            .iter()
            .copied()
            .filter(|n| n.starts_with(p.as_str()))
            .collect(),
        _ => data,
    };
    in_config
        .into_iter()
        .filter(|n| {
            let mut parts: Vec<&str> = n.split('/').collect();
            let file = parts.pop().unwrap_or_default();
            let named = file.strip_prefix(split).is_some_and(|rest| {
                rest.chars()
                    .next()
                    .is_some_and(|c| !c.is_ascii_alphanumeric())
            });
            named || parts.contains(&split)
        })
        .cloned()
        .collect()
}

/// Downloads (or, with `HF_HUB_OFFLINE`, finds in the cache) the split files of a hub dataset.
fn hub_split_files(
    repo_id: &str,
    config_dir: Option<&str>,
    splits: &[&str],
) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let repo = hf_hub::Repo::new(repo_id.to_string(), hf_hub::RepoType::Dataset);
    if hub_offline() {
        let cache = hf_hub::Cache::from_env();
        let repo_dir = cache.path().join(repo.folder_name());
        let commit = std::fs::read_to_string(repo_dir.join("refs").join(repo.revision()))
            .with_context(|| {
                format!(
                    "HF_HUB_OFFLINE is set and dataset {repo_id} is not in the cache {}",
                    cache.path().display()
                )
            })?;
        let snapshot = repo_dir.join("snapshots").join(commit.trim());
        let names: Vec<String> = data_files_under(&snapshot)?
            .iter()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect();
        return Ok(splits
            .iter()
            .map(|split| {
                let files = select_split_files(&names, config_dir, split)
                    .into_iter()
                    .map(|n| snapshot.join(n))
                    .collect();
                (split.to_string(), files)
            })
            .collect());
    }
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .build()
        .context("setting up the hub client")?;
    let api_repo = api.repo(repo);
    let info = api_repo
        .info()
        .with_context(|| format!("listing dataset {repo_id} on the hub"))?;
    let names: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    splits
        .iter()
        .map(|split| {
            let files = select_split_files(&names, config_dir, split)
                .iter()
                .map(|n| {
                    api_repo
                        .get(n)
                        .with_context(|| format!("downloading {repo_id}/{n}"))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((split.to_string(), files))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn split_files_follow_hub_layouts() {
        let gsm = names(&[
            "README.md",
            "main/train-00000-of-00001.parquet",
            "main/test-00000-of-00001.parquet",
            "socratic/train-00000-of-00001.parquet",
        ]);
        assert_eq!(
            select_split_files(&gsm, Some("main"), "train"),
            ["main/train-00000-of-00001.parquet"]
        );
        assert_eq!(
            select_split_files(&gsm, Some("main"), "test"),
            ["main/test-00000-of-00001.parquet"]
        );
        let m500 = names(&["README.md", "test.jsonl", ".gitattributes"]);
        assert_eq!(select_split_files(&m500, None, "test"), ["test.jsonl"]);
        assert!(select_split_files(&m500, None, "train").is_empty());
        // No config folder locally: all files count; "testing.jsonl" is not the test split.
        let flat = names(&["train.parquet", "testing.jsonl", "test/part-1.jsonl"]);
        assert_eq!(
            select_split_files(&flat, Some("data"), "train"),
            ["train.parquet"]
        );
        assert_eq!(
            select_split_files(&flat, Some("data"), "test"),
            ["test/part-1.jsonl"]
        );
    }

    #[test]
    fn source_names_round_trip() {
        for s in PrepareSource::ALL {
            assert_eq!(s.name().parse::<PrepareSource>().unwrap(), s);
            assert_eq!(s.spec().name, s.name());
        }
        assert!("nope".parse::<PrepareSource>().is_err());
        assert_eq!(PrepareSource::NuminaMath.default_seed(), Some(21));
        assert_eq!(PrepareSource::Math500.default_seed(), Some(42));
    }
}
