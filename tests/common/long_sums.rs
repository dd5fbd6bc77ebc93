//! Sums and scatter-adds larger than one launch of Burn 0.21's GPU kernels handles right, through
//! `prof_grpo::model::launch_limits` (which splits them), against sums on the host.

use burn::module::Param;
use burn::nn::LinearConfig;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use prof_grpo::model::launch_limits::{MAX_AXIS, select_add, sum_all};
use prof_grpo::train::non_finite::non_finite_parameter;

/// `sum_all` of 70,001 to 9,000,000 elements (where wgpu's whole sum may return a partial one)
/// equals the host's f64 sum within 1e-5 relative; `select_add` of 100,000 indices (above the
/// 65,535 one wgpu launch applies) along either axis gives every row and column the host's count
/// exactly (sums of ones are exact in f32).
pub fn check_split_sums_and_scatters<B: Backend>(device: &B::Device) {
    const { assert!(MAX_AXIS < 65_532) };
    for n in [70_001usize, 2_097_152, 4_194_305, 9_000_000] {
        let values: Vec<f32> = (0..n)
            .map(|i| 1.0 + (i as f64 * 0.618_034 + 0.2).fract() as f32)
            .collect();
        let want: f64 = values.iter().map(|&v| v as f64).sum();
        let x = Tensor::<B, 2>::from_data(
            TensorData::new(values[..n / 5 * 5].to_vec(), [n / 5, 5]),
            device,
        );
        let want_2d: f64 = values[..n / 5 * 5].iter().map(|&v| v as f64).sum();
        let flat = Tensor::<B, 1>::from_data(TensorData::new(values, [n]), device);
        for (name, got, want) in [
            ("1-d", sum_all(flat), want),
            ("[n / 5, 5]", sum_all(x), want_2d),
        ] {
            let got = got.into_data().convert::<f32>().to_vec::<f32>().unwrap()[0] as f64;
            assert!(
                (got - want).abs() <= 1e-5 * want,
                "sum_all of {name}, {n} elements: {got} against {want}"
            );
        }
    }
    let (n, vocab, width) = (100_000usize, 300usize, 4usize);
    let ids: Vec<i64> = (0..n).map(|i| ((i * 7) % vocab) as i64).collect();
    let mut want = vec![0f32; vocab];
    for &id in &ids {
        want[id as usize] += 1.0;
    }
    let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [n]), device);
    let by_rows = select_add(
        Tensor::<B, 2>::zeros([vocab, width], device),
        0,
        ids.clone(),
        Tensor::ones([n, width], device),
    );
    let by_columns = select_add(
        Tensor::<B, 2>::zeros([width, vocab], device),
        1,
        ids,
        Tensor::ones([width, n], device),
    );
    let read = |t: Tensor<B, 2>| t.into_data().convert::<f32>().to_vec::<f32>().unwrap();
    let (rows, columns) = (read(by_rows), read(by_columns));
    for id in 0..vocab {
        for k in 0..width {
            assert_eq!(
                rows[id * width + k],
                want[id],
                "select_add along rows, row {id}"
            );
            assert_eq!(
                columns[k * vocab + id],
                want[id],
                "select_add along columns, column {id}"
            );
        }
    }
}

/// `non_finite_parameter` finds a NaN or an infinity in the last element of parameters of
/// 2,097,152 to 9,000,000 elements (sizes where wgpu's whole float sum came out partial; Burn's
/// `any` is a whole integer sum), and nothing in the same parameters when they are finite.
pub fn check_non_finite_found_past_one_launch<B: Backend>(device: &B::Device) {
    let cases = [
        ("finite", 1.0f32),
        ("NaN", f32::NAN),
        ("infinity", f32::INFINITY),
    ];
    for n in [2_097_152usize, 4_194_305, 9_000_000] {
        for (name, last) in cases {
            let mut values = vec![0.5f32; n];
            values[n - 1] = last;
            let mut layer = LinearConfig::new(1, n).with_bias(false).init::<B>(device);
            let weight = Tensor::from_data(TensorData::new(values, [1, n]), device);
            layer.weight = Param::from_tensor(weight);
            let found = non_finite_parameter::<B, _>(&layer);
            let want = (name != "finite").then(|| "weight".to_string());
            assert_eq!(found, want, "a {name} last element of {n}");
        }
    }
}
