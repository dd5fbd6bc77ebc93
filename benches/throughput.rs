//! Throughput of the model on any backend: prefill, decode, the update's log-prob forward and a
//! training step, with the same definitions as `benches/torch_reference.py`, printing one JSON
//! line per batch size with the same field names.
//!
//! ```text
//! cargo bench --bench throughput -- --model DIR --batch 1,16 --prompt-len 64 --new-tokens 32 \
//!     [--mode prefill,decode,logprob,train,prm|all] [--backend flex|wgpu|cuda] [--dtype f32|bf16] [--repeats 3]
//! cargo bench --bench throughput -- --make-random-model DIR --shape tiny|47m|0.5b|1.5b [--dtype bf16]
//! ```
//! CPU threads follow `RAYON_NUM_THREADS`. With `--hbm-tbs` and `--peak-tflops` (the card's memory
//! bandwidth in TB/s and dense bf16 peak in TFLOP/s) each line also gives the decode figure against
//! the weight-streaming bound and the training figure against the FLOP bound.

#[path = "common/peak_rss.rs"]
mod peak_rss;

#[path = "throughput/matmul_sweep.rs"]
mod matmul_sweep;
#[path = "throughput/measure.rs"]
mod measure;
#[path = "throughput/random_model.rs"]
mod random_model;

use anyhow::{Result, bail};
use burn::tensor::DType;
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{Parser, ValueEnum};
use prof_grpo::backend::{
    AutodiffTask, BackendKind, BackendTask, default_dtype, run_autodiff, run_inference,
};
use prof_grpo::model::decode_kernels::{self, DecodeKernels, with_decode_kernels};
use prof_grpo::model::dtype::parse_dtype;
use prof_grpo::model::matmul_kernels::MatmulKernel;
use prof_grpo::model::matrix_layout::{MatrixLayout, with_matrix_layout};
use prof_grpo::model::{PretrainedLm, Qwen2Config, load_pretrained};
use prof_grpo::model::{flash_attention, gemv};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use measure::Workload;
use random_model::Shape;

/// What to measure.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Forward of `[batch, prompt-len]` into a KV cache, last position's logits.
    Prefill,
    /// The `new-tokens - 1` cached steps of greedy generation without early stop.
    Decode,
    /// `response_logprobs` on a `[batch, prompt-len + new-tokens]` batch.
    Logprob,
    /// Log-prob forward, backward and an AdamW step on the autodiff backend.
    Train,
    /// PRM scoring of `[batch, prompt-len + new-tokens]` rows by a PRM of the model's shape.
    Prm,
    /// Prefill, decode and logprob (the set `torch_reference.py` measures by default).
    All,
    /// The model's matrix products (`--batch` rows each) on each of CubeCL's matrix-product
    /// kernels and on Burn's choice, one line per product, layout and kernel; GPU backends only,
    /// and on its own (see `throughput/matmul_sweep.rs`).
    Matmul,
}

/// Command line of the throughput bench.
#[derive(Parser, Debug)]
#[command(about = "Throughput of prefill, decode, log-prob and training steps")]
struct Args {
    /// Checkpoint directory (Hugging Face layout).
    #[arg(long, required_unless_present = "make_random_model")]
    model: Option<PathBuf>,
    /// Backend to measure.
    #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
    backend: BackendKind,
    /// Device on the backend (wgpu `default|cpu|discrete:N`, cuda `N`).
    #[arg(long, default_value = "")]
    device: String,
    /// Batch sizes, comma-separated; one JSON line each.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batch: Vec<usize>,
    /// Prompt tokens per sequence.
    #[arg(long, default_value_t = 64)]
    prompt_len: usize,
    /// New tokens per sequence (decode) or response tokens (logprob, train).
    #[arg(long, default_value_t = 32)]
    new_tokens: usize,
    /// Workloads, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    mode: Vec<Mode>,
    /// Compute dtype (f32, bf16, f16); default f32 on CPU and wgpu, bf16 on CUDA.
    #[arg(long)]
    dtype: Option<String>,
    /// Timed runs per figure (the median is reported), after one warm-up run.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Seed of the random prompt ids (and of `--make-random-model`'s weights).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Memory bandwidth of the device in TB/s (adds the decode bound to the output).
    #[arg(long)]
    hbm_tbs: Option<f64>,
    /// Dense peak of the device in TFLOP/s in the compute dtype (adds the training bound).
    #[arg(long)]
    peak_tflops: Option<f64>,
    /// Write a seeded random model of `--shape` into this directory and exit.
    #[arg(long, value_name = "DIR")]
    make_random_model: Option<PathBuf>,
    /// Memory order of the linear layers' weights in the inference modes: `in-out` as loaded, or
    /// `out-in` (the checkpoint's order, read transposed), which GPU backends multiply with other
    /// kernels.
    #[arg(long, value_enum, default_value_t = MatrixLayout::InOut)]
    weight_layout: MatrixLayout,
    /// Whether a decoding step's one-token products run on CubeCL's matrix-vector kernel
    /// (`on`/`off`); unset, the build's default (on in GPU builds without autotuning). Each line
    /// reports the choice and how many products ran on the kernel and on Burn's fallback.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    vector_kernel: Option<bool>,
    /// Whether attention in the inference modes runs on CubeCL's flash-attention kernel
    /// (`on`/`off`); unset, the build's default (on in GPU builds without autotuning). Each line
    /// reports the choice and how many attentions ran on the kernel and on Burn's fallback.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    flash_attention: Option<bool>,
    /// Whether decoding picks its tokens on the device (`on`/`off`; greedy here); unset, the
    /// build's default (on in GPU builds). `off` reads the logits back and picks on the host, as
    /// the CPU backend always does. Each line reports the choice.
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    device_sampling: Option<bool>,
    /// The CubeCL kernel for the linear layers' products of more than one row in the inference
    /// modes (by the name `--mode matmul` reports, e.g. `matmul_double_cyclic_cmma`); unset,
    /// Burn's choice. Each line reports it and how many products ran on it and on Burn's
    /// fallback.
    #[arg(long)]
    matmul_kernel: Option<String>,
    /// `--mode matmul`: the products to time (`q_proj`, `k_proj`, `gate_proj`, `down_proj`,
    /// `lm_head`), comma-separated; all by default.
    #[arg(long, value_delimiter = ',')]
    matmul_products: Vec<String>,
    /// `--mode matmul`: the kernels to time besides Burn's choice, as substrings of their names
    /// (e.g. `vecmat,tma`), comma-separated; all by default.
    #[arg(long, value_delimiter = ',')]
    matmul_kernels: Vec<String>,
    /// `--mode matmul`: seconds after which no further kernel is timed.
    #[arg(long, default_value_t = 600.0)]
    matmul_budget: f64,
    /// Training step: recompute the decoder layers in the backward pass instead of keeping their
    /// activations (as `actor.gradient_checkpointing`); reported per line.
    #[arg(long)]
    gradient_checkpointing: bool,
    /// Shape for `--make-random-model`.
    #[arg(long, value_enum, default_value_t = Shape::M47)]
    shape: Shape,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn dtype(&self) -> Result<DType> {
        match &self.dtype {
            Some(name) => parse_dtype(name),
            None => Ok(default_dtype(self.backend)),
        }
    }

    /// The kernel `--matmul-kernel` names.
    fn matmul_kernel(&self) -> Result<Option<MatmulKernel>> {
        let Some(name) = &self.matmul_kernel else {
            return Ok(None);
        };
        match MatmulKernel::named(name) {
            Some(kernel) => Ok(Some(kernel)),
            None => {
                let names: Vec<&str> = MatmulKernel::all().map(MatmulKernel::name).collect();
                bail!("--matmul-kernel {name}: not one of this build's kernels {names:?}")
            }
        }
    }

    fn workload(&self, batch: usize, pad_id: u32) -> Workload {
        Workload {
            batch,
            prompt_len: self.prompt_len,
            new_tokens: self.new_tokens,
            repeats: self.repeats,
            seed: self.seed,
            pad_id,
            gradient_checkpointing: self.gradient_checkpointing,
        }
    }
}

/// Bytes of one element of `dtype`.
fn dtype_bytes(dtype: DType) -> usize {
    match dtype {
        DType::F64 => 8,
        DType::F16 | DType::BF16 => 2,
        _ => 4,
    }
}

/// The name torch_reference.py uses for a dtype.
fn torch_dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        DType::F64 => "float64",
        _ => "float32",
    }
}

fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The fields every line starts with.
fn header<B: Backend>(
    args: &Args,
    lm: &PretrainedLm<B>,
    batch: usize,
    dtype: DType,
) -> Map<String, Value> {
    let mut m = build_header(args, &lm.dir, dtype);
    m.insert("batch".into(), json!(batch));
    m.insert("prompt_len".into(), json!(args.prompt_len));
    m.insert("new_tokens".into(), json!(args.new_tokens));
    m.insert("threads".into(), json!(threads()));
    m.insert("parameters".into(), json!(lm.config.num_parameters()));
    m
}

/// The fields that say what build measured which model on which backend in which dtype.
fn build_header(args: &Args, model: &Path, dtype: DType) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("engine".into(), json!("prof-grpo"));
    m.insert(
        "backend".into(),
        json!(format!("{:?}", args.backend).to_lowercase()),
    );
    m.insert("model".into(), json!(model.display().to_string()));
    m.insert("dtype".into(), json!(torch_dtype_name(dtype)));
    m.insert("burn".into(), json!("0.21.0"));
    // Whether the GPU backends time candidate kernels on first use (the `autotune` feature).
    m.insert("autotune".into(), json!(cfg!(feature = "autotune")));
    m
}

/// Adds the roofline figures when the device's limits are known: decode reads every weight once
/// per step (the tied embedding once, as the LM head), training costs 6 · parameters FLOPs per token.
fn add_bounds(args: &Args, m: &mut Map<String, Value>, dtype: DType) {
    let params = m["parameters"].as_u64().unwrap_or(0) as f64;
    let batch = m["batch"].as_u64().unwrap_or(1) as f64;
    if let Some(tbs) = args.hbm_tbs {
        let weight_bytes = params * dtype_bytes(dtype) as f64;
        let bound = batch * tbs * 1e12 / weight_bytes;
        m.insert("weight_bytes".into(), json!(weight_bytes));
        m.insert("hbm_tbs".into(), json!(tbs));
        m.insert("decode_bound_tokens_per_s".into(), json!(bound));
        if let Some(tps) = m.get("decode_tokens_per_s").and_then(Value::as_f64) {
            m.insert("decode_fraction_of_bound".into(), json!(tps / bound));
        }
    }
    if let Some(tflops) = args.peak_tflops {
        let bound = tflops * 1e12 / (6.0 * params);
        m.insert("peak_tflops".into(), json!(tflops));
        m.insert("train_bound_tokens_per_s".into(), json!(bound));
        if let Some(tps) = m.get("train_tokens_per_s").and_then(Value::as_f64) {
            m.insert("train_fraction_of_bound".into(), json!(tps / bound));
        }
    }
}

/// Prints one JSON line, with the process's peak resident memory so far.
fn emit(line: &Map<String, Value>) -> Result<()> {
    let mut line = line.clone();
    line.insert("peak_rss_bytes".into(), json!(peak_rss::peak_rss_bytes()));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", Value::Object(line))?;
    out.flush()?;
    Ok(())
}

fn pad_id<B: Backend>(lm: &PretrainedLm<B>) -> u32 {
    lm.generation
        .pad_id
        .or_else(|| lm.generation.eos_ids.first().copied())
        .unwrap_or(0)
}

/// Prefill, decode and logprob on the inference backend.
struct InferenceTask<'a> {
    args: &'a Args,
    modes: Vec<Mode>,
    /// Print each line as soon as its batch is done.
    stream: bool,
}

impl BackendTask for InferenceTask<'_> {
    type Output = Vec<Map<String, Value>>;
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let dtype = self.args.dtype()?;
        let model = self.args.model.as_ref().expect("required by clap");
        let mut lm = load_pretrained::<B>(&model.display().to_string(), dtype, &device)?;
        if self.args.weight_layout != MatrixLayout::InOut {
            lm.model = with_matrix_layout(lm.model, self.args.weight_layout);
        }
        measure::note(&format!("loaded {}", model.display()));
        let default = decode_kernels::current();
        let kernels = DecodeKernels {
            vector_matrix: self.args.vector_kernel.unwrap_or(default.vector_matrix),
            flash_attention: self.args.flash_attention.unwrap_or(default.flash_attention),
            products: self.args.matmul_kernel()?.or(default.products),
            device_sampling: self.args.device_sampling.unwrap_or(default.device_sampling),
        };
        with_decode_kernels(kernels, || self.measure(&lm, dtype))
    }
}

impl InferenceTask<'_> {
    /// One line per batch size, each with the figures of every mode.
    fn measure<B: Backend>(
        &self,
        lm: &PretrainedLm<B>,
        dtype: DType,
    ) -> Result<Vec<Map<String, Value>>> {
        let mut lines = Vec::new();
        for &batch in &self.args.batch {
            let launches_before = (gemv::launches(), flash_attention::launches());
            let products_before = decode_kernels::current()
                .products
                .map(MatmulKernel::launches);
            let w = self.args.workload(batch, pad_id(lm));
            let mut m = header(self.args, lm, batch, dtype);
            let layout = self
                .args
                .weight_layout
                .to_possible_value()
                .expect("a named value");
            m.insert("weight_layout".into(), json!(layout.get_name()));
            for mode in &self.modes {
                match mode {
                    Mode::Prefill => measure::prefill(&lm.model, &w, &mut m)?,
                    Mode::Decode => measure::decode(&lm.model, &w, &mut m)?,
                    Mode::Logprob => measure::logprob(&lm.model, &w, &mut m)?,
                    Mode::Prm => measure::prm(&lm.model, &lm.config, dtype, &w, &mut m)?,
                    Mode::Train | Mode::All | Mode::Matmul => unreachable!("expanded before"),
                }
            }
            let kernels = decode_kernels::current();
            let ((vector, vector_fallback), (flash, flash_fallback)) = launches_before;
            let after = (gemv::launches(), flash_attention::launches());
            for (key, value) in [
                ("vector_kernel", json!(kernels.vector_matrix)),
                ("vector_kernel_products", json!(after.0.0 - vector)),
                (
                    "vector_kernel_fallbacks",
                    json!(after.0.1 - vector_fallback),
                ),
                ("flash_attention", json!(kernels.flash_attention)),
                ("device_sampling", json!(kernels.device_sampling)),
                ("flash_attention_runs", json!(after.1.0 - flash)),
                (
                    "flash_attention_fallbacks",
                    json!(after.1.1 - flash_fallback),
                ),
            ] {
                m.insert(key.into(), value);
            }
            let products = kernels.products.map(|k| (k.name(), k.launches()));
            m.insert(
                "matmul_kernel".into(),
                json!(products.map(|(name, _)| name)),
            );
            if let (Some((_, (ran, fell_back))), Some((ran0, fell_back0))) =
                (products, products_before)
            {
                m.insert("matmul_kernel_products".into(), json!(ran - ran0));
                m.insert(
                    "matmul_kernel_fallbacks".into(),
                    json!(fell_back - fell_back0),
                );
            }
            add_bounds(self.args, &mut m, dtype);
            if self.stream {
                emit(&m)?;
            }
            lines.push(m);
        }
        Ok(lines)
    }
}

/// `--mode matmul` on the inference backend: only the model's config is read.
struct MatmulTask<'a> {
    args: &'a Args,
}

impl BackendTask for MatmulTask<'_> {
    type Output = ();
    fn run<B: Backend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        let dir = args.model.as_ref().expect("required by clap");
        let config = Qwen2Config::from_file(&dir.join("config.json"))?;
        let dtype = args.dtype()?;
        let header = build_header(args, dir, dtype);
        let sweep = matmul_sweep::Sweep {
            rows: args.batch.clone(),
            products: args.matmul_products.clone(),
            kernels: args.matmul_kernels.clone(),
            repeats: args.repeats,
            budget_s: args.matmul_budget,
            dtype,
            seed: args.seed,
            hbm_tbs: args.hbm_tbs,
            peak_tflops: args.peak_tflops,
        };
        matmul_sweep::run::<B>(&sweep, &config, &device, &header, &mut |line| emit(line))
    }
}

/// The training step on the autodiff backend.
struct TrainTask<'a> {
    args: &'a Args,
    stream: bool,
}

impl AutodiffTask for TrainTask<'_> {
    type Output = Vec<Map<String, Value>>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output> {
        let dtype = self.args.dtype()?;
        let model = self.args.model.as_ref().expect("required by clap");
        let mut lm = load_pretrained::<B>(&model.display().to_string(), dtype, &device)?;
        measure::note(&format!("loaded {}", model.display()));
        let mut lines = Vec::new();
        for &batch in &self.args.batch {
            let w = self.args.workload(batch, pad_id(&lm));
            let mut m = header(self.args, &lm, batch, dtype);
            lm.model = measure::train(lm.model, &w, &mut m)?;
            add_bounds(self.args, &mut m, dtype);
            if self.stream {
                emit(&m)?;
            }
            lines.push(m);
        }
        Ok(lines)
    }
}

fn main() -> Result<()> {
    // As the trainer's binary does.
    prof_grpo::host::set_up_process();
    let args = Args::parse();
    LazyLock::force(&measure::STARTED);
    if let Some(dir) = &args.make_random_model {
        let dtype = args.dtype.as_deref().map_or(Ok(DType::F32), parse_dtype)?;
        let params = random_model::make_random_model(dir, args.shape, dtype, args.seed)?;
        emit(
            json!({"made": dir.display().to_string(), "shape": args.shape.to_possible_value().map(|v| v.get_name().to_string()),
                   "parameters": params, "dtype": torch_dtype_name(dtype)})
            .as_object()
            .expect("an object"),
        )?;
        return Ok(());
    }
    // A misspelt kernel name fails before a model is loaded.
    args.matmul_kernel()?;
    if args.batch.contains(&0) {
        bail!("--batch: batch sizes must be positive");
    }
    if args.prompt_len == 0 {
        bail!("--prompt-len must be positive");
    }
    if args.mode.contains(&Mode::Matmul) {
        if args.mode.len() > 1 {
            bail!("--mode matmul runs on its own");
        }
        return run_inference(args.backend, &args.device, MatmulTask { args: &args });
    }
    let mut inference: Vec<Mode> = Vec::new();
    for &mode in &args.mode {
        let expanded: &[Mode] = match mode {
            Mode::All => &[Mode::Prefill, Mode::Decode, Mode::Logprob],
            Mode::Train => &[],
            _ => std::slice::from_ref(&mode),
        };
        for &m in expanded {
            if !inference.contains(&m) {
                inference.push(m);
            }
        }
    }
    let train = args.mode.contains(&Mode::Train);
    if train && args.weight_layout != MatrixLayout::InOut {
        bail!("--weight-layout applies to the inference modes; the training step loads [in, out]");
    }
    let stream = inference.is_empty() || !train;
    let mut lines = if inference.is_empty() {
        Vec::new()
    } else {
        run_inference(
            args.backend,
            &args.device,
            InferenceTask {
                args: &args,
                modes: inference,
                stream,
            },
        )?
    };
    if train {
        let trained = run_autodiff(
            args.backend,
            &args.device,
            TrainTask {
                args: &args,
                stream,
            },
        )?;
        if lines.is_empty() {
            lines = trained;
        } else {
            for (line, t) in lines.iter_mut().zip(trained) {
                line.extend(t);
            }
        }
    }
    if !stream {
        for line in &lines {
            emit(line)?;
        }
    }
    Ok(())
}
