r"""The homotopy-warping loss (Hu, "Structure-Aware Image Segmentation with Homotopy Warping", NeurIPS 2022):
cross-entropy on the *critical* pixels, the errors that change topology, found by warping each binary map towards
the other through simple points.

Per (sample, class), with the prediction binarised at 1/2 (:math:`P`) and the binary label :math:`G`:

1. Warp :math:`G` towards :math:`P`: visit the false negatives (in :math:`G`, not in :math:`P`) from the
   boundary of :math:`G` inwards (ascending Euclidean distance to the outside of :math:`G`, ties by index) and
   remove each that is a simple point of the warped map at its turn; then visit the false positives from
   :math:`G` outwards (ascending distance to :math:`G`) and add each that is simple. The result :math:`W_G`
   has :math:`G`'s topology and differs from :math:`P` only where a flip would change it.
2. Warp :math:`P` towards :math:`G` the same way (false positives removed, then false negatives added): :math:`W_P`.
3. The critical pixels are :math:`M = [P \ne W_G] \lor [G \ne W_P]`, and the loss is the binary cross-entropy
   :math:`-[g \log p + (1 - g) \log(1 - p)]` summed over :math:`M` and divided by the number of pixels (the
   paper's masked cross-entropy, averaged over the image as a cross-entropy is).

Simple points are those of digital topology (topological numbers, Bertrand and Malandain 1994) with foreground
8-connected and background 4-connected in 2D, 26 and 6 in 3D (construction ``"T"``, as our metrics count Betti
numbers), or 4/8, 6/26 (``"V"``); pixels outside the image are background. The warping runs in the compiled
core (``seglosses._core.warp``), one pass per direction and kind of error.

Where ours differs from the authors' code (github.com/HuXiaoling/Warping): theirs multiplies the masked
cross-entropy, averaged over all pixels with the masked-out ones as zero logits, by the number of critical
pixels, which makes the loss grow with the square of the number of errors; ours is the masked cross-entropy alone
(the paper's formula), so it lies on the scale of a cross-entropy term. Their simple-point test counts the
components of the 3x3 patch with the centre included and, through OpenCV's positional arguments, 8-connectivity
for both foreground and background; ours is the topological-number test of the chosen construction, so a flip
never merges or splits what the construction counts. Theirs skips border pixels; ours treats the outside as
background. Their visiting order ties are numpy's unstable argsort; ours are stable (by index).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from seglosses._validation import DEFAULT_CONSTRUCTION
from seglosses.losses._common import SettingsModule, construction_settings, given, per_binary_map, prepare, reduce

__all__ = ["WarpingLoss", "critical_pixels", "warp_towards", "warping_loss"]

_warping_settings = construction_settings  # the one validator of warping_loss and WarpingLoss


def _visit(candidates: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Flat indices of the ``candidates`` in ascending ``distance``, ties by index."""
    index = np.flatnonzero(candidates)
    return index[np.argsort(distance.ravel()[index], kind="stable")].astype(np.int64)


def warp_towards(source: np.ndarray, toward: np.ndarray, construction: str = DEFAULT_CONSTRUCTION) -> np.ndarray:
    """``source`` (a binary 2D/3D map) warped towards ``toward`` through simple points (see the module doc):
    a map with ``source``'s topology that agrees with ``toward`` wherever a flip keeps that topology.

    Example:
        >>> ring = np.zeros((7, 7), bool); ring[1:6, 1:6] = True; ring[3, 3] = False
        >>> disc = ring.copy(); disc[3, 3] = True                   # the hole filled
        >>> warp_towards(ring, disc)[3, 3]                           # filling it would kill the loop: kept
        np.False_
        >>> bigger = ring.copy(); bigger[0, 1:6] = True              # a thicker ring: no topology changes
        >>> bool((warp_towards(ring, bigger) == bigger).all())
        True
    """
    from scipy.ndimage import distance_transform_edt

    from seglosses import _core

    source, toward = np.asarray(source, bool), np.asarray(toward, bool)
    code = 0 if construction == "T" else 1
    warped = np.ascontiguousarray(source, dtype=np.uint8)
    remove = source & ~toward
    if remove.any():
        _core.warp(warped, _visit(remove, distance_transform_edt(source)), code)
    add = toward & ~source
    if add.any():
        outside = distance_transform_edt(~source) if source.any() else np.zeros(source.shape)
        _core.warp(warped, _visit(add, outside), code)
    return warped.astype(bool)


def critical_pixels(prediction: np.ndarray, label: np.ndarray, construction: str = DEFAULT_CONSTRUCTION) -> np.ndarray:
    """The critical pixels (bool) of a binary ``prediction`` against a binary ``label``: where either map, warped
    towards the other, still differs from it.

    Example:
        >>> label = np.zeros((7, 9), bool); label[3, 1:8] = True       # a line
        >>> broken = label.copy(); broken[3, 4] = False                  # cut in two
        >>> np.argwhere(critical_pixels(broken, label)).tolist()
        [[3, 4]]
        >>> thin = label.copy(); thin[3, 1] = False                      # shortened: no topology changes
        >>> int(critical_pixels(thin, label).sum())
        0
    """
    prediction, label = np.asarray(prediction, bool), np.asarray(label, bool)
    return (prediction != warp_towards(label, prediction, construction)) | (
        label != warp_towards(prediction, label, construction)
    )


@torch.compiler.disable  # the warping runs in the compiled core on host copies: outside any compiled graph
def _critical(probs: torch.Tensor, target: torch.Tensor, construction: str) -> torch.Tensor:
    return per_binary_map(probs, target, lambda p, g: critical_pixels(p, g, construction), bool)


def _log_probabilities(input: torch.Tensor, probs: torch.Tensor, *, include_background: bool, sigmoid: bool,
                       softmax: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """log p and log(1 - p) of the prepared channels, from the logits where the activation is ours (exact where
    p rounds to 0 or 1), else from the probabilities (clamped to the smallest normal number)."""
    if softmax or sigmoid:
        logits = input.to(probs.dtype)
        if sigmoid:
            log_p, log_q = F.logsigmoid(logits), F.logsigmoid(-logits)
        else:
            log_all = torch.log_softmax(logits, 1)
            channels = log_all.shape[1]
            log_p = log_all
            if channels == 1:
                log_q = torch.full_like(log_all, -torch.inf)
            else:
                others = [torch.logsumexp(torch.cat([log_all[:, :c], log_all[:, c + 1:]], 1), 1, keepdim=True)
                          for c in range(channels)]
                log_q = torch.cat(others, 1)
        if not include_background and log_p.shape[1] > probs.shape[1]:
            log_p, log_q = log_p[:, 1:], log_q[:, 1:]
        return log_p, log_q
    tiny = torch.finfo(probs.dtype).tiny
    return torch.log(probs.clamp_min(tiny)), torch.log((1 - probs).clamp_min(tiny))


def warping_loss(
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
) -> torch.Tensor:
    r"""Homotopy-warping loss (Hu, NeurIPS 2022) per sample and class: binary cross-entropy on the critical
    pixels, over the number of pixels (see :mod:`seglosses.losses.warping`).

    Args:
        input: (B, C, H, W) or (B, C, H, W, D) logits (or probabilities with no activation set).
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) labels
            (thresholded at 1/2 for the warping; their values enter the cross-entropy).
        include_background, to_onehot_y, sigmoid, softmax, other_act: as in MONAI's losses.
        reduction: ``"none"`` returns (B, C); ``"mean"``/``"sum"`` reduce those values.
        construction: ``"T"`` (foreground 8/26-connected) or ``"V"`` (4/6).

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) for ``"none"``; float32 for half-precision input.

    Raises:
        TypeError, ValueError: as every loss (shapes, NaN, labels outside [0, C), activations), a 1D input, an
            unknown ``construction``.

    Example:
        >>> label = torch.zeros(1, 1, 7, 9); label[0, 0, 3, 1:8] = 1      # a line
        >>> broken = label.clone(); broken[0, 0, 3, 4] = 0                # cut in two
        >>> value = warping_loss(broken * 0.8 + 0.1, label)               # -log 0.1 on 1 of 63 pixels
        >>> round(float(value), 5) == round(float(-np.log(0.1)) / 63, 5)
        True
    """
    settings = _warping_settings(given(locals()))
    probs, target = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act,
    )
    mask = _critical(probs, target, settings["construction"]).to(probs.device)
    log_p, log_q = _log_probabilities(input, probs, include_background=include_background, sigmoid=sigmoid,
                                      softmax=softmax)
    target = target.to(probs.dtype)
    zero = torch.zeros((), dtype=probs.dtype, device=probs.device)  # 0 * log 0 = 0, not NaN
    cross_entropy = -(torch.where(target > 0, target * log_p, zero) + torch.where(target < 1, (1 - target) * log_q, zero))
    per_map = torch.where(mask, cross_entropy, torch.zeros_like(cross_entropy)).flatten(2).mean(-1)
    return reduce(per_map, reduction)


class WarpingLoss(SettingsModule):
    """Module form of :func:`warping_loss`: stores the settings (checked here) and calls the function.

    Example:
        >>> loss = WarpingLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> loss(torch.randn(2, 2, 32, 32), torch.randint(0, 2, (2, 1, 32, 32))).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        construction: str = DEFAULT_CONSTRUCTION,
    ) -> None:
        super().__init__()
        self._keep(_warping_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`warping_loss`."""
        return warping_loss(input, target, **self._arguments())
