r"""clDice losses (Shit et al., "clDice - a Novel Topology-Preserving Loss Function for Tubular Structure
Segmentation", CVPR 2021) on the soft skeleton of :mod:`seglosses.ops.soft`, whose backward pass
recomputes instead of storing (memory and exactness: see that module).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seglosses._validation import check_count, check_number, check_smoothing
from seglosses.losses._common import (
    SettingsModule,
    given,
    prepare,
    reduce,
    validate_common,
)
from seglosses.losses.dice import dice_values
from seglosses.ops.soft import SPATIAL_DIMS, skeleton_overlaps, soft_skeleton

__all__ = ["DiceclDiceLoss", "SoftclDiceLoss", "dice_cldice_loss", "soft_cldice_loss", "soft_skeleton"]


def _validate_alpha(alpha: float) -> float:
    alpha = check_number("alpha", alpha, allow_zero=True)
    if alpha > 1:
        raise ValueError(f"Expected `alpha` to be a number in [0, 1], but got {alpha}.")
    return alpha


def _cldice_settings(settings: dict) -> dict:
    """The one validator of :func:`soft_cldice_loss`'s settings, shared by :class:`SoftclDiceLoss`."""
    validate_common(settings)
    settings["iterations"] = check_count("iterations", settings["iterations"])
    settings["smooth"] = check_number("smooth", settings["smooth"], allow_zero=False)
    return settings


def _dice_cldice_settings(settings: dict) -> dict:
    """The one validator of :func:`dice_cldice_loss`'s settings, shared by :class:`DiceclDiceLoss`."""
    _cldice_settings(settings)
    settings["smooth_nr"], settings["smooth_dr"] = check_smoothing(settings["smooth_nr"], settings["smooth_dr"])
    settings["alpha"] = _validate_alpha(settings["alpha"])
    return settings


def _cldice_values(
    probs: torch.Tensor, target: torch.Tensor, *, iterations: int, smooth: float, batch: bool
) -> torch.Tensor:
    """Per-(sample, class) clDice loss of prepared (B, C, *spatial) probabilities and labels: (B, C) or (1, C).

    Prepared means float32 for half-precision input: skeleton sums over a volume in half precision lose most digits.
    """
    sums = skeleton_overlaps(probs, target, iterations)
    if batch:
        sums = sums.sum(0, keepdim=True)
    skel_p_in_t, skel_p, skel_t_in_p, skel_t = sums.unbind(-1)
    precision = (skel_p_in_t + smooth) / (skel_p + smooth)
    sensitivity = (skel_t_in_p + smooth) / (skel_t + smooth)
    return 1.0 - 2.0 * precision * sensitivity / (precision + sensitivity)


def soft_cldice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    reduction: str = "mean",
    iterations: int = 3,
    smooth: float = 1.0,
    batch: bool = False,
) -> torch.Tensor:
    r"""Soft clDice loss per sample and class (Shit et al., CVPR 2021).

    With probabilities :math:`P` and labels :math:`L` of one (sample, class), their soft skeletons
    :math:`S_P, S_L` (:func:`soft_skeleton`) and sums over the spatial axes (and the batch with ``batch``):

    .. math:: T_{prec} = \frac{\sum S_P L + s}{\sum S_P + s},\quad T_{sens} = \frac{\sum S_L P + s}{\sum S_L + s},\quad
              \mathcal{L} = 1 - \frac{2\, T_{prec} T_{sens}}{T_{prec} + T_{sens}}.

    Since :math:`s > 0` both ratios are positive, so no term is added to the harmonic mean. Empty target and
    empty prediction give 0 (both ratios are 1); an empty target against a prediction with skeleton mass
    :math:`m` gives :math:`(1 - T) / (1 + T)` with :math:`T = s / (m + s)`.

    Mapping to ``monai.losses.SoftclDiceLoss(iter_, smooth_nr, smooth_dr, smooth)`` (MONAI >= 1.5; before,
    it took ``(y_true, y_pred)`` probabilities with no activation options). MONAI sums over channels *and*
    space before the ratios (one value per sample, never per class, ``"none"`` giving (B,)) and adds its
    ``smooth`` (1e-4) to the harmonic mean's denominator. Hence, with ``iter_=iterations`` and
    ``smooth_nr=smooth_dr=smooth``: for one channel after ``include_background`` (a sigmoid channel, or two
    softmax channels without the background) the values agree up to that term (at most ``smooth_monai / 2``;
    to float precision for a tiny ``smooth_monai``); for several channels our value for class c is MONAI's on
    channel c alone.

    Args:
        input: (B, C, *spatial) logits (or probabilities with no activation set), 1D, 2D or 3D.
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) one-hot or soft labels.
        include_background, to_onehot_y, sigmoid, softmax, other_act: as in MONAI's losses.
        reduction: ``"none"`` returns (B, C) ((1, C) with ``batch``); ``"mean"``/``"sum"`` reduce those values.
        iterations: soft-skeleton iterations K (>= 0; the paper uses 3 to 10, thicker structures need more).
        smooth: added to numerator and denominator of both ratios (> 0).
        batch: sum over the batch before the ratios.

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) or (1, C) for ``"none"``. Computed in float32 for half-precision
        inputs (whole-volume sums in bf16/fp16 lose most digits).

    Raises:
        TypeError: ``input``/``target`` not tensors, ``input`` not floating point, ``other_act`` not callable,
            ``smooth`` not a number.
        ValueError: wrong rank or shapes, NaN/Inf logits, labels outside [0, C), more than one activation,
            unknown ``reduction``, ``iterations`` not a non-negative integer, ``smooth`` not positive.

    Example:
        >>> logits = torch.randn(2, 2, 32, 32)
        >>> labels = torch.randint(0, 2, (2, 1, 32, 32))
        >>> soft_cldice_loss(logits, labels, softmax=True, to_onehot_y=True, reduction="none").shape
        torch.Size([2, 2])
    """
    settings = _cldice_settings(given(locals()))
    iterations, smooth = settings["iterations"], settings["smooth"]
    probs, target = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=SPATIAL_DIMS,
    )
    return reduce(_cldice_values(probs, target, iterations=iterations, smooth=smooth, batch=batch), reduction)


def dice_cldice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    reduction: str = "mean",
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    batch: bool = False,
    iterations: int = 3,
    smooth: float = 1.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    r"""Dice + clDice, :math:`(1 - \alpha)\,\mathcal{L}_{Dice} + \alpha\,\mathcal{L}_{clDice}`, per sample and class.

    The Dice term is :func:`seglosses.losses.dice_loss` (``smooth_nr``, ``smooth_dr``), the clDice term
    :func:`soft_cldice_loss` (``iterations``, ``smooth``); the activation and one-hot encoding are done once.

    Mapping to ``monai.losses.SoftDiceclDiceLoss(iter_, alpha, smooth_nr, smooth_dr, smooth)``, whose Dice and
    clDice share ``smooth_nr``/``smooth_dr`` (default 1.0, ours 1e-5 as in ``DiceLoss``): pass
    ``smooth_nr=smooth_dr=smooth`` = MONAI's ``smooth_nr=smooth_dr``; with one channel after
    ``include_background`` the values agree as described in :func:`soft_cldice_loss`. With several channels
    MONAI averages Dice over (B, C) but pools clDice over channels; ours is per class for both.

    Args:
        input, target, include_background, to_onehot_y, sigmoid, softmax, other_act, batch: as in
            :func:`soft_cldice_loss`.
        reduction: ``"none"`` returns (B, C) ((1, C) with ``batch``); ``"mean"``/``"sum"`` reduce those values.
        smooth_nr, smooth_dr: Dice smoothing (>= 0).
        iterations, smooth: clDice settings, see :func:`soft_cldice_loss`.
        alpha: weight of clDice, in [0, 1].

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) or (1, C) for ``"none"``; float32 for half-precision input.

    Raises:
        TypeError, ValueError: as :func:`soft_cldice_loss`, and for ``alpha`` outside [0, 1] or negative
            Dice smoothing.

    Example:
        >>> logits = torch.randn(1, 2, 16, 16, 16)
        >>> labels = torch.randint(0, 2, (1, 1, 16, 16, 16))
        >>> loss = dice_cldice_loss(logits, labels, softmax=True, to_onehot_y=True, include_background=False)
        >>> 0 <= float(loss) <= 1
        True
    """
    settings = _dice_cldice_settings(given(locals()))
    smooth_nr, smooth_dr, iterations = settings["smooth_nr"], settings["smooth_dr"], settings["iterations"]
    smooth, alpha = settings["smooth"], settings["alpha"]
    probs, target = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=SPATIAL_DIMS,
    )
    dice = dice_values(probs, target, smooth_nr=smooth_nr, smooth_dr=smooth_dr, batch=batch)
    cldice = _cldice_values(probs, target, iterations=iterations, smooth=smooth, batch=batch)
    return reduce((1.0 - alpha) * dice + alpha * cldice.to(dice.dtype), reduction)


class SoftclDiceLoss(SettingsModule):
    """Module form of :func:`soft_cldice_loss`: stores the settings (checked here) and calls the function.

    Unlike ``monai.losses.SoftclDiceLoss``: ``iterations`` (not ``iter_``), one ``smooth`` for both ratios,
    values per class, ``reduction="none"`` of shape (B, C), and a backward pass that does not store the
    skeleton's steps. See :func:`soft_cldice_loss` for the exact mapping. Every argument is keyword-only:
    MONAI's first argument is ``iter_`` (``SoftclDiceLoss(10)`` there means 10 iterations), ours is
    ``include_background``, so a positional value is refused instead of silently taken as another setting.

    Example:
        >>> loss = SoftclDiceLoss(softmax=True, to_onehot_y=True, include_background=False, iterations=5)
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
        iterations: int = 3,
        smooth: float = 1.0,
        batch: bool = False,
    ) -> None:
        super().__init__()
        self._keep(_cldice_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`soft_cldice_loss`."""
        return soft_cldice_loss(input, target, **self._arguments())


class DiceclDiceLoss(SettingsModule):
    """Module form of :func:`dice_cldice_loss`: stores the settings (checked here) and calls the function.

    Every argument is keyword-only: MONAI's ``SoftDiceclDiceLoss`` takes ``iter_, alpha, smooth`` in that
    order, ours starts with ``include_background``, so a positional value is refused, not misread.

    Example:
        >>> loss = DiceclDiceLoss(softmax=True, to_onehot_y=True, iterations=10, alpha=0.3)
        >>> loss(torch.randn(1, 2, 24, 24, 24), torch.randint(0, 2, (1, 1, 24, 24, 24))).shape
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
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        iterations: int = 3,
        smooth: float = 1.0,
        alpha: float = 0.5,
    ) -> None:
        super().__init__()
        self._keep(_dice_cldice_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`dice_cldice_loss`."""
        return dice_cldice_loss(input, target, **self._arguments())
