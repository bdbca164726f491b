"""Compare the compiled engine with another build of it: every barcode and matching must be identical.

Build the other version's extension (for example a commit before an engine change) outside the tree
and point at it::

    git worktree add /tmp/old <commit>
    cmake -S /tmp/old -B /tmp/oldbuild -DPython_EXECUTABLE=$(which python) && make -C /tmp/oldbuild
    python benchmarks/compare_builds.py /tmp/oldbuild/_core.cpython-311-x86_64-linux-gnu.so

Inputs: random 3D volumes (a tenth larger ones, some with a singleton axis) and 2D images of uniform noise, three levels, random binary masks
and smooth binary blobs, each pairing, both constructions, both filtrations (``x`` and ``-x``; ``-x`` also as
``negate=True``, the current build's negation without a copy, against the other build's ``-x``, for
persistence and for Betti matching).
Exits 1 on the first difference.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

import numpy as np
from scipy.ndimage import gaussian_filter

from seglosses import _core as current


def load(path: str):
    spec = importlib.util.spec_from_file_location("_core", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def image(rng: np.random.Generator, shape: tuple[int, ...], kind: int) -> np.ndarray:
    if kind == 0:
        return rng.random(shape)
    if kind == 1:
        return rng.integers(0, 3, shape).astype(np.float64)
    if kind == 2:
        return (rng.random(shape) > rng.uniform(0.2, 0.8)).astype(np.float64)
    return (gaussian_filter(rng.random(shape), 2) > 0.5).astype(np.float64)


def same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b))
    return a == b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", help="path of the other build's _core extension module")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    other = load(args.other)
    rng = np.random.default_rng(args.seed)
    calls = 0
    for trial in range(args.trials):
        shape = tuple(int(s) for s in rng.integers(2, 30 if trial % 10 == 0 else 12, 3))
        if trial % 3 == 1:  # 2D, larger
            shape = tuple(int(s) for s in rng.integers(2, 60, 2))
        elif trial % 7 == 2:  # 3D with a singleton axis (the planar grids)
            shape = shape[:1] + (1,) + shape[2:]
        kinds = rng.integers(0, 4, 2)
        a, b = image(rng, shape, int(kinds[0])), image(rng, shape, int(kinds[1]))
        for construction in (0, 1):
            for sign in (1.0, -1.0):
                x, y = sign * a, sign * b
                checks = {
                    "persistence": (current.persistence(x, construction), other.persistence(x, construction)),
                    "betti_matching": (
                        current.betti_matching(x, y, construction),
                        other.betti_matching(x, y, construction),
                    ),
                }
                if sign < 0:  # the core's own negation (no copy) against the other build's negated input
                    checks["persistence negate=True"] = (current.persistence(a, construction, negate=True),
                                                         other.persistence(x, construction))
                    checks["betti_matching negate=True"] = (current.betti_matching(a, b, construction, negate=True),
                                                            other.betti_matching(x, y, construction))
                for name, (ours, theirs) in checks.items():
                    calls += 1
                    if not same(ours, theirs):
                        print(f"DIFFERENT: {name}, shape {shape}, kinds {kinds.tolist()}, construction {construction}, sign {sign}")
                        return 1
    print(f"identical on {calls} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
