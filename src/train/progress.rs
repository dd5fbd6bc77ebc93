//! Progress display of a run: a bar over the RL steps with its ETA and the latest metrics, and a
//! sub-bar while completions are generated. Drawn on stderr only when it is a terminal and
//! progress is enabled; otherwise the bars are hidden and [`TrainProgress::println`] writes plain
//! lines (suitable for log files).

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

const STEPS_TEMPLATE: &str =
    "{prefix:>8} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} ETA {eta_precise} {msg}";
const ROLLOUT_TEMPLATE: &str = "{prefix:>8} {wide_bar:.green/white} {pos}/{len} {msg}";

/// The progress bars of a training run.
#[derive(Debug)]
pub struct TrainProgress {
    multi: MultiProgress,
    steps: ProgressBar,
    rollout: Option<ProgressBar>,
    visible: bool,
}

impl TrainProgress {
    /// Bars for a run of `total_steps` steps of which `done_steps` are already done (on resume).
    /// Visible only when `enabled` and stderr is a terminal.
    pub fn new(total_steps: u64, done_steps: u64, enabled: bool) -> Self {
        Self::with_visibility(
            total_steps,
            done_steps,
            enabled && std::io::stderr().is_terminal(),
        )
    }

    /// Bars that are never drawn.
    pub fn hidden(total_steps: u64, done_steps: u64) -> Self {
        Self::with_visibility(total_steps, done_steps, false)
    }

    fn with_visibility(total_steps: u64, done_steps: u64, visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let steps = multi.add(ProgressBar::new(total_steps));
        steps.set_style(style(STEPS_TEMPLATE));
        steps.set_prefix("steps");
        steps.set_position(done_steps.min(total_steps));
        steps.reset_eta();
        Self {
            multi,
            steps,
            rollout: None,
            visible,
        }
    }

    /// Whether the bars are drawn.
    pub fn is_visible(&self) -> bool {
        self.visible
    }

    /// Steps completed so far.
    pub fn position(&self) -> u64 {
        self.steps.position()
    }

    /// Shows what the current step is doing (e.g. `"prm"`, `"update"`).
    pub fn set_phase(&self, phase: &str) {
        self.steps.set_message(phase.to_string());
    }

    /// Starts the rollout sub-bar over `total` units (sequences or tokens, named by `unit`);
    /// returns a handle the generator can advance with `inc`.
    pub fn begin_rollout(&mut self, total: u64, unit: &str) -> ProgressBar {
        self.end_rollout();
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(style(ROLLOUT_TEMPLATE));
        bar.set_prefix("rollout");
        bar.set_message(unit.to_string());
        self.rollout = Some(bar.clone());
        bar
    }

    /// Removes the rollout sub-bar.
    pub fn end_rollout(&mut self) {
        if let Some(bar) = self.rollout.take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Marks one step done and shows `summary` (e.g. `"reward 0.41 kl 0.002"`) beside the bar.
    pub fn step_done(&self, summary: &str) {
        self.steps.inc(1);
        self.steps.set_message(summary.to_string());
    }

    /// Prints a line above the bars (or on stderr when they are hidden).
    pub fn println(&self, line: &str) {
        if self.visible {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Leaves the steps bar in its final state.
    pub fn finish(&mut self) {
        self.end_rollout();
        self.steps.finish();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("progress templates are valid")
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_bars_count_steps_and_manage_the_rollout_bar() {
        let mut p = TrainProgress::hidden(10, 3);
        assert!(!p.is_visible());
        assert_eq!(p.position(), 3);
        let bar = p.begin_rollout(64, "sequences");
        bar.inc(10);
        assert_eq!(bar.position(), 10);
        p.end_rollout();
        assert!(p.rollout.is_none());
        p.step_done("reward 0.5");
        assert_eq!(p.position(), 4);
        p.finish();
    }

    #[test]
    fn templates_parse() {
        let _ = style(STEPS_TEMPLATE);
        let _ = style(ROLLOUT_TEMPLATE);
    }
}
