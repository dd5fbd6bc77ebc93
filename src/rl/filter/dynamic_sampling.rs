//! Dynamic sampling: a group whose kept rewards all equal has zero advantages, so drop it.

/// Whether the kept rewards of a group carry no learning signal (all equal, or only one).
/// An empty group has nothing to drop and returns `false`.
pub fn zero_variance(kept_rewards: &[f32]) -> bool {
    match kept_rewards.split_first() {
        None => false,
        Some((first, rest)) => rest.iter().all(|r| r == first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_equal_rewards() {
        assert!(zero_variance(&[1.0, 1.0, 1.0]));
        assert!(zero_variance(&[0.0]));
        assert!(!zero_variance(&[1.0, 0.0]));
        assert!(!zero_variance(&[]));
    }
}
