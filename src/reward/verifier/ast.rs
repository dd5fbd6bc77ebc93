//! The parsed form of an answer: arithmetic expressions and the structures around them
//! (tuples, intervals, sets, lists, matrices, relations, unions, text).

use super::exact::Q;
use std::collections::BTreeSet;

/// A mathematical function the evaluator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// Square root.
    Sqrt,
    /// `\sqrt[n]{x}`: arguments `[n, x]`.
    Root,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Tangent.
    Tan,
    /// Cotangent.
    Cot,
    /// Secant.
    Sec,
    /// Cosecant.
    Csc,
    /// Arcsine.
    Asin,
    /// Arccosine.
    Acos,
    /// Arctangent.
    Atan,
    /// Hyperbolic sine.
    Sinh,
    /// Hyperbolic cosine.
    Cosh,
    /// Hyperbolic tangent.
    Tanh,
    /// Natural logarithm (also `\log` without a base).
    Ln,
    /// `\log_b x`: arguments `[b, x]`.
    LogBase,
    /// Exponential.
    Exp,
    /// Absolute value.
    Abs,
    /// Floor.
    Floor,
    /// Ceiling.
    Ceil,
    /// Binomial coefficient: arguments `[n, k]`.
    Binom,
    /// Greatest common divisor.
    Gcd,
    /// Least common multiple.
    Lcm,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
}

impl Func {
    /// Functions only meaningful on integers (their variables are sampled at integers).
    pub fn wants_integers(self) -> bool {
        matches!(
            self,
            Func::Floor | Func::Ceil | Func::Binom | Func::Gcd | Func::Lcm
        )
    }
}

/// A relation symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    /// `=`
    Eq,
    /// `\ne`
    Ne,
    /// `<`
    Lt,
    /// `\le`
    Le,
    /// `>`
    Gt,
    /// `\ge`
    Ge,
    /// `\in`
    In,
    /// `\approx`
    Approx,
}

/// A parsed answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A number literal; `decimal` when written with a decimal point or an exponent.
    Num {
        /// Its exact value.
        value: Q,
        /// Written as a decimal (`0.5`, `4.5e33`).
        decimal: bool,
    },
    /// A variable (with its subscript and primes, e.g. `a_{n+1}`).
    Sym(String),
    /// π.
    Pi,
    /// Euler's number.
    E,
    /// The imaginary unit.
    I,
    /// ∞.
    Inf,
    /// Negation.
    Neg(Box<Node>),
    /// A sum.
    Add(Vec<Node>),
    /// A product.
    Mul(Vec<Node>),
    /// A quotient.
    Div(Box<Node>, Box<Node>),
    /// A power.
    Pow(Box<Node>, Box<Node>),
    /// `n!`.
    Fact(Box<Node>),
    /// `n!!`.
    DoubleFact(Box<Node>),
    /// A function application.
    Func(Func, Vec<Node>),
    /// `a ± b` (and `a ∓ b` with the terms swapped in meaning); two answers.
    PlusMinus(Box<Node>, Box<Node>),
    /// `(a, b, ...)`, `[a, b)`, ...: a tuple or an interval, with its brackets.
    Tuple {
        /// `(` or `[`.
        open: char,
        /// `)` or `]`.
        close: char,
        /// The elements.
        items: Vec<Node>,
    },
    /// `\{ ... \}`: an unordered set.
    Set(Vec<Node>),
    /// `a, b, c` at the top level: a list of answers, compared as a set.
    List(Vec<Node>),
    /// A matrix, row by row.
    Matrix(Vec<Vec<Node>>),
    /// `a = b`, `a < b \le c`, `x \in S`.
    Relation(Box<Node>, Vec<(Rel, Node)>),
    /// `A \cup B`.
    Union(Vec<Node>),
    /// A text answer, normalised to lower case words.
    Text(String),
}

impl Node {
    /// An integer literal.
    pub fn int(n: i64) -> Node {
        Node::Num {
            value: Q::from_integer(n.into()),
            decimal: false,
        }
    }

    /// Visits this node and all nodes below it.
    pub fn walk(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        match self {
            Node::Neg(a) | Node::Fact(a) | Node::DoubleFact(a) => a.walk(f),
            Node::Div(a, b) | Node::Pow(a, b) | Node::PlusMinus(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Node::Add(v)
            | Node::Mul(v)
            | Node::Func(_, v)
            | Node::Set(v)
            | Node::List(v)
            | Node::Union(v) => v.iter().for_each(|n| n.walk(f)),
            Node::Tuple { items, .. } => items.iter().for_each(|n| n.walk(f)),
            Node::Matrix(rows) => rows.iter().flatten().for_each(|n| n.walk(f)),
            Node::Relation(first, rest) => {
                first.walk(f);
                rest.iter().for_each(|(_, n)| n.walk(f));
            }
            _ => {}
        }
    }

    /// The variables this node mentions.
    pub fn symbols(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.walk(&mut |n| {
            if let Node::Sym(s) = n {
                out.insert(s.clone());
            }
        });
        out
    }

    /// Whether any number literal is written as a decimal.
    pub fn has_decimal(&self) -> bool {
        self.any(&|n| matches!(n, Node::Num { decimal: true, .. }))
    }

    /// Whether any node satisfies `pred`.
    pub fn any(&self, pred: &dyn Fn(&Node) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut |n| found |= pred(n));
        found
    }

    /// Whether this is a plain arithmetic expression (no structure around it).
    pub fn is_expression(&self) -> bool {
        !matches!(
            self,
            Node::Tuple { .. }
                | Node::Set(_)
                | Node::List(_)
                | Node::Matrix(_)
                | Node::Relation(..)
                | Node::Union(_)
                | Node::Text(_)
                | Node::PlusMinus(..)
        )
    }
}
