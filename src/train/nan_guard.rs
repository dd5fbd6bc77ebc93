//! Guard against non-finite updates: a step whose loss or gradient norm is NaN or infinite is
//! skipped (the caller does not apply it), and the run stops after too many such steps in a row.

use serde::{Deserialize, Serialize};

/// What to do with the update of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NanVerdict {
    /// Everything finite: apply the update.
    Apply,
    /// Non-finite: skip this update (the `in_row`-th such step in a row).
    Skip {
        /// Consecutive non-finite steps so far, this one included.
        in_row: u32,
    },
}

/// The run must stop: `max_in_row` consecutive steps had a non-finite loss or gradient norm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "step {step}: {in_row} consecutive steps with a non-finite loss or gradient norm \
     (loss {loss}, grad norm {grad_norm}); stopping (run.max_nan_steps_in_row = {in_row})"
)]
pub struct TooManyNanSteps {
    /// Step at which the limit was reached.
    pub step: u64,
    /// Consecutive non-finite steps.
    pub in_row: u32,
    /// Loss of that step.
    pub loss: f64,
    /// Gradient norm of that step.
    pub grad_norm: f64,
}

/// Counts consecutive non-finite steps. Serializable so that a resumed run keeps its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NanGuard {
    /// Consecutive non-finite steps that stop the run; 0 never stops.
    pub max_in_row: u32,
    /// Current run of consecutive non-finite steps.
    pub in_row: u32,
    /// Non-finite steps skipped since the start of training.
    pub total_skipped: u64,
}

impl NanGuard {
    /// A guard stopping after `max_in_row` consecutive non-finite steps (0: never).
    pub fn new(max_in_row: u32) -> Self {
        Self {
            max_in_row,
            ..Self::default()
        }
    }

    /// Checks the loss and gradient norm of `step`. `Err` when this step reaches the limit.
    pub fn check(
        &mut self,
        step: u64,
        loss: f64,
        grad_norm: f64,
    ) -> Result<NanVerdict, TooManyNanSteps> {
        if loss.is_finite() && grad_norm.is_finite() {
            self.in_row = 0;
            return Ok(NanVerdict::Apply);
        }
        self.in_row += 1;
        self.total_skipped += 1;
        if self.max_in_row > 0 && self.in_row >= self.max_in_row {
            return Err(TooManyNanSteps {
                step,
                in_row: self.in_row,
                loss,
                grad_norm,
            });
        }
        Ok(NanVerdict::Skip {
            in_row: self.in_row,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_steps_apply_and_reset_the_count() {
        let mut g = NanGuard::new(3);
        assert_eq!(g.check(0, 1.0, 2.0), Ok(NanVerdict::Apply));
        assert_eq!(
            g.check(1, f64::NAN, 2.0),
            Ok(NanVerdict::Skip { in_row: 1 })
        );
        assert_eq!(
            g.check(2, 1.0, f64::INFINITY),
            Ok(NanVerdict::Skip { in_row: 2 })
        );
        assert_eq!(g.check(3, 0.5, 0.1), Ok(NanVerdict::Apply));
        assert_eq!(g.in_row, 0);
        assert_eq!(g.total_skipped, 2);
        assert_eq!(
            g.check(4, f64::NEG_INFINITY, 0.1),
            Ok(NanVerdict::Skip { in_row: 1 })
        );
    }

    #[test]
    fn the_limit_th_step_in_a_row_stops() {
        let mut g = NanGuard::new(3);
        assert!(g.check(0, f64::NAN, f64::NAN).is_ok());
        assert!(g.check(1, f64::NAN, 1.0).is_ok());
        let err = g.check(2, f64::NAN, 1.0).unwrap_err();
        assert_eq!(err.step, 2);
        assert_eq!(err.in_row, 3);
        assert!(err.to_string().contains("3 consecutive"));
    }

    #[test]
    fn limit_one_stops_at_the_first_and_zero_never_stops() {
        assert!(NanGuard::new(1).check(5, f64::NAN, 0.0).is_err());
        let mut never = NanGuard::new(0);
        for step in 0..1000 {
            assert_eq!(
                never.check(step, f64::NAN, 0.0),
                Ok(NanVerdict::Skip {
                    in_row: step as u32 + 1
                })
            );
        }
    }

    #[test]
    fn state_survives_serialization() {
        let mut g = NanGuard::new(4);
        g.check(0, f64::NAN, 0.0).unwrap();
        let mut back: NanGuard = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(back, g);
        assert_eq!(
            back.check(1, f64::NAN, 0.0),
            Ok(NanVerdict::Skip { in_row: 2 })
        );
    }
}
