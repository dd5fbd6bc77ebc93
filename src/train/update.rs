//! The policy update: μ passes over the kept completions, mini-batches split into micro-batches
//! whose gradients accumulate, global grad-norm clipping, one AdamW step per mini-batch.

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::{Tensor, TensorData, backend::AutodiffBackend};
use rand::Rng;
use rand::seq::SliceRandom;

use super::grad_norm::clip_grad_norm;
use super::non_finite::{explain_non_finite_gradient, explain_non_finite_loss};
use super::policy_logprobs::PolicyLogprobs;
use crate::generation::{ResponseBatch, response_logprobs};
use crate::host::read_back::read_together;
use crate::model::Qwen2ForCausalLm;
use crate::rl::{AggregationNorm, LossConfig, LossDiagnostics, LossInput, compute_loss};

/// One completion to learn from.
#[derive(Debug, Clone)]
pub struct UpdateItem {
    /// Prompt ids.
    pub prompt: Vec<u32>,
    /// Response ids.
    pub response: Vec<u32>,
    /// Sampling-policy log-probs of the response.
    pub old_logprobs: Vec<f32>,
    /// Reference-model log-probs (when a KL term is used).
    pub ref_logprobs: Option<Vec<f32>>,
    /// Its advantage.
    pub advantage: f32,
}

/// Shape of the update.
#[derive(Debug, Clone)]
pub struct UpdatePlan {
    /// Passes over the data (μ).
    pub epochs: usize,
    /// Mini-batches per pass (one optimizer step each).
    pub mini_batches: usize,
    /// Completions per forward/backward.
    pub micro_batch: usize,
    /// Recompute the decoder layers in the backward pass instead of keeping their activations
    /// (see [`super::checkpointed_layers`]).
    pub gradient_checkpointing: bool,
    /// Learning rate of this step.
    pub lr: f64,
    /// Global grad-norm bound (0 = none).
    pub grad_clip: f32,
    /// Sampling temperature (log-probs are of `softmax(logits / T)`).
    pub temperature: f32,
    /// Padding id.
    pub pad_id: u32,
    /// Longest response allowed (Dr. GRPO's normaliser).
    pub max_response_length: usize,
    /// The loss.
    pub loss: LossConfig,
}

/// What the update did, averaged over micro-batches (weighted by valid tokens).
#[derive(Debug, Clone, Default)]
pub struct UpdateStats {
    /// Token-weighted mean diagnostics.
    pub diagnostics: LossDiagnostics,
    /// Mean loss value.
    pub loss: f32,
    /// Grad norms before clipping, one per optimizer step.
    pub grad_norms: Vec<f32>,
    /// Optimizer steps skipped because the loss or gradients were not finite.
    pub skipped_steps: usize,
    /// Where the first skipped step's NaN or infinity sat (a parameter, the forward pass or a
    /// parameter's gradient).
    pub skipped_because: Option<String>,
    /// Tokens back-propagated.
    pub tokens: usize,
}

fn matrix<B: burn::tensor::backend::Backend>(
    rows: &[&[f32]],
    width: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut flat = Vec::with_capacity(rows.len() * width);
    for r in rows {
        flat.extend_from_slice(&r[..r.len().min(width)]);
        flat.extend(std::iter::repeat_n(0.0, width.saturating_sub(r.len())));
    }
    Tensor::from_data(TensorData::new(flat, [rows.len(), width]), device)
}

/// Runs the update and returns the new policy.
pub fn update_policy<B, O, R>(
    mut policy: Qwen2ForCausalLm<B>,
    optimizer: &mut O,
    items: &[UpdateItem],
    plan: &UpdatePlan,
    rng: &mut R,
) -> Result<(Qwen2ForCausalLm<B>, UpdateStats)>
where
    B: AutodiffBackend,
    O: Optimizer<Qwen2ForCausalLm<B>, B>,
    R: Rng + ?Sized,
{
    let device = policy.model.embed_tokens.weight.val().device();
    let mut stats = UpdateStats::default();
    let mut weighted = LossDiagnostics::default();
    let mut weight_sum = 0.0f32;
    let mut loss_sum = 0.0f32;
    let mut micro_count = 0usize;
    if items.is_empty() {
        return Ok((policy, stats));
    }
    for _ in 0..plan.epochs.max(1) {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.shuffle(rng);
        let per_mini = order.len().div_ceil(plan.mini_batches.max(1));
        for mini in order.chunks(per_mini.max(1)) {
            let mini_tokens: usize = mini.iter().map(|&i| items[i].response.len()).sum();
            let mut accumulator = GradientsAccumulator::<Qwen2ForCausalLm<B>>::new();
            let mut finite = true;
            let mut pending = Vec::new();
            for micro in mini.chunks(plan.micro_batch.max(1)) {
                let batch_items: Vec<&UpdateItem> = micro.iter().map(|&i| &items[i]).collect();
                let prompts: Vec<&[u32]> =
                    batch_items.iter().map(|it| it.prompt.as_slice()).collect();
                let responses: Vec<&[u32]> = batch_items
                    .iter()
                    .map(|it| it.response.as_slice())
                    .collect();
                let layout = ResponseBatch::new(&prompts, &responses);
                let width = layout.max_response.max(1);
                let mask = layout.response_mask::<B>(&device);
                let head = PolicyLogprobs::forward(
                    &policy,
                    &layout,
                    plan.temperature,
                    plan.pad_id,
                    plan.gradient_checkpointing,
                );
                let old: Vec<&[f32]> = batch_items
                    .iter()
                    .map(|it| it.old_logprobs.as_slice())
                    .collect();
                let reference = if batch_items.iter().all(|it| it.ref_logprobs.is_some()) {
                    let r: Vec<&[f32]> = batch_items
                        .iter()
                        .map(|it| it.ref_logprobs.as_deref().expect("checked"))
                        .collect();
                    Some(matrix::<B>(&r, width, &device))
                } else {
                    None
                };
                let adv: Vec<f32> = batch_items.iter().map(|it| it.advantage).collect();
                let input = LossInput {
                    log_probs: head.log_probs.clone(),
                    old_log_probs: matrix::<B>(&old, width, &device),
                    ref_log_probs: reference,
                    advantages: Tensor::from_data(
                        TensorData::new(adv, [batch_items.len()]),
                        &device,
                    ),
                    mask,
                    entropies: Some(head.entropies.clone()),
                };
                let norm = AggregationNorm {
                    max_response_length: plan.max_response_length,
                    global_valid_tokens: mini_tokens as f32,
                };
                let out = compute_loss(input, &plan.loss, &norm)?;
                // Micro-batch losses are averaged over the mini-batch, except the DAPO global
                // token mean, which already divides by the mini-batch's token count.
                let scale =
                    if plan.loss.aggregation == crate::rl::LossAggregation::DapoGlobalTokenMean {
                        1.0
                    } else {
                        micro.len() as f32 / mini.len() as f32
                    };
                let loss = out.loss * scale;
                // Read back after the mini-batch: a read here would wait for this forward pass
                // before the backward pass could even be queued.
                pending.push((
                    scale,
                    Tensor::cat(vec![loss.clone().detach(), out.diagnostics.values()], 0),
                ));
                let grads = GradientsParams::from_grads(head.backward(loss), &policy);
                accumulator.accumulate(&policy, grads);
            }
            for (scale, values) in read_together(pending) {
                let (value, d) = (values[0], LossDiagnostics::from_values(&values[1..]));
                if !value.is_finite() {
                    finite = false;
                }
                let w = d.valid_tokens.max(1.0);
                accumulate_diagnostics(&mut weighted, &d, w);
                weight_sum += w;
                loss_sum += value / scale.max(1e-12);
                micro_count += 1;
                stats.tokens += d.valid_tokens as usize;
            }
            let mut grads = accumulator.grads();
            let grad_norm = clip_grad_norm::<B, _>(&policy, &mut grads, plan.grad_clip);
            stats.grad_norms.push(grad_norm);
            if finite && grad_norm.is_finite() {
                policy = optimizer.step(plan.lr, policy, grads);
            } else {
                stats.skipped_steps += 1;
                if stats.skipped_because.is_none() {
                    stats.skipped_because = Some(if finite {
                        explain_non_finite_gradient::<B, _>(&policy, &grads)
                    } else {
                        format!(
                            "a non-finite loss: {}",
                            explain_non_finite_loss::<B, _>(&policy)
                        )
                    });
                }
            }
        }
    }
    stats.diagnostics = scale_diagnostics(weighted, weight_sum);
    stats.loss = loss_sum / micro_count.max(1) as f32;
    Ok((policy, stats))
}

fn accumulate_diagnostics(acc: &mut LossDiagnostics, d: &LossDiagnostics, w: f32) {
    acc.policy_loss += d.policy_loss * w;
    acc.kl_loss += d.kl_loss * w;
    acc.entropy_loss += d.entropy_loss * w;
    acc.clip_ratio_low += d.clip_ratio_low * w;
    acc.clip_ratio_high += d.clip_ratio_high * w;
    acc.clip_ratio_region += d.clip_ratio_region * w;
    acc.dual_clip_ratio += d.dual_clip_ratio * w;
    acc.pg_clipfrac += d.pg_clipfrac * w;
    acc.kl_mean += d.kl_mean * w;
    acc.entropy_mean += d.entropy_mean * w;
    acc.approx_kl += d.approx_kl * w;
    acc.valid_tokens += d.valid_tokens;
}

fn scale_diagnostics(mut d: LossDiagnostics, w: f32) -> LossDiagnostics {
    let w = w.max(1e-12);
    d.policy_loss /= w;
    d.kl_loss /= w;
    d.entropy_loss /= w;
    d.clip_ratio_low /= w;
    d.clip_ratio_high /= w;
    d.clip_ratio_region /= w;
    d.dual_clip_ratio /= w;
    d.pg_clipfrac /= w;
    d.kl_mean /= w;
    d.entropy_mean /= w;
    d.approx_kl /= w;
    d
}

/// Reference-model log-probs of each item's response, computed on the inference backend.
pub fn reference_logprobs<B: burn::tensor::backend::Backend>(
    reference: &Qwen2ForCausalLm<B>,
    items: &[UpdateItem],
    micro_batch: usize,
    temperature: f32,
    pad_id: u32,
) -> Vec<Vec<f32>> {
    // Every micro-batch is queued before the one read back, so the device never waits for the
    // host between them.
    let mut pending = Vec::new();
    for chunk in items.chunks(micro_batch.max(1)) {
        let prompts: Vec<&[u32]> = chunk.iter().map(|it| it.prompt.as_slice()).collect();
        let responses: Vec<&[u32]> = chunk.iter().map(|it| it.response.as_slice()).collect();
        let layout = ResponseBatch::new(&prompts, &responses);
        let (logp, _) = response_logprobs(reference, &layout, temperature, pad_id, false);
        pending.push((chunk, logp.reshape([-1])));
    }
    let mut out = Vec::with_capacity(items.len());
    for (chunk, flat) in read_together(pending) {
        let width = flat.len() / chunk.len();
        for (i, it) in chunk.iter().enumerate() {
            out.push(flat[i * width..i * width + it.response.len()].to_vec());
        }
    }
    out
}

/// The inner (no-autodiff) view of a policy, for rollouts and reference copies.
pub fn inference_view<B: AutodiffBackend>(
    policy: &Qwen2ForCausalLm<B>,
) -> Qwen2ForCausalLm<B::InnerBackend> {
    policy.valid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qwen2Config;
    use crate::model::init::RandomInit;
    use crate::model::loader::random_causal_lm;
    use burn::backend::{Autodiff, Flex};
    use burn::optim::AdamWConfig;
    use burn::tensor::{DType, ElementConversion};
    use rand::SeedableRng;

    type B = Autodiff<Flex>;

    fn sequence_logprob(policy: &Qwen2ForCausalLm<B>, prompt: &[u32], response: &[u32]) -> f32 {
        let layout = ResponseBatch::new(&[prompt], &[response]);
        let (logp, _) = response_logprobs(&policy.valid(), &layout, 1.0, 0, false);
        logp.sum().into_scalar().elem()
    }

    /// A one-layer tied policy with random weights.
    fn tiny_policy() -> Qwen2ForCausalLm<B> {
        let config = Qwen2Config::from_json(
            r#"{"vocab_size": 32, "hidden_size": 16, "intermediate_size": 32,
                "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                "max_position_embeddings": 32, "tie_word_embeddings": true}"#,
        )
        .unwrap();
        let init = RandomInit { seed: 7, std: 0.2 };
        random_causal_lm::<B>(&config, &init, DType::F32, &Default::default()).unwrap()
    }

    /// One optimizer step per update, plain clipped loss.
    fn plan() -> UpdatePlan {
        UpdatePlan {
            epochs: 1,
            mini_batches: 1,
            micro_batch: 1,
            gradient_checkpointing: false,
            lr: 1e-2,
            grad_clip: 1.0,
            temperature: 1.0,
            pad_id: 0,
            max_response_length: 8,
            loss: LossConfig {
                kl_coef: 0.0,
                entropy_coef: 0.0,
                ..LossConfig::default()
            },
        }
    }

    const PROMPT: [u32; 3] = [1, 2, 3];
    const GOOD: [u32; 3] = [4, 5, 6];
    const BAD: [u32; 3] = [7, 8, 9];

    /// `GOOD` with advantage +1 and `BAD` with −1, their old log-probs under `policy`.
    fn items(policy: &Qwen2ForCausalLm<B>) -> Vec<UpdateItem> {
        let item = |response: &[u32], advantage: f32| {
            let layout = ResponseBatch::new(&[PROMPT.as_slice()], &[response]);
            let (logp, _) = response_logprobs(&policy.valid(), &layout, 1.0, 0, false);
            UpdateItem {
                prompt: PROMPT.to_vec(),
                response: response.to_vec(),
                old_logprobs: logp.into_data().to_vec::<f32>().unwrap(),
                ref_logprobs: None,
                advantage,
            }
        };
        vec![item(&GOOD, 1.0), item(&BAD, -1.0)]
    }

    /// The update raises the log-probability of a completion with a positive advantage and
    /// lowers that of one with a negative advantage.
    #[test]
    fn the_update_moves_log_probs_with_the_sign_of_the_advantage() {
        let mut policy = tiny_policy();
        let mut optimizer = AdamWConfig::new().init::<B, Qwen2ForCausalLm<B>>();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let before = (
            sequence_logprob(&policy, &PROMPT, &GOOD),
            sequence_logprob(&policy, &PROMPT, &BAD),
        );
        for _ in 0..3 {
            let items = items(&policy);
            policy = update_policy(policy, &mut optimizer, &items, &plan(), &mut rng)
                .unwrap()
                .0;
        }
        let after = (
            sequence_logprob(&policy, &PROMPT, &GOOD),
            sequence_logprob(&policy, &PROMPT, &BAD),
        );
        assert!(after.0 > before.0 + 0.1, "good: {before:?} -> {after:?}");
        assert!(after.1 < before.1 - 0.1, "bad: {before:?} -> {after:?}");
    }

    /// With a NaN in the final norm's scale the loss is NaN: the optimizer step is skipped, the
    /// weights stay as they were, and the stats name the parameter holding the NaN.
    #[test]
    fn a_non_finite_step_is_skipped_and_names_the_parameter() {
        let policy = tiny_policy();
        let items = items(&policy);
        let mut policy = policy;
        policy.model.norm.weight = policy.model.norm.weight.map(|w| {
            let mut v: Vec<f32> = w.to_data().to_vec().unwrap();
            v[3] = f32::NAN;
            Tensor::from_data(TensorData::new(v, [16]), &w.device()).require_grad()
        });
        let embed_before = policy.model.embed_tokens.weight.val().into_data();
        let mut optimizer = AdamWConfig::new().init::<B, Qwen2ForCausalLm<B>>();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (policy, stats) =
            update_policy(policy, &mut optimizer, &items, &plan(), &mut rng).unwrap();
        assert_eq!(stats.skipped_steps, 1);
        assert_eq!(
            stats.skipped_because.as_deref(),
            Some("a non-finite loss: parameter `model.norm.weight` holds a NaN or an infinity")
        );
        assert_eq!(
            policy.model.embed_tokens.weight.val().into_data(),
            embed_before
        );
    }

    /// Reference log-probs come back per item, cut to each response's length, the same whether
    /// the items share micro-batches (padded to the longest response) or not.
    #[test]
    fn reference_log_probs_keep_each_items_length_across_micro_batches() {
        let policy = tiny_policy().valid();
        let item = |response: &[u32]| UpdateItem {
            prompt: PROMPT.to_vec(),
            response: response.to_vec(),
            old_logprobs: vec![0.0; response.len()],
            ref_logprobs: None,
            advantage: 0.0,
        };
        let items = vec![item(&GOOD), item(&[7]), item(&[8, 9])];
        let alone = reference_logprobs(&policy, &items, 1, 1.0, 0);
        let shared = reference_logprobs(&policy, &items, 2, 1.0, 0);
        assert_eq!(
            alone.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 1, 2]
        );
        for (a, s) in alone.iter().zip(&shared) {
            for (x, y) in a.iter().zip(s) {
                assert!((x - y).abs() < 1e-5, "{a:?} vs {s:?}");
            }
        }
        let layout = ResponseBatch::new(&[PROMPT.as_slice()], &[[8u32, 9].as_slice()]);
        let (logp, _) = response_logprobs(&policy, &layout, 1.0, 0, false);
        assert_eq!(alone[2], logp.into_data().to_vec::<f32>().unwrap());
    }
}
