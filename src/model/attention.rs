//! Grouped-query self-attention with biases on q/k/v and none on o.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Bool, Tensor, TensorData, ops::AttentionModuleOptions};

use super::contiguous::{contiguous, contiguous_gradient};
use super::flash_attention::attention;
use super::kv_cache::KvCache;
use super::matrix_layout::MatrixLayout;
use super::rotary::RotaryTables;
use super::token_linear::per_token;
use crate::host::flex::on_flex;

/// Which keys each query may see.
#[derive(Clone, Debug)]
pub enum AttentionMask<B: Backend> {
    /// Plain causal masking; valid when no row has left padding (right padding is harmless:
    /// real tokens never look ahead at it).
    Causal,
    /// An explicit mask `[batch, 1, queries, keys]`, `true` where attention is forbidden.
    Explicit(Tensor<B, 4, Bool>),
}

/// The attention block of one decoder layer.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// `self_attn.q_proj` (with bias).
    pub q_proj: Linear<B>,
    /// `self_attn.k_proj` (with bias).
    pub k_proj: Linear<B>,
    /// `self_attn.v_proj` (with bias).
    pub v_proj: Linear<B>,
    /// `self_attn.o_proj` (no bias).
    pub o_proj: Linear<B>,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Memory order of the projections' weights.
    #[module(skip)]
    pub matrix_layout: MatrixLayout,
}

/// The causal mask `[1, 1, groups · queries, keys]` of query heads folded into the query axis:
/// folded row `g · queries + i` is query `i`, which sees the keys up to `i + keys − queries` (the
/// bottom-right alignment of Burn's `is_causal`); `true` where attention is forbidden.
pub(crate) fn grouped_causal_mask<B: Backend>(
    groups: usize,
    queries: usize,
    keys: usize,
    device: &B::Device,
) -> Tensor<B, 4, Bool> {
    Tensor::from_data(
        TensorData::new(
            causal_forbidden(groups, queries, keys),
            [1, 1, groups * queries, keys],
        ),
        device,
    )
}

/// The elements of [`grouped_causal_mask`], row-major.
fn causal_forbidden(groups: usize, queries: usize, keys: usize) -> Vec<bool> {
    let offset = keys
        .checked_sub(queries)
        .expect("causal attention has at least as many keys as queries");
    let mut forbidden = Vec::with_capacity(groups * queries * keys);
    for _ in 0..groups {
        for i in 0..queries {
            forbidden.extend((0..keys).map(|j| j > i + offset));
        }
    }
    forbidden
}

/// A batch's [`AttentionMask`] in the form every layer's attention takes it, made once per
/// forward: with several query heads per key/value head, folded into the query axis (see
/// [`Attention::forward`]), so that the layers share one folded mask instead of each folding it.
#[derive(Clone, Debug)]
pub struct LayerMask<B: Backend> {
    /// Query heads per key/value head the mask is laid out for.
    groups: usize,
    /// Burn's `is_causal` (only with one query head per key/value head and no explicit mask).
    causal: bool,
    /// `[batch, 1, groups · queries, keys]`, `true` where attention is forbidden.
    forbidden: Option<Tensor<B, 4, Bool>>,
}

impl<B: AutodiffBackend> LayerMask<B> {
    /// The same mask on the backend autodiff wraps.
    pub fn inner(&self) -> LayerMask<B::InnerBackend> {
        LayerMask {
            groups: self.groups,
            causal: self.causal,
            forbidden: self.forbidden.clone().map(Tensor::inner),
        }
    }
}

impl<B: Backend> LayerMask<B> {
    /// `mask` for `queries` new tokens of each of `batch` rows attending to `keys` keys (cached
    /// and new), with `groups` query heads per each of `kv_heads` key/value heads.
    pub fn new(
        mask: &AttentionMask<B>,
        batch: usize,
        [groups, kv_heads]: [usize; 2],
        queries: usize,
        keys: usize,
        device: &B::Device,
    ) -> Self {
        if queries == 1 && matches!(mask, AttentionMask::Causal) {
            // One new token (a decoding step) comes after every key and sees them all.
            return Self {
                groups,
                causal: false,
                forbidden: None,
            };
        }
        if on_flex::<B>() {
            let shape = [batch, kv_heads, groups, queries, keys];
            return Self::laid_out_in_full(mask, shape, device);
        }
        let (causal, forbidden) = match mask {
            AttentionMask::Causal if groups == 1 => (true, None),
            AttentionMask::Causal => {
                let m = grouped_causal_mask::<B>(groups, queries, keys, device);
                (false, Some(m.expand([batch, 1, groups * queries, keys])))
            }
            AttentionMask::Explicit(m) if groups == 1 => (false, Some(m.clone())),
            AttentionMask::Explicit(m) => {
                let m = m
                    .clone()
                    .unsqueeze_dim::<5>(2)
                    .expand([batch, 1, groups, queries, keys])
                    .reshape([batch, 1, groups * queries, keys]);
                (false, Some(m))
            }
        };
        Self {
            groups,
            causal,
            forbidden,
        }
    }

    /// On the flex backend: the mask as `[batch, kv_heads, groups · queries, keys]` in
    /// contiguous memory, the shape of the scores it hides (Burn's `is_causal` as its explicit
    /// mask too). The flex backend's masked fill copies a mask of any other shape or layout
    /// element by element, in each layer's forward pass and again in its backward pass; laid out
    /// here, the layers share one copy, which is also the layout training's attention
    /// ([`super::cpu_attention`]) reads in place.
    fn laid_out_in_full(
        mask: &AttentionMask<B>,
        [batch, kv_heads, groups, queries, keys]: [usize; 5],
        device: &B::Device,
    ) -> Self {
        // `[batch or 1, 1, queries, keys]`, and whether its one row serves the whole batch.
        let (plain, shared) = match mask {
            AttentionMask::Causal => (causal_forbidden(1, queries, keys), true),
            AttentionMask::Explicit(m) => {
                let [rows, _, plain_queries, plain_keys] = m.dims();
                assert_eq!(
                    [plain_queries, plain_keys],
                    [queries, keys],
                    "attention mask of {queries} queries by {keys} keys"
                );
                let plain = m
                    .to_data()
                    .into_vec::<bool>()
                    .expect("an attention mask holds booleans");
                (plain, rows == 1)
            }
        };
        let block = queries * keys;
        let mut full = Vec::with_capacity(batch * kv_heads * groups * block);
        for b in 0..batch {
            let row = if shared { 0 } else { b };
            for _ in 0..kv_heads * groups {
                full.extend_from_slice(&plain[row * block..(row + 1) * block]);
            }
        }
        Self {
            groups,
            causal: false,
            forbidden: Some(Tensor::from_data(
                TensorData::new(full, [batch, kv_heads, groups * queries, keys]),
                device,
            )),
        }
    }
}

/// Burn's attention options: default scale, no soft-capping.
fn options(is_causal: bool) -> AttentionModuleOptions {
    AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal,
    }
}

impl<B: Backend> Attention<B> {
    /// Query heads per key/value head.
    pub fn groups(&self) -> usize {
        self.num_heads / self.num_kv_heads
    }

    /// Attends `x: [batch, seq, hidden]`; with a cache, the new keys are appended first.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rotary: &RotaryTables<B>,
        mask: &LayerMask<B>,
        cache: Option<(&mut KvCache<B>, usize)>,
    ) -> Tensor<B, 3> {
        let [batch, seq, _] = x.dims();
        // Each projection is split into heads, [batch, seq, heads, head_dim] (contiguous), and
        // viewed head-major. q and k are rotated before the view on the CPU, which then reads
        // contiguous memory, and through it on a GPU backend when there are several positions, so
        // that the rotation writes the layout attention reads (`RotaryTables::apply_head_major`).
        let split = |t: Tensor<B, 3>, n: usize| t.reshape([batch, seq, n, self.head_dim]);
        let head_major = swap_seq_and_heads::<B>;
        let rotated_head_major = |t: Tensor<B, 4>| {
            if seq > 1 && !on_flex::<B>() {
                rotary.apply_head_major(head_major(t))
            } else {
                head_major(rotary.apply(t))
            }
        };
        let q = rotated_head_major(split(
            per_token(&self.q_proj, self.matrix_layout, x.clone()),
            self.num_heads,
        ));
        let k = rotated_head_major(split(
            per_token(&self.k_proj, self.matrix_layout, x.clone()),
            self.num_kv_heads,
        ));
        let v = head_major(contiguous_gradient(split(
            per_token(&self.v_proj, self.matrix_layout, x),
            self.num_kv_heads,
        )));
        let (k, v) = match cache {
            Some((cache, layer)) => cache.append(layer, k, v),
            None => (k, v),
        };
        let groups = self.groups();
        assert_eq!(
            mask.groups, groups,
            "mask laid out for another head grouping"
        );
        let (forbidden, options) = (mask.forbidden.clone(), options(mask.causal));
        let out = if groups == 1 {
            attention(q, k, v, forbidden, options)
        } else {
            // The query heads that share a key/value head are folded into the query axis, so the
            // (cached) keys and values are read as they are instead of being copied once per
            // query head; the folded mask gives each folded row its own query's keys.
            let [b, _, s, d] = q.dims();
            let q = contiguous(q).reshape([b, self.num_kv_heads, groups * s, d]);
            let out = attention(q, k, v, forbidden, options).reshape([b, self.num_heads, s, d]);
            // The unfolded output's gradient arrives strided (through the heads' swap below),
            // and the reshape back to the folded shape needs it contiguous.
            contiguous_gradient(out)
        };
        let out = contiguous(swap_seq_and_heads(out)).reshape([
            batch,
            seq,
            self.num_heads * self.head_dim,
        ]);
        per_token(&self.o_proj, self.matrix_layout, out)
    }
}

/// Swaps the sequence and head axes: `[batch, seq, heads, head_dim]` to `[batch, heads, seq,
/// head_dim]` and back. With one position (a decoding step) both orders are the same memory, so
/// a reshape does it, keeping the tensor contiguous, where swapping axes would leave strides that
/// a later kernel copies away.
fn swap_seq_and_heads<B: Backend>(t: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, m, n, d] = t.dims();
    if m == 1 || n == 1 {
        t.reshape([b, n, m, d])
    } else {
        t.swap_dims(1, 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qwen2Config;
    use crate::model::init::RandomInit;
    use crate::model::loader::random_causal_lm;
    use burn::backend::Flex;
    use burn::tensor::{DType, Distribution, Tolerance};

    /// A one-layer model with two query heads per key/value head (hidden 32, head width 8).
    fn grouped_layer(seed: u64) -> crate::model::Qwen2ForCausalLm<Flex> {
        let config = Qwen2Config::from_json(
            r#"{"vocab_size": 20, "hidden_size": 32, "intermediate_size": 48,
                "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 64}"#,
        )
        .unwrap();
        let init = RandomInit { seed, std: 0.3 };
        random_causal_lm::<Flex>(&config, &init, DType::F32, &Default::default()).unwrap()
    }

    /// Rotary tables of [`grouped_layer`] for positions `start..start + len` of every row.
    fn rotary_tables(batch: usize, start: usize, len: usize) -> RotaryTables<Flex> {
        let positions = vec![(start..start + len).collect(); batch];
        RotaryTables::new(
            &positions,
            &[4, 2],
            8,
            10000.0,
            DType::F32,
            &Default::default(),
        )
    }

    /// `attn` on `x`, its mask laid out as a model's forward lays it out for its layers.
    fn attend(
        attn: &Attention<Flex>,
        x: Tensor<Flex, 3>,
        tables: &RotaryTables<Flex>,
        mask: &AttentionMask<Flex>,
        cache: Option<(&mut KvCache<Flex>, usize)>,
    ) -> Tensor<Flex, 3> {
        let [batch, queries, _] = x.dims();
        let keys = cache.as_ref().map_or(0, |(c, _)| c.len()) + queries;
        let heads = [attn.groups(), attn.num_kv_heads];
        let mask = LayerMask::new(mask, batch, heads, queries, keys, &x.device());
        attn.forward(x, tables, &mask, cache)
    }

    /// An explicit mask `[batch, 1, queries, keys]`, `true` where attention is forbidden: the keys
    /// after each query (queries aligned bottom-right) and, with `hidden = Some((row, key))`,
    /// that key of that row, as left padding would hide it.
    fn explicit_mask(
        batch: usize,
        queries: usize,
        keys: usize,
        hidden: Option<(usize, usize)>,
    ) -> AttentionMask<Flex> {
        let offset = keys - queries;
        let m: Vec<bool> = (0..batch * queries * keys)
            .map(|i| {
                let (row, query, key) = (i / (queries * keys), (i / keys) % queries, i % keys);
                key > query + offset || hidden == Some((row, key))
            })
            .collect();
        AttentionMask::Explicit(Tensor::from_data(
            TensorData::new(m, [batch, 1, queries, keys]),
            &Default::default(),
        ))
    }

    /// The folded causal path (two query heads per key/value head) gives what an explicit
    /// upper-triangle mask gives, alone and after a cached prefix (queries aligned bottom-right).
    #[test]
    fn grouped_causal_attention_matches_an_explicit_causal_mask() {
        let device = Default::default();
        let lm = grouped_layer(5);
        let attn = &lm.model.layers[0].self_attn;
        let (batch, prefix, seq) = (2, 3, 5);
        let x = Tensor::<Flex, 3>::random(
            [batch, prefix + seq, 32],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let tables = |start: usize, len: usize| rotary_tables(batch, start, len);
        let explicit = |queries: usize, keys: usize| explicit_mask(batch, queries, keys, None);
        let close = |a: Tensor<Flex, 3>, b: Tensor<Flex, 3>| {
            a.to_data()
                .assert_approx_eq::<f32>(&b.to_data(), Tolerance::absolute(1e-6))
        };

        let whole = tables(0, prefix + seq);
        close(
            attend(attn, x.clone(), &whole, &AttentionMask::Causal, None),
            attend(
                attn,
                x.clone(),
                &whole,
                &explicit(prefix + seq, prefix + seq),
                None,
            ),
        );

        let cached = |mask: &AttentionMask<Flex>| {
            let mut cache = KvCache::<Flex>::new(1, batch, 2, prefix + seq, 8, DType::F32, &device);
            let head = x.clone().narrow(1, 0, prefix);
            attend(
                attn,
                head,
                &tables(0, prefix),
                &explicit(prefix, prefix),
                Some((&mut cache, 0)),
            );
            cache.advance(prefix);
            let tail = x.clone().narrow(1, prefix, seq);
            attend(
                attn,
                tail,
                &tables(prefix, seq),
                mask,
                Some((&mut cache, 0)),
            )
        };
        close(
            cached(&AttentionMask::Causal),
            cached(&explicit(seq, prefix + seq)),
        );
    }

    /// A decoding step (one query against the cached keys) gives the last row of the full
    /// forward, with a causal mask and with an explicit one that also hides the first key of
    /// row 1, as left padding would.
    #[test]
    fn a_decoding_step_matches_the_full_forward() {
        let device = Default::default();
        let lm = grouped_layer(7);
        let attn = &lm.model.layers[0].self_attn;
        let (batch, len) = (2, 6);
        let x =
            Tensor::<Flex, 3>::random([batch, len, 32], Distribution::Normal(0.0, 1.0), &device);
        let tables = |start: usize, n: usize| rotary_tables(batch, start, n);
        // Key 0 of row 1 hidden when `padded`.
        let mask = |queries: usize, padded: bool| {
            explicit_mask(batch, queries, len, padded.then_some((1, 0)))
        };
        for padded in [false, true] {
            let full = attend(attn, x.clone(), &tables(0, len), &mask(len, padded), None);
            let want = full.narrow(1, len - 1, 1);
            let mut cache = KvCache::<Flex>::new(1, batch, 2, len, 8, DType::F32, &device);
            attend(
                attn,
                x.clone().narrow(1, 0, len - 1),
                &tables(0, len - 1),
                &AttentionMask::Causal,
                Some((&mut cache, 0)),
            );
            cache.advance(len - 1);
            let step_mask = if padded {
                mask(1, true)
            } else {
                AttentionMask::Causal
            };
            let got = attend(
                attn,
                x.clone().narrow(1, len - 1, 1),
                &tables(len - 1, 1),
                &step_mask,
                Some((&mut cache, 0)),
            );
            got.to_data()
                .assert_approx_eq::<f32>(&want.to_data(), Tolerance::absolute(1e-6));
        }
    }

    /// On flex, the layers' mask is `[batch, kv_heads, groups · queries, keys]`: folded row
    /// `g · queries + i` of every key/value head hides what query `i`'s row of the batch's mask
    /// hides (the keys after it, bottom-right aligned, and an explicit mask's hidden keys), with
    /// Burn's `is_causal` turned into that mask and a decoding step's single query unmasked.
    #[test]
    fn flex_layers_get_the_mask_laid_out_in_full() {
        let (batch, queries, keys) = (2, 3, 5);
        let hidden = (1, 0);
        let cases = [
            (AttentionMask::Causal, [2, 2], false),
            (AttentionMask::Causal, [1, 3], false),
            (
                explicit_mask(batch, queries, keys, Some(hidden)),
                [2, 2],
                true,
            ),
            (
                explicit_mask(batch, queries, keys, Some(hidden)),
                [1, 2],
                true,
            ),
        ];
        for (mask, [groups, kv], padded) in cases {
            let laid = LayerMask::new(
                &mask,
                batch,
                [groups, kv],
                queries,
                keys,
                &Default::default(),
            );
            assert!(!laid.causal);
            let forbidden = laid.forbidden.expect("a mask");
            assert_eq!(forbidden.dims(), [batch, kv, groups * queries, keys]);
            let got = forbidden.into_data().into_vec::<bool>().unwrap();
            let mut want = Vec::new();
            for b in 0..batch {
                for _ in 0..kv * groups {
                    for i in 0..queries {
                        want.extend(
                            (0..keys)
                                .map(|j| j > i + keys - queries || (padded && (b, j) == hidden)),
                        );
                    }
                }
            }
            assert_eq!(
                got, want,
                "groups {groups}, kv heads {kv}, explicit {padded}"
            );
        }
        let step = LayerMask::new(
            &AttentionMask::<Flex>::Causal,
            batch,
            [2, 2],
            1,
            keys,
            &Default::default(),
        );
        assert!(step.forbidden.is_none() && !step.causal);
    }
}
