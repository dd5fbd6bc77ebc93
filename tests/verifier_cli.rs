//! `prof-grpo verify`, through its `run_with` function and its clap arguments.

use clap::Parser;
use prof_grpo::cli::verify::{VerifyArgs, run_with};
use std::io::Write;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: VerifyArgs,
}

fn run(args: VerifyArgs) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run_with(args, &mut out, &mut err).expect("run");
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn single(gold: &str, pred: &str, why: bool) -> VerifyArgs {
    VerifyArgs {
        gold: Some(gold.into()),
        pred: Some(pred.into()),
        why,
        ..VerifyArgs::default()
    }
}

#[test]
fn single_pair_prints_true_or_false() {
    assert_eq!(
        run(single("\\frac12", "so \\boxed{0.5}", false)).0,
        "true\n"
    );
    assert_eq!(
        run(single("\\frac12", "so \\boxed{0.51}", false)).0,
        "false\n"
    );
    assert_eq!(run(single("73", "no answer here", false)).0, "false\n");
}

#[test]
fn why_prints_extraction_rule_and_reason() {
    let (out, _) = run(single("\\frac12", "so \\boxed{0.5}", true));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "true");
    assert_eq!(lines[1], "extracted: 0.5");
    assert_eq!(lines[2], "rule: rational");
    assert!(lines[3].starts_with("reason: "));
    let (out, _) = run(single("73", "no answer here", true));
    assert!(
        out.contains("extracted: (none)") && out.contains("rule: no_answer"),
        "{out}"
    );
}

#[test]
fn numeric_tolerance_is_lenient_and_validated() {
    let mut args = single("\\frac13", "\\boxed{0.3333}", false);
    assert_eq!(run(args.clone()).0, "false\n");
    args.numeric_tolerance = Some(1e-3);
    assert_eq!(run(args.clone()).0, "true\n");
    args.numeric_tolerance = Some(-1.0);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert!(run_with(args, &mut out, &mut err).is_err());
}

#[test]
fn jsonl_lines_get_correct_added_and_bad_lines_are_reported() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let lines = [
        r#"{"id": 1, "gold": "\\frac{1}{2}", "pred": "\\boxed{0.5}", "z": [1]}"#,
        r#"{"gold": 27.0, "pred": "The answer is 27."}"#,
        r#"not json"#,
        r#"{"gold": "1"}"#,
        r#""#,
        r#"[1, 2]"#,
        r#"{"gold": "2", "pred": 2}"#,
        r#"{"pred": "\\boxed{3}", "gold": "4", "correct": true}"#,
    ];
    writeln!(file, "{}", lines.join("\n")).unwrap();
    let args = VerifyArgs {
        jsonl: Some(file.path().to_path_buf()),
        ..VerifyArgs::default()
    };
    let (out, err) = run(args);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(
        got,
        vec![
            r#"{"id":1,"gold":"\\frac{1}{2}","pred":"\\boxed{0.5}","z":[1],"correct":true}"#,
            r#"{"gold":27.0,"pred":"The answer is 27.","correct":true}"#,
            r#"{"pred":"\\boxed{3}","gold":"4","correct":false}"#,
        ]
    );
    let path = file.path().display().to_string();
    assert!(err.contains(&format!("{path}:3: invalid JSON")), "{err}");
    assert!(
        err.contains(&format!("{path}:4: missing field \"pred\"")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{path}:6: not a JSON object")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{path}:7: field \"pred\" must be a string")),
        "{err}"
    );
    assert!(
        err.contains("3 lines labelled (2 correct), 4 skipped"),
        "{err}"
    );
}

#[test]
fn jsonl_to_an_output_file_with_why() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, r#"{{"gold": "x=5", "pred": "\\boxed{{5}}"}}"#).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("labelled.jsonl");
    let args = VerifyArgs {
        jsonl: Some(file.path().to_path_buf()),
        out: Some(out_path.clone()),
        why: true,
        ..VerifyArgs::default()
    };
    let (stdout, _) = run(args);
    assert!(stdout.is_empty());
    let written = std::fs::read_to_string(&out_path).unwrap();
    let v: serde_json::Value = serde_json::from_str(written.trim()).unwrap();
    assert_eq!(v["correct"], true);
    assert_eq!(v["extracted"], "5");
    assert_eq!(v["rule"], "rational");
}

#[test]
fn missing_file_and_missing_arguments_are_errors() {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = VerifyArgs {
        jsonl: Some("/nonexistent/pairs.jsonl".into()),
        ..VerifyArgs::default()
    };
    let e = run_with(args, &mut out, &mut err).unwrap_err();
    assert!(format!("{e:#}").contains("/nonexistent/pairs.jsonl"));
    assert!(run_with(VerifyArgs::default(), &mut out, &mut err).is_err());
}

#[test]
fn clap_arguments() {
    let cli = Cli::try_parse_from([
        "verify",
        "--gold",
        "1",
        "--pred",
        "\\boxed{1}",
        "--why",
        "--numeric-tolerance",
        "0.01",
    ])
    .unwrap();
    assert_eq!(cli.args.gold.as_deref(), Some("1"));
    assert!(cli.args.why);
    assert_eq!(cli.args.numeric_tolerance, Some(0.01));
    let cli = Cli::try_parse_from(["verify", "--jsonl", "a.jsonl", "--out", "b.jsonl"]).unwrap();
    assert_eq!(
        cli.args.out.as_deref(),
        Some(std::path::Path::new("b.jsonl"))
    );
    assert!(Cli::try_parse_from(["verify", "--gold", "1"]).is_err());
    assert!(Cli::try_parse_from(["verify", "--gold", "1", "--pred", "2", "--jsonl", "f"]).is_err());
    assert!(Cli::try_parse_from(["verify", "--out", "b.jsonl"]).is_err());
}
