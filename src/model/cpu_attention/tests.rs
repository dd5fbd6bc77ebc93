use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Distribution, Tensor, TensorData};

use super::cpu_attention;
use super::sight::Sight;
use crate::model::tracked_attention::tracked_attention;

type A = Autodiff<Flex>;

fn random(shape: [usize; 4], seed: u64) -> Tensor<Flex, 4> {
    Flex::seed(&Default::default(), seed);
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

fn options(is_causal: bool) -> AttentionModuleOptions {
    AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal,
    }
}

/// `[batch, 1, queries, keys]`: the keys after each query (bottom-right aligned) and, in batch
/// row 1, the first `padding` keys (left padding) hidden from the queries that see a later key
/// (the composed attention averages the values for a row that sees none).
fn causal_mask(batch: usize, queries: usize, keys: usize, padding: usize) -> Tensor<Flex, 4, Bool> {
    let mut forbidden = Vec::new();
    for b in 0..batch {
        for i in 0..queries {
            for j in 0..keys {
                let last = i + keys - queries;
                forbidden.push(j > last || (b == 1 && j < padding && last >= padding));
            }
        }
    }
    Tensor::from_data(
        TensorData::new(forbidden, [batch, 1, queries, keys]),
        &Default::default(),
    )
}

/// Output and the gradients of q, k, v under autodiff, from ours or the composed attention,
/// for the upstream gradient `upstream`.
fn run(
    ours: bool,
    [q, k, v]: [&Tensor<Flex, 4>; 3],
    mask: Option<&Tensor<Flex, 4, Bool>>,
    causal: bool,
    upstream: &Tensor<Flex, 4>,
) -> [Tensor<Flex, 4>; 4] {
    let [q, k, v] = [q, k, v].map(|t| Tensor::<A, 4>::from_inner(t.clone()).require_grad());
    let [batch, heads, queries, _] = q.dims();
    let keys = k.dims()[2];
    let m = mask.map(|m| Tensor::<A, 4, Bool>::from_inner(m.clone()));
    let out = if ours {
        cpu_attention(q.clone(), k.clone(), v.clone(), m, options(causal))
    } else {
        let m = m.map(|m| m.expand([batch, heads, queries, keys]));
        tracked_attention(q.clone(), k.clone(), v.clone(), m, options(causal))
    };
    let grads = (out.clone() * Tensor::from_inner(upstream.clone()))
        .sum()
        .backward();
    let grad = |t: &Tensor<A, 4>| t.grad(&grads).expect("a gradient");
    [out.inner(), grad(&q), grad(&k), grad(&v)]
}

/// Outputs and gradients equal those of the attention composed of Burn's operations, with an
/// explicit mask (left padding included), with `is_causal`, with both and with neither, over
/// enough rows for several blocks and several groups of the backward pass, and with fewer
/// queries than keys.
#[test]
fn values_and_gradients_equal_the_composed_attention() {
    for (queries, keys, seed) in [(600, 600, 1), (5, 9, 2), (130, 131, 3)] {
        let q = random([2, 2, queries, 8], seed);
        let k = random([2, 2, keys, 8], seed + 10);
        let v = random([2, 2, keys, 8], seed + 20);
        let upstream = random([2, 2, queries, 8], seed + 30);
        let mask = causal_mask(2, queries, keys, 3);
        for (mask, causal) in [
            (Some(&mask), false),
            (None, true),
            (Some(&mask), true),
            (None, false),
        ] {
            let ours = run(true, [&q, &k, &v], mask, causal, &upstream);
            let composed = run(false, [&q, &k, &v], mask, causal, &upstream);
            for (name, (a, b)) in ["output", "dq", "dk", "dv"]
                .iter()
                .zip(ours.into_iter().zip(composed))
            {
                let scale = b.clone().abs().max().into_scalar();
                assert!(scale > 0.1, "{name}: a zero reference proves nothing");
                let diff = (a - b).abs().max().into_scalar();
                assert!(
                    diff <= 1e-5 * scale.max(1.0),
                    "{name} differs by {diff} ({queries}×{keys}, mask {}, causal {causal})",
                    mask.is_some()
                );
            }
        }
    }
}

/// A query that sees no key gets zeros, and neither it nor its upstream gradient reaches q, k
/// or v; the other rows are unchanged by its presence.
#[test]
fn a_row_that_sees_no_key_gives_zeros() {
    let (q, k, v) = (
        random([1, 1, 3, 4], 1),
        random([1, 1, 5, 4], 2),
        random([1, 1, 5, 4], 3),
    );
    // Row 1 sees nothing; rows 0 and 2 see keys 0..2 and 0..5.
    let forbidden = [[false, false, true, true, true], [true; 5], [false; 5]].concat();
    let mask = Tensor::<Flex, 4, Bool>::from_data(
        TensorData::new(forbidden, [1, 1, 3, 5]),
        &Default::default(),
    );
    let upstream = random([1, 1, 3, 4], 4);
    let [out, dq, ..] = run(true, [&q, &k, &v], Some(&mask), false, &upstream);
    let out = out.into_data().to_vec::<f32>().unwrap();
    let dq = dq.into_data().to_vec::<f32>().unwrap();
    assert_eq!(&out[4..8], &[0.0; 4]);
    assert_eq!(&dq[4..8], &[0.0; 4]);
    assert!(
        out[..4]
            .iter()
            .chain(&out[8..])
            .all(|x| *x != 0.0 && x.is_finite())
    );
    // Without row 1 upstream, k and v get the same gradients.
    let mut quiet = upstream.clone().into_data().to_vec::<f32>().unwrap();
    quiet[4..8].fill(0.0);
    let quiet =
        Tensor::<Flex, 4>::from_data(TensorData::new(quiet, [1, 1, 3, 4]), &Default::default());
    let [_, _, dk, dv] = run(true, [&q, &k, &v], Some(&mask), false, &upstream);
    let [_, _, dk_quiet, dv_quiet] = run(true, [&q, &k, &v], Some(&mask), false, &quiet);
    dk.into_data().assert_eq(&dk_quiet.into_data(), true);
    dv.into_data().assert_eq(&dv_quiet.into_data(), true);
}

/// The forward pass outside the graph (gradient checkpointing's first pass) gives the recorded
/// pass's values bit for bit, and so does any number of threads, in both passes.
#[test]
fn the_same_bits_outside_the_graph_and_on_any_number_of_threads() {
    let (q, k, v) = (
        random([1, 2, 700, 8], 1),
        random([1, 2, 700, 8], 2),
        random([1, 2, 700, 8], 3),
    );
    let upstream = random([1, 2, 700, 8], 4);
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| run(true, [&q, &k, &v], None, true, &upstream))
    };
    let plain = cpu_attention(q.clone(), k.clone(), v.clone(), None, options(true));
    let (one, three) = (on(1), on(3));
    plain
        .into_data()
        .assert_eq(&one[0].clone().into_data(), true);
    for (a, b) in one.into_iter().zip(three) {
        a.into_data().assert_eq(&b.into_data(), true);
    }
}

/// The keys a row sees, from its first to its last, by hand.
#[test]
fn spans_by_hand() {
    // Two heads of two rows by four keys; head 1 row 0 sees keys 1 and 3, row 1 none.
    let forbidden = [[0, 0, 0, 0, 1, 0, 0, 1], [1, 0, 1, 0, 1, 1, 1, 1]].concat();
    let masked = Sight {
        rows: 2,
        keys: 4,
        causal_offset: None,
        forbidden: Some(&forbidden),
    };
    assert_eq!(masked.span(0, 1), 1..3);
    assert_eq!(masked.span(1, 0), 1..4);
    assert_eq!(masked.span(1, 1), 0..0);
    assert_eq!(masked.block_span(1, 0..2), 1..4);
    let causal = Sight {
        rows: 2,
        keys: 4,
        causal_offset: Some(2),
        forbidden: None,
    };
    assert_eq!(causal.span(0, 0), 0..3);
    assert_eq!(causal.span(0, 1), 0..4);
    let both = Sight {
        causal_offset: Some(2),
        ..masked
    };
    assert_eq!(both.span(1, 0), 1..2);
    let mut scores = [1.0f32; 3];
    both.hide(1, 0, 1..4, &mut scores);
    assert_eq!(scores, [1.0, f32::NEG_INFINITY, f32::NEG_INFINITY]);
}

/// Training takes this form for f32 tensors of the flex backend from `FROM_KEYS` keys on.
#[test]
fn chosen_from_512_keys_on() {
    use super::{FROM_KEYS, chosen};
    assert_eq!(FROM_KEYS, 512);
    let q = Tensor::<A, 4>::zeros([1, 1, 2, 4], &Default::default());
    assert!(!chosen(&q, 511));
    assert!(chosen(&q, 512));
    let plain = Tensor::<Flex, 4>::zeros([1, 1, 2, 4], &Default::default());
    assert!(chosen(&plain, 512));
    let half = plain.cast(burn::tensor::DType::F16);
    assert!(!chosen(&half, 512));
}
