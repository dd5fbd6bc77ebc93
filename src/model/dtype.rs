//! Names of the floating-point types models are computed in.

use anyhow::{Result, bail};
use burn::tensor::DType;

/// Parses `f32|float32`, `bf16|bfloat16`, `f16|float16`.
pub fn parse_dtype(name: &str) -> Result<DType> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "f32" | "float32" | "float" => DType::F32,
        "bf16" | "bfloat16" => DType::BF16,
        "f16" | "float16" | "half" => DType::F16,
        other => bail!("unknown dtype {other:?} (expected f32, bf16 or f16)"),
    })
}

/// The short name of a dtype (`f32`, `bf16`, `f16`).
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        DType::F64 => "f64",
        _ => "other",
    }
}
