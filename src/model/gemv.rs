//! One token times a weight matrix on CubeCL's matrix-vector kernel.
//!
//! Built without autotuning, Burn's CubeCL backends run every matrix product on one tiling
//! kernel, which pads a decoding step's single row to a whole tile and spreads the output over few
//! cubes. CubeCL's plane-parallel matrix-vector kernel (`GemvPlaneParallel`: one plane reduces one
//! output over the contiguous input axis) is the one its autotuner ranks first for a weight in the
//! checkpoint's `[out, in]` order; [`vector_matrix`] queues it (see [`super::cube_ops`]).

use burn::tensor::{Tensor, backend::Backend};

use super::cube_ops::{self, Launches, erase_float, float};
use super::decode_kernels;

static LAUNCHES: Launches = Launches::new();

/// How many [`vector_matrix`] products this process has run so far on CubeCL's matrix-vector
/// kernel, and how many on Burn's product because that kernel refused the shape (see
/// [`Launches`]).
pub fn launches() -> (usize, usize) {
    LAUNCHES.get()
}

/// `x · w` for one row `x: [1, in]` and `w: [in, out]` whose input axis is contiguous (the
/// transpose of a row-major `[out, in]` matrix), on CubeCL's plane-parallel matrix-vector kernel;
/// Burn's own product where that kernel does not take the shape (`in` not a multiple of the
/// plane width times the vector width). `Err` with the inputs back where
/// [`decode_kernels::current`] does not ask for the kernel, for more than one row, and on a
/// backend other than fused CUDA or wgpu.
#[allow(clippy::type_complexity)]
pub fn vector_matrix<B: Backend>(
    x: Tensor<B, 2>,
    w: Tensor<B, 2>,
) -> Result<Tensor<B, 2>, (Tensor<B, 2>, Tensor<B, 2>)> {
    if !decode_kernels::current().vector_matrix || x.dims()[0] != 1 {
        return Err((x, w));
    }
    let (shape, dtype) = (vec![1, w.dims()[1]], x.dtype());
    let inputs = vec![erase_float(x), erase_float(w)];
    match cube_ops::queue(VectorMatrix, inputs, shape, dtype) {
        Ok(y) => Ok(float(y)),
        Err(mut inputs) => {
            let w = float(inputs.pop().expect("two inputs"));
            Err((float(inputs.pop().expect("two inputs")), w))
        }
    }
}

/// The kernel [`vector_matrix`] queues.
#[derive(Clone, Debug)]
struct VectorMatrix;

#[cfg(feature = "gpu")]
impl cube_ops::CubeKernel for VectorMatrix {
    const NAME: &'static str = "vector_matrix";

    fn run<R: burn_cubecl::CubeRuntime>(
        &self,
        handles: &mut burn_ir::HandleContainer<burn_cubecl_fusion::CubeFusionHandle<R>>,
        inputs: &[burn_ir::TensorIr],
        out: &burn_ir::TensorIr,
    ) -> burn_cubecl::tensor::CubeTensor<R> {
        use burn_cubecl::kernel::matmul::{MatmulStrategy, matmul};
        use burn_cubecl::ops::numeric::empty_device_dtype;
        use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
        use cubek::matmul::launch::{Strategy, launch_ref};
        use cubek::matmul::routines::BlueprintStrategy;
        use cubek::std::InputBinding;

        let lhs = handles.get_float_tensor::<cube_ops::Inner<R>>(&inputs[0]);
        let rhs = handles.get_float_tensor::<cube_ops::Inner<R>>(&inputs[1]);
        let y = empty_device_dtype(
            lhs.client.clone(),
            lhs.device.clone(),
            out.shape.clone(),
            out.dtype,
        );
        let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
            lhs: lhs.dtype.into(),
            rhs: rhs.dtype.into(),
            out: out.dtype.into(),
        });
        let strategy = Strategy::GemvPlaneParallel(BlueprintStrategy::Inferred(Default::default()));
        let launched = launch_ref(
            &strategy,
            &lhs.client,
            InputBinding::new(lhs.clone().binding(), lhs.dtype.into()),
            InputBinding::new(rhs.clone().binding(), rhs.dtype.into()),
            y.clone().binding(),
            &mut dtypes,
        );
        LAUNCHES.record(launched.is_err());
        match launched {
            Ok(()) => y,
            Err(_) => matmul(lhs, rhs, Some(y), MatmulStrategy::default(), out.dtype)
                .expect("Burn's matmul takes every float matrix product"),
        }
    }
}
