//! The training loop, optimizer, schedules, checkpoints, metrics and plots.
