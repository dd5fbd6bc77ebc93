//! Loss terms on Burn tensors against hand-computed values, and clipping via autodiff.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use prof_grpo::rl::aggregation::{AggregationNorm, LossAggregation, aggregate};
use prof_grpo::rl::entropy::token_entropy;
use prof_grpo::rl::kl::{KlEstimator, kl_penalty};
use prof_grpo::rl::objective::{LossConfig, LossError, LossInput, compute_loss};
use prof_grpo::rl::policy_loss::{ClipConfig, policy_loss};

type Cpu = Flex;
type Ad = Autodiff<Flex>;

fn t2<B: Backend, const N: usize, const M: usize>(rows: [[f32; M]; N]) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::from(rows), &Default::default())
}

fn t1<B: Backend, const N: usize>(row: [f32; N]) -> Tensor<B, 1> {
    Tensor::from_data(TensorData::from(row), &Default::default())
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

const NORM: AggregationNorm = AggregationNorm {
    max_response_length: 4,
    global_valid_tokens: 10.0,
};

#[test]
fn aggregation_modes_hand_computed() {
    // Valid: row 0 → 1, 2 ; row 1 → 4. Sum 7 over 3 tokens.
    let v = || t2::<Cpu, 2, 3>([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let m = || t2::<Cpu, 2, 3>([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]);
    let agg = |mode| values(aggregate(v(), m(), mode, &NORM))[0];
    assert!((agg(LossAggregation::TokenMean) - 7.0 / 3.0).abs() < 1e-6);
    // (1.5 + 4) / 2.
    assert!((agg(LossAggregation::SeqMeanTokenMean) - 2.75).abs() < 1e-6);
    // (3 + 4) / (2 sequences · 4 max tokens).
    assert!((agg(LossAggregation::SeqMeanTokenSumNorm) - 0.875).abs() < 1e-6);
    // 7 / 10 valid tokens in the whole mini-batch.
    assert!((agg(LossAggregation::DapoGlobalTokenMean) - 0.7).abs() < 1e-6);
}

#[test]
fn aggregation_of_fully_masked_input_is_zero() {
    for mode in [
        LossAggregation::TokenMean,
        LossAggregation::SeqMeanTokenMean,
        LossAggregation::SeqMeanTokenSumNorm,
        LossAggregation::DapoGlobalTokenMean,
    ] {
        let v = t2::<Cpu, 1, 2>([[3.0, 5.0]]);
        let m = t2::<Cpu, 1, 2>([[0.0, 0.0]]);
        assert_eq!(values(aggregate(v, m, mode, &NORM)), vec![0.0], "{mode:?}");
    }
}

#[test]
fn kl_estimators_hand_computed() {
    // log π = (ln ½, ln ¼), log π_ref = (ln ¼, ln ½) → x = log π − log π_ref = (ln 2, −ln 2).
    let lp = || t2::<Cpu, 1, 2>([[0.5f32.ln(), 0.25f32.ln()]]);
    let rf = || t2::<Cpu, 1, 2>([[0.25f32.ln(), 0.5f32.ln()]]);
    let ln2 = std::f32::consts::LN_2;
    let kl = |e| values(kl_penalty(lp(), rf(), e));
    assert_close(&kl(KlEstimator::K1), &[ln2, -ln2]);
    assert_close(&kl(KlEstimator::K2), &[0.5 * ln2 * ln2, 0.5 * ln2 * ln2]);
    // k3 = exp(−x) + x − 1: ½ + ln 2 − 1 and 2 − ln 2 − 1.
    assert_close(&kl(KlEstimator::K3), &[ln2 - 0.5, 1.0 - ln2]);
}

#[test]
fn k3_is_clamped_to_ten() {
    let lp = t2::<Cpu, 1, 3>([[0.0, -30.0, 0.0]]);
    let rf = t2::<Cpu, 1, 3>([[-30.0, 0.0, -13.0]]);
    // x = 30 → 19 (clamped to 10); x = −30 → exp(20) … (clamped to 10);
    // x = 13 → exp(−13) + 12 ≈ 12.000002 → 10.
    assert_close(
        &values(kl_penalty(lp, rf, KlEstimator::K3)),
        &[10.0, 10.0, 10.0],
    );
    let lp = t2::<Cpu, 1, 1>([[0.0]]);
    let rf = t2::<Cpu, 1, 1>([[-5.0]]);
    // x = 5 → exp(−5) + 4 ≈ 4.0067379 (inside the clamp).
    assert_close(
        &values(kl_penalty(lp, rf, KlEstimator::K3)),
        &[(-5.0f32).exp() + 4.0],
    );
}

#[test]
fn token_entropy_hand_computed() {
    let logits = Tensor::<Cpu, 3>::from_data(
        TensorData::from([[[0.0f32, 0.0, 0.0, 0.0], [3.0f32.ln(), 0.0, -1e9, -1e9]]]),
        &Default::default(),
    );
    // Uniform over 4 → ln 4; (¾, ¼) → −(¾ ln ¾ + ¼ ln ¼).
    let h = -(0.75f32 * 0.75f32.ln() + 0.25 * 0.25f32.ln());
    assert_close(&values(token_entropy(logits)), &[4.0f32.ln(), h]);
}

/// Ratios per token: row 0 has A = +1, row 1 has A = −1.
const RATIOS: [[f32; 3]; 2] = [[1.1, 1.5, 0.5], [1.1, 0.5, 4.0]];
const CLIP: ClipConfig = ClipConfig {
    clip_low: 0.2,
    clip_high: 0.28,
    dual_clip_c: 3.0,
};

fn log_ratios<B: Backend>() -> Tensor<B, 2> {
    t2(RATIOS.map(|row| row.map(f32::ln)))
}

#[test]
fn policy_loss_hand_computed() {
    // A = +1: ρ 1.1 → −1.1; ρ 1.5 → −clip = −1.28 (high clip); ρ 0.5 → −0.5.
    // A = −1: ρ 1.1 → 1.1; ρ 0.5 → clip = 0.8 (low clip); ρ 4 → min(4, c = 3) = 3 (dual clip).
    let pl = policy_loss(
        log_ratios::<Cpu>(),
        Tensor::zeros([2, 3], &Default::default()),
        t1::<Cpu, 2>([1.0, -1.0]),
        &CLIP,
    );
    assert_close(&values(pl.per_token), &[-1.1, -1.28, -0.5, 1.1, 0.8, 3.0]);
    assert_eq!(values(pl.high_clipped), vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(values(pl.low_clipped), vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    assert_eq!(values(pl.dual_clipped), vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(values(pl.clipped), vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn gradients_vanish_exactly_outside_the_clip_region() {
    let new_lp = log_ratios::<Ad>().require_grad();
    let pl = policy_loss(
        new_lp.clone(),
        Tensor::zeros([2, 3], &Default::default()),
        t1::<Ad, 2>([1.0, -1.0]),
        &CLIP,
    );
    let mask = Tensor::ones([2, 3], &Default::default());
    let loss = aggregate(pl.per_token, mask, LossAggregation::TokenMean, &NORM);
    let grads = loss.backward();
    let g = values(new_lp.grad(&grads).unwrap());
    // d(−A·ρ)/d log π = −A·ρ, divided by 6 tokens, inside the region; exactly 0 where clipped.
    let want = [-1.1 / 6.0, 0.0, -0.5 / 6.0, 1.1 / 6.0, 0.0, 0.0];
    assert_close(&g, &want);
    for i in [1, 4, 5] {
        assert_eq!(g[i], 0.0, "token {i} is clipped: {g:?}");
    }
    for i in [0, 2, 3] {
        assert!(g[i].abs() > 0.05, "token {i} is inside the region: {g:?}");
    }
}

#[test]
fn masked_tokens_get_no_gradient() {
    let new_lp = log_ratios::<Ad>().require_grad();
    let pl = policy_loss(
        new_lp.clone(),
        Tensor::zeros([2, 3], &Default::default()),
        t1::<Ad, 2>([1.0, -1.0]),
        &CLIP,
    );
    let mask = t2::<Ad, 2, 3>([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]);
    let loss = aggregate(pl.per_token, mask, LossAggregation::TokenMean, &NORM);
    let g = values(new_lp.grad(&loss.backward()).unwrap());
    assert_eq!(g[2], 0.0);
    assert!((g[0] + 1.1 / 5.0).abs() < 1e-5, "{g:?}");
}

#[test]
fn dual_clip_bounds_negative_advantage_loss() {
    // A = −2: loss = 2ρ until the dual clip caps it at −A·c = 6.
    let ratios = [0.1f32, 0.7, 1.0, 2.0, 2.99, 3.5, 10.0, 100.0];
    let lp = t2::<Cpu, 1, 8>([ratios.map(f32::ln)]);
    let zeros = || Tensor::<Cpu, 2>::zeros([1, 8], &Default::default());
    let pl = policy_loss(lp.clone(), zeros(), t1::<Cpu, 1>([-2.0]), &CLIP);
    let got = values(pl.per_token);
    let want = [1.6, 1.6, 2.0, 4.0, 5.98, 6.0, 6.0, 6.0];
    assert_close(&got, &want);
    assert!(got.iter().all(|&l| l <= 6.0 + 1e-6));
    assert_eq!(
        values(pl.dual_clipped),
        vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    );
    // Disabled (c = ∞): plain PPO, unbounded.
    let no_dual = ClipConfig {
        dual_clip_c: f32::INFINITY,
        ..CLIP
    };
    let pl = policy_loss(lp.clone(), zeros(), t1::<Cpu, 1>([-2.0]), &no_dual);
    assert!((values(pl.per_token)[7] - 200.0).abs() < 1e-3);
    // Positive advantages are never dual-clipped: A = +2 → −2·min(ρ, 1.28).
    let pl = policy_loss(lp, zeros(), t1::<Cpu, 1>([2.0]), &CLIP);
    assert!((values(pl.per_token)[7] + 2.56).abs() < 1e-5);
    assert!(values(pl.dual_clipped).iter().all(|&x| x == 0.0));
}

#[test]
fn dual_clip_gradient_is_zero() {
    let new_lp = t2::<Ad, 1, 2>([[2.0f32.ln(), 5.0f32.ln()]]).require_grad();
    let pl = policy_loss(
        new_lp.clone(),
        Tensor::zeros([1, 2], &Default::default()),
        t1::<Ad, 1>([-1.0]),
        &CLIP,
    );
    let loss = pl.per_token.sum();
    let g = values(new_lp.grad(&loss.backward()).unwrap());
    // ρ = 2 < c: d(ρ)/d log π = 2; ρ = 5 > c: capped, 0.
    assert_close(&g, &[2.0, 0.0]);
}

fn input<B: Backend>(with_ref: bool, with_entropy: bool) -> LossInput<B> {
    LossInput {
        log_probs: log_ratios::<B>(),
        old_log_probs: Tensor::zeros([2, 3], &Default::default()),
        // log π_ref = log π − ln 2 on every token → k3 = ½ + ln 2 − 1 everywhere.
        ref_log_probs: with_ref.then(|| log_ratios::<B>().sub_scalar(std::f32::consts::LN_2)),
        advantages: t1([1.0, -1.0]),
        mask: Tensor::ones([2, 3], &Default::default()),
        entropies: with_entropy.then(|| t2([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])),
    }
}

#[test]
fn objective_combines_terms_and_reports_diagnostics() {
    let config = LossConfig {
        clip_low: 0.2,
        clip_high: 0.28,
        kl_coef: 0.1,
        entropy_coef: 0.01,
        ..LossConfig::default()
    };
    let out = compute_loss(input::<Cpu>(true, true), &config, &NORM).unwrap();
    let policy = (-1.1 - 1.28 - 0.5 + 1.1 + 0.8 + 3.0) / 6.0;
    let kl = std::f32::consts::LN_2 - 0.5;
    let entropy = 21.0 / 6.0;
    let total = policy + 0.1 * kl - 0.01 * entropy;
    assert_close(&values(out.loss), &[total]);
    let d = out.diagnostics.read();
    assert_close(
        &[
            d.policy_loss,
            d.kl_loss,
            d.entropy_loss,
            d.kl_mean,
            d.entropy_mean,
        ],
        &[policy, kl, entropy, kl, entropy],
    );
    assert_close(
        &[
            d.clip_ratio_low,
            d.clip_ratio_high,
            d.clip_ratio_region,
            d.dual_clip_ratio,
            d.pg_clipfrac,
        ],
        &[1.0 / 6.0, 1.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0, 2.0 / 6.0],
    );
    // approx_kl = mean(log π_old − log π) = −mean(ln ρ).
    let approx: f32 = -RATIOS.iter().flatten().map(|r| r.ln()).sum::<f32>() / 6.0;
    assert_close(&[d.approx_kl, d.valid_tokens], &[approx, 6.0]);
    let names: Vec<&str> = d.metrics().iter().map(|(n, _)| *n).collect();
    assert!(names.contains(&"clip_ratio/low_mean") && names.contains(&"clip_ratio/high_mean"));
}

#[test]
fn entropy_bonus_and_kl_gradients() {
    let config = LossConfig {
        kl_coef: 0.5,
        kl_estimator: KlEstimator::K1,
        entropy_coef: 0.01,
        ..LossConfig::default()
    };
    let mut inp = input::<Ad>(true, true);
    let h = inp.entropies.take().unwrap().require_grad();
    inp.entropies = Some(h.clone());
    let out = compute_loss(inp, &config, &NORM).unwrap();
    let grads = out.loss.backward();
    // −β_H / 6 tokens on every entropy.
    assert_close(&values(h.grad(&grads).unwrap()), &[-0.01 / 6.0; 6]);
}

#[test]
fn missing_reference_or_entropies_and_bad_shapes_are_errors() {
    let config = LossConfig::default();
    let err = compute_loss(input::<Cpu>(false, true), &config, &NORM).unwrap_err();
    assert_eq!(err, LossError::MissingReference(0.001));
    let err = compute_loss(input::<Cpu>(true, false), &config, &NORM).unwrap_err();
    assert_eq!(err, LossError::MissingEntropies(0.001));
    // Coefficients 0 need neither.
    let none = LossConfig {
        kl_coef: 0.0,
        entropy_coef: 0.0,
        ..config
    };
    let out = compute_loss(input::<Cpu>(false, false), &none, &NORM).unwrap();
    let d = out.diagnostics.read();
    assert_eq!((d.kl_mean, d.entropy_mean), (0.0, 0.0));
    let mut bad = input::<Cpu>(true, true);
    bad.advantages = t1([1.0, 2.0, 3.0]);
    let err = compute_loss(bad, &config, &NORM).unwrap_err();
    assert_eq!(err.to_string(), "advantages has shape [3], expected [2]");
    let bad_c = LossConfig {
        dual_clip_c: 0.5,
        ..config
    };
    assert!(compute_loss(input::<Cpu>(true, true), &bad_c, &NORM).is_err());
}

#[test]
fn loss_config_deserializes_with_defaults() {
    let c: LossConfig = toml::from_str(
        "clip_high = 0.28\nkl_estimator = \"k1\"\naggregation = \"seq_mean_token_sum_norm\"",
    )
    .unwrap();
    assert_eq!(c.clip_high, 0.28);
    assert_eq!(c.kl_estimator, KlEstimator::K1);
    assert_eq!(c.aggregation, LossAggregation::SeqMeanTokenSumNorm);
    assert_eq!(c.dual_clip_c, 3.0);
    assert!(
        toml::from_str::<LossConfig>("dual_clip_c = inf")
            .unwrap()
            .dual_clip_c
            .is_infinite()
    );
    assert!(toml::from_str::<LossConfig>("aggregation = \"token_sum\"").is_err());
}
