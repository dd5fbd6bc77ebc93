//! Command-line commands; the only place that names a concrete backend.

pub mod verify;
