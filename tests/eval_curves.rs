//! Accuracy-vs-step curves of a run's checkpoints, and the Table 1 text.

use prof_grpo::eval::curves::draw_accuracy_curves;
use prof_grpo::eval::table::{detail_table, table1};
use prof_grpo::eval::{BoxedStringJudge, CompletionRecord, EvalReport, EvalSettings};
use prof_grpo::generation::{FinishReason, SamplingParams};

/// A report at `step` whose datasets have the given fraction correct (k = 4, 5 problems each).
fn report(step: u64, fractions: &[(&str, usize)]) -> EvalReport {
    let settings = EvalSettings {
        k: 4,
        sampling: SamplingParams::default(),
        max_new_tokens: 32,
        seed: 0,
        batch_size: 8,
    };
    let mut records = Vec::new();
    for (dataset, correct_of_20) in fractions {
        for i in 0..20 {
            let correct = i < *correct_of_20;
            records.push(CompletionRecord {
                dataset: dataset.to_string(),
                problem_id: format!("p{}", i % 5),
                sample: i / 5,
                gold: "1".into(),
                completion: String::new(),
                length: 10,
                finish: FinishReason::Stop,
                extracted: Some(if correct { "1" } else { "2" }.into()),
                correct,
            });
        }
    }
    let names: Vec<String> = fractions.iter().map(|(d, _)| d.to_string()).collect();
    EvalReport::from_records(
        &format!("checkpoint-{step}"),
        Some(step),
        &settings,
        &names,
        &records,
        &BoxedStringJudge,
    )
}

#[test]
fn one_png_per_dataset_and_the_average() {
    let reports = vec![
        report(20, &[("math500", 12), ("aime24", 3)]),
        report(0, &[("math500", 4), ("aime24", 0)]),
        report(10, &[("math500", 9), ("aime24", 1)]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let files = draw_accuracy_curves(&reports, &dir.path().join("curves")).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["math500.png", "aime24.png", "average.png"]);
    for f in &files {
        let png = std::fs::read(f).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
            "{}",
            f.display()
        );
    }
    if let Some(keep) = std::env::var_os("PROF_KEEP_CURVE") {
        std::fs::copy(&files[0], keep).unwrap();
    }
}

#[test]
fn table_one_has_a_row_per_model_and_an_average_column() {
    let reports = vec![
        report(0, &[("math500", 4), ("aime24", 0)]),
        report(10, &[("math500", 9), ("aime24", 1)]),
    ];
    let table = table1(&reports);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(
        lines[0].contains("Math500") && lines[0].contains("AIME24") && lines[0].contains("Average")
    );
    // Step 10: math500 9/20 = 45.0 %, aime24 1/20 = 5.0 %, average 25.0 %.
    assert!(lines[3].contains("checkpoint-10 (step 10)"), "{}", lines[3]);
    let cells: Vec<&str> = lines[3]
        .split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(&cells[1..], &["45.0", "5.0", "25.0"]);
    let detail = detail_table(&reports[1]);
    assert!(detail.contains("avg@4") && detail.contains("pass@4") && detail.contains("maj@4"));
}
