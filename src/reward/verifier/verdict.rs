//! The verifier's answer: correct or not, the extracted answer, and the rule that decided.

use std::fmt;

/// The rule that decided a comparison, in the order the verifier tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// No `\boxed{}` and no answer phrase in the response.
    NoAnswer,
    /// The normalised strings are identical.
    StringEqual,
    /// Exact rational (big-integer) arithmetic on numbers without variables.
    Rational,
    /// Exact expressions (radicals, π, e, logs, trig) compared under high-precision evaluation.
    HighPrecision,
    /// The lenient relative tolerance for answers containing a decimal (off by default).
    NumericTolerance,
    /// Expressions in variables compared exactly at random rational (or integer) points.
    RandomPoints,
    /// Ordered tuples, element by element, with the same brackets.
    Tuple,
    /// Intervals and unions of intervals.
    Interval,
    /// Sets and answer lists, unordered.
    Set,
    /// Matrices and vectors, element by element.
    Matrix,
    /// Equations, up to a non-zero scalar multiple and side swap.
    Equation,
    /// Inequalities, as sets or up to a positive scalar multiple.
    Inequality,
    /// Text answers (words, multiple-choice letters), case-insensitive.
    Text,
    /// The two answers have different shapes (a number and a tuple, say).
    Mismatch,
    /// An answer could not be parsed and the strings differ.
    Unparsed,
    /// A work limit was reached; the answers are taken as different.
    Budget,
    /// An internal error was caught; the answers are taken as different.
    Internal,
}

impl Rule {
    /// Short snake_case name, stable for logs and the `--why` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NoAnswer => "no_answer",
            Rule::StringEqual => "string",
            Rule::Rational => "rational",
            Rule::HighPrecision => "high_precision",
            Rule::NumericTolerance => "numeric_tolerance",
            Rule::RandomPoints => "random_points",
            Rule::Tuple => "tuple",
            Rule::Interval => "interval",
            Rule::Set => "set",
            Rule::Matrix => "matrix",
            Rule::Equation => "equation",
            Rule::Inequality => "inequality",
            Rule::Text => "text",
            Rule::Mismatch => "mismatch",
            Rule::Unparsed => "unparsed",
            Rule::Budget => "budget",
            Rule::Internal => "internal",
        }
    }

    /// Every rule, for listings.
    pub const ALL: [Rule; 17] = [
        Rule::NoAnswer,
        Rule::StringEqual,
        Rule::Rational,
        Rule::HighPrecision,
        Rule::NumericTolerance,
        Rule::RandomPoints,
        Rule::Tuple,
        Rule::Interval,
        Rule::Set,
        Rule::Matrix,
        Rule::Equation,
        Rule::Inequality,
        Rule::Text,
        Rule::Mismatch,
        Rule::Unparsed,
        Rule::Budget,
        Rule::Internal,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of verifying a response (or comparing two answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the answers are equivalent.
    pub correct: bool,
    /// The answer taken from the response (`None` when nothing could be extracted).
    pub extracted: Option<String>,
    /// The rule that decided.
    pub rule: Rule,
    /// A human-readable explanation of the decision.
    pub reason: String,
}
