//! The built-in smoke run's pieces: a tiny policy warmed up by a short supervised phase on the
//! toy arithmetic task, and a tiny PRM trained on the toy's step correctness (correct solutions,
//! slips that lead to a wrong answer, and compensated slips that reach the right answer through a
//! wrong step), so PROF's filter runs on a trained judge, if a weak one (the README says how weak).

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{DType, ElementConversion, Int, Tensor, TensorData};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::TrainConfig;
use super::fused_adamw::FusedAdamWConfig;
use super::grad_norm::global_grad_norm;
use super::non_finite::{explain_non_finite_gradient, explain_non_finite_loss};
use super::setup::prompt_template;
use crate::data::Problem;
use crate::data::spec::DatasetSpec;
use crate::data::toy::{
    Corruption, STEP_BREAK, ToyConfig, ToyExpression, corrupt_solution, generate_toy_set,
    toy_problems,
};
use crate::generation::{ResponseBatch, response_logprobs};
use crate::model::Batch;
use crate::model::export::NamedTensor;
use crate::model::host_weights::HostWeights;
use crate::model::init::RandomInit;
use crate::model::{Qwen2Config, Qwen2ForCausalLm};
use crate::reward::prm::format::format_prm_input;
use crate::reward::prm::{Padding, ProcessRewardModel, score_ids};
use crate::tokenizer::Tokenizer;

/// `policy.model` value selecting the built-in tiny policy.
pub const BUILTIN_POLICY: &str = "builtin:tiny";
/// `prm.model` value selecting the built-in toy PRM (trained at start-up on toy step labels).
pub const BUILTIN_PRM: &str = "builtin:tiny";
/// `data.train_files` / `data.val_files` entry selecting the generated toy arithmetic problems.
pub const TOY_DATASET: &str = "builtin:arithmetic";
/// Number of generated toy problems.
pub const TOY_PROBLEMS: usize = 512;
/// Optimizer steps of the toy PRM's training.
pub const TOY_PRM_STEPS: usize = 150;
/// Learning rate of the toy PRM's training.
pub const TOY_PRM_LR: f64 = 1e-3;
/// Sequences per toy PRM step.
pub const TOY_PRM_BATCH: usize = 32;
/// Seed mix of the fresh labelled solutions the trained toy PRM is checked on.
const TOY_PRM_CHECK_SEED: u64 = 0x636865636b;

/// The shape of the toy problems of `builtin:arithmetic`: that of the built-in `toy_arithmetic`
/// dataset (`datasets/toy_arithmetic.toml`), so training, its toy PRM and `eval` agree.
pub fn toy_shape() -> ToyConfig {
    DatasetSpec::builtin("toy_arithmetic")
        .and_then(|spec| spec.generator)
        .map(|g| g.toy)
        .unwrap_or_default()
}

/// The toy problems of a seed.
pub fn toy_prompts(seed: u64) -> Vec<Problem> {
    toy_problems(TOY_PROBLEMS, seed, &toy_shape())
}

/// A supervised example: prompt ids, the reference response and flawed variants of it.
struct SftExample {
    prompt: Vec<u32>,
    clean: Vec<u32>,
    flawed: Vec<Vec<u32>>,
}

/// Supervised warm-up on reference solutions: `warmup_sft.steps` AdamW steps of mean token
/// cross-entropy on `solution + eos` given the prompt. With `warmup_sft.flawed_fraction > 0`,
/// that fraction of the toy examples shows a flawed solution instead, one of: a slip (a wrong
/// value in one step) carried on to a wrong answer, a slip compensated back to the right answer,
/// or the steps without the final answer. Returns the warmed-up policy and each step's loss.
pub fn warmup_sft<B: AutodiffBackend>(
    mut policy: Qwen2ForCausalLm<B>,
    tokenizer: &Tokenizer,
    problems: &[Problem],
    config: &TrainConfig,
    device: &B::Device,
) -> Result<(Qwen2ForCausalLm<B>, Vec<f32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.run.seed ^ 0x736674);
    let encode_response = |text: &str| -> Result<Vec<u32>> {
        let mut ids = tokenizer.encode(text)?;
        ids.extend(tokenizer.eos_token_id());
        Ok(ids)
    };
    let mut examples = Vec::new();
    for p in problems {
        let Some(solution) = &p.solution else {
            continue;
        };
        let mut flawed = Vec::new();
        if config.warmup_sft.flawed_fraction > 0.0
            && let Some(expr) = ToyExpression::parse(&p.problem)
        {
            for kind in [Corruption::Slip, Corruption::CompensatedSlip] {
                if let Some(s) = corrupt_solution(&expr, kind, &mut rng) {
                    flawed.push(encode_response(&s.text())?);
                }
            }
            // Unfinished: the steps without the final answer.
            if let Some((steps, _)) = solution.rsplit_once(STEP_BREAK) {
                flawed.push(encode_response(steps)?);
            }
        }
        examples.push(SftExample {
            prompt: prompt_template(config).encode(p, tokenizer)?,
            clean: encode_response(solution)?,
            flawed,
        });
    }
    if examples.is_empty() {
        anyhow::bail!("warmup_sft.steps > 0 but no training problem has a reference solution");
    }
    let mut optimizer = FusedAdamWConfig {
        weight_decay: 0.0,
        ..FusedAdamWConfig::default()
    }
    .init::<B, Qwen2ForCausalLm<B>>();
    let batch = config.warmup_sft.batch_size.max(1);
    let steps = config.warmup_sft.steps;
    let report_every = (steps / 10).max(1);
    let mut losses = Vec::with_capacity(steps as usize);
    for step in 1..=steps {
        let picked: Vec<(&[u32], &[u32])> = (0..batch)
            .map(|_| {
                let e = &examples[rng.random_range(0..examples.len())];
                let response =
                    if !e.flawed.is_empty() && rng.random_bool(config.warmup_sft.flawed_fraction) {
                        &e.flawed[rng.random_range(0..e.flawed.len())]
                    } else {
                        &e.clean
                    };
                (e.prompt.as_slice(), response.as_slice())
            })
            .collect();
        let prompts: Vec<&[u32]> = picked.iter().map(|e| e.0).collect();
        let responses: Vec<&[u32]> = picked.iter().map(|e| e.1).collect();
        let layout = ResponseBatch::new(&prompts, &responses);
        let mask = layout.response_mask::<B>(device);
        let (logp, _) = response_logprobs(&policy, &layout, 1.0, 0, false);
        let loss = -(logp * mask.clone()).sum() / mask.sum();
        let at = StartUpStep::new("warmup_sft", step, steps);
        let value;
        (policy, value) = at.apply(policy, &mut optimizer, config.warmup_sft.lr, loss)?;
        if config.logging.print_every > 0 && (step % report_every == 0 || step == 1) {
            eprintln!("warmup_sft step {step}/{steps}: loss {value:.4}");
        }
        losses.push(value);
    }
    Ok((policy, losses))
}

/// One optimizer step of a start-up training phase (the warm-up, the toy PRM), which stops the
/// run at the first NaN or infinity, before that step's update, with an error naming the phase,
/// the step and where the value sits: a parameter, the forward pass, or a parameter's gradient.
struct StartUpStep {
    phase: &'static str,
    step: u64,
    steps: u64,
}

impl StartUpStep {
    fn new(phase: &'static str, step: u64, steps: u64) -> Self {
        Self { phase, step, steps }
    }

    /// The error for a non-finite `what` (`because` says where it comes from).
    fn error(&self, what: String, because: String) -> anyhow::Error {
        let Self { phase, step, steps } = self;
        anyhow::anyhow!(
            "{phase} step {step}/{steps}: {what} ({because}); stopping before this step's update"
        )
    }

    /// Reads `loss` back, differentiates it, checks the gradients and applies `optimizer`:
    /// the updated module and the loss.
    fn apply<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        module: M,
        optimizer: &mut impl Optimizer<M, B>,
        lr: f64,
        loss: Tensor<B, 1>,
    ) -> Result<(M, f32)> {
        let value: f32 = loss.clone().into_scalar().elem();
        if !value.is_finite() {
            let because = explain_non_finite_loss::<B, M>(&module);
            return Err(self.error(format!("the loss is {value}"), because));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &module);
        let norm = global_grad_norm::<B, M>(&module, &grads);
        if !norm.is_finite() {
            let because = explain_non_finite_gradient::<B, M>(&module, &grads);
            return Err(self.error(format!("the gradient norm is {norm}"), because));
        }
        Ok((optimizer.step(lr, module, grads), value))
    }
}

/// A labelled PRM training example: input ids, separator positions and their labels.
struct PrmExample {
    ids: Vec<u32>,
    positions: Vec<usize>,
    labels: Vec<bool>,
}

fn prm_examples(tokenizer: &Tokenizer, seed: u64) -> Result<Vec<PrmExample>> {
    let step_id = tokenizer.require_token_id(crate::reward::prm::format::STEP_TOKEN)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x70726d);
    let mut out = Vec::new();
    for item in generate_toy_set(TOY_PROBLEMS, seed ^ 0x70726d, &toy_shape()) {
        let mut solutions = vec![item.solution.clone()];
        for kind in [Corruption::Slip, Corruption::CompensatedSlip] {
            if let Some(s) = corrupt_solution(&item.expression, kind, &mut rng) {
                solutions.push(s);
            }
        }
        for s in solutions {
            let text = format_prm_input(tokenizer, &item.problem.problem, &s.steps)?;
            let ids = tokenizer.encode(&text)?;
            let positions: Vec<usize> = ids
                .iter()
                .enumerate()
                .filter(|&(_, &t)| t == step_id)
                .map(|(i, _)| i)
                .collect();
            if positions.len() == s.step_labels.len() {
                out.push(PrmExample {
                    ids,
                    positions,
                    labels: s.step_labels.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Trains the toy PRM (same tiny shape as the policy) on step-correctness labels. Its backbone
/// starts from `backbone` (the warmed-up policy's `model.*` tensors, as real PRMs start from a
/// policy model) when given, else at random; the score head starts at random. With
/// `logging.print_every > 0` it then prints how it judges a fresh draw of labelled solutions.
pub fn train_toy_prm<B: AutodiffBackend>(
    config: &TrainConfig,
    tokenizer: &Tokenizer,
    backbone: Option<Vec<NamedTensor>>,
    device: &B::Device,
) -> Result<ProcessRewardModel<B>> {
    let shape: Qwen2Config = super::setup::policy_config(config, tokenizer)?;
    let seed = config.run.seed ^ 0x7072;
    let random = RandomInit { seed, std: 0.02 };
    let mut prm = match backbone {
        Some(tensors) => ProcessRewardModel::<B>::from_source(
            &HostWeights::new(tensors, random),
            &shape,
            DType::F32,
            device,
        )?,
        None => ProcessRewardModel::<B>::random(&shape, &random, DType::F32, device)?,
    };
    let examples = prm_examples(tokenizer, config.run.seed)?;
    let mut optimizer = FusedAdamWConfig {
        weight_decay: 0.0,
        ..FusedAdamWConfig::default()
    }
    .init::<B, ProcessRewardModel<B>>();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pad = tokenizer.pad_token_id().unwrap_or(0);
    for step in 1..=TOY_PRM_STEPS {
        let picked: Vec<&PrmExample> = (0..TOY_PRM_BATCH)
            .map(|_| &examples[rng.random_range(0..examples.len())])
            .collect();
        let rows: Vec<Vec<u32>> = picked.iter().map(|e| e.ids.clone()).collect();
        let batch = Batch::<B>::right_padded(&rows, pad, device);
        let seq = batch.ids.dims()[1];
        let logits = prm.forward(&batch);
        let log_probs = burn::tensor::activation::log_softmax(logits, 2);
        // Flat index (row * seq + position) of every labelled separator, and its class.
        let mut index = Vec::new();
        let mut class = Vec::new();
        for (r, e) in picked.iter().enumerate() {
            for (&p, &l) in e.positions.iter().zip(&e.labels) {
                index.push((r * seq + p) as i64);
                class.push(l as i64);
            }
        }
        let n = index.len();
        let flat = log_probs.reshape([rows.len() * seq, 2]);
        let picked_rows = flat.select(
            0,
            Tensor::<B, 1, Int>::from_data(TensorData::new(index, [n]), device),
        );
        let target = Tensor::<B, 2, Int>::from_data(TensorData::new(class, [n, 1]), device);
        let loss = -picked_rows.gather(1, target).mean();
        let at = StartUpStep::new("toy PRM", step as u64, TOY_PRM_STEPS as u64);
        let value;
        (prm, value) = at.apply(prm, &mut optimizer, TOY_PRM_LR, loss)?;
        if config.logging.print_every > 0 && (step % (TOY_PRM_STEPS / 5).max(1) == 0 || step == 1) {
            eprintln!("toy PRM step {step}/{TOY_PRM_STEPS}: loss {value:.4}");
        }
    }
    if config.logging.print_every > 0 {
        let fresh = prm_examples(tokenizer, config.run.seed ^ TOY_PRM_CHECK_SEED)?;
        eprintln!(
            "toy PRM on fresh solutions: {}",
            judge(&prm, &fresh, tokenizer, pad)?
        );
    }
    Ok(prm)
}

/// How a PRM's step verdicts (good-class probability above one half) compare with the labels.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct StepVerdicts {
    /// Correct steps, and those the PRM called good.
    correct: (usize, usize),
    /// Wrong steps, and those the PRM called wrong.
    wrong: (usize, usize),
    /// Sums of the good-class probability over correct and over wrong steps.
    prob_sums: (f64, f64),
}

impl StepVerdicts {
    /// Adds the steps of one solution: their labels and the PRM's good-class probabilities.
    fn add(&mut self, labels: &[bool], probs: &[f32]) {
        for (&label, &p) in labels.iter().zip(probs) {
            let said_good = p > 0.5;
            if label {
                self.correct.0 += 1;
                self.correct.1 += said_good as usize;
                self.prob_sums.0 += p as f64;
            } else {
                self.wrong.0 += 1;
                self.wrong.1 += !said_good as usize;
                self.prob_sums.1 += p as f64;
            }
        }
    }
}

impl std::fmt::Display for StepVerdicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ratio = |a: f64, b: usize| if b == 0 { f64::NAN } else { a / b as f64 };
        write!(
            f,
            "{:.1}% of {} correct steps called good, {:.1}% of {} wrong steps called wrong; \
             mean good-class probability {:.3} on correct steps, {:.3} on wrong ones",
            100.0 * ratio(self.correct.1 as f64, self.correct.0),
            self.correct.0,
            100.0 * ratio(self.wrong.1 as f64, self.wrong.0),
            self.wrong.0,
            ratio(self.prob_sums.0, self.correct.0),
            ratio(self.prob_sums.1, self.wrong.0),
        )
    }
}

/// The verdicts of `prm` on the labelled steps of `examples`, scored as the trainer scores.
fn judge<B: AutodiffBackend>(
    prm: &ProcessRewardModel<B>,
    examples: &[PrmExample],
    tokenizer: &Tokenizer,
    pad: u32,
) -> Result<StepVerdicts> {
    let step_id = tokenizer.require_token_id(crate::reward::prm::format::STEP_TOKEN)?;
    let rows: Vec<Vec<u32>> = examples.iter().map(|e| e.ids.clone()).collect();
    let scores = score_ids(
        &prm.valid(),
        &rows,
        step_id,
        TOY_PRM_BATCH,
        Padding::Right,
        pad,
    );
    let mut verdicts = StepVerdicts::default();
    for (e, s) in examples.iter().zip(&scores) {
        verdicts.add(&e.labels, &s.step_probs);
    }
    Ok(verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::toy::ToyOp;

    #[test]
    fn step_verdicts_count_each_label_against_the_half_probability_line() {
        // Two solutions, their step labels and the PRM's probabilities.
        let mut v = StepVerdicts::default();
        v.add(&[true, false], &[0.8, 0.4]);
        v.add(&[true, true], &[0.3, 0.6]);
        // Correct steps: 0.8 (good), 0.3 (wrong), 0.6 (good); wrong step: 0.4 (wrong).
        assert_eq!(v.correct, (3, 2));
        assert_eq!(v.wrong, (1, 1));
        assert!((v.prob_sums.0 - 1.7).abs() < 1e-6 && (v.prob_sums.1 - 0.4).abs() < 1e-6);
        assert_eq!(
            v.to_string(),
            "66.7% of 3 correct steps called good, 100.0% of 1 wrong steps called wrong; \
             mean good-class probability 0.567 on correct steps, 0.400 on wrong ones"
        );
    }

    /// A 2 → 1 linear layer with weight `[1, 2]ᵀ` (its first value replaced by `w0`) and bias 0
    /// on the autodiff CPU backend, and its loss `sqrt(layer(x))` for `x = [1, −0.5]`: 0 at
    /// `w0 = 1`, where the square root's derivative is infinite.
    fn sqrt_loss_case(w0: f32) -> (burn::nn::Linear<Autodiff<Flex>>, Tensor<Autodiff<Flex>, 1>) {
        let device = Default::default();
        let mut layer = burn::nn::LinearConfig::new(2, 1).init::<Autodiff<Flex>>(&device);
        let weight = TensorData::new(vec![w0, 2.0], [2, 1]);
        layer.weight = layer
            .weight
            .map(|_| Tensor::from_data(weight, &device).require_grad());
        layer.bias = layer
            .bias
            .map(|b| b.map(|_| Tensor::from_floats([0.0], &device).require_grad()));
        let x = Tensor::<Autodiff<Flex>, 2>::from_floats([[1.0, -0.5]], &device);
        let loss = layer.forward(x).sqrt().sum();
        (layer, loss)
    }

    type Flex = burn::backend::Flex;
    type Autodiff<B> = burn::backend::Autodiff<B>;

    /// A finite step updates the module and returns its loss; a NaN loss names the parameter
    /// holding the NaN; a finite loss with an infinite gradient names that gradient; both stop
    /// before the update, naming the phase and step.
    #[test]
    fn a_non_finite_start_up_step_is_an_error_naming_where_the_value_sits() {
        let mut optimizer =
            FusedAdamWConfig::default().init::<Autodiff<Flex>, burn::nn::Linear<Autodiff<Flex>>>();

        let (layer, loss) = sqrt_loss_case(2.0);
        let at = StartUpStep::new("warmup_sft", 1, 10);
        let (updated, value) = at.apply(layer, &mut optimizer, 0.1, loss).unwrap();
        assert!(
            (value - 1.0).abs() < 1e-6,
            "sqrt(2 · 1 + 2 · (−0.5)) = 1, got {value}"
        );
        let w: Vec<f32> = updated.weight.val().into_data().to_vec().unwrap();
        assert!(
            w[0] < 2.0 && w[1] > 2.0,
            "AdamW moves against the gradient [0.5, −0.25]: {w:?}"
        );

        let (layer, loss) = sqrt_loss_case(f32::NAN);
        let err = StartUpStep::new("warmup_sft", 3, 10)
            .apply(layer, &mut optimizer, 0.1, loss)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "warmup_sft step 3/10: the loss is NaN (parameter `weight` holds a NaN or an \
             infinity); stopping before this step's update"
        );

        let (layer, loss) = sqrt_loss_case(1.0);
        let err = StartUpStep::new("toy PRM", 7, 150)
            .apply(layer, &mut optimizer, 0.1, loss)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "toy PRM step 7/150: the gradient norm is inf (the gradient of `weight` holds a NaN \
             or an infinity); stopping before this step's update"
        );
    }

    #[test]
    fn the_training_toy_set_has_the_shape_of_the_toy_arithmetic_dataset() {
        let shape = toy_shape();
        assert_eq!((shape.min_operands, shape.max_operands), (2, 2));
        assert_eq!(shape.operators, [ToyOp::Add, ToyOp::Sub]);
        for p in toy_prompts(3) {
            let expr = ToyExpression::parse(&p.problem).expect("a toy problem");
            assert_eq!(expr.operands.len(), 2, "{}", p.problem);
            assert_eq!(p.gold, expr.value().to_string());
        }
    }
}
