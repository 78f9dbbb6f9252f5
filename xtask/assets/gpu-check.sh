#!/usr/bin/env bash
# GPU check of a packaged `proxyless` (made by `cargo xtask gpu-check --package-only`): for every
# GPU backend compiled into the packaged binaries (`proxyless`, and `proxyless-*` beside it),
# the step benchmark against PyTorch with kernel launches per step (and cuda's layer profile),
# parity against flex, a latency table, its validation, and a short search, each under a time
# limit; then the specialisation searches on the first binary's
# first GPU backend, and the sections below. Needs no Rust toolchain. Usage:
#   ./gpu-check.sh [RESULTS_DIR]
# Writes RESULTS_DIR/summary.txt (one line per step: backend, step, exit status, seconds), each
# step's log, the latency tables and plots.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/results}
mkdir -p "$out"
bin="$here/proxyless"
binaries=("$bin")
for extra in "$here"/proxyless-*; do
    [ -x "$extra" ] && binaries+=("$extra")
done
summary="$out/summary.txt"
: >"$summary"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
# Kernel autotuning is per process; minimal keeps the first steps of every command short.
export CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}
export RUST_LOG=${RUST_LOG:-warn}
limit=${GPU_CHECK_STEP_LIMIT:-150}
# A binary built with `tch` loads LibTorch when it starts: take the one of the PyTorch here.
for b in "${binaries[@]}"; do
    if ldd "$b" 2>/dev/null | grep -q 'libtorch.*not found'; then
        torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
        [ -n "$torch_lib" ] && export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        break
    fi
done

# GPU_CHECK_BUDGET=SECONDS bounds the whole check (a lent GPU's minutes are few): each step's
# limit is cut to what is left, and steps with under 10 seconds left are skipped, so the most
# telling steps go first (the benchmark against PyTorch, then parity).
budget=${GPU_CHECK_BUDGET:-0}
# The cuda backend loads CUDA's NVRTC at run time: where the loader does not know it, the
# folder of a CUDA toolkit's copy goes on the library path.
if ! ldconfig -p 2>/dev/null | grep -q libnvrtc; then
    nvrtc=$(ls /usr/local/cuda*/targets/*/lib/libnvrtc.so* /usr/local/cuda*/lib64/libnvrtc.so* \
        2>/dev/null | head -1)
    [ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# step NAME SECONDS COMMAND...: runs COMMAND under a time limit, logs to NAME.log.
step() {
    local name=$1 seconds=$2
    shift 2
    if [ "$budget" -gt 0 ]; then
        local left=$((budget - SECONDS))
        if [ "$left" -lt 10 ]; then
            printf '%-34s %-26s %4ss\n' "$name" "skipped (budget spent)" 0 | tee -a "$summary"
            return
        fi
        [ "$seconds" -gt "$left" ] && seconds=$left
    fi
    local start=$SECONDS
    timeout "$seconds" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    local verdict=ok
    [ $rc -eq 124 ] && verdict="timed out after ${seconds}s"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && verdict="failed (exit $rc)"
    printf '%-34s %-26s %4ss\n' "$name" "$verdict" "$((SECONDS - start))" | tee -a "$summary"
}

# The GPU backends of a binary: all it holds but the CPU ones (GPU_CHECK_BACKENDS="cuda wgpu":
# only those).
gpu_backends() {
    local all
    all=$("$1" backends 2>/dev/null | grep -v -x -e flex -e ndarray -e tch)
    if [ -n "${GPU_CHECK_BACKENDS:-}" ]; then
        all=$(echo "$all" | grep -x -F "$(echo "$GPU_CHECK_BACKENDS" | tr ' ,' '\n\n')")
    fi
    echo "$all"
}

{
    echo "# gpu-check $(date -u +%FT%TZ) on $(hostname)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null ||
        echo "no nvidia-smi"
    for b in "${binaries[@]}"; do
        echo "$(basename "$b"): $("$b" --version 2>&1 | head -1); backends: $("$b" backends 2>&1 | tr '\n' ' ')"
    done
} | tee -a "$summary"

data="$here/fashion-mnist"
# The binary that runs each GPU backend, and the backends in order. A backend in two binaries
# runs from the first (`proxyless`, which has wgpu alone).
declare -A runner=()
order=()
for b in "${binaries[@]}"; do
  for backend in $(gpu_backends "$b"); do
    [ -n "${runner[$backend]:-}" ] && continue
    runner[$backend]=$b
    order+=("$backend")
  done
done
# Speed first (GPU_CHECK_BENCH=0 leaves it out): on every GPU backend, every search step beside
# PyTorch's same step on CUDA in the same run, with the kernels each step launches, at the paper's
# size (imagenet@224, batch 64) and at imagenet@64, batch 16 (GPU_CHECK_BENCH_SIZES lists
# SPACE:BATCH pairs; add imagenet@224:128 where memory allows); then cuda's child step layer by
# layer against PyTorch's (`bench --ops`), which names our slowest operations against cuDNN's.
# Autotune runs at its default level here (results kept on disk, so each case's fresh process
# tunes only what the earlier ones did not).
# bench_rows NAME DIR: every row of a bench table, with the backend and size, into the summary.
bench_rows() {
    grep -E '^\| [a-zA-Z]' "$2/bench.md" 2>/dev/null | grep -v -e '^| step |' |
        sed "s/^/  $1: /" | tee -a "$summary"
    sed -n -e 's/^Our child step takes/  '"$1"': our child step takes/p' \
        -e 's/^A search epoch/  '"$1"': a search epoch/p' "$2/bench.md" 2>/dev/null |
        tee -a "$summary"
}
if [ "${GPU_CHECK_BENCH:-1}" = 1 ]; then
    for backend in "${order[@]}"; do
        for size in ${GPU_CHECK_BENCH_SIZES:-imagenet@224:64 imagenet@64:16}; do
            space=${size%%:*}
            batch=${size##*:}
            name="$backend-bench-${space/@/}-b$batch"
            CUBECL_AUTOTUNE_LEVEL=${GPU_CHECK_BENCH_AUTOTUNE:-balanced} step "$name" \
                "$((2 * limit))" "${runner[$backend]}" --backend "$backend" bench \
                --space "$space" --batch "$batch" --rounds 1 --steps 5 --warmup 3 --vs-pytorch \
                --out "$out/$name"
            bench_rows "$backend ${space} b$batch" "$out/$name"
        done
    done
    if [ -n "${runner[cuda]:-}" ]; then
        CUBECL_AUTOTUNE_LEVEL=${GPU_CHECK_BENCH_AUTOTUNE:-balanced} step cuda-ops-imagenet224-b64 \
            "$((2 * limit))" "${runner[cuda]}" --backend cuda bench --ops --space imagenet@224 \
            --batch 64 --steps 5 --warmup 3 --vs-pytorch --out "$out/cuda-ops"
        grep -E '^\| ' "$out/cuda-ops/ops.md" 2>/dev/null | grep -v -e '^| ---' |
            sed 's/^/  cuda ops: /' | tee -a "$summary"
    fi
fi
# Then whether each backend computes what flex computes.
for backend in "${order[@]}"; do
    step "$backend-parity-fmnist" "$limit" "${runner[$backend]}" --backend "$backend" parity \
        --space fmnist --batch 16
done
# Latency tables and their validation (GPU_CHECK_LATENCY=0 leaves them out, and the searches
# for the GPU's and the CPU's tables with them).
latency=${GPU_CHECK_LATENCY:-1}
for backend in "${order[@]}"; do
    run=("${runner[$backend]}" --backend "$backend")
    step "$backend-parity-cifar10" "$limit" "${run[@]}" parity --space cifar10 --batch 8
    if [ "$latency" = 1 ]; then
        table="$out/$backend-fmnist-b16.yaml"
        step "$backend-latency-profile" "$limit" "${run[@]}" latency profile --space fmnist \
            --batch 16 --warmup 10 --runs 30 --out "$table"
        step "$backend-latency-validate" "$limit" "${run[@]}" latency validate --space fmnist \
            --batch 16 --samples 20 --warmup 5 --runs 20 --table "$table" \
            --plot "$out/$backend-validate.svg"
        step "$backend-latency-validate-imagenet64" "$limit" "${run[@]}" latency validate \
            --space imagenet@64 --batch 1 --samples 20 --warmup 5 --runs 20 --calibration 8 \
            --plot "$out/$backend-validate-imagenet64.svg"
    fi
    step "$backend-search" "$limit" "${run[@]}" search --data "$data" \
        --out "$out/$backend-search" --set data.train_limit=4000 --set data.holdout=1000 \
        --set schedule.warmup_epochs=1 --set schedule.epochs=1 --set schedule.keep_checkpoints=1
done
# The host CPU's table for the same space, to compare with the GPU's.
[ "$latency" = 1 ] && step "flex-latency-profile" "$limit" "$bin" --backend flex latency profile \
    --space fmnist --batch 16 --warmup 5 --runs 20 --out "$out/flex-fmnist-b16.yaml"

# Specialisation: the same search (on the first GPU backend) constrained to the latency of a
# MobileNetV2-like network (k3e6 everywhere) on the GPU's table and on the CPU's table; each
# found architecture's latency on both tables. The two searches run side by side.
# GPU_CHECK_SPECIALISE=0 leaves them out.
gpu=$(gpu_backends "$bin" | head -1)
if [ -n "$gpu" ] && [ "$latency" = 1 ] && [ "${GPU_CHECK_SPECIALISE:-1}" = 1 ]; then
    echo "k3e6 k3e6 | k3e6 k3e6 k3e6 | k3e6 k3e6 k3e6 | k3e6" >"$out/mobilenetv2-like.txt"
    predict() { # predict ARCH_FILE TABLE: latency in ms
        "$bin" latency predict "$1" --space fmnist --table "$2" --json |
            sed -n 's/.*"latency_ms":\([0-9.e+-]*\).*/\1/p'
    }
    for t in "$gpu" flex; do
        table="$out/$t-fmnist-b16.yaml"
        [ -f "$table" ] || continue
        target=$(predict "$out/mobilenetv2-like.txt" "$table")
        echo "target on the $t table (MobileNetV2-like): $target ms" | tee -a "$summary"
        step "search-for-$t-table" $((2 * limit)) "$bin" --backend "$gpu" search --data "$data" \
            --out "$out/search-for-$t" --set data.train_limit=6000 --set data.holdout=1000 \
            --set "target.cost=$table" --set target.loss=constraint \
            --set "target.reference=$target" --set schedule.keep_checkpoints=1 &
    done
    wait
    for t in "$gpu" flex; do
        arch="$out/search-for-$t/final/architecture.txt"
        [ -f "$arch" ] || continue
        line="searched for $t: $(cat "$arch")"
        for table in "$gpu" flex; do
            line="$line; on $table $(predict "$arch" "$out/$table-fmnist-b16.yaml") ms"
        done
        echo "$line" | tee -a "$summary"
    done
fi
# Data parallelism (GPU_CHECK_DEVICES=0 leaves it out): on every GPU backend, a short search and
# a training on one device and on two (`--devices`), the gradients of the two summed on the first.
# With two or more NVIDIA GPUs: the first two. With one: wgpu and vulkan run two device handles of
# the one GPU (`default` and `discrete-0`, two wgpu devices, the mechanics and not a speed-up);
# the other backends need a second GPU.
if [ "${GPU_CHECK_DEVICES:-1}" = 1 ]; then
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
    for backend in "${order[@]}"; do
        if [ "$gpus" -ge 2 ]; then
            two=2
        elif [ "$backend" = wgpu ] || [ "$backend" = vulkan ]; then
            two="$backend:default,$backend:discrete-0"
        else
            echo "$backend: one GPU here, no data-parallel run" | tee -a "$summary"
            continue
        fi
        for devices in 1 "$two"; do
            name="$backend-devices-$([ "$devices" = 1 ] && echo 1 || echo 2)"
            step "$name-search" "$limit" "${runner[$backend]}" --backend "$backend" search \
                --data "$data" --out "$out/$name-search" --devices "$devices" \
                --set data.train_limit=4000 --set data.holdout=1000 \
                --set schedule.warmup_epochs=1 --set schedule.epochs=1 \
                --set schedule.keep_checkpoints=1
            step "$name-train" "$limit" "${runner[$backend]}" --backend "$backend" train \
                "$out/$name-search" --devices "$devices" --epochs 1 --train-limit 8000 \
                --out "$out/$name-train"
            grep -h '^test top-1' "$out/$name-train.log" 2>/dev/null | sed "s/^/  $name: /" |
                tee -a "$summary"
        done
    done
fi
# Tree cells, the paper's CIFAR-10 experiment (GPU_CHECK_TREE=0 leaves it out): on every GPU
# backend, the released PyramidTreeNet built and counted, one epoch of it on CIFAR-10-format files
# made here (img/s: 2 on a 2-core CPU), and a search of the compact tree space whose network is
# then trained.
if [ "${GPU_CHECK_TREE:-1}" = 1 ]; then
    cifar="$out/cifar-files"
    mkdir -p "$cifar"
    python3 - "$cifar" <<'PY' || echo "tree: no python3 to write CIFAR-10 files" | tee -a "$summary"
import os, random, sys
random.seed(0)
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        for r in range(1000):
            label = r % 10
            f.write(bytes([label]))
            for c in range(3):
                tint = (label * 25 + c * 60) % 256
                f.write(bytes(tint // 2 + random.randrange(128) for _ in range(1024)))
PY
    cat >"$out/tree-search.toml" <<'TOML'
space = "cifar-tree-compact"
[data]
dataset = "cifar10"
holdout = 1000
batch_size = 64
arch_batch_size = 64
[schedule]
warmup_epochs = 2
epochs = 2
[target]
cost = "macs"
reference = 5.0
TOML
    for backend in "${order[@]}"; do
        step "$backend-tree-check" "$limit" "${runner[$backend]}" --backend "$backend" check             "$here/proxyless_cifar.json"
        step "$backend-tree-train" $((2 * limit)) "${runner[$backend]}" --backend "$backend" train \
            "$here/proxyless_cifar.json" --dataset cifar10 --data "$cifar" \
            --epochs 1 --batch-size 64 --out "$out/$backend-tree-train"
        grep -h '^epoch' "$out/$backend-tree-train.log" 2>/dev/null | sed "s/^/  $backend tree net: /" |
            tee -a "$summary"
        step "$backend-tree-search" "$limit" "${runner[$backend]}" --backend "$backend" search \
            --config "$out/tree-search.toml" --data "$cifar" --out "$out/$backend-tree-search"
        step "$backend-tree-search-train" "$limit" "${runner[$backend]}" --backend "$backend" \
            train "$out/$backend-tree-search" --epochs 1 --out "$out/$backend-tree-searched"
        grep -h '^test top-1' "$out/$backend-tree-search-train.log" 2>/dev/null |
            sed "s/^/  $backend searched tree net: /" | tee -a "$summary"
    done
fi
# Mixed precision: the child step and the supernet's weight step in bf16 against f32, on each GPU
# backend, the paper's space at 128 px, batch 64 (GPU_CHECK_PRECISION=0 leaves it out). A backend
# without bf16 tensors (wgpu's WGSL) refuses with a message, and its step fails.
if [ "${GPU_CHECK_PRECISION:-1}" = 1 ]; then
    for backend in "${order[@]}"; do
        for p in f32 bf16; do
            step "$backend-bench-imagenet128-$p" "$limit" "${runner[$backend]}" --backend "$backend" \
                bench --quick --space imagenet@128 --batch 64 --precision "$p" \
                --out "$out/$backend-bench-$p"
            grep -E '^\| (child network step|supernet weight step) \|' \
                "$out/$backend-bench-$p/bench.md" 2>/dev/null | sed "s/^/  $backend $p: /" |
                tee -a "$summary"
        done
    done
fi
# The image-folder loader on a generated folder of 2,000 JPEGs (300-500 px): images per second
# with one and with every decoding thread, and whether the paper's space at 224 px waits for it
# on the GPU (its supernet's weight steps fed by the loader against steps on a cached batch; the
# issue's bar is 1.1x). GPU_CHECK_LOADER=0 leaves it out.
if [ -n "$gpu" ] && [ "${GPU_CHECK_LOADER:-1}" = 1 ]; then
    step "data-generate" "$limit" "$bin" data generate --out "$out/folder-2000" --classes 10 \
        --per-class 200
    for batch in 64 256; do
        step "$gpu-loader-imagenet224-b$batch" $((2 * limit)) "$bin" --backend "$gpu" bench \
            --loader --folder "$out/folder-2000/train" --space imagenet@224 --batch "$batch" \
            --steps 10 --warmup 3 --out "$out/$gpu-loader-b$batch"
        sed -n 's/^Search steps fed by the loader/  '"$gpu"' b'"$batch"': search steps fed by the loader/p' \
            "$out/$gpu-loader-b$batch/loader.md" 2>/dev/null | tee -a "$summary"
    done
fi
# With GPU_CHECK_SWEEP=1: targets at 25%, 50% and 75% of the GPU table's range, each searched
# with the paper's soft loss (mul#log) and with constraint mode, the six searches side by side
# (each keeps the GPU far from busy); how far each derived architecture ends from its target.
if [ -n "$gpu" ] && [ "${GPU_CHECK_SWEEP:-0}" = 1 ]; then
    table="$out/$gpu-fmnist-b16.yaml"
    json_number() { sed 's/,/\n/g' | sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }
    range=$("$bin" latency range --space fmnist --table "$table" --json)
    low=$(echo "$range" | json_number min_ms)
    high=$(echo "$range" | json_number max_ms)
    echo "range on the $gpu table: $low to $high ms" | tee -a "$summary"
    for fraction in 0.25 0.5 0.75; do
        target=$(awk "BEGIN { print $low + $fraction * ($high - $low) }")
        for loss in mul#log constraint; do
            name="sweep-$fraction-${loss%%#*}"
            step "$name" $((3 * limit)) "$bin" --backend "$gpu" search --data "$data" \
                --out "$out/$name" --set data.train_limit=6000 --set data.holdout=1000 \
                --set "target.cost=$table" --set "target.loss=$loss" \
                --set "target.reference=$target" --set schedule.keep_checkpoints=1 &
        done
    done
    wait
    for fraction in 0.25 0.5 0.75; do
        target=$(awk "BEGIN { print $low + $fraction * ($high - $low) }")
        line="target $target ms ($fraction of the range):"
        for loss in mul#log constraint; do
            name="sweep-$fraction-${loss%%#*}"
            cost=$(json_number cost <"$out/$name/final/summary.json")
            line="$line $loss $cost ms ($(awk "BEGIN { printf \"%+.1f%%\", 100 * ($cost / $target - 1) }"));"
        done
        echo "$line" | tee -a "$summary"
    done
fi
# With GPU_CHECK_STUDY=1: does the search beat chance on the GPU? The built-in study (the default
# search with two seeds, random networks within ±5% of each searched cost, the uniform baseline
# and the cheapest and dearest networks, all retrained alike with two seeds) at a larger size
# than a 2-core CPU allows: 5 random networks per search, 20,000 images, 3 epochs.
if [ -n "$gpu" ] && [ "${GPU_CHECK_STUDY:-0}" = 1 ]; then
    step "study" $((6 * limit)) "$bin" --backend "$gpu" study --data "$data" \
        --out "$out/study" --set random_per_search=5 --set train_limit=20000 \
        --set train_epochs=3
    sed -n '3,6p' "$out/study/study.md" 2>/dev/null | tee -a "$summary"
fi
echo "results in $out"
