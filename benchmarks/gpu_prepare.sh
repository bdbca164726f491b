#!/usr/bin/env bash
# Run HERE (with network and ../shared/data) before a GPU session: puts into .gpu_data/ (git-ignored) what
# benchmarks/gpu_check.sh needs on the GPU machine, which has no network and lacks some packages:
#   .gpu_data/wheels/      Python 3.12 wheels of the packages its image lacks (MONAI, nibabel; gudhi, which
#                          some test modules import), installed there with --no-index --no-deps
#   .gpu_data/bm3d/        Betti-Matching-3D's module for Python 3.12 (from the topolosses wheel): bench_cuda.py --bm3d
#   .gpu_data/real_pairs.npz  real label pairs (TopoMortar, DRIVE, vesselNN slices and 3D patches): bench_cuda.py --real
# Then name .gpu_data in the device call's carry (about 15 MB; the limit is 64 MiB with the working tree).
#
#   bash benchmarks/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.gpu_data
PY=${PYTHON:-python}
mkdir -p "$DEST/wheels" "$DEST/bm3d"
platforms=()
for p in manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
get() { "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platforms[@]}" -d "$1" "${@:2}"; }
get "$DEST/wheels" monai==1.6.1 nibabel==5.4.2 gudhi==3.13.0
tmp=$(mktemp -d)
get "$tmp" topolosses==0.2.0
"$PY" - "$tmp" "$DEST/bm3d" <<'PY'
import sys, zipfile
from pathlib import Path
wheel = next(Path(sys.argv[1]).glob("topolosses-*.whl"))
with zipfile.ZipFile(wheel) as zf:
    name = next(n for n in zf.namelist() if "/betti_matching/src/betti_matching" in n and n.endswith(".so"))
    (Path(sys.argv[2]) / Path(name).name).write_bytes(zf.read(name))
    print("Betti-Matching-3D for Python 3.12:", Path(name).name)
PY
rm -rf "$tmp"
"$PY" benchmarks/bench_cuda.py --export-real "$DEST/real_pairs.npz"
du -sh "$DEST" "$DEST"/*
