//! Which filter runs and its knobs, as the trainer configuration embeds them.

use serde::{Deserialize, Serialize};

use super::FilterError;

/// Filter / reward-shaping algorithm applied to each prompt group before advantages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Plain GRPO: every completion is kept, rewards untouched.
    Grpo,
    /// PROF Filter-Both (default): balance correct/incorrect and drop the lowest-consistency ones
    /// on both sides.
    #[default]
    Prof,
    /// PROF Filter-Correct: as `prof`, but the incorrect ones to drop are chosen at random.
    ProfCorrect,
    /// PROF without separation: rank the whole group by consistency and drop the `remove_k` lowest.
    ProfJoint,
    /// Control: drop `remove_k` completions per group uniformly at random.
    RandomFilter,
    /// No filter; reward = r + `blend_beta` · mean_t p_t.
    Blend,
}

impl Algorithm {
    /// Whether the algorithm reads PRM step probabilities (so the PRM must run).
    pub fn uses_prm(self) -> bool {
        matches!(
            self,
            Algorithm::Prof | Algorithm::ProfCorrect | Algorithm::ProfJoint | Algorithm::Blend
        )
    }

    /// Whether the algorithm removes completions (as opposed to keeping every one).
    pub fn removes(self) -> bool {
        !matches!(self, Algorithm::Grpo | Algorithm::Blend)
    }

    /// The snake_case name used in configs and reasons.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Grpo => "grpo",
            Algorithm::Prof => "prof",
            Algorithm::ProfCorrect => "prof_correct",
            Algorithm::ProfJoint => "prof_joint",
            Algorithm::RandomFilter => "random_filter",
            Algorithm::Blend => "blend",
        }
    }
}

/// Knobs of the filters; every field has a default, so a partial table deserializes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Completions removed per prompt group (`prof_remove`, k). Default 4 (of n = 8).
    pub remove_k: usize,
    /// Completions with fewer steps get `step_penalty` subtracted from their score. Default 2.
    pub min_steps: usize,
    /// Completions with more steps get `step_penalty` subtracted from their score. Default 30.
    pub max_steps: usize,
    /// Score penalty for a step count outside `[min_steps, max_steps]`. Default 10.
    pub step_penalty: f32,
    /// β of `blend`: reward = r + β · mean_t p_t. Default 0.8.
    pub blend_beta: f32,
    /// Dynamic sampling: also drop groups whose kept rewards all equal (zero variance, hence zero
    /// advantages). Default off.
    pub dynamic_sampling: bool,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            remove_k: 4,
            min_steps: 2,
            max_steps: 30,
            step_penalty: 10.0,
            blend_beta: 0.8,
            dynamic_sampling: false,
        }
    }
}

impl FilterConfig {
    /// Checks the values are usable: `min_steps ≤ max_steps`, finite penalty and β.
    pub fn validate(&self) -> Result<(), FilterError> {
        if self.min_steps > self.max_steps {
            return Err(FilterError::StepRange {
                min: self.min_steps,
                max: self.max_steps,
            });
        }
        for (field, value) in [
            ("step_penalty", self.step_penalty),
            ("blend_beta", self.blend_beta),
        ] {
            if !value.is_finite() {
                return Err(FilterError::NonFiniteSetting { field, value });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrapper {
        algorithm: Algorithm,
        filter: FilterConfig,
    }

    #[test]
    fn partial_table_takes_defaults() {
        let w: Wrapper =
            toml::from_str("algorithm = \"prof_correct\"\n[filter]\nremove_k = 2\n").unwrap();
        assert_eq!(w.algorithm, Algorithm::ProfCorrect);
        assert_eq!(
            w.filter,
            FilterConfig {
                remove_k: 2,
                ..FilterConfig::default()
            }
        );
    }

    #[test]
    fn unknown_key_and_name_are_errors() {
        let err = toml::from_str::<Wrapper>("algorithm = \"prof\"\n[filter]\nremove = 2\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("remove_k"), "{err}");
        assert!(toml::from_str::<Wrapper>("algorithm = \"proff\"\n[filter]\n").is_err());
    }

    #[test]
    fn names_round_trip() {
        for a in [
            Algorithm::Grpo,
            Algorithm::Prof,
            Algorithm::ProfCorrect,
            Algorithm::ProfJoint,
            Algorithm::RandomFilter,
            Algorithm::Blend,
        ] {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }

    #[test]
    fn validate_rejects_inverted_range_and_nan() {
        let bad = FilterConfig {
            min_steps: 5,
            max_steps: 4,
            ..FilterConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = FilterConfig {
            blend_beta: f32::NAN,
            ..FilterConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(FilterConfig::default().validate().is_ok());
    }
}
