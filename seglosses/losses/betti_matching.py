r"""Betti matching loss (Stucki et al., "Topologically faithful image segmentation via induced matching of
persistence barcodes", ICML 2023).

For each sample and class, the superlevel filtration of the predicted probability map and of the target are
compared through their Betti matching (:func:`seglosses.topology.betti_matching`): topological features
(components, loops, cavities) of the prediction are matched to features of the target through the comparison
image ``max(prediction, target)``. Matched features are pulled to their partner, unmatched prediction features are
pushed to the diagonal (they should not exist). The engine works on detached CPU copies and returns, for every
bar, the pixels whose values are its birth and death; the loss gathers the probabilities at those pixels with
``torch`` indexing, so autograd stays in PyTorch and the gradient reaches exactly those pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
import torch

from seglosses._validation import DEFAULT_CONSTRUCTION, MAX_MATCHING_PIXELS, check_choice, check_size
from seglosses.losses._common import (
    SettingsModule,
    construction_settings,
    given,
    prepare,
    reduce,
)
from seglosses.topology import BettiMatching, betti_matching
from seglosses.topology.matching import MATCHING_BACKENDS

__all__ = ["BettiMatchingLoss", "betti_matching_loss"]


def _validate_dim_weights(dim_weights: Sequence[float] | None, n_dims: int) -> np.ndarray:
    """Per-dimension weights: None means 1 for every dimension; otherwise one finite weight >= 0 per dimension."""
    if dim_weights is None:
        return np.ones(n_dims)
    try:
        weights = np.asarray(dim_weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"Expected `dim_weights` to be a sequence of numbers, but got {dim_weights!r}.") from None
    if weights.shape != (n_dims,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(
            f"Expected `dim_weights` to hold {n_dims} finite weights >= 0 (one per homology dimension of "
            f"{n_dims}D images), but got {dim_weights!r}."
        )
    return weights


def topology_settings(settings: dict) -> dict:
    """The settings of the persistent-homology losses (Betti matching, HuTopo): the common ones, ``construction``
    and ``dim_weights`` (checked for their number against the images on each call)."""
    construction_settings(settings)
    if "backend" in settings:
        check_choice("backend", settings["backend"], MATCHING_BACKENDS)
    weights = settings["dim_weights"]
    if weights is not None:
        if not isinstance(weights, Sequence):
            raise TypeError(f"Expected `dim_weights` to be a sequence of numbers, but got {weights!r}.")
        _validate_dim_weights(weights, len(weights))
        settings["dim_weights"] = tuple(float(w) for w in weights)
    return settings


def check_probabilities(host_probs: np.ndarray) -> None:
    """Refuse values outside [0, 1] in the host copy of the maps (read there: no extra synchronisation)."""
    low, high = host_probs.min(), host_probs.max()
    if low < 0 or high > 1:
        raise ValueError(
            "Expected `input` to be probabilities in [0, 1] after the activation (set `sigmoid` or `softmax` for "
            f"logits), but got values in [{low:g}, {high:g}]."
        )


_betti_settings = topology_settings  # the one validator of betti_matching_loss and BettiMatchingLoss


class _Terms:
    """Flat pixel indices of every term, gathered over all (sample, class) jobs.

    ``pulled``: prediction pixels pulled to the target's value at a target pixel (``pulled_value_index``; weight
    2: a squared distance, doubled as in the paper's loss); ``pushed``: pairs of prediction pixels (birth,
    death) pushed together, onto the diagonal. Values are gathered from the tensors on their device.
    """

    def __init__(self) -> None:
        self.pulled_index: list[np.ndarray] = []
        self.pulled_value_index: list[np.ndarray] = []
        self.pulled_job: list[np.ndarray] = []
        self.pulled_weight: list[np.ndarray] = []
        self.pushed_index: list[np.ndarray] = []
        self.pushed_job: list[np.ndarray] = []
        self.pushed_weight: list[np.ndarray] = []

    def pull(self, job: int, cells: np.ndarray, value_cells: np.ndarray, weight: float) -> None:
        keep = cells >= 0  # an essential death has no pixel: its value is the filtration's end, on both sides
        self.pulled_index.append(cells[keep])
        self.pulled_value_index.append(value_cells[keep])
        self.pulled_job.append(np.full(int(keep.sum()), job))
        self.pulled_weight.append(np.full(int(keep.sum()), weight))

    def push(self, job: int, cells: np.ndarray, weight: float) -> None:
        self.pushed_index.append(cells)
        self.pushed_job.append(np.full(len(cells), job))
        self.pushed_weight.append(np.full(len(cells), weight))


def _cat(arrays: list[np.ndarray], shape: tuple[int, ...], dtype) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(shape, dtype=dtype)


@torch.compiler.disable  # the engine runs outside any compiled graph
def _terms(
    flat_probs: torch.Tensor, flat_labels: torch.Tensor, spatial: tuple[int, ...], weights: np.ndarray,
    construction: str, include_unmatched_target: bool, num_threads: int | None, backend: str,
) -> tuple[torch.Tensor, ...]:
    """The matching of every (sample, class) map, as index and weight tensors on the maps' device: (pulled
    index, job, value index, weight; pushed index pairs, job, weight). ``backend="cuda"``: matched on the GPU
    from the maps' device memory; otherwise on float64 host copies."""
    dtype, device = flat_probs.dtype, flat_probs.device
    if backend == "cuda":
        maps = flat_probs.to(torch.float64)
        check_probabilities(torch.stack(torch.aminmax(maps)).cpu().numpy())  # one device-to-host copy
        matchings = cast(list[BettiMatching], betti_matching(
            [p.reshape(spatial) for p in maps], [g.reshape(spatial) for g in flat_labels.to(torch.float64)],
            filtration="superlevel", construction=construction, num_threads=num_threads, backend="cuda",
        ))
    else:
        host_probs = flat_probs.to("cpu", torch.float64).numpy()
        host_labels = flat_labels.to("cpu", torch.float64).numpy()
        check_probabilities(host_probs)
        matchings = cast(list[BettiMatching], betti_matching(
            [p.reshape(spatial) for p in host_probs], [g.reshape(spatial) for g in host_labels],
            filtration="superlevel", construction=construction, num_threads=num_threads,
        ))
    terms = _Terms()
    for job, m in enumerate(matchings):
        essential_p, essential_g = m.matched_essential_cells()[0], m.matched_essential_cells()[1]
        terms.pull(job, essential_p[:, :1].ravel(), essential_g[:, :1].ravel(), weights[0])
        for d in m.dims:
            if weights[d] == 0:
                continue
            cells_p, cells_g = m.matched_cells(d)
            terms.pull(job, cells_p.ravel(), cells_g.ravel(), weights[d])
            terms.push(job, m.unmatched_prediction_cells(d), weights[d])
            if include_unmatched_target:
                cells = m.unmatched_target_cells(d).ravel()
                terms.pull(job, cells, cells, weights[d])
    return (
        torch.from_numpy(_cat(terms.pulled_index, (0,), np.int64)).to(device),
        torch.from_numpy(_cat(terms.pulled_job, (0,), np.int64)).to(device),
        torch.from_numpy(_cat(terms.pulled_value_index, (0,), np.int64)).to(device),
        torch.from_numpy(_cat(terms.pulled_weight, (0,), np.float64)).to(device, dtype),
        torch.from_numpy(_cat(terms.pushed_index, (0, 2), np.int64)).to(device),
        torch.from_numpy(_cat(terms.pushed_job, (0,), np.int64)).to(device),
        torch.from_numpy(_cat(terms.pushed_weight, (0,), np.float64)).to(device, dtype),
    )


def betti_matching_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    reduction: str = "mean",
    construction: str = DEFAULT_CONSTRUCTION,
    dim_weights: Sequence[float] | None = None,
    include_unmatched_target: bool = False,
    relative: bool = False,
    num_threads: int | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    r"""Betti matching loss per sample and class: matched bars pulled together, unmatched bars to the diagonal.

    For one (sample, class) with probability map :math:`p` and target :math:`g` (superlevel filtrations, so a
    bar is :math:`(b, d)` with :math:`b \ge d`), the Betti matching gives matched pairs :math:`(a, a')` of a
    prediction bar and a target bar and unmatched prediction bars :math:`u`. Per homology dimension :math:`k`
    with weight :math:`w_k`:

    .. math:: \mathcal{L} = \sum_k w_k \Big( 2 \sum_{(a, a')} \lVert a - a' \rVert^2
              + \sum_{u} (b_u - d_u)^2 \Big),

    i.e. twice the squared Euclidean distance of each matched point to its partner and of each unmatched point
    to the diagonal (:math:`(b - d)^2 / 2`), as in the paper's loss. The component that never dies (the
    essential H0 class; both images have one and they always match) enters with its death at 0, the lowest
    probability, as the paper does for infinite deaths, so only its birth is pulled (the maxima of the maps).
    Gradients reach :math:`p` only at the birth and death pixels of the bars; the target is a constant.

    With ``include_unmatched_target`` a third term (our choice, not the paper's) pulls the prediction at the
    birth and death pixels of each unmatched *target* bar towards the target's values there,
    :math:`2 \sum_{v} [(p_{b_v} - g_{b_v})^2 + (p_{d_v} - g_{d_v})^2]`, to create a missing feature instead of
    only matching the features that exist. It acts only through those two pixels: a target feature that is
    missing although the prediction has the target's values at both of them gives no term.

    With ``relative`` both maps get a one-pixel border at value 1 before the matching, so homology is taken
    relative to the image boundary: every structure touching the border is one component with it, and a
    structure crossing the patch closes loops through the border. Meant for patches cut out of larger images:
    a vessel cut by the patch boundary is no longer a separate component, and a break in a vessel that crosses
    the patch shows as two regions of background merged (a missing loop). This is our reading of the relative
    variant; the border pixels are constants (no gradient), and the essential class is born on the border in
    both maps, so it costs nothing.

    Values: 0 for a prediction equal to the target and for an empty prediction of an empty class (both maps
    constant 0); a constant prediction :math:`c` of an empty target gives :math:`2 c^2 w_0` (the essential
    births differ by :math:`c`), so an all-foreground prediction of an empty class gives :math:`2 w_0`. The
    loss is a sum over bars, not a mean: it grows with the number of wrong features (scale it with a weight
    next to Dice/CE, e.g. ``DiceCE + 0.5 * BettiMatching`` in the paper's set-up).

    Each (sample, class) map is one job of one engine call (``num_threads`` threads), on a detached float64
    CPU copy; CUDA input works the same way (the maps are copied to the host for the engine), unless
    ``backend="cuda"``: then the maps are matched where they are (experimental, see
    :func:`seglosses.topology.betti_matching`: 2D on the GPU; solid 3D with H1 reduced on the host from the
    ranks and cell lists the GPU hands over), and the bars come back as pixel indices.

    Args:
        input: (B, C, *spatial) logits (or probabilities without an activation), 2D or 3D.
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) one-hot or soft
            labels in [0, 1].
        include_background: keep channel 0 (False drops it after activation and one-hot encoding).
        to_onehot_y, sigmoid, softmax, other_act: as MONAI's losses (at most one activation).
        reduction: ``"none"`` (B, C) (C after ``include_background``), ``"mean"`` or ``"sum"``.
        construction: ``"T"`` (pixels as top cells, 8-/26-connected foreground, the package default) or
            ``"V"`` (pixels as vertices, 4-/6-connected, as Betti-Matching-3D).
        dim_weights: one weight >= 0 per homology dimension (2 in 2D, 3 in 3D); default all 1.
        include_unmatched_target: add the term for unmatched target bars (see above).
        relative: homology relative to the image boundary (see above).
        num_threads: threads of the engine call (default: all cores; with ``backend="cuda"``, the host
            threads of the 3D H1 reductions).
        backend: ``"auto"``/``"cpu"`` (the CPU engine on host copies) or ``"cuda"`` (the GPU engine, for CUDA
            input; ``"auto"`` does not choose it until it has been verified on a GPU).

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) for ``"none"``; float32 (float64 for float64 input).

    Raises:
        TypeError: non-tensor or non-floating ``input``, a non-callable ``other_act``, non-numeric weights.
        ValueError: wrong rank or shapes, NaN/Inf, labels outside [0, C), probabilities outside [0, 1] (logits
            without an activation), more than one activation, unknown ``reduction``, ``construction`` or
            ``backend``, bad ``dim_weights`` or ``num_threads``, ``backend="cuda"`` with input on the CPU.
        RuntimeError: ``backend="cuda"`` where seglosses was built without CUDA or there is no device.

    Example:
        >>> target = torch.zeros(1, 1, 12, 12)
        >>> target[0, 0, 2:10, 2:10] = 1; target[0, 0, 5:7, 5:7] = 0   # a ring: one component, one loop
        >>> closed = target.clone(); closed[0, 0, 5:7, 5:7] = 1         # the hole filled in: the loop is missing
        >>> float(betti_matching_loss(target.clone(), target))
        0.0
        >>> float(betti_matching_loss(closed, target))  # no loop predicted: nothing unmatched to push away
        0.0
        >>> float(betti_matching_loss(closed, target, include_unmatched_target=True))  # the loop's death pixel
        2.0
    """
    _betti_settings(given(locals()))
    probs, labels = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act,
    )
    weights = _validate_dim_weights(dim_weights, probs.dim() - 2)
    # float32 for half-precision input (prepare()): half is too coarse for squared differences of close values.
    dtype = probs.dtype
    spatial = tuple(s + 2 * relative for s in probs.shape[2:])
    n_jobs, n_pixels = probs.shape[0] * probs.shape[1], int(np.prod(spatial))
    check_size(n_pixels, "input", MAX_MATCHING_PIXELS, "a Betti matching")  # before the float64 host copies
    if relative:  # a border at the highest value in both maps (constants: no gradient flows into it)
        probs = torch.nn.functional.pad(probs, (1, 1) * (probs.dim() - 2), value=1.0)
        labels = torch.nn.functional.pad(labels, (1, 1) * (labels.dim() - 2), value=1.0)
    flat_probs = probs.reshape(n_jobs, n_pixels)
    flat_labels = labels.detach().reshape(n_jobs, n_pixels)
    (pulled_index, pulled_job, pulled_value_index, pulled_weight, pushed_index, pushed_job, pushed_weight) = _terms(
        flat_probs.detach(), flat_labels, spatial, weights, construction, include_unmatched_target, num_threads,
        backend,
    )
    pulled = flat_probs[pulled_job, pulled_index]
    pulled_value = flat_labels[pulled_job, pulled_value_index].to(dtype)
    pushed = flat_probs[pushed_job[:, None], pushed_index]
    per_job = torch.zeros(n_jobs, dtype=dtype, device=probs.device)
    per_job = per_job.index_add(0, pulled_job, 2 * pulled_weight * (pulled - pulled_value) ** 2)
    per_job = per_job.index_add(0, pushed_job, pushed_weight * (pushed[:, 0] - pushed[:, 1]) ** 2)
    # Keep the graph connected to `input` even when no pixel is gathered (a loss of 0 with zero gradient).
    per_job = per_job + 0 * flat_probs[:, :1].sum(1)
    return reduce(per_job.reshape(probs.shape[:2]), reduction)


class BettiMatchingLoss(SettingsModule):
    """Module form of :func:`betti_matching_loss`: stores the settings (checked here) and calls the function.

    Example:
        >>> loss = BettiMatchingLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> labels = torch.zeros(2, 1, 24, 24, dtype=torch.long)
        >>> labels[:, :, 4:20, 4:20] = 1; labels[:, :, 8:16, 8:16] = 0
        >>> loss(torch.randn(2, 2, 24, 24), labels).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        construction: str = DEFAULT_CONSTRUCTION,
        dim_weights: Sequence[float] | None = None,
        include_unmatched_target: bool = False,
        relative: bool = False,
        num_threads: int | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self._keep(_betti_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`betti_matching_loss`."""
        return betti_matching_loss(input, target, **self._arguments())
