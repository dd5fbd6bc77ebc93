//! Evaluation metrics on hand-made verdict tables: pass@k against the closed form
//! `1 − C(n−c, k)/C(n, k)`, avg@k, variance, and maj@k grouping equivalent answers through the
//! judge.

use prof_grpo::eval::{
    Ballot, CompletionRecord, EvalReport, EvalSettings, Judge, Judged, dataset_metrics,
    majority_vote, pass_at_k,
};
use prof_grpo::generation::FinishReason;

/// Exact binomial coefficient as f64 (small arguments).
fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let mut num = 1u128;
    let mut den = 1u128;
    for i in 0..k {
        num *= (n - i) as u128;
        den *= (i + 1) as u128;
    }
    num as f64 / den as f64
}

/// A judge that knows `\frac12`, `\frac{1}{2}`, `1/2` and `0.5` are the same number, and
/// extracts the answer after `ANSWER:`.
struct HalfJudge;

impl HalfJudge {
    fn canon(a: &str) -> String {
        let a: String = a.chars().filter(|c| !c.is_whitespace()).collect();
        match a.as_str() {
            r"\frac12" | r"\frac{1}{2}" | "1/2" | "0.50" => "0.5".to_string(),
            _ => a,
        }
    }
}

impl Judge for HalfJudge {
    fn judge(&self, gold: &str, response: &str) -> Judged {
        let extracted = response
            .rsplit_once("ANSWER:")
            .map(|(_, a)| a.trim().to_string());
        let correct = extracted
            .as_deref()
            .is_some_and(|a| Self::canon(a) == Self::canon(gold));
        Judged { correct, extracted }
    }
    fn same_answer(&self, a: &str, b: &str) -> bool {
        Self::canon(a) == Self::canon(b)
    }
}

fn record(problem: &str, sample: usize, answer: Option<&str>, correct: bool) -> CompletionRecord {
    CompletionRecord {
        dataset: "toy".into(),
        problem_id: problem.into(),
        sample,
        gold: "0.5".into(),
        completion: String::new(),
        length: 10 + sample,
        finish: FinishReason::Stop,
        extracted: answer.map(str::to_string),
        correct,
    }
}

/// Verdict tables: per problem a 0/1 row of n = 8 samples.
const TABLE: [[u8; 8]; 5] = [
    [1, 1, 1, 1, 1, 1, 1, 1],
    [0, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0, 0],
    [0, 1, 1, 0, 1, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1, 1],
];

fn table_records() -> Vec<CompletionRecord> {
    let mut out = Vec::new();
    for (p, row) in TABLE.iter().enumerate() {
        for (s, &v) in row.iter().enumerate() {
            let answer = if v == 1 { "0.5" } else { "7" };
            out.push(record(&format!("p{p}"), s, Some(answer), v == 1));
        }
    }
    out
}

#[test]
fn pass_at_k_matches_the_closed_form_on_verdict_tables() {
    let records = table_records();
    let m = dataset_metrics("toy", &records, 8, &HalfJudge);
    for k in [1usize, 2, 4, 8] {
        let expected: f64 = TABLE
            .iter()
            .map(|row| {
                let c = row.iter().filter(|&&v| v == 1).count();
                1.0 - binomial(8 - c, k) / binomial(8, k)
            })
            .sum::<f64>()
            / TABLE.len() as f64;
        let got = m.pass_at[&k.to_string()];
        assert!(
            (got - 100.0 * expected).abs() < 1e-9,
            "pass@{k}: {got} vs {}",
            100.0 * expected
        );
        for row in TABLE {
            let c = row.iter().filter(|&&v| v == 1).count();
            let closed = 1.0 - binomial(8 - c, k) / binomial(8, k);
            assert!((pass_at_k(8, c, k).unwrap() - closed).abs() < 1e-12);
        }
    }
    // Hand values: c = 1 of 8, k = 4 → 1 − C(7,4)/C(8,4) = 1 − 35/70 = 0.5.
    assert!((pass_at_k(8, 1, 4).unwrap() - 0.5).abs() < 1e-15);
    // c = 4, k = 2 → 1 − C(4,2)/C(8,2) = 1 − 6/28.
    assert!((pass_at_k(8, 4, 2).unwrap() - (1.0 - 6.0 / 28.0)).abs() < 1e-15);
}

#[test]
fn avg_and_variance_by_hand() {
    let m = dataset_metrics("toy", &table_records(), 8, &HalfJudge);
    // Fractions correct: 1, 0, 1/8, 4/8, 2/8.
    let fracs = [1.0, 0.0, 0.125, 0.5, 0.25];
    let avg = fracs.iter().sum::<f64>() / 5.0;
    assert!((m.avg_at_k - 100.0 * avg).abs() < 1e-12);
    // pass@1 equals avg@k.
    assert!((m.pass_at["1"] - m.avg_at_k).abs() < 1e-9);
    // Population variance p(1 − p) of each row, averaged: (0 + 0 + 7/64 + 1/4 + 3/16) / 5.
    let var = (7.0 / 64.0 + 0.25 + 3.0 / 16.0) / 5.0;
    assert!((m.variance - var).abs() < 1e-12, "{}", m.variance);
    // Majority: rows 0 (all 0.5) correct; 1, 2, 4 wrong; row 3 is a 4–4 tie won by "7" (first seen).
    assert!((m.maj_at_k - 20.0).abs() < 1e-12, "{}", m.maj_at_k);
    assert!((m.mean_length - 13.5).abs() < 1e-12);
}

#[test]
fn majority_vote_groups_equivalent_answers_through_the_judge() {
    let answers = [
        Some("3"),
        Some(r"\frac12"),
        Some("3"),
        None,
        Some("0.5"),
        Some(r"\frac{1}{2}"),
        None,
        None,
    ];
    let ballots: Vec<Ballot<'_>> = answers
        .iter()
        .map(|a| Ballot {
            answer: *a,
            correct: a.is_some_and(|a| HalfJudge::canon(a) == "0.5"),
        })
        .collect();
    let m = majority_vote(&ballots, &HalfJudge);
    // "3" has 2 votes; {\frac12, 0.5, \frac{1}{2}} has 3 — only because the judge merges them.
    assert_eq!(m.votes, 3);
    assert_eq!(m.classes, 2);
    assert_eq!(m.answer.as_deref(), Some(r"\frac12"));
    assert!(m.correct);
    // A plain string comparison would have let "3" win.
    let strict = majority_vote(&ballots, &prof_grpo::eval::BoxedStringJudge);
    assert_eq!(strict.answer.as_deref(), Some("3"));
    assert!(!strict.correct);

    // And through the dataset metrics.
    let records: Vec<CompletionRecord> = ballots
        .iter()
        .enumerate()
        .map(|(s, b)| record("q", s, b.answer, b.correct))
        .collect();
    let metrics = dataset_metrics("toy", &records, 8, &HalfJudge);
    assert_eq!(metrics.maj_at_k, 100.0);
    assert!((metrics.no_answer_rate - 3.0 / 8.0).abs() < 1e-12);
}

#[test]
fn report_averages_datasets_unweighted() {
    let mut records = table_records();
    // A second dataset with one problem, all correct.
    for s in 0..8 {
        let mut r = record("x", s, Some("0.5"), true);
        r.dataset = "other".into();
        records.push(r);
    }
    let mut settings = EvalSettings::greedy(16, 4);
    settings.k = 8;
    let report = EvalReport::from_records(
        "m",
        Some(3),
        &settings,
        &["toy".to_string(), "other".to_string()],
        &records,
        &HalfJudge,
    );
    let toy = report.dataset("toy").unwrap().avg_at_k;
    assert!((report.average.avg_at_k - (toy + 100.0) / 2.0).abs() < 1e-12);
    let line = prof_grpo::eval::history::history_line(&report);
    assert_eq!(line["step"], 3);
    assert!((line["toy"]["score"].as_f64().unwrap() - toy / 100.0).abs() < 1e-12);
    assert_eq!(line["other"]["var"].as_f64().unwrap(), 0.0);
}
