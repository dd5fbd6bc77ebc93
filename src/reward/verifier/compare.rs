//! Comparison of expressions: exact rationals, high-precision values, random points for
//! expressions in variables, and proportionality for equations and inequalities.

use super::ast::{Func, Node};
use super::budget::{Budget, Meter};
use super::eval::{Env, EvalError, Evaluator, Val};
use super::exact::{CRat, Q};
use super::verdict::Rule;
use num_bigint::BigInt;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

/// The result of comparing two parsed answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Whether they are equivalent.
    pub equal: bool,
    /// The rule that decided.
    pub rule: Rule,
    /// Why.
    pub reason: String,
}

impl Outcome {
    /// Equivalent, by `rule`.
    pub fn yes(rule: Rule, reason: impl Into<String>) -> Self {
        Outcome {
            equal: true,
            rule,
            reason: reason.into(),
        }
    }

    /// Not equivalent, by `rule`.
    pub fn no(rule: Rule, reason: impl Into<String>) -> Self {
        Outcome {
            equal: false,
            rule,
            reason: reason.into(),
        }
    }

    fn from_error(e: EvalError) -> Self {
        match e {
            EvalError::Budget(m) => Outcome::no(Rule::Budget, format!("over budget: {m}")),
            EvalError::Undefined(m) => Outcome::no(Rule::Unparsed, format!("undefined value: {m}")),
            EvalError::Unsupported(m) => {
                Outcome::no(Rule::Unparsed, format!("cannot evaluate: {m}"))
            }
            EvalError::FreeVariable(v) => Outcome::no(Rule::Unparsed, format!("free variable {v}")),
        }
    }
}

/// Seed of the random points: fixed, so that every comparison is reproducible.
const POINT_SEED: u64 = 0x005E_ED0F_A115;

/// Compares expressions under a budget; one `Comparer` per comparison of two answers.
pub struct Comparer<'a> {
    /// The limits.
    pub budget: &'a Budget,
    /// Operations spent so far.
    pub meter: Meter,
    /// Lenient relative tolerance for answers written with decimals.
    pub tolerance: Option<f64>,
}

/// Evaluated values of several expressions at one point, with the magnitude scale.
struct PointValues {
    vals: Vec<Val>,
    scale: isize,
}

enum PointsResult {
    /// Values at each successful point.
    Points(Vec<PointValues>),
    /// Evaluation failed in a way that decides the comparison.
    Failed(Outcome),
}

impl<'a> Comparer<'a> {
    /// A comparer with a fresh operation meter.
    pub fn new(budget: &'a Budget, tolerance: Option<f64>) -> Self {
        Comparer {
            budget,
            meter: Meter::new(budget.max_ops),
            tolerance,
        }
    }

    fn evaluator(&self, env: Env) -> Evaluator<'_> {
        Evaluator::new(self.budget, &self.meter, env)
    }

    /// Compares two arithmetic expressions.
    pub fn values(&self, a: &Node, b: &Node) -> Outcome {
        match (infinity_sign(a), infinity_sign(b)) {
            (Some(x), Some(y)) => {
                return if x == y && x != 0 {
                    Outcome::yes(Rule::Rational, "the same infinity")
                } else {
                    Outcome::no(Rule::Rational, "different infinite values")
                };
            }
            (Some(_), None) | (None, Some(_)) => {
                return Outcome::no(Rule::Rational, "infinity against a finite value");
            }
            _ => {}
        }
        let vars = symbols_of(&[a, b]);
        let decimal = a.has_decimal() || b.has_decimal();
        if vars.is_empty() {
            let mut ev = self.evaluator(Env::new());
            let x = match ev.eval(a) {
                Ok(v) => v,
                Err(e) => return Outcome::from_error(e),
            };
            let y = match ev.eval(b) {
                Ok(v) => v,
                Err(e) => return Outcome::from_error(e),
            };
            return match (&x, &y) {
                (Val::Exact(p), Val::Exact(q)) => {
                    if p == q {
                        Outcome::yes(Rule::Rational, "equal exact rational values")
                    } else if let Some(o) = self.tolerant(&mut ev, &x, &y, decimal) {
                        o
                    } else {
                        Outcome::no(Rule::Rational, "different exact rational values")
                    }
                }
                _ => {
                    let scale = ev.hp.scale;
                    match approx_equal(&mut ev, &x, &y, scale) {
                        Ok(true) => Outcome::yes(
                            Rule::HighPrecision,
                            "equal to 2^-200 relative under 256-bit evaluation",
                        ),
                        Ok(false) => self.tolerant(&mut ev, &x, &y, decimal).unwrap_or_else(|| {
                            Outcome::no(
                                Rule::HighPrecision,
                                "different values under 256-bit evaluation",
                            )
                        }),
                        Err(e) => Outcome::from_error(e),
                    }
                }
            };
        }
        let pts = match self.points(&[a, b], &vars) {
            PointsResult::Points(p) => p,
            PointsResult::Failed(o) => return o,
        };
        let mut exact = true;
        for (k, p) in pts.iter().enumerate() {
            let mut ev = self.evaluator(Env::new());
            exact &= matches!((&p.vals[0], &p.vals[1]), (Val::Exact(_), Val::Exact(_)));
            match approx_equal(&mut ev, &p.vals[0], &p.vals[1], p.scale) {
                Ok(true) => {}
                Ok(false) => {
                    if let Some(o) = self.tolerant(&mut ev, &p.vals[0], &p.vals[1], decimal)
                        && o.equal
                    {
                        continue;
                    }
                    return Outcome::no(
                        Rule::RandomPoints,
                        format!(
                            "different values at random point {} of {}",
                            k + 1,
                            pts.len()
                        ),
                    );
                }
                Err(e) => return Outcome::from_error(e),
            }
        }
        Outcome::yes(
            Rule::RandomPoints,
            format!(
                "equal at {} random points in {} ({})",
                pts.len(),
                vars.iter().cloned().collect::<Vec<_>>().join(", "),
                if exact { "exact" } else { "high precision" }
            ),
        )
    }

    /// The lenient tolerance check, when enabled and a decimal is involved.
    fn tolerant(&self, ev: &mut Evaluator<'_>, x: &Val, y: &Val, decimal: bool) -> Option<Outcome> {
        let tol = self.tolerance?;
        if !decimal {
            return None;
        }
        let (p, q) = (ev.approx(x).ok()?, ev.approx(y).ok()?);
        let ok = ev.hp.within_relative(&p, &q, tol).ok()?;
        Some(if ok {
            Outcome::yes(
                Rule::NumericTolerance,
                format!("within relative tolerance {tol}"),
            )
        } else {
            Outcome::no(
                Rule::NumericTolerance,
                format!("not within relative tolerance {tol}"),
            )
        })
    }

    /// Whether `f = c·g` for a constant `c ≠ 0` (`c > 0` when `positive`), as functions of
    /// their variables. Used for equations `f = 0` (and inequalities `f < 0`).
    pub fn proportional(&self, f: &Node, g: &Node, positive: bool, rule: Rule) -> Outcome {
        let vars = symbols_of(&[f, g]);
        let pts = if vars.is_empty() {
            let mut ev = self.evaluator(Env::new());
            let vals = match (ev.eval(f), ev.eval(g)) {
                (Ok(x), Ok(y)) => vec![x, y],
                (Err(e), _) | (_, Err(e)) => return Outcome::from_error(e),
            };
            vec![PointValues {
                vals,
                scale: ev.hp.scale,
            }]
        } else {
            match self.points(&[f, g], &vars) {
                PointsResult::Points(p) => p,
                PointsResult::Failed(o) => return o,
            }
        };
        let mut ev = self.evaluator(Env::new());
        let scale = pts.iter().map(|p| p.scale).max().unwrap_or(0);
        let zero = Val::Exact(CRat::int(0));
        let result: Result<Outcome, EvalError> = (|| {
            let mut pivot = None;
            for (k, p) in pts.iter().enumerate() {
                if !approx_equal(&mut ev, &p.vals[1], &zero, p.scale)? {
                    pivot = Some(k);
                    break;
                }
            }
            let Some(k) = pivot else {
                for p in &pts {
                    if !approx_equal(&mut ev, &p.vals[0], &zero, p.scale)? {
                        return Ok(Outcome::no(
                            rule,
                            "one side is identically true, the other is not",
                        ));
                    }
                }
                return Ok(Outcome::yes(rule, "both identically true"));
            };
            let (fk, gk) = (&pts[k].vals[0], &pts[k].vals[1]);
            if approx_equal(&mut ev, fk, &zero, pts[k].scale)? {
                return Ok(Outcome::no(rule, "not proportional (zero multiple)"));
            }
            for p in &pts {
                let lhs = ev.mul(&p.vals[0], gk)?;
                let rhs = ev.mul(fk, &p.vals[1])?;
                let s = scale.max(ev.hp.scale);
                if !approx_equal(&mut ev, &lhs, &rhs, s)? {
                    return Ok(Outcome::no(rule, "not proportional at a random point"));
                }
            }
            if positive {
                let c = ev.div(fk, gk)?;
                if ev.real_sign(&c)? <= 0 {
                    return Ok(Outcome::no(rule, "proportional only by a negative factor"));
                }
            }
            Ok(Outcome::yes(
                rule,
                format!("proportional at {} point(s)", pts.len()),
            ))
        })();
        result.unwrap_or_else(Outcome::from_error)
    }

    /// Evaluates `nodes` at random points (integers when the expressions need them).
    fn points(&self, nodes: &[&Node], vars: &BTreeSet<String>) -> PointsResult {
        let integer = nodes.iter().any(|n| wants_integer_points(n));
        let mut rng = ChaCha8Rng::seed_from_u64(POINT_SEED);
        let want = self.budget.points.max(1);
        let mut out = Vec::new();
        let mut seen: BTreeSet<Vec<(BigInt, BigInt)>> = BTreeSet::new();
        let mut undefined = 0;
        for _ in 0..want * 4 {
            if out.len() >= want {
                break;
            }
            let env: Env = vars
                .iter()
                .map(|v| (v.clone(), random_value(&mut rng, integer)))
                .collect();
            let key: Vec<(BigInt, BigInt)> = env
                .values()
                .map(|c| (c.re.numer().clone(), c.re.denom().clone()))
                .collect();
            if !seen.insert(key) {
                continue;
            }
            let mut ev = self.evaluator(env);
            let mut vals = Vec::new();
            let mut skip = false;
            for n in nodes {
                match ev.eval(n) {
                    Ok(v) => vals.push(v),
                    Err(EvalError::Undefined(_)) => {
                        skip = true;
                        break;
                    }
                    Err(e) => return PointsResult::Failed(Outcome::from_error(e)),
                }
            }
            if skip {
                undefined += 1;
                continue;
            }
            out.push(PointValues {
                vals,
                scale: ev.hp.scale,
            });
        }
        if out.len() < want.min(3) {
            return PointsResult::Failed(Outcome::no(
                Rule::RandomPoints,
                format!(
                    "only {} of the random points gave values ({} undefined)",
                    out.len(),
                    undefined
                ),
            ));
        }
        PointsResult::Points(out)
    }
}

/// Two values equal: exactly when both are exact, else to the high-precision tolerance.
fn approx_equal(ev: &mut Evaluator<'_>, x: &Val, y: &Val, scale: isize) -> Result<bool, EvalError> {
    if let (Val::Exact(p), Val::Exact(q)) = (x, y) {
        return Ok(p == q);
    }
    let (p, q) = (ev.approx(x)?, ev.approx(y)?);
    ev.hp.close(&p, &q, scale)
}

fn random_value(rng: &mut ChaCha8Rng, integer: bool) -> CRat {
    if integer {
        return CRat::int(rng.random_range(2..=40));
    }
    let n: i64 = rng.random_range(1..=97);
    let d: i64 = rng.random_range(1..=13);
    let sign = if rng.random_bool(0.5) { 1 } else { -1 };
    CRat::real(Q::new(BigInt::from(sign * n), BigInt::from(d)))
}

fn symbols_of(nodes: &[&Node]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for n in nodes {
        out.extend(n.symbols());
    }
    out
}

/// Expressions that only make sense at integers: floor, ceiling, factorials, binomials,
/// gcd/lcm, or a variable in an exponent (`2^n`, `(-1)^k`).
fn wants_integer_points(n: &Node) -> bool {
    n.any(&|m| match m {
        Node::Func(f, args) => f.wants_integers() && args.iter().any(|a| !a.symbols().is_empty()),
        Node::Fact(a) | Node::DoubleFact(a) => !a.symbols().is_empty(),
        Node::Pow(_, e) => !e.symbols().is_empty(),
        _ => false,
    })
}

/// `Some(1)` for +∞, `Some(-1)` for -∞, `None` for anything else.
pub fn infinity_sign(n: &Node) -> Option<i32> {
    match n {
        Node::Inf => Some(1),
        Node::Neg(a) => infinity_sign(a).map(|s| -s),
        Node::Add(v) if v.len() == 1 => infinity_sign(&v[0]),
        _ => {
            if n.any(&|m| matches!(m, Node::Inf)) {
                Some(0)
            } else {
                None
            }
        }
    }
}

/// Whether an expression uses a function (for classification).
pub fn uses_function(n: &Node, f: Func) -> bool {
    n.any(&|m| matches!(m, Node::Func(g, _) if *g == f))
}
