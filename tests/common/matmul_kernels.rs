//! A check of every one of CubeCL's matrix-product kernels the model can queue
//! (`matmul_kernels::product`), generic over the fused GPU backend so the wgpu and CUDA tests
//! share it.

use burn::tensor::{DType, Distribution, Tensor, backend::Backend};
use prof_grpo::model::matmul_kernels::{KernelFamily, MatmulKernel, product};

/// Every kernel's product against the one computed on the host in f64, for each `(rows, in,
/// out, dtype, relative tolerance)`, with the weight row-major `[in, out]` and as the transpose
/// of a row-major `[out, in]`. A kernel that refuses a problem must hand it to Burn's product
/// (counted as a fallback), and the result must be right either way. The unit kernels, which
/// need neither tensor cores nor a layout, must run every problem themselves, and
/// `vecmat_plane_parallel` one row times an `[out, in]` weight whose width it takes. Returns the
/// names of the kernels that refused every problem (the tensor-core kernels on a device without
/// tensor cores).
/// A device tensor's values on the host, in f32, in its logical row-major order whatever its
/// strides on the device.
pub fn host<B: Backend>(t: Tensor<B, 2>) -> Vec<f32> {
    t.cast(DType::F32).into_data().to_vec::<f32>().unwrap()
}

/// `y` (`[rows, out]`) is `x · w` (`[rows, in]` times `[in, out]`, host values in row-major
/// order) computed in f64, within `tol` relative to each output (at least 1); `what` names the
/// product in failures.
pub fn assert_host_product(
    x: &[f32],
    w: &[f32],
    y: &[f32],
    [rows, width, out]: [usize; 3],
    tol: f64,
    what: &str,
) {
    for r in 0..rows {
        for o in 0..out {
            let want: f64 = (0..width)
                .map(|i| x[r * width + i] as f64 * w[i * out + o] as f64)
                .sum();
            let got = y[r * out + o] as f64;
            assert!(
                (got - want).abs() <= tol * want.abs().max(1.0),
                "{what}, output [{r}, {o}]: {got} against {want}"
            );
        }
    }
}

pub fn check_every_kernel<B: Backend>(
    cases: &[(usize, usize, usize, DType, f64)],
    device: &B::Device,
) -> Vec<&'static str> {
    let kernels: Vec<MatmulKernel> = MatmulKernel::all().collect();
    assert!(!kernels.is_empty(), "a GPU build lists CubeCL's kernels");
    let mut never_ran = Vec::new();
    for kernel in kernels {
        let mut ran = 0;
        for &(rows, width, out, dtype, tol) in cases {
            for transposed in [false, true] {
                let uniform = Distribution::Uniform(-1.0, 1.0);
                let x = Tensor::<B, 2>::random([rows, width], uniform, device).cast(dtype);
                let w = if transposed {
                    Tensor::<B, 2>::random([out, width], uniform, device)
                        .cast(dtype)
                        .transpose()
                } else {
                    Tensor::<B, 2>::random([width, out], uniform, device).cast(dtype)
                };
                let (host_x, host_w) = (host(x.clone()), host(w.clone()));
                let before = kernel.launches();
                let y =
                    product(kernel, x, w).unwrap_or_else(|_| panic!("not a fused CubeCL backend"));
                assert_eq!(y.dims(), [rows, out]);
                let y = host(y);
                let after = kernel.launches();
                let what = format!(
                    "{} on [{rows}, {width}] · [{width}, {out}] in {dtype:?}{}",
                    kernel.name(),
                    if transposed { ", [out, in] weight" } else { "" }
                );
                // The counters are process-wide: other tests queueing the same kernel meanwhile
                // (the decoding checks, on `vecmat_plane_parallel`) may add to them.
                assert!(
                    (after.0 - before.0) + (after.1 - before.1) >= 1,
                    "{what}: a run, on the kernel or on Burn's product"
                );
                let on_kernel = after.0 > before.0;
                ran += on_kernel as usize;
                if kernel.family() == KernelFamily::Unit {
                    assert!(on_kernel, "{what}: a unit kernel should take every problem");
                }
                if kernel.name() == "vecmat_plane_parallel" && rows == 1 && transposed {
                    assert!(on_kernel, "{what}: should run on the kernel");
                }
                assert_host_product(&host_x, &host_w, &y, [rows, width, out], tol, &what);
            }
        }
        if ran == 0 {
            never_ran.push(kernel.name());
        }
    }
    never_ran
}
