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

    /// Keeps only the batch rows in `rows`, in that order.
    pub fn retain_rows(&mut self, rows: &[usize]) {
        let block = self.kv_heads * self.capacity * self.head_dim;
        for data in self.keys.iter_mut().chain(self.values.iter_mut()) {
            let kept: Vec<f32> = rows
                .iter()
                .flat_map(|&r| data[r * block..(r + 1) * block].iter().copied())
                .collect();
            *data = kept;
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
        cache.retain_rows(&[1]);
        assert_eq!(cache.batch(), 1);
        let (k, _) = cache.view(0, 0, 0, 3);
        assert_eq!([k.at(1, 0), k.at(2, 0)], [10.0, 12.0]);
    }
}
