//! Attention on the CPU (flex) backend wherever the forward pass computes as a recorded one
//! does, that is in training: one operation with its own backward pass.
//!
//! Written out of Burn's operations ([`super::tracked_attention`]), a layer's attention holds
//! several `[heads, queries, keys]` tensors for the backward pass (the scores, their
//! exponentials, the probabilities), and every one of them is a fresh allocation and a pass
//! over memory: for a `[4, 1024]` batch of the 47M shape, 64 MB each, faulted in page by page
//! in every layer's forward and backward pass. Here queries are taken in blocks of
//! [`scores::ROW_BLOCK`] rows, whose scores stay in cache and are recomputed in the backward
//! pass from each row's log-sum-exp (the only `[heads, queries]` state kept), and each block
//! only reads the keys from the first to the last one any of its rows sees, so causal masking
//! skips about half the products. A row that sees no key gets zeros (and zero gradients) where
//! the composed form averages the values; rows that see a key agree with it to rounding.

mod backward;
mod forward;
mod op;
mod scores;
mod sight;

use burn::backend::flex::FlexTensor;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Tensor, backend::Backend};

use crate::host::flex::{
    from_flex, from_tracked_flex, into_flex_f32, into_tracked_flex, is_flex, is_tracked_flex,
    same_type,
};
use op::{Problem, forward_flex, forward_tracked};
use scores::Shape;

/// The fewest keys for which training's attention runs [`cpu_attention`]. Below, the composed
/// form's `[heads, queries, keys]` tensors are small, the two forms measured at par (`[4, 256]`
/// training steps of the 47M shape), and the composed form keeps the smoke run's results as
/// they were; at 1,024 keys this one is twice as fast.
pub const FROM_KEYS: usize = 512;

/// Whether training's attention on `q` against `keys` keys runs [`cpu_attention`]: f32 on the
/// flex backend, under autodiff or not, with at least [`FROM_KEYS`] keys.
pub fn chosen<B: Backend>(q: &Tensor<B, 4>, keys: usize) -> bool {
    keys >= FROM_KEYS && runs(q)
}

/// Whether [`cpu_attention`] takes `q`: f32 on the flex backend, under autodiff or not.
pub fn runs<B: Backend>(q: &Tensor<B, 4>) -> bool {
    q.dtype() == DType::F32 && (is_flex::<B>() || is_tracked_flex::<B>())
}

/// `softmax(q·kᵀ / √d, hiding `mask`) · v` with the default scale and no soft-capping, for
/// `q [batch, heads, queries, d]`, `k` and `v` `[batch, heads, keys, d]`; `mask` (true where
/// attention is forbidden) broadcasts to `[batch, heads, queries, keys]`, and
/// `options.is_causal` also hides the keys after each query (aligned bottom-right). Under
/// autodiff, one operation of the graph.
///
/// # Panics
/// If [`runs`] is false for `q`, or the options ask for another scale or soft-capping.
pub fn cpu_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
    options: AttentionModuleOptions,
) -> Tensor<B, 4> {
    assert!(
        runs::<B>(&q),
        "cpu_attention runs f32 tensors of the flex backend"
    );
    assert!(
        options.scale.is_none() && options.softcap.is_none(),
        "cpu_attention takes the default scale and no soft-capping"
    );
    let [batch, heads, rows, dim] = q.dims();
    let keys = k.dims()[2];
    let problem = Problem {
        shape: Shape {
            heads: batch * heads,
            rows,
            keys,
            dim,
        },
        forbidden: mask.map(|m| {
            let m = m.expand([batch, heads, rows, keys]).into_primitive();
            same_type::<_, FlexTensor>(m).to_contiguous()
        }),
        causal_offset: options.is_causal.then(|| {
            keys.checked_sub(rows)
                .expect("causal attention has at least as many keys as queries")
        }),
    };
    if is_flex::<B>() {
        let [q, k, v] = [q, k, v].map(|t| into_flex_f32(t).expect("checked by runs"));
        return from_flex(forward_flex([&q, &k, &v], &problem).0);
    }
    from_tracked_flex(forward_tracked([q, k, v].map(into_tracked_flex), problem))
}

#[cfg(test)]
mod tests;
