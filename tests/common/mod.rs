//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod decode_kernels;
pub mod device_sampling;
pub mod head_chunks;
pub mod long_sums;
pub mod matmul_kernels;
pub mod parity;
pub mod training_parity;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Held by every test that writes process environment variables.
pub static ENV_LOCK: Mutex<()> = Mutex::new(());

/// `tests/fixtures` of this crate: in the source tree the test binary was built from, or, where
/// that tree is absent (a binary carried to a GPU machine by `benches/gpu_carry.sh`), in the
/// checkout it runs from.
pub fn fixtures() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    if built.is_dir() {
        built
    } else {
        PathBuf::from("tests/fixtures")
    }
}

/// The shared material directory (`$PROF_SHARED_DIR`, else `../shared`), or `None` with a
/// message when absent so the calling test can skip.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PROF_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: shared material not found at {} (set PROF_SHARED_DIR)",
            dir.display()
        );
        None
    }
}

/// Reads a JSON fixture.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A JSON array of numbers as u32.
pub fn u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

/// A JSON array of numbers as f32.
pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Largest absolute difference of two equal-length slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs the `prof-grpo` binary with `args`.
pub fn run_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_prof-grpo"))
        .args(args)
        .output()
        .expect("running prof-grpo")
}

/// Runs the `prof-grpo` binary, asserts success and parses its standard output as JSON.
pub fn cli_json(args: &[&str]) -> serde_json::Value {
    let out = run_cli(args);
    assert!(
        out.status.success(),
        "prof-grpo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "prof-grpo {args:?}: stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Token ids as the CLI's comma-separated `--ids` argument.
pub fn ids_arg(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}
