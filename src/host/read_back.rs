//! Reading device tensors back to the host. Each read waits for the device to finish the work
//! queued before it, so code that queues several passes reads their results once, at the end.

use burn::tensor::{Tensor, backend::Backend};

/// Reads back each `(tag, values)` pair's values in one transfer, keeping the tags.
pub fn read_together<T, B: Backend>(pending: Vec<(T, Tensor<B, 1>)>) -> Vec<(T, Vec<f32>)> {
    let lengths: Vec<usize> = pending.iter().map(|(_, v)| v.dims()[0]).collect();
    let (tags, tensors): (Vec<T>, Vec<Tensor<B, 1>>) = pending.into_iter().unzip();
    if tensors.is_empty() {
        return Vec::new();
    }
    let flat: Vec<f32> = Tensor::cat(tensors, 0)
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 values");
    let mut rest = flat.as_slice();
    tags.into_iter()
        .zip(lengths)
        .map(|(tag, n)| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            (tag, head.to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    /// Values read back together return to their own tags, in order, whatever their lengths.
    #[test]
    fn values_read_in_one_transfer_return_to_their_tags() {
        let device = Default::default();
        let t = |v: &[f32]| {
            Tensor::<Flex, 1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device)
        };
        let got = read_together(vec![
            ("a", t(&[1.0, 2.0])),
            ("b", t(&[3.0])),
            ("c", t(&[4.0, 5.0, 6.0])),
        ]);
        let want = vec![
            ("a", vec![1.0, 2.0]),
            ("b", vec![3.0]),
            ("c", vec![4.0, 5.0, 6.0]),
        ];
        assert_eq!(got, want);
        assert!(read_together::<(), Flex>(Vec::new()).is_empty());
    }
}
