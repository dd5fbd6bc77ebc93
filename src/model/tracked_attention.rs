//! Attention for backends that record gradients, written out so that its backward pass stays
//! short.
//!
//! Burn's attention under autodiff is its general fallback, whose softmax takes the row maximum
//! with its index (a gather in the forward pass, a zero fill and a scatter-add in the backward)
//! and clamps the maximum and the sum (two more masked passes). Softmax does not depend on the
//! shift it subtracts, so the maximum here comes from a detached copy and carries no gradient;
//! masked scores are the dtype's lowest finite value instead of −∞ (as transformers masks them),
//! so a row with every key hidden still has a finite maximum and averages its keys instead of
//! dividing zero by zero. Rows with a visible key give the fallback's values exactly: their
//! masked scores still exponentiate to zero.

use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor, backend::Backend};

use super::attention::grouped_causal_mask;
use super::exp_activations::exp;

/// `softmax(q·kᵀ / √d, hiding `mask`) · v` with the default scale and no soft-capping; `mask` is
/// true where attention is forbidden, and `options.is_causal` also hides the keys after each query
/// (aligned bottom-right).
pub fn tracked_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
    options: AttentionModuleOptions,
) -> Tensor<B, 4> {
    assert!(
        options.scale.is_none() && options.softcap.is_none(),
        "tracked attention takes the default scale and no soft-capping"
    );
    let [batch, heads, queries, width] = q.dims();
    let keys = k.dims()[2];
    let lowest = q.dtype().finfo().expect("attention in a float dtype").min;
    let causal = options.is_causal.then(|| {
        grouped_causal_mask::<B>(1, queries, keys, &q.device())
            .expand([batch, heads, queries, keys])
    });
    let scores = q.matmul(k.swap_dims(2, 3)) * (width as f64).sqrt().recip();
    let scores = [mask, causal]
        .into_iter()
        .flatten()
        .fold(scores, |s, m| s.mask_fill(m, lowest));
    let shift = scores.clone().detach().max_dim(3);
    let weights = exp(scores - shift);
    let probs = weights.clone() / weights.sum_dim(3);
    probs.matmul(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Distribution, TensorData, Tolerance, module};

    type A = Autodiff<Flex>;

    fn random(shape: [usize; 4], seed: u64) -> Tensor<Flex, 4> {
        Flex::seed(&Default::default(), seed);
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
    }

    /// The mask of the keys after each query, bottom-right aligned, and (if `hidden`) key 0 of
    /// batch row 1, as left padding hides it.
    fn mask(queries: usize, keys: usize, hidden: bool) -> Tensor<Flex, 4, Bool> {
        let mut forbidden = Vec::new();
        for b in 0..2 {
            for i in 0..queries {
                for j in 0..keys {
                    forbidden.push(j > i + keys - queries || (hidden && b == 1 && j == 0));
                }
            }
        }
        Tensor::from_data(
            TensorData::new(forbidden, [2, 1, queries, keys]),
            &Default::default(),
        )
    }

    fn options(is_causal: bool) -> AttentionModuleOptions {
        AttentionModuleOptions {
            scale: None,
            softcap: None,
            is_causal,
        }
    }

    /// Outputs and the gradients of q, k and v equal those of Burn's attention under autodiff,
    /// with an explicit mask (left padding included) and with `is_causal`.
    #[test]
    fn values_and_gradients_equal_burns_attention() {
        let (q, k, v) = (
            random([2, 3, 4, 8], 1),
            random([2, 3, 6, 8], 2),
            random([2, 3, 6, 8], 3),
        );
        let upstream = random([2, 3, 4, 8], 4);
        for (explicit, causal) in [(Some(mask(4, 6, true)), false), (None, true)] {
            let run = |ours: bool| {
                let [q, k, v] =
                    [&q, &k, &v].map(|t| Tensor::<A, 4>::from_inner(t.clone()).require_grad());
                let m = explicit
                    .clone()
                    .map(|m| Tensor::<A, 4, Bool>::from_inner(m.expand([2, 3, 4, 6])));
                let out = if ours {
                    tracked_attention(q.clone(), k.clone(), v.clone(), m, options(causal))
                } else {
                    module::attention(q.clone(), k.clone(), v.clone(), m, None, options(causal))
                };
                let grads = (out.clone() * Tensor::from_inner(upstream.clone()))
                    .sum()
                    .backward();
                let grad = |t: &Tensor<A, 4>| t.grad(&grads).expect("a gradient");
                [out.inner(), grad(&q), grad(&k), grad(&v)]
            };
            let (ours, burns) = (run(true), run(false));
            for (name, (a, b)) in ["output", "dq", "dk", "dv"]
                .iter()
                .zip(ours.into_iter().zip(burns))
            {
                assert!(
                    b.clone().abs().max().into_scalar() > 0.1,
                    "{name}: a zero reference proves nothing"
                );
                let diff = (a - b).abs().max().into_scalar();
                assert!(diff <= 1e-5, "{name} differs by {diff} (causal {causal})");
            }
        }
    }

    /// A query that may see no key at all averages the values (Burn's fallback gives zeros;
    /// NaN would poison a whole batch's gradients), and its gradients stay finite.
    #[test]
    fn a_row_with_every_key_hidden_stays_finite() {
        let q = Tensor::<A, 4>::from_inner(random([2, 1, 4, 8], 5)).require_grad();
        let k = Tensor::<A, 4>::from_inner(random([2, 1, 6, 8], 6)).require_grad();
        let v = Tensor::<A, 4>::from_inner(random([2, 1, 6, 8], 7)).require_grad();
        let all = Tensor::<A, 4, Bool>::from_inner(
            Tensor::<Flex, 4>::zeros([2, 1, 4, 6], &Default::default()).equal_elem(0.0),
        );
        let out = tracked_attention(q.clone(), k.clone(), v.clone(), Some(all), options(false));
        let mean = v.clone().inner().mean_dim(2).expand([2, 1, 4, 8]);
        out.clone()
            .inner()
            .into_data()
            .assert_approx_eq::<f32>(&mean.into_data(), Tolerance::absolute(1e-6));
        let grads = out.sum().backward();
        for g in [q.grad(&grads), k.grad(&grads), v.grad(&grads)] {
            let g = g.expect("a gradient");
            assert!(
                g.is_finite().all().into_scalar(),
                "a gradient is not finite"
            );
        }
    }
}
