//! AdamW with Burn's update rule, run as one pass over host memory per parameter when the
//! parameter, its gradient and its moments are f32 tensors of the CPU (flex) backend.
//!
//! Burn's AdamW spends about fifteen whole-tensor operations per parameter, each reading and
//! writing the tensor again; on a model with a tied 151936-row embedding that is most of a second
//! per step on two cores. The fused pass reads each of parameter, gradient and moments once and
//! writes them in place, eight elements per instruction where the CPU has AVX2, with the same
//! correctly rounded f32 operations in the same order, so its results equal Burn's bit for bit
//! (tested). Other backends and dtypes run Burn's AdamW unchanged, and the
//! state is Burn's [`AdamWState`], so checkpoints of either are interchangeable.

use burn::backend::flex::FlexTensor;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{
    AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, SimpleOptimizer,
};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Tensor};
use rayon::prelude::*;

use crate::host::flex::{from_flex, into_flex_f32, is_flex};
use crate::host::simd::with_avx2_fma;

/// Elements per parallel task of the fused pass.
const CHUNK: usize = 1 << 15;

/// The hyper-parameters of [`FusedAdamW`] (Burn's `AdamWConfig` defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FusedAdamWConfig {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// Added to the second moment's square root.
    pub epsilon: f32,
    /// Decoupled weight decay, multiplied by the learning rate.
    pub weight_decay: f32,
}

impl Default for FusedAdamWConfig {
    fn default() -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            weight_decay: 1e-4,
        }
    }
}

impl FusedAdamWConfig {
    /// The optimizer for a module trained under autodiff.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> OptimizerAdaptor<FusedAdamW, M, B> {
        OptimizerAdaptor::from(FusedAdamW {
            config: *self,
            burn: AdamWConfig::new()
                .with_beta_1(self.beta_1)
                .with_beta_2(self.beta_2)
                .with_epsilon(self.epsilon)
                .with_weight_decay(self.weight_decay)
                .build(),
        })
    }
}

/// AdamW that updates f32 parameters of the CPU backend in one fused pass; see the module docs.
#[derive(Clone)]
pub struct FusedAdamW {
    config: FusedAdamWConfig,
    /// Burn's AdamW with the same hyper-parameters, for every other backend and dtype.
    burn: AdamW,
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let fused = fuses(&tensor, &grad, state.as_ref());
        if !fused {
            return self.burn.step(lr, tensor, grad, state);
        }
        let (tensor, state) = self.fused_step(lr, tensor, grad, state);
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}

/// Whether the fused pass runs: f32 tensors of the flex backend, moments included (and no AMSGrad
/// maximum, which this optimizer never makes).
fn fuses<B: Backend, const D: usize>(
    tensor: &Tensor<B, D>,
    grad: &Tensor<B, D>,
    state: Option<&AdamWState<B, D>>,
) -> bool {
    let moments_f32 = state.is_none_or(|s| {
        s.momentum.max_moment_2.is_none()
            && s.momentum.moment_1.dtype() == DType::F32
            && s.momentum.moment_2.dtype() == DType::F32
    });
    is_flex::<B>() && tensor.dtype() == DType::F32 && grad.dtype() == DType::F32 && moments_f32
}

/// The scalars of one update, each rounded to f32 exactly where Burn's AdamW rounds it.
struct Coefficients {
    beta_1: f32,
    keep_1: f32,
    beta_2: f32,
    keep_2: f32,
    correction_1: f32,
    correction_2: f32,
    epsilon: f32,
    /// The parameter's factor before the step, `1 - lr · weight_decay`; without decay it is 1,
    /// and the product leaves each value as it is (Burn's AdamW skips it then).
    decay: f32,
    lr: f32,
}

impl FusedAdamW {
    fn fused_step<B: Backend, const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<AdamWState<B, D>>,
    ) -> (Tensor<B, D>, AdamWState<B, D>) {
        let c = &self.config;
        let shape = tensor.shape();
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        let decay_rate = lr * c.weight_decay as f64;
        let k = Coefficients {
            beta_1: c.beta_1,
            keep_1: 1.0 - c.beta_1,
            beta_2: c.beta_2,
            keep_2: 1.0 - c.beta_2,
            correction_1: 1f32 - c.beta_1.powi(time as i32),
            correction_2: 1f32 - c.beta_2.powi(time as i32),
            epsilon: c.epsilon,
            decay: (1.0 - decay_rate) as f32,
            lr: lr as f32,
        };
        let mut param = flex(tensor);
        let grad = flex(grad);
        let (mut moment_1, mut moment_2, first) = match state {
            Some(s) => (flex(s.momentum.moment_1), flex(s.momentum.moment_2), false),
            None => (
                FlexTensor::zeros(shape.clone(), DType::F32),
                FlexTensor::zeros(shape, DType::F32),
                true,
            ),
        };
        update(
            param.storage_mut::<f32>(),
            moment_1.storage_mut::<f32>(),
            moment_2.storage_mut::<f32>(),
            grad.storage::<f32>(),
            first,
            &k,
        );
        let momentum = AdaptiveMomentumState::new(time, from_flex(moment_1), from_flex(moment_2));
        (from_flex(param), AdamWState::new(momentum))
    }
}

/// The flex tensor behind a tensor checked to be an f32 tensor of the flex backend.
fn flex<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> FlexTensor {
    match into_flex_f32(tensor) {
        Ok(flex) => flex,
        Err(_) => unreachable!("checked to be an f32 tensor of the flex backend"),
    }
}

/// One AdamW update of every element, in place. On the first step the moments start from the
/// gradient alone, as in Burn (`m = (1 − β₁)·g`, not `β₁·0 + (1 − β₁)·g`).
fn update(
    param: &mut [f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    grad: &[f32],
    first: bool,
    k: &Coefficients,
) {
    param
        .par_chunks_mut(CHUNK)
        .zip(moment_1.par_chunks_mut(CHUNK))
        .zip(moment_2.par_chunks_mut(CHUNK))
        .zip(grad.par_chunks(CHUNK))
        .for_each(|(((p, m), v), g)| update_chunk(p, m, v, g, first, k));
}

with_avx2_fma! {
    /// [`update`] of one chunk, in vector registers: the same correctly rounded f32 operations
    /// per element (no fused multiply-add), so the bits do not depend on the CPU.
    fn update_chunk(
        param: &mut [f32],
        moment_1: &mut [f32],
        moment_2: &mut [f32],
        grad: &[f32],
        first: bool,
        k: &Coefficients,
    ) = update_chunk_portable;
}

#[inline(always)]
fn update_chunk_portable(
    param: &mut [f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    grad: &[f32],
    first: bool,
    k: &Coefficients,
) {
    if first {
        update_elements::<true>(param, moment_1, moment_2, grad, k);
    } else {
        update_elements::<false>(param, moment_1, moment_2, grad, k);
    }
}

/// The element loop, written over zipped slices and with its branches decided outside it so
/// that it vectorises.
#[inline(always)]
fn update_elements<const FIRST: bool>(
    param: &mut [f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
    grad: &[f32],
    k: &Coefficients,
) {
    let elements = param
        .iter_mut()
        .zip(moment_1.iter_mut())
        .zip(moment_2.iter_mut())
        .zip(grad);
    for (((p, m), v), &g) in elements {
        if FIRST {
            *m = g * k.keep_1;
            *v = (g * g) * k.keep_2;
        } else {
            *m = *m * k.beta_1 + g * k.keep_1;
            *v = *v * k.beta_2 + (g * g) * k.keep_2;
        }
        let delta = (*m / k.correction_1) / ((*v / k.correction_2).sqrt() + k.epsilon);
        *p = *p * k.decay - delta * k.lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::module::{Module, Param};
    use burn::optim::{GradientsParams, Optimizer};
    use burn::tensor::TensorData;

    type A = Autodiff<Flex>;

    #[derive(Module, Debug)]
    struct Weights<B: Backend> {
        matrix: Param<Tensor<B, 2>>,
        vector: Param<Tensor<B, 1>>,
    }

    /// Fixed weights (not the global random generator, which tests running in parallel share).
    fn weights(device: &burn::tensor::Device<A>) -> Weights<A> {
        let values = |n: usize, phase: f32| -> Vec<f32> {
            (0..n)
                .map(|i| (i as f32 * 12.9898 + phase).sin() * 1.7)
                .collect()
        };
        Weights {
            matrix: Param::from_tensor(Tensor::from_data(
                TensorData::new(values(70_000, 0.0), [70, 1000]),
                device,
            )),
            vector: Param::from_tensor(Tensor::from_data(
                TensorData::new(values(33, 0.5), [33]),
                device,
            )),
        }
    }

    /// A loss whose gradients differ from step to step and include a transposed (strided) read.
    fn loss(w: &Weights<A>, step: usize) -> Tensor<A, 1> {
        let m = w.matrix.val();
        let shifted = m
            .clone()
            .transpose()
            .mul_scalar(0.5 + step as f32)
            .tanh()
            .sum();
        let squares = m.powi_scalar(2).mean() + w.vector.val().sin().sum();
        (shifted + squares).reshape([1])
    }

    fn train<O: Optimizer<Weights<A>, A>>(mut optimizer: O, steps: usize) -> Vec<TensorData> {
        let device = Default::default();
        let mut w = weights(&device);
        for step in 0..steps {
            let grads = GradientsParams::from_grads(loss(&w, step).backward(), &w);
            w = optimizer.step(1e-2 * (step + 1) as f64, w, grads);
        }
        vec![w.matrix.val().into_data(), w.vector.val().into_data()]
    }

    #[test]
    fn the_fused_pass_equals_burns_adamw_bit_for_bit() {
        let config = FusedAdamWConfig {
            beta_1: 0.8,
            beta_2: 0.95,
            epsilon: 1e-6,
            weight_decay: 0.1,
        };
        let burn = AdamWConfig::new()
            .with_beta_1(config.beta_1)
            .with_beta_2(config.beta_2)
            .with_epsilon(config.epsilon)
            .with_weight_decay(config.weight_decay)
            .init::<A, Weights<A>>();
        let theirs = train(burn, 4);
        let ours = train(config.init::<A, Weights<A>>(), 4);
        let untrained = weights(&Default::default()).matrix.val().into_data();
        assert_ne!(ours[0], untrained, "the parameters moved");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn without_weight_decay_it_also_equals_burns_adamw() {
        let config = FusedAdamWConfig {
            weight_decay: 0.0,
            ..FusedAdamWConfig::default()
        };
        let burn = AdamWConfig::new()
            .with_weight_decay(0.0)
            .init::<A, Weights<A>>();
        assert_eq!(train(config.init::<A, Weights<A>>(), 3), train(burn, 3));
    }

    /// The vector kernel (where the CPU has one) and the portable loop give the same bits, on a
    /// length that leaves a remainder past the last full vector, on both kinds of step.
    #[test]
    fn the_vector_and_portable_loops_agree_bit_for_bit() {
        let n = 1003;
        let wave = |phase: f32| -> Vec<f32> {
            (0..n)
                .map(|i| (i as f32 * 0.731 + phase).sin() * 3.0)
                .collect()
        };
        let k = Coefficients {
            beta_1: 0.9,
            keep_1: 0.1,
            beta_2: 0.999,
            keep_2: 0.001,
            correction_1: 0.19,
            correction_2: 0.002,
            epsilon: 1e-8,
            decay: 0.999,
            lr: 0.01,
        };
        for first in [true, false] {
            let run = |portable: bool| {
                let (mut p, mut m, mut v) = (
                    wave(0.0),
                    wave(1.0),
                    wave(2.0).iter().map(|x| x.abs()).collect::<Vec<f32>>(),
                );
                let g = wave(3.0);
                if portable {
                    update_chunk_portable(&mut p, &mut m, &mut v, &g, first, &k);
                } else {
                    update_chunk(&mut p, &mut m, &mut v, &g, first, &k);
                }
                [p, m, v]
            };
            let vector = run(false);
            assert_ne!(vector[0], wave(0.0), "the parameters moved");
            assert_eq!(vector, run(true));
        }
    }

    /// The equality tests above would also pass on Burn's AdamW: check that they run the fused pass.
    #[test]
    fn f32_tensors_of_the_flex_backend_take_the_fused_pass() {
        let device = Default::default();
        let t = Tensor::<Flex, 1>::from_data(TensorData::from([1.0f32, 2.0]), &device);
        assert!(fuses(&t, &t, None));
        let state = AdamWState::new(AdaptiveMomentumState::new(1, t.clone(), t.clone()));
        assert!(fuses(&t, &t, Some(&state)));
        let half = t.clone().cast(DType::BF16);
        assert!(!fuses(&half, &half, None));
        let wrapped = Tensor::<A, 1>::from_inner(t);
        assert!(
            !fuses(&wrapped, &wrapped, None),
            "autodiff's wrapper is not flex"
        );
    }

    #[test]
    fn a_tensor_sharing_the_parameters_buffer_is_left_untouched() {
        let device = Default::default();
        let w = weights(&device);
        let before = w.matrix.val().inner();
        let snapshot = before.to_data();
        let grads = GradientsParams::from_grads(loss(&w, 0).backward(), &w);
        let mut optimizer = FusedAdamWConfig::default().init::<A, Weights<A>>();
        let after = optimizer.step(1e-2, w, grads);
        assert_eq!(before.into_data(), snapshot);
        assert_ne!(after.matrix.val().into_data(), snapshot);
    }
}
