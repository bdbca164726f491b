#!/usr/bin/env bash
# Every GPU check of the project in one run, within BUDGET seconds (default 540: a device call may run 600) on one
# H100 or H200 with 16 cores: the build of the CUDA module, the GPU-marked tests, the CUDA engine's equality with the
# CPU engine (random and real pairs), its timing (2D and 3D batches, against the CPU engine on all cores and
# Betti-Matching-3D), the Betti matching loss's share of a 3D U-Net step against clDice's (bench_gpu.py --only 3d8),
# and, while time is left, the other losses' table. Each section gets at most its own limit and what is left of the
# budget, so an overrun costs the sections after it, never the whole run's output.
# Output: everything on stdout, and $OUT/gpu_check.log when $OUT is set.
#
# The GPU machine has no network: first run `bash benchmarks/gpu_prepare.sh` here, then on the device
#   bash benchmarks/gpu_check.sh            # from the repository root, carrying .gpu_data
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:+$OUT/gpu_check.log}
exec > >(tee ${LOG:-/dev/null}) 2>&1
export PYTHONUNBUFFERED=1
BUDGET=${BUDGET:-540}
status=0
start=$(date +%s)
section() { echo; echo "=== $1 ($(date +%T), $(( $(date +%s) - start )) s in)"; }
# run LIMIT CMD...: CMD with a time limit of LIMIT seconds or what is left of the budget, whichever is less.
run() {
    local left=$(( BUDGET - ($(date +%s) - start) ))
    local limit=$(( $1 < left ? $1 : left ))
    if [ "$limit" -lt 15 ]; then echo "SKIPPED (budget spent): ${*:2}"; status=1; return; fi
    timeout "$limit" "${@:2}" || { echo "FAILED ($?, limit ${limit} s): ${*:2}"; status=1; }
}
ROOT=$(pwd)
DATA_DIR=${GPU_DATA:-$ROOT/.gpu_data}

section "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
nproc

section "carried wheels (MONAI, nibabel, gudhi: the image lacks them)"
if ls "$DATA_DIR"/wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$DATA_DIR"/wheels/*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
else
    echo "no wheels in $DATA_DIR/wheels (run benchmarks/gpu_prepare.sh here first): seglosses may not import"
fi

section "build: the package with its CUDA module for sm_90 (nvcc, nanobind, scikit-build-core are there)"
run 200 python3 -m pip install -q --no-build-isolation --no-deps -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=90 \
    -Cbuild.tool-args=-j16 -Cbuild-dir=/tmp/seglosses-build .
# From outside the source tree, so that the installed package (with its compiled modules) is the one imported.
(cd /tmp && python3 -c "import torch, seglosses; from seglosses import _cuda; print('torch', torch.__version__, \
'cuda', torch.version.cuda, 'seglosses', seglosses.__version__, 'devices', _cuda.device_count())") || status=1

section "GPU-marked tests (the CUDA engine's, and every loss's on CUDA)"
# From tests/: the installed package is imported, not the source folder (`python -m pytest` puts the working
# folder on sys.path).
run 120 env -C "$ROOT/tests" python3 -m pytest -q -m gpu -p no:cacheprovider test_cuda.py test_gpu.py

section "CUDA engine: equality with the CPU engine (1,000 2D + 200 3D barcodes, 500 matchings, real pairs)"
REAL=$DATA_DIR/real_pairs.npz
run 120 env -C /tmp python3 "$ROOT/benchmarks/bench_cuda.py" --cases 1000 --no-timing \
    $( [ -f "$REAL" ] && echo --real "$REAL")

section "CUDA engine: timing, 16 maps of 512^2 and 8 volumes of 64^3 and 128^3 (GPU, CPU engine, Betti-Matching-3D)"
BM3D=$DATA_DIR/bm3d
run 150 env -C /tmp python3 "$ROOT/benchmarks/bench_cuda.py" --cases 0 --batch 16 --side 512 --batch-3d 8 \
    --sides-3d 64 128 --rounds 2 --bm3d-pairs 2 $( [ -d "$BM3D" ] && echo --bm3d "$BM3D")

section "the Betti matching loss's share of a 3D U-Net step (batch 8 of 64^3) against clDice(10)"
run 60 env -C /tmp python3 "$ROOT/benchmarks/bench_gpu.py" --only 3d8 --steps 10

section "losses: ms per training step and share of the step; peak CUDA memory (while the budget lasts)"
run 120 env -C /tmp python3 "$ROOT/benchmarks/bench_gpu.py" --steps 5

section "done: status $status, $(( $(date +%s) - start )) s"
exit $status
