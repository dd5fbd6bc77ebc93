//! `--mode matmul`: the model's matrix products on each of CubeCL's matrix-product kernels
//! ([`MatmulKernel`]) and on Burn's own choice, timed one by one, one JSON line each.
//!
//! The products are a layer's (q/o, k/v, gate/up, down) and the LM head at the model's widths,
//! with `rows` rows (`--batch`: 1 for a decoding step at batch 1, 4,096 for a `[8, 512]`
//! training batch), in three layouts: the weight as loaded (`in-out`, row-major `[in, out]`), in
//! the checkpoint's `[out, in]` order read transposed (`out-in`), and training's weight gradient
//! `xᵀ · g` (`weight-grad`, from 256 rows; its inner axis is the rows). Each kernel's first run
//! (compiling it) is checked against an f32 product; the time is the median of `repeats` runs of
//! enough back-to-back products to take about 30 ms, synchronised, so it includes each product's
//! launch. Kernels that refuse a problem fall back to Burn's product, and the line says so.

use std::time::Instant;

use anyhow::{Result, anyhow};
use burn::tensor::{DType, Distribution, Tensor, backend::Backend};
use prof_grpo::model::Qwen2Config;
use prof_grpo::model::matmul_kernels::{self, KernelFamily, MatmulKernel};
use serde_json::{Map, Value, json};

use super::dtype_bytes;
use super::measure::{note, sync};

/// What to sweep.
pub struct Sweep {
    /// Rows of the products (`--batch`).
    pub rows: Vec<usize>,
    /// Products to time: names as in [`products`], or empty for all.
    pub products: Vec<String>,
    /// Kernels to time besides Burn's choice: substrings of their names, or empty for all.
    pub kernels: Vec<String>,
    /// Timed runs per kernel (the median is reported).
    pub repeats: usize,
    /// Seconds after which no further kernel starts.
    pub budget_s: f64,
    /// Compute dtype.
    pub dtype: DType,
    /// Seed of the random operands.
    pub seed: u64,
    /// Memory bandwidth of the device in TB/s, for the fraction of the bandwidth bound.
    pub hbm_tbs: Option<f64>,
    /// Dense peak of the device in TFLOP/s, for the fraction of the FLOP bound.
    pub peak_tflops: Option<f64>,
}

/// The order of a product's operands in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `x: [rows, in]` times a row-major `w: [in, out]`.
    InOut,
    /// `x: [rows, in]` times the transpose of a row-major `[out, in]` matrix.
    OutIn,
    /// The weight gradient `xᵀ · g`: the transpose of a row-major `x: [rows, in]` times a
    /// row-major `g: [rows, out]`.
    WeightGrad,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::InOut => "in-out",
            Layout::OutIn => "out-in",
            Layout::WeightGrad => "weight-grad",
        }
    }

    /// The operands, seeded, in this layout; `(lhs, rhs)` with `lhs · rhs` the product.
    fn operands<B: Backend>(
        self,
        rows: usize,
        (k, n): (usize, usize),
        dtype: DType,
        device: &B::Device,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let random = |shape: [usize; 2]| {
            Tensor::<B, 2>::random(shape, Distribution::Uniform(-1.0, 1.0), device).cast(dtype)
        };
        match self {
            Layout::InOut => (random([rows, k]), random([k, n])),
            Layout::OutIn => (random([rows, k]), random([n, k]).transpose()),
            Layout::WeightGrad => (random([rows, k]).transpose(), random([rows, n])),
        }
    }
}

/// The model's products: a name and `(in, out)`.
fn products(config: &Qwen2Config) -> Vec<(&'static str, (usize, usize))> {
    let h = config.hidden_size;
    let kv = config.num_key_value_heads * config.head_dim();
    vec![
        ("q_proj/o_proj", (h, h)),
        ("k_proj/v_proj", (h, kv)),
        ("gate_proj/up_proj", (h, config.intermediate_size)),
        ("down_proj", (config.intermediate_size, h)),
        ("lm_head", (h, config.vocab_size)),
    ]
}

/// Whether `kernel` is worth timing on `rows` rows in `layout`: the matrix-vector kernels take
/// one row only, and the unit kernels are for small products.
fn suits(kernel: MatmulKernel, rows: usize, layout: Layout) -> bool {
    match kernel.family() {
        KernelFamily::Vector => rows == 1 && layout != Layout::WeightGrad,
        KernelFamily::Unit => rows <= 64,
        KernelFamily::Accelerated => true,
    }
}

/// Runs the sweep on `device`, printing each line through `emit` as it is measured.
pub fn run<B: Backend>(
    sweep: &Sweep,
    config: &Qwen2Config,
    device: &B::Device,
    header: &Map<String, Value>,
    emit: &mut dyn FnMut(&Map<String, Value>) -> Result<()>,
) -> Result<()> {
    B::seed(device, sweep.seed);
    let started = Instant::now();
    let mut kernels: Vec<MatmulKernel> = MatmulKernel::all()
        .filter(|k| sweep.kernels.is_empty() || sweep.kernels.iter().any(|s| k.name().contains(s)))
        .collect();
    if let Some(&kernel) = kernels.first() {
        let probe = || Tensor::<B, 2>::zeros([1, 1], device);
        if matmul_kernels::product(kernel, probe(), probe()).is_err() {
            note("matmul sweep: not a fused CubeCL backend, so Burn's products only");
            kernels.clear();
        }
    }
    let products: Vec<_> = products(config)
        .into_iter()
        .filter(|(name, _)| {
            sweep.products.is_empty() || sweep.products.iter().any(|p| name.contains(p.as_str()))
        })
        .collect();
    let mut skipped = 0;
    for &rows in &sweep.rows {
        for &(name, dims) in &products {
            for layout in [Layout::InOut, Layout::OutIn, Layout::WeightGrad] {
                if layout == Layout::WeightGrad && rows < 256 {
                    continue;
                }
                let (lhs, rhs) = layout.operands::<B>(rows, dims, sweep.dtype, device);
                let reference = lhs
                    .clone()
                    .cast(DType::F32)
                    .matmul(rhs.clone().cast(DType::F32));
                let candidates = std::iter::once(None).chain(
                    kernels
                        .iter()
                        .filter(|k| suits(**k, rows, layout))
                        .map(Some),
                );
                for kernel in candidates {
                    if started.elapsed().as_secs_f64() > sweep.budget_s {
                        skipped += 1;
                        continue;
                    }
                    let mut line = header.clone();
                    line.insert("sweep".into(), json!("matmul"));
                    line.insert("product".into(), json!(name));
                    line.insert("rows".into(), json!(rows));
                    line.insert("in".into(), json!(dims.0));
                    line.insert("out".into(), json!(dims.1));
                    line.insert("layout".into(), json!(layout.name()));
                    let kernel_name = kernel.map_or("burn", |k| k.name());
                    line.insert("kernel".into(), json!(kernel_name));
                    note(&format!(
                        "matmul {name} rows {rows} {}: {kernel_name}",
                        layout.name()
                    ));
                    let product = || -> Result<Tensor<B, 2>> {
                        match kernel {
                            None => Ok(lhs.clone().matmul(rhs.clone())),
                            Some(k) => matmul_kernels::product(*k, lhs.clone(), rhs.clone())
                                .map_err(|_| anyhow!("not a fused CubeCL backend")),
                        }
                    };
                    let before = kernel.map(|k| k.launches());
                    time(sweep, device, &reference, product, &mut line)?;
                    if let (Some(k), Some((_, fell_back))) = (kernel, before) {
                        line.insert("fell_back".into(), json!(k.launches().1 > fell_back));
                    }
                    add_rates(sweep, rows, dims, &mut line);
                    emit(&line)?;
                }
            }
        }
    }
    if skipped > 0 {
        note(&format!(
            "matmul sweep: {skipped} kernel timings not started, past the {} s budget",
            sweep.budget_s
        ));
    }
    Ok(())
}

/// The first run (compiling the kernel) with its error against `reference`, then the median
/// time per product over `repeats` runs of about 30 ms each.
fn time<B: Backend>(
    sweep: &Sweep,
    device: &B::Device,
    reference: &Tensor<B, 2>,
    product: impl Fn() -> Result<Tensor<B, 2>>,
    line: &mut Map<String, Value>,
) -> Result<()> {
    let start = Instant::now();
    let y = product()?;
    sync::<B>(device)?;
    line.insert("first_run_s".into(), json!(start.elapsed().as_secs_f64()));
    let scale = largest(reference.clone())?;
    let error = largest(y.cast(DType::F32) - reference.clone())?;
    line.insert(
        "relative_error".into(),
        json!(error / scale.max(f64::MIN_POSITIVE)),
    );
    let start = Instant::now();
    drop(product()?);
    sync::<B>(device)?;
    let once = start.elapsed().as_secs_f64();
    let count = ((0.03 / once.max(1e-7)).ceil() as usize).clamp(1, 200);
    let mut times = Vec::new();
    for _ in 0..sweep.repeats.max(1) {
        let start = Instant::now();
        for _ in 0..count {
            drop(product()?);
        }
        sync::<B>(device)?;
        times.push(start.elapsed().as_secs_f64() / count as f64);
    }
    times.sort_by(f64::total_cmp);
    line.insert("products_per_run".into(), json!(count));
    line.insert("us".into(), json!(times[times.len() / 2] * 1e6));
    Ok(())
}

/// The largest absolute value of an f32 tensor.
fn largest<B: Backend>(x: Tensor<B, 2>) -> Result<f64> {
    let max: Vec<f32> = x
        .abs()
        .max()
        .into_data()
        .to_vec()
        .map_err(|e| anyhow!("{e:?}"))?;
    Ok(f64::from(max[0]))
}

/// Bytes moved (each operand and the output once) and FLOPs per second, and their fractions of
/// the device's bounds where known.
fn add_rates(sweep: &Sweep, rows: usize, (k, n): (usize, usize), line: &mut Map<String, Value>) {
    let Some(secs) = line.get("us").and_then(Value::as_f64).map(|us| us / 1e6) else {
        return;
    };
    let element = dtype_bytes(sweep.dtype) as f64;
    let (m, k, n) = (rows as f64, k as f64, n as f64);
    let bytes_per_s = element * (m * k + k * n + m * n) / secs;
    let flops_per_s = 2.0 * m * k * n / secs;
    line.insert("gb_per_s".into(), json!(bytes_per_s / 1e9));
    line.insert("tflops".into(), json!(flops_per_s / 1e12));
    if let Some(tbs) = sweep.hbm_tbs {
        line.insert("hbm_fraction".into(), json!(bytes_per_s / (tbs * 1e12)));
    }
    if let Some(peak) = sweep.peak_tflops {
        line.insert("peak_fraction".into(), json!(flops_per_s / (peak * 1e12)));
    }
}
