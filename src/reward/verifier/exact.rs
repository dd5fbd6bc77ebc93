//! Exact arithmetic on Gaussian rationals `a + bi` with big-integer numerators and denominators,
//! every result checked against the bit budget.

use super::budget::OverBudget;
use num_bigint::BigInt;
use num_rational::Ratio;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// A big rational number.
pub type Q = Ratio<BigInt>;

/// Size in bits of a rational (numerator plus denominator).
pub fn q_bits(q: &Q) -> u64 {
    q.numer().bits() + q.denom().bits()
}

/// A complex rational `re + im·i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CRat {
    /// Real part.
    pub re: Q,
    /// Imaginary part.
    pub im: Q,
}

impl CRat {
    /// A real value.
    pub fn real(re: Q) -> Self {
        CRat { re, im: Q::zero() }
    }

    /// An integer.
    pub fn int(n: i64) -> Self {
        CRat::real(Q::from_integer(n.into()))
    }

    /// The imaginary unit.
    pub fn i() -> Self {
        CRat {
            re: Q::zero(),
            im: Q::one(),
        }
    }

    /// Whether the imaginary part is zero.
    pub fn is_real(&self) -> bool {
        self.im.is_zero()
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.re.is_zero() && self.im.is_zero()
    }

    /// The value as an integer, if it is one.
    pub fn as_integer(&self) -> Option<BigInt> {
        (self.is_real() && self.re.is_integer()).then(|| self.re.to_integer())
    }

    /// Size in bits of the larger part.
    pub fn bits(&self) -> u64 {
        q_bits(&self.re).max(q_bits(&self.im))
    }

    /// Negation.
    pub fn neg(&self) -> Self {
        CRat {
            re: -&self.re,
            im: -&self.im,
        }
    }

    /// Sum.
    pub fn add(&self, o: &Self) -> Self {
        CRat {
            re: &self.re + &o.re,
            im: &self.im + &o.im,
        }
    }

    /// Difference.
    pub fn sub(&self, o: &Self) -> Self {
        CRat {
            re: &self.re - &o.re,
            im: &self.im - &o.im,
        }
    }

    /// Product.
    pub fn mul(&self, o: &Self) -> Self {
        if self.is_real() && o.is_real() {
            return CRat::real(&self.re * &o.re);
        }
        CRat {
            re: &self.re * &o.re - &self.im * &o.im,
            im: &self.re * &o.im + &self.im * &o.re,
        }
    }

    /// Quotient; `None` when dividing by zero.
    pub fn div(&self, o: &Self) -> Option<Self> {
        if o.is_zero() {
            return None;
        }
        if o.is_real() {
            return Some(CRat {
                re: &self.re / &o.re,
                im: &self.im / &o.re,
            });
        }
        let den = &o.re * &o.re + &o.im * &o.im;
        Some(CRat {
            re: (&self.re * &o.re + &self.im * &o.im) / &den,
            im: (&self.im * &o.re - &self.re * &o.im) / &den,
        })
    }

    /// Integer power, refusing results larger than `max_bits`; `Ok(None)` for `0^negative`.
    pub fn pow(&self, n: &BigInt, max_bits: u64) -> Result<Option<Self>, OverBudget> {
        if n.is_zero() {
            return Ok(Some(CRat::int(1)));
        }
        if self.is_zero() {
            return Ok(if n.is_positive() {
                Some(CRat::int(0))
            } else {
                None
            });
        }
        // Units (±1, ±i) have every power of bounded size.
        let unit = self.bits() <= 2
            && ((self.im.is_zero() && self.re.abs().is_one())
                || (self.re.is_zero() && self.im.abs().is_one()));
        let k: u64 = if unit {
            (n.magnitude() % 4u32).to_u64().unwrap_or(0) + 4
        } else {
            let e = n.magnitude().to_u64().unwrap_or(u64::MAX);
            let est = e.saturating_mul(self.bits().saturating_sub(1).max(1));
            if est > max_bits.saturating_mul(2) {
                return Err(OverBudget(format!(
                    "power with exponent {n} would need about {est} bits (limit {max_bits})"
                )));
            }
            e
        };
        let mut result = CRat::int(1);
        let mut base = self.clone();
        let mut e = k;
        while e > 0 {
            if e & 1 == 1 {
                result = result.mul(&base);
                check_bits(&result, max_bits)?;
            }
            e >>= 1;
            if e > 0 {
                base = base.mul(&base);
                check_bits(&base, max_bits)?;
            }
        }
        if n.is_negative() {
            Ok(CRat::int(1).div(&result))
        } else {
            Ok(Some(result))
        }
    }
}

/// Fails when a value is larger than the bit budget.
pub fn check_bits(x: &CRat, max_bits: u64) -> Result<(), OverBudget> {
    let b = x.bits();
    if b > max_bits {
        return Err(OverBudget(format!(
            "exact value of {b} bits exceeds the limit of {max_bits}"
        )));
    }
    Ok(())
}

/// The exact `k`-th root of a non-negative rational, if it is rational.
pub fn exact_root(q: &Q, k: u32) -> Option<Q> {
    if q.is_negative() || k == 0 {
        return None;
    }
    let n = q.numer().nth_root(k);
    let d = q.denom().nth_root(k);
    (n.pow(k) == *q.numer() && d.pow(k) == *q.denom()).then(|| Q::new(n, d))
}

/// `n!`, refusing arguments whose result exceeds the budget.
pub fn factorial(n: u64, max_n: u64, max_bits: u64) -> Result<BigInt, OverBudget> {
    let est = log2_factorial(n);
    if n > max_n || est > max_bits as f64 {
        return Err(OverBudget(format!(
            "{n}! would need about {est:.0} bits (limits: n ≤ {max_n}, {max_bits} bits)"
        )));
    }
    Ok(product(1, n))
}

/// `n!!`, under the same limits as [`factorial`].
pub fn double_factorial(n: u64, max_n: u64, max_bits: u64) -> Result<BigInt, OverBudget> {
    if n > max_n || log2_factorial(n) / 2.0 > max_bits as f64 {
        return Err(OverBudget(format!("{n}!! exceeds the limits")));
    }
    let mut acc = BigInt::one();
    let mut k = n;
    while k > 1 {
        acc *= k;
        k -= 2;
    }
    Ok(acc)
}

/// log2(n!) by Stirling's formula (exact enough for a budget check).
pub fn log2_factorial(n: u64) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let x = n as f64;
    (x * (x / std::f64::consts::E).ln() + 0.5 * (2.0 * std::f64::consts::PI * x).ln())
        / std::f64::consts::LN_2
}

/// The product `lo·(lo+1)·…·hi` by binary splitting.
fn product(lo: u64, hi: u64) -> BigInt {
    if lo > hi {
        return BigInt::one();
    }
    if hi - lo < 16 {
        let mut acc = BigInt::one();
        for k in lo..=hi {
            acc *= k;
        }
        return acc;
    }
    let mid = lo + (hi - lo) / 2;
    product(lo, mid) * product(mid + 1, hi)
}

/// `binom(n, k)` for integers, with `k ≥ 0` (and any integer `n`), under the bit budget.
pub fn binomial(n: &BigInt, k: &BigInt, max_bits: u64) -> Result<BigInt, OverBudget> {
    if k.is_negative() {
        return Ok(BigInt::zero());
    }
    let kk = k
        .to_u64()
        .ok_or_else(|| OverBudget(format!("binomial with k = {k} is too large")))?;
    if !n.is_negative() && k > n {
        return Ok(BigInt::zero());
    }
    let kk = if !n.is_negative() {
        let nk = (n - k).to_u64().unwrap_or(u64::MAX);
        kk.min(nk)
    } else {
        kk
    };
    let est = kk as f64 * ((n.bits() + 1) as f64);
    if est > max_bits as f64 {
        return Err(OverBudget(format!(
            "binomial({n}, {k}) exceeds the bit limit"
        )));
    }
    let mut acc = BigInt::one();
    for i in 0..kk {
        acc = acc * (n - BigInt::from(i)) / BigInt::from(i + 1);
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> Q {
        Q::new(n.into(), d.into())
    }

    #[test]
    fn complex_arithmetic() {
        let a = CRat {
            re: q(1, 1),
            im: q(1, 1),
        };
        assert_eq!(
            a.mul(&a),
            CRat {
                re: q(0, 1),
                im: q(2, 1)
            }
        );
        assert_eq!(
            CRat::int(1).div(&CRat::i()),
            Some(CRat {
                re: q(0, 1),
                im: q(-1, 1)
            })
        );
        assert_eq!(CRat::int(1).div(&CRat::int(0)), None);
    }

    #[test]
    fn powers_are_bounded() {
        let two = CRat::int(2);
        let p = two.pow(&BigInt::from(-3), 1000).unwrap().unwrap();
        assert_eq!(p, CRat::real(q(1, 8)));
        assert!(two.pow(&BigInt::from(10u64.pow(10)), 1 << 17).is_err());
        let big: BigInt = "100000000000000000000000000001".parse().unwrap();
        assert_eq!(CRat::i().pow(&big, 100).unwrap().unwrap(), CRat::i());
        assert_eq!(CRat::int(0).pow(&BigInt::from(-1), 100).unwrap(), None);
    }

    #[test]
    fn roots_factorials_binomials() {
        assert_eq!(exact_root(&q(8, 27), 3), Some(q(2, 3)));
        assert_eq!(exact_root(&q(2, 1), 2), None);
        assert_eq!(factorial(5, 100, 1000).unwrap(), BigInt::from(120));
        assert!(factorial(1_000_000, 20_000, 1 << 17).is_err());
        assert_eq!(double_factorial(7, 100, 1000).unwrap(), BigInt::from(105));
        assert_eq!(
            binomial(&BigInt::from(10), &BigInt::from(3), 1000).unwrap(),
            BigInt::from(120)
        );
        assert_eq!(
            binomial(&BigInt::from(-2), &BigInt::from(2), 1000).unwrap(),
            BigInt::from(3)
        );
    }
}
