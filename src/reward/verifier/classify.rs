//! What kind of answer a string is, for listing datasets' gold answers by kind.

use super::ast::{Node, Rel};
use super::budget::{Budget, Meter};
use super::compare::infinity_sign;
use super::eval::{Env, Evaluator, Val};
use super::normalize::normalize;
use super::parser::parse;
use super::structure::canonical;
use std::fmt;

/// The kind of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnswerKind {
    /// An integer (`12`, `-3`, `2^{10}`, `10,080`).
    Integer,
    /// A non-integer rational written without decimals (`\frac{3}{4}`, `1\frac{4}{5}`).
    Fraction,
    /// A number written with a decimal point or exponent (`0.15`, `4.5e33`).
    Decimal,
    /// A real constant that is not rational (`2\sqrt{5}`, `12\pi`, `\log 2`).
    Irrational,
    /// A constant with an imaginary part (`-2 + 7i`).
    Complex,
    /// An expression in variables (`8n^2 + 4n + 1`, `\cot x`).
    Expression,
    /// An ordered tuple (`(1,-2)`).
    Tuple,
    /// An interval or a union of intervals (`(-\infty, 0]`, `x \in [-2,7]`).
    Interval,
    /// A set or a list of answers (`\{1, 2\}`, `1, 3, 5`, `1 \pm \sqrt{19}`).
    Set,
    /// A matrix or vector environment.
    Matrix,
    /// An equation (`y = 2x + 3`); `x = 5` counts as the kind of `5`.
    Equation,
    /// An inequality that is not an interval (`x < y`) or a one-variable bound (`k \ge 2`).
    Inequality,
    /// Words or a multiple-choice letter.
    Text,
    /// Not parsed by the verifier's parser (compared only as normalised strings).
    Unparsed,
}

impl AnswerKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Integer => "integer",
            AnswerKind::Fraction => "fraction",
            AnswerKind::Decimal => "decimal",
            AnswerKind::Irrational => "irrational",
            AnswerKind::Complex => "complex",
            AnswerKind::Expression => "expression",
            AnswerKind::Tuple => "tuple",
            AnswerKind::Interval => "interval",
            AnswerKind::Set => "set",
            AnswerKind::Matrix => "matrix",
            AnswerKind::Equation => "equation",
            AnswerKind::Inequality => "inequality",
            AnswerKind::Text => "text",
            AnswerKind::Unparsed => "unparsed",
        }
    }
}

impl fmt::Display for AnswerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies a bare answer.
pub fn classify_answer(s: &str) -> AnswerKind {
    let budget = Budget::default();
    if s.len() > budget.max_answer_len {
        return AnswerKind::Unparsed;
    }
    let n = normalize(s);
    match parse(&n.text, budget.max_depth) {
        Ok(node) => {
            if let Node::Relation(_, rest) = &node
                && rest
                    .iter()
                    .all(|(r, _)| matches!(r, Rel::Lt | Rel::Le | Rel::Gt | Rel::Ge))
            {
                return AnswerKind::Inequality;
            }
            kind_of(&canonical(&node), &budget)
        }
        Err(_) => AnswerKind::Unparsed,
    }
}

fn kind_of(n: &Node, budget: &Budget) -> AnswerKind {
    match n {
        Node::Text(_) => AnswerKind::Text,
        Node::Set(_) | Node::List(_) | Node::PlusMinus(..) => AnswerKind::Set,
        Node::Union(_) => AnswerKind::Interval,
        Node::Tuple { open, close, items } => {
            if (*open, *close) != ('(', ')') || items.iter().any(|i| infinity_sign(i).is_some()) {
                AnswerKind::Interval
            } else {
                AnswerKind::Tuple
            }
        }
        Node::Matrix(_) => AnswerKind::Matrix,
        Node::Relation(l, rest) => match rest.as_slice() {
            [(Rel::Eq | Rel::Approx, rhs)]
                if matches!(l.as_ref(), Node::Sym(_)) && rhs.symbols().is_empty() =>
            {
                kind_of(rhs, budget)
            }
            _ if rest.iter().all(|(r, _)| matches!(r, Rel::Eq | Rel::Approx)) => {
                AnswerKind::Equation
            }
            _ => AnswerKind::Inequality,
        },
        expr => {
            if !expr.symbols().is_empty() {
                return AnswerKind::Expression;
            }
            let meter = Meter::new(budget.max_ops);
            let mut ev = Evaluator::new(budget, &meter, Env::new());
            match ev.eval(expr) {
                Ok(Val::Exact(c)) => {
                    if !c.is_real() {
                        AnswerKind::Complex
                    } else if expr.has_decimal() {
                        AnswerKind::Decimal
                    } else if c.re.is_integer() {
                        AnswerKind::Integer
                    } else {
                        AnswerKind::Fraction
                    }
                }
                Ok(Val::Approx(c)) => {
                    if ev.hp.as_real(&c).is_some() {
                        AnswerKind::Irrational
                    } else {
                        AnswerKind::Complex
                    }
                }
                Err(_) => AnswerKind::Expression,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let cases = [
            ("12", AnswerKind::Integer),
            ("10,\\!080", AnswerKind::Integer),
            ("2^{10}", AnswerKind::Integer),
            ("\\frac{3}{4}", AnswerKind::Fraction),
            ("0.15", AnswerKind::Decimal),
            ("2\\sqrt{5}", AnswerKind::Irrational),
            ("-2 + 7i", AnswerKind::Complex),
            ("8n^2 + 4n + 1", AnswerKind::Expression),
            ("(1,-2)", AnswerKind::Tuple),
            ("(-\\infty, 0]", AnswerKind::Interval),
            ("x \\in [-2,7]", AnswerKind::Interval),
            ("\\{1,2\\}", AnswerKind::Set),
            ("1 \\pm \\sqrt{19}", AnswerKind::Set),
            (
                "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
                AnswerKind::Matrix,
            ),
            ("y = 2x + 3", AnswerKind::Equation),
            ("x = 5", AnswerKind::Integer),
            ("k \\geqslant 2", AnswerKind::Inequality),
            ("\\text{Evelyn}", AnswerKind::Text),
            ("np.arcsin(10/13)", AnswerKind::Unparsed),
        ];
        for (s, k) in cases {
            assert_eq!(classify_answer(s), k, "{s}");
        }
    }
}
