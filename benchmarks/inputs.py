"""Benchmark inputs of ANCHORS.md, generated with a fixed seed (shared by every benchmark script).

Kinds (all float64 in [0, 1], read as foreground likelihoods):
- ``noise``: uniform random values, the worst case for persistence (most bars, least structure);
- ``lik``: a noisy likelihood map of a vessel-like mask (early training): the mask blurred, rescaled
  to [0.15, 0.85] and overlaid with Gaussian noise;
- ``clean``: a smooth likelihood of the same mask (late training): the mask blurred, rescaled to
  [0.05, 0.95] (no saturated plateaus: exact 0/1 plateaus are a different worst case) with little noise.

- ``binary``: a random binary mask (each voxel foreground with probability 1/2): what the Betti metrics
  meet on early-training predictions, and the target of the matching family "noise vs random binary";
- ``plateau``: the vessel mask blurred and quantized to four levels (0, 1/3, 2/3, 1): heavy plateaus,
  exact 0/1 among them.

Sizes: 2D 256^2 and 512^2; 3D 64^3, 96^3 and 128^3. ``CASES`` lists the (shape, kind) rows of the
ANCHORS.md table (noise, lik, clean); ``binary`` and ``plateau`` are the families of the engine benchmark
(bench_engine.py) that exposed construction T's slow paths.

Usage from another script in benchmarks/: ``from inputs import CASES, make_input``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter

from seglosses.synthetic import vessel_tree

SEED = 0
KINDS = ("noise", "lik", "clean", "binary", "plateau")
SHAPES_2D = ((256, 256), (512, 512))
SHAPES_3D = ((64, 64, 64), (96, 96, 96), (128, 128, 128))

# The rows of ANCHORS.md: (shape, kind).
CASES = (
    [(s, k) for s in SHAPES_2D for k in ("noise", "lik", "clean")]
    + [((64,) * 3, k) for k in ("noise", "lik", "clean")]
    + [((96,) * 3, k) for k in ("noise", "lik")]
    + [((128,) * 3, k) for k in ("noise", "lik", "clean")]
)
QUICK_CASES = [(s, k) for s, k in CASES if len(s) == 2 or s[0] == 64]


@lru_cache(maxsize=8)
def vessel_mask(shape: tuple[int, ...]) -> np.ndarray:
    """A vessel-like tree mask (bool) of ``shape``; branch count grows with the size."""
    n_branches = max(8, int(np.prod(shape) ** (1 / len(shape)) // 6))
    _, label = vessel_tree(tuple(shape), n_branches=n_branches, max_radius=3.0, seed=SEED)
    return label.astype(bool)


def make_input(shape: tuple[int, ...], kind: str, seed: int = SEED) -> np.ndarray:
    """The benchmark image of ``shape`` and ``kind`` (C-contiguous float64, values in [0, 1])."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    if kind == "noise":
        return rng.random(shape)
    if kind not in KINDS:
        raise ValueError(f"Expected `kind` to be one of {KINDS}, but got {kind!r}.")
    if kind == "binary":
        return (rng.random(shape) < 0.5).astype(np.float64)
    smooth = gaussian_filter(vessel_mask(shape).astype(np.float64), sigma=1.0)
    if kind == "plateau":
        return np.round(3.0 * smooth / max(float(smooth.max()), 1e-12)) / 3.0
    if kind == "lik":
        image = 0.15 + 0.7 * smooth + rng.normal(0.0, 0.15, shape)
    else:
        image = 0.05 + 0.9 * smooth + rng.normal(0.0, 0.01, shape)
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0))


def case_name(shape: tuple[int, ...], kind: str) -> str:
    """A table label such as ``512^2 noise`` or ``64^3 lik``."""
    return f"{shape[0]}^{len(shape)} {kind}"
