#!/usr/bin/env python3
"""One GRPO step in PyTorch/transformers on CPU, on the workload `benches/grpo_step.rs --dump DIR`
writes (the same policy weights, prompts and settings), timed by the same phases:

  rollout  `generate` with sampling (temperature / top-p / top-k, the stop ids, max new tokens),
           n completions per prompt in one batch, and the sampled tokens' log-probs
  prm      a process-reward forward over every (prompt, completion) row: a copy of the policy's
           backbone (the smoke config's toy PRM has the policy's shape) and a two-layer head,
           step probabilities at every completion position
  update   PPO-clip token-mean loss with the entropy bonus on `--update-completions` of the
           completions (those PROF keeps in our step), micro-batches accumulating gradients,
           grad-norm clipping at 1, one AdamW step per mini-batch, `ppo_epochs` passes

    python benches/torch_grpo_step.py --workload DIR [--threads 2] [--steps 3] [--update-completions K]

Prints one JSON line with the median of --steps timed steps after one untimed step. Rewards are a
fixed pattern (the verifier is not part of the timing on either side), so advantages are ±1.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import Qwen2ForCausalLM


def left_pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r)
        mask[i, width - len(r):] = 1
    return ids, mask


def right_pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def rollout(model, w: dict) -> list[tuple[list[int], list[int], list[float]]]:
    ids, mask = left_pad(w["prompts"], w["pad_id"])
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            temperature=w["temperature"],
            top_p=w["top_p"],
            top_k=w["top_k"] or None,
            max_new_tokens=w["max_new_tokens"],
            num_return_sequences=w["n"],
            eos_token_id=w["stop_ids"],
            pad_token_id=w["pad_id"],
            return_dict_in_generate=True,
            output_logits=True,
        )
    new = out.sequences[:, ids.shape[1]:]
    logps = torch.stack(out.logits, 1).float().div(w["temperature"]).log_softmax(-1)
    token_logps = logps.gather(-1, new.unsqueeze(-1)).squeeze(-1)
    stops = set(w["stop_ids"])
    result = []
    for i in range(new.shape[0]):
        resp = new[i].tolist()
        end = next((t + 1 for t, tok in enumerate(resp) if tok in stops), len(resp))
        prompt = w["prompts"][i // w["n"]]
        result.append((prompt, resp[:end], token_logps[i, :end].tolist()))
    return result


class Prm(torch.nn.Module):
    """A Qwen2 backbone with the PRM's two-layer head (hidden → hidden → 2 classes)."""

    def __init__(self, policy) -> None:
        super().__init__()
        self.backbone = policy.model
        h = policy.config.hidden_size
        self.head = torch.nn.Sequential(torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, 2))

    def forward(self, ids, mask):
        hidden = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.head(hidden).softmax(-1)[..., 1]


def prm_scores(prm: Prm, rows, pad: int) -> list[list[float]]:
    ids, mask = right_pad([p + r for p, r, _ in rows], pad)
    with torch.no_grad():
        probs = prm(ids, mask)
    return [probs[i, len(p): len(p) + len(r)].tolist() for i, (p, r, _) in enumerate(rows)]


def update(model, optimizer, rows, advantages, w: dict) -> None:
    order = list(range(len(rows)))
    per_mini = -(-len(order) // max(w["mini_batches"], 1))
    for _ in range(max(w["ppo_epochs"], 1)):
        for m0 in range(0, len(order), per_mini):
            mini = order[m0: m0 + per_mini]
            tokens = sum(len(rows[i][1]) for i in mini)
            optimizer.zero_grad(set_to_none=True)
            for u0 in range(0, len(mini), w["micro_batch"]):
                micro = mini[u0: u0 + w["micro_batch"]]
                ids, mask = right_pad([rows[i][0] + rows[i][1] for i in micro], w["pad_id"])
                logits = model(input_ids=ids, attention_mask=mask).logits.float() / w["temperature"]
                r_max = max(len(rows[i][1]) for i in micro)
                pos = torch.zeros((len(micro), r_max), dtype=torch.long)
                tgt = torch.zeros((len(micro), r_max), dtype=torch.long)
                rmask = torch.zeros((len(micro), r_max))
                old = torch.zeros((len(micro), r_max))
                for j, i in enumerate(micro):
                    p, r, lp = rows[i]
                    for t in range(len(r)):
                        pos[j, t] = len(p) + t - 1
                        tgt[j, t] = r[t]
                        rmask[j, t] = 1.0
                        old[j, t] = lp[t]
                picked = logits.gather(1, pos.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
                logp_all = picked.log_softmax(-1)
                logp = logp_all.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
                entropy = -(logp_all.exp() * logp_all).sum(-1)
                adv = torch.tensor([advantages[i] for i in micro]).unsqueeze(-1)
                ratio = torch.exp(logp - old)
                clipped = ratio.clamp(1 - w["clip_low"], 1 + w["clip_high"])
                pg = torch.maximum(-adv * ratio, -adv * clipped)
                loss = ((pg - w["entropy_coef"] * entropy) * rmask).sum() / max(tokens, 1)
                loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--update-completions", type=int, help="completions in the update (default all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    w = json.loads((args.workload / "workload.json").read_text())
    model = Qwen2ForCausalLM.from_pretrained(args.workload / "policy", dtype=torch.float32)
    prm = Prm(Qwen2ForCausalLM.from_pretrained(args.workload / "policy", dtype=torch.float32)).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=w["lr"], weight_decay=0.01)

    def step() -> dict:
        t0 = time.perf_counter()
        model.eval()
        rows = rollout(model, w)
        t1 = time.perf_counter()
        if w["uses_prm"]:
            prm_scores(prm, rows, w["pad_id"])
        t2 = time.perf_counter()
        keep = rows[: args.update_completions] if args.update_completions else rows
        advantages = [1.0 if i % 2 == 0 else -1.0 for i in range(len(keep))]
        model.train()
        update(model, optimizer, keep, advantages, w)
        t3 = time.perf_counter()
        return {
            "step_s": t3 - t0,
            "rollout_s": t1 - t0,
            "prm_s": t2 - t1,
            "update_s": t3 - t2,
            "generated_tokens": sum(len(r) for _, r, _ in rows),
        }

    step()  # warm-up
    runs = [step() for _ in range(max(args.steps, 1))]
    result = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    result["rollout_tokens_per_s"] = result["generated_tokens"] / result["rollout_s"]
    result.update(
        {
            "engine": "torch",
            "prompts": len(w["prompts"]),
            "n": w["n"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "update_completions": args.update_completions or len(w["prompts"]) * w["n"],
            "steps": max(args.steps, 1),
            "threads": args.threads,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
