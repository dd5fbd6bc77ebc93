//! Table of (gold, response, expected) cases covering every rule of the verifier, including
//! the known false positives and negatives of lenient graders.

use prof_grpo::reward::verifier::{Rule, Verifier};

/// (gold, response, expected).
const CASES: &[(&str, &str, bool)] = &[
    // --- Extraction: last box, \fbox, unbraced \boxed, answer phrases, no number fallback.
    ("73", "Final Answer: **73**", true),
    ("73", "**Final Answer**\n\n73", true),
    ("73", "The final answer is $73$.", true),
    ("12", "The answer is: 12", true),
    ("5", "so x = 5 and the last number is 5", false),
    ("2", "First \\boxed{1}, then corrected: \\boxed{2}", true),
    ("1", "First \\boxed{1}, then corrected: \\boxed{2}", false),
    ("7", "\\fbox{7}", true),
    ("5", "Thus \\boxed 5.", true),
    (
        "\\frac{1}{2}",
        "We get \\boxed{\\frac{1}{2}} as required.",
        true,
    ),
    (
        "3",
        "\\boxed{3}. (Put your final answer within \\boxed{}.)",
        true,
    ),
    ("4", "We conclude \\boxed{4", false),
    ("\\{1,2\\}", "\\boxed{\\{1, 2\\}}", true),
    (
        "\\frac{1}{2}",
        "The final answer is $\\dfrac12$. I hope it is correct.",
        true,
    ),
    // --- Normalisation.
    ("\\frac{1}{2}", "\\boxed{\\dfrac{1}{2}}", true),
    ("\\frac{1}{2}", "\\boxed{\\tfrac12}", true),
    ("\\frac12", "\\boxed{\\frac{1}{2}}", true),
    ("\\sqrt{2}", "\\boxed{\\sqrt2}", true),
    ("(1,2)", "\\boxed{\\left(1,2\\right)}", true),
    ("90^\\circ", "\\boxed{90}", true),
    ("90", "\\boxed{90^{\\circ}}", true),
    ("30", "\\boxed{30\\text{ degrees}}", true),
    ("15", "\\boxed{15 \\text{ cm}}", true),
    ("15", "\\boxed{15\\mbox{ cm}^2}", true),
    ("18.90", "\\boxed{\\$18.90}", true),
    ("18.90", "\\boxed{18.9 \\text{ dollars}}", true),
    ("62.5\\%", "\\boxed{62.5}", true),
    ("62.5%", "\\boxed{62.5\\%}", true),
    ("10\\%", "\\boxed{0.1}", true),
    ("10\\%", "\\boxed{11}", false),
    ("x", "\\boxed{\\mathbf{x}}", true),
    ("10080", "\\boxed{10,080}", true),
    ("10,\\!080", "\\boxed{10080}", true),
    ("1000", "\\boxed{1,000}", true),
    ("1,3", "\\boxed{13}", false),
    ("2500,7500", "\\boxed{25007500}", false),
    ("12", "\\boxed{12.}", true),
    ("5", "\\boxed{x=5}", true),
    ("5", "\\boxed{y = 5}", true),
    ("x=5", "\\boxed{5}", true),
    ("5", "\\boxed{x = 6}", false),
    ("2x+3", "\\boxed{ 2 x + 3 }", true),
    ("\\text{Evelyn}", "\\boxed{Evelyn}", true),
    ("\\text{Evelyn}", "\\boxed{\\text{evelyn}}", true),
    ("\\text{Evelyn}", "\\boxed{\\text{Navin}}", false),
    ("\\text{(B)}", "\\boxed{B}", true),
    ("\\text{(B)}", "\\boxed{(C)}", false),
    ("\\text{east}", "\\boxed{\\text{seat}}", false),
    ("1 \\frac{4}{5}", "\\boxed{\\frac{9}{5}}", true),
    ("137 \\frac{1}{2}", "\\boxed{137.5}", true),
    ("\\mathrm{5}", "\\boxed{5}", true),
    ("6.5 \\mathrm{~m}", "\\boxed{6.5}", true),
    ("27 miles", "\\boxed{27}", true),
    // --- Exact rational arithmetic.
    ("\\frac{1}{2004!}", "\\boxed{\\frac{1}{2006!}}", false),
    (
        "\\frac{1}{2004!}",
        "\\boxed{\\frac{2005 \\cdot 2006}{2006!}}",
        true,
    ),
    ("\\frac{1}{2^{99}}", "\\boxed{\\frac{1}{2^{98}}}", false),
    ("\\frac{1}{2^{99}}", "\\boxed{2^{-99}}", true),
    (
        "\\frac{1}{2^{99}}",
        "\\boxed{\\frac{1}{2 \\cdot 2^{98}}}",
        true,
    ),
    ("0.5", "\\boxed{\\frac{1}{2}}", true),
    ("\\frac{1}{2}", "\\boxed{0.5}", true),
    ("12", "\\boxed{12.0}", true),
    ("\\frac{1}{3}", "\\boxed{0.3333}", false),
    ("2", "\\boxed{2.00001}", false),
    ("\\pi", "\\boxed{3.14}", false),
    ("\\frac{3}{4}", "\\boxed{0.75}", true),
    ("-\\frac{3}{8}", "\\boxed{-0.375}", true),
    ("\\frac{-3}{8}", "\\boxed{-\\frac{3}{8}}", true),
    ("\\frac{6}{8}", "\\boxed{\\frac34}", true),
    ("2^{10}", "\\boxed{1024}", true),
    ("2^{1009}", "\\boxed{2^{1008}}", false),
    ("2^{1009}", "\\boxed{2 \\cdot 2^{1008}}", true),
    (
        "\\frac{100!}{2^{50}}",
        "\\boxed{\\frac{100!}{2^{49}}}",
        false,
    ),
    (
        "\\frac{100!}{2^{50}}",
        "\\boxed{\\frac{2 \\cdot 100!}{2^{51}}}",
        true,
    ),
    ("120", "\\boxed{5!}", true),
    ("\\binom{10}{3}", "\\boxed{120}", true),
    ("4.5e33", "\\boxed{4.5 \\times 10^{33}}", true),
    ("3e8", "\\boxed{3 \\cdot 10^8}", true),
    ("1e-5", "\\boxed{0.00001}", true),
    (".0000672", "\\boxed{6.72 \\times 10^{-5}}", true),
    ("025", "\\boxed{25}", true),
    ("27.0", "\\boxed{27}", true),
    ("-1", "\\boxed{- 1}", true),
    ("3", "\\boxed{-3}", false),
    ("2021 \\cdot 505 \\cdot 337", "\\boxed{343943885}", true),
    ("2021 \\cdot 505 \\cdot 337", "\\boxed{343943886}", false),
    (
        "\\frac{4 \\cdot 999^{4}}{27}",
        "\\boxed{147556443852}",
        true,
    ),
    ("8^{2/3}", "\\boxed{4}", true),
    ("\\sqrt{16}", "\\boxed{4}", true),
    ("\\sqrt[3]{27}", "\\boxed{3}", true),
    ("\\log_2 8", "\\boxed{3}", true),
    ("1.5", "\\boxed{\\frac{3}{2}}", true),
    ("1.50", "\\boxed{1.5}", true),
    ("0.1", "\\boxed{\\frac{1}{9}}", false),
    (
        "\\frac{2016}{2017^{2}}",
        "\\boxed{\\frac{2016}{4068289}}",
        true,
    ),
    ("2^{-2 / 3}", "\\boxed{\\frac{1}{\\sqrt[3]{4}}}", true),
    // --- High-precision evaluation of exact irrational expressions.
    (
        "\\frac{1}{\\sqrt{2}}",
        "\\boxed{\\frac{\\sqrt{2}}{2}}",
        true,
    ),
    ("4\\sqrt{2}", "\\boxed{4}", false),
    ("4", "\\boxed{4\\sqrt{2}}", false),
    ("2\\sqrt{5}", "\\boxed{\\sqrt{20}}", true),
    ("11\\sqrt2", "\\boxed{\\sqrt{242}}", true),
    (
        "\\frac{3\\sqrt{3}}{4}",
        "\\boxed{\\frac{3}{4}\\sqrt3}",
        true,
    ),
    (
        "\\frac{\\sqrt{3}}{3}",
        "\\boxed{\\frac{1}{\\sqrt{3}}}",
        true,
    ),
    ("1+2\\sqrt{3}", "\\boxed{2\\sqrt3+1}", true),
    ("12\\pi", "\\boxed{\\pi \\cdot 12}", true),
    ("12\\pi", "\\boxed{37.699}", false),
    ("\\frac{20000}{\\pi}", "\\boxed{20000\\pi^{-1}}", true),
    ("\\sqrt{2}+\\sqrt{3}", "\\boxed{\\sqrt{5+2\\sqrt{6}}}", true),
    ("\\sqrt{2}+\\sqrt{3}", "\\boxed{\\sqrt{5}}", false),
    (
        "\\frac{\\log 2}{\\log 2-\\log 3}",
        "\\boxed{\\frac{\\ln 2}{\\ln(2/3)}}",
        true,
    ),
    ("\\log_{2} 3", "\\boxed{\\frac{\\ln 3}{\\ln 2}}", true),
    ("-\\frac{\\pi}{6}", "\\boxed{\\arcsin(-1/2)}", true),
    ("\\frac{\\pi}{2}", "\\boxed{\\arccos 0}", true),
    ("\\frac{1}{2}", "\\boxed{\\sin(\\pi/6)}", true),
    ("e^2", "\\boxed{e \\cdot e}", true),
    ("e", "\\boxed{2.718}", false),
    (
        "\\frac{8}{\\sqrt[3]{7}}",
        "\\boxed{\\frac{8\\sqrt[3]{49}}{7}}",
        true,
    ),
    ("2+\\pi", "\\boxed{\\pi+2}", true),
    ("3.14", "\\boxed{\\pi}", false),
    ("\\sqrt{2}", "\\boxed{1.41421356}", false),
    (
        "\\frac{9}{32} \\sqrt{2}",
        "\\boxed{\\frac{9}{16\\sqrt{2}}}",
        true,
    ),
    ("4 \\pi^{2}-1", "\\boxed{(2\\pi-1)(2\\pi+1)}", true),
    // --- Complex numbers.
    ("-2 + 7i", "\\boxed{7i-2}", true),
    ("1+2i", "\\boxed{1-2i}", false),
    ("2i", "\\boxed{(1+i)^2}", true),
    ("1+\\sqrt{3} i", "\\boxed{1 + i\\sqrt{3}}", true),
    (
        "\\ln 2 + i\\pi / 3",
        "\\boxed{\\ln 2 + \\frac{\\pi i}{3}}",
        true,
    ),
    ("-2+2 \\sqrt{3} i", "\\boxed{4e^{2\\pi i/3}}", true),
    ("-8-8 \\sqrt{3} i", "\\boxed{-8+8\\sqrt3 i}", false),
    // --- Expressions in variables at random points.
    ("8n^2 + 4n + 1", "\\boxed{1 + 4n + 8n^2}", true),
    ("8n^2 + 4n + 1", "\\boxed{8n^2 + 4n}", false),
    ("(a+5)(b+2)", "\\boxed{ab + 2a + 5b + 10}", true),
    ("(a+5)(b+2)", "\\boxed{ab + 2a + 5b + 11}", false),
    (
        "x^5 - x^4 + x^3 - x^2 + x - 1",
        "\\boxed{(x-1)(x^4+x^2+1)}",
        true,
    ),
    ("\\frac{n(n+1)}{2}", "\\boxed{\\frac{n^2+n}{2}}", true),
    ("\\frac{n(n+1)}{2}", "\\boxed{\\binom{n+1}{2}}", true),
    (
        "\\frac{11+9a}{20}",
        "\\boxed{\\frac{11}{20}+\\frac{9a}{20}}",
        true,
    ),
    ("2^{k-1}", "\\boxed{\\frac{2^k}{2}}", true),
    ("2^{k}", "\\boxed{k^2}", false),
    (
        "\\lfloor n/2 \\rfloor",
        "\\boxed{\\left\\lfloor \\frac{n}{2} \\right\\rfloor}",
        true,
    ),
    (
        "\\lfloor n/2 \\rfloor",
        "\\boxed{\\lceil n/2 \\rceil}",
        false,
    ),
    ("n(n-1)", "\\boxed{n^2-n}", true),
    ("\\cot x", "\\boxed{\\frac{\\cos x}{\\sin x}}", true),
    (
        "\\sqrt{2} \\cos (2 t-\\pi / 4)",
        "\\boxed{\\cos 2t + \\sin 2t}",
        true,
    ),
    ("x^2", "\\boxed{|x|^2}", true),
    ("|x|", "\\boxed{x}", false),
    ("\\frac{x^2-1}{x-1}", "\\boxed{x+1}", true),
    ("6r^2-4r-24", "\\boxed{2(3r^2-2r-12)}", true),
    ("e^{t} / 3", "\\boxed{\\frac{e^t}{3}}", true),
    ("p - q", "\\boxed{q - p}", false),
    ("2k+2", "\\boxed{2(k+1)}", true),
    ("3R^2", "\\boxed{3r^2}", false),
    ("(n-2) 2^{n}+1", "\\boxed{n 2^n - 2^{n+1} + 1}", true),
    ("\\frac{(n-1)!}{2}", "\\boxed{\\frac{n!}{2n}}", true),
    // --- Tuples and intervals, brackets respected.
    ("(2,4)", "\\boxed{(4,2)}", false),
    ("(-1,6)", "\\boxed{(-1, 6)}", true),
    (
        "\\left( 3, \\frac{\\pi}{2} \\right)",
        "\\boxed{(3, \\pi/2)}",
        true,
    ),
    ("(1,-16,-4,43)", "\\boxed{(1,-16,-4,42)}", false),
    ("(1,2)", "\\boxed{(1,2,3)}", false),
    ("[2,5)", "\\boxed{[2,5)}", true),
    ("[2,5)", "\\boxed{[2,5]}", false),
    ("(3,4]", "\\boxed{(3,4)}", false),
    ("(-\\infty, 0]", "\\boxed{x \\le 0}", true),
    ("(-\\infty, 0]", "\\boxed{(-\\infty, 0)}", false),
    ("(2,\\infty)", "\\boxed{x>2}", true),
    ("(2,\\infty)", "\\boxed{(2, -\\infty)}", false),
    ("x \\in [-2,7]", "\\boxed{[-2,7]}", true),
    ("x \\in [-2,7]", "\\boxed{-2 \\le x \\le 7}", true),
    ("x \\in [-2,7]", "\\boxed{-2 < x \\le 7}", false),
    (
        "(-\\infty, 2) \\cup (3, \\infty)",
        "\\boxed{(3,\\infty) \\cup (-\\infty,2)}",
        true,
    ),
    (
        "(-\\infty, 2) \\cup (3, \\infty)",
        "\\boxed{(-\\infty, 2] \\cup (3, \\infty)}",
        false,
    ),
    (
        "(-\\infty, 2) \\cup (3, \\infty)",
        "\\boxed{x < 2 \\text{ or } x > 3}",
        true,
    ),
    (
        "\\left(\\frac{3}{5},\\frac{8}{3}\\right]",
        "\\boxed{(0.6, \\frac{8}{3}]}",
        true,
    ),
    (
        "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]",
        "\\boxed{[\\pi^2/8, 5\\pi^2/4]}",
        true,
    ),
    ("k \\geqslant 2", "\\boxed{[2, \\infty)}", true),
    (
        "(-\\infty, 0) \\cup\\{1\\}",
        "\\boxed{\\{1\\} \\cup (-\\infty, 0)}",
        true,
    ),
    // --- Sets and lists, unordered.
    ("\\{1,2\\}", "\\boxed{2,1}", true),
    ("1,3,5", "\\boxed{5, 3, 1}", true),
    ("1,3,5", "\\boxed{1, 3}", false),
    ("-2,1", "\\boxed{\\{1, -2\\}}", true),
    (
        "1 \\pm \\sqrt{19}",
        "\\boxed{1+\\sqrt{19}, 1-\\sqrt{19}}",
        true,
    ),
    ("1 \\pm \\sqrt{19}", "\\boxed{1+\\sqrt{19}}", false),
    (
        "\\{1\\pm\\sqrt{5},-2\\}",
        "\\boxed{-2, 1-\\sqrt5, 1+\\sqrt5}",
        true,
    ),
    (
        "3 \\pm 2 \\sqrt{2}",
        "\\boxed{3+2\\sqrt2 \\text{ and } 3-2\\sqrt2}",
        true,
    ),
    ("\\{5\\}", "\\boxed{5}", true),
    ("\\emptyset", "\\boxed{\\varnothing}", true),
    ("\\emptyset", "\\boxed{\\{0\\}}", false),
    ("(1,1), (3,2)", "\\boxed{(3,2),(1,1)}", true),
    ("(1,1), (3,2)", "\\boxed{(1,1),(2,3)}", false),
    ("f(x)=x,f(x)=-x", "\\boxed{f(x)=-x, f(x)=x}", true),
    ("a=2, a=-6-4 \\sqrt{2}", "\\boxed{2, -6-4\\sqrt2}", true),
    (
        "x = 1 \\pm \\sqrt{2}",
        "\\boxed{1-\\sqrt2, 1+\\sqrt2}",
        true,
    ),
    // --- Matrices and vectors.
    (
        "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}",
        "\\boxed{\\begin{bmatrix} -1 & 0 \\\\ 0 & -1 \\end{bmatrix}}",
        true,
    ),
    (
        "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}",
        "\\boxed{\\begin{pmatrix} -1 & 0 \\\\ 0 & 1 \\end{pmatrix}}",
        false,
    ),
    (
        "\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}",
        "\\boxed{\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}}",
        true,
    ),
    (
        "\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}",
        "\\boxed{(1/5, -18/5)}",
        true,
    ),
    (
        "\\begin{pmatrix} 1 & 2 \\end{pmatrix}",
        "\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}",
        false,
    ),
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        "\\boxed{(1,2,3,4)}",
        false,
    ),
    // --- Equations: up to a non-zero multiple and side swap.
    ("y = 2x + 3", "\\boxed{2x - y + 3 = 0}", true),
    ("3x-y+13=0", "\\boxed{3x+4y+14=0}", false),
    ("y = -2x", "\\boxed{2x + y = 0}", true),
    ("y = -2x", "\\boxed{y = 2x}", false),
    (
        "5x - 7y + 11z + 4 = 0",
        "\\boxed{-10x + 14y - 22z - 8 = 0}",
        true,
    ),
    (
        "5x - 7y + 11z + 4 = 0",
        "\\boxed{5x - 7y + 11z - 4 = 0}",
        false,
    ),
    ("y = 2x+3", "\\boxed{2x+3 = y}", true),
    ("x^2 + y^2 = 1", "\\boxed{y^2 = 1 - x^2}", true),
    ("x^2 + y^2 = 1", "\\boxed{x^2 + y^2 = 2}", false),
    ("f(x)=2 x", "\\boxed{f(x) = 2x}", true),
    ("f(x)=2 x", "\\boxed{2x}", true),
    ("f(n)=n^{2}", "\\boxed{f(n) = n^3}", false),
    ("y = 2x + 3", "\\boxed{2x+3}", true),
    // --- Inequalities.
    ("x < y", "\\boxed{y > x}", true),
    ("x < y", "\\boxed{x \\le y}", false),
    ("x < y", "\\boxed{2x < 2y}", true),
    ("x < y", "\\boxed{-x < -y}", false),
    ("k \\ge 2", "\\boxed{k \\geq 2}", true),
    // --- Budgets: over-budget answers are "not equal", never a hang.
    ("1", "\\boxed{10^{10^{10}}}", false),
    ("1", "\\boxed{1000000!}", false),
    ("10^{10^{10}}", "\\boxed{10^{10^{10}}}", true),
    ("10^{10^{10}}", "\\boxed{10^{10^{10}}+1}", false),
];

#[test]
fn table_has_enough_cases() {
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
}

#[test]
fn every_case_matches() {
    let v = Verifier::default();
    let mut failures = Vec::new();
    for (gold, response, expected) in CASES {
        let verdict = v.verify(gold, response);
        if verdict.correct != *expected {
            failures.push(format!(
                "gold {gold:?} response {response:?}: expected {expected}, got {} ({}: {})",
                verdict.correct, verdict.rule, verdict.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn comparisons_are_symmetric() {
    let v = Verifier::default();
    for (gold, response, _) in CASES {
        let Some(pred) = prof_grpo::reward::verifier::extract_answer(response) else {
            continue;
        };
        let ab = v.equivalent(gold, &pred).correct;
        let ba = v.equivalent(&pred, gold).correct;
        assert_eq!(ab, ba, "asymmetric: {gold:?} vs {pred:?}");
    }
}

/// (gold, response, the rule that must decide).
const RULES: &[(&str, &str, Rule)] = &[
    ("5", "no box and no phrase", Rule::NoAnswer),
    ("\\frac{1}{2}", "\\boxed{\\dfrac{1}{2}}", Rule::StringEqual),
    (
        "\\frac{1}{2004!}",
        "\\boxed{\\frac{1}{2006!}}",
        Rule::Rational,
    ),
    ("\\frac{1}{2}", "\\boxed{0.5}", Rule::Rational),
    (
        "\\frac{1}{\\sqrt{2}}",
        "\\boxed{\\frac{\\sqrt{2}}{2}}",
        Rule::HighPrecision,
    ),
    ("4\\sqrt{2}", "\\boxed{4}", Rule::HighPrecision),
    (
        "8n^2 + 4n + 1",
        "\\boxed{1 + 4n + 8n^2}",
        Rule::RandomPoints,
    ),
    ("(2,4)", "\\boxed{(4,2)}", Rule::Tuple),
    ("[2,5)", "\\boxed{[2,5]}", Rule::Interval),
    ("(-\\infty, 0]", "\\boxed{x \\le 0}", Rule::Interval),
    ("1,3,5", "\\boxed{5, 3, 1}", Rule::Set),
    (
        "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
        "\\boxed{\\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}}",
        Rule::Matrix,
    ),
    ("y = 2x + 3", "\\boxed{2x - y + 3 = 0}", Rule::Equation),
    ("3x-y+13=0", "\\boxed{3x+4y+14=0}", Rule::Equation),
    ("x < y", "\\boxed{y > x}", Rule::Inequality),
    ("\\text{Evelyn}", "\\boxed{\\text{Navin}}", Rule::Text),
    ("(1,2)", "\\boxed{5}", Rule::Mismatch),
    (
        "np.arcsin(10/13)",
        "\\boxed{np.arcsin(10/12)}",
        Rule::Unparsed,
    ),
    ("1", "\\boxed{10^{10^{10}}}", Rule::Budget),
    ("1", "\\boxed{1000000!}", Rule::Budget),
];

#[test]
fn the_expected_rule_decides() {
    let v = Verifier::default();
    for (gold, response, rule) in RULES {
        let verdict = v.verify(gold, response);
        assert_eq!(
            verdict.rule, *rule,
            "{gold:?} vs {response:?}: {}",
            verdict.reason
        );
    }
}

#[test]
fn lenient_tolerance_is_opt_in_and_only_for_decimals() {
    let strict = Verifier::default();
    let lenient = Verifier::default().with_numeric_tolerance(1e-3);
    let cases = [
        ("\\frac{1}{3}", "\\boxed{0.3333}", false, true),
        ("\\pi", "\\boxed{3.1416}", false, true),
        ("2", "\\boxed{2.1}", false, false),
        (
            "\\frac{1}{2004!}",
            "\\boxed{\\frac{1}{2006!}}",
            false,
            false,
        ),
        ("4.5e33", "\\boxed{4.499 \\times 10^{33}}", false, true),
        ("1000", "\\boxed{1001}", false, false),
    ];
    for (gold, response, s, l) in cases {
        assert_eq!(
            strict.verify(gold, response).correct,
            s,
            "strict {gold} {response}"
        );
        let lv = lenient.verify(gold, response);
        assert_eq!(lv.correct, l, "lenient {gold} {response}: {}", lv.reason);
    }
    assert_eq!(
        lenient.verify("\\pi", "\\boxed{3.1416}").rule,
        Rule::NumericTolerance
    );
}
