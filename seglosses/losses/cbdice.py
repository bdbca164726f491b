r"""Centreline-boundary Dice (Shi et al., "Centerline Boundary Dice Loss for Vascular Segmentation", MICCAI 2024):
clDice whose skeleton pixels are weighted by the vessel radius there, so that thin and thick vessels count
alike and a skeleton pixel near the other mask's boundary counts by how far inside it lies.

For one map :math:`x` (the prediction's probabilities or the label) with mask :math:`M = [x > 1/2]`, soft
skeleton :math:`S` (:func:`seglosses.ops.soft.soft_skeleton`) and skeleton mask :math:`K = [S > 1/2]`: let
:math:`D` be the Euclidean distance transform of :math:`M` (distance of a mask pixel to the nearest pixel
outside it), :math:`R = D` on :math:`K` and 0 elsewhere (the radius at the skeleton), :math:`r = \max(\max R, 1)`
the map's largest radius, and

.. math:: Q_v = \frac{\min(D, r)}{r}\, x,\qquad Q_{sv} = \frac{R}{r}\, x,\qquad
          Q_s = \frac{1 + \epsilon}{(R / r)^{k} + \epsilon}\, [K]\, S,

with :math:`k = 1` in 2D and :math:`k = 2` in 3D (:math:`\epsilon = 10^{-7}`): the skeleton weight grows as
the vessel thins. With :math:`p` for the prediction and :math:`l` for the label, sums over the spatial axes
(and the batch with ``batch``) and :math:`A \triangleright B` = :math:`A` where :math:`A \ne 0`, else :math:`B`:

.. math:: T_{prec} = \frac{\sum Q_s^p Q_v^l + s}{\sum Q_s^p (Q_{sv}^l \triangleright Q_{sv}^p) + s},\quad
          T_{sens} = \frac{\sum Q_s^l Q_v^p + s}{\sum Q_s^l (Q_{sv}^p \triangleright Q_{sv}^l) + s},\quad
          \mathcal{L} = 1 - \frac{2\, T_{prec} T_{sens}}{T_{prec} + T_{sens}}.

The distance transforms and the masks carry no gradient (they are piecewise constant); the gradient flows
through the probabilities in :math:`Q_v^p, Q_{sv}^p` and through the soft skeleton in :math:`Q_s^p`.

Where ours differs from the authors' code (github.com/PengchengShi1220/cbDice, ``loss/cbdice_loss.py``, its
default morphological skeleton): the loss is :math:`1 - \mathrm{cbDice}` (theirs :math:`-\mathrm{cbDice}`; the
same gradients), so that agreement gives 0 as in our other losses; it is computed per (sample, class) with
MONAI's activation options (theirs merges every foreground class into one, takes a softmax over background
and that, and sums over the batch: ``batch=True`` on two classes with ``softmax=True`` is their computation,
up to that merge); the label's mask and skeleton are thresholded at 1/2 like the prediction's (the same for
binary labels, which theirs assumes). The ratios can exceed 1 where the prediction's skeleton runs deeper
inside the label than the label's own skeleton radius (the paper's definition allows it), so the loss can
dip slightly below 0. The distance transform is MONAI's ``distance_transform_edt`` (cuCIM on CUDA tensors
when cuCIM is installed, SciPy on a host copy otherwise), on masks only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seglosses._validation import check_count, check_number
from seglosses.losses._common import SettingsModule, given, prepare, reduce, validate_common
from seglosses.ops.soft import soft_skeleton

__all__ = ["cbDiceLoss", "cbdice_loss"]

_EPS = 1e-7
_SPATIAL_DIMS = (2, 3)


def _cbdice_settings(settings: dict) -> dict:
    """The one validator of :func:`cbdice_loss`'s settings, shared by :class:`cbDiceLoss`."""
    validate_common(settings)
    settings["iterations"] = check_count("iterations", settings["iterations"])
    settings["smooth"] = check_number("smooth", settings["smooth"], allow_zero=False)
    return settings


@torch.compiler.disable  # the distance transform runs in SciPy or cuCIM: outside any compiled graph
def _distances(mask: torch.Tensor) -> torch.Tensor:
    """Euclidean distance transform of each map of a boolean (N, *spatial) tensor, float64, on its device."""
    from monai.transforms.utils import distance_transform_edt

    if mask.numel() == 0:
        return mask.double()
    distances = distance_transform_edt(mask.to(torch.uint8), float64_distances=True)
    return torch.as_tensor(distances, device=mask.device, dtype=torch.float64)


def _weights(x: torch.Tensor, skeleton: torch.Tensor, power: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(Q_v, Q_sv, Q_s) of one kind of map (see the module doc), (B, C, *spatial) each."""
    spatial = x.shape[2:]
    with torch.no_grad():
        mask, on_skeleton = x > 0.5, skeleton > 0.5
        distance = _distances(mask.reshape(-1, *spatial)).reshape(x.shape).to(x.dtype)
        radius = torch.where(on_skeleton, distance, torch.zeros_like(distance))
        largest = radius.flatten(2).amax(-1).clamp(min=1.0).reshape(*x.shape[:2], *([1] * len(spatial)))
        depth = torch.minimum(distance, largest) / largest
        relative_radius = radius / largest
        thinness = torch.where(on_skeleton, (1 + _EPS) / (relative_radius**power + _EPS), torch.zeros_like(radius))
    return depth * x, relative_radius * x, thinness * skeleton


def _cbdice_values(probs: torch.Tensor, target: torch.Tensor, *, iterations: int, smooth: float, batch: bool):
    """Per-(sample, class) cbDice loss of prepared probabilities and labels: (B, C), or (1, C) with ``batch``."""
    power = 1 if probs.dim() == 4 else 2
    target = target.to(probs.dtype)
    v_p, sv_p, s_p = _weights(probs, soft_skeleton(probs, iterations), power)
    with torch.no_grad():
        v_l, sv_l, s_l = _weights(target, soft_skeleton(target, iterations), power)
    axes = tuple(range(2, probs.dim()))
    prec_num = (s_p * v_l).sum(axes)
    prec_den = (s_p * torch.where(sv_l != 0, sv_l, sv_p)).sum(axes)
    sens_num = (s_l * v_p).sum(axes)
    sens_den = (s_l * torch.where(sv_p != 0, sv_p, sv_l)).sum(axes)
    sums = torch.stack([prec_num, prec_den, sens_num, sens_den], -1)
    if batch:
        sums = sums.sum(0, keepdim=True)
    prec_num, prec_den, sens_num, sens_den = sums.unbind(-1)
    precision = (prec_num + smooth) / (prec_den + smooth)
    sensitivity = (sens_num + smooth) / (sens_den + smooth)
    return 1.0 - 2.0 * precision * sensitivity / (precision + sensitivity)


def cbdice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    reduction: str = "mean",
    iterations: int = 10,
    smooth: float = 1.0,
    batch: bool = False,
) -> torch.Tensor:
    r"""Centreline-boundary Dice loss per sample and class (Shi et al., MICCAI 2024); the definition, and where it
    differs from the authors' code, are in :mod:`seglosses.losses.cbdice`.

    Args:
        input: (B, C, H, W) or (B, C, H, W, D) logits (or probabilities with no activation set).
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) labels (masks
            and skeletons thresholded at 1/2).
        include_background, to_onehot_y, sigmoid, softmax, other_act: as in MONAI's losses.
        reduction: ``"none"`` returns (B, C) ((1, C) with ``batch``); ``"mean"``/``"sum"`` reduce those values.
        iterations: soft-skeleton iterations (the authors' default 10).
        smooth: added to numerator and denominator of both ratios (> 0).
        batch: sum over the batch before the ratios.

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) or (1, C) for ``"none"``; float32 for half-precision input.

    Raises:
        TypeError, ValueError: as every loss (shapes, NaN, labels outside [0, C), activations), a 1D input,
            ``iterations`` not a non-negative integer, ``smooth`` not positive.

    Example:
        >>> target = torch.zeros(1, 1, 16, 16)
        >>> target[0, 0, 6:9, 2:14] = 1                     # a bar 3 pixels wide
        >>> float(cbdice_loss(target.clone(), target))       # agreement
        0.0
        >>> float(cbdice_loss(torch.zeros_like(target), target)) > 0.5   # the bar missed
        True
    """
    settings = _cbdice_settings(given(locals()))
    probs, target = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=_SPATIAL_DIMS,
    )
    values = _cbdice_values(probs, target, iterations=settings["iterations"], smooth=settings["smooth"], batch=batch)
    return reduce(values, reduction)


class cbDiceLoss(SettingsModule):
    """Module form of :func:`cbdice_loss`: stores the settings (checked here) and calls the function.

    Example:
        >>> loss = cbDiceLoss(softmax=True, to_onehot_y=True, include_background=False)
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
        iterations: int = 10,
        smooth: float = 1.0,
        batch: bool = False,
    ) -> None:
        super().__init__()
        self._keep(_cbdice_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`cbdice_loss`."""
        return cbdice_loss(input, target, **self._arguments())
