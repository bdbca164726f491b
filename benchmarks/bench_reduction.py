"""Which direction the 3D H1 image reduction of a Betti matching should take: homology vs cohomology.

For every pairing of a prediction kind (noise, lik, clean, binary, plateau of inputs.py) with a target kind (a vessel
mask, a random binary mask, noise, a 3-level image), sublevel and superlevel, it times the image reduction f -> c of
one matching in both directions and in the engine's automatic choice (h1_reduction.cpp: image_by_homology), each in
a fresh process with SEGLOSSES_PROFILE=1 (the engine's own timer of that reduction: raw columns plus reduction), and
prints seconds and auto / best. The results do not depend on the direction (tests/test_betti_matching.py checks it);
only the time does.

    python benchmarks/bench_reduction.py --side 40 --construction T
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

CHILD = r"""
import sys
import numpy as np
sys.path.insert(0, sys.argv[7])
from inputs import make_input, vessel_mask
from seglosses import _core
side, fk, gk, construction, negate, reduction = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1", int(sys.argv[6])
def image(kind, seed):
    shape = (side,) * 3
    if kind == "vessel":
        return vessel_mask(shape).astype(np.float64)
    return make_input(shape, "binary" if kind == "randbin" else kind, seed=seed)  # randbin: the binary kind as target
_core.betti_matching(image(fk, 1), image(gk, 2), construction, reduction=reduction, negate=negate)
"""
LINE = re.compile(r"h1 image f->c \((\w+)\):.*raw ([\d.]+) s reduce ([\d.]+) s")


def reduction_seconds(side: int, fk: str, gk: str, construction: int, negate: bool, reduction: int) -> tuple[str, float]:
    here = os.path.dirname(os.path.abspath(__file__))
    args = [sys.executable, "-c", CHILD, str(side), fk, gk, str(construction), "1" if negate else "0", str(reduction), here]
    # cwd: benchmarks/, so that the repository's seglosses/ (no compiled core) does not shadow the installed package.
    out = subprocess.run(args, env={**os.environ, "SEGLOSSES_PROFILE": "1"}, capture_output=True, text=True, check=True,
                         cwd=here)
    for line in out.stderr.splitlines():
        m = LINE.search(line)
        if m:
            return m.group(1), float(m.group(2)) + float(m.group(3))
    raise RuntimeError(f"no profile line in the child's output:\n{out.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=40)
    parser.add_argument("--construction", choices=("T", "V"), default="T")
    args = parser.parse_args()
    construction = 0 if args.construction == "T" else 1
    print(f"{args.side}^3, construction {args.construction}: seconds of the image reduction f -> c")
    print(f"{'prediction':<10} {'target':<8} {'filtration':<10} {'homology':>9} {'cohomology':>11} {'auto':>7} "
          f"{'(chose)':<12} {'auto / best':>11}")
    worst = 0.0
    for fk in ("noise", "lik", "clean", "binary", "plateau"):
        for gk in ("vessel", "randbin", "noise", "plateau"):
            for negate in (False, True):
                _, hom = reduction_seconds(args.side, fk, gk, construction, negate, 1)
                _, coh = reduction_seconds(args.side, fk, gk, construction, negate, 2)
                chose, auto = reduction_seconds(args.side, fk, gk, construction, negate, 0)
                ratio = auto / max(min(hom, coh), 1e-9)
                worst = max(worst, ratio)
                print(f"{fk:<10} {gk:<8} {'superlevel' if negate else 'sublevel':<10} {hom:>9.3f} {coh:>11.3f} "
                      f"{auto:>7.3f} {'(' + chose + ')':<12} {ratio:>11.2f}", flush=True)
    print(f"worst auto / best: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
