//! `prepare` offline, on small local files laid out like the hub repositories (written here):
//! verl schema, gold extraction, seeded shuffles, length filter, bad-row handling, CLI.

use std::path::Path;

use polars::prelude::*;
use prof_grpo::cli::prepare::{PrepareArgs, run};
use prof_grpo::data::{
    DEFAULT_SYSTEM_PROMPT, DEFAULT_USER_SUFFIX, LoadOptions, PrepareOptions, PrepareSource,
    Problem, load_dataset, prepare,
};
use prof_grpo::tokenizer::Tokenizer;

fn write_parquet(path: &Path, columns: Vec<Series>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let height = columns[0].len();
    let mut df = DataFrame::new(height, columns.into_iter().map(Column::from).collect()).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut df)
        .unwrap();
}

fn write_text(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn load(path: &Path) -> Vec<Problem> {
    load_dataset(
        path.to_str().unwrap(),
        Path::new("."),
        &LoadOptions::default(),
    )
    .unwrap()
    .problems
}

fn numina_dir(root: &Path, with_bad_row: bool) {
    let n = 30;
    let mut problems: Vec<String> = (0..n).map(|i| format!("Find {i}+{i}.")).collect();
    problems[7] = format!("A very long problem {}", "word ".repeat(200));
    let mut answers: Vec<Option<String>> = (0..n).map(|i| Some(format!("{}", 2 * i))).collect();
    if with_bad_row {
        answers[12] = None;
    }
    write_parquet(
        &root.join("data/train-00000-of-00001.parquet"),
        vec![
            Series::new("problem".into(), problems),
            Series::new("answer".into(), answers),
        ],
    );
}

#[test]
fn numina_is_shuffled_with_seed_21_and_long_prompts_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("numina");
    numina_dir(&input, false);
    let tok = Tokenizer::builtin_toy();
    let mut opts = PrepareOptions::new(PrepareSource::NuminaMath, tmp.path().join("out"));
    opts.input = Some(input.clone());
    opts.max_prompt_tokens = Some(100);
    let reports = prepare(&opts, Some(&tok)).unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(
        (r.split.as_str(), r.rows, r.bad_rows, r.too_long, r.written),
        ("train", 30, 0, 1, 29)
    );

    let problems = load(&tmp.path().join("out/train.parquet"));
    assert_eq!(problems.len(), 29);
    // The index is the row in the source split; the order is a seeded shuffle.
    let order: Vec<usize> = problems.iter().map(|p| p.id.parse().unwrap()).collect();
    assert!(!order.contains(&7));
    let mut sorted = order.clone();
    sorted.sort();
    assert_ne!(order, sorted, "shuffled");
    assert_eq!(sorted, (0..30).filter(|&i| i != 7).collect::<Vec<_>>());
    for p in &problems {
        let i: usize = p.id.parse().unwrap();
        assert_eq!(p.problem, format!("Find {i}+{i}."));
        assert_eq!(p.gold, format!("{}", 2 * i));
        assert_eq!(p.source, "numina_math");
        let m = p.messages.as_ref().unwrap();
        assert_eq!(
            (m[0].role.as_str(), m[0].content.as_str()),
            ("system", DEFAULT_SYSTEM_PROMPT)
        );
        assert_eq!(m[1].content, format!("Find {i}+{i}.{DEFAULT_USER_SUFFIX}"));
    }

    // Same seed, same order; another seed, another order.
    prepare(&opts, Some(&tok)).unwrap();
    assert_eq!(load(&tmp.path().join("out/train.parquet")), problems);
    opts.seed = Some(5);
    prepare(&opts, Some(&tok)).unwrap();
    let other: Vec<String> = load(&tmp.path().join("out/train.parquet"))
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_ne!(
        other,
        problems.iter().map(|p| p.id.clone()).collect::<Vec<_>>()
    );

    // A held-out validation split.
    opts.seed = None;
    opts.validation_size = 4;
    let reports = prepare(&opts, Some(&tok)).unwrap();
    let written: Vec<(&str, usize)> = reports
        .iter()
        .map(|r| (r.split.as_str(), r.written))
        .collect();
    assert_eq!(written, [("validation", 4), ("train", 25)]);
    let val = load(&tmp.path().join("out/validation.parquet"));
    assert_eq!(val, problems[..4].to_vec());
    assert_eq!(
        load(&tmp.path().join("out/train.parquet")),
        problems[4..].to_vec()
    );
}

#[test]
fn bad_rows_fail_with_their_location_or_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("numina");
    numina_dir(&input, true);
    let tok = Tokenizer::builtin_toy();
    let mut opts = PrepareOptions::new(PrepareSource::NuminaMath, tmp.path().join("out"));
    opts.input = Some(input);
    let err = prepare(&opts, Some(&tok)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("train-00000-of-00001.parquet: row 12: field `answer|gt|reward_model.ground_truth`: missing"), "{msg}");
    opts.skip_bad_rows = true;
    opts.max_prompt_tokens = None;
    let r = &prepare(&opts, None).unwrap()[0];
    assert_eq!((r.rows, r.bad_rows, r.too_long, r.written), (30, 1, 0, 29));
}

#[test]
fn math_lighteval_uses_the_last_box_and_both_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("math");
    let solution = |i: usize| {
        format!("First $\\boxed{{0}}$ is wrong; so the answer is $\\boxed{{\\frac{{{i}}}{{2}}}}$.")
    };
    for (split, n) in [("train", 6), ("test", 3)] {
        write_parquet(
            &input.join(format!("data/{split}-00000-of-00001.parquet")),
            vec![
                Series::new(
                    "problem".into(),
                    (0..n)
                        .map(|i| format!("{split} problem {i}"))
                        .collect::<Vec<_>>(),
                ),
                Series::new("level".into(), vec!["Level 1"; n]),
                Series::new("solution".into(), (0..n).map(solution).collect::<Vec<_>>()),
                Series::new("type".into(), vec!["Algebra"; n]),
            ],
        );
        // A per-subject configuration that must not be read.
        write_parquet(
            &input.join(format!("algebra/{split}-00000-of-00001.parquet")),
            vec![
                Series::new("problem".into(), vec!["x"]),
                Series::new("solution".into(), vec!["y"]),
            ],
        );
    }
    let mut opts = PrepareOptions::new(PrepareSource::Math, tmp.path().join("out"));
    opts.input = Some(input);
    opts.max_prompt_tokens = None;
    let reports = prepare(&opts, None).unwrap();
    let written: Vec<(&str, usize)> = reports
        .iter()
        .map(|r| (r.split.as_str(), r.written))
        .collect();
    assert_eq!(written, [("train", 6), ("validation", 3)]);
    let test = load(&tmp.path().join("out/validation.parquet"));
    // No shuffle for MATH: file order.
    let golds: Vec<&str> = test.iter().map(|p| p.gold.as_str()).collect();
    assert_eq!(golds, ["\\frac{0}{2}", "\\frac{1}{2}", "\\frac{2}{2}"]);
    assert_eq!(test[1].problem, "test problem 1");
    assert_eq!(test[1].source, "DigitalLearningGmbH/MATH-lighteval");
}

#[test]
fn math500_jsonl_and_gsm8k_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    let m500 = tmp.path().join("m500");
    let rows: String = (0..12)
        .map(|i| {
            serde_json::json!({"problem": format!("P{i}"), "solution": "s", "answer": format!("{i}"),
                               "subject": "Algebra", "level": 1, "unique_id": format!("test/algebra/{i}.json")})
                .to_string()
                + "\n"
        })
        .collect();
    write_text(&m500.join("test.jsonl"), &rows);
    write_text(&m500.join("README.md"), "# not data\n");
    let mut opts = PrepareOptions::new(PrepareSource::Math500, tmp.path().join("out500"));
    opts.input = Some(m500.clone());
    let tok = Tokenizer::builtin_toy();
    let reports = prepare(&opts, Some(&tok)).unwrap();
    assert_eq!(
        (reports[0].split.as_str(), reports[0].written),
        ("validation", 12)
    );
    let probs = load(&tmp.path().join("out500/validation.parquet"));
    assert!(
        probs
            .iter()
            .all(|p| p.problem == format!("P{}", p.gold) && p.source == "HuggingFaceH4/MATH-500")
    );
    let order: Vec<&str> = probs.iter().map(|p| p.id.as_str()).collect();
    assert_ne!(
        order,
        (0..12)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    // A single file works too.
    opts.input = Some(m500.join("test.jsonl"));
    opts.out_dir = tmp.path().join("out500b");
    prepare(&opts, Some(&tok)).unwrap();
    assert_eq!(load(&tmp.path().join("out500b/validation.parquet")), probs);

    let gsm = tmp.path().join("gsm8k");
    for (split, n) in [("train", 5), ("test", 2)] {
        write_parquet(
            &gsm.join(format!("main/{split}-00000-of-00001.parquet")),
            vec![
                Series::new(
                    "question".into(),
                    (0..n).map(|i| format!("Q{i}")).collect::<Vec<_>>(),
                ),
                Series::new(
                    "answer".into(),
                    (0..n)
                        .map(|i| format!("work <<1+1=2>>\n#### {i},000"))
                        .collect::<Vec<_>>(),
                ),
            ],
        );
        write_parquet(
            &gsm.join(format!("socratic/{split}-00000-of-00001.parquet")),
            vec![
                Series::new("question".into(), vec!["S"]),
                Series::new("answer".into(), vec!["#### 9"]),
            ],
        );
    }
    let mut opts = PrepareOptions::new(PrepareSource::Gsm8k, tmp.path().join("outgsm"));
    opts.input = Some(gsm);
    let reports = prepare(&opts, Some(&tok)).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.written).collect::<Vec<_>>(),
        [5, 2]
    );
    let train = load(&tmp.path().join("outgsm/train.parquet"));
    let golds: Vec<&str> = train.iter().map(|p| p.gold.as_str()).collect();
    assert_eq!(golds, ["0000", "1000", "2000", "3000", "4000"]);
}

#[test]
fn cli_runs_offline_with_the_toy_tokenizer() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("numina");
    numina_dir(&input, true);
    let args = PrepareArgs {
        source: PrepareSource::NuminaMath,
        out: tmp.path().join("out"),
        max_prompt_tokens: 100,
        count_full_prompt: true,
        tokenizer: "toy".into(),
        input: Some(input),
        skip_bad_rows: true,
        seed: None,
        validation_size: 0,
        limit: None,
        no_system_prompt: true,
    };
    run(args).unwrap();
    let problems = load(&tmp.path().join("out/train.parquet"));
    assert_eq!(problems.len(), 28); // 30 rows, 1 bad, 1 too long
    assert!(
        problems
            .iter()
            .all(|p| p.messages.as_ref().unwrap().len() == 1)
    );
}
