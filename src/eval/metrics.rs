//! Per-dataset metrics from judged samples.
//!
//! With `n_i` samples of problem `i`, `c_i` of them correct:
//! - avg@k (the paper's metric): `100 · mean_i (c_i / n_i)`, in %;
//! - pass@k: `100 · mean_i pass@k(n_i, c_i)` with the unbiased estimator of [`pass_at_k`], in %,
//!   for every k of [`reported_ks`];
//! - maj@k: `100 · mean_i [majority answer of problem i is correct]` (see [`majority_vote`]), in %;
//! - mean length: mean number of generated tokens over all samples;
//! - variance: `mean_i p_i (1 − p_i)` with `p_i = c_i / n_i`, the *population* variance of each
//!   problem's 0/1 verdicts (`numpy.var` with its default `ddof=0`), averaged over problems; a
//!   fraction in `[0, 0.25]`, not a percentage.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::judge::Judge;
use super::majority::{Ballot, majority_vote};
use super::pass_at_k::{pass_at_k, reported_ks};
use super::record::CompletionRecord;

/// The judged samples of one problem.
#[derive(Debug, Clone, Default)]
pub struct ProblemSamples<'a> {
    /// Samples in sample-index order.
    pub samples: Vec<&'a CompletionRecord>,
}

/// Metrics of one dataset (see the module docs for definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetMetrics {
    /// Dataset name.
    pub dataset: String,
    /// Problems evaluated.
    pub problems: usize,
    /// Samples judged.
    pub samples: usize,
    /// Samples per problem asked for.
    pub k: usize,
    /// avg@k, %.
    pub avg_at_k: f64,
    /// pass@j for each reported j (keys are j as text), %.
    pub pass_at: BTreeMap<String, f64>,
    /// maj@k, %.
    pub maj_at_k: f64,
    /// Mean completion length in tokens.
    pub mean_length: f64,
    /// Mean per-problem population variance of the 0/1 verdicts (a fraction).
    pub variance: f64,
    /// Fraction of samples with no extracted answer.
    pub no_answer_rate: f64,
    /// Fraction of samples cut at the token limit.
    pub truncated_rate: f64,
}

impl DatasetMetrics {
    /// pass@k at the run's k.
    pub fn pass_at_k(&self) -> f64 {
        self.pass_at
            .get(&self.k.to_string())
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// Groups records by problem, problems in first-appearance order, samples by index.
pub fn group_by_problem(records: &[CompletionRecord]) -> Vec<ProblemSamples<'_>> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&CompletionRecord>> = BTreeMap::new();
    for r in records {
        let entry = groups.entry(r.problem_id.as_str()).or_default();
        if entry.is_empty() {
            order.push(r.problem_id.as_str());
        }
        entry.push(r);
    }
    order
        .into_iter()
        .map(|id| {
            let mut samples = groups.remove(id).unwrap_or_default();
            samples.sort_by_key(|r| r.sample);
            ProblemSamples { samples }
        })
        .collect()
}

/// Computes the metrics of `dataset` from its records (`k`: samples asked per problem; pass@j
/// is reported for the j ≤ each problem's sample count).
pub fn dataset_metrics(
    dataset: &str,
    records: &[CompletionRecord],
    k: usize,
    judge: &dyn Judge,
) -> DatasetMetrics {
    let problems = group_by_problem(records);
    let n_problems = problems.len();
    let mean = |sum: f64, count: usize| {
        if count == 0 {
            f64::NAN
        } else {
            sum / count as f64
        }
    };

    let mut avg_sum = 0.0;
    let mut var_sum = 0.0;
    let mut maj_sum = 0.0;
    let mut pass_sums: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for p in &problems {
        let n = p.samples.len();
        let c = p.samples.iter().filter(|r| r.correct).count();
        let frac = c as f64 / n as f64;
        avg_sum += frac;
        var_sum += frac * (1.0 - frac);
        for j in reported_ks(k) {
            if let Some(v) = pass_at_k(n, c, j) {
                let e = pass_sums.entry(j).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
        let ballots: Vec<Ballot<'_>> = p
            .samples
            .iter()
            .map(|r| Ballot {
                answer: r.extracted.as_deref(),
                correct: r.correct,
            })
            .collect();
        if majority_vote(&ballots, judge).correct {
            maj_sum += 1.0;
        }
    }
    let n_samples = records.len();
    DatasetMetrics {
        dataset: dataset.to_string(),
        problems: n_problems,
        samples: n_samples,
        k,
        avg_at_k: 100.0 * mean(avg_sum, n_problems),
        pass_at: pass_sums
            .into_iter()
            .map(|(j, (sum, count))| (j.to_string(), 100.0 * mean(sum, count)))
            .collect(),
        maj_at_k: 100.0 * mean(maj_sum, n_problems),
        mean_length: mean(records.iter().map(|r| r.length as f64).sum(), n_samples),
        variance: mean(var_sum, n_problems),
        no_answer_rate: mean(
            records.iter().filter(|r| r.extracted.is_none()).count() as f64,
            n_samples,
        ),
        truncated_rate: mean(
            records
                .iter()
                .filter(|r| r.finish == crate::generation::FinishReason::Length)
                .count() as f64,
            n_samples,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::judge::BoxedStringJudge;
    use crate::generation::FinishReason;

    fn rec(
        problem: &str,
        sample: usize,
        answer: Option<&str>,
        correct: bool,
        length: usize,
    ) -> CompletionRecord {
        CompletionRecord {
            dataset: "d".into(),
            problem_id: problem.into(),
            sample,
            gold: "g".into(),
            completion: String::new(),
            length,
            finish: if length >= 10 {
                FinishReason::Length
            } else {
                FinishReason::Stop
            },
            extracted: answer.map(str::to_string),
            correct,
        }
    }

    #[test]
    fn hand_computed_table() {
        // Problem a: 3 of 4 correct, majority "1" (correct).
        // Problem b: 1 of 4 correct, majority "9" (wrong); one sample without an answer.
        let records = vec![
            rec("a", 0, Some("1"), true, 4),
            rec("a", 1, Some("1"), true, 6),
            rec("a", 2, Some("2"), false, 10),
            rec("a", 3, Some("1"), true, 4),
            rec("b", 3, None, false, 10),
            rec("b", 0, Some("9"), false, 2),
            rec("b", 1, Some("5"), true, 2),
            rec("b", 2, Some("9"), false, 2),
        ];
        let m = dataset_metrics("d", &records, 4, &BoxedStringJudge);
        assert_eq!((m.problems, m.samples, m.k), (2, 8, 4));
        assert!((m.avg_at_k - 50.0).abs() < 1e-12);
        assert!((m.maj_at_k - 50.0).abs() < 1e-12);
        assert!((m.mean_length - 40.0 / 8.0).abs() < 1e-12);
        // p(1-p): 3/16 and 3/16.
        assert!((m.variance - 3.0 / 16.0).abs() < 1e-12);
        // pass@2: a: 1 − C(1,2)/C(4,2) = 1; b: 1 − C(3,2)/C(4,2) = 0.5.
        assert!((m.pass_at["2"] - 75.0).abs() < 1e-12);
        assert!((m.pass_at["1"] - 50.0).abs() < 1e-12);
        assert!((m.pass_at_k() - 100.0).abs() < 1e-12);
        assert!((m.no_answer_rate - 1.0 / 8.0).abs() < 1e-12);
        assert!((m.truncated_rate - 2.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn groups_keep_first_appearance_order_and_sort_samples() {
        let records = vec![
            rec("z", 1, None, false, 1),
            rec("a", 0, None, false, 1),
            rec("z", 0, None, false, 1),
        ];
        let groups = group_by_problem(&records);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].samples[0].problem_id, "z");
        assert_eq!(
            groups[0]
                .samples
                .iter()
                .map(|r| r.sample)
                .collect::<Vec<_>>(),
            vec![0, 1]
        );
    }
}
