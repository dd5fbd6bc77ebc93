//! One GRPO / PROF training step, top to bottom:
//! prompts → rollout → outcome rewards → PRM step scores → filter → advantages → update → metrics.

use anyhow::{Context, Result};
use burn::tensor::backend::AutodiffBackend;
use std::time::Instant;

use super::config::TruncatedCompletions;
use super::metrics::{SampleRecord, StepMetrics};
use super::rl_settings;
use super::rollout::{Rollout, sample_groups};
use super::trainer::Trainer;
use super::update::{UpdateItem, UpdatePlan, inference_view, reference_logprobs, update_policy};
use crate::rl::advantage::unbiased_std;
use crate::rl::{Completion, filter_batch, group_advantages};

impl<B: AutodiffBackend> Trainer<B> {
    /// Runs one step and returns its metrics.
    pub fn train_step(&mut self) -> Result<StepMetrics> {
        let step = self.step + 1;
        let cfg = self.config.clone();
        let started = Instant::now();

        // 1. A batch of prompts (seeded shuffle, epochs, checkpointed cursor).
        let batch: Vec<usize> = self.sampler.next_batch();
        let prompt_ids: Vec<Vec<u32>> = batch
            .iter()
            .map(|&i| self.train_set[i].ids.clone())
            .collect();

        // 2. Rollout: n completions per prompt from the current policy, on the inference backend.
        let t = Instant::now();
        let policy = inference_view(&self.policy);
        let total = (batch.len() * cfg.rollout.n) as u64;
        let bar = self.progress.begin_rollout(total, "completions");
        let rollouts: Vec<Rollout> = sample_groups(
            &policy,
            &self.tokenizer,
            &prompt_ids,
            cfg.rollout.n,
            &self.generation,
            cfg.rollout.max_batch_size,
            &mut self.rollout_rng,
            |done| bar.inc(done as u64),
        )?;
        self.progress.end_rollout();
        let rollout_s = t.elapsed().as_secs_f64();

        // 3. Outcome reward: 1 if the verifier accepts the answer, else 0.
        let correct: Vec<bool> = rollouts
            .iter()
            .map(|r| {
                let gold = &self.train_set[batch[r.group]].problem.gold;
                let zeroed = r.truncated && cfg.rollout.truncated == TruncatedCompletions::Zero;
                !zeroed && self.verifier.verify(gold, &r.text).correct
            })
            .collect();

        // 4. PRM step scores, for the algorithms that use them.
        let t = Instant::now();
        let step_probs: Vec<Vec<f32>> = match (&self.prm, cfg.uses_prm()) {
            (Some(prm), true) => {
                let pairs: Vec<(&str, &str)> = rollouts
                    .iter()
                    .map(|r| {
                        (
                            self.train_set[batch[r.group]].problem.problem.as_str(),
                            r.text.as_str(),
                        )
                    })
                    .collect();
                prm.score(&pairs)?
                    .into_iter()
                    .map(|s| s.step_probs)
                    .collect()
            }
            _ => vec![Vec::new(); rollouts.len()],
        };
        let prm_s = t.elapsed().as_secs_f64();

        // 5. Filter or shape (PROF and its variants, random control, blend).
        let completions: Vec<Completion> = rollouts
            .iter()
            .zip(&correct)
            .zip(&step_probs)
            .map(|((r, &ok), probs)| Completion {
                group: r.group,
                correct: ok,
                step_probs: probs.clone(),
                truncated: r.truncated,
            })
            .collect();
        let algorithm = rl_settings::algorithm(&cfg)?;
        let filtered = filter_batch(
            algorithm,
            &rl_settings::filter_config(&cfg),
            &completions,
            &mut self.filter_rng,
        )
        .context("filtering the rollouts")?;

        // 6. Advantages per kept group (truncated completions leave the loss when masked).
        let masked =
            |i: usize| rollouts[i].truncated && cfg.rollout.truncated == TruncatedCompletions::Mask;
        let kept: Vec<usize> = filtered
            .kept_indices()
            .into_iter()
            .filter(|&i| !masked(i))
            .collect();
        let advantages = group_advantages(
            &kept.iter().map(|&i| rollouts[i].group).collect::<Vec<_>>(),
            &kept
                .iter()
                .map(|&i| filtered.decisions[i].reward)
                .collect::<Vec<_>>(),
            &rl_settings::advantage_config(&cfg)?,
        );

        // 7. Policy update (reference log-probs first, when a KL term is used).
        let t = Instant::now();
        let mut items: Vec<UpdateItem> = kept
            .iter()
            .zip(&advantages)
            .filter(|&(&i, _)| !rollouts[i].ids.is_empty())
            .map(|(&i, &a)| UpdateItem {
                prompt: rollouts[i].prompt_ids.clone(),
                response: rollouts[i].ids.clone(),
                old_logprobs: rollouts[i].logprobs.clone(),
                ref_logprobs: None,
                advantage: a,
            })
            .collect();
        if let Some(reference) = &self.reference {
            let temperature = self.generation.sampling.temperature.max(1e-6);
            let refs = reference_logprobs(
                reference,
                &items,
                cfg.actor.micro_batch_size,
                temperature,
                self.generation.pad_id,
            );
            for (item, r) in items.iter_mut().zip(refs) {
                item.ref_logprobs = Some(r);
            }
        }
        let lr = self.lr.lr_at(self.step);
        let plan = UpdatePlan {
            epochs: cfg.actor.ppo_epochs,
            mini_batches: cfg
                .actor
                .prompts_per_step
                .div_ceil(cfg.actor.mini_batch_prompts.max(1)),
            micro_batch: cfg.actor.micro_batch_size,
            gradient_checkpointing: cfg.actor.gradient_checkpointing,
            lr,
            grad_clip: cfg.actor.grad_clip as f32,
            temperature: self.generation.sampling.temperature.max(1e-6),
            pad_id: self.generation.pad_id,
            max_response_length: cfg.rollout.max_response_length,
            loss: rl_settings::loss_config(&cfg)?,
        };
        let policy = self.policy.clone();
        let (policy, update) = update_policy(
            policy,
            &mut self.optimizer,
            &items,
            &plan,
            &mut self.update_rng,
        )?;
        self.policy = policy;
        let update_s = t.elapsed().as_secs_f64();
        let grad_norm = update.grad_norms.iter().copied().fold(0.0f32, f32::max);
        if let Some(because) = &update.skipped_because {
            eprintln!(
                "step {step}: {} of {} optimizer steps skipped: {because}",
                update.skipped_steps,
                update.grad_norms.len()
            );
        }
        self.nan_guard
            .check(
                step,
                update.loss as f64,
                if update.skipped_steps > 0 {
                    f64::NAN
                } else {
                    grad_norm as f64
                },
            )
            .map_err(|e| match &update.skipped_because {
                Some(because) => anyhow::anyhow!("{e}; at this step, {because}"),
                None => anyhow::anyhow!("{e}"),
            })?;

        // 8. Metrics (TRL / verl names) and samples.
        self.step = step;
        let rewards: Vec<f64> = correct.iter().map(|&c| c as u8 as f64).collect();
        let mut m = StepMetrics::new(step);
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let reward_mean = mean(&rewards);
        m.set("reward", reward_mean);
        m.set("reward_std", unbiased_std(&rewards));
        let groups = batch.len();
        let zero_std = (0..groups)
            .filter(|&g| {
                let r: Vec<f64> = rollouts
                    .iter()
                    .zip(&rewards)
                    .filter(|(x, _)| x.group == g)
                    .map(|(_, &v)| v)
                    .collect();
                r.iter().all(|&v| v == r[0])
            })
            .count();
        m.set(
            "frac_reward_zero_std",
            zero_std as f64 / groups.max(1) as f64,
        );
        let lengths: Vec<f64> = rollouts.iter().map(|r| r.ids.len() as f64).collect();
        m.set("completions/mean_length", mean(&lengths));
        m.set(
            "completions/clipped_ratio",
            rollouts.iter().filter(|r| r.truncated).count() as f64 / rollouts.len().max(1) as f64,
        );
        let d = &update.diagnostics;
        m.set("loss", update.loss as f64);
        m.set("kl", d.kl_mean as f64);
        m.set("entropy", d.entropy_mean as f64);
        m.set("clip_ratio/low_mean", d.clip_ratio_low as f64);
        m.set("clip_ratio/high_mean", d.clip_ratio_high as f64);
        m.set("clip_ratio/region_mean", d.clip_ratio_region as f64);
        m.set("approx_kl", d.approx_kl as f64);
        m.set("grad_norm", grad_norm as f64);
        m.set("lr", lr);
        m.set("prof/kept_correct", filtered.kept_correct() as f64);
        m.set("prof/kept_incorrect", filtered.kept_incorrect() as f64);
        if algorithm.uses_prm() {
            m.set(
                "prof/score_mean_correct",
                filtered.score_mean(true).map_or(f64::NAN, |v| v as f64),
            );
            m.set(
                "prof/score_mean_incorrect",
                filtered.score_mean(false).map_or(f64::NAN, |v| v as f64),
            );
        }
        let steps: Vec<f64> = step_probs.iter().map(|p| p.len() as f64).collect();
        m.set("prm/step_count_mean", mean(&steps));
        m.set("timing/rollout_s", rollout_s);
        m.set("timing/prm_s", prm_s);
        m.set("timing/update_s", update_s);
        let generated: usize = rollouts.iter().map(|r| r.ids.len()).sum();
        m.set(
            "perf/tokens_per_s",
            generated as f64 / started.elapsed().as_secs_f64().max(1e-9),
        );
        m.set("update/skipped_steps", update.skipped_steps as f64);

        if cfg.run.samples_every > 0 && step.is_multiple_of(cfg.run.samples_every) {
            for (i, r) in rollouts.iter().enumerate().take(cfg.run.samples_per_step) {
                let d = &filtered.decisions[i];
                self.samples.write(&SampleRecord {
                    step,
                    group: r.group,
                    prompt: self.train_set[batch[r.group]].problem.problem.clone(),
                    completion: r.text.clone(),
                    answer: self.train_set[batch[r.group]].problem.gold.clone(),
                    reward: d.reward as f64,
                    length: r.ids.len(),
                    truncated: r.truncated,
                    step_probs: step_probs[i].iter().map(|&p| p as f64).collect(),
                    score: algorithm.uses_prm().then_some(d.score as f64),
                    kept: d.kept,
                    reason: d.reason.clone(),
                })?;
            }
        }
        Ok(m)
    }
}
