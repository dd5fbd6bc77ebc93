//! The built-in toy set: small arithmetic problems ("What is 3+4*2?") with verifiable integer
//! answers and step-by-step reference solutions, plus corrupted solutions whose steps carry
//! right/wrong labels (for a supervised warm-up and a toy process reward model).
//!
//! A solution reduces the expression one operation per step, multiplications first, then left
//! to right; steps are separated by a blank line and the last one boxes the answer:
//!
//! ```text
//! 4*2 = 8, so we get 3+8.
//!
//! 3+8 = 11.
//!
//! The final answer is \boxed{11}.
//! ```

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::problem::Problem;

/// Source name of toy problems.
pub const TOY_SOURCE: &str = "toy_arithmetic";

/// Blank line between solution steps (the reference's step style; not the PRM's `<extra_0>`).
pub const STEP_BREAK: &str = "\n\n";

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToyOp {
    /// `+`
    #[serde(rename = "+")]
    Add,
    /// `-`
    #[serde(rename = "-")]
    Sub,
    /// `*`
    #[serde(rename = "*")]
    Mul,
}

impl ToyOp {
    /// The operator character.
    pub fn symbol(self) -> char {
        match self {
            Self::Add => '+',
            Self::Sub => '-',
            Self::Mul => '*',
        }
    }

    /// Applies the operator.
    pub fn apply(self, a: i64, b: i64) -> i64 {
        match self {
            Self::Add => a + b,
            Self::Sub => a - b,
            Self::Mul => a * b,
        }
    }
}

/// Shape of generated expressions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToyConfig {
    /// Fewest operands (at least 2).
    pub min_operands: usize,
    /// Most operands.
    pub max_operands: usize,
    /// Operands are drawn from `1..=max_operand`.
    pub max_operand: i64,
    /// Operators to draw from.
    pub operators: Vec<ToyOp>,
}

impl Default for ToyConfig {
    fn default() -> Self {
        Self {
            min_operands: 2,
            max_operands: 3,
            max_operand: 9,
            operators: vec![ToyOp::Add, ToyOp::Sub, ToyOp::Mul],
        }
    }
}

/// A flat expression `operands[0] ops[0] operands[1] ops[1] …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToyExpression {
    /// The numbers (only the first may be negative, after a reduction).
    pub operands: Vec<i64>,
    /// The operators between them (`operands.len() - 1`).
    pub ops: Vec<ToyOp>,
}

/// One reduction: `left op right = result`, leaving `rest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduction {
    /// Left operand.
    pub left: i64,
    /// Operator.
    pub op: ToyOp,
    /// Right operand.
    pub right: i64,
    /// The value written for this step (correct unless corrupted).
    pub result: i64,
    /// The expression after this step.
    pub rest: ToyExpression,
}

impl ToyExpression {
    /// A random expression following `config`.
    pub fn random<R: Rng + ?Sized>(rng: &mut R, config: &ToyConfig) -> Self {
        assert!(config.min_operands >= 2 && config.max_operands >= config.min_operands);
        assert!(config.max_operand >= 1 && !config.operators.is_empty());
        let n = rng.random_range(config.min_operands..=config.max_operands);
        let operands = (0..n)
            .map(|_| rng.random_range(1..=config.max_operand))
            .collect();
        let ops = (1..n)
            .map(|_| config.operators[rng.random_range(0..config.operators.len())])
            .collect();
        Self { operands, ops }
    }

    /// The expression as text: `3+4*2`.
    pub fn text(&self) -> String {
        let mut s = self.operands[0].to_string();
        for (op, x) in self.ops.iter().zip(&self.operands[1..]) {
            s.push(op.symbol());
            s.push_str(&x.to_string());
        }
        s
    }

    /// Parses the text of [`Self::text`] (`3+4*2`), or a toy problem `What is 3+4*2?`.
    pub fn parse(text: &str) -> Option<Self> {
        let body = text
            .trim()
            .strip_prefix("What is ")
            .and_then(|t| t.strip_suffix('?'))
            .unwrap_or(text.trim());
        let mut operands = Vec::new();
        let mut ops = Vec::new();
        let mut rest = body;
        loop {
            // The first operand alone may be negative.
            let sign = if operands.is_empty() && rest.starts_with('-') {
                1
            } else {
                0
            };
            let digits = rest[sign..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            operands.push(rest[..sign + digits].parse().ok()?);
            rest = &rest[sign + digits..];
            let Some(c) = rest.chars().next() else { break };
            ops.push(match c {
                '+' => ToyOp::Add,
                '-' => ToyOp::Sub,
                '*' => ToyOp::Mul,
                _ => return None,
            });
            rest = &rest[1..];
        }
        (operands.len() >= 2).then_some(Self { operands, ops })
    }

    /// Index of the next operation: the first `*`, else the first operator.
    fn next_op(&self) -> Option<usize> {
        if self.ops.is_empty() {
            return None;
        }
        Some(self.ops.iter().position(|&o| o == ToyOp::Mul).unwrap_or(0))
    }

    /// Replaces operation `k` and its operands by `value`.
    fn replaced(&self, k: usize, value: i64) -> Self {
        let mut operands = self.operands.clone();
        let mut ops = self.ops.clone();
        operands.splice(k..=k + 1, [value]);
        ops.remove(k);
        Self { operands, ops }
    }

    /// The correct reductions down to a single number.
    pub fn reductions(&self) -> Vec<Reduction> {
        let mut out = Vec::new();
        let mut cur = self.clone();
        while let Some(k) = cur.next_op() {
            let (left, op, right) = (cur.operands[k], cur.ops[k], cur.operands[k + 1]);
            let result = op.apply(left, right);
            let rest = cur.replaced(k, result);
            out.push(Reduction {
                left,
                op,
                right,
                result,
                rest: rest.clone(),
            });
            cur = rest;
        }
        out
    }

    /// The value (multiplications first, then left to right).
    pub fn value(&self) -> i64 {
        self.reductions()
            .last()
            .map_or(self.operands[0], |r| r.result)
    }
}

/// Text of one reduction step.
fn reduction_text(r: &Reduction) -> String {
    let head = format!("{}{}{} = {}", r.left, r.op.symbol(), r.right, r.result);
    if r.rest.ops.is_empty() {
        format!("{head}.")
    } else {
        format!("{head}, so we get {}.", r.rest.text())
    }
}

/// Text of the final step.
pub fn final_step_text(answer: i64) -> String {
    format!("The final answer is \\boxed{{{answer}}}.")
}

/// A toy problem with its expression and reference solution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToyItem {
    /// The problem (its `solution` is the reference solution text).
    pub problem: Problem,
    /// The expression asked about.
    pub expression: ToyExpression,
    /// The reference solution.
    pub solution: LabeledSolution,
}

/// A solution split into steps, each labelled right or wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledSolution {
    /// Step texts (joined with [`STEP_BREAK`] they form the solution).
    pub steps: Vec<String>,
    /// Per step: `true` when the step is right. Steps from the first error on are all wrong
    /// (the PRM800K / Math-Shepherd convention: a process is broken from its first mistake).
    pub step_labels: Vec<bool>,
    /// Index of the first wrong step.
    pub first_error: Option<usize>,
    /// The boxed answer.
    pub final_answer: i64,
    /// Whether the boxed answer equals the true value.
    pub answer_correct: bool,
}

impl LabeledSolution {
    /// The solution text: steps joined by a blank line.
    pub fn text(&self) -> String {
        self.steps.join(STEP_BREAK)
    }

    fn from_steps(
        steps: Vec<String>,
        first_error: Option<usize>,
        final_answer: i64,
        truth: i64,
    ) -> Self {
        let step_labels = (0..steps.len())
            .map(|i| first_error.is_none_or(|e| i < e))
            .collect();
        Self {
            steps,
            step_labels,
            first_error,
            final_answer,
            answer_correct: final_answer == truth,
        }
    }
}

/// The correct step-by-step solution of an expression.
pub fn correct_solution(expr: &ToyExpression) -> LabeledSolution {
    let reductions = expr.reductions();
    let mut steps: Vec<String> = reductions.iter().map(reduction_text).collect();
    let value = expr.value();
    steps.push(final_step_text(value));
    LabeledSolution::from_steps(steps, None, value, value)
}

/// Kinds of corrupted solutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corruption {
    /// One step writes a wrong value (off by 1 or 2) and the rest computes on from it (or the
    /// final step boxes a wrong number): a wrong answer.
    Slip,
    /// One reduction writes a wrong value and the next one "computes" the correct value again:
    /// the right answer from a flawed process (needs two or more operations).
    CompensatedSlip,
}

/// A corrupted solution of `expr`, with step labels; `None` when `kind` does not apply
/// (`CompensatedSlip` on a single operation).
pub fn corrupt_solution<R: Rng + ?Sized>(
    expr: &ToyExpression,
    kind: Corruption,
    rng: &mut R,
) -> Option<LabeledSolution> {
    let truth = expr.value();
    let n_red = expr.reductions().len();
    let delta = {
        let d = rng.random_range(1..=2i64);
        if rng.random_bool(0.5) { d } else { -d }
    };
    match kind {
        Corruption::Slip => {
            // Step j in 0..=n_red; j == n_red is the final (boxing) step.
            let j = rng.random_range(0..=n_red);
            if j == n_red {
                let mut sol = correct_solution(expr);
                let wrong = truth + delta;
                sol.steps[j] = final_step_text(wrong);
                return Some(LabeledSolution::from_steps(
                    sol.steps,
                    Some(j),
                    wrong,
                    truth,
                ));
            }
            let mut steps = Vec::new();
            let mut cur = expr.clone();
            let mut step = 0;
            while let Some(k) = cur.next_op() {
                let (left, op, right) = (cur.operands[k], cur.ops[k], cur.operands[k + 1]);
                let mut result = op.apply(left, right);
                if step == j {
                    result += delta;
                }
                let rest = cur.replaced(k, result);
                steps.push(reduction_text(&Reduction {
                    left,
                    op,
                    right,
                    result,
                    rest: rest.clone(),
                }));
                cur = rest;
                step += 1;
            }
            let answer = cur.operands[0];
            steps.push(final_step_text(answer));
            Some(LabeledSolution::from_steps(steps, Some(j), answer, truth))
        }
        Corruption::CompensatedSlip => {
            if n_red < 2 {
                return None;
            }
            let j = rng.random_range(0..n_red - 1);
            let truth_steps = expr.reductions();
            let mut steps = Vec::new();
            let mut cur = expr.clone();
            for (i, true_red) in truth_steps.iter().enumerate() {
                let k = cur.next_op().expect("same number of operations");
                let (left, op, right) = (cur.operands[k], cur.ops[k], cur.operands[k + 1]);
                let result = match i {
                    _ if i == j => true_red.result + delta,
                    // Back on the true value whatever the (wrong) inputs say.
                    _ if i == j + 1 => true_red.result,
                    _ => op.apply(left, right),
                };
                let rest = cur.replaced(k, result);
                steps.push(reduction_text(&Reduction {
                    left,
                    op,
                    right,
                    result,
                    rest: rest.clone(),
                }));
                cur = rest;
            }
            let answer = cur.operands[0];
            steps.push(final_step_text(answer));
            Some(LabeledSolution::from_steps(steps, Some(j), answer, truth))
        }
    }
}

/// `count` toy problems from `seed`: problem text `What is {expr}?`, gold the integer value,
/// solution the reference steps; ids `toy-{seed}-{i}`.
pub fn generate_toy_set(count: usize, seed: u64, config: &ToyConfig) -> Vec<ToyItem> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let expression = ToyExpression::random(&mut rng, config);
            let solution = correct_solution(&expression);
            let problem = Problem {
                id: format!("toy-{seed}-{i}"),
                source: TOY_SOURCE.to_string(),
                problem: format!("What is {}?", expression.text()),
                gold: expression.value().to_string(),
                solution: Some(solution.text()),
                messages: None,
            };
            ToyItem {
                problem,
                expression,
                solution,
            }
        })
        .collect()
}

/// Just the problems of [`generate_toy_set`].
pub fn toy_problems(count: usize, seed: u64, config: &ToyConfig) -> Vec<Problem> {
    generate_toy_set(count, seed, config)
        .into_iter()
        .map(|t| t.problem)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse_back_from_their_text_and_problem() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let e = ToyExpression::random(&mut rng, &ToyConfig::default());
            assert_eq!(ToyExpression::parse(&e.text()), Some(e.clone()));
            assert_eq!(
                ToyExpression::parse(&format!("What is {}?", e.text())),
                Some(e)
            );
        }
        let negative = ToyExpression::parse("-3*2").unwrap();
        assert_eq!(
            (negative.operands, negative.ops),
            (vec![-3, 2], vec![ToyOp::Mul])
        );
        for bad in ["", "3", "3+", "3+-2", "What is 3+x?", "3/2"] {
            assert_eq!(ToyExpression::parse(bad), None, "{bad:?}");
        }
    }

    fn expr(operands: &[i64], ops: &[ToyOp]) -> ToyExpression {
        ToyExpression {
            operands: operands.to_vec(),
            ops: ops.to_vec(),
        }
    }

    #[test]
    fn precedence_and_steps() {
        use ToyOp::*;
        let e = expr(&[3, 4, 2], &[Add, Mul]);
        assert_eq!(e.text(), "3+4*2");
        assert_eq!(e.value(), 11);
        let sol = correct_solution(&e);
        assert_eq!(
            sol.text(),
            "4*2 = 8, so we get 3+8.\n\n3+8 = 11.\n\nThe final answer is \\boxed{11}."
        );
        assert_eq!(sol.step_labels, vec![true, true, true]);
        assert!(sol.answer_correct && sol.first_error.is_none());
        // Left to right for + and -: 2-5+1 = -2.
        let e = expr(&[2, 5, 1], &[Sub, Add]);
        assert_eq!(e.value(), -2);
        assert_eq!(correct_solution(&e).steps[0], "2-5 = -3, so we get -3+1.");
        assert_eq!(expr(&[9, 3, 2, 4], &[Sub, Mul, Mul]).value(), -15);
        assert_eq!(expr(&[7], &[]).value(), 7);
    }

    #[test]
    fn slips_are_labelled_from_the_first_error() {
        use ToyOp::*;
        let e = expr(&[3, 4, 2], &[Add, Mul]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let s = corrupt_solution(&e, Corruption::Slip, &mut rng).unwrap();
            let j = s.first_error.unwrap();
            assert_eq!(s.steps.len(), 3);
            assert!(!s.answer_correct);
            assert!((s.final_answer - 11).abs() <= 2 && s.final_answer != 11);
            let expected: Vec<bool> = (0..3).map(|i| i < j).collect();
            assert_eq!(s.step_labels, expected);
            assert_eq!(s.steps.last().unwrap(), &final_step_text(s.final_answer));
            if j == 0 {
                // 4*2 written wrong, then 3+wrong computed correctly.
                let wrong = s.final_answer - 3;
                assert_eq!(s.steps[0], format!("4*2 = {wrong}, so we get 3+{wrong}."));
            }
        }
    }

    #[test]
    fn compensated_slips_reach_the_right_answer_through_a_wrong_step() {
        use ToyOp::*;
        let e = expr(&[3, 4, 2], &[Add, Mul]);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let s = corrupt_solution(&e, Corruption::CompensatedSlip, &mut rng).unwrap();
        assert!(s.answer_correct);
        assert_eq!(s.first_error, Some(0));
        assert_eq!(s.step_labels, vec![false, false, false]);
        let wrong: i64 = s.steps[0]
            .strip_prefix("4*2 = ")
            .and_then(|t| t.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(wrong, 8);
        assert_eq!(s.steps[0], format!("4*2 = {wrong}, so we get 3+{wrong}."));
        assert_eq!(s.steps[1], format!("3+{wrong} = 11."));
        assert!(
            corrupt_solution(
                &expr(&[1, 2], &[Add]),
                Corruption::CompensatedSlip,
                &mut rng
            )
            .is_none()
        );
    }

    #[test]
    fn generated_set_is_seeded_and_consistent() {
        let cfg = ToyConfig::default();
        let a = generate_toy_set(100, 7, &cfg);
        assert_eq!(a, generate_toy_set(100, 7, &cfg));
        assert_ne!(a, generate_toy_set(100, 8, &cfg));
        for item in &a {
            let n = item.expression.operands.len();
            assert!((2..=3).contains(&n));
            assert!(item.expression.operands.iter().all(|x| (1..=9).contains(x)));
            assert_eq!(item.problem.gold, item.expression.value().to_string());
            assert_eq!(
                item.problem.problem,
                format!("What is {}?", item.expression.text())
            );
            let solution = item.problem.solution.as_deref().unwrap();
            assert!(solution.ends_with(&format!("\\boxed{{{}}}.", item.problem.gold)));
            assert_eq!(solution.split(STEP_BREAK).count(), n);
        }
    }
}
