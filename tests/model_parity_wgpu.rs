//! The logits-parity checks on the wgpu backend. In CI this runs on Mesa's software Vulkan
//! driver with the CPU adapter (`PROF_DEVICE=cpu` is the default here), proving the GPU code path
//! without a GPU. Built only with `--features wgpu`.

#![cfg(feature = "wgpu")]

use crate::common;

use burn::backend::Wgpu;
use burn::backend::wgpu::WgpuDevice;
use burn::tensor::DType;
use common::parity::*;

fn dev() -> WgpuDevice {
    match std::env::var("PROF_WGPU_DEVICE").as_deref() {
        Ok("default") => WgpuDevice::DefaultDevice,
        _ => WgpuDevice::Cpu,
    }
}

#[test]
fn wgpu_logits_match_transformers() {
    check_logits::<Wgpu>(
        "tiny-tied",
        "tiny-tied/logits.json",
        DType::F32,
        F32_TOLERANCE,
        &dev(),
    );
    check_logits::<Wgpu>(
        "tiny-untied",
        "tiny-untied/logits.json",
        DType::F32,
        F32_TOLERANCE,
        &dev(),
    );
    check_padded::<Wgpu>(
        "tiny-untied",
        "tiny-untied/padded.json",
        F32_TOLERANCE,
        &dev(),
    );
    check_incremental::<Wgpu>("tiny-tied", "tiny-tied/logits.json", F32_TOLERANCE, &dev());
    assert_eq!(
        check_greedy::<Wgpu>("tiny-tied", "tiny-tied/greedy.json", 0.0, &dev()),
        6
    );
}

/// With every linear weight stored as its checkpoint's `[out, in]` (viewed transposed), the
/// full forward and one-token decoding steps (matrix-vector products) still give transformers'
/// logits, for a tied and an untied head.
#[test]
fn wgpu_out_in_weights_match_transformers() {
    use prof_grpo::model::matrix_layout::{MatrixLayout, with_matrix_layout};
    for model in ["tiny-tied", "tiny-untied"] {
        let lm = with_matrix_layout(load::<Wgpu>(model, DType::F32, &dev()), MatrixLayout::OutIn);
        let expected = format!("{model}/logits.json");
        check_model_logits(&lm, model, &expected, F32_TOLERANCE, &dev());
        check_model_incremental(&lm, model, &expected, F32_TOLERANCE, &dev());
    }
}

/// In f16 a decoding step's logits equal the full forward's, with the weights as loaded and in
/// `[out, in]` order: the one-row products of a decoding step (where Burn's fusion miscomputes
/// `x · W` with a transposed `W` and fused operations around it, see `per_token`) in half
/// precision, which the fixtures do not cover.
#[test]
fn wgpu_f16_decoding_matches_the_full_forward() {
    use prof_grpo::model::matrix_layout::{MatrixLayout, with_matrix_layout};
    for model in ["tiny-tied", "tiny-untied"] {
        let lm = load::<Wgpu>(model, DType::F16, &dev());
        let expected = format!("{model}/logits.json");
        check_cache_against_full_forward(&lm, model, &expected, 0.05, &dev());
        let lm = with_matrix_layout(lm, MatrixLayout::OutIn);
        check_cache_against_full_forward(&lm, model, &expected, 0.05, &dev());
    }
}

/// Token choice on the device (greedy and sampled, over a 151,936-token vocabulary) equals the
/// host sampler's on the same logits, in f32 and f16, and sampled generation gives the same
/// tokens with it on and off.
#[test]
fn wgpu_device_sampling_matches_the_host_sampler() {
    common::device_sampling::check_device_sampling::<Wgpu>(8, DType::F32, &dev());
    common::device_sampling::check_device_sampling::<Wgpu>(8, DType::F16, &dev());
    common::device_sampling::check_generation_on_and_off::<Wgpu>("tiny-tied", &dev());
}

/// Sums of 70,001 to 9,000,000 elements and scatter-adds of 100,000 indices, split by
/// `launch_limits`, equal the host's, and a NaN or an infinity in the last of millions of a
/// parameter's elements is found.
#[test]
fn wgpu_split_sums_and_scatters_are_right() {
    common::long_sums::check_split_sums_and_scatters::<Wgpu>(&dev());
    common::long_sums::check_non_finite_found_past_one_launch::<Wgpu>(&dev());
}

/// The head's statistics over a full 151,936-token vocabulary (few tokens: chunks as wide as
/// the model takes them) equal the CPU's.
#[test]
fn wgpu_full_vocabulary_head_matches_the_cpu() {
    for tokens in [4, 16] {
        common::head_chunks::check_full_vocabulary_head::<Wgpu>(tokens, 1e-3, &dev());
    }
}

/// A training step (both losses, every gradient, an AdamW step) equals the CPU backend's.
#[test]
fn wgpu_training_step_matches_cpu() {
    common::training_parity::check_training_step::<burn::backend::Autodiff<Wgpu>>(1e-4, &dev());
}

/// A micro-batch of 70,400 tokens, 66,000 of them response tokens: more than Burn's wgpu kernels
/// sum or scatter in one launch (`launch_limits`), and the gradients still equal the CPU's.
#[test]
fn wgpu_many_token_gradients_match_cpu() {
    common::training_parity::check_many_token_gradients::<burn::backend::Autodiff<Wgpu>>(
        1e-4,
        &dev(),
    );
}

/// The smoke run's first warm-up steps give the CPU backend's losses, step by step.
#[test]
fn wgpu_warmup_steps_match_cpu() {
    common::training_parity::check_warmup_run::<burn::backend::Autodiff<Wgpu>>(4, 1e-3, &dev());
}

/// How far f16 logits of padded batches may be from transformers' f32 ones.
const F16_PADDED_TOLERANCE: f32 = 0.05;

/// CubeCL's matrix-vector kernel against the host's products, in f32 and f16, and Burn's
/// product where the kernel refuses the width.
#[test]
fn wgpu_vector_matrix_kernel_matches_host_products() {
    common::decode_kernels::check_vector_matrix::<Wgpu>(
        &[
            (256, 96, DType::F32, 1e-5),
            (512, 40, DType::F16, 1e-2),
            (7, 5, DType::F32, 1e-5),
        ],
        &dev(),
    );
}

/// Each of CubeCL's matrix-product kernels the model can queue, against host products: one row,
/// 33 rows and 64 rows, in f32 and f16, in both weight orders. Software Vulkan has no tensor
/// cores, so the tensor-core kernels hand their problems to Burn's product.
#[test]
fn wgpu_every_matmul_kernel_matches_host_products() {
    let never_ran = common::matmul_kernels::check_every_kernel::<Wgpu>(
        &[
            (1, 256, 40, DType::F32, 1e-4),
            (33, 64, 40, DType::F32, 1e-4),
            (64, 128, 64, DType::F16, 1e-2),
        ],
        &dev(),
    );
    eprintln!("kernels that refused every problem: {never_ran:?}");
}

/// CubeCL's flash-attention kernel against Burn's attention: a decoding step over a cache, a
/// causal prefill and an explicit mask, in f16 (errors of up to 4.9e-4 measured).
#[test]
fn wgpu_flash_attention_matches_burns_attention() {
    for d in [12, 16, 64] {
        common::decode_kernels::check_flash_attention::<Wgpu>(DType::F16, 2e-3, d, &dev());
    }
}

/// With CubeCL's matrix-vector kernel for every one-token product (`[out, in]` projections and
/// the tied head) and its flash-attention kernel (f16 only), the full forward and KV-cache
/// decoding still give transformers' logits in f32, in f16 decoding gives the full forward's,
/// and padded batches give each row its own logits in both.
#[test]
fn wgpu_decoding_on_the_decode_kernels_matches() {
    use prof_grpo::model::decode_kernels::{DecodeKernels, with_decode_kernels};
    use prof_grpo::model::matrix_layout::{MatrixLayout, with_matrix_layout};
    use prof_grpo::model::{flash_attention, gemv};
    let before = (gemv::launches(), flash_attention::launches());
    let both = DecodeKernels {
        vector_matrix: true,
        flash_attention: true,
        products: None,
        device_sampling: true,
    };
    with_decode_kernels(both, || {
        for model in ["tiny-tied", "tiny-untied"] {
            let expected = format!("{model}/logits.json");
            let lm = load::<Wgpu>(model, DType::F32, &dev());
            let lm = with_matrix_layout(lm, MatrixLayout::OutIn);
            check_model_logits(&lm, model, &expected, F32_TOLERANCE, &dev());
            check_model_incremental(&lm, model, &expected, F32_TOLERANCE, &dev());
            let lm = load::<Wgpu>(model, DType::F16, &dev());
            let lm = with_matrix_layout(lm, MatrixLayout::OutIn);
            check_cache_against_full_forward(&lm, model, &expected, 0.05, &dev());
        }
        let padded = "tiny-untied/padded.json";
        check_padded::<Wgpu>("tiny-untied", padded, F32_TOLERANCE, &dev());
        // Left padding leaves the padding's queries no key to attend to: the flash kernel must
        // keep those rows from spoiling the real ones, as Burn's attention does.
        let lm = load::<Wgpu>("tiny-untied", DType::F16, &dev());
        check_model_padded(&lm, "tiny-untied", padded, F16_PADDED_TOLERANCE, &dev());
    });
    let after = (gemv::launches(), flash_attention::launches());
    assert!(
        after.0.0 > before.0.0,
        "no product ran on the matrix-vector kernel"
    );
    assert!(
        after.1.0 > before.1.0,
        "no attention ran on the flash kernel"
    );
}

/// With a chosen CubeCL kernel for the products of more than one row (the bench's
/// `--matmul-kernel`; a unit kernel, which software Vulkan runs), the full forward, KV-cache
/// decoding and padded batches still give transformers' logits, in both weight orders, and the
/// products ran on that kernel.
#[test]
fn wgpu_forward_on_a_chosen_matmul_kernel_matches_transformers() {
    use prof_grpo::model::decode_kernels::{DecodeKernels, with_decode_kernels};
    use prof_grpo::model::matmul_kernels::MatmulKernel;
    use prof_grpo::model::matrix_layout::{MatrixLayout, with_matrix_layout};
    let kernel = MatmulKernel::named("matmul_simple_unit_max_tile_size").expect("listed");
    let before = kernel.launches();
    let chosen = DecodeKernels {
        vector_matrix: false,
        flash_attention: false,
        products: Some(kernel),
        device_sampling: true,
    };
    with_decode_kernels(chosen, || {
        for layout in [MatrixLayout::InOut, MatrixLayout::OutIn] {
            for model in ["tiny-tied", "tiny-untied"] {
                let expected = format!("{model}/logits.json");
                let lm = with_matrix_layout(load::<Wgpu>(model, DType::F32, &dev()), layout);
                check_model_logits(&lm, model, &expected, F32_TOLERANCE, &dev());
                check_model_incremental(&lm, model, &expected, F32_TOLERANCE, &dev());
            }
        }
        check_padded::<Wgpu>(
            "tiny-untied",
            "tiny-untied/padded.json",
            F32_TOLERANCE,
            &dev(),
        );
    });
    let after = kernel.launches();
    assert!(after.0 > before.0, "no product ran on the chosen kernel");
    assert_eq!(after.1, before.1, "the unit kernel refused a product");
}
