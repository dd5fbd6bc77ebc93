//! The Qwen2 backbone (embeddings → decoder layers → final norm) and the causal LM on top.

use burn::module::Module;
use burn::nn::{Embedding, Linear};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Bool, DType, Int, Tensor, TensorData};

use super::attention::{AttentionMask, LayerMask};
use super::decoder_layer::DecoderLayer;
use super::gemv;
use super::kv_cache::KvCache;
use super::matrix_layout::MatrixLayout;
use super::rms_norm::RmsNorm;
use super::rotary::RotaryTables;
use super::token_linear::per_token;

/// A batch of token ids with the position of each token and the keys each may attend to.
#[derive(Clone, Debug)]
pub struct Batch<B: Backend> {
    /// Token ids `[batch, seq]`.
    pub ids: Tensor<B, 2, Int>,
    /// Rotary position of each token (`positions[b][t]`).
    pub positions: Vec<Vec<usize>>,
    /// Attention masking for this forward.
    pub mask: AttentionMask<B>,
}

impl<B: Backend> Batch<B> {
    /// Unpadded rows of equal length starting at position 0 (causal masking only).
    pub fn dense(rows: &[Vec<u32>], device: &B::Device) -> Self {
        let seq = rows.first().map_or(0, Vec::len);
        assert!(
            rows.iter().all(|r| r.len() == seq),
            "rows must have equal lengths"
        );
        Self {
            ids: ids_tensor(rows, device),
            positions: vec![(0..seq).collect(); rows.len()],
            mask: AttentionMask::Causal,
        }
    }

    /// Right-padded rows: real tokens first, `pad` after. Positions count from 0 in every row and
    /// plain causal masking is exact for the real tokens (they never see the padding after them).
    pub fn right_padded(rows: &[Vec<u32>], pad: u32, device: &B::Device) -> Self {
        let seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        let padded: Vec<Vec<u32>> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.resize(seq, pad);
                r
            })
            .collect();
        Self {
            ids: ids_tensor(&padded, device),
            positions: vec![(0..seq).collect(); rows.len()],
            mask: AttentionMask::Causal,
        }
    }

    /// Left-padded rows with an explicit mask: each row's first real token gets position 0 and
    /// no query attends to padding.
    pub fn left_padded(rows: &[Vec<u32>], pad: u32, device: &B::Device) -> Self {
        let seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut padded = Vec::with_capacity(rows.len());
        let mut positions = Vec::with_capacity(rows.len());
        let mut valid = Vec::with_capacity(rows.len());
        for r in rows {
            let offset = seq - r.len();
            let mut ids = vec![pad; offset];
            ids.extend_from_slice(r);
            padded.push(ids);
            positions.push((0..seq).map(|t| t.saturating_sub(offset)).collect());
            valid.push((0..seq).map(|t| t >= offset).collect::<Vec<bool>>());
        }
        Self {
            ids: ids_tensor(&padded, device),
            positions,
            mask: AttentionMask::Explicit(causal_padding_mask(&valid, 0, seq, device)),
        }
    }
}

/// Uploads equal-length rows of ids as `[batch, seq]`.
pub fn ids_tensor<B: Backend>(rows: &[Vec<u32>], device: &B::Device) -> Tensor<B, 2, Int> {
    let seq = rows.first().map_or(0, Vec::len);
    let flat: Vec<i64> = rows.iter().flatten().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), seq]), device)
}

/// The mask `[batch, 1, queries, keys]` (`true` = forbidden) for `queries` new tokens placed
/// after `past` cached positions, where `key_valid[b][j]` tells whether key `j` is a real token.
pub fn causal_padding_mask<B: Backend>(
    key_valid: &[Vec<bool>],
    past: usize,
    queries: usize,
    device: &B::Device,
) -> Tensor<B, 4, Bool> {
    let keys = past + queries;
    let mut flat = Vec::with_capacity(key_valid.len() * queries * keys);
    for valid in key_valid {
        assert_eq!(
            valid.len(),
            keys,
            "key mask must cover cached and new positions"
        );
        for i in 0..queries {
            for (j, &ok) in valid.iter().enumerate() {
                flat.push(!(ok && j <= past + i));
            }
        }
    }
    Tensor::from_data(
        TensorData::new(flat, [key_valid.len(), 1, queries, keys]),
        device,
    )
}

/// What every decoder layer of one forward reads besides its input: the rotary tables of the
/// batch's positions and the attention mask laid out for the layers.
#[derive(Clone, Debug)]
pub struct LayerContext<B: Backend> {
    /// Rotary tables of the batch's positions.
    pub rotary: RotaryTables<B>,
    /// The batch's attention mask as the layers take it.
    pub mask: LayerMask<B>,
}

impl<B: AutodiffBackend> LayerContext<B> {
    /// The same context on the backend autodiff wraps.
    pub fn inner(&self) -> LayerContext<B::InnerBackend> {
        LayerContext {
            rotary: self.rotary.inner(),
            mask: self.mask.inner(),
        }
    }
}

/// The Qwen2 backbone; its hidden states feed the LM head or a reward head.
#[derive(Module, Debug)]
pub struct Qwen2Model<B: Backend> {
    /// `model.embed_tokens`.
    pub embed_tokens: Embedding<B>,
    /// `model.layers.*`.
    pub layers: Vec<DecoderLayer<B>>,
    /// `model.norm`.
    pub norm: RmsNorm<B>,
    /// Rotary base.
    pub rope_theta: f64,
    /// Width of one attention head.
    pub head_dim: usize,
}

impl<B: Backend> Qwen2Model<B> {
    /// Dtype of the activations (that of the embedding matrix).
    pub fn dtype(&self) -> DType {
        self.embed_tokens.weight.val().dtype()
    }

    /// Final-norm hidden states `[batch, seq, hidden]`. An f32 model of the CPU backend runs the
    /// host forward ([`super::host_backbone`]) without a cache or with a host cache.
    pub fn forward(&self, batch: &Batch<B>, cache: Option<&mut KvCache<B>>) -> Tensor<B, 3> {
        match cache {
            Some(cache) if cache.is_host() => {
                super::host_backbone::forward(self, batch, Some(cache))
                    .expect("a host cache is made only for a model whose weights are on the host")
            }
            cache => {
                if cache.is_none()
                    && let Some(hidden) = super::host_backbone::forward(self, batch, None)
                {
                    return hidden;
                }
                self.forward_ops(batch, cache)
            }
        }
    }

    /// [`Self::forward`] through Burn's tensor ops, on any backend.
    pub fn forward_ops(&self, batch: &Batch<B>, cache: Option<&mut KvCache<B>>) -> Tensor<B, 3> {
        let x = self.embed_tokens.forward(batch.ids.clone());
        self.forward_embedded(x, batch, cache)
    }

    /// The layers and final norm through Burn's tensor ops, from `x`, the `[batch, seq, hidden]`
    /// embeddings of `batch.ids` (looked up by the caller, e.g. outside the autodiff graph).
    pub fn forward_embedded(
        &self,
        mut x: Tensor<B, 3>,
        batch: &Batch<B>,
        mut cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 3> {
        let seq = batch.ids.dims()[1];
        let context = self.layer_context(batch, cache.as_deref().map_or(0, KvCache::len));
        for (i, layer) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| (c, i));
            x = layer.forward(x, &context.rotary, &context.mask, layer_cache);
        }
        if let Some(cache) = cache {
            cache.advance(seq);
        }
        self.norm.forward(x)
    }

    /// What every layer reads in a forward over `batch` after `past` cached positions.
    pub fn layer_context(&self, batch: &Batch<B>, past: usize) -> LayerContext<B> {
        let device = batch.ids.device();
        let [rows, seq] = batch.ids.dims();
        let heads: Vec<usize> = self
            .layers
            .first()
            .map(|l| vec![l.self_attn.num_heads, l.self_attn.num_kv_heads])
            .unwrap_or_default();
        let rotary = RotaryTables::new(
            &batch.positions,
            &heads,
            self.head_dim,
            self.rope_theta,
            self.dtype(),
            &device,
        );
        let heads = self
            .layers
            .first()
            .map_or([1, 1], |l| [l.self_attn.groups(), l.self_attn.num_kv_heads]);
        let mask = LayerMask::new(&batch.mask, rows, heads, seq, past + seq, &device);
        LayerContext { rotary, mask }
    }

    /// A cache sized for this model: on host memory when the host forward applies
    /// ([`super::host_backbone`]), else Burn tensors.
    pub fn new_cache(&self, batch: usize, capacity: usize) -> KvCache<B> {
        let attn = &self.layers[0].self_attn;
        if super::host_backbone::applies(self) {
            return KvCache::host(
                self.layers.len(),
                batch,
                attn.num_kv_heads,
                capacity,
                attn.head_dim,
            );
        }
        KvCache::new(
            self.layers.len(),
            batch,
            attn.num_kv_heads,
            capacity,
            attn.head_dim,
            self.dtype(),
            &self.embed_tokens.weight.val().device(),
        )
    }
}

/// Qwen2 with its language-model head.
#[derive(Module, Debug)]
pub struct Qwen2ForCausalLm<B: Backend> {
    /// The backbone (`model.*`).
    pub model: Qwen2Model<B>,
    /// `lm_head`; `None` when tied to the embedding matrix (logits = `h · embedᵀ`).
    pub lm_head: Option<Linear<B>>,
    /// Memory order of `lm_head`'s weight.
    #[module(skip)]
    pub head_layout: MatrixLayout,
}

impl<B: Backend> Qwen2ForCausalLm<B> {
    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.model.embed_tokens.weight.dims()[0]
    }

    /// Logits `[batch, seq, vocab]` from hidden states `[batch, seq, hidden]`.
    pub fn logits(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        match &self.lm_head {
            Some(head) => per_token(head, self.head_layout, hidden),
            None => {
                let [b, s, h] = hidden.dims();
                let embed = self.model.embed_tokens.weight.val();
                let v = embed.dims()[0];
                gemv::vector_matrix(hidden.reshape([b * s, h]), embed.transpose())
                    .unwrap_or_else(|(rows, matrix)| rows.matmul(matrix))
                    .reshape([b, s, v])
            }
        }
    }

    /// The `[hidden, vocab]` matrix that maps hidden states to logits.
    pub fn output_matrix(&self) -> Tensor<B, 2> {
        match self.output_parameter() {
            (weight, false) => weight,
            (weight, true) => weight.transpose(),
        }
    }

    /// The parameter behind [`Self::output_matrix`] (`lm_head.weight`, or the embedding matrix
    /// when tied) and whether the output matrix is its transpose.
    pub fn output_parameter(&self) -> (Tensor<B, 2>, bool) {
        match &self.lm_head {
            Some(head) => (head.weight.val(), false),
            None => (self.model.embed_tokens.weight.val(), true),
        }
    }

    /// Logits of every position.
    pub fn forward(&self, batch: &Batch<B>, cache: Option<&mut KvCache<B>>) -> Tensor<B, 3> {
        self.logits(self.model.forward(batch, cache))
    }
}
