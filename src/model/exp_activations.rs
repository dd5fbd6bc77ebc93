//! `exp` and SiLU as training uses them (attention's softmax, the feed-forward block), with the
//! exponentials of the CPU backend eight lanes at a time.
//!
//! Burn's CPU backend calls the C library's `expf` once per element, in the forward pass and
//! again in the backward pass, where it recomputes the output from the input. On f32 tensors of
//! the flex backend, under autodiff or not, these run [`crate::host::exact_exp`] instead, which
//! gives the same bits, and the backward pass reuses the forward pass's output; the gradients are
//! the ones Burn computes (`grad · eˣ`; the backend's own `sigmoid_backward`). Other backends and
//! dtypes use Burn's operations.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::activation;
use burn::tensor::ops::{ActivationOps, FloatTensorOps};
use burn::tensor::{DType, Tensor, TensorData, backend::Backend};

use crate::host::exact_exp;
use crate::host::flex::{
    TrackedFlexTensor, flex_f32, from_flex, from_tracked_flex, into_tracked_flex, is_tracked_flex,
};

/// `eˣ` elementwise.
pub fn exp<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    apply(x, Function::Exp, Tensor::exp)
}

/// `x · sigmoid(x)` elementwise (Burn's `silu`, composed the same way).
pub fn silu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone() * apply(x, Function::Sigmoid, activation::sigmoid)
}

/// The elementwise function of an operation.
#[derive(Debug, Clone, Copy)]
enum Function {
    Exp,
    Sigmoid,
}

impl Function {
    /// The function of each element of a flex tensor, into a new contiguous tensor.
    fn on_flex(self, x: &FlexTensor) -> FlexTensor {
        // Shared as it is when contiguous over its whole buffer, copied otherwise.
        let x = x.to_contiguous();
        let values = x.storage::<f32>();
        let out = match self {
            Function::Exp => exact_exp::exp(values),
            Function::Sigmoid => exact_exp::sigmoid(values),
        };
        FlexTensor::from_data(TensorData::new(out, x.layout().shape().to_vec()))
    }
}

/// `function` on the flex backend, tracked or not; `burns` anywhere else.
fn apply<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    function: Function,
    burns: fn(Tensor<B, D>) -> Tensor<B, D>,
) -> Tensor<B, D> {
    if x.dtype() != DType::F32 {
        return burns(x);
    }
    if is_tracked_flex::<B>() {
        return from_tracked_flex(tracked(into_tracked_flex(x), function));
    }
    match flex_f32(&x) {
        Some(flex) => from_flex(function.on_flex(&flex)),
        None => burns(x),
    }
}

/// The operation in the autodiff graph; its state is the output, from which both gradients
/// follow.
fn tracked(x: TrackedFlexTensor, function: Function) -> TrackedFlexTensor {
    let output = function.on_flex(&x.primitive);
    match function
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

impl Backward<Flex, 1> for Function {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [parent] = ops.parents;
        if let Some(parent) = parent {
            let output = ops.state;
            let grad = match self {
                Function::Exp => Flex::float_mul(grad, output),
                Function::Sigmoid => Flex::sigmoid_backward(output, grad),
            };
            grads.register::<Flex>(parent.id, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::tensor::Distribution;

    type A = Autodiff<Flex>;

    /// Scores as attention makes them: normal values, a few large ones, and masked ones at the
    /// dtype's lowest value (the underflow path).
    fn scores() -> Tensor<Flex, 3> {
        Flex::seed(&Default::default(), 11);
        let x = Tensor::<Flex, 3>::random(
            [3, 5, 37],
            Distribution::Normal(0.0, 4.0),
            &Default::default(),
        );
        let mut values = x.into_data().to_vec::<f32>().unwrap();
        for (i, v) in values.iter_mut().enumerate() {
            match i % 7 {
                0 => *v = f32::MIN,
                1 => *v *= 25.0,
                _ => {}
            }
        }
        Tensor::from_data(TensorData::new(values, [3, 5, 37]), &Default::default())
    }

    fn bits(t: Tensor<Flex, 3>) -> Vec<u32> {
        t.into_data()
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f32::to_bits)
            .collect()
    }

    /// Values and gradients equal Burn's operations bit for bit, under autodiff and not, and on
    /// a strided view.
    #[test]
    fn values_and_gradients_are_burns_bits() {
        let x = scores();
        let upstream = scores().abs().clamp_max(3.0);
        type Ours = fn(Tensor<A, 3>) -> Tensor<A, 3>;
        let cases: [(&str, Ours, Ours); 2] =
            [("exp", exp, Tensor::exp), ("silu", silu, activation::silu)];
        for (name, ours, burns) in cases {
            let run = |f: Ours, strided: bool| {
                let leaf = Tensor::<A, 3>::from_inner(x.clone()).require_grad();
                let input = if strided {
                    leaf.clone().swap_dims(1, 2)
                } else {
                    leaf.clone()
                };
                let up = Tensor::<A, 3>::from_inner(if strided {
                    upstream.clone().swap_dims(1, 2)
                } else {
                    upstream.clone()
                });
                let out = f(input);
                let grads = (out.clone() * up).sum().backward();
                (out.inner(), leaf.grad(&grads).expect("a gradient"))
            };
            for strided in [false, true] {
                let (out, grad) = run(ours, strided);
                let (want_out, want_grad) = run(burns, strided);
                assert_eq!(
                    bits(out),
                    bits(want_out),
                    "{name} values (strided {strided})"
                );
                assert_eq!(
                    bits(grad),
                    bits(want_grad),
                    "{name} gradients (strided {strided})"
                );
            }
        }
        type Plain = fn(Tensor<Flex, 3>) -> Tensor<Flex, 3>;
        let plain: [(&str, Plain, Plain); 2] =
            [("exp", exp, Tensor::exp), ("silu", silu, activation::silu)];
        for (name, ours, burns) in plain {
            assert_eq!(
                bits(ours(x.clone())),
                bits(burns(x.clone())),
                "{name} without autodiff"
            );
        }
        // Masked scores exponentiate to zero and the large ones exceed 1: the inputs reach
        // the special cases.
        let e = exp(x.clone()).into_data().to_vec::<f32>().unwrap();
        assert_eq!(e[0], 0.0);
        assert!(e.iter().any(|&v| v > 1.0));
    }

    /// A value that does not require a gradient gives none, and the result is still the function.
    #[test]
    fn untracked_inputs_pass_through() {
        let x = Tensor::<A, 3>::from_inner(scores());
        let out = exp(x.clone());
        assert_eq!(bits(out.inner()), bits(x.inner().exp()));
    }
}
