#!/usr/bin/env bash
# Every GPU check of the project in one run (about 8 minutes on one H200): the build of the CUDA module, the
# GPU-marked tests, the CUDA engine's equality and timing (bench_cuda.py), the loss timing
# and memory table, the examples' --device cuda --amp for a few hundred steps, and DDP over NCCL. Sections whose
# code has not landed skip themselves. Output: everything on stdout, and $OUT/gpu_check.log when $OUT is set.
#
#   bash benchmarks/gpu_check.sh            # from the repository root, with the package installed (pip install .)
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:+$OUT/gpu_check.log}
exec > >(tee ${LOG:-/dev/null}) 2>&1
status=0
section() { echo; echo "=== $1 ($(date +%T))"; }
run() { timeout "$1" "${@:2}" || { echo "FAILED ($?): ${*:2}"; status=1; }; }

section "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python -c "import torch, seglosses; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'seglosses', seglosses.__version__)"

section "build: the package with its CUDA module (nvcc, nanobind and scikit-build-core are on the GPU machine)"
if ! python -c "import seglosses._cuda" 2>/dev/null; then
    run 300 python -m pip install -q --no-build-isolation --no-deps -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=90 -Cbuild.tool-args=-j16 .
fi
python -c "from seglosses import _cuda; print('seglosses._cuda devices:', _cuda.device_count())" || status=1

section "GPU-marked tests"
run 240 python -m pytest -q -m gpu -p no:cacheprovider tests

section "CUDA engine: equality with the CPU engine (1,000 barcodes, 500 matchings), 16 maps of 512^2 GPU vs all cores"
# Real label pairs travel as .gpu_data/real_pairs.npz (made here by bench_cuda.py --export-real; carry .gpu_data).
REAL=${REAL_PAIRS:-.gpu_data/real_pairs.npz}
run 300 python benchmarks/bench_cuda.py --cases 1000 --batch 16 --side 512 --rounds 2 ${REAL:+$( [ -f "$REAL" ] && echo --real "$REAL")}

section "losses: ms per training step and share of the step; peak CUDA memory"
run 180 python benchmarks/bench_gpu.py --steps 10

DATA=${SEGLOSSES_DATA:-../shared/data}
section "examples, --device cuda --amp"
if [ -f "$DATA/topomortar/splits.yaml" ]; then
    run 150 python examples/train_topomortar.py --protocol paper --device cuda --amp --steps 200 --val-cases 2 \
        --loss "dice_ce+0.5*cldice" --out "${TMPDIR:-/tmp}/gpu-topomortar" --overwrite
else
    echo "no TopoMortar data in $DATA: skipped"
fi
if [ -d "$DATA/drive" ]; then
    run 90 python examples/train_drive.py --device cuda --amp --steps 200 --loss "dice_ce+skeleton_recall" \
        --out "${TMPDIR:-/tmp}/gpu-drive" --overwrite
fi
if [ -d "$DATA/vesselnn" ]; then
    run 120 python examples/train_vessels3d.py --device cuda --amp --steps 200 --loss "dice_ce+0.5*mip" \
        --out "${TMPDIR:-/tmp}/gpu-vessels3d" --overwrite
fi

section "DDP over NCCL, one process"
if [ -f "$DATA/topomortar/splits.yaml" ]; then
    run 120 torchrun --nproc_per_node 1 examples/train_topomortar.py --device cuda --quick --steps 50 \
        --out "${TMPDIR:-/tmp}/gpu-ddp" --overwrite
fi

section "done: status $status"
exit $status
