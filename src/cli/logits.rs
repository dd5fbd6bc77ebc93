//! `prof-grpo logits`: the logits of every position of one id sequence, as JSON.

use anyhow::{Result, bail};
use burn::tensor::{DType, backend::Backend};

use super::model_args::{ModelArgs, parse_ids};
use crate::backend::{BackendTask, run_inference};
use crate::model::{Batch, load_pretrained};

/// Arguments of `prof-grpo logits`.
#[derive(clap::Args, Debug)]
pub struct LogitsArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Comma-separated input ids, e.g. `5,17,99`.
    #[arg(long)]
    ids: String,
}

struct Task {
    args: LogitsArgs,
    ids: Vec<u32>,
}

impl BackendTask for Task {
    type Output = Vec<Vec<f32>>;
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let lm = load_pretrained::<B>(&self.args.model.model, self.args.model.dtype()?, &device)?;
        let vocab = lm.config.vocab_size;
        if let Some(bad) = self.ids.iter().find(|&&t| t as usize >= vocab) {
            bail!("--ids: token id {bad} is outside the vocabulary (size {vocab})");
        }
        let batch = Batch::<B>::dense(std::slice::from_ref(&self.ids), &device);
        let logits = lm.model.forward(&batch, None).cast(DType::F32);
        let flat: Vec<f32> = logits
            .into_data()
            .to_vec()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(flat.chunks(vocab).map(<[f32]>::to_vec).collect())
    }
}

/// Runs the command, printing `{"logits": [[...], ...]}`.
pub fn run(args: LogitsArgs) -> Result<()> {
    let ids = parse_ids(&args.ids)?;
    if ids.is_empty() {
        bail!("--ids: give at least one token id");
    }
    let (backend, device) = (args.model.backend, args.model.device.clone());
    let rows = run_inference(backend, &device, Task { args, ids })?;
    println!("{}", serde_json::json!({ "logits": rows }));
    Ok(())
}
