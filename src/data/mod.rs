//! Datasets, field mappings and prompt building.
//!
//! Each dataset is described by a spec (`datasets/*.toml`, compiled in): where it comes from,
//! its licence, its file and how row fields map onto a [`Problem`]. [`load_dataset`] reads JSONL,
//! JSON or Parquet (polars) through a spec; bad rows fail the load naming file, line/row and
//! field, or are skipped and reported with [`LoadOptions::skip_bad_rows`]. [`PromptTemplate`]
//! builds the reference prompt; [`prepare`] writes verl-schema Parquet from the hub datasets;
//! [`toy`] generates the built-in arithmetic set for smoke runs.

pub mod boxed;
pub mod field_path;
pub mod loader;
pub mod prepare;
pub mod problem;
pub mod prompt;
pub mod rows;
pub mod spec;
pub mod toy;
pub mod verl;

pub use boxed::{after_hashes, last_boxed, strip_dollars};
pub use loader::{
    BadRow, LoadOptions, LoadReport, LoadedDataset, default_data_dir, load_dataset, load_file,
};
pub use prepare::{LengthMeasure, PrepareOptions, PrepareSource, SplitReport, prepare};
pub use problem::Problem;
pub use prompt::{DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_SUFFIX, PromptTemplate};
pub use spec::{DatasetSpec, FieldMapping, GoldExtract, GoldField};
pub use toy::{
    Corruption, LabeledSolution, ToyConfig, ToyExpression, ToyItem, generate_toy_set, toy_problems,
};
pub use verl::{VerlRecord, write_verl_parquet};
