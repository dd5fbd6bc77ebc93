//! The control (`random_filter`): drop k completions per group uniformly at random.

use rand::Rng;

use super::rank::{Member, Verdict};

pub(super) fn decide<R: Rng + ?Sized>(members: &[Member], k: usize, rng: &mut R) -> Vec<Verdict> {
    let n = members.len();
    let drop = k.min(n);
    let mut verdicts =
        vec![Verdict::keep(format!("not chosen at random ({drop} of {n} dropped)")); n];
    for i in rand::seq::index::sample(rng, n, drop).iter() {
        verdicts[i] = Verdict::drop(format!("chosen at random ({drop} of {n} dropped)"));
    }
    verdicts
}
