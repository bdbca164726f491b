r"""The persistence-diagram loss of Hu et al. ("Topology-Preserving Deep Image Segmentation", NeurIPS 2019;
"TopoLoss" in TopoMortar): the squared 2-Wasserstein distance between the persistence diagrams of the
predicted likelihood map and of the label, with gradients through the critical pixels.

Per (sample, class) and homology dimension :math:`k`, with :math:`D_k(p)` the superlevel diagram of the
probability map (points :math:`(b, d)`, :math:`b \ge d`) and :math:`D_k(g)` the label's,

.. math:: \mathcal{L}_k = \min_{\gamma} \sum_{x \in D_k(p)} \lVert x - \gamma(x) \rVert_2^2
          + \sum_{y \in D_k(g) \text{ unmatched}} \tfrac12 (b_y - d_y)^2,

over the matchings :math:`\gamma` of the two diagrams in which any point may instead go to its projection on
the diagonal (cost :math:`\tfrac12 (b - d)^2`): gudhi's ``wasserstein_distance(order=2, internal_p=2)``
squared. A matched point is pulled onto its partner; an unmatched one onto the diagonal (its feature is made
to vanish). The gradient flows into the probabilities at each point's birth and death pixels.

Binary labels make the optimal matching a sort instead of an assignment problem: every label point is
:math:`(1, 0)`, so the best matching sends the ``m`` label features to the ``m`` prediction points that gain
the most by it (:math:`\tfrac12(b-d)^2 + \tfrac12 - (1-b)^2 - d^2 > 0`), in :math:`O(n \log n)` for ``n``
prediction points, where the Hungarian method of the reference code is cubic. Hence labels must be binary
(one-hot, class indices or 0/1 masks): soft labels raise ``ValueError``.

Where ours differs from the paper: the whole image (not 65x65 patches) and both 2D and 3D; the essential
component (infinite death) is a point with death 0, the bottom of the probability range, in both diagrams,
so that a prediction with no foreground at all is pulled towards the label's components; construction
``"T"`` by default (pixels as top cells, foreground 8-/26-connected), ``"V"`` as in cubical Ripser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
import torch

from seglosses._validation import (
    DEFAULT_CONSTRUCTION,
    MAX_PIXELS,
    check_size,
)
from seglosses.losses._common import SettingsModule, given, prepare, reduce
from seglosses.losses.betti_matching import _validate_dim_weights, check_probabilities, topology_settings
from seglosses.topology import Barcode, persistence

__all__ = ["HuTopoLoss", "hutopo_loss", "label_matching"]


def label_matching(points: np.ndarray, n_label: int) -> tuple[np.ndarray, float]:
    """The optimal 2-Wasserstein matching of a diagram ``points`` ((n, 2) births and deaths) with a binary
    label's diagram, ``n_label`` copies of (1, 0).

    Returns the indices of the points matched to a label point (at most ``n_label``) and the squared distance
    (matched points to (1, 0), the others to the diagonal, unmatched label points to the diagonal).

    Example:
        >>> points = np.array([[0.9, 0.1], [0.3, 0.2], [0.8, 0.0]])
        >>> matched, cost = label_matching(points, 1)
        >>> matched.tolist(), round(cost, 4)   # the point nearest (1, 0) is matched, the others go to the diagonal
        ([0], 0.345)
    """
    births, deaths = points[:, 0], points[:, 1]
    to_diagonal = 0.5 * (births - deaths) ** 2
    to_label = (births - 1.0) ** 2 + deaths**2
    gain = to_diagonal + 0.5 - to_label  # what matching x with a label point saves over sending both to the diagonal
    order = np.argsort(-gain, kind="stable")[:n_label]
    matched = order[gain[order] > 0]
    cost = float(to_diagonal.sum() + 0.5 * n_label - gain[matched].sum())
    return np.sort(matched), cost


def _label_counts(barcode: Barcode) -> list[int]:
    """The number of label features per dimension: the label's bars of persistence 1 (the essential one too)."""
    return [int(((v[:, 0] == 1.0) & (v[:, 1] < 1.0)).sum()) for v in map(barcode.intervals, barcode.dims)]


_hutopo_settings = topology_settings  # the one validator of hutopo_loss and HuTopoLoss


@torch.compiler.disable  # the engine runs on host copies: outside any compiled graph
def _terms(
    flat_probs: torch.Tensor, flat_labels: torch.Tensor, spatial: tuple[int, ...], weights: np.ndarray,
    construction: str, num_threads: int | None, backend: str = "auto",
) -> tuple[torch.Tensor, ...]:
    """Per map: the pixels whose values are pulled to a target value, with the weight of each term, and the
    constant part of each map's cost (unmatched label points), as tensors on the maps' device. ``backend="cuda"``:
    the barcodes computed on the GPU from the maps' device memory; otherwise on float64 host copies."""
    dtype, device = flat_probs.dtype, flat_probs.device
    soft = ValueError("Expected `target` to be binary (one-hot, class indices or 0/1 masks) for the HuTopo loss, "
                      "but got soft labels.")
    n = len(flat_probs)
    if backend == "cuda":
        probs64, labels64 = flat_probs.to(torch.float64), flat_labels.to(torch.float64)
        binary = ((labels64 == 0) | (labels64 == 1)).all().to(torch.float64)
        stats = torch.stack([*torch.aminmax(probs64), binary]).cpu().numpy()  # one device-to-host copy
        check_probabilities(stats[:2])
        if stats[2] != 1:
            raise soft
        images = [p.reshape(spatial) for p in probs64] + [g.reshape(spatial) for g in labels64]
    else:
        host_probs = flat_probs.to("cpu", torch.float64).numpy()
        host_labels = flat_labels.to("cpu", torch.float64).numpy()
        check_probabilities(host_probs)
        if not np.isin(host_labels, (0.0, 1.0)).all():
            raise soft
        images = [p.reshape(spatial) for p in host_probs] + [g.reshape(spatial) for g in host_labels]
    barcodes = cast(list[Barcode], persistence(
        images, filtration="superlevel", construction=construction, num_threads=num_threads,
        backend="cuda" if backend == "cuda" else "auto",
    ))
    index: list[np.ndarray] = []
    job: list[np.ndarray] = []
    value: list[np.ndarray] = []
    weight: list[np.ndarray] = []
    constant = np.zeros(n)

    def add(j: int, pixels: np.ndarray, targets, w: float) -> None:
        index.append(pixels)
        job.append(np.full(len(pixels), j))
        value.append(np.broadcast_to(np.asarray(targets, dtype=np.float64), (len(pixels),)))
        weight.append(np.full(len(pixels), w))

    for j in range(n):
        prediction, label = barcodes[j], barcodes[n + j]
        for d, m in zip(prediction.dims, _label_counts(label)):
            w = float(weights[d])
            if w == 0:
                continue
            values = prediction.intervals(d).copy()
            cells = prediction.critical_cells(d)
            essential = cells[:, 1] < 0
            values[essential, 1] = 0.0  # the essential component dies at the bottom of the range
            matched, _ = label_matching(values, m)
            constant[j] += w * 0.5 * (m - len(matched))  # the label's features left unmatched
            is_matched = np.zeros(len(values), bool)
            is_matched[matched] = True
            # Matched points onto (1, 0): (b - 1)^2 + d^2 (an essential death is the constant 0).
            add(j, cells[is_matched, 0], 1.0, w)
            add(j, cells[is_matched & ~essential, 1], 0.0, w)
            # Unmatched points onto the diagonal: 1/2 (b - d)^2 = (b - c)^2 + (d - c)^2 with c = (b + d) / 2 held
            # fixed (the same value and gradient); an unmatched essential point: 1/2 b^2, a pull to 0 of weight 1/2.
            free = ~is_matched & ~essential
            middle = values[free].mean(1)
            add(j, cells[free, 0], middle, w)
            add(j, cells[free, 1], middle, w)
            add(j, cells[~is_matched & essential, 0], 0.0, 0.5 * w)

    def cat(parts: list, dtype_np) -> np.ndarray:
        return np.concatenate(parts).astype(dtype_np) if parts else np.zeros(0, dtype_np)

    return (
        torch.from_numpy(cat(index, np.int64)).to(device),
        torch.from_numpy(cat(job, np.int64)).to(device),
        torch.from_numpy(cat(value, np.float64)).to(device, dtype),
        torch.from_numpy(cat(weight, np.float64)).to(device, dtype),
        torch.from_numpy(constant).to(device, dtype),
    )


def hutopo_loss(
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
    num_threads: int | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    r"""HuTopo loss (Hu et al., NeurIPS 2019): squared 2-Wasserstein distance between the persistence diagrams
    of the probabilities and of the binary label, per (sample, class), summed over homology dimensions.

    Args:
        input: (B, C, H, W) or (B, C, H, W, D) logits (or probabilities with no activation set).
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) binary labels.
        include_background, to_onehot_y, sigmoid, softmax, other_act: MONAI's conventions.
        reduction: ``"none"`` returns (B, C); ``"mean"``/``"sum"`` over those values.
        construction: ``"T"`` (pixels as top cells) or ``"V"``.
        dim_weights: a weight >= 0 per homology dimension (default 1 each); 0 skips a dimension.
        num_threads: threads of the engine (default: all cores; with ``backend="cuda"``, the host threads of the
            3D H1 reductions).
        backend: ``"auto"``/``"cpu"`` (the CPU engine on host copies) or ``"cuda"`` (the GPU engine, for CUDA
            input: the barcodes computed where the maps are; experimental, see
            :func:`seglosses.topology.persistence`; ``"auto"`` does not choose it until it has been verified on
            a GPU).

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) for ``"none"``; float32 for half-precision input.

    Raises:
        TypeError, ValueError: as every loss (shapes, NaN, labels outside [0, C), activations), probabilities
            outside [0, 1], soft (non-binary) labels, bad ``dim_weights``, ``construction`` or ``backend``,
            ``backend="cuda"`` with input on the CPU.
        RuntimeError: ``backend="cuda"`` where seglosses was built without CUDA or there is no device.

    Example:
        >>> target = torch.zeros(1, 1, 12, 12)
        >>> target[0, 0, 2:10, 2:10] = 1; target[0, 0, 5:7, 5:7] = 0   # a ring: one component, one loop
        >>> float(hutopo_loss(target.clone(), target))
        0.0
        >>> closed = target.clone(); closed[0, 0, 5:7, 5:7] = 1         # the loop filled in
        >>> float(hutopo_loss(closed, target))                          # the label's loop is unmatched: 1/2
        0.5
    """
    _hutopo_settings(given(locals()))
    probs, labels = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act,
    )
    weights = _validate_dim_weights(dim_weights, probs.dim() - 2)
    n_jobs, spatial = probs.shape[0] * probs.shape[1], tuple(probs.shape[2:])
    n_pixels = int(np.prod(spatial))
    check_size(n_pixels, "input", MAX_PIXELS)
    flat = probs.reshape(n_jobs, n_pixels)
    index, job, value, weight, constant = _terms(
        flat.detach(), labels.detach().reshape(n_jobs, n_pixels), spatial, weights, construction, num_threads, backend
    )
    per_job = constant.clone()
    per_job = per_job.index_add(0, job, weight * (flat[job, index] - value) ** 2)
    per_job = per_job + 0 * flat[:, :1].sum(1)  # the graph stays connected when no pixel is pulled
    return reduce(per_job.reshape(probs.shape[:2]), reduction)


class HuTopoLoss(SettingsModule):
    """Module form of :func:`hutopo_loss`: stores the settings (checked here) and calls the function.

    Example:
        >>> loss = HuTopoLoss(softmax=True, to_onehot_y=True, include_background=False)
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
        num_threads: int | None = None,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self._keep(_hutopo_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`hutopo_loss`."""
        return hutopo_loss(input, target, **self._arguments())
