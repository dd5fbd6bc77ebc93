//! The embedding matrix's gradient from an embedding lookup, added to a gradient the matrix
//! already has (the tied LM head's), without the `[vocab, hidden]` zero matrix Burn's embedding
//! backward builds and scatters into.

use burn::tensor::{Int, Tensor, backend::Backend};
use std::collections::HashMap;

use crate::host::flex::{from_flex, indices_below, into_flex_f32};
use crate::model::launch_limits::select_add;

/// `base` plus the gradient of the lookup `matrix[ids]`, given `d_rows` (`[ids.len(), hidden]`,
/// the gradient of the looked-up rows): row `ids[i]` of `base` gains `d_rows[i]`.
///
/// On f32 tensors of the CPU backend `base` is updated in place, and each vocabulary row gets
/// `(0 + d_rows[i₁] + d_rows[i₂] + …) + base`, the order of Burn's embedding backward followed
/// by a sum with `base`, so the result is the same to the bit. Elsewhere it is a `select_assign`
/// adding into `base` ([`select_add`]).
pub fn add_lookup_grad<B: Backend>(
    base: Tensor<B, 2>,
    ids: Tensor<B, 1, Int>,
    d_rows: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let [vocab, width] = base.dims();
    // Other backends never read the ids back to the host.
    let mut table = match into_flex_f32(base) {
        Ok(table) => table,
        Err(base) => return select_add(base, 0, ids, d_rows),
    };
    let Some(host_ids) = indices_below(&ids, vocab) else {
        let base: Tensor<B, 2> = from_flex(table);
        return select_add(base, 0, ids, d_rows);
    };
    let rows = d_rows
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 rows");
    let sums = sum_rows_by_id(&host_ids, &rows, width);
    let storage = table.storage_mut::<f32>();
    for (id, sum) in sums {
        let row = &mut storage[id * width..(id + 1) * width];
        for (r, s) in row.iter_mut().zip(sum) {
            // Float addition commutes exactly: this is `sum + base`.
            *r += s;
        }
    }
    from_flex(table)
}

/// For each distinct id (in order of first appearance), `0 + rows[i₁] + rows[i₂] + …` over the
/// positions `i` holding it.
fn sum_rows_by_id(ids: &[usize], rows: &[f32], width: usize) -> Vec<(usize, Vec<f32>)> {
    let mut slot_of: HashMap<usize, usize> = HashMap::new();
    let mut sums: Vec<(usize, Vec<f32>)> = Vec::new();
    for (&id, row) in ids.iter().zip(rows.chunks_exact(width)) {
        let slot = *slot_of.entry(id).or_insert_with(|| {
            sums.push((id, vec![0.0; width]));
            sums.len() - 1
        });
        for (s, r) in sums[slot].1.iter_mut().zip(row) {
            *s += r;
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::EmbeddingConfig;
    use burn::tensor::{Distribution, TensorData};

    #[test]
    fn repeated_ids_sum_their_rows_onto_the_base() {
        let device = Default::default();
        let base = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2]),
            &device,
        );
        let ids = Tensor::<Flex, 1, Int>::from_data(TensorData::from([2i64, 0, 2]), &device);
        let d_rows = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 10.0, 20.0, 0.25, 0.25], [3, 2]),
            &device,
        );
        let got = add_lookup_grad(base, ids, d_rows).into_data();
        // Row 0 gains (10, 20); row 2 gains (0.5 + 0.25, -1 + 0.25); row 1 is unchanged.
        let want = TensorData::new(vec![11.0f32, 22.0, 3.0, 4.0, 5.75, 5.25], [3, 2]);
        assert_eq!(got, want);
    }

    /// On the CPU backend one id's rows are summed before the base is added: two halves of an ulp
    /// of 1 make a whole one, where adding them to 1 one at a time would round both away.
    #[test]
    fn one_ids_rows_are_summed_before_the_base_is_added() {
        let device = Default::default();
        let tiny = f32::EPSILON / 2.0;
        let got = add_lookup_grad(
            Tensor::<Flex, 2>::from_data(TensorData::new(vec![1.0f32], [1, 1]), &device),
            Tensor::<Flex, 1, Int>::from_data(TensorData::from([0i64, 0]), &device),
            Tensor::<Flex, 2>::from_data(TensorData::new(vec![tiny, tiny], [2, 1]), &device),
        );
        assert_eq!(
            got.into_data().to_vec::<f32>().unwrap(),
            [1.0 + f32::EPSILON]
        );
    }

    /// The same bits as Burn's embedding backward plus the base gradient.
    #[test]
    fn it_equals_burns_embedding_backward_plus_the_base() {
        type A = Autodiff<Flex>;
        let device = Default::default();
        <A as Backend>::seed(&device, 11);
        let embedding = EmbeddingConfig::new(50, 24).init::<A>(&device);
        let ids = Tensor::<A, 2, Int>::from_data(
            TensorData::from([[3i64, 7, 3, 49], [0, 7, 7, 12]]),
            &device,
        );
        let weights = Tensor::<A, 3>::random([2, 4, 24], Distribution::Normal(0.0, 1.0), &device);
        let grads = (embedding.forward(ids.clone()) * weights.clone())
            .sum()
            .backward();
        let from_burn = embedding.weight.val().grad(&grads).unwrap();
        let base = Tensor::<Flex, 2>::random([50, 24], Distribution::Normal(0.0, 1.0), &device);
        let want = (from_burn + base.clone()).into_data();
        let got = add_lookup_grad(
            base,
            ids.inner().reshape([8]),
            weights.inner().reshape([8, 24]),
        );
        assert_eq!(got.into_data(), want);
    }

    /// Backends other than flex (here autodiff's wrapper) add through `select_assign`, which
    /// gives the same values up to the order of the additions.
    #[test]
    fn other_backends_add_through_select_assign() {
        type A = Autodiff<Flex>;
        let device = Default::default();
        let rows = TensorData::new((0..12).map(|i| i as f32 * 0.37 - 1.0).collect(), [4, 3]);
        let base = TensorData::new((0..15).map(|i| 1.0 / (i as f32 + 1.0)).collect(), [5, 3]);
        let ids = TensorData::from([4i64, 1, 4, 0]);
        let host = add_lookup_grad(
            Tensor::<Flex, 2>::from_data(base.clone(), &device),
            Tensor::<Flex, 1, Int>::from_data(ids.clone(), &device),
            Tensor::<Flex, 2>::from_data(rows.clone(), &device),
        );
        let other = add_lookup_grad(
            Tensor::<A, 2>::from_data(base.clone(), &device),
            Tensor::<A, 1, Int>::from_data(ids, &device),
            Tensor::<A, 2>::from_data(rows, &device),
        );
        assert_ne!(host.to_data(), base, "rows were added");
        other
            .into_data()
            .assert_approx_eq::<f32>(&host.into_data(), Default::default());
    }
}
