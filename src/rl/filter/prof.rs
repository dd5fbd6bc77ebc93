//! PROF with separation: Filter-Both (`prof`) and Filter-Correct (`prof_correct`).
//!
//! With P right and N wrong completions and k to remove,
//! `r_pos = min(k, round_half_even((P − N + k) / 2))`. If `r_pos > 0` the `min(r_pos, P)` right
//! ones with the lowest score go, then wrong ones until k are gone (at most N); otherwise k wrong
//! ones go (at most N). This moves the kept group towards balance while removing the completions
//! whose steps disagree most with their outcome.

use rand::Rng;

use super::rank::{Member, Verdict, lowest_first, lowest_ordinal};

/// How the wrong completions to remove are picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IncorrectChoice {
    /// Lowest consistency score first (Filter-Both).
    LowestScore,
    /// Uniformly at random (Filter-Correct).
    Random,
}

/// `(right removed, wrong removed)` for a group of `correct` right and `incorrect` wrong
/// completions when `k` should be removed (never more than the group holds).
pub fn prof_removal_counts(correct: usize, incorrect: usize, k: usize) -> (usize, usize) {
    let balance = correct as i64 - incorrect as i64 + k as i64;
    let r_pos = ((balance as f64) / 2.0).round_ties_even() as i64;
    let r_pos = r_pos.min(k as i64);
    if r_pos > 0 {
        let drop_correct = (r_pos as usize).min(correct);
        (drop_correct, (k - drop_correct).min(incorrect))
    } else {
        (0, k.min(incorrect))
    }
}

pub(super) fn decide<R: Rng + ?Sized>(
    members: &[Member],
    k: usize,
    incorrect_choice: IncorrectChoice,
    rng: &mut R,
) -> Vec<Verdict> {
    let correct = lowest_first(members, |m| m.correct);
    let incorrect = lowest_first(members, |m| !m.correct);
    let (drop_correct, drop_incorrect) = prof_removal_counts(correct.len(), incorrect.len(), k);
    let mut verdicts = vec![Verdict::keep(""); members.len()];

    ranked_side(&correct, drop_correct, "correct", &mut verdicts);
    match incorrect_choice {
        IncorrectChoice::LowestScore => {
            ranked_side(&incorrect, drop_incorrect, "incorrect", &mut verdicts)
        }
        IncorrectChoice::Random => {
            // Draw from the wrong ones in group order so the draw depends only on the seed.
            let mut in_order = incorrect.clone();
            in_order.sort_by_key(|&i| members[i].position);
            let chosen = rand::seq::index::sample(rng, in_order.len(), drop_incorrect);
            let n = in_order.len();
            for &i in &in_order {
                verdicts[i] = Verdict::keep(format!(
                    "incorrect not chosen at random ({drop_incorrect} of {n} incorrect dropped)"
                ));
            }
            for c in chosen.iter() {
                verdicts[in_order[c]] = Verdict::drop(format!(
                    "incorrect chosen at random ({drop_incorrect} of {n} incorrect dropped)"
                ));
            }
        }
    }
    verdicts
}

/// Drops the `drop` lowest of `ranked` (already lowest-first) and explains every verdict.
fn ranked_side(ranked: &[usize], drop: usize, side: &str, verdicts: &mut [Verdict]) {
    let n = ranked.len();
    for (rank0, &i) in ranked.iter().enumerate() {
        let place = format!(
            "{side} with {} score of {n} {side}",
            lowest_ordinal(rank0 + 1)
        );
        verdicts[i] = if rank0 < drop {
            Verdict::drop(place)
        } else if drop == 0 {
            Verdict::keep(format!("{place}; none dropped"))
        } else {
            Verdict::keep(format!("{place}; the {drop} lowest dropped"))
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_for_eight_remove_four() {
        // Kept (correct, incorrect) for P = 0..=8 right answers out of 8, k = 4.
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
        for (p, &want) in expected.iter().enumerate() {
            let n = 8 - p;
            let (dc, di) = prof_removal_counts(p, n, 4);
            assert_eq!((p - dc, n - di), want, "P = {p}");
        }
    }

    #[test]
    fn half_values_round_to_even() {
        // k = 3: P=4,N=4 → 1.5 → 2; P=5,N=3 → 2.5 → 2; P=3,N=5 → 0.5 → 0 (only wrong dropped).
        assert_eq!(prof_removal_counts(4, 4, 3), (2, 1));
        assert_eq!(prof_removal_counts(5, 3, 3), (2, 1));
        assert_eq!(prof_removal_counts(3, 5, 3), (0, 3));
        // P=6,N=2,k=3 → 3.5 → 4, capped at k = 3.
        assert_eq!(prof_removal_counts(6, 2, 3), (3, 0));
    }

    #[test]
    fn never_removes_more_than_present() {
        assert_eq!(prof_removal_counts(1, 1, 4), (1, 1));
        assert_eq!(prof_removal_counts(0, 2, 5), (0, 2));
        assert_eq!(prof_removal_counts(3, 0, 8), (3, 0));
        assert_eq!(prof_removal_counts(0, 0, 4), (0, 0));
    }
}
