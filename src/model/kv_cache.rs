//! Per-layer key/value cache for incremental decoding.
//!
//! Buffers are allocated once at their final length (prompt + max new tokens) and written in
//! place with `slice_assign`, so decoding does not re-allocate per step.

use burn::tensor::{Int, Tensor, backend::Backend};

use super::host_backbone::HostKvCache;
use crate::host::flex::indices_below;

/// Keys and values of one layer: `[batch, kv_heads, capacity, head_dim]`.
#[derive(Clone, Debug)]
pub struct LayerCache<B: Backend> {
    keys: Option<Tensor<B, 4>>,
    values: Option<Tensor<B, 4>>,
}

/// The cache of every layer plus the number of positions filled: Burn tensors, or host buffers
/// for the host forward ([`super::host_backbone`]).
#[derive(Clone, Debug)]
pub struct KvCache<B: Backend> {
    layers: Vec<LayerCache<B>>,
    host: Option<HostKvCache>,
    len: usize,
    capacity: usize,
}

impl<B: Backend> KvCache<B> {
    /// An empty cache for `layers` layers holding up to `capacity` positions.
    pub fn new(
        layers: usize,
        batch: usize,
        kv_heads: usize,
        capacity: usize,
        head_dim: usize,
        dtype: burn::tensor::DType,
        device: &B::Device,
    ) -> Self {
        let shape = [batch, kv_heads, capacity, head_dim];
        let zeros = || Tensor::<B, 4>::zeros(shape, (device, dtype));
        Self {
            layers: (0..layers)
                .map(|_| LayerCache {
                    keys: Some(zeros()),
                    values: Some(zeros()),
                })
                .collect(),
            host: None,
            len: 0,
            capacity,
        }
    }

    /// An empty cache on host memory, written by the host forward.
    pub fn host(
        layers: usize,
        batch: usize,
        kv_heads: usize,
        capacity: usize,
        head_dim: usize,
    ) -> Self {
        Self {
            layers: Vec::new(),
            host: Some(HostKvCache::new(
                layers, batch, kv_heads, capacity, head_dim,
            )),
            len: 0,
            capacity,
        }
    }

    /// The host buffers, when this is a host cache.
    pub fn host_mut(&mut self) -> Option<&mut HostKvCache> {
        self.host.as_mut()
    }

    /// Whether this is a host cache.
    pub fn is_host(&self) -> bool {
        self.host.is_some()
    }

    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most positions the cache can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes `[batch, kv_heads, new, head_dim]` keys/values of `layer` after the filled part and
    /// returns everything cached for it, new entries included.
    pub fn append(
        &mut self,
        layer: usize,
        keys: Tensor<B, 4>,
        values: Tensor<B, 4>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let [b, h, new, d] = keys.dims();
        let end = self.len + new;
        assert!(
            end <= self.capacity,
            "KV cache overflow: {end} positions > capacity {}",
            self.capacity
        );
        let entry = self
            .layers
            .get_mut(layer)
            .expect("a host cache is written by the host forward, not appended to");
        let range = [0..b, 0..h, self.len..end, 0..d];
        // Taken out of the cache while written, so the buffer has one owner and the write can
        // happen in place instead of copying the whole buffer.
        let written_keys = entry.keys.take().expect("cache buffer present");
        let written_values = entry.values.take().expect("cache buffer present");
        let written_keys = written_keys.slice_assign(range.clone(), keys);
        let written_values = written_values.slice_assign(range, values);
        let filled = [0..b, 0..h, 0..end, 0..d];
        let out = (
            written_keys.clone().slice(filled.clone()),
            written_values.clone().slice(filled),
        );
        entry.keys = Some(written_keys);
        entry.values = Some(written_values);
        out
    }

    /// Marks `new` more positions as filled; called once per forward, after every layer appended.
    pub fn advance(&mut self, new: usize) {
        self.len += new;
    }

    /// Keeps only the batch rows in `rows` (finished sequences leave the batch).
    pub fn retain_rows(&mut self, rows: Tensor<B, 1, Int>) {
        if let Some(host) = &mut self.host {
            let rows = indices_below(&rows, host.batch()).expect("rows of the batch");
            host.retain_rows(&rows, self.len);
            return;
        }
        for entry in &mut self.layers {
            entry.keys = entry.keys.take().map(|k| k.select(0, rows.clone()));
            entry.values = entry.values.take().map(|v| v.select(0, rows.clone()));
        }
    }
}
