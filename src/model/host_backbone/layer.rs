//! One decoder layer on host memory: `x += attn(norm(x))`, then `x += mlp(norm(x))`, with the
//! residual additions folded into the output projections.

use burn::backend::flex::FlexTensor;
use burn::tensor::backend::Backend;

use super::attention::{Heads, Visibility, attention};
use super::kv_cache::HostKvCache;
use super::linear::HostLinear;
use super::rms_norm::rms_norm;
use super::rotary::HostRotary;
use super::swiglu::swiglu_in_place;
use crate::host::flex::{flex_f32, vector_view};
use crate::host::team::Team;
use crate::host::view::MatRef;
use crate::model::decoder_layer::DecoderLayer;
use crate::model::rms_norm::RmsNorm;

/// A norm's scale on host memory.
pub struct HostNorm {
    weight: FlexTensor,
    eps: f64,
}

impl HostNorm {
    /// The norm's weight, when it is an f32 tensor of the CPU backend.
    pub fn new<B: Backend>(norm: &RmsNorm<B>) -> Option<Self> {
        let weight = flex_f32(&norm.weight.val())?;
        vector_view(&weight)?;
        Some(Self {
            weight,
            eps: norm.eps,
        })
    }

    /// Normalises the rows of `x` into `out`.
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        rms_norm(
            x,
            vector_view(&self.weight).expect("checked in new"),
            self.eps,
            out,
        );
    }
}

/// What every layer of one forward shares.
pub struct Context<'a> {
    /// Rows in the batch.
    pub batch: usize,
    /// New tokens per row.
    pub seq: usize,
    /// Positions already cached (0 without a cache).
    pub past: usize,
    /// Rotary position of each new token, row-major.
    pub positions: &'a [usize],
    /// Rotary tables covering those positions.
    pub rotary: &'a HostRotary,
    /// Which keys each new token sees.
    pub visibility: Visibility<'a>,
    /// Threads a single token's products are split over.
    pub team: &'a Team,
}

/// A decoder layer's weights on host memory.
pub struct HostLayer {
    input_norm: HostNorm,
    q: HostLinear,
    k: HostLinear,
    v: HostLinear,
    o: HostLinear,
    post_norm: HostNorm,
    gate: HostLinear,
    up: HostLinear,
    down: HostLinear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

/// Buffers reused by every layer of one forward.
pub struct Scratch {
    normed: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
}

impl Scratch {
    /// Buffers for `tokens` tokens of `layer`'s shapes.
    pub fn new(layer: &HostLayer, tokens: usize, hidden: usize) -> Self {
        let zeros = |width: usize| vec![0.0f32; tokens * width];
        Self {
            normed: zeros(hidden),
            q: zeros(layer.q.outputs()),
            k: zeros(layer.k.outputs()),
            v: zeros(layer.v.outputs()),
            attn: zeros(layer.heads * layer.head_dim),
            gate: zeros(layer.gate.outputs()),
            up: zeros(layer.up.outputs()),
        }
    }
}

impl HostLayer {
    /// The layer's tensors, when they are all f32 tensors of the CPU backend.
    pub fn new<B: Backend>(layer: &DecoderLayer<B>) -> Option<Self> {
        let attn = &layer.self_attn;
        let mlp = &layer.mlp;
        Some(Self {
            input_norm: HostNorm::new(&layer.input_layernorm)?,
            q: HostLinear::new(&attn.q_proj)?,
            k: HostLinear::new(&attn.k_proj)?,
            v: HostLinear::new(&attn.v_proj)?,
            o: HostLinear::new(&attn.o_proj)?,
            post_norm: HostNorm::new(&layer.post_attention_layernorm)?,
            gate: HostLinear::new(&mlp.gate_proj)?,
            up: HostLinear::new(&mlp.up_proj)?,
            down: HostLinear::new(&mlp.down_proj)?,
            heads: attn.num_heads,
            kv_heads: attn.num_kv_heads,
            head_dim: attn.head_dim,
        })
    }

    /// Applies the layer to `x [batch · seq, hidden]` (row-major) in place; with a cache
    /// (`layer`'s index in it), the new keys and values are written after its filled part first.
    pub fn forward(
        &self,
        x: &mut [f32],
        at: &Context<'_>,
        cache: Option<(&mut HostKvCache, usize)>,
        s: &mut Scratch,
    ) {
        let (batch, seq, positions, rotary) = (at.batch, at.seq, at.positions, at.rotary);
        let tokens = batch * seq;
        let hidden = x.len() / tokens;
        self.input_norm.apply(x, &mut s.normed);
        let team = at.team;
        let normed = token_rows(&s.normed, tokens, hidden);
        self.q.apply(normed, &mut s.q, false, team);
        self.k.apply(normed, &mut s.k, false, team);
        self.v.apply(normed, &mut s.v, false, team);
        rotary.apply(&mut s.q, positions, self.heads);
        rotary.apply(&mut s.k, positions, self.kv_heads);
        let shape = Heads {
            batch,
            seq,
            query: self.heads,
            kv: self.kv_heads,
            dim: self.head_dim,
        };
        match cache {
            Some((cache, layer)) => {
                cache.write(layer, at.past, seq, &s.k, &s.v);
                let (cache, keys) = (&*cache, at.past + seq);
                let keys_values = |b, head| cache.view(layer, b, head, keys);
                attention(&s.q, shape, keys_values, at.visibility, &mut s.attn);
            }
            None => {
                let width = self.kv_heads * self.head_dim;
                let (k, v) = (&s.k, &s.v);
                let view = |data, b: usize, head: usize| {
                    MatRef::new(
                        data,
                        b * seq * width + head * self.head_dim,
                        [seq, self.head_dim],
                        [width, 1],
                    )
                    .expect("keys and values cover the batch")
                };
                let keys_values = |b, head| (view(k, b, head), view(v, b, head));
                attention(&s.q, shape, keys_values, at.visibility, &mut s.attn);
            }
        }
        self.o.apply(
            token_rows(&s.attn, tokens, self.heads * self.head_dim),
            x,
            true,
            team,
        );

        self.post_norm.apply(x, &mut s.normed);
        let normed = token_rows(&s.normed, tokens, hidden);
        self.gate.apply(normed, &mut s.gate, false, team);
        self.up.apply(normed, &mut s.up, false, team);
        swiglu_in_place(&mut s.gate, &s.up);
        let gated = token_rows(&s.gate, tokens, self.gate.outputs());
        self.down.apply(gated, x, true, team);
    }
}

/// `[tokens, width]` row-major at the start of `data`.
fn token_rows(data: &[f32], tokens: usize, width: usize) -> MatRef<'_> {
    MatRef::new(data, 0, [tokens, width], [width, 1]).expect("buffer holds every token")
}
