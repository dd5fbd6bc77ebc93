#!/usr/bin/env bash
# prof-grpo against PyTorch/transformers on CPU, f32, at the same thread count, each figure
# measured by our bench and then by PyTorch's in this script, on the same weights:
#   - prefill, decode (batch 1/8/16/32/64), the update's log-prob forward, a training step and PRM
#     scoring on a random ~47M-parameter Qwen2 (hidden 256, 8 layers, 4/2 heads, intermediate
#     1024, Qwen2.5 vocabulary, tied);
#   - one full GRPO step of the smoke config (benches/grpo_step.rs against
#     benches/torch_grpo_step.py on the dumped policy and prompts);
#   - peak resident memory of the smoke step and of a training step of a Qwen2.5-0.5B-shaped model,
#     and of a training step with long responses with and without gradient checkpointing.
# Prints a markdown table (figure, ours, PyTorch, ratio) and writes it, with the raw JSON lines,
# into benches/RESULTS.md, and the same machine, date and table, without them, into README.md
# (each between `<!-- BEGIN compare.sh -->` and `<!-- END compare.sh -->`).
#
#   benches/compare.sh [--threads 2] [--repeats 3] [--rounds 2] [--model-dir /tmp/prof-bench-47m]
#                      [--python PATH] [--out benches/RESULTS.md] [--profile bench|dev] [--quick]
#                      [--features LIST] [--readme README.md] [--readme-only]
#
#   --python   interpreter with torch + transformers (tests/fixtures/requirements.txt); default
#              $PROF_BENCH_PYTHON, else /work/venvs/fixtures/bin/python, else python3
#   --profile  cargo profile of our bench binaries (default bench, i.e. release; `dev` reuses a
#              warm test build, but keeps the dependencies' debug assertions, which slow their
#              matrix kernels about 2x: use it to iterate, not for the table)
#   --features cargo features of our bench binaries (e.g. avx512)
#   --rounds   rounds of the throughput figures (prefill, decode, log-prob forward, PRM scoring,
#              the [4, 256] training step), each round our bench and then PyTorch's; the table
#              keeps each engine's best round. Other tenants of a shared machine slow whichever
#              engine runs at the time by up to 45%; a figure measured twice minutes apart, with
#              the engines alternating, lets a slow spell fall on one round and not decide a ratio
#   --quick    skip the memory figures (0.5B, long responses) and decode at batch 8/32/64
#   --readme-only
#              measure nothing: copy the table recorded in --out into --readme
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL_DIR=/tmp/prof-bench-47m
THREADS=2
REPEATS=3
ROUNDS=2
QUICK=0
MODEL_05B=/tmp/prof-bench-0.5b
OUT="$ROOT/benches/RESULTS.md"
README="$ROOT/README.md"
README_ONLY=0
export PROF_BENCH_PROFILE=${PROF_BENCH_PROFILE:-bench}
export PROF_BENCH_FEATURES=${PROF_BENCH_FEATURES:-}
PYTHON=${PROF_BENCH_PYTHON:-}
if [[ -z "$PYTHON" ]]; then
    if [[ -x /work/venvs/fixtures/bin/python ]]; then PYTHON=/work/venvs/fixtures/bin/python; else PYTHON=python3; fi
fi

while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --full) ;; # the default now; kept for old command lines
        --threads) THREADS=$2; shift ;;
        --repeats) REPEATS=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --model-dir) MODEL_DIR=$2; shift ;;
        --python) PYTHON=$2; shift ;;
        --out) OUT=$2; shift ;;
        --readme) README=$2; shift ;;
        --readme-only) README_ONLY=1 ;;
        --profile) PROF_BENCH_PROFILE=$2; shift ;;
        --features) PROF_BENCH_FEATURES=$2; shift ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Copies the block between the compare.sh markers of $OUT, less its raw JSON lines (the
# <details> element), over the block between the same markers in $README.
sync_readme() {
    local begin='<!-- BEGIN compare.sh -->' end='<!-- END compare.sh -->' block
    grep -qF "$begin" "$README" && grep -qF "$end" "$README" \
        || { echo "compare.sh: $README has no $begin ... $end block" >&2; exit 1; }
    block=$(awk -v b="$begin" -v e="$end" '$0 == e { on = 0 } on && /^<details>/ { skip = 1 }
        on && !skip { print } /^<\/details>/ { skip = 0 } $0 == b { on = 1 }' "$OUT")
    [[ -n "$block" ]] || { echo "compare.sh: no table between the markers of $OUT" >&2; exit 1; }
    BLOCK=$block awk -v b="$begin" -v e="$end" '$0 == e { print ENVIRON["BLOCK"]; on = 0 } !on { print }
        $0 == b { on = 1 }' "$README" >"$README.tmp"
    mv "$README.tmp" "$README"
    echo "compare.sh: the table in $README now matches $OUT" >&2
}

if [[ $README_ONLY == 1 ]]; then
    sync_readme
    exit 0
fi

cd "$ROOT"
TORCH_REF="$ROOT/benches/torch_reference.py"
"$PYTHON" -c 'import torch, transformers' 2>/dev/null || {
    echo "compare.sh: $PYTHON lacks torch/transformers; install tests/fixtures/requirements.txt or pass --python" >&2
    exit 1
}

# 1. The model (written once; reused while its config.json exists).
if [[ ! -f "$MODEL_DIR/config.json" ]]; then
    echo "== making the 47M model in $MODEL_DIR" >&2
    "$PYTHON" "$TORCH_REF" --make-model "$MODEL_DIR" --shape 47m >&2
fi

# 2. Our bench binary (release profile), built once.
echo "== building the throughput bench" >&2
BUILT=$(cargo bench --profile "$PROF_BENCH_PROFILE" --features "$PROF_BENCH_FEATURES" --no-run --bench throughput --bench prm_scoring --bench grpo_step \
    --message-format=json)
# shellcheck source=benches/cargo_executable.sh
source "$ROOT/benches/cargo_executable.sh"
exe() { cargo_executable "$1" <<<"$BUILT"; }
BIN=$(exe throughput)
STEP_BIN=$(exe grpo_step)
[[ -x "$BIN" && -x "$STEP_BIN" ]] || { echo "compare.sh: could not build the benches (run cargo bench --no-run)" >&2; exit 1; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

# One figure group: our bench for the batch sizes, then torch's for each batch and mode.
measure() { # batches(comma) prompt_len new_tokens modes(comma)
    local batches=$1 p=$2 n=$3 modes=$4 b m
    echo "== ours:  batch $batches, prompt $p, new $n, $modes" >&2
    RAYON_NUM_THREADS=$THREADS "$BIN" --model "$MODEL_DIR" --batch "$batches" --prompt-len "$p" \
        --new-tokens "$n" --mode "$modes" --repeats "$REPEATS" --dtype f32 >>"$RAW"
    for b in ${batches//,/ }; do
        for m in ${modes//,/ }; do
            echo "== torch: batch $b, prompt $p, new $n, $m" >&2
            OMP_NUM_THREADS=$THREADS "$PYTHON" "$TORCH_REF" --model "$MODEL_DIR" --batch "$b" --prompt-len "$p" \
                --new-tokens "$n" --mode "$m" --repeats "$REPEATS" --threads "$THREADS" >>"$RAW"
        done
    done
}

for ((round = 1; round <= ROUNDS; round++)); do
    echo "== round $round of $ROUNDS" >&2
    measure 1,16 64 32 prefill,decode
    if [[ $QUICK == 0 ]]; then
        measure 8,32,64 64 32 decode
    fi
    measure 1,16 64 192 logprob
    measure 16 64 192 prm
    measure 4 64 192 train
done

# One GRPO step of the smoke config: ours (dumping the workload), then PyTorch on it.
STEP_DIR=$(mktemp -d)
trap 'rm -f "$RAW"; rm -rf "$STEP_DIR"' EXIT
echo "== ours:  one GRPO step of the smoke config" >&2
RAYON_NUM_THREADS=$THREADS "$STEP_BIN" --steps "$REPEATS" --dump "$STEP_DIR" | tee -a "$RAW" >"$STEP_DIR/ours.json"
KEPT=$("$PYTHON" -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["update_completions"]))' "$STEP_DIR/ours.json")
echo "== torch: one GRPO step of the smoke config ($KEPT completions in the update)" >&2
OMP_NUM_THREADS=$THREADS "$PYTHON" "$ROOT/benches/torch_grpo_step.py" --workload "$STEP_DIR" --threads "$THREADS" \
    --steps "$REPEATS" --update-completions "$KEPT" >>"$RAW"

# Memory of a training step of a Qwen2.5-0.5B-shaped model ([1, 256]), one process per engine.
if [[ $QUICK == 0 ]]; then
    if [[ ! -f "$MODEL_05B/config.json" ]]; then
        echo "== making the 0.5B model in $MODEL_05B" >&2
        "$PYTHON" "$TORCH_REF" --make-model "$MODEL_05B" --shape 0.5b >&2
    fi
    echo "== ours:  0.5B training step" >&2
    RAYON_NUM_THREADS=$THREADS "$BIN" --model "$MODEL_05B" --batch 1 --prompt-len 64 --new-tokens 192 \
        --mode train --repeats "$REPEATS" --dtype f32 | sed 's/^{/{"shape":"0.5b",/' >>"$RAW"
    echo "== torch: 0.5B training step" >&2
    OMP_NUM_THREADS=$THREADS "$PYTHON" "$TORCH_REF" --model "$MODEL_05B" --batch 1 --prompt-len 64 \
        --new-tokens 192 --mode train --repeats "$REPEATS" --threads "$THREADS" | sed 's/^{/{"shape":"0.5b",/' >>"$RAW"
fi

# Memory of a training step with long responses ([4, 1024], 768 response tokens), with the
# decoder layers' activations kept and with them recomputed (gradient checkpointing); one process
# per engine and setting.
if [[ $QUICK == 0 ]]; then
    for gc in "" --gradient-checkpointing; do
        tag=long${gc:+-gc}
        echo "== ours:  training step [4, 1024] $gc" >&2
        RAYON_NUM_THREADS=$THREADS "$BIN" --model "$MODEL_DIR" --batch 4 --prompt-len 256 --new-tokens 768 \
            --mode train --repeats "$REPEATS" --dtype f32 $gc | sed "s/^{/{\"shape\":\"$tag\",/" >>"$RAW"
        echo "== torch: training step [4, 1024] $gc" >&2
        OMP_NUM_THREADS=$THREADS "$PYTHON" "$TORCH_REF" --model "$MODEL_DIR" --batch 4 --prompt-len 256 \
            --new-tokens 768 --mode train --repeats "$REPEATS" --threads "$THREADS" $gc \
            | sed "s/^{/{\"shape\":\"$tag\",/" >>"$RAW"
    done
fi

# 3. PRM scoring (ours only; criterion).
echo "== PRM scoring (criterion)" >&2
RAYON_NUM_THREADS=$THREADS cargo bench --profile "$PROF_BENCH_PROFILE" --features "$PROF_BENCH_FEATURES" --bench prm_scoring -- --noplot >&2
CRITERION_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/criterion/prm_scoring/micro_batch"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# 4. The table.
CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CPUS=$(nproc --all)
RUSTC=$(rustc --version)
"$PYTHON" - "$RAW" "$OUT" "$CRITERION_DIR" "$THREADS" "$REPEATS" "$CPU_MODEL" "$CPUS" "$RUSTC" \
    "$LOAD_BEFORE" "$LOAD_AFTER" "$QUICK" "$ROUNDS" <<'PY'
import datetime, json, os, platform, re, sys

raw, out, crit, threads, repeats, cpu, cpus, rustc, load0, load1, quick, rounds = sys.argv[1:]
lines = [json.loads(l) for l in open(raw) if l.strip().startswith("{")]

def find(engine, key, batch=None, seq=None, shape=None, step=False, higher_better=True):
    """The engine's best figure among the matching lines (one per round), or None."""
    found = []
    for l in lines:
        if l.get("engine") != engine or key not in l or l.get("shape") != shape:
            continue
        if step != ("step_s" in l):
            continue
        if batch is not None and l.get("batch") != batch:
            continue
        if seq is not None and l.get("prompt_len", 0) + l.get("new_tokens", 0) != seq:
            continue
        found.append(l[key])
    if not found:
        return None
    return max(found) if higher_better else min(found)

targets = {("decode", 1): 2.0, ("decode", 16): 1.2, ("logprob", 16): 2.0}
rows = []
def fmt(x, unit=""):
    if x is None:
        return "—"
    return f"{x:,.2f}{unit}" if abs(x) < 10 else f"{x:,.0f}{unit}"

def row(name, key, batch=None, mode=None, seq=None, shape=None, higher_better=True, scale=1.0, unit="",
        step=False):
    ours = find("prof-grpo", key, batch, seq, shape, step, higher_better)
    torch = find("torch", key, batch, seq, shape, step, higher_better)
    ours = ours * scale if ours is not None else None
    torch = torch * scale if torch is not None else None
    if ours and torch:
        ratio = f"{ours / torch:.2f}×" if higher_better else f"{torch / ours:.2f}×"
    else:
        ratio = "—"
    t = targets.get((mode, batch))
    rows.append(f"| {name} | {fmt(ours, unit)} | {fmt(torch, unit)} | {ratio} | {'≥ %.1f×' % t if t else ''} |")

for b in (1, 16):
    row(f"prefill tokens/s, batch {b} × 64", "prefill_tokens_per_s", b, "prefill")
for b in (1, 16) if quick == "1" else (1, 8, 16, 32, 64):
    row(f"decode tokens/s, batch {b} (64-token prompt, 32 new)", "decode_tokens_per_s", b, "decode")
for b in (1, 16):
    row(f"log-prob forward tokens/s, [{b}, 256] (192 response tokens)", "logprob_tokens_per_s", b, "logprob", 256)
row("training step tokens/s (log-prob forward, backward, AdamW), [4, 256]", "train_tokens_per_s", 4, "train", 256)
row("PRM scoring responses/s, 16 rows of 256 tokens (a PRM of the 47M shape)", "prm_responses_per_s", 16, "prm", 256)
row("GRPO step of the smoke config, seconds (rollout + PRM + update)", "step_s", higher_better=False, unit=" s", step=True)
row("— rollout tokens/s (16 prompts × 8 samples)", "rollout_tokens_per_s", step=True)
row("— rollout seconds", "rollout_s", higher_better=False, unit=" s", step=True)
row("— PRM scoring seconds", "prm_s", higher_better=False, unit=" s", step=True)
row("— update seconds", "update_s", higher_better=False, unit=" s", step=True)
row("peak RSS of the smoke GRPO step process, MiB", "peak_rss_bytes", higher_better=False, scale=1 / 2**20,
    step=True)
if quick != "1":
    row("peak RSS of a Qwen2.5-0.5B-shaped training step [1, 256], MiB", "peak_rss_bytes", shape="0.5b",
        higher_better=False, scale=1 / 2**20)
    row("— its tokens/s", "train_tokens_per_s", shape="0.5b")
    row("peak RSS of a training step [4, 1024] (768 response tokens), MiB", "peak_rss_bytes", shape="long",
        higher_better=False, scale=1 / 2**20)
    row("— its tokens/s", "train_tokens_per_s", shape="long")
    row("— with gradient checkpointing (both engines), peak RSS, MiB", "peak_rss_bytes", shape="long-gc",
        higher_better=False, scale=1 / 2**20)
    row("— with gradient checkpointing, tokens/s", "train_tokens_per_s", shape="long-gc")

prm = []
for mb in (1, 16):
    path = os.path.join(crit, str(mb), "new", "estimates.json")
    try:
        ns = json.load(open(path))["median"]["point_estimate"]
        prm.append(f"| PRM scoring responses/s, micro-batch {mb} (tiny PRM fixture, 16 responses of 48–128 tokens) | {16 / (ns * 1e-9):,.0f} | — | — | |")
    except (OSError, KeyError, ValueError):
        prm.append(f"| PRM scoring responses/s, micro-batch {mb} | (no criterion estimate at {path}) | — | — | |")

torch_line = next((l for l in lines if l["engine"] == "torch"), {})
busy = max(float(load0.split()[0]), float(load1.split()[0])) > 2.5
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
block = [
    f"Machine: {cpu}, {cpus} logical CPUs; {threads} threads for both engines "
    f"(`RAYON_NUM_THREADS={threads}` / `torch.set_num_threads({threads})`), f32, median of {repeats} runs after one warm-up"
    + (f", the better of {rounds} rounds (ours, then PyTorch's, in each) for the figures above the GRPO step; "
       if int(rounds) > 1 else "; ")
    + f"our binaries built with cargo profile `{os.environ.get('PROF_BENCH_PROFILE', 'bench')}`"
    + (f" and `CARGO_PROFILE_DEV_OPT_LEVEL={os.environ['CARGO_PROFILE_DEV_OPT_LEVEL']}`"
       if os.environ.get("CARGO_PROFILE_DEV_OPT_LEVEL") else "")
    + (f", cargo features `{os.environ['PROF_BENCH_FEATURES']}`"
       if os.environ.get("PROF_BENCH_FEATURES") else "") + ". ",
    f"Date: {date}. Versions: prof-grpo on Burn 0.21.0 (flex backend), {rustc}; "
    f"torch {torch_line.get('torch', '?')}, transformers {torch_line.get('transformers', '?')} "
    f"(attention: {torch_line.get('attn_implementation', '?')}), Python {platform.python_version()}. ",
    f"Load average before/after: {load0} / {load1}"
    + (" — **the machine was busy (load > 2.5) while measuring; figures are noisy.**" if busy else "."),
    "",
    "Ratios are ours over PyTorch for rates (tokens/s, responses/s) and PyTorch over ours for "
    "seconds and memory, so above 1× always means prof-grpo is ahead.",
    "",
    "| figure | ours | PyTorch | ratio | target |",
    "|---|---:|---:|---:|---|",
    *rows,
    *prm,
    "",
    "<details><summary>raw JSON lines</summary>",
    "",
    "```",
    *[json.dumps(l) for l in lines],
    "```",
    "</details>",
]
text = "\n".join(block)
print(text)

begin, end = "<!-- BEGIN compare.sh -->", "<!-- END compare.sh -->"
doc = open(out).read() if os.path.exists(out) else f"# Throughput\n\n{begin}\n{end}\n"
if begin not in doc:
    doc += f"\n{begin}\n{end}\n"
pre, rest = doc.split(begin, 1)
post = rest.split(end, 1)[1] if end in rest else ""
open(out, "w").write(f"{pre}{begin}\n{text}\n{end}{post}")
print(f"\nwrote {out}", file=sys.stderr)
PY
sync_readme
