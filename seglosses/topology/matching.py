"""Betti matching of two 2D/3D images: which topological features of a prediction correspond to which
features of a target.

The induced matching of Stucki et al. compares the persistence barcodes of a prediction ``P`` and a
target ``G`` through a comparison image ``C`` whose sets contain both: for the superlevel filtration
(a likelihood map, foreground is high), ``C = max(P, G)`` pointwise, so ``{P >= t}`` and ``{G >= t}``
lie in ``{C >= t}`` (their union); for the sublevel filtration, ``C = min(P, G)``. Each inclusion
induces maps in homology; a bar of ``P`` and a bar of ``G`` are *matched* when both are carried to the
same bar of ``C`` (through the image barcodes of the two maps), and the other bars are *unmatched*.
A Betti matching loss pulls matched bars together and pushes unmatched ones to the diagonal; the
Betti matching error counts the unmatched bars.

Essential classes: only dimension 0 has one (the component that never dies). Both images' essential
H0 classes are carried to the comparison image's essential class, so they always match each other.
Like Betti-Matching-3D, the per-dimension results hold finite bars only; the essential pair is reported
apart, by ``BettiMatching.matched_essential()`` (death ``-inf`` for superlevel, ``+inf`` for sublevel,
death cell -1), so that counts and arrays agree with the reference implementation and losses can
decide how to weigh it.

Reference: N. Stucki, J. C. Paetzold, S. Shit, B. Menze, U. Bauer, "Topologically faithful image
segmentation via induced matching of persistence barcodes", ICML 2023; the algorithm of
Betti-Matching-3D (github.com/nstucki/Betti-Matching-3D), independently implemented in the compiled
core (``seglosses/csrc/matching``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from seglosses._validation import check_threads
from seglosses.topology._jobs import run_jobs, split_batch
from seglosses.topology._validation import (
    CONSTRUCTIONS,
    DEFAULT_CONSTRUCTION,
    FILTRATIONS,
    MAX_MATCHING_PIXELS,
    check_choice,
)

COMPARISONS = ("union",)
MATCHING_BACKENDS = ("auto", "cpu", "cuda")

__all__ = ["BettiMatching", "betti_matching"]


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class BettiMatching:
    """Betti matching of one prediction and one target image, per homology dimension ``d`` in ``dims``.

    Intervals are ``(birth, death)`` values in the caller's filtration (superlevel: birth >= death),
    read from the images at the critical cells: the flat (C-order) indices of the pixels/voxels that
    hold the birth and death values (``image.ravel()[cells] == intervals``), from which a loss gathers
    values with gradients. Row ``i`` of ``matched(d)[0]`` is matched with row ``i`` of ``matched(d)[1]``.
    Zero-persistence bars are not reported.

    Attributes:
        shape: spatial shape of the images, ``(H, W)`` or ``(D, H, W)``.
        filtration: ``"superlevel"`` or ``"sublevel"``.
        construction: ``"T"`` or ``"V"``.
        dims: the homology dimensions, ``(0, 1)`` in 2D and ``(0, 1, 2)`` in 3D.
        num_matched: (len(dims),) int64 array, matched pairs per dimension (finite bars).
        num_unmatched_prediction: (len(dims),) int64 array, unmatched prediction bars per dimension.
        num_unmatched_target: (len(dims),) int64 array, unmatched target bars per dimension.

    Example:
        >>> import numpy as np
        >>> from seglosses.topology import betti_matching
        >>> target = np.ones((5, 5)); target[2, 2] = 0      # a ring: one hole
        >>> prediction = np.ones((5, 5)) * 0.9              # a filled square: no hole
        >>> m = betti_matching(prediction, target)
        >>> m.num_matched, m.num_unmatched_prediction, m.num_unmatched_target
        (array([0, 0]), array([0, 0]), array([0, 1]))
        >>> m.unmatched_target(1), m.unmatched_target_cells(1)
        (array([[1., 0.]]), array([[17, 12]]))
    """

    def __init__(
        self,
        prediction: np.ndarray | torch.Tensor,
        target: np.ndarray | torch.Tensor,
        cells: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        essential_births: tuple[int, int],
        *,
        filtration: str,
        construction: str,
        gather: tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]] | None = None,
    ) -> None:
        # gather: the two images' values at flat indices, for images that are not numpy arrays (CUDA
        # tensors: one device-to-host copy per image); default, numpy indexing.
        self.shape = tuple(int(s) for s in prediction.shape)
        self.filtration = filtration
        self.construction = construction
        self.dims = tuple(range(len(self.shape)))
        if gather is None:
            p, g = np.asarray(prediction).ravel(), np.asarray(target).ravel()
            gather = (lambda index: p[index], lambda index: g[index])
        self._cells = [tuple(_readonly(np.asarray(c, dtype=np.int64).reshape(-1, 2)) for c in dim) for dim in cells]
        # Intervals, in the same layout: (matched P, matched G, unmatched P, unmatched G); every value of an
        # image in one gather (its cells, then its essential birth).
        values = []
        for image, slots in ((0, (0, 2)), (1, (1, 3))):
            parts = [dim[k] for dim in self._cells for k in slots]
            index = np.concatenate([part.ravel() for part in parts] + [np.array([essential_births[image]])])
            gathered = np.asarray(gather[image](index), dtype=np.float64)
            offsets = np.cumsum([0] + [part.size for part in parts])
            values.append([gathered[a:b].reshape(-1, 2) for a, b in zip(offsets[:-1], offsets[1:])] + [gathered[-1]])
        self._values = [
            tuple(_readonly(values[k % 2][2 * d + k // 2]) for k in range(4)) for d in range(len(self._cells))
        ]
        self.num_matched = np.array([len(dim[0]) for dim in self._cells], dtype=np.int64)
        self.num_unmatched_prediction = np.array([len(dim[2]) for dim in self._cells], dtype=np.int64)
        self.num_unmatched_target = np.array([len(dim[3]) for dim in self._cells], dtype=np.int64)
        end = -np.inf if filtration == "superlevel" else np.inf
        ess_cells = [_readonly(np.array([[b, -1]], dtype=np.int64)) for b in essential_births]
        ess_values = [_readonly(np.array([[values[k][-1], end]])) for k in range(2)]
        self._essential_cells: tuple[np.ndarray, np.ndarray] = (ess_cells[0], ess_cells[1])
        self._essential_values: tuple[np.ndarray, np.ndarray] = (ess_values[0], ess_values[1])

    def _check_dim(self, d: int) -> int:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or int(d) not in self.dims:
            raise ValueError(f"Expected `d` to be one of {self.dims}, but got {d!r}.")
        return int(d)

    def matched(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) prediction intervals and (n, 2) target intervals of the matched bars of dimension ``d``."""
        values = self._values[self._check_dim(d)]
        return values[0], values[1]

    def unmatched_prediction(self, d: int) -> np.ndarray:
        """(n, 2) intervals of the prediction's unmatched bars of dimension ``d``."""
        return self._values[self._check_dim(d)][2]

    def unmatched_target(self, d: int) -> np.ndarray:
        """(n, 2) intervals of the target's unmatched bars of dimension ``d``."""
        return self._values[self._check_dim(d)][3]

    def matched_cells(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) int64 flat (birth, death) pixel indices of the matched bars in the prediction and the target."""
        cells = self._cells[self._check_dim(d)]
        return cells[0], cells[1]

    def unmatched_prediction_cells(self, d: int) -> np.ndarray:
        """(n, 2) int64 flat (birth, death) pixel indices of the prediction's unmatched bars."""
        return self._cells[self._check_dim(d)][2]

    def unmatched_target_cells(self, d: int) -> np.ndarray:
        """(n, 2) int64 flat (birth, death) pixel indices of the target's unmatched bars."""
        return self._cells[self._check_dim(d)][3]

    def matched_essential(self) -> tuple[np.ndarray, np.ndarray]:
        """(1, 2) prediction and (1, 2) target intervals of the essential H0 classes, which always match:
        (global maximum, -inf) for superlevel, (global minimum, +inf) for sublevel."""
        return self._essential_values

    def matched_essential_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(1, 2) int64 cells of the essential H0 classes: (birth pixel, -1)."""
        return self._essential_cells

    def __repr__(self) -> str:
        def per_dim(counts: np.ndarray) -> str:
            return "{" + ", ".join(f"H{d}: {int(n)}" for d, n in enumerate(counts)) + "}"

        return (
            f"BettiMatching(shape={self.shape}, filtration={self.filtration!r}, "
            f"construction={self.construction!r}, matched={per_dim(self.num_matched)}, "
            f"unmatched_prediction={per_dim(self.num_unmatched_prediction)}, "
            f"unmatched_target={per_dim(self.num_unmatched_target)})"
        )


def _one_matching(
    prediction: np.ndarray, target: np.ndarray, filtration: str, construction: str, threads: int = 1
) -> BettiMatching:
    from seglosses import _core

    superlevel = filtration == "superlevel"
    # Superlevel sets of p are sublevel sets of -p; the pointwise min of -p and -g is -max(p, g), the
    # union comparison image. The core reads the images negated (complemented order keys, no copies);
    # negation is exact, so ties (and the tie-break) are preserved.
    dims, birth_p, birth_g = _core.betti_matching(
        prediction, target, CONSTRUCTIONS.index(construction), num_threads=threads, negate=superlevel
    )
    return BettiMatching(
        prediction, target, dims, (birth_p, birth_g), filtration=filtration, construction=construction
    )


def betti_matching(
    prediction,
    target,
    *,
    filtration: str = "superlevel",
    construction: str = DEFAULT_CONSTRUCTION,
    comparison: str = "union",
    num_threads: int | None = None,
    backend: str = "auto",
) -> BettiMatching | list[BettiMatching]:
    """Betti matching (induced matching of persistence barcodes) of a prediction and a target image.

    Shapes: ``prediction`` and ``target`` are one image each, ``(*spatial)`` with ``spatial`` of length 2
    or 3, giving a ``BettiMatching``; or two lists of such images (pairwise equal shapes) or two
    ``(B, D, H, W)`` arrays, giving a list of ``B`` results in order. A batch of 2D images is passed as
    lists (``list(images)`` for a ``(B, H, W)`` array), since a rank-3 array is a 3D image.

    Comparison image: ``max(prediction, target)`` for the superlevel filtration, ``min`` for sublevel,
    i.e. the union of the two images' sets at every level (``comparison="union"``, the only comparison
    under which both images include into the comparison image, which the induced matching needs).
    Matching rule, for a bar ``a`` of the prediction and ``b`` of the target of the same dimension:
    ``a ~ b`` iff the maps induced by ``{P >= t} -> {C >= t}`` and ``{G >= t} -> {C >= t}`` carry them to
    the same bar of ``C``. With ``construction="V"``, counts, matched pairs and critical cells equal
    those of Betti-Matching-3D's ``compute_matching(1 - prediction, 1 - target)`` (same tie-break between
    equal values: value, then cube index). ``"T"`` runs the same algorithm on the complex whose top cells
    are the pixels (no reference implementation exists; its bars equal ``persistence(...,
    construction="T")``).

    Args:
        prediction: numpy array (any real or bool dtype), CPU torch tensor (detached internally), or a
            list of them; for a loss, the likelihood map (after sigmoid/softmax).
        target: same shape(s) as ``prediction``; e.g. the binary label.
        filtration: ``"superlevel"`` (foreground is high) or ``"sublevel"``.
        construction: ``"T"`` (pixels as top cells, 8-/26-connected foreground; the package default,
            see ``persistence``) or ``"V"`` (pixels as vertices, 4-/6-connected, as Betti-Matching-3D).
        comparison: ``"union"``.
        num_threads: threads in all (default: all cores): a batch is spread over them, and a pair (or
            each pair of a batch smaller than ``num_threads``) uses its share inside the engine (the
            three images and the independent reductions of a 3D pair run side by side).
        backend: ``"auto"``/``"cpu"`` (the compiled core, on host arrays), or ``"cuda"`` (experimental: CUDA
            tensors, matched where they are, without a host copy of the images: 2D all on the GPU; solid 3D
            H0 and H2 on the GPU and H1 by the CPU engine's reductions on the host, on ``num_threads``
            threads, from the ranks and cell lists the GPU hands over; the same result as the CPU engine,
            pair for pair). ``"auto"`` does not choose ``"cuda"`` until it has been verified on a GPU.

    Returns:
        ``BettiMatching`` or a list of them.

    Raises:
        ValueError: an unknown ``filtration``/``construction``/``comparison``, images that are not 2D
            or 3D, empty, of more than 1,431,655,763 pixels (the engine numbers the cells of the three
            filtrations with 32-bit integers, 3 * pixels + 3 < 2**32 - 1; checked before any copy), hold
            NaN/Inf, differ in shape, batches of different lengths, a CUDA tensor (unless ``backend="cuda"``), or
            a bad ``num_threads``.
        TypeError: an image of a non-real dtype.
        RuntimeError: ``backend="cuda"`` where seglosses was built without CUDA or there is no device.

    Example:
        >>> import numpy as np
        >>> from seglosses.topology import betti_matching
        >>> target = np.zeros((6, 6)); target[1:3, 1:3] = 1; target[4, 4] = 1   # two blobs
        >>> prediction = 0.8 * target; prediction[4, 4] = 0.0               # the small one missed
        >>> m = betti_matching(prediction, target)
        >>> m.num_matched[0], m.num_unmatched_target[0]
        (np.int64(0), np.int64(1))
        >>> prediction[4, 4] = 0.1                                           # faint, but present
        >>> betti_matching(prediction, target).matched(0)
        (array([[0.1, 0. ]]), array([[1., 0.]]))
        >>> m.matched_essential()[0]  # the large blob: matched, reported apart
        array([[ 0.8, -inf]])
        >>> diagonal = np.zeros((4, 4)); diagonal[1, 1] = diagonal[2, 2] = 1
        >>> betti_matching(diagonal, diagonal).num_matched  # "T": one 8-connected component
        array([0, 0])
        >>> betti_matching(diagonal, diagonal, construction="V").num_matched  # two 4-connected ones
        array([1, 0])
    """
    check_choice("filtration", filtration, FILTRATIONS)
    check_choice("construction", construction, CONSTRUCTIONS)
    check_choice("comparison", comparison, COMPARISONS)
    check_choice("backend", backend, MATCHING_BACKENDS)
    threads = check_threads(num_threads)
    if backend == "cuda":
        return _matching_on_cuda(prediction, target, filtration, construction, threads)
    predictions, batch_p = split_batch(prediction, "prediction", MAX_MATCHING_PIXELS, "a Betti matching")
    targets, batch_t = split_batch(target, "target", MAX_MATCHING_PIXELS, "a Betti matching")
    if batch_p != batch_t or len(predictions) != len(targets):
        raise ValueError(
            f"Expected `prediction` and `target` to be both single images or batches of one length, but got "
            f"{len(predictions) if batch_p else 'one image'} and {len(targets) if batch_t else 'one image'}."
        )
    for i, (p, g) in enumerate(zip(predictions, targets)):
        if p.shape != g.shape:
            where = f" at batch index {i}" if batch_p else ""
            raise ValueError(
                f"Expected `prediction` and `target` to have the same shape{where}, but got {p.shape} and {g.shape}."
            )
    jobs = list(zip(predictions, targets))
    results = run_jobs(lambda job, k: _one_matching(job[0], job[1], filtration, construction, k), jobs, threads)
    return results if batch_p else results[0]


def _matching_on_cuda(prediction, target, filtration: str, construction: str, threads: int):
    """``betti_matching(..., backend="cuda")``: CUDA tensors, lists of them or (B, D, H, W) tensors."""
    from seglosses.topology._cuda import listed, matching_cuda

    predictions, batch_p = listed(prediction)
    targets, batch_t = listed(target)
    if batch_p != batch_t or len(predictions) != len(targets) or not predictions:
        raise ValueError(
            f"Expected `prediction` and `target` to be both single images or non-empty batches of one length, but "
            f"got {len(predictions) if batch_p else 'one image'} and {len(targets) if batch_t else 'one image'}."
        )
    names = [(f"prediction[{i}]", f"target[{i}]") if batch_p else ("prediction", "target") for i in range(len(targets))]
    results = matching_cuda(predictions, targets, filtration=filtration, construction=construction, names=names,
                            threads=threads)
    return results if batch_p else results[0]
