"""Segmentation metrics on one binary prediction and target mask (2D or 3D, numpy or torch).

Every function takes two masks of one shape, of a bool, integer or floating dtype holding only 0 and 1
(threshold probabilities first), and returns plain floats or numpy arrays. Topology uses the engine of
:mod:`seglosses.topology` with an explicit ``construction``: ``"T"`` (the default: pixels as top cells, foreground
8-connected in 2D and 26-connected in 3D, as scikit-image's default labelling and TopoMortar's metrics) or ``"V"``
(foreground 4-/6-connected). Dice and HD95 are MONAI's.

Empty masks (prediction ``P``, target ``G``), what each metric returns:

==========================  ==========  ==========  =============  ===============================================
metric                      P, G empty  P empty     G empty        why
==========================  ==========  ==========  =============  ===============================================
dice                        1.0         0.0         0.0            agreement on "nothing" is perfect (MONAI's
                                                                   ``ignore_empty=False``)
cldice                      1.0         0.0         0.0            as Dice, on the skeleton ratios
topology_precision          1.0         1.0         0.0            nothing predicted: nothing wrong
topology_sensitivity        1.0         0.0         1.0            nothing to find: nothing missed
betti_number_errors         zeros       b(G)        b(P)           the Betti numbers of an empty mask are 0
local_betti_errors          zeros       as above    as above       per tile, averaged over the tiles
betti_matching_error        zeros       b(G)        b(P)           all bars of the non-empty side are unmatched
hd95                        0.0         NaN         NaN            no surface to measure from: NaN is the honest
                                                                   answer (aggregations skip it)
==========================  ==========  ==========  =============  ===============================================
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import cast

import numpy as np
import torch

from seglosses._arrays import to_numpy
from seglosses._validation import CONSTRUCTIONS, DEFAULT_CONSTRUCTION, check_choice
from seglosses.ops.skeleton import binary_skeleton
from seglosses.topology import Barcode, BettiMatching, betti_matching, betti_numbers, persistence

__all__ = [
    "METRIC_NAMES",
    "betti_matching_error",
    "betti_number_errors",
    "cldice",
    "dice",
    "evaluate_case",
    "hd95",
    "local_betti_errors",
    "topology_precision",
    "topology_sensitivity",
]

METRIC_NAMES = ("dice", "cldice", "betti", "local_betti", "betti_matching", "hd95")


def as_mask(mask, name: str) -> np.ndarray:
    """A 2D or 3D binary mask as a bool numpy array; ``ValueError``/``TypeError`` naming ``name`` otherwise.

    Tensors of any device and dtype (bfloat16 and float16 included) are read as they are."""
    if isinstance(mask, torch.Tensor):
        mask = to_numpy(mask, name)
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"Expected `{name}` to be a numpy array or torch tensor, but got {type(mask).__name__}.")
    if mask.dtype.kind not in "biuf":
        raise TypeError(f"Expected `{name}` to have a bool, integer or floating dtype, but got {mask.dtype}.")
    if mask.ndim not in (2, 3) or mask.size == 0:
        raise ValueError(f"Expected `{name}` to be a non-empty 2D or 3D mask, but got shape {mask.shape}.")
    if mask.dtype.kind != "b":
        values = np.unique(mask)
        if not np.all(np.isin(values, (0, 1))):
            shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")
            raise ValueError(
                f"Expected `{name}` to be a binary mask with values in {{0, 1}} (threshold probabilities first), "
                f"but got values {{{shown}}}."
            )
    return mask.astype(bool, copy=False)


def _pair(prediction, target) -> tuple[np.ndarray, np.ndarray]:
    p, g = as_mask(prediction, "prediction"), as_mask(target, "target")
    if p.shape != g.shape:
        raise ValueError(f"Expected `prediction` and `target` to have the same shape, but got {p.shape} and {g.shape}.")
    return p, g


def dice(prediction, target) -> float:
    """Dice coefficient 2|P∩G| / (|P| + |G|); 1.0 when both masks are empty."""
    p, g = _pair(prediction, target)
    total = int(p.sum()) + int(g.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(p, g).sum()) / total


def topology_precision(prediction, target) -> float:
    """Share of the prediction's skeleton inside the target, |S(P)∩G| / |S(P)| (Shit et al., CVPR 2021)."""
    p, g = _pair(prediction, target)
    skeleton = binary_skeleton(p)
    n = int(skeleton.sum())
    return 1.0 if n == 0 else int(np.logical_and(skeleton, g).sum()) / n


def topology_sensitivity(prediction, target) -> float:
    """Share of the target's skeleton inside the prediction, |S(G)∩P| / |S(G)| (Shit et al., CVPR 2021)."""
    p, g = _pair(prediction, target)
    skeleton = binary_skeleton(g)
    n = int(skeleton.sum())
    return 1.0 if n == 0 else int(np.logical_and(skeleton, p).sum()) / n


def cldice(prediction, target) -> float:
    """clDice: harmonic mean of topology precision and sensitivity, on :func:`seglosses.ops.binary_skeleton`
    (scikit-image's thinning, with a centre kept for objects its 3D thinning deletes: the skeleton of Skeleton
    Recall's tubes too).

    Example:
        >>> g = np.zeros((9, 9), bool); g[4, 1:8] = True
        >>> cldice(g, g)
        1.0
    """
    precision, sensitivity = topology_precision(prediction, target), topology_sensitivity(prediction, target)
    total = precision + sensitivity
    return 0.0 if total == 0 else 2.0 * precision * sensitivity / total


def _cuda_pair(prediction, target) -> tuple[torch.Tensor, torch.Tensor]:
    """Two binary CUDA masks of one shape as float64 CUDA tensors (``backend="cuda"``): the checks of ``as_mask``
    on the device, their values read back in one copy."""
    from seglosses.topology._cuda import as_cuda_image, load

    load()
    p, g = as_cuda_image(prediction, "prediction"), as_cuda_image(target, "target")
    if p.shape != g.shape or p.device != g.device:
        raise ValueError(f"Expected `prediction` and `target` to have the same shape on one device, but got "
                         f"{tuple(p.shape)} on {p.device} and {tuple(g.shape)} on {g.device}.")
    values = torch.unique(torch.stack([p, g])).cpu().numpy()
    if not np.isin(values, (0.0, 1.0)).all():
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise ValueError(f"Expected `prediction` and `target` to be binary masks with values in {{0, 1}} (threshold "
                         f"probabilities first), but got values {{{shown}}}.")
    return p, g


def betti_number_errors(
    prediction, target, *, construction: str = DEFAULT_CONSTRUCTION, backend: str = "auto"
) -> np.ndarray:
    """|b_k(G) - b_k(P)| per homology dimension k: (2,) in 2D, (3,) in 3D, int64.

    ``backend="cuda"``: CUDA masks, their barcodes computed on the GPU engine (experimental, see
    :func:`seglosses.topology.persistence`); ``"auto"``/``"cpu"``: the CPU engine on host copies.

    Example:
        >>> ring = np.zeros((7, 7), bool); ring[1:6, 1:6] = True; ring[3, 3] = False
        >>> square = ring.copy(); square[3, 3] = True                  # the hole filled in
        >>> betti_number_errors(square, ring)
        array([0, 1])
    """
    check_choice("construction", construction, CONSTRUCTIONS)
    check_choice("backend", backend, ("auto", "cpu", "cuda"))
    if backend == "cuda":
        p_cuda, g_cuda = _cuda_pair(prediction, target)
        b_p, b_g = (betti_numbers(m, construction=construction, backend="cuda") for m in (p_cuda, g_cuda))
    else:
        p, g = _pair(prediction, target)
        b_p, b_g = (betti_numbers(m, construction=construction) for m in (p, g))
    return np.abs(np.array(b_g) - np.array(b_p)).astype(np.int64)


def _tiles(shape: tuple[int, ...], tile_size: Sequence[int]):
    """Slices of the non-overlapping tiles covering ``shape`` (the last tile of an axis may be smaller)."""
    grids = [range(0, n, t) for n, t in zip(shape, tile_size)]
    for corner in np.ndindex(*[len(g) for g in grids]):
        yield tuple(slice(g[i], g[i] + t) for g, i, t in zip(grids, corner, tile_size))


def validate_tile_size(tile_size, ndim: int | None = None) -> tuple[int, ...]:
    """``tile_size`` as one positive int per axis (``ndim`` of them; any number >= 1 when ``ndim`` is None)."""
    def is_size(s) -> bool:
        return bool(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 1)

    if is_size(tile_size):
        return (int(tile_size),) * (ndim or 1)
    sizes = tuple(tile_size) if isinstance(tile_size, (Sequence, np.ndarray)) and not isinstance(tile_size, str) else None
    if sizes is None or not sizes or (ndim is not None and len(sizes) != ndim) or not all(map(is_size, sizes)):
        count = "one per axis" if ndim is None else f"{ndim}"
        raise ValueError(f"Expected `tile_size` to be a positive int or {count} positive ints, but got {tile_size!r}.")
    return tuple(int(s) for s in sizes)


def local_betti_errors(
    prediction,
    target,
    *,
    tile_size: int | Sequence[int] = 128,
    construction: str = DEFAULT_CONSTRUCTION,
    num_threads: int | None = None,
) -> np.ndarray:
    """Betti-number errors on non-overlapping tiles, averaged over the tiles, per dimension (float64).

    The image is cut into tiles of ``tile_size`` (an int for every axis, or one per axis; the tiles at the far
    edges may be smaller), the Betti numbers of prediction and target are computed inside each tile as separate
    images, and |b_k(G_tile) - b_k(P_tile)| is averaged over the tiles. Errors that cancel out over the whole
    image (a break here, an extra component there) are counted: the local error is at least as strict as the
    global one for the typical mistakes of thin structures. TopoMortar reports it on 128x128 tiles of its
    512x512 images. All tiles go to the engine in one call on ``num_threads`` threads (default: all cores).
    """
    check_choice("construction", construction, CONSTRUCTIONS)
    p, g = _pair(prediction, target)
    return local_betti_errors_of([(p, g)], validate_tile_size(tile_size, p.ndim), construction, num_threads)[0]


def betti_numbers_of(masks: Sequence[np.ndarray], construction: str, num_threads: int | None = None) -> list[np.ndarray]:
    """The Betti numbers of many validated binary masks (shapes may differ) in one threaded engine call: per mask,
    its essential classes at level 1 (as ``betti_numbers``), int64."""
    if not masks:
        return []
    barcodes = cast(list[Barcode], persistence(
        [np.asarray(m, dtype=np.float64) for m in masks], filtration="superlevel", construction=construction,
        num_threads=num_threads,
    ))
    return [
        np.array([((v[:, 0] == 1.0) & (v[:, 1] < 1.0)).sum() for v in map(b.intervals, b.dims)], dtype=np.int64)
        for b in barcodes
    ]


def local_betti_errors_of(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]], tile_size: tuple[int, ...], construction: str,
    num_threads: int | None = None,
) -> list[np.ndarray]:
    """``local_betti_errors`` of many validated (prediction, target) pairs, every tile of every pair in one engine
    call."""
    tiles = [list(_tiles(p.shape, tile_size)) for p, _ in pairs]
    masks = [side[t] for (p, g), ts in zip(pairs, tiles) for side in (p, g) for t in ts]
    betti = betti_numbers_of(masks, construction, num_threads)
    out, at = [], 0
    for ts in tiles:
        n = len(ts)
        predicted, truth = betti[at:at + n], betti[at + n:at + 2 * n]
        out.append(np.mean([np.abs(b - a) for a, b in zip(predicted, truth)], axis=0))
        at += 2 * n
    return out


def betti_matching_error(
    prediction, target, *, construction: str = DEFAULT_CONSTRUCTION, num_threads: int | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """Unmatched bars per dimension of the Betti matching of the two masks (Stucki et al., ICML 2023), int64.

    On binary masks every bar is (1, 0): a feature of one mask that has no partner in the other through their
    union counts once (unmatched prediction bars + unmatched target bars). 0 when the topology agrees feature
    by feature, which Betti-number equality alone does not guarantee (a component moved elsewhere is counted).
    ``num_threads``: threads of the matching (default: all cores; see ``seglosses.topology.betti_matching``).
    ``backend="cuda"``: CUDA masks, matched on the GPU engine (experimental, see
    :func:`seglosses.topology.betti_matching`); ``"auto"``/``"cpu"``: the CPU engine on host copies.
    """
    check_choice("construction", construction, CONSTRUCTIONS)
    check_choice("backend", backend, ("auto", "cpu", "cuda"))
    if backend == "cuda":
        p_cuda, g_cuda = _cuda_pair(prediction, target)
        m = cast(BettiMatching, betti_matching(p_cuda, g_cuda, construction=construction, num_threads=num_threads,
                                               backend="cuda"))
        p_any, g_any = (bool(flag) for flag in torch.stack([p_cuda.any(), g_cuda.any()]).cpu())
    else:
        p, g = _pair(prediction, target)
        m = cast(BettiMatching, betti_matching(p.astype(np.float64), g.astype(np.float64), construction=construction,
                                               num_threads=num_threads))
        p_any, g_any = bool(p.any()), bool(g.any())
    unmatched = m.num_unmatched_prediction + m.num_unmatched_target
    # The essential components always match; an empty mask has none, so the other side's is unmatched.
    if p_any != g_any:
        unmatched[0] += 1
    return unmatched.astype(np.int64)


def hd95(prediction, target, *, spacing: Sequence[float] | None = None) -> float:
    """95th percentile Hausdorff distance (MONAI's ``compute_hausdorff_distance``, symmetric), in ``spacing`` units.

    0.0 when both masks are empty, NaN when exactly one is (no surface to measure from).
    """
    from monai.metrics import compute_hausdorff_distance

    p, g = _pair(prediction, target)
    if not p.any() and not g.any():
        return 0.0
    if not p.any() or not g.any():
        return float("nan")
    as_batch = lambda m: torch.from_numpy(m)[None, None].float()  # noqa: E731
    with warnings.catch_warnings():  # MONAI >= 1.5 warns about its own internal use of a deprecated argument
        warnings.simplefilter("ignore", FutureWarning)
        value = compute_hausdorff_distance(
            as_batch(p), as_batch(g), include_background=True, percentile=95,
            spacing=None if spacing is None else list(spacing),
        )
    return float(value.item())


def evaluate_case(
    prediction,
    target,
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    construction: str = DEFAULT_CONSTRUCTION,
    tile_size: int | Sequence[int] = 128,
    spacing: Sequence[float] | None = None,
    num_threads: int | None = None,
) -> dict[str, float]:
    """The chosen metrics of one binary pair as flat columns, for tables and the command line.

    ``num_threads`` goes to the Betti matching and the local Betti errors (default: all cores).

    Columns: ``dice``; ``cldice``; ``betti_error_k`` per dimension k; ``local_betti_error_k``;
    ``betti_matching_error_k`` and their total ``betti_matching_error``; ``hd95``.

    Example:
        >>> g = np.zeros((16, 16), bool); g[4:12, 4:12] = True
        >>> evaluate_case(g, g, metrics=("dice", "betti"))
        {'dice': 1.0, 'betti_error_0': 0.0, 'betti_error_1': 0.0}
    """
    unknown = [name for name in metrics if name not in METRIC_NAMES]
    if unknown or not metrics:
        raise ValueError(f"Expected `metrics` to be a non-empty subset of {METRIC_NAMES}, but got {tuple(metrics)}.")
    p, g = _pair(prediction, target)
    row: dict[str, float] = {}
    if "dice" in metrics:
        row["dice"] = dice(p, g)
    if "cldice" in metrics:
        row["cldice"] = cldice(p, g)
    if "betti" in metrics:
        row.update({f"betti_error_{k}": float(e) for k, e in enumerate(betti_number_errors(p, g, construction=construction))})
    if "local_betti" in metrics:
        local = local_betti_errors(p, g, tile_size=tile_size, construction=construction, num_threads=num_threads)
        row.update({f"local_betti_error_{k}": float(e) for k, e in enumerate(local)})
    if "betti_matching" in metrics:
        errors = betti_matching_error(p, g, construction=construction, num_threads=num_threads)
        row.update({f"betti_matching_error_{k}": float(e) for k, e in enumerate(errors)})
        row["betti_matching_error"] = float(errors.sum())
    if "hd95" in metrics:
        row["hd95"] = hd95(p, g, spacing=spacing)
    return row
