//! PRM scoring throughput on CPU (responses/s): the tiny PRM fixture scores 16 synthetic
//! responses one at a time and in one micro-batch of 16.
//!
//! `cargo bench --bench prm_scoring`

use burn::backend::Flex;
use burn::tensor::DType;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prof_grpo::model::Qwen2Config;
use prof_grpo::reward::prm::{Padding, ProcessRewardModel, score_ids};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::path::Path;

/// The fixture's step separator and pad ids (its vocabulary has 300 tokens).
const STEP_TOKEN: u32 = 297;
const PAD_ID: u32 = 299;
const RESPONSES: usize = 16;

/// `n` responses of 48..=128 ids below 296 with a separator after every 12..=24 ids and at the end.
fn synthetic_responses(n: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let len = rng.random_range(48..=128usize);
            let mut ids = Vec::with_capacity(len);
            let mut next_sep = rng.random_range(12..=24usize);
            while ids.len() + 1 < len {
                if ids.len() == next_sep {
                    ids.push(STEP_TOKEN);
                    next_sep += rng.random_range(12..=24usize);
                } else {
                    ids.push(rng.random_range(0..296u32));
                }
            }
            ids.push(STEP_TOKEN);
            ids
        })
        .collect()
}

fn prm_scoring(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/tiny-prm");
    let config = Qwen2Config::from_file(&dir.join("config.json")).expect("tiny PRM config");
    let prm = ProcessRewardModel::<Flex>::load(&dir, &config, DType::F32, &Default::default())
        .expect("tiny PRM weights");
    let rows = synthetic_responses(RESPONSES, 0);
    let mut group = c.benchmark_group("prm_scoring");
    group.throughput(Throughput::Elements(RESPONSES as u64));
    for micro_batch in [1usize, 16] {
        group.bench_with_input(
            BenchmarkId::new("micro_batch", micro_batch),
            &micro_batch,
            |b, &mb| {
                b.iter(|| {
                    black_box(score_ids(
                        &prm,
                        black_box(&rows),
                        STEP_TOKEN,
                        mb,
                        Padding::Right,
                        PAD_ID,
                    ))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, prm_scoring);
criterion_main!(benches);
