//! Naming where a NaN or an infinity sits when a training step goes non-finite: the first
//! parameter (in module order) whose gradient, or whose value, holds one. Only called once a
//! step's loss or gradient norm has already been found non-finite, so a finite run pays nothing.

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, ElementConversion, Tensor};

/// Whether every element of `t` is finite.
fn all_finite<B: Backend, const D: usize>(t: Tensor<B, D>) -> bool {
    let t = t.cast(DType::F32);
    let any =
        |bad: Tensor<B, D, burn::tensor::Bool>| bad.any().int().into_scalar().elem::<i64>() != 0;
    !(any(t.clone().is_nan()) || any(t.is_inf()))
}

/// Walks a module's float parameters with their dotted paths (`model.layers.0.mlp.up_proj.weight`)
/// and keeps the first for which `bad` holds.
struct FirstBad<F> {
    path: Vec<String>,
    found: Option<String>,
    bad: F,
}

impl<F> FirstBad<F> {
    fn new(bad: F) -> Self {
        Self {
            path: Vec::new(),
            found: None,
            bad,
        }
    }
}

/// The check a [`FirstBad`] applies to one parameter of backend `B`.
trait ParamCheck<B: Backend> {
    fn bad<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) -> bool;
}

impl<B: Backend, F: ParamCheck<B>> ModuleVisitor<B> for FirstBad<F> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if self.found.is_none() && self.bad.bad(param) {
            self.found = Some(self.path.join("."));
        }
    }
}

/// A parameter whose value holds a NaN or an infinity.
struct BadValue;

impl<B: Backend> ParamCheck<B> for BadValue {
    fn bad<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) -> bool {
        !all_finite(param.val())
    }
}

/// A parameter whose gradient (in `grads`) holds a NaN or an infinity.
struct BadGradient<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    _b: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ParamCheck<B> for BadGradient<'_, B> {
    fn bad<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) -> bool {
        self.grads
            .get::<B::InnerBackend, D>(param.id)
            .is_some_and(|g| !all_finite(g))
    }
}

/// The path of the first parameter of `module` whose value is not finite.
pub fn non_finite_parameter<B: Backend, M: Module<B>>(module: &M) -> Option<String> {
    let mut visitor = FirstBad::new(BadValue);
    module.visit(&mut visitor);
    visitor.found
}

/// The path of the first parameter of `module` whose gradient in `grads` is not finite.
pub fn non_finite_gradient<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> Option<String> {
    let mut visitor = FirstBad::new(BadGradient::<B> {
        grads,
        _b: std::marker::PhantomData,
    });
    module.visit(&mut visitor);
    visitor.found
}

/// Where a non-finite loss comes from, for an error message: the first parameter holding a NaN or
/// an infinity, or, when every parameter is finite, the forward pass itself.
pub fn explain_non_finite_loss<B: Backend, M: Module<B>>(module: &M) -> String {
    match non_finite_parameter::<B, M>(module) {
        Some(name) => format!("parameter `{name}` holds a NaN or an infinity"),
        None => "every parameter is finite, so the forward pass made it".into(),
    }
}

/// Where a non-finite gradient norm comes from, for an error message or a warning.
pub fn explain_non_finite_gradient<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> String {
    match non_finite_gradient::<B, M>(module, grads) {
        Some(name) => format!("the gradient of `{name}` holds a NaN or an infinity"),
        None => "the gradient norm overflowed although every gradient is finite".into(),
    }
}
