//! Choosing the Burn backend at run time (`--backend flex|wgpu|cuda`): the only place that names
//! concrete backends. GPU backends exist only in builds with the matching cargo feature.

use anyhow::{Result, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::host::pool::run_on_pool;

/// A backend selectable on the command line.
#[derive(
    clap::ValueEnum,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Pure-Rust CPU backend (always available).
    #[default]
    Flex,
    /// GPU through wgpu (Vulkan, Metal, DX12); needs `--features wgpu`.
    Wgpu,
    /// NVIDIA GPU through CUDA (kernels compiled with NVRTC at run time); needs `--features cuda`.
    Cuda,
}

impl std::str::FromStr for BackendKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "flex" | "cpu" => Ok(Self::Flex),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda),
            other => bail!("unknown backend {other:?} (expected flex, wgpu or cuda)"),
        }
    }
}

/// Work to run on an inference backend chosen at run time.
pub trait BackendTask {
    /// What the work returns.
    type Output;
    /// Runs on backend `B` and `device`.
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output>;
}

/// Work to run on an autodiff backend chosen at run time (training).
pub trait AutodiffTask {
    /// What the work returns.
    type Output;
    /// Runs on autodiff backend `B` and `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>;
}

/// The device string of accelerator `index` on `kind`: empty (the default device, or
/// `PROF_DEVICE`) for index 0, `N` on cuda, `discrete:N` on wgpu.
pub fn device_for_index(kind: BackendKind, index: usize) -> String {
    match (kind, index) {
        (_, 0) | (BackendKind::Flex, _) => String::new(),
        (BackendKind::Cuda, i) => i.to_string(),
        (BackendKind::Wgpu, i) => format!("discrete:{i}"),
    }
}

/// Device selection string: for wgpu `default|cpu|discrete[:N]|integrated[:N]`, for cuda `N`.
/// Falls back to `PROF_DEVICE` when empty.
fn device_spec(spec: &str) -> String {
    if spec.is_empty() {
        std::env::var("PROF_DEVICE").unwrap_or_default()
    } else {
        spec.to_string()
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device(spec: &str) -> Result<burn::backend::wgpu::WgpuDevice> {
    use burn::backend::wgpu::WgpuDevice;
    let (kind, index) = spec.split_once(':').unwrap_or((spec, "0"));
    let index: usize = index.parse()?;
    Ok(match kind {
        "" | "default" => WgpuDevice::DefaultDevice,
        "cpu" => WgpuDevice::Cpu,
        "discrete" => WgpuDevice::DiscreteGpu(index),
        "integrated" => WgpuDevice::IntegratedGpu(index),
        other => bail!("unknown wgpu device {other:?} (default, cpu, discrete:N, integrated:N)"),
    })
}

#[cfg(feature = "cuda")]
fn cuda_device(spec: &str) -> Result<burn::backend::cuda::CudaDevice> {
    let index = if spec.is_empty() { 0 } else { spec.parse()? };
    Ok(burn::backend::cuda::CudaDevice { index })
}

#[cfg(not(all(feature = "wgpu", feature = "cuda")))]
fn missing_feature(kind: BackendKind) -> anyhow::Error {
    let feature = match kind {
        BackendKind::Wgpu => "wgpu",
        _ => "cuda",
    };
    anyhow::anyhow!(
        "this build has no {feature} backend: rebuild with `cargo build --release --features {feature}`"
    )
}

/// Runs `task` on the inference backend `kind`; on the CPU backend, on a thread of the pool its
/// operations split their work over ([`run_on_pool`]).
pub fn run_inference<T: BackendTask + Send>(
    kind: BackendKind,
    device: &str,
    task: T,
) -> Result<T::Output>
where
    T::Output: Send,
{
    let device = device_spec(device);
    match kind {
        BackendKind::Flex => run_on_pool(|| task.run::<burn::backend::Flex>(Default::default())),
        BackendKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                task.run::<burn::backend::Wgpu>(wgpu_device(&device)?)
            }
            #[cfg(not(feature = "wgpu"))]
            {
                let _ = (device, task);
                Err(missing_feature(kind))
            }
        }
        BackendKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                task.run::<burn::backend::Cuda>(cuda_device(&device)?)
            }
            #[cfg(not(feature = "cuda"))]
            {
                let _ = (device, task);
                Err(missing_feature(kind))
            }
        }
    }
}

/// Runs `task` on the autodiff-wrapped backend `kind`; on the CPU backend, on a thread of the
/// pool its operations split their work over ([`run_on_pool`]).
pub fn run_autodiff<T: AutodiffTask + Send>(
    kind: BackendKind,
    device: &str,
    task: T,
) -> Result<T::Output>
where
    T::Output: Send,
{
    use burn::backend::Autodiff;
    let device = device_spec(device);
    match kind {
        BackendKind::Flex => {
            run_on_pool(|| task.run::<Autodiff<burn::backend::Flex>>(Default::default()))
        }
        BackendKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                task.run::<Autodiff<burn::backend::Wgpu>>(wgpu_device(&device)?)
            }
            #[cfg(not(feature = "wgpu"))]
            {
                let _ = (device, task);
                Err(missing_feature(kind))
            }
        }
        BackendKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                task.run::<Autodiff<burn::backend::Cuda>>(cuda_device(&device)?)
            }
            #[cfg(not(feature = "cuda"))]
            {
                let _ = (device, task);
                Err(missing_feature(kind))
            }
        }
    }
}

/// The dtype a model computes in when none is asked for: f32 on CPU, bf16 on CUDA, f32 on wgpu
/// (portable; many wgpu adapters lack bf16).
pub fn default_dtype(kind: BackendKind) -> burn::tensor::DType {
    match kind {
        BackendKind::Cuda => burn::tensor::DType::BF16,
        _ => burn::tensor::DType::F32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings_of_an_index() {
        assert_eq!(device_for_index(BackendKind::Cuda, 0), "");
        assert_eq!(device_for_index(BackendKind::Cuda, 2), "2");
        assert_eq!(device_for_index(BackendKind::Wgpu, 1), "discrete:1");
        assert_eq!(device_for_index(BackendKind::Flex, 3), "");
    }

    #[test]
    fn a_gpu_backend_missing_from_the_build_names_the_feature() {
        struct Nothing;
        impl BackendTask for Nothing {
            type Output = ();
            fn run<B: Backend>(self, _: B::Device) -> Result<()> {
                Ok(())
            }
        }
        assert!(run_inference(BackendKind::Flex, "", Nothing).is_ok());
        #[cfg(not(feature = "cuda"))]
        {
            let err = run_inference(BackendKind::Cuda, "", Nothing).unwrap_err();
            assert!(err.to_string().contains("--features cuda"), "{err}");
        }
        #[cfg(not(feature = "wgpu"))]
        {
            let err = run_inference(BackendKind::Wgpu, "", Nothing).unwrap_err();
            assert!(err.to_string().contains("--features wgpu"), "{err}");
        }
    }

    /// Work on the CPU backend, inference or training, runs on a thread of Rayon's pool.
    #[test]
    fn cpu_work_runs_on_the_pool() {
        struct Where;
        impl BackendTask for Where {
            type Output = Option<usize>;
            fn run<B: Backend>(self, _: B::Device) -> Result<Option<usize>> {
                Ok(rayon::current_thread_index())
            }
        }
        impl AutodiffTask for Where {
            type Output = Option<usize>;
            fn run<B: AutodiffBackend>(self, _: B::Device) -> Result<Option<usize>> {
                Ok(rayon::current_thread_index())
            }
        }
        assert_eq!(
            rayon::current_thread_index(),
            None,
            "tests run outside the pool"
        );
        assert!(
            run_inference(BackendKind::Flex, "", Where)
                .unwrap()
                .is_some()
        );
        assert!(
            run_autodiff(BackendKind::Flex, "", Where)
                .unwrap()
                .is_some()
        );
    }
}
