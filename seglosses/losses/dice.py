"""Dice and Dice + cross-entropy losses: MONAI's arithmetic behind seglosses' conventions.

The values are MONAI's, to the bit: the Dice arithmetic is MONAI's ``DiceLoss`` written out on its own
``compute_tp_fp_fn`` (MONAI's forward breaks a ``torch.compile`` graph). What this module adds is the package's
conventions: every input is checked with a message that names the argument, NaN/Inf logits are rejected,
and ``reduction="none"`` returns one value per (sample, class) of shape (B, C) instead of MONAI's
(B, C, 1, 1[, 1]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from monai.losses.utils import compute_tp_fp_fn

from seglosses._validation import check_number, check_smoothing
from seglosses.losses._common import (
    SettingsModule,
    given,
    prepare,
    reduce,
    upcast,
    validate_common,
)

__all__ = ["DiceCELoss", "DiceLoss", "dice_ce_loss", "dice_loss"]

Weight = Sequence[float] | float | torch.Tensor | None


def _validate_weight(weight: Weight) -> torch.Tensor | None:
    """Class weights as a 0-d or 1-d tensor of finite, non-negative numbers (or None)."""
    if weight is None:
        return None
    try:
        tensor = torch.as_tensor(weight, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"Expected `weight` to be a number, a sequence of numbers or a tensor, but got {type(weight).__name__}."
        ) from None
    if tensor.dim() > 1 or not torch.isfinite(tensor).all() or (tensor < 0).any():
        raise ValueError(
            "Expected `weight` to be a non-negative finite number or a 1D sequence of them, "
            f"but got {tensor.tolist()}."
        )
    return tensor


def _weight_for(weight: torch.Tensor | None, n_channels: int, like: torch.Tensor) -> torch.Tensor | None:
    """Check a 1D ``weight`` against the number of channels the loss sees and move it next to ``like``."""
    if weight is None:
        return None
    if weight.dim() == 1 and weight.numel() != n_channels:
        raise ValueError(
            f"Expected `weight` to have one value per channel ({n_channels} after `include_background`), "
            f"but got {weight.numel()} values."
        )
    return weight.to(device=like.device, dtype=like.dtype)


def _dice_settings(settings: dict) -> dict:
    """The one validator of :func:`dice_loss`'s settings, shared by :class:`DiceLoss`: checked and normalised."""
    validate_common(settings)
    settings["smooth_nr"], settings["smooth_dr"] = check_smoothing(settings["smooth_nr"], settings["smooth_dr"])
    settings["weight"] = _validate_weight(settings["weight"])
    return settings


def _dice_ce_settings(settings: dict) -> dict:
    """The one validator of :func:`dice_ce_loss`'s settings, shared by :class:`DiceCELoss`."""
    _dice_settings(settings)
    for name in ("lambda_dice", "lambda_ce", "label_smoothing"):
        settings[name] = check_number(name, settings[name], allow_zero=True)
    if settings["label_smoothing"] > 1:
        raise ValueError(f"Expected `label_smoothing` to be in [0, 1], but got {settings['label_smoothing']}.")
    return settings


def dice_values(
    probs: torch.Tensor,
    target: torch.Tensor,
    *,
    squared_pred: bool = False,
    jaccard: bool = False,
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    batch: bool = False,
    weight: torch.Tensor | None = None,
    soft_label: bool = False,
) -> torch.Tensor:
    """Per-(sample, class) Dice loss of prepared probabilities and labels, both (B, C, *spatial).

    Returns (B, C), or (1, C) with ``batch``. The values are MONAI's ``DiceLoss`` (reduction "none") to the bit:
    the same operations in the same order on its own ``compute_tp_fp_fn``; written out here because MONAI's
    forward reads its reduction axes through ``tensor.tolist()``, a graph break under ``torch.compile``.
    """
    reduce_axis = list(range(2, probs.dim()))
    if batch:
        reduce_axis = [0, *reduce_axis]
    tp, fp, fn = compute_tp_fp_fn(probs, target, reduce_axis, 2 if squared_pred else 1, soft_label)
    if not jaccard:
        fp = fp * 0.5
        fn = fn * 0.5
    numerator = 2 * tp + smooth_nr
    denominator = 2 * (tp + fp + fn) + smooth_dr
    f = 1 - numerator / denominator
    class_weight = _weight_for(weight, probs.shape[1], probs)
    if class_weight is not None and target.shape[1] != 1:
        f = f * class_weight.to(f)
    return f.reshape(1 if batch else probs.shape[0], probs.shape[1])


def dice_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    squared_pred: bool = False,
    jaccard: bool = False,
    reduction: str = "mean",
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    batch: bool = False,
    weight: Weight = None,
    soft_label: bool = False,
) -> torch.Tensor:
    r"""Soft Dice loss (Milletari et al., V-Net, 3DV 2016), per sample and class, as ``monai.losses.DiceLoss``.

    With probabilities :math:`p` and labels :math:`t` of one (sample, class), summed over the spatial axes
    (and over the batch when ``batch``):

    .. math:: \mathcal{L} = 1 - \frac{2 \sum p t + s_{nr}}{\sum p^k + \sum t^k + s_{dr}},\quad k = 2
              \text{ if squared\_pred else } 1,

    or the soft Jaccard form :math:`1 - (\sum pt + s_{nr}) / (\sum p^k + \sum t^k - \sum pt + s_{dr})` with ``jaccard``.
    An empty target and an empty prediction give :math:`1 - s_{nr}/s_{dr}` (0 with the default smoothing);
    an empty target with a non-empty prediction gives a value close to 1.

    Args:
        input: (B, C, *spatial) logits (or probabilities with no activation set), any number of spatial axes
            (1D, 2D, 3D, ...), as MONAI.
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) one-hot or soft labels.
        include_background: keep channel 0; when False it is dropped after activation and one-hot encoding.
        to_onehot_y: ``target`` holds class indices to be one-hot encoded with C classes.
        sigmoid, softmax, other_act: the activation applied to ``input`` (at most one).
        squared_pred: square predictions and labels in the denominator.
        jaccard: soft Jaccard (IoU) loss instead of Dice.
        reduction: ``"none"`` returns (B, C) (C after ``include_background``; (1, C) with ``batch``), unlike
            MONAI's (B, C, 1, 1[, 1]); ``"mean"``/``"sum"`` reduce those values as MONAI does.
        smooth_nr, smooth_dr: added to numerator and denominator (>= 0).
        batch: sum over the batch before the ratio (one value per class).
        weight: class weights (a number or one per channel after ``include_background``), multiplying the values.
        soft_label: MONAI's soft-label formulation (exact for non-binary targets).

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) or (1, C) for ``"none"``; float32 for half-precision input
        (computed in float32, see :mod:`seglosses.losses._common`).

    Raises:
        TypeError: ``input``/``target`` not tensors, ``input`` not floating point, ``other_act`` not callable,
            ``weight`` or a smoothing term not a number.
        ValueError: wrong rank or shapes, NaN/Inf logits, labels outside [0, C), more than one activation,
            unknown ``reduction``, negative smoothing, bad ``weight``.

    Example:
        >>> logits = torch.randn(2, 3, 16, 16)
        >>> labels = torch.randint(0, 3, (2, 1, 16, 16))
        >>> dice_loss(logits, labels, softmax=True, to_onehot_y=True, reduction="none").shape
        torch.Size([2, 3])
    """
    settings = _dice_settings(given(locals()))
    smooth_nr, smooth_dr = settings["smooth_nr"], settings["smooth_dr"]
    class_weight: torch.Tensor | None = settings["weight"]
    probs, target = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=None,
    )
    values = dice_values(
        probs, target, squared_pred=squared_pred, jaccard=jaccard, smooth_nr=smooth_nr, smooth_dr=smooth_dr,
        batch=batch, weight=class_weight, soft_label=soft_label,
    )
    return reduce(values, reduction)


def _cross_entropy_per_sample(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, label_smoothing: float
) -> torch.Tensor:
    """(B,) cross-entropy terms whose mean is MONAI's batch cross-entropy (``reduction="mean"``).

    MONAI calls ``nn.CrossEntropyLoss`` (class indices when ``target`` has one channel, probabilities otherwise)
    or ``nn.BCEWithLogitsLoss`` for one channel. Those average over every voxel of the batch, normalised by the
    summed class weights of the voxels' labels for weighted class indices. Sample b's term is its share of
    that batch mean times B, so that averaging the terms over the batch reproduces MONAI exactly.
    """
    n_classes = logits.shape[1]
    if n_classes == 1:
        per_voxel = F.binary_cross_entropy_with_logits(
            logits, target.to(logits.dtype), pos_weight=None if weight is None else weight.to(logits), reduction="none"
        )
        normaliser = per_voxel.new_tensor(per_voxel.numel())
    elif target.shape[1] == 1:
        labels = target[:, 0].long()
        class_weight = None if weight is None else weight.to(logits)
        per_voxel = F.cross_entropy(
            logits, labels, weight=class_weight, reduction="none", label_smoothing=label_smoothing
        )
        normaliser = per_voxel.new_tensor(per_voxel.numel()) if class_weight is None else class_weight[labels].sum()
    else:
        class_weight = None if weight is None else weight.to(logits)
        per_voxel = F.cross_entropy(
            logits, target.to(logits.dtype), weight=class_weight, reduction="none", label_smoothing=label_smoothing
        )
        normaliser = per_voxel.new_tensor(per_voxel.numel())
    return per_voxel.flatten(1).sum(1) * (logits.shape[0] / normaliser)


def dice_ce_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    squared_pred: bool = False,
    jaccard: bool = False,
    reduction: str = "mean",
    smooth_nr: float = 1e-5,
    smooth_dr: float = 1e-5,
    batch: bool = False,
    weight: Weight = None,
    lambda_dice: float = 1.0,
    lambda_ce: float = 1.0,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    r"""Dice plus cross-entropy, :math:`\lambda_{dice} L_{Dice} + \lambda_{ce} L_{CE}`, as ``monai.losses.DiceCELoss``.

    The Dice term is :func:`dice_loss` (with the activation); the cross-entropy term works on the raw logits,
    over all C classes whatever ``include_background`` says (as in MONAI): ``F.cross_entropy`` with class
    indices (``to_onehot_y``) or one-hot/soft labels, ``F.binary_cross_entropy_with_logits`` for C = 1
    (``weight`` becoming its ``pos_weight``).

    ``reduction="none"`` returns (B, C): Dice per (sample, class) plus sample b's cross-entropy term repeated
    along C (with ``batch``: (1, C) and the batch cross-entropy). ``"mean"`` equals MONAI's value.
    ``"sum"`` is the sum of the ``"none"`` values; MONAI's ``"sum"`` instead adds a Dice sum over (B, C) to a
    cross-entropy summed over every voxel, a different quantity. Sample b's cross-entropy term is its share of
    MONAI's batch mean times B (with class weights the batch normalisation couples the samples); unweighted,
    it is the mean cross-entropy over the sample's voxels.

    Args:
        input: (B, C, *spatial) logits, any number of spatial axes (1D, 2D, 3D, ...), as MONAI.
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) one-hot or soft labels.
        include_background, to_onehot_y, sigmoid, softmax, other_act: as in :func:`dice_loss` (the activation
            is only used by the Dice term).
        squared_pred, jaccard, smooth_nr, smooth_dr, batch: as in :func:`dice_loss`.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``, see above.
        weight: class weights for both terms (the Dice term drops the background's weight without
            ``include_background``, as MONAI does).
        lambda_dice, lambda_ce: non-negative weights of the two terms.
        label_smoothing: in [0, 1], for the multi-class cross-entropy.

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) or (1, C) for ``"none"``; float32 for half-precision input.

    Raises:
        TypeError, ValueError: as :func:`dice_loss`, and for negative ``lambda_*`` or ``label_smoothing``
            outside [0, 1].

    Example:
        >>> logits = torch.randn(2, 3, 8, 8, 8)
        >>> labels = torch.randint(0, 3, (2, 1, 8, 8, 8))
        >>> float(dice_ce_loss(logits, labels, softmax=True, to_onehot_y=True)) > 0
        True
    """
    settings = _dice_ce_settings(given(locals()))
    smooth_nr, smooth_dr = settings["smooth_nr"], settings["smooth_dr"]
    class_weight: torch.Tensor | None = settings["weight"]
    lambda_dice, lambda_ce = settings["lambda_dice"], settings["lambda_ce"]
    label_smoothing = settings["label_smoothing"]
    if class_weight is not None and class_weight.dim() == 1 and class_weight.numel() != input.shape[1]:
        raise ValueError(
            f"Expected `weight` to have one value per channel of `input` ({input.shape[1]}), "
            f"but got {class_weight.numel()} values."
        )
    # Upcast once: both terms then send their gradients through one cast, summed in float32 before it.
    input = upcast(input)
    probs, onehot = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=None,
    )
    dice_weight = (
        class_weight[1:] if class_weight is not None and class_weight.dim() == 1 and probs.shape[1] < input.shape[1]
        else class_weight
    )
    dice = dice_values(
        probs, onehot, squared_pred=squared_pred, jaccard=jaccard, smooth_nr=smooth_nr, smooth_dr=smooth_dr,
        batch=batch, weight=dice_weight,
    )
    ce = _cross_entropy_per_sample(input, target, class_weight, label_smoothing)
    if batch:
        ce = ce.mean(0, keepdim=True)
    return reduce(lambda_dice * dice + lambda_ce * ce[:, None].to(dice.dtype), reduction)


class DiceLoss(SettingsModule):
    """Module form of :func:`dice_loss`: stores the settings (checked here) and calls the function.

    A drop-in replacement for ``monai.losses.DiceLoss`` (same argument names and values), except that
    ``reduction="none"`` returns (B, C) and bad input raises a clear ``ValueError``/``TypeError``.
    ``ignore_index`` is not supported.

    Example:
        >>> loss = DiceLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> loss(torch.randn(2, 3, 16, 16), torch.randint(0, 3, (2, 1, 16, 16))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        squared_pred: bool = False,
        jaccard: bool = False,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        weight: Weight = None,
        soft_label: bool = False,
    ) -> None:
        super().__init__()
        self._keep(_dice_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`dice_loss`."""
        return dice_loss(input, target, **self._arguments())


class DiceCELoss(SettingsModule):
    """Module form of :func:`dice_ce_loss`: stores the settings (checked here) and calls the function.

    Same argument names as ``monai.losses.DiceCELoss``; ``reduction="none"`` is supported ((B, C), see
    :func:`dice_ce_loss`) and ``"mean"`` gives MONAI's value.

    Example:
        >>> loss = DiceCELoss(softmax=True, to_onehot_y=True, lambda_ce=0.5)
        >>> loss(torch.randn(2, 2, 8, 8, 8), torch.randint(0, 2, (2, 1, 8, 8, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        squared_pred: bool = False,
        jaccard: bool = False,
        reduction: str = "mean",
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
        weight: Weight = None,
        lambda_dice: float = 1.0,
        lambda_ce: float = 1.0,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self._keep(_dice_ce_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` (B, 1 or C, *spatial); see :func:`dice_ce_loss`."""
        return dice_ce_loss(input, target, **self._arguments())
