#!/usr/bin/env bash
# The GPU figures and checks on a machine without cargo: build the CUDA throughput bench and the
# CUDA integration tests where cargo works, carry them (stripped and compressed, about 52 MB)
# with the checkout, and run them there from the checkout's root.
#
#   benches/gpu_carry.sh build           # here: target/gpu-carry/{throughput,throughput-autotune,
#                                        #   integration}.gz
#   benches/gpu_carry.sh bench [ARGS]    # there: benches/gpu.sh with the carried bench built
#                                        #   without autotuning, and the one built with it as the
#                                        #   fallback should the first crash; output in $OUT (ARGS
#                                        #   go to gpu.sh, e.g. --budget 400)
#   benches/gpu_carry.sh bench-autotune [ARGS]
#                                        # there: gpu.sh with the bench built with autotuning
#   benches/gpu_carry.sh checks [SECS]   # there: tests/cuda_checks.rs (ignored by default), one
#                                        #   test at a time, within SECS seconds (default 300),
#                                        #   compiled kernels kept where gpu.sh keeps its own,
#                                        #   autotuning at CubeCL's `minimal` level as in gpu.sh
#
# gpu.sh is budgeted to 8 minutes and the checks to 5, so a session with 15 device-minutes runs
# them as two commands, the bench first. With autotuning, gpu.sh's kernel compilation needed more
# than 8 minutes on a fresh H200 (see benches/RESULTS.md); without it, one kernel is compiled per
# matmul shape instead of about ten. The integration tests keep the default features (autotuning
# on), as users run them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARRY="$ROOT/target/gpu-carry"
cd "$ROOT"
# shellcheck source=benches/cargo_executable.sh
source "$ROOT/benches/cargo_executable.sh"

# Unpacks a carried binary into a temporary directory and prints its path.
unpack() {
    local bin
    bin="$(mktemp -d)/$1"
    gzip -dc "$CARRY/$1.gz" >"$bin"
    chmod +x "$bin"
    echo "$bin"
}

case "${1:-}" in
    build)
        mkdir -p "$CARRY"
        bench=$(cargo bench --no-run --no-default-features --features cuda --bench throughput \
            --message-format=json | cargo_executable throughput)
        tuned=$(cargo bench --no-run --features cuda --bench throughput --message-format=json \
            | cargo_executable throughput)
        tests=$(cargo test --no-run --features wgpu,cuda --test integration --message-format=json \
            | cargo_executable integration)
        for pair in "throughput:$bench" "throughput-autotune:$tuned" "integration:$tests"; do
            name=${pair%%:*}
            strip -o "$CARRY/$name" "${pair#*:}"
            gzip -9f "$CARRY/$name"
        done
        ls -l "$CARRY"
        echo "carry target/gpu-carry; there run: benches/gpu_carry.sh bench, then benches/gpu_carry.sh checks"
        ;;
    bench)
        shift
        bash "$ROOT/benches/gpu.sh" --bin "$(unpack throughput)" \
            --fallback-bin "$(unpack throughput-autotune)" "$@"
        ;;
    bench-autotune)
        shift
        bash "$ROOT/benches/gpu.sh" --bin "$(unpack throughput-autotune)" "$@"
        ;;
    checks)
        secs=${2:-300}
        out=${OUT:-/tmp}
        # CubeCL reads cubecl.toml from the working directory (the tests need the checkout's root):
        # an on-disk kernel cache makes a rerun skip NVRTC, and the log shows where time goes.
        if [[ ! -e cubecl.toml ]]; then
            cache=$(realpath -m "${PROF_GPU_KERNEL_CACHE:-/tmp/prof-gpu-kernels}")
            mkdir -p "$cache"
            trap 'rm -f "$ROOT/cubecl.toml"' EXIT
            printf '%s\n' "[compilation]" "cache = { file = \"$cache\" }" \
                "[compilation.logger]" 'level = "basic"' "stderr = true" \
                "[autotune]" "cache = { file = \"$cache/autotune\" }" >cubecl.toml
        fi
        # Correctness does not depend on how hard the autotuner searches; its default level
        # (`balanced`) times more candidates per shape, and compiling them is most of a check.
        export CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}
        timeout --kill-after=5 "$secs" "$(unpack integration)" cuda_checks --ignored --test-threads 1 \
            2>&1 | tee "$out/cuda_checks.log"
        ;;
    *)
        sed -n '2,23p' "$0"
        exit 2
        ;;
esac
