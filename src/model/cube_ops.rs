//! CubeCL kernels that Burn picks only through autotuning, run as operations of their own in
//! Burn's fusion stream on the fused CUDA and wgpu backends.
//!
//! A tensor of a fused CubeCL backend is a handle in the fusion stream; the kernel needs the
//! device tensors behind it. [`queue`] registers a custom operation whose inputs and output the
//! stream tracks like any other, and which, once the stream reaches it, runs the kernel on those
//! device tensors. Fusion leaves such an operation as it is and fuses what comes before and after.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor, TensorPrimitive};

/// A tensor's backend primitive, type-erased so one list holds float and bool inputs.
pub type Erased = Box<dyn Any>;

/// The primitive of a float tensor, type-erased.
pub fn erase_float<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Erased {
    Box::new(tensor.into_primitive().tensor())
}

/// The primitive of a bool tensor, type-erased.
pub fn erase_bool<B: Backend, const D: usize>(tensor: Tensor<B, D, Bool>) -> Erased {
    Box::new(tensor.into_primitive())
}

/// The float tensor [`erase_float`] erased (or [`queue`] made).
pub fn float<B: Backend, const D: usize>(erased: Erased) -> Tensor<B, D> {
    let primitive = *erased
        .downcast::<B::FloatTensorPrimitive>()
        .expect("a float primitive of this backend");
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// The bool tensor [`erase_bool`] erased.
pub fn bool<B: Backend, const D: usize>(erased: Erased) -> Tensor<B, D, Bool> {
    Tensor::from_primitive(
        *erased
            .downcast::<B::BoolTensorPrimitive>()
            .expect("a bool primitive of this backend"),
    )
}

/// How often a queued kernel ran, and how often Burn's own kernels ran instead because it refused
/// the problem. The kernels run when the device gets to them: read after a sync (reading any
/// tensor back).
pub struct Launches([AtomicUsize; 2]);

impl Launches {
    /// No launches yet.
    pub const fn new() -> Self {
        Self([AtomicUsize::new(0), AtomicUsize::new(0)])
    }

    /// One more run: on Burn's kernels if `fell_back`, else on the queued kernel.
    pub fn record(&self, fell_back: bool) {
        self.0[fell_back as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Runs on the queued kernel and on Burn's, so far.
    pub fn get(&self) -> (usize, usize) {
        (
            self.0[0].load(Ordering::Relaxed),
            self.0[1].load(Ordering::Relaxed),
        )
    }
}

impl Default for Launches {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "gpu")]
pub use fused::{CubeKernel, queue};

/// Without a GPU backend in the build there is nothing to queue on: the inputs come back.
#[cfg(not(feature = "gpu"))]
pub fn queue<K>(
    _kernel: K,
    inputs: Vec<Erased>,
    _shape: Vec<usize>,
    _dtype: burn::tensor::DType,
) -> Result<Erased, Vec<Erased>> {
    Err(inputs)
}

#[cfg(feature = "gpu")]
mod fused {
    use std::marker::PhantomData;

    use burn::tensor::DType;
    use burn_cubecl::fusion::FusionCubeRuntime;
    use burn_cubecl::tensor::CubeTensor;
    use burn_cubecl::{CubeBackend, CubeRuntime};
    use burn_cubecl_fusion::CubeFusionHandle;
    use burn_fusion::FusionTensor;
    use burn_fusion::stream::{Operation, OperationStreams};
    use burn_ir::{CustomOpIr, HandleContainer, OperationIr, TensorIr};

    use super::Erased;

    /// The inner backend whose tensors a kernel reads: the element types are each tensor's own
    /// (`dtype`), so one instantiation serves every float type.
    pub type Inner<R> = CubeBackend<R, f32, i32, u8>;

    /// A computation on the device tensors of any CubeCL runtime.
    pub trait CubeKernel: Clone + Send + Sync + std::fmt::Debug + 'static {
        /// The operation's name in the fusion stream.
        fn name(&self) -> &'static str;
        /// The output `out` describes, from the inputs (`inputs[i]` describes input `i`; a bool
        /// input is read with `handles.get_bool_tensor`, a float one with `get_float_tensor`).
        fn run<R: CubeRuntime>(
            &self,
            handles: &mut HandleContainer<CubeFusionHandle<R>>,
            inputs: &[TensorIr],
            out: &TensorIr,
        ) -> CubeTensor<R>;
    }

    /// Queues `kernel` on `inputs` (primitives of one fused CubeCL backend, erased), with an
    /// output of `shape` and `dtype`; the inputs back, untouched, on any other backend.
    pub fn queue<K: CubeKernel>(
        kernel: K,
        inputs: Vec<Erased>,
        shape: Vec<usize>,
        dtype: DType,
    ) -> Result<Erased, Vec<Erased>> {
        #[cfg(feature = "cuda")]
        let inputs =
            match on_runtime::<K, cubecl::cuda::CudaRuntime>(&kernel, inputs, &shape, dtype) {
                Ok(out) => return Ok(out),
                Err(inputs) => inputs,
            };
        #[cfg(feature = "wgpu")]
        let inputs =
            match on_runtime::<K, cubecl::wgpu::WgpuRuntime>(&kernel, inputs, &shape, dtype) {
                Ok(out) => return Ok(out),
                Err(inputs) => inputs,
            };
        let _ = (kernel, shape, dtype);
        Err(inputs)
    }

    fn on_runtime<K: CubeKernel, R: CubeRuntime>(
        kernel: &K,
        inputs: Vec<Erased>,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Erased, Vec<Erased>> {
        type Fused<R> = FusionTensor<FusionCubeRuntime<R>>;
        if !inputs.iter().all(|input| input.is::<Fused<R>>()) {
            return Err(inputs);
        }
        let inputs: Vec<Fused<R>> = inputs
            .into_iter()
            .map(|input| *input.downcast::<Fused<R>>().expect("checked above"))
            .collect();
        let client = inputs[0].client.clone();
        let streams = OperationStreams::with_inputs(&inputs);
        let out = TensorIr::uninit(client.create_empty_handle(), shape.into(), dtype);
        let irs: Vec<TensorIr> = inputs.into_iter().map(FusionTensor::into_ir).collect();
        let desc = CustomOpIr::new(kernel.name(), &irs, &[out]);
        let operation = KernelOp::<K, R> {
            desc: desc.clone(),
            kernel: kernel.clone(),
            runtime: PhantomData,
        };
        let out = client
            .register(streams, OperationIr::Custom(desc), operation)
            .remove(0);
        Ok(Box::new(out))
    }

    #[derive(Debug)]
    struct KernelOp<K, R> {
        desc: CustomOpIr,
        kernel: K,
        runtime: PhantomData<R>,
    }

    impl<K: CubeKernel, R: CubeRuntime> Operation<FusionCubeRuntime<R>> for KernelOp<K, R> {
        fn execute(&self, handles: &mut HandleContainer<CubeFusionHandle<R>>) {
            let out = &self.desc.outputs[0];
            let y = self.kernel.run(handles, &self.desc.inputs, out);
            handles.register_float_tensor::<Inner<R>>(&out.id, y);
        }
    }
}

#[cfg(feature = "gpu")]
pub use fused::Inner;
