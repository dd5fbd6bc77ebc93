//! The verifier: extraction, then the equivalence rules in order.

use super::ast::Node;
use super::budget::Budget;
use super::compare::{Comparer, Outcome};
use super::extract::extract_answer;
use super::normalize::normalize;
use super::parser::{ParseError, parse};
use super::structure::compare;
use super::verdict::{Rule, Verdict};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A strict maths answer verifier. `Verifier::default()` is strict: decimals equal only the
/// rational they denote exactly. Every comparison is bounded by its [`Budget`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verifier {
    /// Lenient mode: constants written with a decimal equal values within this relative
    /// tolerance. `None` (the default) is strict.
    pub numeric_tolerance: Option<f64>,
    /// Work limits.
    pub budget: Budget,
}

impl Verifier {
    /// The strict verifier with the default budget.
    pub fn new() -> Self {
        Verifier::default()
    }

    /// The same verifier with the lenient relative tolerance for decimals.
    pub fn with_numeric_tolerance(mut self, tolerance: f64) -> Self {
        self.numeric_tolerance = Some(tolerance);
        self
    }

    /// The same verifier with other limits.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Whether `response` (a full model output) commits to an answer equivalent to `gold`
    /// (a bare answer, e.g. a dataset's `answer` field).
    pub fn verify(&self, gold: &str, response: &str) -> Verdict {
        if response.len() > self.budget.max_response_len {
            return Verdict {
                correct: false,
                extracted: None,
                rule: Rule::Budget,
                reason: format!(
                    "over budget: response of {} bytes exceeds {}",
                    response.len(),
                    self.budget.max_response_len
                ),
            };
        }
        let Some(extracted) = extract_answer(response) else {
            return Verdict {
                correct: false,
                extracted: None,
                rule: Rule::NoAnswer,
                reason: "no \\boxed{} answer and no answer phrase".into(),
            };
        };
        let mut v = self.equivalent(gold, &extracted);
        v.extracted = Some(extracted);
        v
    }

    /// Whether two bare answers are equivalent (symmetric; used for majority-vote classes).
    /// `extracted` in the verdict is `None`.
    pub fn equivalent(&self, a: &str, b: &str) -> Verdict {
        let outcome = catch_unwind(AssertUnwindSafe(|| self.compare_answers(a, b)))
            .unwrap_or_else(|_| Outcome::no(Rule::Internal, "internal error while comparing"));
        Verdict {
            correct: outcome.equal,
            extracted: None,
            rule: outcome.rule,
            reason: outcome.reason,
        }
    }

    /// The rules in order: string equality, then parsed comparison (and percent variants).
    pub fn compare_answers(&self, a: &str, b: &str) -> Outcome {
        let limit = self.budget.max_answer_len;
        if a.len() > limit || b.len() > limit {
            return Outcome::no(
                Rule::Budget,
                format!("over budget: answer longer than {limit} bytes"),
            );
        }
        let na = normalize(a);
        let nb = normalize(b);
        let (ka, kb) = (na.key(), nb.key());
        if ka.is_empty() || kb.is_empty() {
            return Outcome::no(Rule::Unparsed, "empty answer");
        }
        if ka == kb && na.percent == nb.percent {
            return Outcome::yes(
                Rule::StringEqual,
                format!("same normalised string \"{ka}\""),
            );
        }
        let pa = parse(&na.text, self.budget.max_depth);
        let pb = parse(&nb.text, self.budget.max_depth);
        let (pa, pb) = match (pa, pb) {
            (Ok(x), Ok(y)) => (x, y),
            (Err(ParseError::Budget(m)), _) | (_, Err(ParseError::Budget(m))) => {
                return Outcome::no(Rule::Budget, format!("over budget: {m}"));
            }
            (Err(ParseError::Syntax(m)), _) | (_, Err(ParseError::Syntax(m))) => {
                if ka == kb {
                    return Outcome::yes(
                        Rule::StringEqual,
                        format!("same normalised string \"{ka}\""),
                    );
                }
                return Outcome::no(Rule::Unparsed, format!("could not parse: {m}"));
            }
        };
        let comparer = Comparer::new(&self.budget, self.numeric_tolerance);
        let outcome = compare(&comparer, &pa, &pb);
        if outcome.equal || outcome.rule == Rule::Budget || na.percent == nb.percent {
            return outcome;
        }
        // `62.5\%` also equals `0.625`.
        let hundred = Node::int(100);
        let (x, y) = if na.percent {
            (Node::Div(Box::new(pa), Box::new(hundred)), pb)
        } else {
            (pa, Node::Div(Box::new(pb), Box::new(hundred)))
        };
        if !(x.is_expression() && y.is_expression()) {
            return outcome;
        }
        let again = compare(&comparer, &x, &y);
        if again.equal {
            Outcome::yes(
                again.rule,
                format!("{} (reading the percentage as a fraction)", again.reason),
            )
        } else {
            outcome
        }
    }
}
