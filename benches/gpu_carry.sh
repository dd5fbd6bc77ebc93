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
#   benches/gpu_carry.sh checks [SECS]   # there: tests/cuda_checks.rs (ignored by default), each
#                                        #   test in its own process (the training-step parity
#                                        #   and the warm-up steps first, the smoke run last),
#                                        #   within SECS seconds in all
#                                        #   (default 300), compiled kernels kept where gpu.sh
#                                        #   keeps its own, autotuning at CubeCL's `minimal` level
#                                        #   as in gpu.sh; log in $OUT/cuda_checks.log
#   benches/gpu_carry.sh profile [ARGS]  # there: gpu.sh --kernel-profile with the carried bench
#                                        #   built without autotuning: each kernel's device time
#                                        #   while decoding at batch 1 and 64, summed per kernel
#   benches/gpu_carry.sh sweep [ARGS]    # there: gpu.sh --matmul-sweep with the carried bench built
#                                        #   without autotuning: the model's products on each of
#                                        #   CubeCL's matmul kernels against Burn's choice
#   benches/gpu_carry.sh throughput ARGS # there: the carried bench built without autotuning, run
#                                        #   with ARGS, e.g. after a sweep: --model
#                                        #   /tmp/prof-bench-1.5b --backend cuda --dtype bf16
#                                        #   --mode prefill,logprob --batch 8 --prompt-len 512
#                                        #   --new-tokens 512 --matmul-kernel NAME
#   benches/gpu_carry.sh all [SECS [ARGS]]
#                                        # there: bench (budget 280 s), sweep (budget 150 s, in
#                                        #   $OUT/sweep), profile and checks, in that order,
#                                        #   within SECS seconds (default 560), as one device
#                                        #   command (ARGS go to gpu.sh)
#
# gpu.sh is budgeted to 8 minutes and took 162 s on a fresh H200 (see benches/RESULTS.md); the
# checks get 5 by default. With autotuning, gpu.sh's kernel compilation needed more than 8
# minutes on a fresh H200; without it, one kernel is compiled per matmul shape instead of about
# ten. The integration tests keep the default features (autotuning
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
        echo "carry target/gpu-carry; there run: benches/gpu_carry.sh all (or bench, profile, checks)"
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
        # One process per test, so that each failure is reported as it happens, not at the end of
        # a run the time limit may cut short.
        tests=$(unpack integration)
        names=$("$tests" cuda_checks --ignored --list 2>/dev/null | sed -n 's/: test$//p')
        ordered=$(grep training_step <<<"$names"; grep warmup <<<"$names"
            grep -v 'training_step\|warmup\|smoke' <<<"$names"; grep smoke <<<"$names")
        log="$out/cuda_checks.log"
        : >"$log"
        deadline=$((SECONDS + secs))
        for name in $ordered; do
            left=$((deadline - SECONDS))
            if ((left < 10)); then
                echo "== $name: not run, out of time" | tee -a "$log"
                continue
            fi
            start=$(wc -l <"$log")
            rc=0
            timeout --kill-after=5 "$left" "$tests" "$name" --exact --ignored --nocapture \
                >>"$log" 2>&1 || rc=$?
            tail -n +"$((start + 1))" "$log" | grep -v 'Compiling kernel' || true
            echo "== $name: $( ((rc == 0)) && echo passed || echo "failed (status $rc)")" | tee -a "$log"
        done
        ;;
    profile)
        shift
        bash "$ROOT/benches/gpu.sh" --bin "$(unpack throughput)" --kernel-profile "$@"
        ;;
    throughput)
        shift
        "$(unpack throughput)" "$@"
        ;;
    sweep)
        shift
        bash "$ROOT/benches/gpu.sh" --bin "$(unpack throughput)" --matmul-sweep "$@"
        ;;
    all)
        secs=${2:-560}
        shift $(($# < 2 ? $# : 2))
        out=${OUT:-/tmp/prof-gpu-all}
        mkdir -p "$out"
        OUT=$out bash "$0" bench --budget 280 "$@" || echo "gpu_carry.sh: the bench failed"
        rm -f "$out/cubecl.toml"
        # Each of the kernels the autotuner chooses from, on the model's own products: which
        # ones the model should queue itself, in builds with autotuning or without.
        OUT=$out/sweep bash "$0" sweep --budget 150 "$@" || echo "gpu_carry.sh: the matmul sweep failed"
        rm -f "$out/sweep/cubecl.toml"
        # The profile's own JSON lines and utilization samples are not needed; its log and kernel
        # logs travel as one file.
        profile=$(mktemp -d)
        bash "$0" profile --out-dir "$profile" "$@" || echo "gpu_carry.sh: the kernel profile failed"
        cp "$profile/kernel-profile.md" "$out/" 2>/dev/null || true
        (cd "$profile" && tar -cf "$out/kernel-profile-logs.tar" gpu.log kernels-b*.log.gz 2>/dev/null) || true
        OUT=$out bash "$0" checks $((secs - SECONDS))
        ;;
    *)
        sed -n '2,42p' "$0"
        exit 2
        ;;
esac
