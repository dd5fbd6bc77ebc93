//! Evaluation of expressions: exact (Gaussian rationals) while every step stays rational,
//! high-precision floats from the first irrational step on; every step metered.

use super::ast::{Func, Node};
use super::budget::{Budget, Meter, OverBudget};
use super::exact::{CRat, Q, binomial, check_bits, double_factorial, exact_root, factorial};
use super::highprec::{CF, Hp};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::collections::BTreeMap;

/// Why an expression has no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// A work limit was reached.
    Budget(String),
    /// Mathematically undefined here (division by zero, log of zero, ...).
    Undefined(String),
    /// Not something this evaluator computes.
    Unsupported(String),
    /// A variable without a value.
    FreeVariable(String),
}

impl From<OverBudget> for EvalError {
    fn from(e: OverBudget) -> Self {
        EvalError::Budget(e.0)
    }
}

/// A value: exact while possible.
#[derive(Clone, Debug)]
pub enum Val {
    /// An exact Gaussian rational.
    Exact(CRat),
    /// A high-precision complex float.
    Approx(CF),
}

/// Variable assignments.
pub type Env = BTreeMap<String, CRat>;

/// Evaluates nodes under one budget, one meter and one float context.
pub struct Evaluator<'a> {
    budget: &'a Budget,
    meter: &'a Meter,
    /// The float context (its `scale` records the largest magnitude seen).
    pub hp: Hp,
    env: Env,
}

impl<'a> Evaluator<'a> {
    /// An evaluator with the given variable values.
    pub fn new(budget: &'a Budget, meter: &'a Meter, env: Env) -> Self {
        Evaluator {
            budget,
            meter,
            hp: Hp::new(super::highprec::PRECISION, budget.max_float_exponent),
            env,
        }
    }

    fn spend(&self, n: u64) -> Result<(), EvalError> {
        Ok(self.meter.spend(n)?)
    }

    /// Converts a value to a float.
    pub fn approx(&mut self, v: &Val) -> Result<CF, EvalError> {
        match v {
            Val::Exact(c) => self.hp.from_crat(c),
            Val::Approx(f) => Ok(f.clone()),
        }
    }

    fn exact_op(&self, a: &CRat, b: &CRat) -> Result<(), EvalError> {
        self.spend(1 + (a.bits() + b.bits()) / 4096)
    }

    /// Sum.
    pub fn add(&mut self, a: &Val, b: &Val) -> Result<Val, EvalError> {
        if let (Val::Exact(x), Val::Exact(y)) = (a, b) {
            self.exact_op(x, y)?;
            let r = x.add(y);
            check_bits(&r, self.budget.max_bits)?;
            return Ok(Val::Exact(r));
        }
        self.spend(1)?;
        let (x, y) = (self.approx(a)?, self.approx(b)?);
        Ok(Val::Approx(self.hp.add(&x, &y)?))
    }

    /// Product.
    pub fn mul(&mut self, a: &Val, b: &Val) -> Result<Val, EvalError> {
        if let (Val::Exact(x), Val::Exact(y)) = (a, b) {
            self.exact_op(x, y)?;
            let r = x.mul(y);
            check_bits(&r, self.budget.max_bits)?;
            return Ok(Val::Exact(r));
        }
        self.spend(1)?;
        let (x, y) = (self.approx(a)?, self.approx(b)?);
        Ok(Val::Approx(self.hp.mul(&x, &y)?))
    }

    /// Quotient.
    pub fn div(&mut self, a: &Val, b: &Val) -> Result<Val, EvalError> {
        if let (Val::Exact(x), Val::Exact(y)) = (a, b) {
            self.exact_op(x, y)?;
            let r = x
                .div(y)
                .ok_or_else(|| EvalError::Undefined("division by zero".into()))?;
            check_bits(&r, self.budget.max_bits)?;
            return Ok(Val::Exact(r));
        }
        self.spend(1)?;
        let (x, y) = (self.approx(a)?, self.approx(b)?);
        Ok(Val::Approx(self.hp.div(&x, &y)?))
    }

    /// Negation.
    pub fn neg(&mut self, a: &Val) -> Val {
        match a {
            Val::Exact(x) => Val::Exact(x.neg()),
            Val::Approx(f) => Val::Approx(self.hp.neg(f)),
        }
    }

    /// Evaluates a node.
    pub fn eval(&mut self, n: &Node) -> Result<Val, EvalError> {
        self.spend(1)?;
        match n {
            Node::Num { value, .. } => Ok(Val::Exact(CRat::real(value.clone()))),
            Node::Sym(s) => self
                .env
                .get(s)
                .cloned()
                .map(Val::Exact)
                .ok_or_else(|| EvalError::FreeVariable(s.clone())),
            Node::Pi => Ok(Val::Approx(self.hp.pi())),
            Node::E => Ok(Val::Approx(self.hp.e())),
            Node::I => Ok(Val::Exact(CRat::i())),
            Node::Inf => Err(EvalError::Unsupported("infinity in arithmetic".into())),
            Node::Neg(a) => {
                let v = self.eval(a)?;
                Ok(self.neg(&v))
            }
            Node::Add(items) => {
                let mut acc = Val::Exact(CRat::int(0));
                for it in items {
                    let v = self.eval(it)?;
                    acc = self.add(&acc, &v)?;
                }
                Ok(acc)
            }
            Node::Mul(items) => {
                let mut acc = Val::Exact(CRat::int(1));
                for it in items {
                    let v = self.eval(it)?;
                    acc = self.mul(&acc, &v)?;
                }
                Ok(acc)
            }
            Node::Div(a, b) => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                self.div(&x, &y)
            }
            Node::Pow(a, b) => self.pow_node(a, b),
            Node::Fact(a) => {
                let k = self.nonneg_int(a, "factorial")?;
                let f = factorial(k, self.budget.max_factorial, self.budget.max_bits)?;
                self.spend(k / 64)?;
                Ok(Val::Exact(CRat::real(Q::from_integer(f))))
            }
            Node::DoubleFact(a) => {
                let k = self.nonneg_int(a, "double factorial")?;
                let f = double_factorial(k, self.budget.max_factorial, self.budget.max_bits)?;
                self.spend(k / 64)?;
                Ok(Val::Exact(CRat::real(Q::from_integer(f))))
            }
            Node::Func(f, args) => self.func(*f, args),
            other => Err(EvalError::Unsupported(format!(
                "{} inside arithmetic",
                structure_name(other)
            ))),
        }
    }

    fn nonneg_int(&mut self, a: &Node, what: &str) -> Result<u64, EvalError> {
        match self.eval(a)? {
            Val::Exact(c) => {
                let n = c
                    .as_integer()
                    .ok_or_else(|| EvalError::Unsupported(format!("{what} of a non-integer")))?;
                if n.is_negative() {
                    return Err(EvalError::Undefined(format!("{what} of a negative number")));
                }
                n.to_u64()
                    .ok_or_else(|| EvalError::Budget(format!("{what} of {n} exceeds the limits")))
            }
            Val::Approx(_) => Err(EvalError::Unsupported(format!(
                "{what} of an irrational value"
            ))),
        }
    }

    fn exact_int(&mut self, a: &Node, what: &str) -> Result<BigInt, EvalError> {
        match self.eval(a)? {
            Val::Exact(c) => c
                .as_integer()
                .ok_or_else(|| EvalError::Unsupported(format!("{what} of a non-integer"))),
            Val::Approx(_) => Err(EvalError::Unsupported(format!(
                "{what} of an irrational value"
            ))),
        }
    }

    fn pow_node(&mut self, a: &Node, b: &Node) -> Result<Val, EvalError> {
        let exponent = self.eval(b)?;
        if matches!(a, Node::E) {
            if let Val::Exact(e) = &exponent
                && e.is_zero()
            {
                return Ok(Val::Exact(CRat::int(1)));
            }
            self.spend(4)?;
            let x = self.approx(&exponent)?;
            return Ok(Val::Approx(self.hp.exp(&x)?));
        }
        let base = self.eval(a)?;
        self.pow(&base, &exponent)
    }

    /// `a^b`: exact for integer exponents and for rational exponents of perfect powers.
    pub fn pow(&mut self, base: &Val, exponent: &Val) -> Result<Val, EvalError> {
        if let Val::Exact(e) = exponent {
            if let Some(n) = e.as_integer() {
                return self.int_pow(base, &n);
            }
            if e.is_real() {
                let (p, q) = (e.re.numer().clone(), e.re.denom().clone());
                if let Val::Exact(x) = base
                    && x.is_real()
                    && q.bits() <= 16
                {
                    let k = q.to_u32().unwrap_or(1);
                    let neg = x.re.is_negative();
                    if !neg || k % 2 == 1 {
                        let magnitude = x.re.abs();
                        if let Some(root) = exact_root(&magnitude, k) {
                            let root = if neg { -root } else { root };
                            return self.int_pow(&Val::Exact(CRat::real(root)), &p);
                        }
                        // Real odd root of a negative base, then the integer power.
                        if neg {
                            let xf = self.hp.from_q(&x.re)?;
                            let r = self.hp.real_odd_root(&xf, k)?;
                            let root = Val::Approx(CF {
                                re: r,
                                im: super::highprec::F::ZERO,
                            });
                            return self.int_pow(&root, &p);
                        }
                    }
                }
            }
        }
        self.spend(8)?;
        let x = self.approx(base)?;
        let y = self.approx(exponent)?;
        Ok(Val::Approx(self.hp.pow(&x, &y)?))
    }

    fn int_pow(&mut self, base: &Val, n: &BigInt) -> Result<Val, EvalError> {
        match base {
            Val::Exact(x) => {
                self.spend(1 + n.bits())?;
                let r = x
                    .pow(n, self.budget.max_bits)?
                    .ok_or_else(|| EvalError::Undefined("zero to a negative power".into()))?;
                Ok(Val::Exact(r))
            }
            Val::Approx(f) => {
                if n.is_zero() {
                    return Ok(Val::Exact(CRat::int(1)));
                }
                let m = n.magnitude().to_u64().unwrap_or(u64::MAX);
                if m > 64 {
                    self.spend(8)?;
                    let y = self.hp.from_int(n)?;
                    let e = CF {
                        re: y,
                        im: super::highprec::F::ZERO,
                    };
                    return Ok(Val::Approx(self.hp.pow(f, &e)?));
                }
                let mut acc = Val::Exact(CRat::int(1));
                let mut b = Val::Approx(f.clone());
                let mut k = m;
                while k > 0 {
                    if k & 1 == 1 {
                        acc = self.mul(&acc, &b)?;
                    }
                    k >>= 1;
                    if k > 0 {
                        b = self.mul(&b, &b)?;
                    }
                }
                if n.is_negative() {
                    acc = self.div(&Val::Exact(CRat::int(1)), &acc)?;
                }
                Ok(acc)
            }
        }
    }

    fn sqrt(&mut self, v: &Val) -> Result<Val, EvalError> {
        if let Val::Exact(x) = v
            && x.is_real()
            && let Some(r) = exact_root(&x.re.abs(), 2)
        {
            return Ok(Val::Exact(if x.re.is_negative() {
                CRat {
                    re: Q::zero(),
                    im: r,
                }
            } else {
                CRat::real(r)
            }));
        }
        self.spend(4)?;
        let x = self.approx(v)?;
        Ok(Val::Approx(self.hp.sqrt(&x)?))
    }

    fn func(&mut self, f: Func, args: &[Node]) -> Result<Val, EvalError> {
        let arity = match f {
            Func::Root | Func::LogBase | Func::Binom => 2,
            Func::Gcd | Func::Lcm | Func::Max | Func::Min => args.len().max(1),
            _ => 1,
        };
        if args.len() != arity {
            return Err(EvalError::Unsupported(format!(
                "{f:?} with {} arguments",
                args.len()
            )));
        }
        match f {
            Func::Sqrt => {
                let v = self.eval(&args[0])?;
                self.sqrt(&v)
            }
            Func::Root => {
                let n = self.exact_int(&args[0], "root index")?;
                let k = n
                    .to_u32()
                    .filter(|k| (1..=1000).contains(k))
                    .ok_or_else(|| EvalError::Unsupported(format!("root of index {n}")))?;
                let x = self.eval(&args[1])?;
                let inv = Val::Exact(CRat::real(Q::new(BigInt::one(), BigInt::from(k))));
                self.pow(&x, &inv)
            }
            Func::Binom => {
                let n = self.exact_int(&args[0], "binomial")?;
                let k = self.exact_int(&args[1], "binomial")?;
                self.spend(k.to_u64().unwrap_or(0) / 16)?;
                let r = binomial(&n, &k, self.budget.max_bits)?;
                Ok(Val::Exact(CRat::real(Q::from_integer(r))))
            }
            Func::Gcd | Func::Lcm => {
                let mut acc: Option<BigInt> = None;
                for a in args {
                    let v = self.exact_int(a, "gcd/lcm")?;
                    acc = Some(match acc {
                        None => v.abs(),
                        Some(x) if f == Func::Gcd => x.gcd(&v),
                        Some(x) => x.lcm(&v),
                    });
                }
                Ok(Val::Exact(CRat::real(Q::from_integer(
                    acc.unwrap_or_default(),
                ))))
            }
            Func::Max | Func::Min => {
                let mut best: Option<Val> = None;
                for a in args {
                    let v = self.eval(a)?;
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let nb = self.neg(&b);
                            let d = self.add(&v, &nb)?;
                            let s = self.real_sign(&d)?;
                            if (f == Func::Max && s > 0) || (f == Func::Min && s < 0) {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                best.ok_or_else(|| EvalError::Unsupported("empty max/min".into()))
            }
            Func::Abs => match self.eval(&args[0])? {
                Val::Exact(x) if x.is_real() => Ok(Val::Exact(CRat::real(x.re.abs()))),
                Val::Exact(x) => {
                    let sq = CRat::real(&x.re * &x.re + &x.im * &x.im);
                    self.sqrt(&Val::Exact(sq))
                }
                Val::Approx(c) => {
                    let m = self.hp.abs(&c)?;
                    Ok(Val::Approx(CF {
                        re: m,
                        im: super::highprec::F::ZERO,
                    }))
                }
            },
            Func::Floor | Func::Ceil => match self.eval(&args[0])? {
                Val::Exact(x) if x.is_real() => Ok(Val::Exact(CRat::real(if f == Func::Floor {
                    x.re.floor()
                } else {
                    x.re.ceil()
                }))),
                Val::Exact(_) => Err(EvalError::Unsupported("floor of a complex number".into())),
                Val::Approx(c) => {
                    let name = if f == Func::Floor { "floor" } else { "ceil" };
                    Ok(Val::Approx(self.hp.real_fn(name, &c)?))
                }
            },
            Func::Exp => {
                let v = self.eval(&args[0])?;
                if matches!(&v, Val::Exact(x) if x.is_zero()) {
                    return Ok(Val::Exact(CRat::int(1)));
                }
                self.spend(4)?;
                let x = self.approx(&v)?;
                Ok(Val::Approx(self.hp.exp(&x)?))
            }
            Func::Ln => {
                let v = self.eval(&args[0])?;
                if matches!(&v, Val::Exact(x) if *x == CRat::int(1)) {
                    return Ok(Val::Exact(CRat::int(0)));
                }
                self.spend(4)?;
                let x = self.approx(&v)?;
                Ok(Val::Approx(self.hp.ln(&x)?))
            }
            Func::LogBase => {
                let b = self.eval(&args[0])?;
                let x = self.eval(&args[1])?;
                if let Some(k) = exact_log(&b, &x) {
                    return Ok(Val::Exact(CRat::real(k)));
                }
                self.spend(8)?;
                let (bf, xf) = (self.approx(&b)?, self.approx(&x)?);
                let lb = self.hp.ln(&bf)?;
                let lx = self.hp.ln(&xf)?;
                Ok(Val::Approx(self.hp.div(&lx, &lb)?))
            }
            Func::Sin
            | Func::Cos
            | Func::Tan
            | Func::Cot
            | Func::Sec
            | Func::Csc
            | Func::Asin
            | Func::Acos
            | Func::Atan
            | Func::Sinh
            | Func::Cosh
            | Func::Tanh => {
                let v = self.eval(&args[0])?;
                if let Val::Exact(x) = &v
                    && x.is_zero()
                {
                    match f {
                        Func::Sin
                        | Func::Tan
                        | Func::Asin
                        | Func::Atan
                        | Func::Sinh
                        | Func::Tanh => {
                            return Ok(Val::Exact(CRat::int(0)));
                        }
                        Func::Cos | Func::Sec | Func::Cosh => {
                            return Ok(Val::Exact(CRat::int(1)));
                        }
                        _ => {}
                    }
                }
                self.spend(6)?;
                let x = self.approx(&v)?;
                let name = match f {
                    Func::Sin => "sin",
                    Func::Cos => "cos",
                    Func::Tan => "tan",
                    Func::Cot => "cot",
                    Func::Sec => "sec",
                    Func::Csc => "csc",
                    Func::Asin => "asin",
                    Func::Acos => "acos",
                    Func::Atan => "atan",
                    Func::Sinh => "sinh",
                    Func::Cosh => "cosh",
                    _ => "tanh",
                };
                Ok(Val::Approx(self.hp.real_fn(name, &x)?))
            }
        }
    }

    /// The sign of a real value.
    pub fn real_sign(&mut self, v: &Val) -> Result<i32, EvalError> {
        match v {
            Val::Exact(x) if x.is_real() => Ok(if x.re.is_zero() {
                0
            } else if x.re.is_positive() {
                1
            } else {
                -1
            }),
            Val::Exact(_) => Err(EvalError::Unsupported("ordering of complex numbers".into())),
            Val::Approx(c) => {
                let r = self
                    .hp
                    .as_real(c)
                    .ok_or_else(|| EvalError::Unsupported("ordering of complex numbers".into()))?;
                Ok(Hp::signum(&r))
            }
        }
    }
}

/// `log_b x` when it is an integer (or the reciprocal of one): `log_2 8 = 3`, `log_4 2 = 1/2`.
fn exact_log(b: &Val, x: &Val) -> Option<Q> {
    let (Val::Exact(b), Val::Exact(x)) = (b, x) else {
        return None;
    };
    if !b.is_real() || !x.is_real() || !b.re.is_positive() || !x.re.is_positive() || b.re.is_one() {
        return None;
    }
    if x.re.is_one() {
        return Some(Q::zero());
    }
    let try_pow = |base: &Q, target: &Q| -> Option<i64> {
        let bits_b = (base.numer().bits() as i64 - base.denom().bits() as i64)
            .abs()
            .max(1);
        let bits_t = (target.numer().bits() as i64 - target.denom().bits() as i64).abs();
        for k in [
            bits_t / bits_b,
            bits_t / bits_b + 1,
            (bits_t / bits_b - 1).max(1),
        ] {
            for sign in [1i64, -1] {
                if !(1..=4096).contains(&k) {
                    continue;
                }
                let e = BigInt::from(k * sign);
                let c = CRat::real(base.clone()).pow(&e, 1 << 16).ok()??;
                if c.re == *target {
                    return Some(k * sign);
                }
            }
        }
        None
    };
    if let Some(k) = try_pow(&b.re, &x.re) {
        return Some(Q::from_integer(k.into()));
    }
    try_pow(&x.re, &b.re).map(|k| Q::new(BigInt::one(), BigInt::from(k)))
}

/// A human name for a structural node.
pub fn structure_name(n: &Node) -> &'static str {
    match n {
        Node::Tuple { .. } => "a tuple",
        Node::Set(_) => "a set",
        Node::List(_) => "a list",
        Node::Matrix(_) => "a matrix",
        Node::Relation(..) => "a relation",
        Node::Union(_) => "a union",
        Node::Text(_) => "text",
        Node::PlusMinus(..) => "a ± expression",
        _ => "an expression",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reward::verifier::parser::parse;

    fn ev(s: &str) -> Result<Val, EvalError> {
        let b = Budget::default();
        let m = Meter::new(b.max_ops);
        let mut e = Evaluator::new(&b, &m, Env::new());
        e.eval(&parse(s, 64).unwrap())
    }

    fn exact(s: &str) -> CRat {
        match ev(s) {
            Ok(Val::Exact(c)) => c,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn q(n: i64, d: i64) -> CRat {
        CRat::real(Q::new(n.into(), d.into()))
    }

    #[test]
    fn exact_values() {
        assert_eq!(exact("\\frac{1}{2}+0.25"), q(3, 4));
        assert_eq!(exact("2^{-3}"), q(1, 8));
        assert_eq!(exact("\\sqrt{\\frac{4}{9}}"), q(2, 3));
        assert_eq!(exact("8^{2/3}"), q(4, 1));
        assert_eq!(exact("(-8)^{1/3}"), q(-2, 1));
        assert_eq!(exact("5!"), q(120, 1));
        assert_eq!(exact("\\binom{10}{3}"), q(120, 1));
        assert_eq!(exact("\\log_2 8"), q(3, 1));
        assert_eq!(exact("\\log_{4} 2"), q(1, 2));
        assert_eq!(
            exact("(1+i)^2"),
            CRat {
                re: Q::zero(),
                im: Q::from_integer(2.into())
            }
        );
        assert_eq!(exact("\\lfloor 7/2 \\rfloor"), q(3, 1));
        assert_eq!(exact("|-3|"), q(3, 1));
        assert_eq!(
            exact("\\sqrt{-4}"),
            CRat {
                re: Q::zero(),
                im: Q::from_integer(2.into())
            }
        );
    }

    #[test]
    fn irrational_values_are_approximate() {
        assert!(matches!(ev("\\sqrt{2}"), Ok(Val::Approx(_))));
        assert!(matches!(ev("\\pi"), Ok(Val::Approx(_))));
        assert!(matches!(ev("\\sin 1"), Ok(Val::Approx(_))));
    }

    #[test]
    fn budget_and_domain_errors() {
        assert!(matches!(ev("10^{10^{10}}"), Err(EvalError::Budget(_))));
        assert!(matches!(ev("1000000!"), Err(EvalError::Budget(_))));
        assert!(matches!(ev("\\frac{1}{0}"), Err(EvalError::Undefined(_))));
        assert!(matches!(ev("x+1"), Err(EvalError::FreeVariable(_))));
        assert!(matches!(ev("e^{10^{10}}"), Err(EvalError::Budget(_))));
        assert!(matches!(ev("\\sin(10^{30})"), Err(EvalError::Budget(_))));
    }
}
