//! Ranking helpers shared by the filters: lowest score first, ties by lower index.

/// A completion inside its prompt group, as the per-group filters see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Member {
    /// Index within the group (batch order); the lower one is dropped first on ties.
    pub position: usize,
    /// Outcome: right (reward 1) or wrong (reward 0).
    pub correct: bool,
    /// Penalised consistency score.
    pub score: f32,
}

/// Keep/drop decision of one member and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verdict {
    pub kept: bool,
    pub reason: String,
}

impl Verdict {
    pub fn keep(reason: impl Into<String>) -> Self {
        Self {
            kept: true,
            reason: format!("kept: {}", reason.into()),
        }
    }

    pub fn drop(reason: impl Into<String>) -> Self {
        Self {
            kept: false,
            reason: format!("dropped: {}", reason.into()),
        }
    }
}

/// Indices into `members` of those passing `include`, lowest score first, ties by position.
pub(super) fn lowest_first(members: &[Member], include: impl Fn(&Member) -> bool) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..members.len())
        .filter(|&i| include(&members[i]))
        .collect();
    idx.sort_by(|&a, &b| {
        members[a]
            .score
            .total_cmp(&members[b].score)
            .then(members[a].position.cmp(&members[b].position))
    });
    idx
}

/// "lowest", "2nd lowest", "3rd lowest", "11th lowest", "21st lowest", …
pub(super) fn lowest_ordinal(rank: usize) -> String {
    if rank == 1 {
        return "lowest".to_string();
    }
    let suffix = match (rank % 10, rank % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{rank}{suffix} lowest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101]
            .into_iter()
            .map(lowest_ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "lowest",
                "2nd lowest",
                "3rd lowest",
                "4th lowest",
                "11th lowest",
                "12th lowest",
                "13th lowest",
                "21st lowest",
                "22nd lowest",
                "101st lowest"
            ]
        );
    }

    #[test]
    fn ties_rank_lower_position_first() {
        let m = |position, score| Member {
            position,
            correct: true,
            score,
        };
        let members = [m(0, 0.5), m(1, -1.0), m(2, 0.5), m(3, -1.0)];
        assert_eq!(lowest_first(&members, |_| true), vec![1, 3, 0, 2]);
        assert_eq!(lowest_first(&members, |x| x.position != 1), vec![3, 0, 2]);
    }
}
