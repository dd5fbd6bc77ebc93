//! Every comparison finishes within its budget: adversarial inputs are refused by a named
//! limit ("not equal" with a reason), and random LaTeX-like strings never panic.

use prof_grpo::reward::verifier::{Budget, Rule, Verifier, classify_answer, extract_answer};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn assert_budget(v: &Verifier, a: &str, b: &str) {
    let verdict = v.equivalent(a, b);
    assert!(!verdict.correct, "{a:.60} vs {b:.60} should not be equal");
    assert_eq!(
        verdict.rule,
        Rule::Budget,
        "{a:.60} vs {b:.60}: {}",
        verdict.reason
    );
    assert!(
        verdict.reason.contains("budget"),
        "reason should name the budget: {}",
        verdict.reason
    );
}

#[test]
fn huge_values_are_refused_by_the_bit_budget() {
    let v = Verifier::default();
    assert_budget(&v, "1", "10^{10^{10}}");
    assert_budget(&v, "1", "1000000!");
    assert_budget(&v, "1", "(10^{100})!");
    assert_budget(&v, "1", "2^{2^{2^{2^{2^{2^{2}}}}}}");
    assert_budget(&v, "1", "\\binom{10^{9}}{10^{8}}");
    assert_budget(&v, "x", "x^{10^{12}}");
    assert_budget(&v, "1", "e^{10^{10}}");
    assert_budget(&v, "0", "\\sin(10^{100})");
    assert_budget(&v, "1", "1e999999");
    // Within the budget these are computed exactly.
    let big = v.equivalent("2^{2^{16}}", "2 \\cdot 2^{65535}");
    assert!(big.correct, "{}", big.reason);
    assert_eq!(big.rule, Rule::Rational);
}

#[test]
fn deep_nesting_and_long_inputs_are_refused() {
    let v = Verifier::default();
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    assert_budget(&v, "1", &deep);
    let fracs = format!("{}1{}", "\\frac{1}{".repeat(300), "}".repeat(300));
    assert_budget(&v, "1", &fracs);
    let powers = format!("2{}", "^{2".repeat(300)) + &"}".repeat(300);
    assert_budget(&v, "1", &powers);
    let long = "1+".repeat(100_000) + "1";
    assert_budget(&v, "1", &long);
    let huge_response = format!("{}\\boxed{{1}}", "a".repeat(2 << 20));
    let verdict = v.verify("1", &huge_response);
    assert_eq!(verdict.rule, Rule::Budget);
}

#[test]
fn operation_and_set_budgets_fire() {
    let tight = Verifier::default().with_budget(Budget {
        max_ops: 100,
        ..Budget::default()
    });
    let sum = vec!["1"; 300].join("+");
    assert_budget(&tight, "300", &sum);
    assert!(Verifier::default().equivalent("300", &sum).correct);

    let v = Verifier::default();
    let a: Vec<String> = (0..100).map(|k| k.to_string()).collect();
    let b: Vec<String> = (0..100).rev().map(|k| k.to_string()).collect();
    assert_budget(&v, &a.join(","), &b.join(","));
}

const PIECES: &[&str] = &[
    "0",
    "1",
    "2",
    "9",
    "12",
    "0.5",
    ".3",
    "1e5",
    "x",
    "y",
    "n",
    "e",
    "i",
    "\\pi",
    "\\infty",
    "+",
    "-",
    "*",
    "/",
    "^",
    "_",
    "!",
    "=",
    "<",
    "\\le",
    "\\ge",
    ",",
    ";",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\\{",
    "\\}",
    "|",
    "\\frac",
    "\\dfrac",
    "\\sqrt",
    "\\sqrt[3]",
    "\\binom",
    "\\sin",
    "\\log",
    "\\ln",
    "\\cdot",
    "\\times",
    "\\pm",
    "\\cup",
    "\\in",
    "\\left(",
    "\\right)",
    "\\text{cm}",
    "\\text{ or }",
    "^\\circ",
    "\\%",
    "\\$",
    "\\!",
    ",\\!",
    "\\begin{pmatrix}",
    "&",
    "\\\\",
    "\\end{pmatrix}",
    "\\lfloor",
    "\\rfloor",
    "\\boxed{",
    "\\mathrm{",
    " ",
    "  ",
    "'",
    "\\",
    "\\unknown",
    "é",
    "∞",
    "−",
    "{}",
    "10^{10^{10}}",
    "99!",
    "\\mp",
    "\\ne",
    "\\approx",
    "abc",
];

fn random_latex(rng: &mut ChaCha8Rng) -> String {
    let n = rng.random_range(0..40);
    (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

#[test]
fn random_strings_finish_without_panicking() {
    let v = Verifier::default();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..3000 {
        let a = random_latex(&mut rng);
        let b = random_latex(&mut rng);
        let verdict = v.equivalent(&a, &b);
        assert_ne!(verdict.rule, Rule::Internal, "{a:?} vs {b:?}");
        let response = format!("Reasoning... \\boxed{{{b}}}");
        assert_ne!(
            v.verify(&a, &response).rule,
            Rule::Internal,
            "{a:?} vs {response:?}"
        );
        let _ = classify_answer(&a);
        let _ = extract_answer(&a);
        // Every answer equals itself (string rule first), however odd.
        if !a.trim().is_empty() {
            let own = v.equivalent(&a, &a);
            assert!(
                own.correct || own.rule == Rule::Unparsed,
                "{a:?} against itself: {}",
                own.reason
            );
        }
    }
}

#[test]
fn random_arithmetic_agrees_with_itself_rewritten() {
    // x + y and y + x built from random small rationals: always equal, never over budget.
    let v = Verifier::default();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..300 {
        let p: i64 = rng.random_range(-50..50);
        let q: i64 = rng.random_range(1..20);
        let r: i64 = rng.random_range(-50..50);
        let s: i64 = rng.random_range(1..20);
        let a = format!("\\frac{{{p}}}{{{q}}} + \\frac{{{r}}}{{{s}}}");
        let b = format!("\\frac{{{}}}{{{}}}", p * s + r * q, q * s);
        let verdict = v.equivalent(&a, &b);
        assert!(verdict.correct, "{a} vs {b}: {}", verdict.reason);
        let off = format!("\\frac{{{}}}{{{}}}", p * s + r * q + 1, q * s);
        assert!(!v.equivalent(&a, &off).correct, "{a} vs {off}");
    }
}
