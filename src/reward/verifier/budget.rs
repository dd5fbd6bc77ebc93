//! Work limits that bound every comparison, so that no input can make the verifier hang.

use std::cell::Cell;

/// Limits on the work one comparison may do. Exceeding any of them makes the answers
/// "not equal" with a reason naming the limit; nothing is ever computed past a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Longest response (in bytes) searched for an answer.
    pub max_response_len: usize,
    /// Longest answer (in bytes) that is parsed.
    pub max_answer_len: usize,
    /// Deepest nesting of brackets, fractions, powers and functions the parser accepts.
    pub max_depth: usize,
    /// Largest size, in bits, of a numerator or denominator in exact arithmetic.
    pub max_bits: u64,
    /// Largest argument of a factorial.
    pub max_factorial: u64,
    /// Largest binary exponent (in magnitude) of a high-precision value.
    pub max_float_exponent: i64,
    /// Arithmetic operations allowed in one comparison, all evaluation points together.
    pub max_ops: u64,
    /// Random points at which expressions in variables are compared.
    pub points: usize,
    /// Element comparisons allowed when matching two sets.
    pub max_set_pairs: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_response_len: 1 << 20,
            max_answer_len: 4096,
            max_depth: 64,
            max_bits: 1 << 17,
            max_factorial: 20_000,
            max_float_exponent: 1 << 20,
            max_ops: 200_000,
            points: 6,
            max_set_pairs: 1024,
        }
    }
}

/// A limit of the [`Budget`] was reached; the message names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverBudget(pub String);

/// Counts the operations of one comparison against [`Budget::max_ops`].
#[derive(Debug)]
pub struct Meter {
    left: Cell<u64>,
}

impl Meter {
    /// A meter with `ops` operations to spend.
    pub fn new(ops: u64) -> Self {
        Meter {
            left: Cell::new(ops),
        }
    }

    /// Spends `n` operations, failing once none are left.
    pub fn spend(&self, n: u64) -> Result<(), OverBudget> {
        let left = self.left.get();
        if left < n {
            self.left.set(0);
            return Err(OverBudget("operation budget exhausted".into()));
        }
        self.left.set(left - n);
        Ok(())
    }
}
