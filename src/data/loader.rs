//! Loading datasets into [`Problem`]s, with bad rows either failing the load (naming file, row
//! and field) or skipped, counted and reported.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::problem::Problem;
use super::rows::{RowLocation, read_rows};
use super::spec::{DatasetSpec, FileFormat};
use super::toy::toy_problems;

/// Options of a load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Skip (and report) bad rows instead of failing on the first one.
    pub skip_bad_rows: bool,
    /// Keep at most this many problems (the first ones in file order).
    pub limit: Option<usize>,
}

/// One row that could not be turned into a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The file it is in.
    pub file: PathBuf,
    /// Where in the file.
    pub location: RowLocation,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.location)?;
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a load read, kept and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The file read (empty for generated sets).
    pub file: PathBuf,
    /// Rows seen (before any limit stopped the load).
    pub rows: usize,
    /// Problems kept.
    pub loaded: usize,
    /// Rows skipped because they were bad (only with `skip_bad_rows`).
    pub bad_rows: Vec<BadRow>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} rows, {} problems, {} bad rows skipped",
            self.file.display(),
            self.rows,
            self.loaded,
            self.bad_rows.len()
        )
    }
}

/// Problems of one dataset with the load report.
#[derive(Debug, Clone)]
pub struct LoadedDataset {
    /// The spec used.
    pub spec: DatasetSpec,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
    /// Counts and skipped rows.
    pub report: LoadReport,
}

/// The default data directory: `$PROF_SHARED_DIR/datasets` when that variable is set, otherwise
/// `../shared/datasets` (relative to the working directory).
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("PROF_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir).join("datasets"),
        None => PathBuf::from("../shared/datasets"),
    }
}

/// Loads a dataset given by built-in name (`math500`, `toy_arithmetic`, … looked up in
/// `data_dir`), by a spec file (`*.toml`, its `file` relative to the toml), or by a data file
/// path (a `.parquet` in the verl schema, or a file named like a built-in spec, e.g.
/// `math500.jsonl`).
pub fn load_dataset(
    name_or_path: &str,
    data_dir: &Path,
    options: &LoadOptions,
) -> Result<LoadedDataset> {
    if let Some(spec) = DatasetSpec::builtin(name_or_path) {
        if spec.generator.is_some() {
            return Ok(generate(spec, options));
        }
        let file = spec
            .file
            .as_deref()
            .with_context(|| format!("dataset {name_or_path} has no file"))?;
        return load_file(&data_dir.join(file), &spec, options);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        bail!(
            "no dataset {name_or_path:?}: not a built-in name ({}) nor an existing path",
            DatasetSpec::builtin_names().join(", ")
        );
    }
    if path.extension().is_some_and(|e| e == "toml") {
        let spec = DatasetSpec::from_toml_file(path)?;
        if spec.generator.is_some() {
            return Ok(generate(spec, options));
        }
        let file = spec
            .file
            .as_deref()
            .with_context(|| format!("{}: no `file`", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        return load_file(&base.join(file), &spec, options);
    }
    let spec = spec_for_file(path)?;
    load_file(path, &spec, options)
}

/// The spec for a bare data file: the built-in spec named like its stem, else the verl schema
/// for Parquet files.
pub fn spec_for_file(path: &Path) -> Result<DatasetSpec> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if let Some(spec) = DatasetSpec::builtin(stem).filter(|s| s.generator.is_none()) {
        return Ok(spec);
    }
    if FileFormat::from_path(path) == Some(FileFormat::Parquet) {
        return Ok(DatasetSpec::builtin("verl").expect("built-in verl spec"));
    }
    bail!(
        "{}: no dataset spec for this file; name it like a built-in dataset ({}), use the verl \
         Parquet schema, or write a .toml spec",
        path.display(),
        DatasetSpec::builtin_names().join(", ")
    )
}

/// Loads one file with a spec.
pub fn load_file(path: &Path, spec: &DatasetSpec, options: &LoadOptions) -> Result<LoadedDataset> {
    let rows = read_rows(path, spec.format).with_context(|| format!("dataset {}", spec.name))?;
    let mut report = LoadReport {
        file: path.to_path_buf(),
        ..Default::default()
    };
    let mut problems = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        if options.limit.is_some_and(|l| problems.len() >= l) {
            break;
        }
        report.rows += 1;
        let result = match &row.value {
            Ok(value) => spec
                .problem_from_row(value, index)
                .map_err(|e| (e.field, e.message)),
            Err(message) => Err((None, message.clone())),
        };
        match result {
            Ok(p) => problems.push(p),
            Err((field, message)) => {
                let bad = BadRow {
                    file: path.to_path_buf(),
                    location: row.location,
                    field,
                    message,
                };
                if !options.skip_bad_rows {
                    bail!("{bad} (pass skip_bad_rows / --skip-bad-rows to skip such rows)");
                }
                report.bad_rows.push(bad);
            }
        }
    }
    report.loaded = problems.len();
    Ok(LoadedDataset {
        spec: spec.clone(),
        problems,
        report,
    })
}

fn generate(spec: DatasetSpec, options: &LoadOptions) -> LoadedDataset {
    let generator = spec.generator.clone().expect("generator spec");
    let count = options
        .limit
        .map_or(generator.count, |l| l.min(generator.count));
    let problems = toy_problems(count, generator.seed, &generator.toy);
    let report = LoadReport {
        file: PathBuf::new(),
        rows: count,
        loaded: count,
        bad_rows: Vec::new(),
    };
    LoadedDataset {
        spec,
        problems,
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    }

    #[test]
    fn bad_rows_fail_naming_file_line_and_field_or_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "math500.jsonl",
            "{\"unique_id\": \"a\", \"problem\": \"P1\", \"answer\": \"1\"}\n\
             \n\
             {\"unique_id\": \"b\", \"problem\": \"P2\"}\n\
             {not json\n\
             {\"unique_id\": \"c\", \"problem\": \"P3\", \"answer\": [1]}\n\
             {\"unique_id\": \"d\", \"problem\": \"P4\", \"answer\": \"4\"}\n",
        );
        let spec = DatasetSpec::builtin("math500").unwrap();
        let err = load_file(&path, &spec, &LoadOptions::default()).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("math500.jsonl: line 3: field `answer`: missing"),
            "{msg}"
        );

        let opts = LoadOptions {
            skip_bad_rows: true,
            limit: None,
        };
        let loaded = load_file(&path, &spec, &opts).unwrap();
        let ids: Vec<&str> = loaded.problems.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "d"]);
        assert_eq!(loaded.report.rows, 5);
        assert_eq!(loaded.report.loaded, 2);
        let bad: Vec<String> = loaded
            .report
            .bad_rows
            .iter()
            .map(|b| b.location.to_string())
            .collect();
        assert_eq!(bad, ["line 3", "line 4", "line 5"]);
        assert!(
            loaded.report.bad_rows[1]
                .message
                .starts_with("invalid JSON")
        );
        assert_eq!(loaded.report.bad_rows[2].field.as_deref(), Some("answer"));
    }

    #[test]
    fn names_paths_and_generators_resolve() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "amc23.jsonl",
            "{\"id\": 0, \"problem\": \"P\", \"answer\": 3.0}\n",
        );
        let opts = LoadOptions::default();
        let by_name = load_dataset("amc23", dir.path(), &opts).unwrap();
        assert_eq!(by_name.problems[0].gold, "3");
        let path = dir.path().join("amc23.jsonl");
        let by_path =
            load_dataset(path.to_str().unwrap(), Path::new("/nonexistent"), &opts).unwrap();
        assert_eq!(by_path.problems, by_name.problems);

        let toy = load_dataset("toy_arithmetic", Path::new("/nonexistent"), &opts).unwrap();
        assert_eq!(toy.problems.len(), 512);
        let limited = LoadOptions {
            limit: Some(3),
            ..Default::default()
        };
        assert_eq!(
            load_dataset("toy_arithmetic", dir.path(), &limited)
                .unwrap()
                .problems
                .len(),
            3
        );

        write(
            dir.path(),
            "custom.toml",
            "name='custom'\nsource='s'\nlicense='l'\nfile='c.jsonl'\n[fields]\nproblem='q'\ngold='a'\n",
        );
        write(dir.path(), "c.jsonl", "{\"q\": \"Q\", \"a\": \"A\"}\n");
        let custom = load_dataset(
            dir.path().join("custom.toml").to_str().unwrap(),
            Path::new("."),
            &opts,
        )
        .unwrap();
        assert_eq!(
            (
                custom.problems[0].problem.as_str(),
                custom.problems[0].gold.as_str()
            ),
            ("Q", "A")
        );
        assert_eq!(custom.problems[0].id, "0");

        let err = load_dataset("no_such_set", dir.path(), &opts).unwrap_err();
        assert!(format!("{err}").contains("math500"), "{err}");
        write(dir.path(), "other.jsonl", "{}\n");
        assert!(
            load_dataset(
                dir.path().join("other.jsonl").to_str().unwrap(),
                dir.path(),
                &opts
            )
            .is_err()
        );
    }
}
