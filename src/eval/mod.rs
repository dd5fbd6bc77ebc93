//! Evaluation: sampling k completions per benchmark problem, judging them, and the metrics of
//! the paper's Table 1 (avg@k, the paper's metric; pass@k, maj@k, mean length, variance); a
//! resumable on-disk run, the reference's accuracy history file, accuracy-vs-step curves over a
//! run's checkpoints; exporting a checkpoint as a Hugging Face model directory; and an HTML page
//! of a training run's samples.
//!
//! The loop works on token ids with a pluggable [`Decode`] and [`Judge`], so it runs with any
//! tokenizer and answer checker (tests use trivial ones).

pub mod checkpoints;
pub mod curves;
pub mod evaluate;
pub mod export;
pub mod history;
pub mod judge;
pub mod majority;
pub mod metrics;
pub mod pass_at_k;
pub mod problem;
pub mod record;
pub mod report;
pub mod run;
pub mod sampler;
pub mod samples_report;
pub mod seed;
pub mod settings;
pub mod table;

pub use evaluate::evaluate;
pub use judge::{BoxedStringJudge, Judge, Judged};
pub use majority::{Ballot, Majority, majority_vote};
pub use metrics::{DatasetMetrics, dataset_metrics};
pub use pass_at_k::pass_at_k;
pub use problem::{Decode, EvalProblem};
pub use record::CompletionRecord;
pub use report::{AverageMetrics, EvalReport};
pub use run::EvalRun;
pub use sampler::{StopTokens, sample_and_judge};
pub use settings::EvalSettings;
