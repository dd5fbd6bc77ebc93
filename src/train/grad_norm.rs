//! Global gradient-norm clipping: the L2 norm over every parameter's gradient, and one common
//! scale `min(1, max_norm / norm)` applied to all of them (as `torch.nn.utils.clip_grad_norm_`).

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{DType, ElementConversion, Tensor, backend::AutodiffBackend};

use crate::model::launch_limits::sum_all;

struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    total: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let sq = sum_all(g.cast(DType::F32).square());
            self.total = Some(match self.total.take() {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
}

struct Scale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    factor: f32,
    _b: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register(param.id, g * self.factor);
        }
    }
}

/// The global L2 norm of the gradients of `module`'s parameters (NaN/Inf propagate).
pub fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f32 {
    let mut v = SquaredNorm::<B> { grads, total: None };
    module.visit(&mut v);
    match v.total {
        Some(t) => t.into_scalar().elem::<f32>().sqrt(),
        None => 0.0,
    }
}

/// Clips the gradients to global norm `max_norm` (no-op when `max_norm <= 0`) and returns the
/// norm before clipping.
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f32,
) -> f32 {
    let norm = global_grad_norm::<B, M>(module, grads);
    if max_norm > 0.0 && norm.is_finite() && norm > max_norm {
        let mut v = Scale::<B> {
            grads,
            factor: max_norm / (norm + 1e-6),
            _b: std::marker::PhantomData,
        };
        module.visit(&mut v);
    }
    norm
}
