//! Which prompts each step trains on: a seeded permutation per epoch, consumed in consecutive
//! batches of `prompts_per_step`. The prompts left over at the end of an epoch (fewer than a
//! batch) are skipped, as with a data loader's `drop_last`, so every batch lies inside one epoch.
//!
//! The order of epoch `e` depends only on (seed, e, number of prompts): a ChaCha8 stream `e` of
//! the seed. Resuming therefore needs only the [`SamplerCursor`].

use anyhow::{Result, bail};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Where the next batch starts: epoch and offset into that epoch's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SamplerCursor {
    /// Epoch of the next batch (0-based).
    pub epoch: u64,
    /// Offset of the next batch in the epoch's order.
    pub position: usize,
}

/// Seeded, resumable sampler of prompt indices.
#[derive(Debug, Clone)]
pub struct PromptSampler {
    num_prompts: usize,
    per_step: usize,
    seed: u64,
    shuffle: bool,
    cursor: SamplerCursor,
    order: Vec<usize>,
}

impl PromptSampler {
    /// A sampler at the start of epoch 0. Errors when there are fewer prompts than a batch.
    pub fn new(
        num_prompts: usize,
        prompts_per_step: usize,
        seed: u64,
        shuffle: bool,
    ) -> Result<Self> {
        Self::resume(
            num_prompts,
            prompts_per_step,
            seed,
            shuffle,
            SamplerCursor::default(),
        )
    }

    /// A sampler continuing from `cursor` (as saved in a checkpoint).
    pub fn resume(
        num_prompts: usize,
        prompts_per_step: usize,
        seed: u64,
        shuffle: bool,
        cursor: SamplerCursor,
    ) -> Result<Self> {
        if prompts_per_step == 0 {
            bail!("prompts_per_step must be at least 1");
        }
        if num_prompts < prompts_per_step {
            bail!(
                "the training data has {num_prompts} prompts, fewer than one step's \
                 actor.prompts_per_step = {prompts_per_step}"
            );
        }
        if cursor.position + prompts_per_step > num_prompts {
            bail!(
                "checkpoint data cursor (epoch {}, position {}) does not fit {num_prompts} prompts \
                 in batches of {prompts_per_step}: the training data or batch size changed",
                cursor.epoch,
                cursor.position
            );
        }
        Ok(Self {
            num_prompts,
            per_step: prompts_per_step,
            seed,
            shuffle,
            cursor,
            order: epoch_order(seed, cursor.epoch, num_prompts, shuffle),
        })
    }

    /// The cursor of the next batch (save this in checkpoints).
    pub fn cursor(&self) -> SamplerCursor {
        self.cursor
    }

    /// Batches per epoch (`num_prompts / prompts_per_step`, rounded down).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.num_prompts / self.per_step) as u64
    }

    /// The prompt indices of the next step; moves the cursor (into the next epoch when needed).
    pub fn next_batch(&mut self) -> Vec<usize> {
        let start = self.cursor.position;
        let batch = self.order[start..start + self.per_step].to_vec();
        self.cursor.position += self.per_step;
        if self.cursor.position + self.per_step > self.num_prompts {
            self.cursor = SamplerCursor {
                epoch: self.cursor.epoch + 1,
                position: 0,
            };
            self.order = epoch_order(self.seed, self.cursor.epoch, self.num_prompts, self.shuffle);
        }
        batch
    }
}

/// The order of the prompts in `epoch`: a permutation of `0..num_prompts` drawn from ChaCha8
/// stream `epoch` of `seed`, or the identity without shuffling.
pub fn epoch_order(seed: u64, epoch: u64, num_prompts: usize, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..num_prompts).collect();
    if shuffle {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch);
        order.shuffle(&mut rng);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_each_epoch_once_and_drop_the_remainder() {
        let mut s = PromptSampler::new(10, 3, 7, true).unwrap();
        assert_eq!(s.steps_per_epoch(), 3);
        let mut seen: Vec<usize> = (0..3).flat_map(|_| s.next_batch()).collect();
        assert_eq!(
            s.cursor(),
            SamplerCursor {
                epoch: 1,
                position: 0
            }
        );
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen.len(),
            9,
            "9 distinct prompts in the 3 batches of an epoch"
        );
        let order0 = epoch_order(7, 0, 10, true);
        assert_eq!(seen, {
            let mut v = order0[..9].to_vec();
            v.sort_unstable();
            v
        });
    }

    #[test]
    fn without_shuffle_order_is_sequential() {
        let mut s = PromptSampler::new(5, 2, 1, false).unwrap();
        assert_eq!(s.next_batch(), vec![0, 1]);
        assert_eq!(s.next_batch(), vec![2, 3]);
        assert_eq!(
            s.cursor(),
            SamplerCursor {
                epoch: 1,
                position: 0
            }
        );
        assert_eq!(s.next_batch(), vec![0, 1]);
    }

    #[test]
    fn same_seed_same_sequence_other_seed_or_epoch_differs() {
        let run = |seed| {
            let mut s = PromptSampler::new(50, 5, seed, true).unwrap();
            (0..25).map(|_| s.next_batch()).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert_ne!(epoch_order(3, 0, 50, true), epoch_order(3, 1, 50, true));
    }

    #[test]
    fn resuming_from_a_cursor_continues_the_same_sequence() {
        let mut full = PromptSampler::new(23, 4, 11, true).unwrap();
        let expected: Vec<Vec<usize>> = (0..17).map(|_| full.next_batch()).collect();
        for cut in [0, 1, 5, 6, 9, 16] {
            let mut first = PromptSampler::new(23, 4, 11, true).unwrap();
            let mut got: Vec<Vec<usize>> = (0..cut).map(|_| first.next_batch()).collect();
            let cursor: SamplerCursor =
                serde_json::from_str(&serde_json::to_string(&first.cursor()).unwrap()).unwrap();
            let mut resumed = PromptSampler::resume(23, 4, 11, true, cursor).unwrap();
            got.extend((cut..17).map(|_| resumed.next_batch()));
            assert_eq!(got, expected, "resumed after {cut} batches");
        }
    }

    #[test]
    fn too_few_prompts_or_a_foreign_cursor_is_an_error() {
        assert!(PromptSampler::new(3, 4, 0, true).is_err());
        assert!(PromptSampler::new(3, 0, 0, true).is_err());
        let bad = SamplerCursor {
            epoch: 0,
            position: 8,
        };
        assert!(PromptSampler::resume(10, 4, 0, true, bad).is_err());
    }
}
