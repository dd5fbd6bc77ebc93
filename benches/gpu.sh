#!/usr/bin/env bash
# GPU throughput of a Qwen2.5-Math-1.5B-shaped model (random weights, bf16) on the CUDA backend,
# against the limits of the card it finds: decode tokens/s against the HBM-bandwidth bound (every
# weight is read once per decoding step) and training tokens/s against the bf16 FLOP bound
# (6 · parameters FLOPs per token). With a prebuilt binary the whole script ends within the budget.
#
#   benches/gpu.sh [--bin PATH] [--fallback-bin PATH] [--model-dir DIR] [--out-dir DIR]
#                  [--budget SECONDS] [--backend NAME --shape NAME --dtype NAME] [--kernel-profile]
#                  [--decode-only] [--matmul-sweep]
#
#   --bin        the throughput bench built with CUDA, e.g. from `cargo bench --no-run
#                --no-default-features --features cuda --bench throughput` (the GPU machine then
#                needs neither cargo, Python nor internet); without it the script builds that one
#                first, and the budget starts after the build
#   --fallback-bin the same bench built with autotuning: when a step's bench panics (exit status
#                101, e.g. a matmul that CubeCL's untuned `Auto` strategy cannot set up), that step
#                is rerun with it, and so are the steps after it; the table marks their rows
#   --model-dir  the random model, made by the binary when missing (default /tmp/prof-bench-SHAPE)
#   --out-dir    where gpu.jsonl, gpu.log and gpu-results.md go (default $OUT when set, else
#                /tmp/prof-gpu-bench)
#   --budget     seconds for everything after the build (default 470, under 8 minutes)
#   --backend, --shape, --dtype
#                what to run instead of cuda, 1.5b and bf16: a dry run of the whole script on a
#                machine without a GPU, e.g. `--backend flex --shape tiny --dtype f32` with a stub
#                `nvidia-smi` on PATH (benches/gpu_dry_run.sh does this)
#   --kernel-profile
#                instead of the table, where the time of a decoding step goes: decode at batch 1
#                and 64 (16 new tokens) under CubeCL's profiling logger, which times every kernel
#                on the device; kernel-profile.md sums the times per kernel (matmuls by the tile
#                families CubeCL picked), kernels-b*.log.gz keep every kernel run; batch 1 also
#                with the weights in [out, in] order (kernels-b1-out-in.log.gz), and on Burn's
#                kernels alone (kernels-b1-burn.log.gz; the others with the model's own CubeCL
#                kernels, see below); and the same for the training step at [8, 512]
#                (kernels-train.log.gz)
#   --decode-only
#                only the decoding rows, at batch 1 and 8, e.g. to compare a build
#                with autotuning, whose kernel compilation would not leave time for the rest
#   --matmul-sweep
#                instead of the table, the model's matrix products on each of CubeCL's matmul
#                kernels (the bench's --mode matmul) against Burn's choice: one row (a decoding
#                step's) of q_proj, gate_proj, down_proj and lm_head on the matrix-vector
#                kernels, then 4,096 rows (a [8, 512] batch) of gate_proj on the tensor-core
#                kernels, including training's weight gradient, then 64 rows on the unit and
#                simple tiling kernels; each in both weight orders. matmul-sweep.md gives, per
#                product, Burn's time, the fastest kernel that ran and the ratio
#
# Decode runs with the linear layers' weights as loaded ([in, out] row-major) and, at batch 1
# and 8, in the checkpoint's [out, in] order read transposed (the bench's --weight-layout out-in),
# each with CubeCL's kernels that the model queues itself (src/model/decode_kernels.rs: the
# plane-parallel matrix-vector kernel for a single token's products by [out, in] weights and the
# tied head's, the flash-attention kernel), and at batch 1 and 8 once more on Burn's kernels alone
# (the build's own choice: the tiling matmul and a dozen attention kernels without autotuning,
# the autotuner's picks with it); then, after the other figures, at batch 1 in [out, in] order
# with one of the two kernels switched off. Rows are marked with the weight order, the kernels and,
# where they ran, how often (gemv products, fallbacks to Burn's matmul, flash attentions,
# fallbacks to Burn's attention).

# Kernel compilation dominates a first CUDA run. A bench built without the `autotune` feature
# (`--no-default-features --features cuda`, as benches/gpu_carry.sh builds it) compiles one kernel
# per matmul shape instead of timing about ten candidates; with autotuning, it runs at CubeCL's
# `minimal` level unless CUBECL_AUTOTUNE_LEVEL says otherwise. Compiled kernels (PTX) and autotune
# results are kept in $PROF_GPU_KERNEL_CACHE (default /tmp/prof-gpu-kernels), shared by the bench
# processes and by a rerun on the same machine. The benches run in the output directory beside a
# cubecl.toml that sets this and logs each kernel compiled and each autotune result to gpu.log,
# between the bench's time-stamped progress lines: a run cut short still shows where its time went.
#
# While the benches run, nvidia-smi samples the GPU's utilization (the share of time a kernel was
# running) every 100 ms into gpu-utilization.csv; the table's "GPU busy" column is the mean of the
# samples taken during each figure's timed runs (spans the bench reports in its JSON), with their
# count: far below 100% at a low fraction of the bound means the host, not the GPU, sets the pace.
#
# Card limits come from nvidia-smi's name: H100 SXM 3.35 TB/s and 989 TFLOP/s, H100 PCIe 2.0 and
# 756, H100 NVL 3.9 and 835, H200 4.8 and 989, A100 80GB 2.0 and 312, A100 40GB 1.555 and 312;
# HBM_TBS and PEAK_TFLOPS in the environment override them.
set -uo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/cargo_executable.sh
source "$ROOT/benches/cargo_executable.sh"
BIN=""
FALLBACK_BIN=""
CRASHED=""
MODEL_DIR=""
OUT_DIR=${OUT:-/tmp/prof-gpu-bench}
BUDGET=470
BACKEND=cuda
SHAPE=1.5b
DTYPE=bf16
KERNEL_PROFILE=""
DECODE_ONLY=""
MATMUL_SWEEP=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) BIN=$2; shift ;;
        --fallback-bin) FALLBACK_BIN=$2; shift ;;
        --model-dir) MODEL_DIR=$2; shift ;;
        --out-dir) OUT_DIR=$2; shift ;;
        --budget) BUDGET=$2; shift ;;
        --backend) BACKEND=$2; shift ;;
        --shape) SHAPE=$2; shift ;;
        --dtype) DTYPE=$2; shift ;;
        --kernel-profile) KERNEL_PROFILE=1 ;;
        --decode-only) DECODE_ONLY=1 ;;
        --matmul-sweep) MATMUL_SWEEP=1 ;;
        -h|--help) sed -n '2,64p' "$0"; exit 0 ;;
        *) echo "gpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
MODEL_DIR=${MODEL_DIR:-/tmp/prof-bench-$SHAPE}
mkdir -p "$OUT_DIR"
OUT_DIR=$(realpath "$OUT_DIR")
MODEL_DIR=$(realpath -m "$MODEL_DIR")
JSONL="$OUT_DIR/gpu.jsonl"
LOG="$OUT_DIR/gpu.log"
TABLE="$OUT_DIR/gpu-results.md"
: >"$JSONL"
: >"$LOG"

say() { echo "== $*" | tee -a "$LOG" >&2; }

if [[ -z "$BIN" ]]; then
    say "building the throughput bench with --features cuda, without autotune"
    BIN=$(cd "$ROOT" && cargo bench --no-run --no-default-features --features cuda --bench throughput --message-format=json \
        | cargo_executable throughput)
fi
[[ -x "$BIN" ]] || { echo "gpu.sh: no executable bench binary (--bin PATH)" >&2; exit 1; }
BIN=$(realpath "$BIN")
if [[ -n "$FALLBACK_BIN" ]]; then
    [[ -x "$FALLBACK_BIN" ]] || { echo "gpu.sh: --fallback-bin $FALLBACK_BIN is not executable" >&2; exit 1; }
    FALLBACK_BIN=$(realpath "$FALLBACK_BIN")
fi
SECONDS=0
export CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}
KERNEL_CACHE=${PROF_GPU_KERNEL_CACHE:-/tmp/prof-gpu-kernels}
mkdir -p "$KERNEL_CACHE"
BASE_TOML=$(cat <<TOML
[compilation]
cache = { file = "$(realpath "$KERNEL_CACHE")" }

[autotune]
cache = { file = "$(realpath "$KERNEL_CACHE")/autotune" }

[compilation.logger]
level = "basic"
stderr = true

[autotune.logger]
level = "minimal"
stderr = true
TOML
)
echo "$BASE_TOML" >"$OUT_DIR/cubecl.toml"
cd "$OUT_DIR" || exit 1

# The card and its limits.
CARD=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
[[ -n "$CARD" ]] || { echo "gpu.sh: nvidia-smi finds no GPU" >&2; exit 1; }
case "$CARD" in
    *H200*) TBS=4.8; TFLOPS=989 ;;
    *H100*PCI*) TBS=2.0; TFLOPS=756 ;;
    *H100*NVL*) TBS=3.9; TFLOPS=835 ;;
    *H100*) TBS=3.35; TFLOPS=989 ;;
    *A100*80GB*) TBS=2.0; TFLOPS=312 ;;
    *A100*) TBS=1.555; TFLOPS=312 ;;
    *) TBS=""; TFLOPS="" ;;
esac
TBS=${HBM_TBS:-$TBS}
TFLOPS=${PEAK_TFLOPS:-$TFLOPS}
BOUNDS=()
[[ -n "$TBS" ]] && BOUNDS+=(--hbm-tbs "$TBS")
[[ -n "$TFLOPS" ]] && BOUNDS+=(--peak-tflops "$TFLOPS")
say "card: $CARD (driver $DRIVER), HBM ${TBS:-unknown} TB/s, bf16 ${TFLOPS:-unknown} TFLOP/s"

# Runs the bench with one step's arguments under what is left of the budget (at most CAP
# seconds); JSON lines to $JSONL. When the bench crashes (a panic's status 101 or an abort's 134)
# and a fallback is given, the step's lines are dropped and the step is rerun with the fallback,
# which then also runs the steps after it.
step() { # name cap args...
    local name=$1 cap=$2 left rc lines
    shift 2
    left=$((BUDGET - SECONDS - 10))
    ((left < cap)) && cap=$left
    if ((cap < 20)); then
        say "$name: skipped, out of time"
        return 1
    fi
    say "$name (at most ${cap}s)"
    lines=$(wc -l <"$JSONL")
    timeout --kill-after=5 "$cap" "$BIN" "$@" >>"$JSONL" 2>>"$LOG"
    rc=$?
    if ((rc == 101 || rc == 134)) && [[ -n "$FALLBACK_BIN" && "$BIN" != "$FALLBACK_BIN" ]]; then
        say "$name: the bench crashed with status $rc (see $LOG); from here on the fallback runs"
        CRASHED=$name
        sed -i "$((lines + 1)),\$d" "$JSONL"
        BIN=$FALLBACK_BIN
        step "$name" "$cap" "$@"
        return
    fi
    ((rc == 0)) || say "$name: failed with status $rc (see $LOG)"
    return $rc
}

if [[ ! -f "$MODEL_DIR/config.json" ]]; then
    step "making the random $SHAPE model in $MODEL_DIR" 170 \
        --make-random-model "$MODEL_DIR" --shape "$SHAPE" --dtype "$DTYPE" \
        || { rm -rf "$MODEL_DIR"; exit 1; }
fi

# The utilization samples, stamped with UNIX time; the monitor stops with the script. It watches
# nvidia-smi's GPU 0, the bench's CUDA device 0 (with several GPUs, CUDA_DEVICE_ORDER=PCI_BUS_ID
# makes CUDA number them as nvidia-smi does).
UTIL="$OUT_DIR/gpu-utilization.csv"
nvidia-smi -i 0 --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 2>/dev/null \
    | while IFS= read -r busy; do echo "$EPOCHREALTIME,$busy"; done >"$UTIL" &
MONITOR=$!
trap 'kill "$MONITOR" 2>/dev/null' EXIT

# The kernel profile: each kernel run's device time, one bench process per batch size, summed
# per kernel (matmuls keep the tile families in their names, the argument types are dropped).
if [[ -n "$KERNEL_PROFILE" ]]; then
    PROFILE="$OUT_DIR/kernel-profile.md"
    echo "Per-kernel device time of decoding (64-token prompt, 16 new tokens, warm-up and one timed run) and of training steps, $CARD, '$SHAPE' shape in $DTYPE, $BACKEND backend (CubeCL's profiling logger, level basic); $(date -u '+%Y-%m-%d %H:%M UTC')." >"$PROFILE"
    for run in 1:in-out:on 64:in-out:on 1:out-in:on 1:in-out:off train; do
        if [[ "$run" == train ]]; then
            KERNELS="$OUT_DIR/kernels-train.log"
            section="Training step [8, 512], four steps (two warm-up, one timed, one by phase)"
            name="training step [8, 512]"
            args=(--mode train --batch 8 --prompt-len 256 --new-tokens 256)
        else
            IFS=: read -r b layout ours <<<"$run"
            suffix="" title=""
            [[ "$layout" == out-in ]] && suffix="-out-in" title=", [out, in] weights"
            [[ "$ours" == off ]] && suffix="-burn" title=", Burn's kernels"
            KERNELS="$OUT_DIR/kernels-b$b$suffix.log"
            section="Batch $b$title"
            name="decode batch $b$title"
            args=(--mode decode --batch "$b" --prompt-len 64 --new-tokens 16 --weight-layout "$layout"
                --vector-kernel "$ours" --flash-attention "$ours")
        fi
        rm -f "$KERNELS" "$KERNELS.gz"
        printf '%s\n' "$BASE_TOML" "" "[profiling.logger]" 'level = "basic"' "file = \"$KERNELS\"" >"$OUT_DIR/cubecl.toml"
        step "kernel profile, $name" 150 --model "$MODEL_DIR" --backend "$BACKEND" \
            --dtype "$DTYPE" --repeats 1 "${args[@]}"
        {
            echo
            echo "$section:"
            echo
            echo "| kernel | runs | total ms | mean µs | share |"
            echo "|---|---:|---:|---:|---:|"
            awk -F' [|] ' '/^[|] [0-9.]+(ns|µs|ms|s) *[|] / {
                    d = $1; sub(/^[|] */, "", d); gsub(/ /, "", d); v = d + 0; u = d; sub(/^[0-9.]+/, "", u)
                    us = u == "ns" ? v / 1000 : u == "ms" ? v * 1000 : u == "s" ? v * 1e6 : v
                    key = ""
                    for (i = 2; i < NF; i++) if ($i !~ /^(TensorArgs|DynamicScalar|DynamicSize|Option|[(][)]|__.*)$/) key = key (key == "" ? "" : " ") $i
                    t[key] += us; n[key]++; total += us }
                END { for (k in t) printf "%.3f\t%d\t%s\n", t[k], n[k], k; printf "%.3f\t-1\ttotal\n", total }' "$KERNELS" \
                | sort -t"$(printf '\t')" -k1,1 -rn | awk -F'\t' 'NR == 1 { all = $1 } $2 >= 0 && NR <= 16 { printf "| %s | %d | %.2f | %.1f | %.1f%% |\n", $3, $2, $1 / 1000, $1 / $2, 100 * $1 / all } $2 < 0 { printf "| all kernels | | %.2f | | 100%% |\n", $1 / 1000 }'
        } >>"$PROFILE"
        [[ -f "$KERNELS" ]] && gzip -f "$KERNELS"
    done
    echo "$BASE_TOML" >"$OUT_DIR/cubecl.toml"
    cat "$PROFILE"
    say "kernel profile done in ${SECONDS}s: $PROFILE"
    exit 0
fi

# JSON field NAME of a line.
jget() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2" | tr -d '"'; }

# The matmul sweep: the bench's own budget ends it cleanly before the step's timeout.
if [[ -n "$MATMUL_SWEEP" ]]; then
    SWEEP="$OUT_DIR/matmul-sweep.md"
    sweep() { # name cap args...
        local name=$1 cap=$2 left
        shift 2
        left=$((BUDGET - SECONDS - 10))
        ((left < cap)) && cap=$left
        step "$name" "$cap" --model "$MODEL_DIR" --backend "$BACKEND" --dtype "$DTYPE" \
            --mode matmul --repeats 2 --matmul-budget $((cap - 10)) "${BOUNDS[@]}" "$@"
    }
    sweep "matmul sweep, 1 row" 50 --batch 1 --matmul-products q_proj,gate_proj,down_proj,lm_head
    sweep "matmul sweep, 4096 rows" 60 --batch 4096 --matmul-products gate_proj
    sweep "matmul sweep, 64 rows" 30 --batch 64 --matmul-products gate_proj \
        --matmul-kernels unit,simple_cyclic,double_cyclic,auto
    {
        echo "Matrix products of the '$SHAPE' shape in $DTYPE on $CARD, $BACKEND backend, each kernel's median time per product (2 runs of about 30 ms of back-to-back products after a first run that compiles it and checks it against an f32 product); $(date -u '+%Y-%m-%d %H:%M UTC'). \"burn\" is Burn's own product; kernels that refused a problem (Burn's ran instead) are left out."
        echo
        echo "| product | rows | layout | Burn µs | fastest kernel | µs | Burn / fastest | GB/s | TFLOP/s | kernels timed |"
        echo "|---|---:|---|---:|---|---:|---:|---:|---:|---:|"
        while IFS= read -r line; do
            [[ "$line" == "{"* && "$line" == *'"sweep":"matmul"'* ]] || continue
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(jget product "$line")" "$(jget rows "$line")" \
                "$(jget layout "$line")" "$(jget kernel "$line")" "$(jget us "$line")" \
                "$(jget fell_back "$line")" "$(jget gb_per_s "$line")" "$(jget tflops "$line")"
        done <"$JSONL" | awk -F'\t' '
            { key = $1 "\t" $2 "\t" $3; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
              if ($4 == "burn") burn[key] = $5
              else if ($6 != "true") { count[key]++; if (!(key in best) || $5 < best[key]) { best[key] = $5; name[key] = $4; gb[key] = $7; tf[key] = $8 } } }
            END { for (i = 1; i <= n; i++) { k = order[i]; split(k, f, "\t")
                b = k in burn ? sprintf("%.1f", burn[k]) : "—"
                if (k in best) printf "| %s | %s | %s | %s | %s | %.1f | %s | %.0f | %.1f | %d |\n", f[1], f[2], f[3], b, name[k], best[k], k in burn ? sprintf("%.2f×", burn[k] / best[k]) : "—", gb[k], tf[k], count[k]
                else printf "| %s | %s | %s | %s | — | | | | | 0 |\n", f[1], f[2], f[3], b } }'
    } >"$SWEEP"
    cat "$SWEEP"
    say "matmul sweep done in ${SECONDS}s: $SWEEP"
    exit 0
fi

COMMON=(--model "$MODEL_DIR" --backend "$BACKEND" --dtype "$DTYPE" --repeats 2 "${BOUNDS[@]}")
DECODE=("${COMMON[@]}" --mode decode --prompt-len 64 --new-tokens 64)
OURS=(--vector-kernel on --flash-attention on)
DECODE_BATCHES=1,8,32,64
[[ -n "$DECODE_ONLY" ]] && DECODE_BATCHES=1,8
step "decode, batch ${DECODE_BATCHES//,//}" 170 "${DECODE[@]}" --batch "$DECODE_BATCHES" "${OURS[@]}"
step "decode, batch 1/8, [out, in] weights" 90 "${DECODE[@]}" --batch 1,8 \
    --weight-layout out-in "${OURS[@]}"
step "decode, batch 1/8, Burn's kernels" 90 "${DECODE[@]}" --batch 1,8 \
    --vector-kernel off --flash-attention off
if [[ -z "$DECODE_ONLY" ]]; then
    step "training step, [8, 512]" 110 "${COMMON[@]}" --mode train --batch 8 \
        --prompt-len 256 --new-tokens 256
    step "prefill and log-prob forward, batch 8" 90 "${COMMON[@]}" --mode prefill,logprob \
        --batch 8 --prompt-len 512 --new-tokens 512
fi
# Each kernel's share, at batch 1 in [out, in] order: one of the two switched off.
step "decode, batch 1, [out, in] weights, Burn's attention" 60 "${DECODE[@]}" --batch 1 \
    --weight-layout out-in --vector-kernel on --flash-attention off
step "decode, batch 1, [out, in] weights, Burn's matmul" 60 "${DECODE[@]}" --batch 1 \
    --weight-layout out-in --vector-kernel off --flash-attention on

# The table, from the JSON lines (no Python needed).
# The mean of the utilization samples within the spans "start:end ..." and their count, or "—"
# when fewer than 3 fell there.
busy() {
    awk -F, -v spans="$1" 'BEGIN { n = split(spans, sp, " "); for (i = 1; i <= n; i++) { split(sp[i], t, ":"); s[i] = t[1]; e[i] = t[2] } }
        { for (i = 1; i <= n; i++) if ($1 >= s[i] && $1 <= e[i]) { sum += $2; k++; break } }
        END { if (k >= 3) printf "%.0f%% (%d)", sum / k, k; else printf "—" }' "$UTIL"
}
fmt() { [[ -n "$1" ]] && awk -v x="$1" -v s="${2:-1}" -v d="${3:-0}" 'BEGIN { printf "%.*f", d, x * s }' || echo "—"; }
{
    FIRST=$(head -1 "$JSONL")
    PARAMS=$(jget parameters "$FIRST")
    # Rows carry the autotune state of the build that measured them: both states appear when the
    # build without autotuning crashed and the fallback took over; its rows are then marked.
    MIXED=""
    case "$(grep -o '"autotune":[a-z]*' "$JSONL" | sort -u | tr '\n' ' ')" in
        '"autotune":true ') TUNING="autotune level $CUBECL_AUTOTUNE_LEVEL" ;;
        '"autotune":false ') TUNING="autotune off (built without the autotune feature)" ;;
        '"autotune":false "autotune":true ')
            MIXED=" (autotuned)"
            TUNING="autotune off (built without the autotune feature) except in rows marked$MIXED, measured at autotune level $CUBECL_AUTOTUNE_LEVEL"
            ;;
        *) TUNING="autotune unknown" ;;
    esac
    [[ -n "$CRASHED" ]] && TUNING+=" (the primary bench crashed in the step '$CRASHED' and the fallback ran from there on, see gpu.log)"
    echo "Card: $CARD (driver $DRIVER); bounds: HBM ${TBS:-?} TB/s, dense bf16 ${TFLOPS:-?} TFLOP/s. "
    [[ "$SHAPE" == 1.5b ]] && SHAPE_NAME="Qwen2.5-Math-1.5B shape" || SHAPE_NAME="'$SHAPE' shape"
    echo "Model: $SHAPE_NAME, random weights, $DTYPE, $(awk -v p="${PARAMS:-0}" 'BEGIN { if (p >= 1e8) printf "%.3f B", p / 1e9; else printf "%.2f M", p / 1e6 }') parameters; Burn 0.21.0 $BACKEND backend, $TUNING, $(grep -c 'Compiling kernel' "$LOG") kernels compiled; median of 2 runs after one warm-up (two for the training step); $(date -u '+%Y-%m-%d %H:%M UTC'); script time ${SECONDS}s."
    echo
    echo "| figure | tokens/s | bound tokens/s | fraction of bound | GPU busy (samples) |"
    echo "|---|---:|---:|---:|---:|"
    while IFS= read -r line; do
        [[ "$line" == "{"* ]] || continue
        b=$(jget batch "$line")
        mark=""
        [[ "$(jget autotune "$line")" == true ]] && mark=$MIXED
        [[ "$(jget weight_layout "$line")" == out-in ]] && mark+=" ([out, in] weights)"
        case "$(jget vector_kernel "$line")/$(jget flash_attention "$line")" in
            true/true) mark+=" (CubeCL's gemv and flash attention)" ;;
            true/false) mark+=" (CubeCL's gemv, Burn's attention)" ;;
            false/true) mark+=" (Burn's matmul, CubeCL's flash attention)" ;;
            false/false) mark+=" (Burn's kernels)" ;;
        esac
        # How many products and attentions ran on CubeCL's kernels, and on Burn's where the
        # kernel refused the shape: zero on backends other than CUDA and wgpu.
        runs=$(jget vector_kernel_products "$line")/$(jget vector_kernel_fallbacks "$line")/$(jget flash_attention_runs "$line")/$(jget flash_attention_fallbacks "$line")
        [[ "$runs" =~ [1-9] ]] && mark+=" [gemv/fallback/flash/fallback runs $runs]"
        if [[ -n "$(jget decode_tokens_per_s "$line")" ]]; then
            echo "| decode, batch $b (64-token prompt, 64 new)$mark | $(fmt "$(jget decode_tokens_per_s "$line")") | $(fmt "$(jget decode_bound_tokens_per_s "$line")") | $(fmt "$(jget decode_fraction_of_bound "$line")" 100 1)% | $(busy "$(jget decode_windows "$line")") |"
        fi
        if [[ -n "$(jget train_tokens_per_s "$line")" ]]; then
            echo "| training step (log-prob forward, backward, AdamW), [$b, $(jget train_seq_len "$line")]$mark | $(fmt "$(jget train_tokens_per_s "$line")") | $(fmt "$(jget train_bound_tokens_per_s "$line")") | $(fmt "$(jget train_fraction_of_bound "$line")" 100 1)% | $(busy "$(jget train_windows "$line")") |"
        fi
        if [[ -n "$(jget prefill_tokens_per_s "$line")" ]]; then
            echo "| prefill, [$b, $(jget prompt_len "$line")]$mark | $(fmt "$(jget prefill_tokens_per_s "$line")") | | | $(busy "$(jget prefill_windows "$line")") |"
        fi
        if [[ -n "$(jget logprob_tokens_per_s "$line")" ]]; then
            echo "| log-prob forward, [$b, $(jget logprob_seq_len "$line")]$mark | $(fmt "$(jget logprob_tokens_per_s "$line")") | | | $(busy "$(jget logprob_windows "$line")") |"
        fi
    done <"$JSONL"
    # Where the training step's time goes: one more step, the device synchronised after each
    # phase. Queueing includes the host's waits on CubeCL's bounded queues while the device
    # lags, so it bounds the host's work from above; the busy share tells who sets the pace.
    while IFS= read -r line; do
        [[ "$line" == "{"* && -n "$(jget train_forward_s "$line")" ]] || continue
        phases=""
        for p in forward backward optimizer; do
            phases+="${phases:+; }$p $(fmt "$(jget "train_${p}_s" "$line")" 1 3) s (queued in $(fmt "$(jget "train_${p}_queue_s" "$line")" 1 3) s)"
        done
        echo
        echo "Training step [$(jget batch "$line"), $(jget train_seq_len "$line")] by phase, the device synchronised after each: $phases."
    done <"$JSONL"
} >"$TABLE"
cat "$TABLE"
say "done in ${SECONDS}s; JSON lines in $JSONL, log in $LOG"
