//! A linear layer's weight and bias on host memory, applied to a row-major batch of tokens.

use burn::backend::flex::FlexTensor;
use burn::nn::Linear;
use burn::tensor::backend::Backend;

use crate::host::flex::{flex_f32, matrix_view, vector_view};
use crate::host::product::{Threads, product_into};
use crate::host::row_product::row_times_matrix;
use crate::host::team::Team;
use crate::host::view::MatRef;

/// `weight [in, out]` and optional `bias [out]`, shared with the Burn module (not copied).
pub struct HostLinear {
    weight: FlexTensor,
    bias: Option<FlexTensor>,
}

impl HostLinear {
    /// The layer's tensors, when they are f32 tensors of the CPU backend.
    pub fn new<B: Backend>(layer: &Linear<B>) -> Option<Self> {
        let weight = flex_f32(&layer.weight.val())?;
        matrix_view(&weight)?;
        let bias = match &layer.bias {
            Some(b) => {
                let b = flex_f32(&b.val())?;
                vector_view(&b)?;
                Some(b)
            }
            None => None,
        };
        Some(Self { weight, bias })
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.weight.layout().shape()[1]
    }

    /// `out = input · weight + bias`, or `out += …` when `residual`; `input` is `[tokens, in]`
    /// and `out` row-major `[tokens, out]`. A single token's product is split over `team`
    /// (a decoding step at batch 1); larger ones over Rayon's pool.
    pub fn apply(&self, input: MatRef<'_>, out: &mut [f32], residual: bool, team: &Team) {
        let weight = matrix_view(&self.weight).expect("checked in new");
        let bias = self
            .bias
            .as_ref()
            .map(|b| vector_view(b).expect("checked in new"));
        let width = weight.cols();
        let rows = &mut out[..input.rows() * width];
        let mut accumulate = residual;
        if let (Some(bias), false) = (bias, residual) {
            for row in rows.chunks_exact_mut(width) {
                row.copy_from_slice(bias);
            }
            accumulate = true;
        }
        match (
            input.rows(),
            input.contiguous_rows(),
            weight.contiguous_rows(),
        ) {
            (1, Some((x, _)), Some((w, stride))) => {
                row_times_matrix(rows, &x[..input.cols()], w, stride, accumulate, team)
            }
            _ => product_into(rows, width, input, weight, 1.0, accumulate, Threads::Pool),
        }
        if let (Some(bias), true) = (bias, residual) {
            for row in rows.chunks_exact_mut(width) {
                row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
            }
        }
    }
}
