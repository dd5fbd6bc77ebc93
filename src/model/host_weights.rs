//! Named tensors held in host memory (another model's weights, in checkpoint layout) as a
//! [`TensorSource`], with a fallback source for the names they lack: how one model starts from
//! another's weights on any backend, e.g. a PRM whose backbone starts as the policy's.

use anyhow::{Result, bail};
use burn::tensor::{DType, Tensor, backend::Backend};
use std::collections::HashMap;

use super::export::NamedTensor;
use super::weights::{TensorSource, stored_shape};

/// Host tensors by checkpoint name, then `fallback`.
pub struct HostWeights<F> {
    tensors: HashMap<String, NamedTensor>,
    fallback: F,
}

impl<F: TensorSource> HostWeights<F> {
    /// Serves `tensors` (checkpoint names and `[out, in]` layout), else asks `fallback`.
    pub fn new(tensors: Vec<NamedTensor>, fallback: F) -> Self {
        Self {
            tensors: tensors.into_iter().map(|t| (t.name.clone(), t)).collect(),
            fallback,
        }
    }
}

impl<F: TensorSource> TensorSource for HostWeights<F> {
    fn load<B: Backend, const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        transpose: bool,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Tensor<B, D>> {
        let Some(t) = self.tensors.get(name) else {
            return self.fallback.load(name, shape, transpose, dtype, device);
        };
        let stored = stored_shape(shape, transpose);
        if t.data.shape.as_slice() != stored.as_slice() {
            bail!(
                "tensor {name}: expected shape {stored:?}, found {:?}",
                t.data.shape
            );
        }
        let tensor =
            Tensor::<B, D>::from_data(t.data.clone().convert_dtype(dtype), (device, dtype));
        Ok(if transpose && D == 2 {
            tensor.transpose()
        } else {
            tensor
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init::RandomInit;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    #[test]
    fn held_tensors_are_served_transposed_and_others_fall_back() {
        let held = vec![NamedTensor {
            name: "w".into(),
            data: TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]),
        }];
        let source = HostWeights::new(held, RandomInit { seed: 1, std: 0.5 });
        let dev = Default::default();
        let w: Tensor<Flex, 2> = source.load("w", [3, 2], true, DType::F32, &dev).unwrap();
        let got: Vec<f32> = w.into_data().to_vec().unwrap();
        assert_eq!(got, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let err = source
            .load::<Flex, 2>("w", [2, 2], false, DType::F32, &dev)
            .unwrap_err();
        assert!(err.to_string().contains("expected shape [2, 2]"), "{err}");
        let other: Tensor<Flex, 1> = source.load("b.bias", [4], false, DType::F32, &dev).unwrap();
        assert_eq!(other.into_data().to_vec::<f32>().unwrap(), [0.0; 4]);
    }
}
