//! CubeCL's matrix-product kernels by name, each runnable on its own on a fused CUDA or wgpu
//! backend.
//!
//! Burn picks one of these kernels per product: without autotuning always CubeCL's `Auto` choice
//! (a tensor-core tiling kernel), with it the fastest of the candidates its autotuner times. The
//! list here is the autotuner's (the naive kernel aside) plus `Auto`, so that the throughput
//! bench can time each on the model's own shapes (`--mode matmul`) and the model can queue the
//! one that suits a product ([`super::gemv`] does so for a single token).

use burn::tensor::{Tensor, backend::Backend};

use super::cube_ops::{self, Launches, erase_float, float};

/// One of CubeCL's matrix-product kernels with its settings (an index into [`MatmulKernel::all`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulKernel(usize);

/// What kind of product a kernel is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFamily {
    /// One row times a matrix (or a matrix times one column); refuses more rows.
    Vector,
    /// Tiles computed by single threads, without tensor cores.
    Unit,
    /// Tiles on tensor cores (`cmma`/`mma`), including the TMA-fed kernels of recent NVIDIA GPUs.
    Accelerated,
}

impl MatmulKernel {
    /// Every kernel, in the autotuner's order: the matrix-vector kernels, the unit kernels, the
    /// tensor-core kernels, then `Auto` (what Burn runs without autotuning). Empty in builds
    /// without a GPU backend.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..catalogue::len()).map(Self)
    }

    /// The kernel named `name` (as [`MatmulKernel::name`] gives it), if the build has it.
    pub fn named(name: &str) -> Option<Self> {
        Self::all().find(|k| k.name() == name)
    }

    /// CubeCL's name of the kernel and its settings, e.g. `vecmat_plane_parallel` or
    /// `matmul_double_cyclic_cmma_specialized`.
    pub fn name(self) -> &'static str {
        catalogue::name(self.0)
    }

    /// What kind of product the kernel is built for.
    pub fn family(self) -> KernelFamily {
        catalogue::family(self.0)
    }

    /// How many products ([`product`]) this process has run on this kernel so far, and how many
    /// on Burn's product because the kernel refused the problem (see [`Launches`]).
    pub fn launches(self) -> (usize, usize) {
        catalogue::launches(self.0).get()
    }
}

/// `x · w` for `x: [m, k]` and `w: [k, n]` (any strides) on `kernel`, queued as an operation of
/// its own in the fusion stream; where the kernel refuses the problem (a shape, layout or device
/// it does not support) Burn's own product runs instead, counted in
/// [`MatmulKernel::launches`]. `Err` with the inputs back on a backend other than fused CUDA or
/// wgpu.
#[allow(clippy::type_complexity)]
pub fn product<B: Backend>(
    kernel: MatmulKernel,
    x: Tensor<B, 2>,
    w: Tensor<B, 2>,
) -> Result<Tensor<B, 2>, (Tensor<B, 2>, Tensor<B, 2>)> {
    let (shape, dtype) = (vec![x.dims()[0], w.dims()[1]], x.dtype());
    let inputs = vec![erase_float(x), erase_float(w)];
    match cube_ops::queue(Product(kernel), inputs, shape, dtype) {
        Ok(y) => Ok(float(y)),
        Err(mut inputs) => {
            let w = float(inputs.pop().expect("two inputs"));
            Err((float(inputs.pop().expect("two inputs")), w))
        }
    }
}

/// The operation [`product`] queues (read only by the GPU builds' fusion stream).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
struct Product(MatmulKernel);

#[cfg(feature = "gpu")]
impl cube_ops::CubeKernel for Product {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn run<R: burn_cubecl::CubeRuntime>(
        &self,
        handles: &mut burn_ir::HandleContainer<burn_cubecl_fusion::CubeFusionHandle<R>>,
        inputs: &[burn_ir::TensorIr],
        out: &burn_ir::TensorIr,
    ) -> burn_cubecl::tensor::CubeTensor<R> {
        use burn_cubecl::kernel::matmul::{MatmulStrategy, matmul};
        use burn_cubecl::ops::numeric::empty_device_dtype;
        use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
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
        let launched = cubek::matmul::launch::launch_ref(
            catalogue::strategy(self.0.0),
            &lhs.client,
            InputBinding::new(lhs.clone().binding(), lhs.dtype.into()),
            InputBinding::new(rhs.clone().binding(), rhs.dtype.into()),
            y.clone().binding(),
            &mut dtypes,
        );
        catalogue::launches(self.0.0).record(launched.is_err());
        match launched {
            Ok(()) => y,
            Err(_) => matmul(lhs, rhs, Some(y), MatmulStrategy::default(), out.dtype)
                .expect("Burn's matmul takes every float matrix product"),
        }
    }
}

/// The kernels of a GPU build: CubeCL's strategies with the settings Burn's autotuner gives them.
#[cfg(feature = "gpu")]
mod catalogue {
    use std::sync::LazyLock;

    use cubek::matmul::components::tile::TileMatmulKind::{self, Cmma, Mma};
    use cubek::matmul::launch::Strategy;
    use cubek::matmul::routines::double_buffering::DoubleBufferingArgs;
    use cubek::matmul::routines::double_unit::DoubleUnitSelectionArgs;
    use cubek::matmul::routines::ordered_double_buffering::OrderedSelectionArgs;
    use cubek::matmul::routines::simple::SimpleArgs;
    use cubek::matmul::routines::simple_unit::SimpleUnitSelectionArgs;
    use cubek::matmul::routines::{BlueprintStrategy::Inferred, TileSizeSelection};

    use super::{KernelFamily, Launches};

    struct Entry {
        name: String,
        family: KernelFamily,
        strategy: Strategy,
        launches: Launches,
    }

    static KERNELS: LazyLock<Vec<Entry>> = LazyLock::new(|| {
        let mut list = Vec::new();
        let mut add = |family, strategy: Strategy| {
            // CubeCL's names, less the `_None` its matrix-vector kernels append for an unset
            // plane count.
            let name = strategy.to_string();
            list.push(Entry {
                name: name.strip_suffix("_None").unwrap_or(&name).to_string(),
                family,
                strategy,
                launches: Launches::new(),
            })
        };
        use KernelFamily::{Accelerated, Unit, Vector};
        add(Vector, Strategy::DoubleVecMat(Inferred(().into())));
        add(Vector, Strategy::SimpleVecMat(Inferred(().into())));
        add(
            Vector,
            Strategy::GemvPlaneParallel(Inferred(Default::default())),
        );
        add(
            Vector,
            Strategy::GemvUnitPerpendicular(Inferred(Default::default())),
        );
        for tile_size in [
            TileSizeSelection::MaxTileSize,
            TileSizeSelection::MinTileSize,
        ] {
            add(
                Unit,
                Strategy::SimpleUnit(Inferred(SimpleUnitSelectionArgs { tile_size })),
            );
            add(
                Unit,
                Strategy::DoubleUnit(Inferred(DoubleUnitSelectionArgs { tile_size })),
            );
        }
        let simple = |multi_rows, tile_matmul: TileMatmulKind| SimpleArgs {
            multi_rows,
            tile_matmul,
        };
        let ordered = |row_count, tile_matmul| {
            Inferred(OrderedSelectionArgs {
                partition_k: Some(2),
                row_count: Some(row_count),
                rows_per_plane: Some(2),
                tile_matmul,
            })
        };
        let double = |specialized, tile_matmul| {
            Inferred(DoubleBufferingArgs {
                specialized,
                tile_matmul,
            })
        };
        let mut tensor_cores = |strategy| add(Accelerated, strategy);
        for multi_rows in [false, true] {
            tensor_cores(Strategy::SimpleCyclicCmma(Inferred(simple(
                multi_rows, Cmma,
            ))));
            tensor_cores(Strategy::SimpleCyclicMma(Inferred(simple(multi_rows, Mma))));
        }
        for row_count in [4, 8] {
            tensor_cores(Strategy::OrderedDoubleCmma(ordered(row_count, Cmma)));
            tensor_cores(Strategy::OrderedDoubleMma(ordered(row_count, Mma)));
        }
        for specialized in [false, true] {
            tensor_cores(Strategy::DoubleCyclicCmma(double(specialized, Cmma)));
            tensor_cores(Strategy::DoubleCyclicMma(double(specialized, Mma)));
        }
        tensor_cores(Strategy::SpecializedCyclicCmma(Inferred(().into())));
        tensor_cores(Strategy::SpecializedCyclicMma(Inferred(().into())));
        for multi_rows in [false, true] {
            tensor_cores(Strategy::SimpleTmaCmma(Inferred(simple(multi_rows, Cmma))));
            tensor_cores(Strategy::SimpleTmaMma(Inferred(simple(multi_rows, Mma))));
        }
        tensor_cores(Strategy::SpecializedTmaCmma(Inferred(().into())));
        tensor_cores(Strategy::SpecializedTmaMma(Inferred(().into())));
        // What Burn runs without autotuning.
        tensor_cores(Strategy::Auto);
        list
    });

    pub fn len() -> usize {
        KERNELS.len()
    }

    pub fn name(index: usize) -> &'static str {
        &KERNELS[index].name
    }

    pub fn family(index: usize) -> KernelFamily {
        KERNELS[index].family
    }

    pub fn strategy(index: usize) -> &'static Strategy {
        &KERNELS[index].strategy
    }

    pub fn launches(index: usize) -> &'static Launches {
        &KERNELS[index].launches
    }
}

/// A build without a GPU backend has no kernels.
#[cfg(not(feature = "gpu"))]
mod catalogue {
    use super::{KernelFamily, Launches};

    pub fn len() -> usize {
        0
    }

    pub fn name(_: usize) -> &'static str {
        unreachable!("no kernels without a GPU backend")
    }

    pub fn family(_: usize) -> KernelFamily {
        unreachable!("no kernels without a GPU backend")
    }

    pub fn launches(_: usize) -> &'static Launches {
        unreachable!("no kernels without a GPU backend")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_have_distinct_names_and_are_found_by_them() {
        let names: Vec<&str> = MatmulKernel::all().map(MatmulKernel::name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for kernel in MatmulKernel::all() {
            assert_eq!(MatmulKernel::named(kernel.name()), Some(kernel));
        }
        assert_eq!(MatmulKernel::named("no such kernel"), None);
        #[cfg(feature = "gpu")]
        {
            assert_eq!(names.len(), 29);
            let plane = MatmulKernel::named("vecmat_plane_parallel").expect("listed");
            assert_eq!(plane.family(), KernelFamily::Vector);
            assert_eq!(names.last(), Some(&"matmul_auto"));
        }
    }

    #[cfg(not(feature = "gpu"))]
    #[test]
    fn a_build_without_a_gpu_backend_lists_no_kernels() {
        assert_eq!(MatmulKernel::all().count(), 0);
    }

    #[cfg(feature = "gpu")]
    #[test]
    fn a_product_off_a_fused_cubecl_backend_hands_its_inputs_back() {
        use burn::backend::Flex;
        let device = Default::default();
        let x = Tensor::<Flex, 2>::ones([1, 4], &device);
        let w = Tensor::<Flex, 2>::ones([4, 3], &device);
        let kernel = MatmulKernel::named("vecmat_plane_parallel").expect("listed");
        let (x, w) = product(kernel, x, w).expect_err("not a CubeCL backend");
        assert_eq!((x.dims(), w.dims()), ([1, 4], [4, 3]));
        assert_eq!(kernel.launches(), (0, 0));
    }
}
