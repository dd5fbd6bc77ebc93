//! The attention as one operation of Burn's autodiff graph on the flex backend: the forward
//! pass keeps q, k, v (shared, not copied), the outputs and the rows' log-sum-exps, and the
//! backward pass hands q, k and v their gradients.

use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::TensorData;

use super::backward::{Kept, backward};
use super::forward::{Forward, forward};
use super::scores::{Inputs, Shape};
use super::sight::Sight;
use crate::host::flex::TrackedFlexTensor;

/// One attention call's sizes and visibility.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The sizes, with batch rows and heads counted together as heads.
    pub shape: Shape,
    /// `[heads, rows, keys]` booleans, contiguous, true where attention is forbidden.
    pub forbidden: Option<FlexTensor>,
    /// Burn's `is_causal`: keys − rows.
    pub causal_offset: Option<usize>,
}

/// The first `len` elements of a contiguous f32 flex tensor.
fn elements(t: &FlexTensor, len: usize) -> &[f32] {
    let start = t.layout().start_offset();
    &t.storage::<f32>()[start..start + len]
}

/// The first `len` elements of a contiguous boolean flex tensor, one byte each.
fn flags(t: &FlexTensor, len: usize) -> &[u8] {
    let start = t.layout().start_offset();
    &t.storage::<u8>()[start..start + len]
}

/// Runs `f` on the host views of `q`, `k` and `v` (contiguous).
fn with_inputs<R>(
    [q, k, v]: [&FlexTensor; 3],
    problem: &Problem,
    f: impl FnOnce(&Inputs<'_>) -> R,
) -> R {
    let Shape {
        heads,
        rows,
        keys,
        dim,
    } = problem.shape;
    let inputs = Inputs {
        q: elements(q, heads * rows * dim),
        k: elements(k, heads * keys * dim),
        v: elements(v, heads * keys * dim),
        shape: problem.shape,
        sight: Sight {
            rows,
            keys,
            causal_offset: problem.causal_offset,
            forbidden: problem
                .forbidden
                .as_ref()
                .map(|m| flags(m, heads * rows * keys)),
        },
    };
    f(&inputs)
}

/// A flex tensor holding `values` in `shape`.
fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// The forward pass on flex tensors laid out contiguously: the outputs `[.., rows, dim]` (shaped like
/// `q`) and the rows' log-sum-exps.
pub fn forward_flex(qkv: [&FlexTensor; 3], problem: &Problem) -> (FlexTensor, Vec<f32>) {
    let Forward { out, log_sum_exp } = with_inputs(qkv, problem, forward);
    (tensor(out, qkv[0].layout().shape().to_vec()), log_sum_exp)
}

/// What the backward pass needs.
#[derive(Debug)]
struct Saved {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    out: FlexTensor,
    log_sum_exp: Vec<f32>,
    problem: Problem,
}

#[derive(Debug)]
struct FusedAttention;

impl Backward<Flex, 3> for FusedAttention {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let d_out = grads.consume::<Flex>(&ops.node).to_contiguous();
        let saved = &ops.state;
        let shape = saved.problem.shape;
        let d_out = elements(&d_out, shape.heads * shape.rows * shape.dim);
        let kept = Kept {
            out: elements(&saved.out, d_out.len()),
            log_sum_exp: &saved.log_sum_exp,
        };
        let qkv = [&saved.q, &saved.k, &saved.v];
        let g = with_inputs(qkv, &saved.problem, |x| backward(x, kept, d_out));
        for ((parent, grad), like) in ops.parents.iter().zip([g.dq, g.dk, g.dv]).zip(qkv) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, tensor(grad, like.layout().shape().to_vec()));
            }
        }
    }
}

/// The attention of `q`, `k`, `v` as one operation of the graph.
pub fn forward_tracked([q, k, v]: [TrackedFlexTensor; 3], problem: Problem) -> TrackedFlexTensor {
    let [cq, ck, cv] = [&q, &k, &v].map(|t| t.primitive.to_contiguous());
    let (out, log_sum_exp) = forward_flex([&cq, &ck, &cv], &problem);
    match FusedAttention
        .prepare::<NoCheckpointing>([q.node.clone(), k.node.clone(), v.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let saved = Saved {
                q: cq,
                k: ck,
                v: cv,
                out: out.clone(),
                log_sum_exp,
                problem,
            };
            prep.finish(Arc::new(saved), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}
