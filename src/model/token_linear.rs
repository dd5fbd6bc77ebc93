//! A linear layer applied to every token of a batch as one matrix product.
//!
//! Burn's `Linear` on `[batch, seq, in]` broadcasts its weight into a batched product: one small
//! product per row on the CPU, and in training a weight gradient of `[batch, in, out]` summed
//! afterwards. Folding the tokens into one `[batch · seq, in]` matrix gives one large product
//! forwards and a single `xᵀ · grad` product backwards.

use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use super::launch_limits::MAX_AXIS;
use super::matmul_kernels;
use super::matrix_layout::MatrixLayout;
use super::recorded_numerics::as_recorded;
use super::{decode_kernels, gemv};
use crate::host::flex::{is_flex, on_flex};

/// `layer(x)` for `x: [batch, seq, in]`, as one `[batch · seq, in] · [in, out]` product ([`rows`])
/// where [`folds_tokens`] says so, else Burn's batched form.
pub fn per_token<B: Backend>(
    layer: &Linear<B>,
    layout: MatrixLayout,
    x: Tensor<B, 3>,
) -> Tensor<B, 3> {
    let [batch, seq, width] = x.dims();
    if !folds_tokens::<B>(seq) {
        return layer.forward(x);
    }
    let x = x.reshape([batch * seq, width]);
    // Under autodiff on a GPU backend, a bias over more tokens than Burn's kernels sum right in
    // one pass ([`super::launch_limits`]) is added to `[batch, seq, out]` instead, so that its
    // gradient sums over `seq` and then over `batch`.
    let split_bias = layer.bias.is_some()
        && batch * seq > MAX_AXIS
        && as_recorded::<B>(&x.device())
        && !on_flex::<B>();
    let bare;
    let folded = if split_bias {
        bare = Linear {
            weight: layer.weight.clone(),
            bias: None,
        };
        &bare
    } else {
        layer
    };
    let y = rows(folded, layout, x);
    let out = y.dims()[1];
    let y = y.reshape([batch, seq, out]);
    match &layer.bias {
        Some(bias) if split_bias => y + bias.val().unsqueeze(),
        _ => y,
    }
}

/// Whether a linear layer on `[batch, seq, in]` runs as one product of the folded tokens: always,
/// except for a decoding step (`seq` = 1) on the CPU backend, which keeps Burn's batched form,
/// whose rows it runs in parallel where it would run one small product on one thread. A GPU runs
/// that form as `batch` separate products, each reading the whole weight, so there a decoding
/// step is one product too.
pub fn folds_tokens<B: Backend>(seq: usize) -> bool {
    seq != 1 || !is_flex::<B>()
}

/// `layer(x)` for `x: [rows, in]` as one product. A single row on a GPU backend with the weight
/// in `[out, in]` order ([`MatrixLayout::OutIn`]) goes through [`matrix_vector`]; more rows on the
/// kernel [`decode_kernels::current`] names for them, if any, where it can be queued (a fused
/// CubeCL backend in inference), else through Burn's `Linear`.
pub fn rows<B: Backend>(layer: &Linear<B>, layout: MatrixLayout, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let bias = || layer.bias.as_ref().map(|b| b.val());
    if is_flex::<B>() {
        return layer.forward(x);
    }
    if x.dims()[0] == 1 {
        if layout == MatrixLayout::OutIn {
            return matrix_vector(layer.weight.val(), bias(), x);
        }
        return layer.forward(x);
    }
    let Some(kernel) = decode_kernels::current().products else {
        return layer.forward(x);
    };
    match matmul_kernels::product(kernel, x, layer.weight.val()) {
        Ok(y) => add_bias(y, bias()),
        Err((x, _)) => layer.forward(x),
    }
}

/// `y + bias` on every row of `y: [rows, out]`, or `y` without a bias.
fn add_bias<B: Backend>(y: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Tensor<B, 2> {
    match bias {
        Some(b) => y + b.unsqueeze(),
        None => y,
    }
}

/// `x · weight + bias` for one row `x: [1, in]` (`weight: [in, out]` with its input axis
/// contiguous): on CubeCL's matrix-vector kernel where [`gemv::vector_matrix`] runs it, else as
/// Burn's `weightᵀ · xᵀ`, whose matrix is then contiguous, and one that Burn 0.21's fusion computes
/// correctly, where `x · W` with a single row, a transposed `W` and fused operations on both sides
/// of the product gives wrong numbers (tested on wgpu in `tests/model_parity_wgpu.rs`).
pub fn matrix_vector<B: Backend>(
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
    x: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let [width, out] = weight.dims();
    let y = gemv::vector_matrix(x, weight).unwrap_or_else(|(x, weight)| {
        weight
            .transpose()
            .matmul(x.reshape([width, 1]))
            .reshape([1, out])
    });
    add_bias(y, bias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::nn::LinearConfig;
    use burn::tensor::{TensorData, Tolerance};

    /// Two tokens in each of two rows through a 2 → 1 layer with weight [1, 2]ᵀ and bias 0.5,
    /// and the first token of each row alone (a decoding step).
    #[test]
    fn matches_hand_computed_outputs() {
        let device = Default::default();
        let mut layer = LinearConfig::new(2, 1).init::<Flex>(&device);
        layer.weight = layer
            .weight
            .map(|_| Tensor::from_data(TensorData::new(vec![1.0f32, 2.0], [2, 1]), &device));
        layer.bias = layer
            .bias
            .map(|b| b.map(|_| Tensor::from_data(TensorData::new(vec![0.5f32], [1]), &device)));
        let x = Tensor::<Flex, 3>::from_data(
            TensorData::new(vec![1.0f32, 1.0, 2.0, 0.0, 0.0, 3.0, -1.0, 1.0], [2, 2, 2]),
            &device,
        );
        let y = per_token(&layer, MatrixLayout::InOut, x.clone());
        y.to_data().assert_approx_eq::<f32>(
            &TensorData::new(vec![3.5f32, 2.5, 6.5, 1.5], [2, 2, 1]),
            Tolerance::default(),
        );
        layer
            .forward(x.clone())
            .to_data()
            .assert_approx_eq::<f32>(&y.to_data(), Tolerance::default());
        per_token(&layer, MatrixLayout::InOut, x.narrow(1, 0, 1))
            .to_data()
            .assert_approx_eq::<f32>(
                &TensorData::new(vec![3.5f32, 6.5], [2, 1, 1]),
                Tolerance::default(),
            );
    }

    /// The token `[1, 2, 1]` through a 3 → 2 layer with weight `[[1, 0], [2, 1], [0, 3]]` and bias
    /// `[0.5, −1]`, as the matrix-vector product: `[1 + 4 + 0.5, 2 + 3 − 1] = [5.5, 4]`.
    #[test]
    fn matrix_vector_matches_hand_computed_outputs() {
        let device = Default::default();
        let weight = Tensor::<Flex, 2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 2.0, 1.0, 0.0, 3.0], [3, 2]),
            &device,
        );
        let bias = Tensor::<Flex, 1>::from_floats([0.5, -1.0], &device);
        let x = Tensor::<Flex, 2>::from_floats([[1.0, 2.0, 1.0]], &device);
        matrix_vector(weight.clone(), Some(bias), x.clone())
            .to_data()
            .assert_approx_eq::<f32>(
                &TensorData::new(vec![5.5f32, 4.0], [1, 2]),
                Tolerance::default(),
            );
        matrix_vector(weight, None, x)
            .to_data()
            .assert_approx_eq::<f32>(
                &TensorData::new(vec![5.0f32, 5.0], [1, 2]),
                Tolerance::default(),
            );
    }
}
