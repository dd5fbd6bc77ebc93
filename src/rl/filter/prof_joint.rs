//! PROF without separation (`prof_joint`): rank the whole group by score, drop the k lowest.

use super::rank::{Member, Verdict, lowest_first, lowest_ordinal};

pub(super) fn decide(members: &[Member], k: usize) -> Vec<Verdict> {
    let ranked = lowest_first(members, |_| true);
    let n = ranked.len();
    let drop = k.min(n);
    let mut verdicts = vec![Verdict::keep(""); n];
    for (rank0, &i) in ranked.iter().enumerate() {
        let place = format!("{} score of {n} in the group", lowest_ordinal(rank0 + 1));
        verdicts[i] = if rank0 < drop {
            Verdict::drop(place)
        } else if drop == 0 {
            Verdict::keep(format!("{place}; none dropped"))
        } else {
            Verdict::keep(format!("{place}; the {drop} lowest dropped"))
        };
    }
    verdicts
}
