//! One token times a weight matrix on CubeCL's matrix-vector kernel.
//!
//! Built without autotuning, Burn's CubeCL backends run every matrix product on one tiling
//! kernel, which pads a decoding step's single row to a whole tile and spreads the output over few
//! cubes. CubeCL's plane-parallel matrix-vector kernel (`GemvPlaneParallel`: one plane reduces one
//! output over the contiguous input axis) is the one its autotuner ranks first for a weight in the
//! checkpoint's `[out, in]` order; [`vector_matrix`] queues it (see [`super::cube_ops`]).

use std::sync::LazyLock;

use burn::tensor::{Tensor, backend::Backend};

use super::decode_kernels;
use super::matmul_kernels::{self, MatmulKernel};

/// CubeCL's plane-parallel matrix-vector kernel, looked up once (it runs on every decoding
/// step's products).
fn plane_parallel() -> Option<MatmulKernel> {
    static KERNEL: LazyLock<Option<MatmulKernel>> =
        LazyLock::new(|| MatmulKernel::named("vecmat_plane_parallel"));
    *KERNEL
}

/// How many [`vector_matrix`] products this process has run so far on CubeCL's matrix-vector
/// kernel, and how many on Burn's product because that kernel refused the shape (see
/// [`MatmulKernel::launches`]).
pub fn launches() -> (usize, usize) {
    plane_parallel().map_or((0, 0), MatmulKernel::launches)
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
    match plane_parallel() {
        Some(kernel) if decode_kernels::current().vector_matrix && x.dims()[0] == 1 => {
            matmul_kernels::product(kernel, x, w)
        }
        _ => Err((x, w)),
    }
}
