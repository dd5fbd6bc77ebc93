//! The evaluation loop end to end on CPU with a tiny fixture model and a trivial tokenizer:
//! results independent of batching, an interrupted run resumed to the same numbers without
//! duplicate lines, the reported numbers recomputed from the completions file, and greedy
//! validation equal to plain greedy generation.

use crate::common;

use burn::backend::Flex;
use burn::tensor::DType;
use prof_grpo::eval::history::{read_history, record_history};
use prof_grpo::eval::{
    EvalProblem, EvalReport, EvalRun, EvalSettings, Judge, Judged, StopTokens, evaluate,
};
use prof_grpo::generation::{GenerationConfig, SamplingParams, generate};
use prof_grpo::model::{PretrainedLm, load_pretrained};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

fn tiny() -> PretrainedLm<Flex> {
    let dir = common::fixtures().join("models/tiny-tied");
    load_pretrained::<Flex>(dir.to_str().unwrap(), DType::F32, &Default::default()).unwrap()
}

fn stops(lm: &PretrainedLm<Flex>) -> StopTokens {
    StopTokens {
        stop_ids: lm.generation.eos_ids.clone(),
        pad_id: lm.generation.pad_id.unwrap_or(299),
    }
}

/// Token ids as text: `"17 5 230"`.
fn decode(ids: &[u32]) -> anyhow::Result<String> {
    Ok(ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
}

/// The "answer" is the first token's residue mod 3, written `r0`, `r1` or `r2`.
struct ResidueJudge;

impl Judge for ResidueJudge {
    fn judge(&self, gold: &str, response: &str) -> Judged {
        let extracted = response
            .split_whitespace()
            .next()
            .map(|t| format!("r{}", t.parse::<u32>().unwrap() % 3));
        Judged {
            correct: extracted.as_deref() == Some(gold),
            extracted,
        }
    }
    fn same_answer(&self, a: &str, b: &str) -> bool {
        a == b
    }
}

/// `n` problems in two datasets with prompts of different lengths (so batches need padding).
fn problems(n: usize) -> Vec<EvalProblem> {
    (0..n)
        .map(|i| EvalProblem {
            dataset: if i % 3 == 2 { "beta" } else { "alpha" }.to_string(),
            id: format!("q{i}"),
            prompt_ids: (0..3 + (i * 5) % 7)
                .map(|j| ((i * 37 + j * 11) % 290) as u32)
                .collect(),
            gold: format!("r{}", i % 3),
        })
        .collect()
}

fn sampling_settings(batch_size: usize) -> EvalSettings {
    EvalSettings {
        k: 4,
        sampling: SamplingParams {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
        },
        max_new_tokens: 8,
        seed: 11,
        batch_size,
    }
}

fn completion_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("completions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn by_key(lines: &[Value]) -> BTreeMap<(String, String, u64), Value> {
    lines
        .iter()
        .map(|l| {
            let key = (
                l["dataset"].as_str().unwrap().to_string(),
                l["problem_id"].as_str().unwrap().to_string(),
                l["sample"].as_u64().unwrap(),
            );
            (key, l.clone())
        })
        .collect()
}

fn run_in(
    dir: &Path,
    lm: &PretrainedLm<Flex>,
    problems: &[EvalProblem],
    settings: &EvalSettings,
) -> EvalReport {
    let run = EvalRun {
        dir: dir.to_path_buf(),
        model: "tiny-tied".into(),
        step: Some(5),
    };
    run.run(
        &lm.model,
        problems,
        settings,
        &stops(lm),
        &decode,
        &ResidueJudge,
        |_, _| {},
    )
    .unwrap()
}

#[test]
fn batching_does_not_change_the_completions() {
    let lm = tiny();
    let problems = problems(6);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ra = run_in(a.path(), &lm, &problems, &sampling_settings(1));
    let rb = run_in(b.path(), &lm, &problems, &sampling_settings(7));
    assert_eq!(
        by_key(&completion_lines(a.path())),
        by_key(&completion_lines(b.path()))
    );
    assert_eq!(ra.datasets, rb.datasets);
    // Sampling really samples: the 4 samples of a problem are not all equal.
    let lines = completion_lines(a.path());
    let distinct: HashSet<&str> = lines
        .iter()
        .take(4)
        .map(|l| l["completion"].as_str().unwrap())
        .collect();
    assert!(distinct.len() > 1, "{distinct:?}");
}

#[test]
fn an_interrupted_eval_resumes_to_the_same_numbers_without_duplicates() {
    let lm = tiny();
    let all = problems(6);
    let settings = sampling_settings(5);
    let full = tempfile::tempdir().unwrap();
    let reference = run_in(full.path(), &lm, &all, &settings);

    let dir = tempfile::tempdir().unwrap();
    // First a run on fewer problems (--limit), then an interruption mid-write.
    run_in(dir.path(), &lm, &all[..4], &settings);
    let path = dir.path().join("completions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 16);
    let mut cut = lines[..9].join("\n");
    cut.push('\n');
    cut.push_str(&lines[9][..lines[9].len() / 2]);
    std::fs::write(&path, cut).unwrap();

    let resumed = run_in(dir.path(), &lm, &all, &settings);
    assert_eq!(resumed, reference);
    let lines = completion_lines(dir.path());
    assert_eq!(
        lines.len(),
        all.len() * settings.k,
        "one line per sample, no duplicates"
    );
    assert_eq!(by_key(&lines), by_key(&completion_lines(full.path())));
    let on_disk = EvalReport::read_json(&dir.path().join("report.json")).unwrap();
    assert_eq!(on_disk, reference);

    // Other sampling settings in the same directory are refused.
    let mut other = settings.clone();
    other.seed += 1;
    let run = EvalRun {
        dir: dir.path().to_path_buf(),
        model: "tiny-tied".into(),
        step: Some(5),
    };
    let err = run
        .run(
            &lm.model,
            &all,
            &other,
            &stops(&lm),
            &decode,
            &ResidueJudge,
            |_, _| {},
        )
        .unwrap_err();
    assert!(format!("{err:#}").contains("other settings"), "{err:#}");
}

fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[test]
fn reported_numbers_equal_those_recomputed_from_the_jsonl() {
    let lm = tiny();
    let problems = problems(9);
    let settings = sampling_settings(8);
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), &lm, &problems, &settings);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let lines = completion_lines(dir.path());
    let k = settings.k;

    let mut avg_sum = 0.0;
    let mut n_datasets = 0.0;
    for dataset in ["alpha", "beta"] {
        let mut per_problem: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for l in lines.iter().filter(|l| l["dataset"] == dataset) {
            per_problem
                .entry(l["problem_id"].as_str().unwrap())
                .or_default()
                .push(l);
        }
        let n = per_problem.len() as f64;
        let (mut avg, mut pass, mut maj, mut var) = (0.0, 0.0, 0.0, 0.0);
        let mut lengths = Vec::new();
        for samples in per_problem.values_mut() {
            samples.sort_by_key(|l| l["sample"].as_u64().unwrap());
            assert_eq!(samples.len(), k);
            let c = samples.iter().filter(|l| l["correct"] == true).count();
            let p = c as f64 / k as f64;
            avg += p;
            var += p * (1.0 - p);
            pass += 1.0 - binomial(k - c, 2) / binomial(k, 2);
            // Majority over extracted answers, ties to the answer seen first.
            let mut votes: Vec<(&str, usize, bool)> = Vec::new();
            for l in samples.iter() {
                if let Some(a) = l["extracted"].as_str() {
                    match votes.iter_mut().find(|v| v.0 == a) {
                        Some(v) => v.1 += 1,
                        None => votes.push((a, 1, l["correct"] == true)),
                    }
                }
            }
            let best = votes.iter().map(|v| v.1).max().unwrap_or(0);
            if votes.iter().find(|v| v.1 == best).is_some_and(|v| v.2) {
                maj += 1.0;
            }
            lengths.extend(samples.iter().map(|l| l["length"].as_f64().unwrap()));
        }
        let m = report["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["dataset"] == dataset)
            .unwrap();
        let close = |a: f64, b: &Value| {
            assert!(
                (a - b.as_f64().unwrap()).abs() < 1e-9,
                "{dataset}: {a} vs {b}"
            )
        };
        close(100.0 * avg / n, &m["avg_at_k"]);
        close(100.0 * pass / n, &m["pass_at"]["2"]);
        close(100.0 * maj / n, &m["maj_at_k"]);
        close(var / n, &m["variance"]);
        close(
            lengths.iter().sum::<f64>() / lengths.len() as f64,
            &m["mean_length"],
        );
        assert_eq!(m["problems"].as_u64().unwrap() as f64, n);
        avg_sum += 100.0 * avg / n;
        n_datasets += 1.0;
    }
    assert!((report["average"]["avg_at_k"].as_f64().unwrap() - avg_sum / n_datasets).abs() < 1e-9);
    // Not a degenerate table: some samples right, some wrong.
    let correct = lines.iter().filter(|l| l["correct"] == true).count();
    assert!(
        correct > 0 && correct < lines.len(),
        "{correct} of {}",
        lines.len()
    );
}

#[test]
fn greedy_validation_equals_greedy_generation() {
    let lm = tiny();
    let problems = problems(5);
    let settings = EvalSettings::greedy(10, 3);
    let report = evaluate(
        &lm.model,
        &problems,
        &settings,
        &stops(&lm),
        &decode,
        &ResidueJudge,
        "tiny",
        None,
    )
    .unwrap();
    // The same numbers from a plain greedy generate() of each prompt alone.
    let config = GenerationConfig {
        sampling: SamplingParams::greedy(),
        max_new_tokens: 10,
        stop_ids: stops(&lm).stop_ids,
        pad_id: stops(&lm).pad_id,
    };
    let mut per_dataset: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    for p in &problems {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let c = generate(
            &lm.model,
            std::slice::from_ref(&p.prompt_ids),
            &config,
            &mut rng,
            |_| {},
        )
        .remove(0);
        let text_ids = if c.finish == prof_grpo::generation::FinishReason::Stop {
            &c.ids[..c.ids.len() - 1]
        } else {
            &c.ids[..]
        };
        let verdict = ResidueJudge.judge(&p.gold, &decode(text_ids).unwrap());
        let e = per_dataset.entry(p.dataset.clone()).or_default();
        e.0 += f64::from(u8::from(verdict.correct));
        e.1 += c.ids.len() as f64;
        e.2 += 1;
    }
    for (dataset, (correct, length, n)) in per_dataset {
        let m = report.dataset(&dataset).unwrap();
        assert_eq!(m.k, 1);
        assert!((m.avg_at_k - 100.0 * correct / n as f64).abs() < 1e-9);
        assert!((m.mean_length - length / n as f64).abs() < 1e-9);
        assert_eq!(m.variance, 0.0);
    }
}

#[test]
fn history_has_one_line_per_step() {
    let lm = tiny();
    let problems = problems(3);
    let settings = sampling_settings(4);
    let dir = tempfile::tempdir().unwrap();
    let report = run_in(&dir.path().join("m"), &lm, &problems, &settings);
    let path = record_history(dir.path(), &report).unwrap();
    assert_eq!(path.file_name().unwrap(), "temp1.0_K4.jsonl");
    record_history(dir.path(), &report).unwrap();
    let mut earlier = report.clone();
    earlier.step = Some(1);
    record_history(dir.path(), &earlier).unwrap();
    let lines = read_history(&path).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["step"], 1);
    assert_eq!(lines[1]["step"], 5);
    let alpha = report.dataset("alpha").unwrap();
    assert!((lines[1]["alpha"]["score"].as_f64().unwrap() - alpha.avg_at_k / 100.0).abs() < 1e-12);
    assert_eq!(lines[1]["alpha"]["var"].as_f64().unwrap(), alpha.variance);
}
