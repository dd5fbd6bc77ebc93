//! Strict maths answer verifier.
