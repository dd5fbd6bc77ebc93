//! High-precision complex floating point for expressions that are not rational (radicals, π,
//! e, logarithms, trigonometry).
//!
//! Built on `dashu-float`: a pure-Rust (no C/GMP) arbitrary-precision float crate whose
//! transcendental functions are correctly rounded and which, through its `Context` API,
//! reports domain errors and overflow as values instead of panicking. `rug` would need GMP
//! and `astro-float` is less widely used; exact big rationals (`num-rational`) handle
//! everything rational, and these floats only what is not.

use super::eval::EvalError;
use super::exact::{CRat, Q};
use dashu_float::round::mode::HalfEven;
use dashu_float::{ConstCache, Context, FBig, FpError, FpResult};
use dashu_int::{IBig, Sign, UBig};
use num_bigint::BigInt;
use num_traits::Signed;

/// A binary float with the working precision.
pub type F = FBig<HalfEven, 2>;

/// A complex float.
#[derive(Clone, Debug)]
pub struct CF {
    /// Real part.
    pub re: F,
    /// Imaginary part.
    pub im: F,
}

/// Working precision in bits.
pub const PRECISION: usize = 256;
/// Two values agree when they differ by at most 2^-TOLERANCE_BITS relative to their size.
pub const TOLERANCE_BITS: isize = 200;

/// The evaluation context: precision, constant cache, exponent limit, and the largest
/// magnitude seen (the scale of possible cancellation error).
pub struct Hp {
    ctx: Context<HalfEven>,
    cache: ConstCache,
    max_exp: isize,
    /// log2 of the largest magnitude produced so far.
    pub scale: isize,
}

fn is_zero(x: &F) -> bool {
    x.repr().significand() == &IBig::ZERO
}

fn is_neg(x: &F) -> bool {
    x.sign() == Sign::Negative && !is_zero(x)
}

/// log2 of |x| (rounded), or `None` for zero.
pub fn log2_mag(x: &F) -> Option<isize> {
    if is_zero(x) {
        return None;
    }
    let bits = x.repr().digits() as isize;
    Some(x.repr().exponent() + bits)
}

fn ibig(n: &BigInt) -> IBig {
    let (sign, bytes) = n.to_bytes_le();
    let mag = UBig::from_le_bytes(&bytes);
    let s = if sign == num_bigint::Sign::Minus {
        Sign::Negative
    } else {
        Sign::Positive
    };
    IBig::from_parts(s, mag)
}

fn map_err(e: FpError) -> EvalError {
    match e {
        FpError::Overflow(_) | FpError::Underflow(_) => {
            EvalError::Budget("a high-precision value overflowed".into())
        }
        FpError::ZivRetryLimitExceeded => {
            EvalError::Unsupported("high-precision rounding did not settle".into())
        }
        other => EvalError::Undefined(other.to_string()),
    }
}

impl Hp {
    /// A context with `precision` bits and values limited to |log2| ≤ `max_exp`.
    pub fn new(precision: usize, max_exp: i64) -> Self {
        Hp {
            ctx: Context::new(precision),
            cache: ConstCache::default(),
            max_exp: max_exp as isize,
            scale: 0,
        }
    }

    fn lift(&mut self, r: FpResult<F>) -> Result<F, EvalError> {
        let v = r.map_err(map_err)?.value();
        if v.repr().is_infinite() {
            return Err(EvalError::Undefined("infinite value".into()));
        }
        if let Some(m) = log2_mag(&v) {
            if m.abs() > self.max_exp {
                return Err(EvalError::Budget(format!(
                    "a value of magnitude 2^{m} exceeds the limit 2^{}",
                    self.max_exp
                )));
            }
            self.scale = self.scale.max(m);
        }
        Ok(v)
    }

    fn zero(&self) -> F {
        F::ZERO
    }

    /// A rational, rounded.
    pub fn from_q(&mut self, q: &Q) -> Result<F, EvalError> {
        let n = F::from_parts(ibig(q.numer()), 0);
        let d = F::from_parts(ibig(q.denom()), 0);
        let r = self.ctx.div(n.repr(), d.repr());
        self.lift(r)
    }

    /// A complex rational, rounded.
    pub fn from_crat(&mut self, c: &CRat) -> Result<CF, EvalError> {
        Ok(CF {
            re: self.from_q(&c.re)?,
            im: self.from_q(&c.im)?,
        })
    }

    /// π.
    pub fn pi(&mut self) -> CF {
        let p = self.ctx.pi::<2>(Some(&mut self.cache)).value();
        CF { re: p, im: F::ZERO }
    }

    /// e.
    pub fn e(&mut self) -> CF {
        let e = self.ctx.e::<2>().value();
        CF { re: e, im: F::ZERO }
    }

    fn radd(&mut self, a: &F, b: &F) -> Result<F, EvalError> {
        let r = self.ctx.add(a.repr(), b.repr());
        self.lift(r)
    }

    fn rsub(&mut self, a: &F, b: &F) -> Result<F, EvalError> {
        let r = self.ctx.sub(a.repr(), b.repr());
        self.lift(r)
    }

    fn rmul(&mut self, a: &F, b: &F) -> Result<F, EvalError> {
        let r = self.ctx.mul(a.repr(), b.repr());
        self.lift(r)
    }

    fn rdiv(&mut self, a: &F, b: &F) -> Result<F, EvalError> {
        if is_zero(b) {
            return Err(EvalError::Undefined("division by zero".into()));
        }
        let r = self.ctx.div(a.repr(), b.repr());
        self.lift(r)
    }

    fn rsqrt(&mut self, a: &F) -> Result<F, EvalError> {
        if is_zero(a) {
            return Ok(self.zero());
        }
        let r = self.ctx.sqrt(a.repr());
        self.lift(r)
    }

    /// Sum.
    pub fn add(&mut self, a: &CF, b: &CF) -> Result<CF, EvalError> {
        Ok(CF {
            re: self.radd(&a.re, &b.re)?,
            im: self.radd(&a.im, &b.im)?,
        })
    }

    /// Difference.
    pub fn sub(&mut self, a: &CF, b: &CF) -> Result<CF, EvalError> {
        Ok(CF {
            re: self.rsub(&a.re, &b.re)?,
            im: self.rsub(&a.im, &b.im)?,
        })
    }

    /// Product.
    pub fn mul(&mut self, a: &CF, b: &CF) -> Result<CF, EvalError> {
        if is_zero(&a.im) && is_zero(&b.im) {
            return Ok(CF {
                re: self.rmul(&a.re, &b.re)?,
                im: self.zero(),
            });
        }
        let rr = self.rmul(&a.re, &b.re)?;
        let ii = self.rmul(&a.im, &b.im)?;
        let ri = self.rmul(&a.re, &b.im)?;
        let ir = self.rmul(&a.im, &b.re)?;
        Ok(CF {
            re: self.rsub(&rr, &ii)?,
            im: self.radd(&ri, &ir)?,
        })
    }

    /// Quotient.
    pub fn div(&mut self, a: &CF, b: &CF) -> Result<CF, EvalError> {
        if is_zero(&b.im) {
            return Ok(CF {
                re: self.rdiv(&a.re, &b.re)?,
                im: self.rdiv(&a.im, &b.re)?,
            });
        }
        let conj = CF {
            re: b.re.clone(),
            im: -b.im.clone(),
        };
        let num = self.mul(a, &conj)?;
        let rr = self.rmul(&b.re, &b.re)?;
        let ii = self.rmul(&b.im, &b.im)?;
        let den = self.radd(&rr, &ii)?;
        Ok(CF {
            re: self.rdiv(&num.re, &den)?,
            im: self.rdiv(&num.im, &den)?,
        })
    }

    /// Negation.
    pub fn neg(&self, a: &CF) -> CF {
        CF {
            re: -a.re.clone(),
            im: -a.im.clone(),
        }
    }

    /// Modulus.
    pub fn abs(&mut self, a: &CF) -> Result<F, EvalError> {
        if is_zero(&a.im) {
            return Ok(if is_neg(&a.re) {
                -a.re.clone()
            } else {
                a.re.clone()
            });
        }
        let rr = self.rmul(&a.re, &a.re)?;
        let ii = self.rmul(&a.im, &a.im)?;
        let s = self.radd(&rr, &ii)?;
        self.rsqrt(&s)
    }

    /// Principal square root.
    pub fn sqrt(&mut self, a: &CF) -> Result<CF, EvalError> {
        if is_zero(&a.im) {
            return Ok(if is_neg(&a.re) {
                CF {
                    re: self.zero(),
                    im: self.rsqrt(&-a.re.clone())?,
                }
            } else {
                CF {
                    re: self.rsqrt(&a.re)?,
                    im: self.zero(),
                }
            });
        }
        let r = self.abs(a)?;
        let two = F::from(2);
        let t = if is_neg(&a.re) {
            self.rsub(&r, &a.re)?
        } else {
            self.radd(&r, &a.re)?
        };
        let half = self.rdiv(&t, &two)?;
        let big = self.rsqrt(&half)?;
        let twice = self.rmul(&big, &two)?;
        let small = self.rdiv(&a.im, &twice)?;
        Ok(if is_neg(&a.re) {
            // sqrt = |small| + sign(im)·big·i
            let re = if is_neg(&small) { -small } else { small };
            let im = if is_neg(&a.im) { -big } else { big };
            CF { re, im }
        } else {
            CF { re: big, im: small }
        })
    }

    /// A real argument (the imaginary part must be zero or negligible).
    fn real_arg(&mut self, a: &CF, what: &str) -> Result<F, EvalError> {
        if is_zero(&a.im) {
            return Ok(a.re.clone());
        }
        match (log2_mag(&a.im), log2_mag(&a.re)) {
            (Some(mi), Some(mr)) if mi < mr - TOLERANCE_BITS => Ok(a.re.clone()),
            (Some(mi), _) if mi < self.scale - TOLERANCE_BITS => Ok(a.re.clone()),
            _ => Err(EvalError::Unsupported(format!(
                "{what} of a complex number"
            ))),
        }
    }

    fn check_arg_size(&self, x: &F, what: &str) -> Result<(), EvalError> {
        if log2_mag(x).is_some_and(|m| m > 24) {
            return Err(EvalError::Budget(format!(
                "{what} of an argument larger than 2^24"
            )));
        }
        Ok(())
    }

    /// Complex exponential.
    pub fn exp(&mut self, a: &CF) -> Result<CF, EvalError> {
        self.check_arg_size(&a.re, "exp")?;
        self.check_arg_size(&a.im, "exp")?;
        let r = self.ctx.exp(a.re.repr(), Some(&mut self.cache));
        let m = self.lift(r)?;
        if is_zero(&a.im) {
            return Ok(CF {
                re: m,
                im: self.zero(),
            });
        }
        let (c, s) = self.sin_cos(&a.im)?;
        Ok(CF {
            re: self.rmul(&m, &c)?,
            im: self.rmul(&m, &s)?,
        })
    }

    fn sin_cos(&mut self, x: &F) -> Result<(F, F), EvalError> {
        self.check_arg_size(x, "a trigonometric function")?;
        let s = self.ctx.sin(x.repr(), Some(&mut self.cache));
        let s = self.lift(s)?;
        let c = self.ctx.cos(x.repr(), Some(&mut self.cache));
        let c = self.lift(c)?;
        Ok((c, s))
    }

    /// Principal natural logarithm.
    pub fn ln(&mut self, a: &CF) -> Result<CF, EvalError> {
        if is_zero(&a.re) && is_zero(&a.im) {
            return Err(EvalError::Undefined("logarithm of zero".into()));
        }
        if is_zero(&a.im) && !is_neg(&a.re) {
            let r = self.ctx.ln(a.re.repr(), Some(&mut self.cache));
            return Ok(CF {
                re: self.lift(r)?,
                im: self.zero(),
            });
        }
        let m = self.abs(a)?;
        let r = self.ctx.ln(m.repr(), Some(&mut self.cache));
        let re = self.lift(r)?;
        let t = self
            .ctx
            .atan2(a.im.repr(), a.re.repr(), Some(&mut self.cache));
        Ok(CF {
            re,
            im: self.lift(t)?,
        })
    }

    /// Principal power `a^b = exp(b·ln a)`; `0^b` is 0 for real positive `b`.
    pub fn pow(&mut self, a: &CF, b: &CF) -> Result<CF, EvalError> {
        if is_zero(&a.re) && is_zero(&a.im) {
            if is_zero(&b.im) && !is_neg(&b.re) && !is_zero(&b.re) {
                return Ok(CF {
                    re: self.zero(),
                    im: self.zero(),
                });
            }
            return Err(EvalError::Undefined("zero to a non-positive power".into()));
        }
        let l = self.ln(a)?;
        let p = self.mul(b, &l)?;
        self.exp(&p)
    }

    /// Real cube (odd) root of a negative real, `n`-th root otherwise principal.
    pub fn real_odd_root(&mut self, a: &F, n: u32) -> Result<F, EvalError> {
        let x = if is_neg(a) { -a.clone() } else { a.clone() };
        if is_zero(&x) {
            return Ok(self.zero());
        }
        let r = self.ctx.nth_root(n as usize, x.repr());
        let v = self.lift(r)?;
        Ok(if is_neg(a) { -v } else { v })
    }

    /// A real function of a real argument.
    pub fn real_fn(&mut self, name: &str, a: &CF) -> Result<CF, EvalError> {
        let x = self.real_arg(a, name)?;
        let one = F::ONE;
        let v = match name {
            "sin" | "cos" | "tan" | "cot" | "sec" | "csc" => {
                let (c, s) = self.sin_cos(&x)?;
                match name {
                    "sin" => s,
                    "cos" => c,
                    "tan" => self.rdiv(&s, &c)?,
                    "cot" => self.rdiv(&c, &s)?,
                    "sec" => self.rdiv(&one, &c)?,
                    _ => self.rdiv(&one, &s)?,
                }
            }
            "asin" => {
                let r = self.ctx.asin(x.repr(), Some(&mut self.cache));
                self.lift(r)?
            }
            "acos" => {
                let r = self.ctx.acos(x.repr(), Some(&mut self.cache));
                self.lift(r)?
            }
            "atan" => {
                let r = self.ctx.atan(x.repr(), Some(&mut self.cache));
                self.lift(r)?
            }
            "sinh" | "cosh" | "tanh" => {
                self.check_arg_size(&x, name)?;
                let r = match name {
                    "sinh" => self.ctx.sinh(x.repr(), Some(&mut self.cache)),
                    "cosh" => self.ctx.cosh(x.repr(), Some(&mut self.cache)),
                    _ => self.ctx.tanh(x.repr(), Some(&mut self.cache)),
                };
                self.lift(r)?
            }
            "floor" | "ceil" => {
                let fl = x.floor();
                let frac = self.rsub(&x, &fl)?;
                let up = self.rsub(&one, &frac)?;
                let threshold = self.scale.max(0) - TOLERANCE_BITS;
                let near = |v: &F| log2_mag(v).is_none_or(|m| m < threshold);
                if near(&frac) || near(&up) {
                    return Err(EvalError::Unsupported(format!(
                        "{name} of a value too close to an integer to decide"
                    )));
                }
                if name == "floor" {
                    fl
                } else {
                    self.radd(&fl, &one)?
                }
            }
            _ => return Err(EvalError::Unsupported(format!("function {name}"))),
        };
        Ok(CF {
            re: v,
            im: self.zero(),
        })
    }

    /// Whether `a` and `b` agree to the tolerance: relative to the larger modulus, with a floor
    /// at the largest magnitude seen during evaluation (cancellation).
    pub fn close(&mut self, a: &CF, b: &CF, scale: isize) -> Result<bool, EvalError> {
        let d = self.sub(a, b)?;
        let dm = [log2_mag(&d.re), log2_mag(&d.im)]
            .into_iter()
            .flatten()
            .max();
        let Some(dm) = dm else { return Ok(true) };
        let am = [
            log2_mag(&a.re),
            log2_mag(&a.im),
            log2_mag(&b.re),
            log2_mag(&b.im),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(isize::MIN / 2);
        let reference = am.max(scale);
        Ok(dm < reference - TOLERANCE_BITS)
    }

    /// `|a - b| ≤ tol · max(|a|, |b|)` in f64 terms (the lenient tolerance mode).
    pub fn within_relative(&mut self, a: &CF, b: &CF, tol: f64) -> Result<bool, EvalError> {
        let d = self.sub(a, b)?;
        let dn = self.abs(&d)?.to_f64().value();
        let an = self.abs(a)?.to_f64().value();
        let bn = self.abs(b)?.to_f64().value();
        Ok(dn <= tol * an.max(bn))
    }

    /// Whether a value is (to the tolerance) real; returns its real part.
    pub fn as_real(&self, a: &CF) -> Option<F> {
        if is_zero(&a.im) {
            return Some(a.re.clone());
        }
        match (log2_mag(&a.im), log2_mag(&a.re)) {
            (Some(mi), Some(mr)) if mi < mr - TOLERANCE_BITS => Some(a.re.clone()),
            (Some(mi), _) if mi < self.scale - TOLERANCE_BITS => Some(a.re.clone()),
            _ => None,
        }
    }

    /// Sign of a real float: -1, 0 or 1.
    pub fn signum(x: &F) -> i32 {
        if is_zero(x) {
            0
        } else if is_neg(x) {
            -1
        } else {
            1
        }
    }

    /// An integer as a float.
    pub fn from_int(&mut self, n: &BigInt) -> Result<F, EvalError> {
        if n.bits() > self.max_exp as u64 {
            return Err(EvalError::Budget("integer too large".into()));
        }
        let _ = n.is_negative();
        Ok(F::from_parts(ibig(n), 0))
    }
}
