//! Agreement with Math-Verify (pinned `math-verify==0.9.0`) on pairs built from the benchmark
//! answers: true answers, reformatted answers and perturbed answers. The pairs and
//! Math-Verify's labels are in `fixtures/verifier/mathverify_agreement.jsonl`, made by
//! `fixtures/verifier/make_mathverify_fixture.py`. Every disagreement is listed below with the
//! reason this verifier's label is the right one; an unlisted disagreement fails the test, and
//! so does a listed one that no longer disagrees.

use prof_grpo::reward::verifier::Verifier;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/verifier/mathverify_agreement.jsonl");

/// Why we are right, by kind of disagreement.
const BOLD_FINAL_ANSWER: &str = "we are right because the response commits to its answer with an explicit \
     answer phrase, `Final Answer: **X**`, and X equals the gold answer; Math-Verify does not \
     extract a bold answer that is not a plain number (the `Final Answer: **73**` false negative)";
const TINY_POWERS: &str = "we are right because 1/2^n and 1/2^(n-1) differ by a factor of two: exact \
     rational arithmetic tells them apart, while a numeric comparison with an absolute tolerance \
     takes both tiny values for zero (the `1/2^99` = `1/2^98` false positive)";
const TINY_FACTORIALS: &str = "we are right because 1/n! and 1/(n+2)! differ by a factor of (n+1)(n+2): \
     exact rational arithmetic tells them apart, while a numeric comparison with an absolute \
     tolerance takes both tiny values for zero (the `1/2004!` = `1/2006!` false positive)";
const PROSE_WITHOUT_SPACES: &str = "we are right because the gold answer is prose (conditions on a and b \
     written in words) and outside maths mode spaces are significant: \"isanarbitraryinteger\" is \
     not the gold's text; Math-Verify compares only the formula f(x)=ax+b and ignores the stated \
     conditions";

/// (gold, pred, our label, why we are right). Math-Verify's label is the opposite.
const DISAGREEMENTS: &[(&str, &str, bool, &str)] = &[
    (
        "3\\sqrt{13}",
        "Final Answer: **3\\sqrt{13}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{9}{100}",
        "Final Answer: **\\dfrac{9}{100}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]",
        "Final Answer: **\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\sqrt{51}",
        "Final Answer: **\\sqrt{51}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "15x - 80",
        "Final Answer: **15x - 80**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "6\\sqrt{2}",
        "Final Answer: **6\\sqrt{2}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "16 \\sqrt{3}",
        "Final Answer: **16 \\sqrt{3}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "16 \\sqrt{3}",
        "Final Answer: **16 \\sqrt3**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    ("5r^5", "Final Answer: **5r^5**", true, BOLD_FINAL_ANSWER),
    ("1+2i", "Final Answer: **1+2i**", true, BOLD_FINAL_ANSWER),
    (
        "x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1",
        "Final Answer: **x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "70 \\sqrt{2}",
        "Final Answer: **70 \\sqrt2**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\text{Navin}",
        "Final Answer: **\\text{Navin}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{12}{5}",
        "Final Answer: **\\dfrac{12}{5}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "f(x)=a x+b$, where $b$ is an arbitrary integer, and $a$ is an arbitrary positive integer with $\\mho(a)=0",
        "Therefore the answer is $\\boxed{f(x)=ax+b$,where$b$isanarbitraryinteger,and$a$isanarbitrarypositiveintegerwith$\\mho(a)=0}$.",
        false,
        PROSE_WITHOUT_SPACES,
    ),
    (
        "\\sqrt{26}",
        "Final Answer: **\\sqrt{26}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "8 \\sqrt{2}",
        "Final Answer: **8 \\sqrt2**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{n(n+1)}{2}",
        "Final Answer: **\\dfrac{n(n+1)}{2}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    ("1/3", "Final Answer: **1/3**", true, BOLD_FINAL_ANSWER),
    (
        "n(n-1)",
        "Final Answer: **n(n-1)**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "1.45e-5",
        "Final Answer: **1.45e-5**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{d x}{d t}=k x-a",
        "Final Answer: **\\frac{d x}{d t}=k x-a**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{2 \\pi c^{2} R^{2}}{\\lambda^{5}\\left[e^{h c /(\\lambda k T)}-1\\right] d^{2}}",
        "Final Answer: **\\frac{2\\pic^{2}R^{2}}{\\lambda^{5}\\left[e^{hc/(\\lambdakT)}-1\\right]d^{2}}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "x^{\\prime}+\\frac{r}{V} x-r c=0",
        "Final Answer: **x^{\\prime}+\\frac{r}{V} x-r c=0**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "x^{\\prime}+\\frac{r}{V} x-r c=0",
        "Final Answer: **x^{\\prime}+\\dfrac{r}{V} x-r c=0**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{1}{2^{371}}",
        "**Final Answer**\n\\[\n\\boxed{\\frac{1}{2^{370}}}\n\\]",
        false,
        TINY_POWERS,
    ),
    (
        "\\frac{1}{371!}",
        "**Final Answer**\n\\[\n\\boxed{\\frac{1}{373!}}\n\\]",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{385}}",
        "Final Answer: **\\frac{1}{2^{385}}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{1}{385!}",
        "After simplifying, the answer is $\\frac{1}{387!}$.",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{468}}",
        "We check the cases and find \\boxed{\\frac{1}{2^{467}}} works, as required.",
        false,
        TINY_POWERS,
    ),
    (
        "\\frac{1}{468!}",
        "Final Answer: **\\frac{1}{468!}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{1}{468!}",
        "Final Answer: The final answer is $\\frac{1}{470!}$. I hope it is correct.",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{480}}",
        "After simplifying, the answer is $\\frac{1}{2^{479}}$.",
        false,
        TINY_POWERS,
    ),
    (
        "\\frac{1}{480!}",
        "Final Answer: **\\frac{1}{480!}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{1}{480!}",
        "After simplifying, the answer is $\\frac{1}{482!}$.",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{540}}",
        "Therefore the answer is $\\boxed{\\frac{1}{2^{539}}}$.",
        false,
        TINY_POWERS,
    ),
    (
        "\\frac{1}{540!}",
        "Final Answer: The final answer is $\\frac{1}{542!}$. I hope it is correct.",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{601}}",
        "**Final Answer**\n\\[\n\\boxed{\\frac{1}{2^{600}}}\n\\]",
        false,
        TINY_POWERS,
    ),
    (
        "\\frac{1}{601!}",
        "Final Answer: The final answer is $\\frac{1}{603!}$. I hope it is correct.",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{699}}",
        "Therefore the answer is $\\boxed{\\frac{1}{2^{698}}}$.",
        false,
        TINY_POWERS,
    ),
    (
        "\\frac{1}{699!}",
        "**Final Answer**\n\\[\n\\boxed{\\frac{1}{701!}}\n\\]",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{721}}",
        "Final Answer: The final answer is $\\frac{1}{2^{720}}$. I hope it is correct.",
        false,
        TINY_POWERS,
    ),
    (
        "\\frac{1}{721!}",
        "After simplifying, the answer is $\\frac{1}{723!}$.",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{809}}",
        "Final Answer: **\\frac{1}{2^{809}}**",
        true,
        BOLD_FINAL_ANSWER,
    ),
    (
        "\\frac{1}{809!}",
        "We check the cases and find \\boxed{\\frac{1}{811!}} works, as required.",
        false,
        TINY_FACTORIALS,
    ),
    (
        "\\frac{1}{2^{902}}",
        "**Final Answer**\n\\[\n\\boxed{\\frac{1}{2^{901}}}\n\\]",
        false,
        TINY_POWERS,
    ),
];

#[test]
fn agrees_with_math_verify_or_explains_why_not() {
    let verifier = Verifier::default();
    let mut unexplained = Vec::new();
    let mut explained_seen = vec![false; DISAGREEMENTS.len()];
    let mut total = 0;
    for (k, line) in FIXTURE.lines().enumerate() {
        let row: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("fixture line {}: {e}", k + 1));
        let gold = row["gold"].as_str().expect("gold");
        let pred = row["pred"].as_str().expect("pred");
        let theirs = row["math_verify"].as_bool().expect("math_verify");
        let verdict = verifier.verify(gold, pred);
        total += 1;
        if verdict.correct == theirs {
            continue;
        }
        match DISAGREEMENTS
            .iter()
            .position(|(g, p, _, _)| *g == gold && *p == pred)
        {
            Some(i) => {
                explained_seen[i] = true;
                assert_eq!(
                    DISAGREEMENTS[i].2, verdict.correct,
                    "listed label for {gold:?} / {pred:?} is not ours"
                );
            }
            None => unexplained.push(format!(
                "    ({gold:?}, {pred:?}, {}, \"\"), // {}: {} [{}]",
                verdict.correct,
                verdict.rule,
                verdict.reason,
                row["variant"].as_str().unwrap_or("")
            )),
        }
    }
    assert!(total >= 300, "fixture has only {total} pairs");
    let stale: Vec<_> = DISAGREEMENTS
        .iter()
        .zip(&explained_seen)
        .filter(|(_, seen)| !**seen)
        .map(|((g, p, _, _), _)| format!("{g:?} / {p:?}"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed disagreements that no longer occur: {stale:#?}"
    );
}
