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

/// A training step (both losses, every gradient, an AdamW step) equals the CPU backend's.
#[test]
fn wgpu_training_step_matches_cpu() {
    common::training_parity::check_training_step::<burn::backend::Autodiff<Wgpu>>(1e-4, &dev());
}
