//! One training step on a GPU backend against the same step on the CPU backend: the loss, every
//! parameter's gradient and the weights after AdamW, for the warm-up's cross-entropy (autodiff
//! through the chunked head) and for a policy-gradient loss (the update's custom head backward).

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{DType, Device, ElementConversion, Tensor, TensorData};
use prof_grpo::generation::{ResponseBatch, response_logprobs};
use prof_grpo::model::Qwen2ForCausalLm;
use prof_grpo::train::fused_adamw::FusedAdamWConfig;
use prof_grpo::train::policy_logprobs::PolicyLogprobs;

use super::parity::load;
use super::{fixtures, read_json, u32s};

type Cpu = Autodiff<Flex>;

/// The fixture model every check trains.
const MODEL: &str = "tiny-tied";
/// Its pad id.
const PAD: u32 = 299;
/// Learning rate of the AdamW step.
const LR: f64 = 1e-3;

/// The training fixture: the batch, its cross-entropy in PyTorch (f32 and with TF32 matmuls) and
/// how far TF32 moves the gradients.
pub fn training_fixture() -> serde_json::Value {
    read_json(&fixtures().join("expected/tiny-tied/training_tf32.json"))
}

/// The fixture's three prompt/response pairs, of different lengths (right padding on both sides).
pub fn training_batch() -> ResponseBatch {
    let fixture = training_fixture();
    let rows = |key: &str| -> Vec<Vec<u32>> {
        fixture[key]
            .as_array()
            .expect(key)
            .iter()
            .map(u32s)
            .collect()
    };
    let (prompts, responses) = (rows("prompts"), rows("responses"));
    let prompts: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
    let responses: Vec<&[u32]> = responses.iter().map(Vec::as_slice).collect();
    ResponseBatch::new(&prompts, &responses)
}

/// Per-token weights of the policy-gradient loss, `[rows, longest response]` (advantage-like,
/// both signs).
fn weights<B: AutodiffBackend>(layout: &ResponseBatch, device: &B::Device) -> Tensor<B, 2> {
    let shape = [layout.rows.len(), layout.max_response];
    let w: Vec<f32> = (0..shape[0] * shape[1])
        .map(|i| ((i * 7) % 5) as f32 * 0.5 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(w, shape), device)
}

/// Mean cross-entropy of the fixture's responses, as the warm-up computes it.
pub fn sft_loss<B: AutodiffBackend>(
    policy: &Qwen2ForCausalLm<B>,
    layout: &ResponseBatch,
    device: &B::Device,
) -> Tensor<B, 1> {
    let mask = layout.response_mask::<B>(device);
    let (logp, _) = response_logprobs(policy, layout, 1.0, PAD, false);
    -(logp * mask.clone()).sum() / mask.sum()
}

/// The warm-up's gradients.
fn sft_grads<B: AutodiffBackend>(
    policy: &Qwen2ForCausalLm<B>,
    layout: &ResponseBatch,
    device: &B::Device,
) -> (f32, B::Gradients) {
    let loss = sft_loss(policy, layout, device);
    let value = loss.clone().into_scalar().elem::<f32>();
    (value, loss.backward())
}

/// The update's gradients: log-probs and entropies from the chunked head at temperature 0.8,
/// weighted per token.
fn policy_grads<B: AutodiffBackend>(
    policy: &Qwen2ForCausalLm<B>,
    layout: &ResponseBatch,
    device: &B::Device,
) -> (f32, B::Gradients) {
    policy_grads_with(policy, layout, device, false)
}

/// [`policy_grads`], with the decoder layers recomputed in the backward pass if `checkpointing`.
fn policy_grads_with<B: AutodiffBackend>(
    policy: &Qwen2ForCausalLm<B>,
    layout: &ResponseBatch,
    device: &B::Device,
    checkpointing: bool,
) -> (f32, B::Gradients) {
    let head = PolicyLogprobs::forward(policy, layout, 0.8, PAD, checkpointing);
    let w = weights::<B>(layout, device) * layout.response_mask::<B>(device);
    let loss = (head.log_probs.clone() * w.clone() + head.entropies.clone() * w * 0.1).sum();
    let value = loss.clone().into_scalar().elem::<f32>();
    (value, head.backward(loss))
}

/// A loss's value and gradients on a backend.
type Grads<B> = fn(
    &Qwen2ForCausalLm<B>,
    &ResponseBatch,
    &Device<B>,
) -> (f32, <B as AutodiffBackend>::Gradients);

/// Every float parameter (path, values) in visiting order, or its gradient where `grads` is given.
struct Collect<'a, B: AutodiffBackend> {
    grads: Option<&'a B::Gradients>,
    path: Vec<String>,
    out: Vec<(String, Option<Vec<f32>>)>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Collect<'_, B> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let values = match self.grads {
            Some(grads) => param.val().grad(grads).map(|g| host(g.into_data())),
            None => Some(host(param.val().into_data())),
        };
        self.out.push((self.path.join("."), values));
    }
}

fn host(data: TensorData) -> Vec<f32> {
    data.convert::<f32>().to_vec().expect("f32 values")
}

fn collect<B: AutodiffBackend>(
    policy: &Qwen2ForCausalLm<B>,
    grads: Option<&B::Gradients>,
) -> Vec<(String, Option<Vec<f32>>)> {
    let mut visitor = Collect::<B> {
        grads,
        path: Vec::new(),
        out: Vec::new(),
    };
    policy.visit(&mut visitor);
    visitor.out
}

/// Asserts that every tensor of `got` is finite and within `bound(scale)` of `want`'s, `scale`
/// being the largest magnitude in `want`'s tensor; `what` names the comparison in the failure.
fn assert_tensors_close(
    what: &str,
    got: &[(String, Option<Vec<f32>>)],
    want: &[(String, Option<Vec<f32>>)],
    bound: impl Fn(f32) -> f32,
) {
    assert_eq!(got.len(), want.len(), "{what}: parameter counts differ");
    for ((name, g), (want_name, w)) in got.iter().zip(want) {
        assert_eq!(name, want_name, "{what}: parameter order differs");
        let (g, w) = match (g, w) {
            (Some(g), Some(w)) => (g, w),
            (None, None) => continue,
            _ => panic!("{what}: {name} has a gradient on one backend only"),
        };
        if let Some(i) = g.iter().position(|x| !x.is_finite()) {
            panic!("{what}: {name}[{i}] = {} is not finite", g[i]);
        }
        let scale = w.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12);
        let (i, err) = g
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold(
                (0, 0f32),
                |best, (i, e)| if e > best.1 { (i, e) } else { best },
            );
        assert!(
            err <= bound(scale),
            "{what}: {name}[{i}] is {} against the CPU's {} (error {err} > {})",
            g[i],
            w[i],
            bound(scale)
        );
    }
}

/// On backend `B`, both losses and every gradient equal the CPU backend's within `tol` (relative:
/// losses to their magnitude, each gradient to its largest element), and so does the warm-up's
/// loss after one AdamW step of each; every value is finite. The policy-gradient loss is also
/// back-propagated with gradient checkpointing on `B`, against the CPU's recorded pass.
pub fn check_training_step<B: AutodiffBackend>(tol: f32, device: &B::Device) {
    let cpu_device = Default::default();
    let layout = training_batch();
    let cases: [(&str, Grads<B>, Grads<Cpu>); 3] = [
        ("warm-up cross-entropy", sft_grads::<B>, sft_grads::<Cpu>),
        (
            "policy-gradient loss",
            policy_grads::<B>,
            policy_grads::<Cpu>,
        ),
        (
            "policy-gradient loss, layers recomputed",
            |policy, layout, device| policy_grads_with(policy, layout, device, true),
            policy_grads::<Cpu>,
        ),
    ];
    for (what, on_gpu, on_cpu) in cases {
        let policy = load::<B>(MODEL, DType::F32, device);
        let reference = load::<Cpu>(MODEL, DType::F32, &cpu_device);
        let (loss, grads) = on_gpu(&policy, &layout, device);
        let (want_loss, want_grads) = on_cpu(&reference, &layout, &cpu_device);
        assert!(
            loss.is_finite() && (loss - want_loss).abs() <= tol * want_loss.abs().max(1.0),
            "{what}: loss {loss} against the CPU's {want_loss}"
        );
        assert_tensors_close(
            &format!("{what}, gradient of"),
            &collect(&policy, Some(&grads)),
            &collect(&reference, Some(&want_grads)),
            |scale| tol * scale,
        );

        let mut optimizer = FusedAdamWConfig::default().init::<B, Qwen2ForCausalLm<B>>();
        let mut cpu_optimizer = FusedAdamWConfig::default().init::<Cpu, Qwen2ForCausalLm<Cpu>>();
        let policy = optimizer.step(
            LR,
            policy.clone(),
            GradientsParams::from_grads(grads, &policy),
        );
        let reference = cpu_optimizer.step(
            LR,
            reference.clone(),
            GradientsParams::from_grads(want_grads, &reference),
        );
        // AdamW moves each weight by about the learning rate whatever the gradient's size, so
        // where a gradient is near zero the two steps may go opposite ways: weights agree within
        // twice the rate, and the loss after the step says whether the updates agree.
        assert_tensors_close(
            &format!("{what}, after AdamW,"),
            &collect(&policy, None),
            &collect(&reference, None),
            |_| 2.0 * LR as f32 * (1.0 + tol),
        );
        let after = sft_loss(&policy, &layout, device)
            .into_scalar()
            .elem::<f32>();
        let want_after = sft_loss(&reference, &layout, &cpu_device)
            .into_scalar()
            .elem::<f32>();
        assert!(
            after.is_finite() && (after - want_after).abs() <= tol * want_after.abs().max(1.0),
            "{what}: cross-entropy after AdamW {after} against the CPU's {want_after}"
        );
    }
}

/// Each step's loss of the smoke run's supervised warm-up (its tiny policy, batch and learning
/// rate) on backend `B`, for `steps` steps.
fn warmup_losses<B: AutodiffBackend>(steps: u64, device: &B::Device) -> Vec<f32> {
    use prof_grpo::tokenizer::Tokenizer;
    use prof_grpo::train::config_load::load_from_str;
    use prof_grpo::train::setup::builtin_policy;
    use prof_grpo::train::toy::{toy_prompts, warmup_sft};
    let sets = [
        format!("warmup_sft.steps={steps}"),
        "logging.print_every=0".into(),
    ];
    let config = load_from_str(prof_grpo::train::config::SMOKE_TOML, "smoke", &sets).unwrap();
    let tokenizer = Tokenizer::builtin_toy();
    let policy = builtin_policy::<B>(&config, &tokenizer, DType::F32, device).unwrap();
    let problems = toy_prompts(config.run.seed);
    match warmup_sft(policy, &tokenizer, &problems, &config, device) {
        Ok((_, losses)) => losses,
        Err(e) => panic!("the warm-up on this backend stopped: {e:#}"),
    }
}

/// The smoke run's first `steps` warm-up steps on backend `B` give each step the CPU backend's
/// loss within `tol` (relative): where a training run's numbers part from the CPU's, step by step.
pub fn check_warmup_run<B: AutodiffBackend>(steps: u64, tol: f32, device: &B::Device) {
    let got = warmup_losses::<B>(steps, device);
    let want = warmup_losses::<Cpu>(steps, &Default::default());
    assert_eq!(got.len(), want.len());
    let table: Vec<String> = got
        .iter()
        .zip(&want)
        .enumerate()
        .map(|(i, (g, w))| format!("step {}: {g} against {w}", i + 1))
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "warm-up step {} differs from the CPU's beyond {tol} (relative):\n{}",
            i + 1,
            table.join("\n")
        );
    }
    eprintln!("{}", table.join("\n"));
}

/// With more tokens in one micro-batch than Burn's GPU kernels sum or scatter in one launch
/// (1,100 rows of 4 prompt and 60 response tokens: 70,400 tokens, 66,000 response tokens; see
/// `launch_limits`), the policy-gradient loss's gradients (biases summed over every token, the
/// embedding's rows scattered from every token, the head's from every response token) equal the
/// CPU backend's within `tol` of each gradient's largest element.
pub fn check_many_token_gradients<B: AutodiffBackend>(tol: f32, device: &B::Device) {
    let rows = 1_100;
    let tokens = |len: usize, seed: usize| -> Vec<Vec<u32>> {
        (0..rows)
            .map(|r| {
                (0..len)
                    .map(|t| ((r * 31 + t * 7 + seed) % 290) as u32)
                    .collect()
            })
            .collect()
    };
    let (prompts, responses) = (tokens(4, 1), tokens(60, 2));
    let prompts: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
    let responses: Vec<&[u32]> = responses.iter().map(Vec::as_slice).collect();
    let layout = ResponseBatch::new(&prompts, &responses);
    assert!(layout.rows.len() * layout.max_response > 65_535);
    let cpu_device = Default::default();
    let policy = load::<B>(MODEL, DType::F32, device);
    let reference = load::<Cpu>(MODEL, DType::F32, &cpu_device);
    let (loss, grads) = policy_grads::<B>(&policy, &layout, device);
    let (want_loss, want_grads) = policy_grads::<Cpu>(&reference, &layout, &cpu_device);
    assert!(
        loss.is_finite() && (loss - want_loss).abs() <= tol * want_loss.abs().max(1.0),
        "loss {loss} against the CPU's {want_loss}"
    );
    assert_tensors_close(
        "70,400 tokens, gradient of",
        &collect(&policy, Some(&grads)),
        &collect(&reference, Some(&want_grads)),
        |scale| tol * scale,
    );
}
