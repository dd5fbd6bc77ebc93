#!/usr/bin/env bash
# A dry run of benches/gpu.sh on a machine without a GPU: the whole script (model making, the
# four timed steps under the budget, the table) on the CPU backend with the bench's tiny shape in
# f32, a stub `nvidia-smi` naming an H200, and the throughput bench built with the test profile.
# It fails unless every row of the table is there with its figure and, where the script gives
# one, its fraction of the card's bound. A second run gives the script a primary bench that
# reports itself as built without autotuning and crashes in the training step after a first line
# of output, with the real bench as `--fallback-bin`: the table must then have every row once,
# the decode rows unmarked and the rows from the training step on marked as autotuned, and name
# the step of the crash. A third, with --decode-only, must give the eight decode rows (batch 1
# and 8 in both weight orders with the model's CubeCL kernels and on Burn's kernels alone, batch 1
# in [out, in] order with each of the two kernels switched off) and no others. A fourth run, with --kernel-profile, gives it a stub bench that writes
# kernel timings in the format of CubeCL's profiling log, and checks their sums per kernel. The
# fifth and sixth run --matmul-sweep, with the real bench and with a stub (see there).
#
#   benches/gpu_dry_run.sh [--bin PATH]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/cargo_executable.sh
source "$ROOT/benches/cargo_executable.sh"
BIN=""
if [[ "${1:-}" == --bin ]]; then BIN=$2; fi
if [[ -z "$BIN" ]]; then
    BIN=$(cd "$ROOT" && cargo test --bench throughput --no-run --message-format=json 2>/dev/null \
        | cargo_executable throughput)
fi
[[ -x "$BIN" ]] || { echo "gpu_dry_run.sh: no throughput bench binary" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/stub"
cat >"$WORK/stub/nvidia-smi" <<'STUB'
#!/usr/bin/env bash
case "$*" in
    *name*) echo "NVIDIA H200 (stub)" ;;
    *driver_version*) echo "0.0 (stub)" ;;
    *utilization*) while echo 37; do sleep 0.05; done ;;
    *) exit 1 ;;
esac
STUB
chmod +x "$WORK/stub/nvidia-smi"

# The primary bench of the second run: the real one, reporting no autotuning, that crashes in
# the training step after its first line.
cat >"$WORK/stub/crashing-bench" <<STUB
#!/usr/bin/env bash
if [[ " \$* " == *" train "* ]]; then
    "$BIN" "\$@" | head -1 | sed 's/"autotune":true/"autotune":false/'
    echo "thread 'main' panicked at a stub: the crash the fallback takes over from" >&2
    exit 101
fi
"$BIN" "\$@" | sed 's/"autotune":true/"autotune":false/'
STUB
chmod +x "$WORK/stub/crashing-bench"

# run NAME ARGS...: gpu.sh on flex with the tiny shape; its table in $WORK/NAME/gpu-results.md.
run() {
    local name=$1
    shift
    PATH="$WORK/stub:$PATH" PROF_GPU_KERNEL_CACHE="$WORK/kernels" RAYON_NUM_THREADS=2 \
        bash "$ROOT/benches/gpu.sh" "$@" --backend flex --shape tiny --dtype f32 \
        --model-dir "$WORK/model" --out-dir "$WORK/$name" --budget 400 >"$WORK/$name.stdout"
}

# check NAME TUNING MARK_DECODE MARK_REST: every row once, with its figure (a number), its
# fraction of the bound (a percentage) where there is one, its GPU busy share (the stub's 37%
# where at least 3 samples fell in the runs: always for the training step's, which take most of
# a second here), and the given marks.
check() {
    local table="$WORK/$1/gpu-results.md" tuning=$2 md=$3 mr=$4
    local busy='(37% \([0-9]+\)|—)'
    fail() { echo "gpu_dry_run.sh ($1 run): $2" >&2; cat "$table" "$WORK/$1/gpu.log" >&2; exit 1; }
    grep -q '^Card: NVIDIA H200 (stub)' "$table" || fail "$1" "no card line"
    grep -Eq "^Model: .* [0-9.]+ M parameters; .*, $tuning, " "$table" \
        || fail "$1" "no model line with its size and autotune state"
    row() { [[ $(grep -Ec "$1" "$table") == 1 ]] || fail "$2" "not exactly one row for $3"; }
    local batches="1 8 32 64" b
    [[ -n "${DECODE_ONLY:-}" ]] && batches="1 8"
    # decode BATCH MARKS [AUTOTUNE_MARK]: the pattern of that decode row (the autotune mark of
    # the rows before the training step unless given).
    decode() { echo "^\| decode, batch $1 \(64-token prompt, 64 new\)${3-$md}$2 \| [0-9]+ \| [0-9]+ \| [0-9.]+% \| $busy \|$"; }
    local ours=" \(CubeCL's gemv and flash attention\)" out_in=" \(\[out, in\] weights\)"
    for b in $batches; do
        row "$(decode "$b" "$ours")" "$1" "decode batch $b"
    done
    for b in 1 8; do
        row "$(decode "$b" "$out_in$ours")" "$1" "decode batch $b, [out, in] weights"
        row "$(decode "$b" " \(Burn's kernels\)")" "$1" "decode batch $b, Burn's kernels"
    done
    # These two run after the training step.
    row "$(decode 1 "$out_in \(CubeCL's gemv, Burn's attention\)" "$mr")" "$1" "decode batch 1, Burn's attention"
    row "$(decode 1 "$out_in \(Burn's matmul, CubeCL's flash attention\)" "$mr")" "$1" "decode batch 1, Burn's matmul"
    if [[ -n "${DECODE_ONLY:-}" ]]; then
        [[ $(grep -c "^| [a-z]" "$table") == 9 ]] || fail "$1" "rows beyond the header and the eight decode rows"
        cat "$table"
        return
    fi
    row "^\| training step \(log-prob forward, backward, AdamW\), \[8, 512\]$mr \| [0-9]+ \| [0-9]+ \| [0-9.]+% \| 37% \([0-9]+\) \|$" "$1" training
    row "^\| prefill, \[8, 512\]$mr( \([^|]*\))? \| [0-9]+ \| \| \| $busy \|$" "$1" prefill
    row "^\| log-prob forward, \[8, 1024\]$mr( \([^|]*\))? \| [0-9]+ \| \| \| $busy \|$" "$1" "log-prob"
    [[ $(grep -c "^| [a-z]" "$table") == 14 ]] || fail "$1" "rows beyond the header and the thirteen expected"
    local phase='[0-9]+\.[0-9]{3} s \(queued in [0-9]+\.[0-9]{3} s\)'
    row "^Training step \[8, 512\] by phase, the device synchronised after each: forward $phase; backward $phase; optimizer $phase\.$" "$1" "the training step's phases"
    cat "$table"
}

run plain --bin "$BIN"
check plain 'autotune (level [a-z]+|off \(built without the autotune feature\))' "" ""
echo "gpu_dry_run.sh: the table is complete"

run fallback --bin "$WORK/stub/crashing-bench" --fallback-bin "$BIN"
grep -q "training step, \[8, 512\]: the bench crashed with status 101" "$WORK/fallback/gpu.log" \
    || { echo "gpu_dry_run.sh: the crash is not logged" >&2; exit 1; }
check fallback "autotune off \\(built without the autotune feature\\) except in rows marked \\(autotuned\\), measured at autotune level [a-z]+ \\(the primary bench crashed in the step 'training step, \\[8, 512\\]' and the fallback ran from there on, see gpu.log\\)" \
    "" " \\(autotuned\\)"
echo "gpu_dry_run.sh: after a crash the table is complete, the fallback's rows marked"

run decode-only --bin "$BIN" --decode-only
DECODE_ONLY=1 check decode-only 'autotune (level [a-z]+|off \(built without the autotune feature\))' "" ""
echo "gpu_dry_run.sh: --decode-only gives the eight decode rows alone"

# The fourth run's bench: a few kernel timings, in CubeCL's format, into the file cubecl.toml names.
cat >"$WORK/stub/profiling-bench" <<'STUB'
#!/usr/bin/env bash
log=$(sed -n 's/^file = "\(.*\)"$/\1/p' cubecl.toml | tail -1)
matmul="MatmulEntry | TensorArgs | DynamicScalar | __Lhs | () | SimpleMatmulFamily | CudaRuntime"
{
    printf '| %-10s | %s\n' 1.5ms "$matmul" 250µs "ElemwiseFuse | CudaRuntime" 1.5ms "$matmul"
    printf '| %-10s | %s\n' 250µs "ElemwiseFuse | CudaRuntime" 500000ns "CopyKernel | CudaRuntime"
    printf '| %-10s | %s\n' 250µs "ElemwiseFuse | CudaRuntime" 250µs "ElemwiseFuse | CudaRuntime"
    echo "| Name | Duration | Num Computed | Ratio |"
} >"$log"
echo '{"engine":"stub"}'
STUB
chmod +x "$WORK/stub/profiling-bench"
run profile --bin "$WORK/stub/profiling-bench" --kernel-profile
profile="$WORK/profile/kernel-profile.md"
for b in 1 64 train; do
    if [[ $b == train ]]; then
        section=$(sed -n "/^Training step \[8, 512\], four steps/,\$p" "$profile")
    else
        section=$(sed -n "/^Batch $b:/,/^Batch [0-9]*:/p" "$profile")
    fi
    for want in '| all kernels | | 4.50 | | 100% |' \
        '| MatmulEntry SimpleMatmulFamily | 2 | 3.00 | 1500.0 | 66.7% |' \
        '| ElemwiseFuse | 4 | 1.00 | 250.0 | 22.2% |' '| CopyKernel | 1 | 0.50 | 500.0 | 11.1% |'; do
        grep -qF "$want" <<<"$section" || {
            echo "gpu_dry_run.sh (profile run): batch $b has no row '$want'" >&2
            cat "$profile" >&2
            exit 1
        }
    done
done
for log in kernels-b1.log.gz kernels-b64.log.gz kernels-b1-out-in.log.gz kernels-b1-burn.log.gz kernels-train.log.gz; do
    [[ -f "$WORK/profile/$log" ]] || { echo "gpu_dry_run.sh: $log missing" >&2; exit 1; }
done
for section in "Batch 1, \[out, in\] weights:" "Batch 1, Burn's kernels:"; do
    grep -q "^$section" "$profile" \
        || { echo "gpu_dry_run.sh: no section '$section'" >&2; exit 1; }
done
cat "$profile"
echo "gpu_dry_run.sh: the kernel profile sums each kernel's runs"

# The fifth and sixth runs: the matmul sweep. The real bench on flex times Burn's products
# alone (no CubeCL kernels there): one row per product, rows and layout, none with a fastest
# kernel. A stub bench then gives each product Burn's time and three kernels, one of them the
# fastest but refused (Burn's product ran instead): the table must pick the fastest that ran.
run sweep --bin "$BIN" --matmul-sweep
sweep="$WORK/sweep/matmul-sweep.md"
sweep_fail() { echo "gpu_dry_run.sh ($1 run): $2" >&2; cat "$3" >&2; exit 1; }
[[ $(grep -Ec '^\| [a-z_/]+ \| (1|64|4096) \| (in-out|out-in|weight-grad) \| [0-9.]+ \| — \| \| \| \| \| 0 \|$' "$sweep") == 13 ]] \
    || sweep_fail sweep "not 13 rows of Burn's products alone" "$sweep"
for want in '| lm_head | 1 | out-in |' '| gate_proj/up_proj | 4096 | weight-grad |' '| gate_proj/up_proj | 64 | in-out |'; do
    grep -qF "$want" "$sweep" || sweep_fail sweep "no row '$want'" "$sweep"
done
cat >"$WORK/stub/sweep-bench" <<'STUB'
#!/usr/bin/env bash
rows=$(sed -n 's/.* --batch \([0-9]*\) .*/\1/p' <<<" $* ")
for layout in in-out out-in; do
    for k in burn:10:null fast-but-refused:2:true fastest:4:false slow:8:false; do
        IFS=: read -r kernel us fell <<<"$k"
        echo "{\"sweep\":\"matmul\",\"product\":\"down_proj\",\"rows\":$rows,\"layout\":\"$layout\",\"kernel\":\"$kernel\",\"us\":$us,\"fell_back\":$fell,\"gb_per_s\":1500.5,\"tflops\":1.3}"
    done
done
STUB
chmod +x "$WORK/stub/sweep-bench"
run sweep-stub --bin "$WORK/stub/sweep-bench" --matmul-sweep
sweep="$WORK/sweep-stub/matmul-sweep.md"
for rows in 1 4096 64; do
    for layout in in-out out-in; do
        want="| down_proj | $rows | $layout | 10.0 | fastest | 4.0 | 2.50× | 1500 | 1.3 | 2 |"
        grep -qF "$want" "$sweep" || sweep_fail sweep-stub "no row '$want'" "$sweep"
    done
done
cat "$sweep"
echo "gpu_dry_run.sh: the matmul sweep's table picks the fastest kernel that ran"
