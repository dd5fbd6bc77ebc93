//! Evaluation metrics and reports.
