//! Attention on CubeCL's flash-attention kernel in inference.
//!
//! Built without autotuning, Burn's CubeCL backends run attention as separate kernels: the scores'
//! product, the masked softmax as about a dozen elementwise and reduction kernels, and the values'
//! product, with copies between them (14 kernels per layer in a decoding step, counted on wgpu).
//! CubeCL's flash-attention kernel does it in one; Burn reaches it only through autotuning.
//! [`attention`] queues its unit variant (no tensor cores) where
//! [`decode_kernels::current`](super::decode_kernels::current) says so (see
//! [`super::cube_ops`]), for f16 and bf16 models: that variant stages q, k, v and the
//! probabilities in f16 (summing in f32), which on wgpu differs from Burn's f32 attention by up to
//! 3e-4 on outputs of order 0.3, more than an f32 model's parity allows. Backends that record
//! gradients run [`cpu_attention`](super::cpu_attention) on the CPU (long enough rows) and
//! [`tracked_attention`] otherwise.

use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Tensor, backend::Backend, module};

use super::cpu_attention;
use super::cube_ops::{self, Launches, erase_bool, erase_float};
use super::decode_kernels;
use super::recorded_numerics::as_recorded;
use super::tracked_attention::tracked_attention;

static LAUNCHES: Launches = Launches::new();

/// How many attentions this process has run so far on the flash kernel, and how many on Burn's
/// separate kernels because the flash kernel refused the problem (see [`Launches`]).
pub fn launches() -> (usize, usize) {
    LAUNCHES.get()
}

/// Burn's `attention(q, k, v, mask, None, options)` (`mask` true where attention is forbidden),
/// on the flash kernel where the current choice asks for it, the backend is a fused CubeCL one,
/// `q` is f16 or bf16, and the options are the default scale without soft-capping; on a backend
/// that records gradients (or computes as one, see [`super::recorded_numerics`]),
/// [`cpu_attention::cpu_attention`] on the CPU in f32 from [`cpu_attention::FROM_KEYS`] keys on
/// and [`tracked_attention`] otherwise.
pub fn attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Option<Tensor<B, 4, Bool>>,
    options: AttentionModuleOptions,
) -> Tensor<B, 4> {
    if as_recorded::<B>(&q.device()) {
        if cpu_attention::chosen(&q, k.dims()[2]) {
            return cpu_attention::cpu_attention(q, k, v, mask, options);
        }
        return tracked_attention(q, k, v, mask, options);
    }
    let plain = options.scale.is_none() && options.softcap.is_none();
    let half = matches!(q.dtype(), DType::F16 | DType::BF16);
    if !decode_kernels::current().flash_attention || !plain || !half {
        return module::attention(q, k, v, mask, None, options);
    }
    let [batch, heads, queries, _] = q.dims();
    let (shape, dtype) = (vec![batch, heads, queries, v.dims()[3]], q.dtype());
    let masked = mask.is_some();
    let keys = k.dims()[2];
    let mut inputs = vec![erase_float(q), erase_float(k), erase_float(v)];
    // The kernel takes the mask with one entry per head (a stride-0 view here, laid out by
    // `merged_batches` on the device).
    inputs.extend(mask.map(|m| erase_bool(m.expand([batch, heads, queries, keys]))));
    let kernel = FlashAttention {
        causal: options.is_causal,
    };
    match cube_ops::queue(kernel, inputs, shape, dtype) {
        Ok(out) => cube_ops::float(out),
        Err(mut inputs) => {
            let mask = masked.then(|| cube_ops::bool(inputs.pop().expect("the mask")));
            let v = cube_ops::float(inputs.pop().expect("three inputs"));
            let k = cube_ops::float(inputs.pop().expect("three inputs"));
            let q = cube_ops::float(inputs.pop().expect("three inputs"));
            module::attention(q, k, v, mask, None, options)
        }
    }
}

/// The kernel [`attention`] queues: inputs q, k, v and, when there is one, the mask.
#[derive(Clone, Debug)]
struct FlashAttention {
    /// Burn's `is_causal`: keys after each query (aligned bottom-right) hidden.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    causal: bool,
}

#[cfg(feature = "gpu")]
impl cube_ops::CubeKernel for FlashAttention {
    fn name(&self) -> &'static str {
        "flash_attention"
    }

    fn run<R: burn_cubecl::CubeRuntime>(
        &self,
        handles: &mut burn_ir::HandleContainer<burn_cubecl_fusion::CubeFusionHandle<R>>,
        inputs: &[burn_ir::TensorIr],
        _out: &burn_ir::TensorIr,
    ) -> burn_cubecl::tensor::CubeTensor<R> {
        use burn_cubecl::kernel::attention::{AttentionStrategy, attention};
        type Inner<R> = cube_ops::Inner<R>;

        let [q, k, v] =
            [0, 1, 2].map(|i| merged_batches(handles.get_float_tensor::<Inner<R>>(&inputs[i])));
        let mask = inputs
            .get(3)
            .map(|mask| merged_batches(handles.get_bool_tensor::<Inner<R>>(mask)));
        let options = AttentionModuleOptions {
            scale: None,
            softcap: None,
            is_causal: self.causal,
        };
        let flash = attention(
            q.clone(),
            k.clone(),
            v.clone(),
            mask.clone(),
            None,
            options,
            AttentionStrategy::FlashUnit,
        );
        LAUNCHES.record(flash.is_err());
        flash.unwrap_or_else(|_| {
            attention(q, k, v, mask, None, options, AttentionStrategy::Fallback)
                .expect("Burn's separate kernels take every attention")
        })
    }
}

/// `t` in a layout the flash kernel reads right: it steps from one batch to the next by
/// `heads · head stride` (batches and heads merged), which holds for a contiguous tensor and for a
/// cache narrowed along its sequence axis, but not for the axis-swapped q, k, v of a prefill or a
/// mask shared by the heads (wrong outputs from the second batch on, measured on wgpu); those are
/// copied to a contiguous layout first.
#[cfg(feature = "gpu")]
fn merged_batches<R: burn_cubecl::CubeRuntime>(
    t: burn_cubecl::tensor::CubeTensor<R>,
) -> burn_cubecl::tensor::CubeTensor<R> {
    let (shape, strides) = (t.meta.shape(), t.meta.strides());
    if shape[0] == 1 || strides[0] == shape[1] * strides[1] {
        t
    } else {
        burn_cubecl::kernel::into_contiguous(t)
    }
}
