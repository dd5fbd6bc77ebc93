//! The unbiased pass@k estimator (Chen et al., 2021, "Evaluating Large Language Models Trained
//! on Code"): with `n` samples of which `c` are correct, the probability that at least one of
//! `k` samples drawn without replacement is correct, `1 − C(n−c, k) / C(n, k)`.

/// `1 − C(n−c, k)/C(n, k)` in the stable product form `1 − ∏_{i=n−c+1}^{n} (1 − k/i)` (no
/// factorials, so no overflow for any `n`). `None` when `k` is 0, `k > n` or `c > n`.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if n - c < k {
        return Some(1.0);
    }
    let miss: f64 = (n - c + 1..=n).map(|i| 1.0 - k as f64 / i as f64).product();
    Some(1.0 - miss)
}

/// The k values reported for `k_max` samples: the powers of two below `k_max`, then `k_max`.
pub fn reported_ks(k_max: usize) -> Vec<usize> {
    let mut out: Vec<usize> = std::iter::successors(Some(1usize), |k| k.checked_mul(2))
        .take_while(|&k| k < k_max)
        .collect();
    if k_max > 0 {
        out.push(k_max);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binomial(n: u64, k: u64) -> f64 {
        if k > n {
            return 0.0;
        }
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    #[test]
    fn equals_the_closed_form() {
        for n in 1..=20usize {
            for c in 0..=n {
                for k in 1..=n {
                    let closed =
                        1.0 - binomial((n - c) as u64, k as u64) / binomial(n as u64, k as u64);
                    let got = pass_at_k(n, c, k).unwrap();
                    assert!(
                        (got - closed).abs() < 1e-12,
                        "n={n} c={c} k={k}: {got} vs {closed}"
                    );
                }
            }
        }
    }

    #[test]
    fn hand_worked_values() {
        // n=4, c=1, k=2: 1 − C(3,2)/C(4,2) = 1 − 3/6.
        assert!((pass_at_k(4, 1, 2).unwrap() - 0.5).abs() < 1e-15);
        // pass@1 is the fraction correct.
        assert!((pass_at_k(16, 5, 1).unwrap() - 5.0 / 16.0).abs() < 1e-15);
        assert_eq!(pass_at_k(16, 0, 16), Some(0.0));
        assert_eq!(pass_at_k(16, 1, 16), Some(1.0));
        assert_eq!(pass_at_k(4, 0, 5), None);
        assert_eq!(pass_at_k(4, 5, 1), None);
        assert_eq!(pass_at_k(4, 1, 0), None);
    }

    #[test]
    fn stays_finite_for_large_n() {
        let p = pass_at_k(100_000, 3, 50_000).unwrap();
        assert!(p.is_finite() && p > 0.87 && p < 0.88, "{p}"); // ≈ 1 − 0.5³
    }

    #[test]
    fn reported_ks_are_powers_of_two_then_k() {
        assert_eq!(reported_ks(16), vec![1, 2, 4, 8, 16]);
        assert_eq!(reported_ks(12), vec![1, 2, 4, 8, 12]);
        assert_eq!(reported_ks(1), vec![1]);
        assert!(reported_ks(0).is_empty());
    }
}
