//! maj@k: majority vote over the answers extracted from a problem's samples.
//!
//! Answers are grouped into equivalence classes with [`Judge::same_answer`], greedily in sample
//! order: each answer joins the first class whose *first* answer it equals, else it opens a new
//! class (comparing with the first answer only keeps a non-transitive equivalence from chaining
//! classes together). Samples without an extracted answer do not vote. The class with the most
//! votes wins; ties go to the class that appeared first (the lowest sample index), so the result
//! is deterministic. The vote is correct when the winning class's first sample is correct.

use super::judge::Judge;

/// One sample as the vote sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ballot<'a> {
    /// The extracted answer (`None`: the sample abstains).
    pub answer: Option<&'a str>,
    /// The sample's verdict.
    pub correct: bool,
}

/// The result of a majority vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Majority {
    /// The winning answer (that of the class's first sample); `None` when nobody voted.
    pub answer: Option<String>,
    /// Votes for the winning class.
    pub votes: usize,
    /// Number of distinct answer classes.
    pub classes: usize,
    /// Whether the winning answer is correct (false when nobody voted).
    pub correct: bool,
}

struct Class<'a> {
    first: Ballot<'a>,
    votes: usize,
}

/// Votes over `ballots` (in sample order) with `judge`'s equivalence.
pub fn majority_vote(ballots: &[Ballot<'_>], judge: &dyn Judge) -> Majority {
    let mut classes: Vec<Class<'_>> = Vec::new();
    for ballot in ballots {
        let Some(answer) = ballot.answer else {
            continue;
        };
        let first = classes.iter_mut().find(|c| {
            let rep = c.first.answer.expect("class representatives have answers");
            rep == answer || judge.same_answer(rep, answer)
        });
        match first {
            Some(class) => class.votes += 1,
            None => classes.push(Class {
                first: *ballot,
                votes: 1,
            }),
        }
    }
    // `max_by_key` keeps the last maximum; scan for the first one instead.
    let mut winner: Option<&Class<'_>> = None;
    for class in &classes {
        if winner.is_none_or(|w| class.votes > w.votes) {
            winner = Some(class);
        }
    }
    Majority {
        answer: winner.and_then(|w| w.first.answer.map(str::to_string)),
        votes: winner.map_or(0, |w| w.votes),
        classes: classes.len(),
        correct: winner.is_some_and(|w| w.first.correct),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::judge::BoxedStringJudge;

    fn b(answer: Option<&str>, correct: bool) -> Ballot<'_> {
        Ballot { answer, correct }
    }

    #[test]
    fn most_votes_win_and_abstentions_do_not_count() {
        let ballots = [
            b(Some("3"), true),
            b(None, false),
            b(Some("4"), false),
            b(Some("4"), false),
            b(None, false),
            b(None, false),
        ];
        let m = majority_vote(&ballots, &BoxedStringJudge);
        assert_eq!(
            m,
            Majority {
                answer: Some("4".into()),
                votes: 2,
                classes: 2,
                correct: false
            }
        );
    }

    #[test]
    fn ties_go_to_the_class_seen_first() {
        let ballots = [
            b(Some("7"), false),
            b(Some("5"), true),
            b(Some("5"), true),
            b(Some("7"), false),
        ];
        let m = majority_vote(&ballots, &BoxedStringJudge);
        assert_eq!(m.answer.as_deref(), Some("7"));
        assert!(!m.correct);
        let swapped = [ballots[1], ballots[0], ballots[3], ballots[2]];
        assert_eq!(
            majority_vote(&swapped, &BoxedStringJudge).answer.as_deref(),
            Some("5")
        );
    }

    #[test]
    fn nobody_voting_is_incorrect() {
        let m = majority_vote(&[b(None, false), b(None, false)], &BoxedStringJudge);
        assert_eq!(
            m,
            Majority {
                answer: None,
                votes: 0,
                classes: 0,
                correct: false
            }
        );
    }
}
