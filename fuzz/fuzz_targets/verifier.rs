//! Fuzzes the answer verifier: extraction, normalisation, parsing, evaluation and comparison
//! must finish without panicking on any input. The input is split at its first newline into
//! two answers. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run verifier -- -dict=fuzz/verifier.dict`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports)]
#[path = "../../src/reward/verifier/mod.rs"]
mod verifier;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, text));
    let v = verifier::Verifier::default();
    // `compare_answers` does not catch panics (unlike `equivalent`), so the fuzzer sees them.
    let _ = v.compare_answers(a, b);
    let _ = verifier::extract_answer(text);
    let _ = verifier::classify_answer(a);
});
