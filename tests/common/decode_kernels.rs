//! Checks of the CubeCL kernels a forward pass queues itself (`gemv::vector_matrix`,
//! `flash_attention::attention`), generic over the fused GPU backend so the wgpu and CUDA tests
//! share them.

use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Distribution, Tensor, TensorData, backend::Backend, module};
use prof_grpo::model::Qwen2Config;
use prof_grpo::model::decode_kernels::{DecodeKernels, with_decode_kernels};
use prof_grpo::model::flash_attention;
use prof_grpo::model::gemv::{self, launches, vector_matrix};
use prof_grpo::model::init::RandomInit;
use prof_grpo::model::loader::random_causal_lm;
use prof_grpo::model::matrix_layout::{MatrixLayout, with_matrix_layout};

use super::matmul_kernels::{assert_host_product, host};
use super::max_abs_diff;
use super::parity::{cached_rows, logits_rows};

/// `vector_matrix` against the product computed on the host in f64, for each `(in, out, dtype,
/// relative tolerance)`: `[out, in]` weights (viewed transposed) times one row. A width the
/// kernel takes (a multiple of the plane width times its vector width) must run on the kernel; a
/// width of 7, which none does, on Burn's product. The launch counters are process-wide and other
/// tests may add to them meanwhile, so each case checks only that a product of its kind ran.
pub fn check_vector_matrix<B: Backend>(cases: &[(usize, usize, DType, f64)], device: &B::Device) {
    for &(width, out, dtype, tol) in cases {
        let uniform = Distribution::Uniform(-1.0, 1.0);
        let x = Tensor::<B, 2>::random([1, width], uniform, device).cast(dtype);
        let rows = Tensor::<B, 2>::random([out, width], uniform, device).cast(dtype);
        let w = rows.transpose();
        let (host_x, host_w) = (host(x.clone()), host(w.clone()));
        let before = launches();
        let vector_on = DecodeKernels {
            vector_matrix: true,
            flash_attention: false,
            products: None,
            device_sampling: true,
        };
        let y = with_decode_kernels(vector_on, || vector_matrix(x, w))
            .unwrap_or_else(|_| panic!("not a fused CubeCL backend"));
        assert_eq!(y.dims(), [1, out]);
        let y = host(y);
        let after = launches();
        let what = format!("[1, {width}] · [{width}, {out}] in {dtype:?}");
        assert_host_product(&host_x, &host_w, &y, [1, width, out], tol, &what);
        match width {
            7 => assert!(after.1 > before.1, "width 7 should run Burn's product"),
            _ => assert!(after.0 > before.0, "width {width} should run the kernel"),
        }
    }
}

/// A named attention problem: q, k, v, the mask, and whether it is causal.
type AttentionCase<B> = (
    &'static str,
    [Tensor<B, 4>; 3],
    Option<Tensor<B, 4, Bool>>,
    bool,
);

/// The flash-attention kernel against Burn's own attention, in `dtype` (f16 or bf16, the types it
/// takes) within `tol`, on the
/// problems a forward pass gives it: a decoding step of folded query heads (6 per key/value head)
/// over the first 17 positions of a 32-position cache, a causal prefill of 9 tokens, and an
/// explicit causal mask shared by the heads (`[1, 1, 9, 9]`, as a forward builds it) that also
/// hides the first key from every later
/// query (as left padding does). The flash kernel must run.
pub fn check_flash_attention<B: Backend>(
    dtype: DType,
    tol: f32,
    head_dim: usize,
    device: &B::Device,
) {
    let d = head_dim;
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let random = |shape: [usize; 4]| Tensor::<B, 4>::random(shape, uniform, device).cast(dtype);
    let options = |is_causal| AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal,
    };
    // Laid out as a forward lays them out: a cache narrowed along its sequence axis, and the
    // prefill's q, k, v with the sequence and head axes swapped.
    let swapped =
        |shape: [usize; 4]| random([shape[0], shape[2], shape[1], shape[3]]).swap_dims(1, 2);
    let (cache, values) = (random([2, 2, 32, d]), random([2, 2, 32, d]));
    // Row 0 causal; row 1 left-padded by 3: its queries from 3 on see keys 3 up to their own,
    // the padding's queries only their own key.
    let hidden: Vec<bool> = (0..2 * 9 * 9)
        .map(|i| {
            let (row, query, key) = (i / 81, (i / 9) % 9, i % 9);
            let first = if row == 1 && query >= 3 { 3 } else { 0 };
            let first = if row == 1 && query < 3 { query } else { first };
            key > query || key < first
        })
        .collect();
    let explicit = Tensor::<B, 4, Bool>::from_data(TensorData::new(hidden, [2, 1, 9, 9]), device);
    let cases: Vec<AttentionCase<B>> = vec![
        (
            "decoding step",
            [
                random([2, 2, 6, d]),
                cache.narrow(2, 0, 17),
                values.narrow(2, 0, 17),
            ],
            None,
            false,
        ),
        (
            "causal prefill",
            [
                swapped([2, 2, 9, d]),
                swapped([2, 2, 9, d]),
                swapped([2, 2, 9, d]),
            ],
            None,
            true,
        ),
        (
            "explicit mask",
            [
                random([2, 2, 9, d]),
                random([2, 2, 9, d]),
                random([2, 2, 9, d]),
            ],
            Some(explicit),
            false,
        ),
    ];
    let flash_on = DecodeKernels {
        vector_matrix: false,
        flash_attention: true,
        products: None,
        device_sampling: true,
    };
    for (name, [q, k, v], mask, causal) in cases {
        let want = module::attention(
            q.clone(),
            k.clone(),
            v.clone(),
            mask.clone(),
            None,
            options(causal),
        );
        let before = flash_attention::launches();
        let got = with_decode_kernels(flash_on, || {
            flash_attention::attention(q, k, v, mask, options(causal))
        });
        let host = |t: Tensor<B, 4>| t.cast(DType::F32).into_data().to_vec::<f32>().unwrap();
        let err = max_abs_diff(&host(got), &host(want));
        assert!(
            err <= tol,
            "{name} in {dtype:?}, head width {d}: err {err} > {tol}"
        );
        let after = flash_attention::launches();
        assert!(
            after.0 > before.0,
            "{name}: the flash kernel did not run ({before:?} → {after:?})"
        );
    }
}

/// A random two-layer model wide enough for a GPU's 32-lane planes (hidden 256, intermediate
/// 512, tied head over 1,024 tokens), in `[out, in]` order and `dtype`: KV-cache decoding of 12
/// tokens with `kernels` queued gives the full forward's logits (computed with Burn's kernels)
/// within `tol`, and each kernel asked for ran (the flash kernel only in half precision).
pub fn check_wide_decoding<B: Backend>(
    kernels: DecodeKernels,
    dtype: DType,
    tol: f32,
    device: &B::Device,
) {
    let config = Qwen2Config::from_json(
        r#"{"vocab_size": 1024, "hidden_size": 256, "intermediate_size": 512,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 64, "tie_word_embeddings": true}"#,
    )
    .unwrap();
    let init = RandomInit { seed: 5, std: 0.05 };
    let lm = random_causal_lm::<B>(&config, &init, dtype, device).unwrap();
    let lm = with_matrix_layout(lm, MatrixLayout::OutIn);
    let ids: Vec<u32> = (0..12).map(|i| (i * 89 + 7) % 1024).collect();
    let burn_only = DecodeKernels {
        vector_matrix: false,
        flash_attention: false,
        products: None,
        device_sampling: true,
    };
    let full = with_decode_kernels(burn_only, || logits_rows(&lm, &ids, device));
    let before = (gemv::launches(), flash_attention::launches());
    let cached = with_decode_kernels(kernels, || cached_rows(&lm, &ids, device));
    let after = (gemv::launches(), flash_attention::launches());
    if kernels.vector_matrix {
        assert!(
            after.0.0 > before.0.0,
            "no product ran on the matrix-vector kernel"
        );
    }
    if kernels.flash_attention {
        assert!(
            after.1.0 > before.1.0,
            "no attention ran on the flash kernel"
        );
    }
    for (t, (c, f)) in cached.iter().zip(&full).enumerate().skip(2) {
        let err = max_abs_diff(c, f);
        assert!(
            err <= tol,
            "{dtype:?} {kernels:?} cached position {t}: err {err} > {tol}"
        );
    }
}
