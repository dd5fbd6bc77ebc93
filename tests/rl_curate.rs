//! `prof-grpo curate` end to end on a small hand-checked JSONL.

use std::path::{Path, PathBuf};

use prof_grpo::cli::curate::{CurateAlgorithm, CurateArgs, run, run_with_scorer};
use prof_grpo::reward::prm::{CompletionSteps, StepScorer};
use serde_json::Value;

/// μ = (4.4 + 3.3) / 15 steps = 0.513333.
/// Group "a" (P = N = 2, k = 2 → one of each goes):
///   a0 C .9 → 0.7733 | a1 C .3 → −0.4267 (dropped) | a2 I .8 → −0.5733 (dropped) | a3 I .2 → 0.6267
/// Group 7 (P = 3, N = 1, k = 2 → r_pos = 2, two right go):
///   b0 C one step .5 → −0.0267 − 10 (dropped) | b1 C .6,.4 → −0.0267 (dropped)
///   b2 C .7 → 0.3733 | b3 I .1,.3 → 0.6267
const INPUT: &str = r#"{"id":"a0","group":"a","reward":1,"step_probs":[0.9,0.9],"extra":{"x":[1,2]}}
{"id":"a1","group":"a","reward":1,"step_probs":[0.3,0.3]}
{"id":"a2","group":"a","reward":0,"step_probs":[0.8,0.8]}
{"id":"a3","group":"a","reward":0,"step_probs":[0.2,0.2]}

{"group":7,"reward":1,"step_probs":[0.5],"id":"b0"}
{"group":7,"reward":1,"step_probs":[0.6,0.4],"id":"b1"}
{"group":7,"reward":true,"step_probs":[0.7,0.7],"id":"b2","truncated":false}
{"group":7,"reward":0,"step_probs":[0.1,0.3],"id":"b3"}
"#;

fn args(dir: &Path, algorithm: CurateAlgorithm, remove: usize, out: &str) -> CurateArgs {
    CurateArgs {
        input: dir.join("in.jsonl"),
        algorithm,
        remove,
        prm: None,
        seed: 3,
        out: dir.join(out),
        min_steps: 2,
        max_steps: 30,
        step_penalty: 10.0,
        backend: Default::default(),
        device: String::new(),
        dtype: None,
        prm_batch_size: 16,
        prm_max_length: 4096,
    }
}

fn read_jsonl(path: &PathBuf) -> Vec<serde_json::Map<String, Value>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            Value::Object(o) => o,
            _ => panic!("not an object"),
        })
        .collect()
}

#[test]
fn prof_keeps_hand_checked_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), INPUT).unwrap();
    let a = args(dir.path(), CurateAlgorithm::Prof, 2, "out.jsonl");
    let out = a.out.clone();
    run(a).unwrap();
    let rows = read_jsonl(&out);
    assert_eq!(rows.len(), 8);

    let kept: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["kept"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        kept,
        [
            ("a0", true),
            ("a1", false),
            ("a2", false),
            ("a3", true),
            ("b0", false),
            ("b1", false),
            ("b2", true),
            ("b3", true)
        ]
    );
    let mu = 7.7 / 15.0;
    let expected_scores = [
        2.0 * (0.9 - mu),
        2.0 * (0.3 - mu),
        -2.0 * (0.8 - mu),
        -2.0 * (0.2 - mu),
        2.0 * (0.5 - mu) - 10.0,
        2.0 * (0.5 - mu),
        2.0 * (0.7 - mu),
        -2.0 * (0.2 - mu),
    ];
    for (row, want) in rows.iter().zip(expected_scores) {
        let got = row["score"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-5, "{}: {got} vs {want}", row["id"]);
    }
    assert_eq!(
        rows[1]["reason"],
        "dropped: correct with lowest score of 2 correct"
    );
    assert_eq!(
        rows[4]["reason"],
        "dropped: correct with lowest score of 3 correct; 1 step outside [2, 30], score −10"
    );
    assert_eq!(
        rows[7]["reason"],
        "kept: incorrect with lowest score of 1 incorrect; none dropped"
    );

    // Other fields untouched and in order, then the three added ones.
    let keys: Vec<&str> = rows[0].keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "group",
            "reward",
            "step_probs",
            "extra",
            "score",
            "kept",
            "reason"
        ]
    );
    assert_eq!(rows[0]["extra"], serde_json::json!({"x": [1, 2]}));
    let keys: Vec<&str> = rows[6].keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "group",
            "reward",
            "step_probs",
            "id",
            "truncated",
            "score",
            "kept",
            "reason"
        ]
    );
    assert_eq!(rows[4]["group"], 7);
    assert_eq!(rows[6]["reward"], true);
}

#[test]
fn random_filter_is_reproducible_by_seed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), INPUT).unwrap();
    let first = args(dir.path(), CurateAlgorithm::RandomFilter, 3, "r1.jsonl");
    let second = args(dir.path(), CurateAlgorithm::RandomFilter, 3, "r2.jsonl");
    let (p1, p2) = (first.out.clone(), second.out.clone());
    run(first).unwrap();
    run(second).unwrap();
    let a = std::fs::read_to_string(&p1).unwrap();
    assert_eq!(a, std::fs::read_to_string(&p2).unwrap());
    let rows = read_jsonl(&p1);
    for group in ["a", "7"] {
        let kept = rows
            .iter()
            .filter(|r| r["group"].to_string().trim_matches('"') == group)
            .filter(|r| r["kept"] == true)
            .count();
        assert_eq!(kept, 1, "group {group}: 4 completions, 3 removed");
    }
}

fn error_for(input: &str, algorithm: CurateAlgorithm) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), input).unwrap();
    let err = run(args(dir.path(), algorithm, 2, "out.jsonl")).unwrap_err();
    format!("{err:#}")
}

#[test]
fn bad_lines_name_line_and_field() {
    let ok = r#"{"group":1,"reward":1,"step_probs":[0.5,0.5]}"#;
    let cases = [
        (
            format!("{ok}\n{ok}\n{{\"group\":1,\"reward\":2,\"step_probs\":[]}}\n"),
            ["in.jsonl:3", "\"reward\" must be 0 or 1, got 2"],
        ),
        (
            format!("{ok}\n{{\"group\":1,\"reward\":0}}\n"),
            ["in.jsonl:2", "missing field \"step_probs\""],
        ),
        (
            format!("{{\"group\":1,\"reward\":0,\"step_probs\":[0.2,1.5]}}\n{ok}\n"),
            [
                "in.jsonl:1",
                "\"step_probs\"[1] must be a probability in [0, 1], got 1.5",
            ],
        ),
        (
            format!("{ok}\n{{\"group\":null,\"reward\":0,\"step_probs\":[]}}\n"),
            ["in.jsonl:2", "\"group\" must be a string or a number"],
        ),
        (
            format!("{ok}\n{{not json\n"),
            ["in.jsonl:2", "invalid JSON"],
        ),
        (
            format!("{ok}\n{{\"group\":1,\"reward\":1,\"step_probs\":[\"x\"]}}\n"),
            ["in.jsonl:2", "\"step_probs\"[0] must be a number"],
        ),
    ];
    for (input, needles) in cases {
        let msg = error_for(&input, CurateAlgorithm::Prof);
        for needle in needles {
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
    }
}

#[test]
fn a_prm_that_cannot_be_loaded_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), INPUT).unwrap();
    let mut a = args(dir.path(), CurateAlgorithm::Prof, 2, "out.jsonl");
    let missing = dir.path().join("no-such-prm");
    a.prm = Some(missing.display().to_string());
    let msg = format!("{:#}", run(a).unwrap_err());
    assert!(
        msg.contains("--prm") && msg.contains("no-such-prm"),
        "{msg}"
    );
}

/// One step per sentence, 0.9 if it says "right", else 0.1.
struct SentenceScorer;

impl StepScorer for SentenceScorer {
    fn score(&self, pairs: &[(&str, &str)]) -> anyhow::Result<Vec<CompletionSteps>> {
        Ok(pairs
            .iter()
            .map(|(question, response)| {
                assert_eq!(*question, "1+1?");
                let step_probs: Vec<f32> = response
                    .split_terminator('.')
                    .map(|s| if s.trim() == "right" { 0.9 } else { 0.1 })
                    .collect();
                CompletionSteps {
                    num_steps: step_probs.len(),
                    step_probs,
                    dropped_steps: 0,
                    skipped: None,
                }
            })
            .collect())
    }
}

#[test]
fn prm_scorer_supplies_step_probs() {
    // Lines without step_probs: the scorer computes them from question and response.
    let input = r#"{"group":"q","question":"1+1?","response":"right. right.","reward":1}
{"group":"q","question":"1+1?","response":"wrong. right.","reward":1}
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), input).unwrap();
    let mut a = args(dir.path(), CurateAlgorithm::Prof, 1, "out.jsonl");
    a.prm = Some("toy".into());
    let out = a.out.clone();
    run_with_scorer(a, Some(&SentenceScorer)).unwrap();
    let rows = read_jsonl(&out);
    assert_eq!(rows[0]["step_probs"], serde_json::json!([0.9, 0.9]));
    assert_eq!(rows[1]["step_probs"], serde_json::json!([0.1, 0.9]));
    // μ = 0.7: scores 0.4 and −0.4; P = 2, k = 1 → the second goes.
    assert_eq!(rows[0]["kept"], true);
    assert_eq!(rows[1]["kept"], false);
}

#[test]
fn lines_to_score_need_question_and_response_strings() {
    let ok = r#"{"group":"q","question":"1+1?","response":"right.","reward":1}"#;
    let cases = [
        (
            format!("{ok}\n{{\"group\":\"q\",\"question\":\"1+1?\",\"reward\":0}}\n"),
            ["in.jsonl:2", "missing field \"response\""],
        ),
        (
            format!("{{\"group\":\"q\",\"question\":7,\"response\":\"x.\",\"reward\":0}}\n{ok}\n"),
            [
                "in.jsonl:1",
                "field \"question\" must be a string for --prm",
            ],
        ),
    ];
    for (input, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("in.jsonl"), input).unwrap();
        let mut a = args(dir.path(), CurateAlgorithm::Prof, 1, "out.jsonl");
        a.prm = Some("toy".into());
        let msg = format!(
            "{:#}",
            run_with_scorer(a, Some(&SentenceScorer)).unwrap_err()
        );
        for needle in needles {
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        }
    }
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: CurateArgs,
}

#[test]
fn command_line_flags_and_defaults() {
    use clap::Parser;
    let cli = Cli::try_parse_from([
        "curate",
        "--input",
        "in.jsonl",
        "--algorithm",
        "prof_correct",
        "--remove",
        "4",
        "--out",
        "out.jsonl",
    ])
    .unwrap();
    let a = cli.args;
    assert_eq!(a.algorithm, CurateAlgorithm::ProfCorrect);
    assert_eq!((a.remove, a.seed, a.prm), (4, 0, None));
    assert_eq!((a.min_steps, a.max_steps, a.step_penalty), (2, 30, 10.0));
    assert_eq!(a.input, PathBuf::from("in.jsonl"));
    let cli = Cli::try_parse_from([
        "curate",
        "--input",
        "i",
        "--algorithm",
        "prof_joint",
        "--remove",
        "2",
        "--out",
        "o",
        "--prm",
        "m",
        "--seed",
        "9",
        "--min-steps",
        "1",
        "--max-steps",
        "5",
        "--step-penalty",
        "3",
    ])
    .unwrap();
    assert_eq!(cli.args.algorithm, CurateAlgorithm::ProfJoint);
    assert_eq!(cli.args.prm.as_deref(), Some("m"));
    assert_eq!(
        (cli.args.seed, cli.args.min_steps, cli.args.max_steps),
        (9, 1, 5)
    );
    assert_eq!(cli.args.step_penalty, 3.0);
    // Algorithms that do not filter by rank are not curation choices.
    for bad in ["grpo", "blend", "prof-correct"] {
        assert!(
            Cli::try_parse_from([
                "curate",
                "--input",
                "i",
                "--algorithm",
                bad,
                "--remove",
                "2",
                "--out",
                "o"
            ])
            .is_err(),
            "{bad}"
        );
    }
}
