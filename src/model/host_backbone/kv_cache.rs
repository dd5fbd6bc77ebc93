//! Keys and values of every layer on host memory, for the host forward with a cache: each row's
//! and head's entries are one contiguous `[capacity, head_dim]` block, written in place.

use crate::host::view::MatRef;

/// Per layer, keys and values laid out `[batch, kv_heads, capacity, head_dim]`.
#[derive(Clone, Debug)]
pub struct HostKvCache {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    batch: usize,
    kv_heads: usize,
    capacity: usize,
    head_dim: usize,
}

impl HostKvCache {
    /// An empty cache (zeros) of `layers` layers.
    pub fn new(
        layers: usize,
        batch: usize,
        kv_heads: usize,
        capacity: usize,
        head_dim: usize,
    ) -> Self {
        let size = batch * kv_heads * capacity * head_dim;
        Self {
            keys: vec![vec![0.0; size]; layers],
            values: vec![vec![0.0; size]; layers],
            batch,
            kv_heads,
            capacity,
            head_dim,
        }
    }

    /// Rows in the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Most positions the cache can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn block(&self, row: usize, head: usize) -> usize {
        (row * self.kv_heads + head) * self.capacity * self.head_dim
    }

    /// Writes the keys and values of `new` tokens per row (`[batch · new, kv_heads · head_dim]`,
    /// token-major) at positions `past..past + new` of `layer`.
    pub fn write(&mut self, layer: usize, past: usize, new: usize, keys: &[f32], values: &[f32]) {
        assert!(past + new <= self.capacity, "KV cache overflow");
        let (d, width) = (self.head_dim, self.kv_heads * self.head_dim);
        for b in 0..self.batch {
            for h in 0..self.kv_heads {
                let base = self.block(b, h) + past * d;
                for t in 0..new {
                    let from = (b * new + t) * width + h * d;
                    let to = base + t * d;
                    self.keys[layer][to..to + d].copy_from_slice(&keys[from..from + d]);
                    self.values[layer][to..to + d].copy_from_slice(&values[from..from + d]);
                }
            }
        }
    }

    /// The first `len` keys and values `[len, head_dim]` of one row and head of `layer`.
    pub fn view(
        &self,
        layer: usize,
        row: usize,
        head: usize,
        len: usize,
    ) -> (MatRef<'_>, MatRef<'_>) {
        let at = self.block(row, head);
        let view = |data| {
            MatRef::new(data, at, [len, self.head_dim], [self.head_dim, 1])
                .expect("view inside the cache")
        };
        (view(&self.keys[layer]), view(&self.values[layer]))
    }

    /// Keeps only the batch rows in `rows`, in that order; of each row, only the first `filled`
    /// positions are kept (the rest of the capacity is left unwritten). Rows in ascending order,
    /// as finished sequences leave a decoding batch, move down in place, and rows that keep
    /// their slot are not touched.
    pub fn retain_rows(&mut self, rows: &[usize], filled: usize) {
        assert!(
            rows.iter().all(|&r| r < self.batch),
            "rows {rows:?} of a batch of {}",
            self.batch
        );
        let (heads, block) = (self.kv_heads, self.capacity * self.head_dim);
        let used = filled.min(self.capacity) * self.head_dim;
        let ascending = rows.windows(2).all(|w| w[0] < w[1]);
        for data in self.keys.iter_mut().chain(self.values.iter_mut()) {
            if ascending {
                for (to, &from) in rows.iter().enumerate().filter(|(to, from)| to != *from) {
                    for h in 0..heads {
                        let at = (from * heads + h) * block;
                        data.copy_within(at..at + used, (to * heads + h) * block);
                    }
                }
                data.truncate(rows.len() * heads * block);
            } else {
                let mut kept = vec![0.0; rows.len() * heads * block];
                for (to, &from) in rows.iter().enumerate() {
                    for h in 0..heads {
                        let (at, dst) = ((from * heads + h) * block, (to * heads + h) * block);
                        kept[dst..dst + used].copy_from_slice(&data[at..at + used]);
                    }
                }
                *data = kept;
            }
        }
        self.batch = rows.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rows, two heads of width 1: a write of two tokens lands at the right positions of
    /// each row's head blocks, and dropping the first row keeps the second's entries.
    #[test]
    fn writes_views_and_retains_rows() {
        let mut cache = HostKvCache::new(1, 2, 2, 3, 1);
        // Tokens (row, t) with heads [h0, h1]: values 10·row + 2·t + head.
        let keys = [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0];
        let values: Vec<f32> = keys.iter().map(|k| -k).collect();
        cache.write(0, 1, 2, &keys, &values);
        let (k, v) = cache.view(0, 1, 1, 3);
        assert_eq!([k.at(0, 0), k.at(1, 0), k.at(2, 0)], [0.0, 11.0, 13.0]);
        assert_eq!(v.at(2, 0), -13.0);
        cache.retain_rows(&[1], 3);
        assert_eq!(cache.batch(), 1);
        let (k, _) = cache.view(0, 0, 0, 3);
        assert_eq!([k.at(1, 0), k.at(2, 0)], [10.0, 12.0]);
    }

    /// Three rows of two heads (width 2, capacity 4, two positions filled): keeping rows
    /// `[0, 2]` moves row 2 into slot 1 in place, keeping `[2, 0]` reorders them, and each
    /// kept row's filled keys and values are those it was written with.
    #[test]
    fn retained_rows_keep_their_entries_in_either_order() {
        let (rows, heads, width) = (3, 2, 2);
        // Token t of row b, head h, lane l: 100·b + 10·t + 2·h + l.
        let entry = |b: usize, t: usize, h: usize, l: usize| (100 * b + 10 * t + 2 * h + l) as f32;
        let tokens: Vec<f32> = (0..rows * 2 * heads * width)
            .map(|i| {
                let (b, t) = (i / (2 * heads * width), i / (heads * width) % 2);
                entry(b, t, i / width % heads, i % width)
            })
            .collect();
        let values: Vec<f32> = tokens.iter().map(|k| -k).collect();
        for keep in [vec![0, 2], vec![2, 0], vec![1]] {
            let mut cache = HostKvCache::new(1, rows, heads, 4, width);
            cache.write(0, 0, 2, &tokens, &values);
            cache.retain_rows(&keep, 2);
            assert_eq!(cache.batch(), keep.len());
            for (slot, &b) in keep.iter().enumerate() {
                for h in 0..heads {
                    let (k, v) = cache.view(0, slot, h, 2);
                    for (t, l) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        assert_eq!(k.at(t, l), entry(b, t, h, l), "keep {keep:?}");
                        assert_eq!(v.at(t, l), -entry(b, t, h, l), "keep {keep:?}");
                    }
                }
            }
        }
    }
}
