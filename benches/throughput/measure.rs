//! The timed workloads. Each figure is the median of `repeats` timed runs after one untimed
//! warm-up run (two for the training step), and every run ends with the device synchronised, so GPU figures include the
//! queued work.

use anyhow::{Result, anyhow};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{DType, Tensor, backend::AutodiffBackend, backend::Backend};
use prof_grpo::generation::{
    GenerationConfig, ResponseBatch, SamplingParams, generate, last_position_logits,
    response_logprobs,
};
use prof_grpo::model::init::RandomInit;
use prof_grpo::model::{Batch, Qwen2Config, Qwen2ForCausalLm};
use prof_grpo::reward::prm::{Padding, ProcessRewardModel, score_ids};
use prof_grpo::train::fused_adamw::FusedAdamWConfig;
use prof_grpo::train::policy_logprobs::PolicyLogprobs;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One workload's size.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Sequences.
    pub batch: usize,
    /// Prompt tokens per sequence.
    pub prompt_len: usize,
    /// New (response) tokens per sequence.
    pub new_tokens: usize,
    /// Timed runs (after one warm-up).
    pub repeats: usize,
    /// Seed of the random ids.
    pub seed: u64,
    /// Padding id (never used for padding here: all rows have equal lengths).
    pub pad_id: u32,
    /// Training step: recompute the decoder layers in the backward pass (`actor.gradient_checkpointing`).
    pub gradient_checkpointing: bool,
}

/// `batch` rows of `len` ids drawn uniformly from `0..vocab` with a seeded generator.
pub fn random_ids(vocab: usize, batch: usize, len: usize, seed: u64) -> Vec<Vec<u32>> {
    use rand::RngExt;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..batch)
        .map(|_| {
            (0..len)
                .map(|_| rng.random_range(0..vocab as u32))
                .collect()
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Waits for the device's queued work.
pub fn sync<B: Backend>(device: &B::Device) -> Result<()> {
    B::sync(device).map_err(|e| anyhow!("device synchronisation failed: {e:?}"))
}

/// When the process started, for the elapsed time on progress lines.
pub static STARTED: LazyLock<Instant> = LazyLock::new(Instant::now);

/// One line on stderr, stamped with the seconds since the process started.
pub fn note(message: &str) {
    eprintln!(
        "[throughput +{:.1}s] {message}",
        STARTED.elapsed().as_secs_f64()
    );
}

/// One line on stderr per run, so a run cut short by a time limit still shows how far it got
/// (on a GPU the first run of a shape includes compiling its kernels).
fn progress(what: &str, w: &Workload, run: &str, secs: f64) {
    note(&format!("{what} batch {}: {run} {secs:.3} s", w.batch));
}

/// A point in time as UNIX seconds, from an [`Instant`] and a clock reading taken together.
#[derive(Clone, Copy)]
struct WallClock {
    instant: Instant,
    unix: f64,
}

impl WallClock {
    fn now() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Self {
            instant: Instant::now(),
            unix,
        }
    }

    /// `at` in UNIX seconds.
    fn unix_at(&self, at: Instant) -> f64 {
        self.unix + at.saturating_duration_since(self.instant).as_secs_f64()
    }
}

/// Records the timed runs' spans as `"<what>_windows": "start:end start:end"` (UNIX seconds), so
/// that a monitor sampling the device meanwhile (`benches/gpu.sh`) can tell which samples fall
/// in which figure's runs.
fn insert_windows(out: &mut Map<String, Value>, what: &str, windows: &[(f64, f64)]) {
    let spans: Vec<String> = windows
        .iter()
        .map(|(start, end)| format!("{start:.3}:{end:.3}"))
        .collect();
    out.insert(format!("{what}_windows"), json!(spans.join(" ")));
}

/// Runs `run` once untimed, then `repeats` times timed, each ending with `sync`; the median in s.
/// The timed runs' spans go to `out` (see [`insert_windows`]).
fn median_secs<B: Backend>(
    device: &B::Device,
    what: &str,
    w: &Workload,
    out: &mut Map<String, Value>,
    run: impl FnMut() -> Result<()>,
) -> Result<f64> {
    median_secs_after::<B>(device, what, w, 1, out, run)
}

/// [`median_secs`] after `warmups` untimed runs.
fn median_secs_after<B: Backend>(
    device: &B::Device,
    what: &str,
    w: &Workload,
    warmups: usize,
    out: &mut Map<String, Value>,
    mut run: impl FnMut() -> Result<()>,
) -> Result<f64> {
    for i in 0..warmups {
        let start = Instant::now();
        run()?;
        sync::<B>(device)?;
        let label = if warmups == 1 {
            "warm-up".to_string()
        } else {
            format!("warm-up {}", i + 1)
        };
        progress(what, w, &label, start.elapsed().as_secs_f64());
    }
    let mut times = Vec::with_capacity(w.repeats.max(1));
    let mut windows = Vec::with_capacity(w.repeats.max(1));
    for i in 0..w.repeats.max(1) {
        let clock = WallClock::now();
        run()?;
        sync::<B>(device)?;
        let end = Instant::now();
        times.push(end.duration_since(clock.instant).as_secs_f64());
        windows.push((clock.unix, clock.unix_at(end)));
        progress(what, w, &format!("run {}", i + 1), times[i]);
    }
    insert_windows(out, what, &windows);
    Ok(median(times))
}

fn device_of<B: Backend>(lm: &Qwen2ForCausalLm<B>) -> B::Device {
    lm.model.embed_tokens.weight.val().device()
}

/// Prefill as `generate` does it: a `[batch, prompt_len]` forward filling a KV cache sized for
/// the whole generation, then the logits of the last position only, on the host, through the
/// head a decoding step uses.
pub fn prefill<B: Backend>(
    lm: &Qwen2ForCausalLm<B>,
    w: &Workload,
    out: &mut Map<String, Value>,
) -> Result<()> {
    let device = device_of(lm);
    let prompts = random_ids(lm.vocab_size(), w.batch, w.prompt_len, w.seed);
    let secs = median_secs::<B>(&device, "prefill", w, out, || {
        let mut cache = lm.model.new_cache(w.batch, w.prompt_len + w.new_tokens);
        let batch = Batch::left_padded(&prompts, w.pad_id, &device);
        let hidden = lm.model.forward(&batch, Some(&mut cache));
        let _host: Vec<f32> = last_position_logits(lm, hidden);
        Ok(())
    })?;
    out.insert("prefill_s".into(), json!(secs));
    out.insert(
        "prefill_tokens_per_s".into(),
        json!((w.batch * w.prompt_len) as f64 / secs),
    );
    Ok(())
}

/// Greedy generation of exactly `new_tokens` tokens (no stop ids); the decode time runs from the
/// first new token to the last one, i.e. over the `new_tokens - 1` cached single-token steps.
pub fn decode<B: Backend>(
    lm: &Qwen2ForCausalLm<B>,
    w: &Workload,
    out: &mut Map<String, Value>,
) -> Result<()> {
    anyhow::ensure!(
        w.new_tokens >= 2,
        "--new-tokens must be at least 2 to time decoding"
    );
    let prompts = random_ids(lm.vocab_size(), w.batch, w.prompt_len, w.seed);
    let config = GenerationConfig {
        sampling: SamplingParams::greedy(),
        max_new_tokens: w.new_tokens,
        stop_ids: Vec::new(),
        pad_id: w.pad_id,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(w.seed);
    // (decoding seconds, generation seconds, the decoding's span in UNIX seconds)
    let mut run = || -> Result<(f64, f64, (f64, f64))> {
        let mut steps: Vec<Instant> = Vec::with_capacity(w.new_tokens);
        let clock = WallClock::now();
        let completions = generate(lm, &prompts, &config, &mut rng, |_| {
            steps.push(Instant::now())
        });
        let total = clock.instant.elapsed().as_secs_f64();
        anyhow::ensure!(
            completions.iter().all(|c| c.ids.len() == w.new_tokens) && steps.len() == w.new_tokens,
            "generation stopped early"
        );
        let (first, last) = (steps[0], steps[w.new_tokens - 1]);
        let decode = last.duration_since(first).as_secs_f64();
        Ok((decode, total, (clock.unix_at(first), clock.unix_at(last))))
    };
    let (_, warm, _) = run()?;
    progress("decode", w, "warm-up generation", warm);
    let runs: Vec<(f64, f64, (f64, f64))> = (0..w.repeats.max(1))
        .map(|i| {
            let r = run()?;
            progress("decode", w, &format!("run {} decoding", i + 1), r.0);
            Ok(r)
        })
        .collect::<Result<_>>()?;
    let decode_s = median(runs.iter().map(|r| r.0).collect());
    let generate_s = median(runs.iter().map(|r| r.1).collect());
    insert_windows(out, "decode", &runs.iter().map(|r| r.2).collect::<Vec<_>>());
    out.insert("decode_s".into(), json!(decode_s));
    out.insert(
        "decode_tokens_per_s".into(),
        json!((w.batch * (w.new_tokens - 1)) as f64 / decode_s),
    );
    out.insert("generate_s".into(), json!(generate_s));
    out.insert(
        "generate_new_tokens_per_s".into(),
        json!((w.batch * w.new_tokens) as f64 / generate_s),
    );
    Ok(())
}

/// A `[batch, prompt_len + new_tokens]` batch whose last `new_tokens` ids are the response.
fn response_batch(vocab: usize, w: &Workload) -> ResponseBatch {
    let rows = random_ids(vocab, w.batch, w.prompt_len + w.new_tokens, w.seed + 1);
    let prompts: Vec<&[u32]> = rows.iter().map(|r| &r[..w.prompt_len]).collect();
    let responses: Vec<&[u32]> = rows.iter().map(|r| &r[w.prompt_len..]).collect();
    ResponseBatch::new(&prompts, &responses)
}

/// The update's log-prob forward (`response_logprobs`, no entropy) on a
/// `[batch, prompt_len + new_tokens]` batch, read back to the host.
pub fn logprob<B: Backend>(
    lm: &Qwen2ForCausalLm<B>,
    w: &Workload,
    out: &mut Map<String, Value>,
) -> Result<()> {
    let device = device_of(lm);
    let layout = response_batch(lm.vocab_size(), w);
    let secs = median_secs::<B>(&device, "logprob", w, out, || {
        let (logp, _) = response_logprobs(lm, &layout, 1.0, w.pad_id, false);
        let _host: Vec<f32> = logp.into_data().to_vec().map_err(|e| anyhow!("{e:?}"))?;
        Ok(())
    })?;
    let seq = w.prompt_len + w.new_tokens;
    out.insert("logprob_s".into(), json!(secs));
    out.insert(
        "logprob_tokens_per_s".into(),
        json!((w.batch * seq) as f64 / secs),
    );
    out.insert("logprob_seq_len".into(), json!(seq));
    Ok(())
}

/// One training step on a `[batch, prompt_len + new_tokens]` batch: the update's log-prob forward
/// (`PolicyLogprobs`, vocabulary in chunks), backward of the mean response log-prob, one AdamW step
/// ([`FusedAdamWConfig`], as in training). Returns the trained model.
pub fn train<B: AutodiffBackend>(
    lm: Qwen2ForCausalLm<B>,
    w: &Workload,
    out: &mut Map<String, Value>,
) -> Result<Qwen2ForCausalLm<B>> {
    let device = device_of(&lm);
    let layout = response_batch(lm.vocab_size(), w);
    let mut optimizer = FusedAdamWConfig::default().init::<B, Qwen2ForCausalLm<B>>();
    let mut slot = Some(lm);
    // Two untimed steps: AdamW's first step creates its moments, and the second, the first with
    // moments to update, runs (and on a GPU compiles) kernels the first did not.
    let secs = median_secs_after::<B>(&device, "train", w, 2, out, || {
        let model = slot.take().expect("model present between steps");
        let head =
            PolicyLogprobs::forward(&model, &layout, 1.0, w.pad_id, w.gradient_checkpointing);
        let loss: Tensor<B, 1> = head.log_probs.clone().mean().neg();
        let grads = GradientsParams::from_grads(head.backward(loss), &model);
        slot = Some(optimizer.step(1e-6, model, grads));
        Ok(())
    })?;
    let seq = w.prompt_len + w.new_tokens;
    out.insert("train_s".into(), json!(secs));
    out.insert(
        "train_tokens_per_s".into(),
        json!((w.batch * seq) as f64 / secs),
    );
    out.insert("train_seq_len".into(), json!(seq));
    out.insert(
        "gradient_checkpointing".into(),
        json!(w.gradient_checkpointing),
    );
    let model = slot.expect("model present after the timed steps");
    train_phases(model, &layout, w, &mut optimizer, out)
}

/// One more training step, timed phase by phase with the device synchronised after each:
/// `train_<phase>_queue_s`, the host's time to queue the phase, and `train_<phase>_s`, until the
/// device has run it, for the phases `forward` (the policy and its chunked head), `backward`
/// (both backward passes) and `optimizer` (AdamW). The queueing time is an upper bound on the
/// host's work: CubeCL hands each operation through bounded queues (32 tasks to the fusion thread,
/// 32 from it to the runtime's), so a host ahead of the device waits inside the queueing. A phase
/// queued in nearly its whole time is therefore not shown host-bound; the device's busy share
/// (`gpu.sh`) or its kernel profile tells.
fn train_phases<B: AutodiffBackend, O: Optimizer<Qwen2ForCausalLm<B>, B>>(
    model: Qwen2ForCausalLm<B>,
    layout: &ResponseBatch,
    w: &Workload,
    optimizer: &mut O,
    out: &mut Map<String, Value>,
) -> Result<Qwen2ForCausalLm<B>> {
    let device = device_of(&model);
    let head = timed_phase::<B, _>(&device, "forward", w, out, || {
        let head = PolicyLogprobs::forward(&model, layout, 1.0, w.pad_id, w.gradient_checkpointing);
        let loss: Tensor<B, 1> = head.log_probs.clone().mean().neg();
        (head, loss)
    })?;
    let grads = timed_phase::<B, _>(&device, "backward", w, out, || {
        let (head, loss) = head;
        GradientsParams::from_grads(head.backward(loss), &model)
    })?;
    timed_phase::<B, _>(&device, "optimizer", w, out, || {
        optimizer.step(1e-6, model, grads)
    })
}

/// Runs `queue`, then waits for the device; records both times (see [`train_phases`]).
fn timed_phase<B: Backend, T>(
    device: &B::Device,
    name: &str,
    w: &Workload,
    out: &mut Map<String, Value>,
    queue: impl FnOnce() -> T,
) -> Result<T> {
    let start = Instant::now();
    let value = queue();
    let queued = start.elapsed().as_secs_f64();
    sync::<B>(device)?;
    let total = start.elapsed().as_secs_f64();
    out.insert(format!("train_{name}_queue_s"), json!(queued));
    out.insert(format!("train_{name}_s"), json!(total));
    note(&format!(
        "train batch {}: {name} queued in {queued:.3} s, done in {total:.3} s",
        w.batch
    ));
    Ok(value)
}

/// PRM scoring: a process reward model of the policy's shape (random weights; the head maps
/// hidden → hidden → 2 classes) scores `[batch, prompt_len + new_tokens]` rows of random ids with
/// a step separator every 16 tokens, in one micro-batch, reading the step probabilities back.
pub fn prm<B: Backend>(
    lm: &Qwen2ForCausalLm<B>,
    config: &Qwen2Config,
    dtype: DType,
    w: &Workload,
    out: &mut Map<String, Value>,
) -> Result<()> {
    let device = device_of(lm);
    let init = RandomInit {
        seed: w.seed,
        std: 0.02,
    };
    let prm = ProcessRewardModel::<B>::random(config, &init, dtype, &device)?;
    let step_token = 0;
    let rows: Vec<Vec<u32>> = random_ids(
        lm.vocab_size(),
        w.batch,
        w.prompt_len + w.new_tokens,
        w.seed + 2,
    )
    .into_iter()
    .map(|mut r| {
        for (t, id) in r.iter_mut().enumerate() {
            if t >= w.prompt_len && (t - w.prompt_len + 1).is_multiple_of(16) {
                *id = step_token;
            } else if *id == step_token {
                *id = 1;
            }
        }
        r
    })
    .collect();
    let secs = median_secs::<B>(&device, "prm", w, out, || {
        let scores = score_ids(&prm, &rows, step_token, w.batch, Padding::Right, w.pad_id);
        std::hint::black_box(scores);
        Ok(())
    })?;
    let seq = w.prompt_len + w.new_tokens;
    out.insert("prm_s".into(), json!(secs));
    out.insert("prm_responses_per_s".into(), json!(w.batch as f64 / secs));
    out.insert(
        "prm_tokens_per_s".into(),
        json!((w.batch * seq) as f64 / secs),
    );
    out.insert("prm_seq_len".into(), json!(seq));
    Ok(())
}
