#!/usr/bin/env python3
"""PyTorch/transformers reference throughput for a Qwen2 checkpoint on CPU, in f32.

Measure (prints one JSON line):

    python benches/torch_reference.py --model DIR --batch 16 --prompt-len 64 --new-tokens 32 --threads 2 \
        [--mode prefill|decode|logprob] [--repeats 3]

  prefill  one forward over a [batch, prompt-len] batch of random ids that fills a KV cache and keeps
           the logits of the last position only (as `generate` does)
  decode   greedy `generate` with a KV cache and min_new_tokens = max_new_tokens = new-tokens, so no
           sequence stops early; the time from the first to the last new token over the
           (new-tokens - 1) cached single-token steps (the first token comes from the prefill)
  logprob  the policy log-prob pass of RL training on a [batch, prompt-len + new-tokens] batch: full
           forward keeping the logits of the last new-tokens + 1 positions, log_softmax, gather of the
           next tokens (as TRL's GRPO trainer does), without gradients
  prm      PRM scoring of [batch, prompt-len + new-tokens] rows by a PRM of the model's shape
  train    the same forward with gradients, backward of the mean response log-prob, one AdamW step
Without --mode prefill, decode and logprob are measured. Each figure is the median of --repeats timed runs after one
untimed warm-up run (two for train).

Make a random bench model (not committed; written on demand):

    python benches/torch_reference.py --make-model DIR --shape 47m|1.5b
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
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList, Qwen2Config, Qwen2ForCausalLM

# What every bench shape shares: the Qwen2.5 vocabulary and special ids, tied embeddings.
COMMON = dict(
    vocab_size=151936,
    max_position_embeddings=4096,
    rope_theta=10000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
    bos_token_id=151643,
    eos_token_id=151643,
)

SHAPES = {
    # ~47M parameters, most of them in the (tied) 151936-token embedding of the Qwen2.5 vocabulary.
    "47m": dict(COMMON, hidden_size=256, intermediate_size=1024, num_hidden_layers=8,
                num_attention_heads=4, num_key_value_heads=2),
    # Qwen2.5-0.5B's architecture (random weights).
    "0.5b": dict(COMMON, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2),
    # Qwen2.5-Math-1.5B's architecture (random weights).
    "1.5b": dict(COMMON, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                 num_attention_heads=12, num_key_value_heads=2),
}


def make_model(out: Path, shape: str, seed: int) -> None:
    torch.manual_seed(seed)
    config = Qwen2Config(**SHAPES[shape])
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=151643, eos_token_id=[151645, 151643], pad_token_id=151643
    )
    model.save_pretrained(out, safe_serialization=True)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"made": str(out), "shape": shape, "parameters": params}))


class StepClock(LogitsProcessor):
    """Records the time at which each new token's logits are ready (called once per decoding step)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, input_ids, scores):
        self.times.append(time.perf_counter())
        return scores


def random_ids(vocab: int, batch: int, length: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (batch, length), generator=g)


def median_time(fn, repeats: int, warmups: int = 1) -> float:
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_prefill(model, ids, repeats: int) -> dict:
    def run():
        with torch.no_grad():
            model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=1)

    t = median_time(run, repeats)
    return {"prefill_s": t, "prefill_tokens_per_s": ids.numel() / t}


def bench_decode(model, ids, new_tokens: int, repeats: int) -> dict:
    if new_tokens < 2:
        raise SystemExit("--new-tokens must be at least 2 to time decoding")
    gen = GenerationConfig(
        do_sample=False,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        use_cache=True,
        pad_token_id=model.config.eos_token_id if model.config.eos_token_id is not None else 0,
    )

    def run():
        clock = StepClock()
        with torch.no_grad():
            t0 = time.perf_counter()
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                generation_config=gen,
                logits_processor=LogitsProcessorList([clock]),
            )
            t1 = time.perf_counter()
        assert out.shape[1] == ids.shape[1] + new_tokens, out.shape
        assert len(clock.times) == new_tokens, len(clock.times)
        return clock.times[-1] - clock.times[0], t1 - t0

    run()  # warm-up
    runs = [run() for _ in range(repeats)]
    decode_s = statistics.median(r[0] for r in runs)
    total_s = statistics.median(r[1] for r in runs)
    batch = ids.shape[0]
    return {
        "decode_s": decode_s,
        "decode_tokens_per_s": batch * (new_tokens - 1) / decode_s,
        "generate_s": total_s,
        "generate_new_tokens_per_s": batch * new_tokens / total_s,
    }


def bench_logprob(model, ids, new_tokens: int, repeats: int) -> dict:
    mask = torch.ones_like(ids)
    keep = new_tokens

    def run():
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep + 1).logits
            logits = logits[:, :-1, :]
            targets = ids[:, -keep:]
            logps = torch.log_softmax(logits.float(), dim=-1)
            torch.gather(logps, -1, targets.unsqueeze(-1)).squeeze(-1)

    t = median_time(run, repeats)
    return {"logprob_s": t, "logprob_tokens_per_s": ids.numel() / t, "logprob_seq_len": ids.shape[1]}


def bench_train(model, ids, new_tokens: int, repeats: int, checkpointing: bool) -> dict:
    """The update's step: the log-prob forward with gradients, backward of the mean response
    log-prob, one AdamW step (as benches/throughput.rs `--mode train`); with `checkpointing`,
    transformers' gradient checkpointing of the decoder layers (as `--gradient-checkpointing`)."""
    mask = torch.ones_like(ids)
    keep = new_tokens
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

    def run():
        logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep + 1).logits
        logps = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)
        token_logps = torch.gather(logps, -1, ids[:, -keep:].unsqueeze(-1)).squeeze(-1)
        loss = -token_logps.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    # Two untimed steps, as benches/throughput.rs: AdamW's first step creates its moments.
    t = median_time(run, repeats, warmups=2)
    model.eval()
    return {"train_s": t, "train_tokens_per_s": ids.numel() / t, "train_seq_len": ids.shape[1],
            "gradient_checkpointing": checkpointing}


def bench_prm(model, ids, prompt_len: int, repeats: int) -> dict:
    """PRM scoring (as benches/throughput.rs `--mode prm`): a Qwen2 backbone of the model's shape
    with a random two-layer head (hidden → hidden → 2), a step separator (id 0) every 16 response
    tokens, P(good) read at the separators, one micro-batch."""
    torch.manual_seed(0)
    h = model.config.hidden_size
    head = torch.nn.Sequential(torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, 2))
    rows = ids.clone()
    rows[rows == 0] = 1
    sep = torch.zeros_like(rows, dtype=torch.bool)
    sep[:, prompt_len + 15 :: 16] = True
    rows[sep] = 0
    mask = torch.ones_like(rows)

    def run():
        with torch.no_grad():
            hidden = model.model(input_ids=rows, attention_mask=mask).last_hidden_state
            probs = head(hidden).float().softmax(-1)[..., 1]
            [probs[i][rows[i] == 0].tolist() for i in range(rows.shape[0])]

    t = median_time(run, repeats)
    b = ids.shape[0]
    return {"prm_s": t, "prm_responses_per_s": b / t, "prm_tokens_per_s": ids.numel() / t,
            "prm_seq_len": ids.shape[1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="checkpoint directory written by save_pretrained")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", choices=["prefill", "decode", "logprob", "train", "prm"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--make-model", type=Path, metavar="DIR", help="write a random bench model and exit")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="47m")
    ap.add_argument("--gradient-checkpointing", action="store_true",
                    help="train: recompute the decoder layers in the backward pass")
    args = ap.parse_args()

    if args.make_model is not None:
        make_model(args.make_model, args.shape, args.seed)
        return
    if args.model is None:
        ap.error("--model DIR or --make-model DIR is required")

    torch.set_num_threads(args.threads)
    model = Qwen2ForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    vocab = model.config.vocab_size
    prompt = random_ids(vocab, args.batch, args.prompt_len, args.seed)
    full = random_ids(vocab, args.batch, args.prompt_len + args.new_tokens, args.seed + 1)

    result = {
        "engine": "torch",
        "model": str(args.model),
        "batch": args.batch,
        "prompt_len": args.prompt_len,
        "new_tokens": args.new_tokens,
        "threads": args.threads,
        "dtype": "float32",
        "attn_implementation": model.config._attn_implementation,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    modes = [args.mode] if args.mode else ["prefill", "decode", "logprob"]
    if "prefill" in modes:
        result.update(bench_prefill(model, prompt, args.repeats))
    if "decode" in modes:
        result.update(bench_decode(model, prompt, args.new_tokens, args.repeats))
    if "logprob" in modes:
        result.update(bench_logprob(model, full, args.new_tokens, args.repeats))
    if "prm" in modes:
        result.update(bench_prm(model, full, args.prompt_len, args.repeats))
    if "train" in modes:
        result.update(bench_train(model, full, args.new_tokens, args.repeats, args.gradient_checkpointing))
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
