//! Learning-rate schedules over optimizer steps: a linear warm-up, then constant or cosine decay.
//!
//! With `w` warm-up steps, step `t` (0-based) has `lr × (t + 1) / w` for `t < w`, so the first
//! update already moves and step `w − 1` reaches the peak. After it, `warmup_cosine` follows
//! `lr × (m + (1 − m) · ½ (1 + cos(π p)))` with `p = (t − w) / (T − w)` over the `T` total steps
//! and `m = min_lr_ratio`; `constant` stays at `lr`.

use crate::train::config::{ActorConfig, LrSchedule};

/// A learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrScheduler {
    /// Peak learning rate.
    pub lr: f64,
    /// Shape after the warm-up.
    pub schedule: LrSchedule,
    /// Steps of linear warm-up.
    pub warmup_steps: u64,
    /// Total optimizer steps of the run (the cosine reaches its floor there).
    pub total_steps: u64,
    /// Floor of the cosine as a fraction of `lr`.
    pub min_lr_ratio: f64,
}

impl LrScheduler {
    /// The schedule of `actor` for a run of `total_steps` optimizer steps.
    pub fn from_config(actor: &ActorConfig, total_steps: u64) -> Self {
        Self {
            lr: actor.lr,
            schedule: actor.lr_schedule,
            warmup_steps: actor.warmup_steps,
            total_steps,
            min_lr_ratio: actor.min_lr_ratio,
        }
    }

    /// Learning rate of optimizer step `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::WarmupCosine => {
                let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
                let progress = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                self.lr * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(schedule: LrSchedule, warmup: u64, total: u64, min: f64) -> LrScheduler {
        LrScheduler {
            lr: 1.0,
            schedule,
            warmup_steps: warmup,
            total_steps: total,
            min_lr_ratio: min,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn constant_without_warmup_is_flat() {
        let s = sched(LrSchedule::Constant, 0, 10, 0.5);
        assert!((0..20).all(|t| s.lr_at(t) == 1.0));
    }

    #[test]
    fn warmup_is_linear_then_constant() {
        let s = sched(LrSchedule::Constant, 4, 10, 0.0);
        let got: Vec<f64> = (0..6).map(|t| s.lr_at(t)).collect();
        assert_eq!(got, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn warmup_cosine_hand_values() {
        // w = 2, T = 6: cosine over 4 steps, p = 0, 1/4, 1/2, 3/4 at steps 2..5, floor 0.2.
        let s = sched(LrSchedule::WarmupCosine, 2, 6, 0.2);
        assert!(close(s.lr_at(0), 0.5));
        assert!(close(s.lr_at(1), 1.0));
        assert!(close(s.lr_at(2), 1.0));
        // p = 1/4: ½(1 + cos π/4) = 0.853553…; 0.2 + 0.8 × 0.853553… = 0.882842…
        assert!(close(s.lr_at(3), 0.2 + 0.8 * 0.5 * (1.0 + 0.5f64.sqrt())));
        assert!(close(s.lr_at(4), 0.6)); // p = 1/2: 0.2 + 0.8 × 0.5
        assert!(close(s.lr_at(5), 0.2 + 0.8 * 0.5 * (1.0 - 0.5f64.sqrt())));
        assert!(close(s.lr_at(6), 0.2)); // p = 1: the floor
        assert!(close(s.lr_at(100), 0.2)); // stays at the floor past the end
    }

    #[test]
    fn from_config_takes_actor_values() {
        let actor = ActorConfig {
            lr: 3e-4,
            lr_schedule: LrSchedule::WarmupCosine,
            warmup_steps: 5,
            min_lr_ratio: 0.1,
            ..ActorConfig::default()
        };
        let s = LrScheduler::from_config(&actor, 50);
        assert!(close(s.lr_at(0), 3e-4 / 5.0));
        assert!(close(s.lr_at(50), 3e-5));
    }
}
