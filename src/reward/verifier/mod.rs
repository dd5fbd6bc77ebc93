//! Strict maths answer verifier.
//!
//! A response is reduced to one answer ([`extract_answer`]: the last `\boxed{}`, else an
//! explicit answer phrase), normalised ([`normalize`]), parsed by a small LaTeX parser, and
//! compared with the gold answer by these rules, in order, each bounded by a [`Budget`]:
//!
//! 1. normalised string equality;
//! 2. exact rational arithmetic with big integers (integers, fractions, decimals, powers,
//!    factorials, binomials), so `1/2004!` ≠ `1/2006!` and `0.3333` ≠ `1/3`;
//! 3. high-precision (256-bit) evaluation of exact irrational expressions (radicals, π, e,
//!    logarithms, trigonometry), equal to 2^-200 relative: `\frac{1}{\sqrt2}` = `\frac{\sqrt2}{2}`,
//!    `4` ≠ `4\sqrt2`, `3.14` ≠ `\pi`;
//! 4. expressions in variables compared exactly at random rational (or, for floors,
//!    factorials and variable exponents, integer) points;
//! 5. structures: tuples and intervals element-wise with bracket types, sets and lists
//!    unordered, matrices element-wise, equations up to a non-zero multiple, inequalities as
//!    intervals or up to a positive multiple, text case-insensitively.
//!
//! Anything over budget is "not equal" with a reason; nothing panics or hangs.

pub mod ast;
pub mod budget;
pub mod classify;
pub mod compare;
pub mod eval;
pub mod exact;
pub mod extract;
pub mod highprec;
pub mod lexer;
pub mod normalize;
pub mod parser;
pub mod structure;
pub mod verdict;
#[allow(clippy::module_inception)]
pub mod verifier;

pub use budget::Budget;
pub use classify::{AnswerKind, classify_answer};
pub use extract::{extract_answer, last_boxed};
pub use normalize::{Normalized, normalize};
pub use verdict::{Rule, Verdict};
pub use verifier::Verifier;
