//! Filters against hand-worked groups.

use prof_grpo::rl::filter::{Algorithm, FilterConfig, FilterResult, filter_batch};
use prof_grpo::rl::group::Completion;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A completion of group `group` with two equal steps `p` (mean step probability `p`).
fn two_steps(group: usize, correct: bool, p: f32) -> Completion {
    Completion {
        group,
        correct,
        step_probs: vec![p, p],
        truncated: false,
    }
}

fn run(algorithm: Algorithm, k: usize, batch: &[Completion]) -> FilterResult {
    let config = FilterConfig {
        remove_k: k,
        ..FilterConfig::default()
    };
    filter_batch(algorithm, &config, batch, &mut ChaCha8Rng::seed_from_u64(0)).unwrap()
}

fn dropped(result: &FilterResult) -> Vec<usize> {
    (0..result.decisions.len())
        .filter(|&i| !result.decisions[i].kept)
        .collect()
}

/// The hand-scored group: μ = 4.4 / 8 = 0.55, scores 2·(p − μ)·(±1):
/// 0: C 0.9 → 0.7 | 1: I 0.2 → 0.7 | 2: C 0.4 → −0.3 | 3: C 0.7 → 0.3
/// 4: I 0.8 → −0.5 | 5: C 0.6 → 0.1 | 6: I 0.3 → 0.5 | 7: I 0.5 → 0.1
fn hand_group() -> Vec<Completion> {
    [
        (true, 0.9),
        (false, 0.2),
        (true, 0.4),
        (true, 0.7),
        (false, 0.8),
        (true, 0.6),
        (false, 0.3),
        (false, 0.5),
    ]
    .into_iter()
    .map(|(c, p)| two_steps(0, c, p))
    .collect()
}

#[test]
fn hand_group_scores() {
    let r = run(Algorithm::Prof, 4, &hand_group());
    assert!((r.mu - 0.55).abs() < 1e-6);
    let expected = [0.7, 0.7, -0.3, 0.3, -0.5, 0.1, 0.5, 0.1];
    for (d, e) in r.decisions.iter().zip(expected) {
        assert!((d.score - e).abs() < 1e-5, "{} vs {e}", d.score);
        assert!(!d.penalized);
    }
}

#[test]
fn prof_drops_lowest_on_both_sides() {
    // P = N = 4, k = 4 → r_pos = 2: correct 2 (−0.3), 5 (0.1); incorrect 4 (−0.5), 7 (0.1).
    let r = run(Algorithm::Prof, 4, &hand_group());
    assert_eq!(dropped(&r), vec![2, 4, 5, 7]);
    let reason = |i: usize| r.decisions[i].reason.as_str();
    assert_eq!(reason(2), "dropped: correct with lowest score of 4 correct");
    assert_eq!(
        reason(5),
        "dropped: correct with 2nd lowest score of 4 correct"
    );
    assert_eq!(
        reason(4),
        "dropped: incorrect with lowest score of 4 incorrect"
    );
    assert_eq!(
        reason(7),
        "dropped: incorrect with 2nd lowest score of 4 incorrect"
    );
    assert_eq!(
        reason(3),
        "kept: correct with 3rd lowest score of 4 correct; the 2 lowest dropped"
    );
    assert_eq!(
        reason(1),
        "kept: incorrect with 4th lowest score of 4 incorrect; the 2 lowest dropped"
    );
    assert_eq!((r.kept_correct(), r.kept_incorrect()), (2, 2));
    assert_eq!(r.kept_indices(), vec![0, 1, 3, 6]);
}

#[test]
fn prof_with_three_correct_drops_one_correct_three_incorrect() {
    // Flip 5 to wrong: 0 C .9, 1 I .2, 2 C .4, 3 C .7, 4 I .8, 5 I .6, 6 I .3, 7 I .5 → P = 3, N = 5.
    // μ = 0.55; correct scores 0: 0.7, 2: −0.3, 3: 0.3; incorrect 1: 0.7, 4: −0.5, 5: −0.1,
    // 6: 0.5, 7: 0.1. r_pos = round((3 − 5 + 4) / 2) = 1 → drop 2; then 3 lowest wrong 4, 5, 7.
    let mut batch = hand_group();
    batch[5].correct = false;
    let r = run(Algorithm::Prof, 4, &batch);
    assert_eq!(dropped(&r), vec![2, 4, 5, 7]);
    assert_eq!((r.kept_correct(), r.kept_incorrect()), (2, 2));
}

#[test]
fn prof_joint_ranks_whole_group() {
    // All scores: 4 (−0.5), 2 (−0.3), 5 and 7 (0.1), then 3 (0.3) … → drop 2, 4, 5, 7.
    let r = run(Algorithm::ProfJoint, 4, &hand_group());
    assert_eq!(dropped(&r), vec![2, 4, 5, 7]);
    assert_eq!(
        r.decisions[4].reason,
        "dropped: lowest score of 8 in the group"
    );
    assert_eq!(
        r.decisions[3].reason,
        "kept: 5th lowest score of 8 in the group; the 4 lowest dropped"
    );
    // With k = 3, both 0.1 scores cannot go: only the 3rd lowest of them does.
    let r = run(Algorithm::ProfJoint, 3, &hand_group());
    assert_eq!(dropped(&r).len(), 3);
    assert!(dropped(&r).starts_with(&[2, 4]));
}

#[test]
fn table_n8_k4_through_filter() {
    let expected = [
        (0, 4),
        (1, 3),
        (2, 2),
        (2, 2),
        (2, 2),
        (2, 2),
        (2, 2),
        (3, 1),
        (4, 0),
    ];
    // One batch holding nine groups, one per P, distinct step probabilities.
    let mut batch = Vec::new();
    for p in 0..=8 {
        for i in 0..8 {
            batch.push(two_steps(100 + p, i < p, 0.05 + 0.1 * i as f32));
        }
    }
    let r = run(Algorithm::Prof, 4, &batch);
    assert_eq!(r.groups.len(), 9);
    for (p, (stats, want)) in r.groups.iter().zip(expected).enumerate() {
        assert_eq!(stats.group, 100 + p);
        assert_eq!((stats.correct, stats.incorrect), (p, 8 - p));
        assert_eq!((stats.kept_correct, stats.kept_incorrect), want, "P = {p}");
    }
}

#[test]
fn all_correct_and_all_incorrect() {
    // All right, probabilities 0.1..0.8 → scores increase with p → the four lowest p go.
    let ps = [0.8, 0.1, 0.7, 0.2, 0.6, 0.3, 0.5, 0.4];
    let right: Vec<Completion> = ps.iter().map(|&p| two_steps(0, true, p)).collect();
    let r = run(Algorithm::Prof, 4, &right);
    assert_eq!(dropped(&r), vec![1, 3, 5, 7]);
    assert_eq!((r.kept_correct(), r.kept_incorrect()), (4, 0));
    // All wrong: score = −2(p − μ) → the four highest p go.
    let wrong: Vec<Completion> = ps.iter().map(|&p| two_steps(0, false, p)).collect();
    let r = run(Algorithm::Prof, 4, &wrong);
    assert_eq!(dropped(&r), vec![0, 2, 4, 6]);
    assert_eq!(
        r.decisions[0].reason,
        "dropped: incorrect with lowest score of 8 incorrect"
    );
}

#[test]
fn ties_drop_lower_index_first() {
    // Identical right completions → identical scores → indices 0, 1 go (P = 4, k = 2 → r_pos 2).
    let same: Vec<Completion> = (0..4).map(|_| two_steps(0, true, 0.5)).collect();
    let r = run(Algorithm::Prof, 2, &same);
    assert_eq!(dropped(&r), vec![0, 1]);
    // μ = 0.5 exactly; right 0.75 and wrong 0.25 both score exactly 0.5.
    let mixed = vec![
        two_steps(0, true, 0.75),
        two_steps(0, false, 0.25),
        two_steps(0, true, 0.75),
        two_steps(0, false, 0.25),
    ];
    let r = run(Algorithm::ProfJoint, 2, &mixed);
    assert!(r.decisions.iter().all(|d| d.score == 0.5));
    assert_eq!(dropped(&r), vec![0, 1]);
    // Two interleaved groups (μ = 3.5 / 6): in each, the two right ones tie lowest and the
    // first of them goes.
    let interleaved = vec![
        two_steps(1, true, 0.75),
        two_steps(2, true, 0.75),
        two_steps(1, false, 0.25),
        two_steps(2, false, 0.25),
        two_steps(1, true, 0.75),
        two_steps(2, true, 0.75),
    ];
    let r = run(Algorithm::ProfJoint, 1, &interleaved);
    assert_eq!(dropped(&r), vec![0, 1]);
}

#[test]
fn no_steps_score_zero_minus_penalty() {
    let batch: Vec<Completion> = (0..8)
        .map(|i| Completion {
            group: 0,
            correct: i % 2 == 0,
            step_probs: vec![],
            truncated: false,
        })
        .collect();
    let r = run(Algorithm::Prof, 4, &batch);
    assert_eq!(r.mu, 0.0);
    assert!(r.decisions.iter().all(|d| d.score == -10.0 && d.penalized));
    // All tied: the two lowest-index right (0, 2) and wrong (1, 3) go.
    assert_eq!(dropped(&r), vec![0, 1, 2, 3]);
    assert_eq!(
        r.decisions[0].reason,
        "dropped: correct with lowest score of 4 correct; 0 steps outside [2, 30], score −10"
    );
    // Without a penalty the score is exactly 0.
    let config = FilterConfig {
        step_penalty: 0.0,
        ..FilterConfig::default()
    };
    let r = filter_batch(
        Algorithm::Prof,
        &config,
        &batch,
        &mut ChaCha8Rng::seed_from_u64(0),
    )
    .unwrap();
    assert!(r.decisions.iter().all(|d| d.score == 0.0));
}

#[test]
fn penalty_pushes_short_and_long_completions_down() {
    // Right ones: 0 has one step 1.0 (penalised), 1 has 31 steps of 0.9 (penalised),
    // 2 and 3 have two steps 0.6 and 0.4; wrong 4..7 two steps 0.5.
    let mut batch = vec![
        Completion {
            group: 0,
            correct: true,
            step_probs: vec![1.0],
            truncated: false,
        },
        Completion {
            group: 0,
            correct: true,
            step_probs: vec![0.9; 31],
            truncated: true,
        },
        two_steps(0, true, 0.6),
        two_steps(0, true, 0.4),
    ];
    batch.extend((0..4).map(|_| two_steps(0, false, 0.5)));
    let r = run(Algorithm::Prof, 4, &batch);
    assert!(r.decisions[0].penalized && r.decisions[1].penalized);
    assert!(!r.decisions[2].penalized);
    // P = N = 4 → two right go: the penalised 0 and 1 despite their high step probabilities.
    assert_eq!(dropped(&r)[..2], [0, 1]);
    assert!(
        r.decisions[1]
            .reason
            .ends_with("; 31 steps outside [2, 30], score −10"),
        "{}",
        r.decisions[1].reason
    );
    assert_eq!(r.groups[0].truncated, 1);
}

#[test]
fn k_at_least_group_size_drops_everything() {
    let batch: Vec<Completion> = [(true, 0.9), (false, 0.1), (true, 0.4)]
        .into_iter()
        .map(|(c, p)| two_steps(0, c, p))
        .collect();
    for algorithm in [
        Algorithm::Prof,
        Algorithm::ProfCorrect,
        Algorithm::ProfJoint,
        Algorithm::RandomFilter,
    ] {
        for k in [3, 5] {
            let r = run(algorithm, k, &batch);
            assert!(r.kept_indices().is_empty(), "{algorithm:?} k={k}");
        }
        let r = run(algorithm, 0, &batch);
        assert_eq!(r.kept_indices(), vec![0, 1, 2], "{algorithm:?} k=0");
    }
}

#[test]
fn grpo_and_blend_keep_everything() {
    let batch = hand_group();
    let r = run(Algorithm::Grpo, 4, &batch);
    assert!(
        r.decisions
            .iter()
            .all(|d| d.kept && d.reason == "kept: no filter (grpo)")
    );
    assert_eq!(r.decisions[0].reward, 1.0);
    assert_eq!(r.decisions[1].reward, 0.0);
    let r = run(Algorithm::Blend, 4, &batch);
    assert!(r.decisions.iter().all(|d| d.kept));
    // 1 + 0.8·0.9 = 1.72; 0 + 0.8·0.2 = 0.16.
    assert!((r.decisions[0].reward - 1.72).abs() < 1e-6);
    assert!((r.decisions[1].reward - 0.16).abs() < 1e-6);
    assert_eq!(
        r.decisions[1].reason,
        "kept: no filter (blend); reward 0 + 0.8 × 0.2000 = 0.1600"
    );
}

#[test]
fn random_choices_are_seeded_uniform_and_counted() {
    let batch = hand_group();
    let config = FilterConfig::default();
    let with_seed = |algorithm, seed| {
        filter_batch(
            algorithm,
            &config,
            &batch,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
        .unwrap()
    };
    let trials = 4000;
    for algorithm in [Algorithm::ProfCorrect, Algorithm::RandomFilter] {
        assert_eq!(with_seed(algorithm, 7), with_seed(algorithm, 7));
        let mut drops = [0usize; 8];
        for seed in 0..trials {
            let r = with_seed(algorithm, seed);
            assert_eq!(dropped(&r).len(), 4);
            for i in dropped(&r) {
                drops[i] += 1;
            }
            if algorithm == Algorithm::ProfCorrect {
                // Right side is still by score: 2 and 5 always go, 0 and 3 never.
                assert!(!r.decisions[2].kept && !r.decisions[5].kept);
                assert!(r.decisions[0].kept && r.decisions[3].kept);
                assert_eq!((r.kept_correct(), r.kept_incorrect()), (2, 2));
            }
        }
        // Every candidate is dropped half the time (2 of 4 wrong, or 4 of 8).
        let candidates: &[usize] = match algorithm {
            Algorithm::ProfCorrect => &[1, 4, 6, 7],
            _ => &[0, 1, 2, 3, 4, 5, 6, 7],
        };
        for &i in candidates {
            let frac = drops[i] as f64 / trials as f64;
            assert!(
                (frac - 0.5).abs() < 0.04,
                "{algorithm:?}: index {i} dropped {frac}"
            );
        }
    }
    let r = with_seed(Algorithm::ProfCorrect, 1);
    let wrong_dropped = dropped(&r)
        .into_iter()
        .find(|&i| !batch[i].correct)
        .unwrap();
    assert_eq!(
        r.decisions[wrong_dropped].reason,
        "dropped: incorrect chosen at random (2 of 4 incorrect dropped)"
    );
}

#[test]
fn dynamic_sampling_drops_zero_variance_groups() {
    // Group 0: all right; group 1: mixed.
    let mut batch: Vec<Completion> = (0..4).map(|i| two_steps(0, true, 0.2 * i as f32)).collect();
    batch.extend((0..4).map(|i| two_steps(1, i < 2, 0.5)));
    let config = FilterConfig {
        remove_k: 2,
        dynamic_sampling: true,
        ..FilterConfig::default()
    };
    let r = filter_batch(
        Algorithm::Grpo,
        &config,
        &batch,
        &mut ChaCha8Rng::seed_from_u64(0),
    )
    .unwrap();
    assert_eq!(r.kept_indices(), vec![4, 5, 6, 7]);
    assert!(r.groups[0].dropped_zero_variance && !r.groups[1].dropped_zero_variance);
    assert_eq!(
        (r.groups[0].kept_correct, r.groups[0].kept_incorrect),
        (0, 0)
    );
    assert!(
        r.decisions[0].reason.starts_with(
            "dropped: dynamic sampling, every kept completion of the group has reward 1"
        )
    );
    // PROF on the all-right group keeps two right ones → zero variance → dropped as well.
    // Group 1 (μ = 6.4 / 16 = 0.4; ties): r_pos = 1 → right 4 and wrong 6 go, 5 and 7 stay.
    let r = filter_batch(
        Algorithm::Prof,
        &config,
        &batch,
        &mut ChaCha8Rng::seed_from_u64(0),
    )
    .unwrap();
    assert!(r.groups[0].dropped_zero_variance && !r.groups[1].dropped_zero_variance);
    assert_eq!(r.kept_indices(), vec![5, 7]);
    // Off by default: the all-right group keeps its two best.
    let r = run(Algorithm::Prof, 2, &batch);
    assert_eq!(r.groups[0].kept_correct, 2);
}

#[test]
fn mu_spans_groups_and_score_means() {
    // Group 0: right 1.0 / wrong 0.0; group 1: right 0.5 → μ = 1.5 / 3 = 0.5 across groups.
    let batch = vec![
        two_steps(0, true, 1.0),
        two_steps(0, false, 0.0),
        two_steps(1, true, 0.5),
    ];
    let r = run(Algorithm::Grpo, 0, &batch);
    assert_eq!(r.mu, 0.5);
    let scores: Vec<f32> = r.decisions.iter().map(|d| d.score).collect();
    assert_eq!(scores, vec![1.0, 1.0, 0.0]);
    assert_eq!(r.score_mean(true), Some(0.5));
    assert_eq!(r.score_mean(false), Some(1.0));
    let all_right = run(Algorithm::Grpo, 0, &batch[2..]);
    assert_eq!(all_right.score_mean(false), None);
}

#[test]
fn non_finite_step_probability_is_an_error() {
    let mut batch = hand_group();
    batch[3].step_probs[1] = f32::NAN;
    let err = filter_batch(
        Algorithm::Prof,
        &FilterConfig::default(),
        &batch,
        &mut ChaCha8Rng::seed_from_u64(0),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("completion 3: step probability 1"),
        "{err}"
    );
}
