#!/usr/bin/env bash
# Throughput of prof-grpo against PyTorch/transformers on the same random ~47M-parameter Qwen2
# (hidden 256, 8 layers, 4/2 heads, intermediate 1024, Qwen2.5 vocabulary, tied), on CPU, f32,
# at the same thread count, each figure measured by our bench and then by torch's in this script.
# Prints a markdown table (figure, ours, PyTorch, ratio) and writes it into benches/RESULTS.md.
#
#   benches/compare.sh [--full] [--threads 2] [--repeats 3] [--model-dir /tmp/prof-bench-47m]
#                      [--python PATH] [--out benches/RESULTS.md]
#
#   --full     also decode at batch 8, 32 and 64
#   --python   interpreter with torch + transformers (tests/fixtures/requirements.txt); default
#              $PROF_BENCH_PYTHON, else /work/venvs/fixtures/bin/python, else python3
#   --profile  cargo profile of our bench binaries (default bench, i.e. release; `dev` reuses a
#              warm test build: dependencies at opt-level 3, this crate at 1)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL_DIR=/tmp/prof-bench-47m
THREADS=2
REPEATS=3
FULL=0
OUT="$ROOT/benches/RESULTS.md"
export PROF_BENCH_PROFILE=${PROF_BENCH_PROFILE:-bench}
PYTHON=${PROF_BENCH_PYTHON:-}
if [[ -z "$PYTHON" ]]; then
    if [[ -x /work/venvs/fixtures/bin/python ]]; then PYTHON=/work/venvs/fixtures/bin/python; else PYTHON=python3; fi
fi

while [[ $# -gt 0 ]]; do
    case "$1" in
        --full) FULL=1 ;;
        --threads) THREADS=$2; shift ;;
        --repeats) REPEATS=$2; shift ;;
        --model-dir) MODEL_DIR=$2; shift ;;
        --python) PYTHON=$2; shift ;;
        --out) OUT=$2; shift ;;
        --profile) PROF_BENCH_PROFILE=$2; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

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
BIN=$(cargo bench --profile "$PROF_BENCH_PROFILE" --no-run --bench throughput --bench prm_scoring --message-format=json \
    | grep '"name":"throughput"' | grep -o '"executable":"[^"]*"' | tail -1 | sed 's/.*:"\(.*\)"/\1/')
[[ -x "$BIN" ]] || { echo "compare.sh: could not build benches/throughput.rs (run cargo bench --no-run)" >&2; exit 1; }

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

measure 1,16 64 32 prefill,decode
measure 1,16 64 192 logprob
if [[ $FULL == 1 ]]; then
    measure 8,32,64 64 32 decode
fi

# 3. PRM scoring (ours only; criterion).
echo "== PRM scoring (criterion)" >&2
RAYON_NUM_THREADS=$THREADS cargo bench --profile "$PROF_BENCH_PROFILE" --bench prm_scoring -- --noplot >&2
CRITERION_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/criterion/prm_scoring/micro_batch"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# 4. The table.
CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CPUS=$(nproc --all)
RUSTC=$(rustc --version)
"$PYTHON" - "$RAW" "$OUT" "$CRITERION_DIR" "$THREADS" "$REPEATS" "$CPU_MODEL" "$CPUS" "$RUSTC" \
    "$LOAD_BEFORE" "$LOAD_AFTER" "$FULL" <<'PY'
import datetime, json, os, platform, re, sys

raw, out, crit, threads, repeats, cpu, cpus, rustc, load0, load1, full = sys.argv[1:]
lines = [json.loads(l) for l in open(raw) if l.strip().startswith("{")]

def find(engine, batch, key, seq=None):
    for l in lines:
        if l["engine"] == engine and l["batch"] == batch and key in l:
            if seq is None or l["prompt_len"] + l["new_tokens"] == seq:
                return l[key]
    return None

targets = {("decode", 1): 2.0, ("decode", 16): 1.2, ("logprob", 16): 2.0}
rows = []
def row(name, key, batch, mode, seq=None):
    ours, torch = find("prof-grpo", batch, key, seq), find("torch", batch, key, seq)
    ratio = f"{ours / torch:.2f}×" if ours and torch else "—"
    t = targets.get((mode, batch))
    rows.append(f"| {name} | {ours:,.0f} | {torch:,.0f} | {ratio} | {'≥ %.1f×' % t if t else ''} |"
                if ours and torch else f"| {name} | {ours or '—'} | {torch or '—'} | — | |")

for b in (1, 16):
    row(f"prefill tokens/s, batch {b} × 64", "prefill_tokens_per_s", b, "prefill")
for b in (1, 8, 16, 32, 64) if full == "1" else (1, 16):
    row(f"decode tokens/s, batch {b} (64-token prompt, 32 new)", "decode_tokens_per_s", b, "decode")
for b in (1, 16):
    row(f"log-prob forward tokens/s, [{b}, 256] (192 response tokens)", "logprob_tokens_per_s", b, "logprob", 256)

prm = []
for mb in (1, 16):
    path = os.path.join(crit, str(mb), "new", "estimates.json")
    try:
        ns = json.load(open(path))["median"]["point_estimate"]
        prm.append(f"| PRM scoring responses/s, micro-batch {mb} (tiny PRM, 16 responses of 48–128 tokens) | {16 / (ns * 1e-9):,.0f} | — | — | |")
    except (OSError, KeyError, ValueError):
        prm.append(f"| PRM scoring responses/s, micro-batch {mb} | (no criterion estimate at {path}) | — | — | |")

torch_line = next((l for l in lines if l["engine"] == "torch"), {})
busy = max(float(load0.split()[0]), float(load1.split()[0])) > 2.5
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
block = [
    f"Machine: {cpu}, {cpus} logical CPUs; {threads} threads for both engines "
    f"(`RAYON_NUM_THREADS={threads}` / `torch.set_num_threads({threads})`), f32, median of {repeats} runs after one warm-up; "
    f"our binaries built with cargo profile `{os.environ.get('PROF_BENCH_PROFILE', 'bench')}`. ",
    f"Date: {date}. Versions: prof-grpo on Burn 0.21.0 (flex backend), {rustc}; "
    f"torch {torch_line.get('torch', '?')}, transformers {torch_line.get('transformers', '?')} "
    f"(attention: {torch_line.get('attn_implementation', '?')}), Python {platform.python_version()}. ",
    f"Load average before/after: {load0} / {load1}"
    + (" — **the machine was busy (load > 2.5) while measuring; figures are noisy.**" if busy else "."),
    "",
    "| figure | ours | PyTorch | ratio (ours / PyTorch) | target |",
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
