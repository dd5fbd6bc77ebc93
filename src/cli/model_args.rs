//! Command-line options shared by every command that loads a model.

use anyhow::Result;
use burn::tensor::DType;

use crate::backend::{BackendKind, default_dtype};
use crate::model::dtype::parse_dtype;

/// Where a model comes from and what it runs on.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model directory (Hugging Face layout), preset name (see models/) or hub id.
    #[arg(long)]
    pub model: String,
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    pub backend: BackendKind,
    /// Device on the backend: wgpu `default|cpu|discrete:N|integrated:N`, cuda `N`.
    #[arg(long, default_value = "")]
    pub device: String,
    /// dtype to compute in (f32, bf16, f16); default f32 on CPU/wgpu, bf16 on CUDA.
    #[arg(long)]
    pub dtype: Option<String>,
}

impl ModelArgs {
    /// The dtype to load and compute in.
    pub fn dtype(&self) -> Result<DType> {
        match &self.dtype {
            Some(name) => parse_dtype(name),
            None => Ok(default_dtype(self.backend)),
        }
    }
}

/// Parses `5,17,99` into token ids.
pub fn parse_ids(text: &str) -> Result<Vec<u32>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, s)| {
            s.parse::<u32>().map_err(|e| {
                anyhow::anyhow!("--ids: item {} ({s:?}) is not a token id: {e}", i + 1)
            })
        })
        .collect()
}
