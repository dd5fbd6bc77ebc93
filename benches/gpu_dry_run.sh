#!/usr/bin/env bash
# A dry run of benches/gpu.sh on a machine without a GPU: the whole script (model making, the
# three timed steps under the budget, the table) on the CPU backend with the bench's tiny shape in
# f32, a stub `nvidia-smi` naming an H200, and the throughput bench built with the test profile.
# It fails unless every row of the table is there with its figure and, where the script gives
# one, its fraction of the card's bound.
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
    *) exit 1 ;;
esac
STUB
chmod +x "$WORK/stub/nvidia-smi"

PATH="$WORK/stub:$PATH" PROF_GPU_KERNEL_CACHE="$WORK/kernels" RAYON_NUM_THREADS=2 \
    bash "$ROOT/benches/gpu.sh" --bin "$BIN" --backend flex --shape tiny --dtype f32 \
    --model-dir "$WORK/model" --out-dir "$WORK/out" --budget 400 >"$WORK/stdout"

TABLE="$WORK/out/gpu-results.md"
fail() { echo "gpu_dry_run.sh: $*" >&2; cat "$TABLE" "$WORK/out/gpu.log" >&2; exit 1; }
grep -q '^Card: NVIDIA H200 (stub)' "$TABLE" || fail "no card line"
grep -Eq '^Model: .* [0-9.]+ M parameters; .*, autotune (level [a-z]+|off \(built without the autotune feature\)),' \
    "$TABLE" || fail "no model line with its size and autotune state"
# A figure is a number; a fraction of the bound is a percentage.
for b in 1 8 32 64; do
    grep -Eq "^\| decode, batch $b \(64-token prompt, 64 new\) \| [0-9]+ \| [0-9]+ \| [0-9.]+% \|$" "$TABLE" \
        || fail "no decode row for batch $b"
done
grep -Eq '^\| training step \(log-prob forward, backward, AdamW\), \[8, 512\] \| [0-9]+ \| [0-9]+ \| [0-9.]+% \|$' "$TABLE" \
    || fail "no training row"
grep -Eq '^\| prefill, \[8, 512\] \| [0-9]+ \| \| \|$' "$TABLE" || fail "no prefill row"
grep -Eq '^\| log-prob forward, \[8, 1024\] \| [0-9]+ \| \| \|$' "$TABLE" || fail "no log-prob row"
cat "$TABLE"
echo "gpu_dry_run.sh: the table is complete"
