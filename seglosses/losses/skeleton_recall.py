r"""Skeleton Recall loss (Kirchhoff et al., "Skeleton Recall Loss for Connectivity Conserving and Resource
Efficient Segmentation of Thin Tubular Structures", ECCV 2024).

The target's skeleton, thickened into a tube and kept inside its class, is computed on the CPU once per sample
(:class:`seglosses.transforms.SkeletonTubed` in the data loader); the loss is then one minus the soft recall of
that tube by the predicted probabilities, a product and two sums: no differentiable skeleton, hence the
paper's small time and memory overhead next to clDice. It is meant as an extra term next to a region loss
(the paper trains with Dice + CE + w * Skeleton Recall).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seglosses._arrays import to_numpy
from seglosses._validation import check_number
from seglosses.losses._common import (
    SettingsModule,
    given,
    one_hot,
    prepare,
    reduce,
    validate_common,
)
from seglosses.transforms.skeleton import skeleton_tube

__all__ = ["SkeletonRecallLoss", "skeleton_recall_loss"]


def _validate_skeleton_shape(skeleton: torch.Tensor, target: torch.Tensor) -> None:
    """``skeleton`` must be a tensor of ``target``'s shape."""
    if not isinstance(skeleton, torch.Tensor):
        raise TypeError(f"Expected `skeleton` to be a torch.Tensor or None, but got {type(skeleton).__name__}.")
    if skeleton.shape != target.shape:
        raise ValueError(
            f"Expected `skeleton` to have the shape of `target` {tuple(target.shape)} (the tube in the target's "
            f"layout, as SkeletonTubed gives it), but got {tuple(skeleton.shape)}."
        )


def _skeleton_values_check(skeleton: torch.Tensor, n_classes: int) -> tuple[list[torch.Tensor], Callable[[], None]]:
    """The value checks of a given tube, as flags read with the input's (see ``validate_input_target``): finite,
    and, as class indices, whole labels in [0, C)."""
    tube = skeleton.detach()
    flags = []
    if tube.is_floating_point():
        flags.append(torch.isfinite(tube).all())
    indices = tube.shape[1] == 1 and n_classes > 1 and tube.numel() > 0 and tube.dtype != torch.bool
    if indices:
        low, high = torch.aminmax(tube)
        flags += [low >= 0, high < n_classes]
        if tube.is_floating_point():
            flags.append(torch.eq(tube, tube.round()).all())

    def check() -> None:
        if tube.is_floating_point() and not torch.isfinite(tube).all():
            raise ValueError("Expected `skeleton` to contain only finite values, but got NaN or Inf.")
        if indices:
            if tube.is_floating_point() and not torch.equal(tube, tube.round()):
                raise ValueError("Expected `skeleton` to hold integer class indices, but got fractional values.")
            if tube.min() < 0 or tube.max() >= n_classes:
                raise ValueError(
                    f"Expected `skeleton` class indices in [0, {n_classes}), but got values in "
                    f"[{tube.min().item():g}, {tube.max().item():g}]."
                )

    return flags, check


def _recall_settings(settings: dict) -> dict:
    """The one validator of :func:`skeleton_recall_loss`'s settings, shared by :class:`SkeletonRecallLoss`."""
    validate_common(settings)
    for name in ("smooth_nr", "smooth_dr"):
        settings[name] = check_number(name, settings[name], allow_zero=True)
    return settings


@torch.compiler.disable  # host work (scikit-image): outside any compiled graph
def _tube_from_target(target: torch.Tensor, n_classes: int, include_background: bool) -> torch.Tensor:
    """Tube of every sample of a validated ``target`` (B, 1 or C, *spatial), computed on the CPU."""
    labels = to_numpy(target)
    if n_classes == 1:
        labels = labels > 0.5  # one foreground channel: a soft or binary mask, not class indices
    tubes = [torch.from_numpy(skeleton_tube(sample, include_background=include_background)) for sample in labels]
    return torch.stack(tubes).to(target.device)


def skeleton_recall_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    skeleton: torch.Tensor | None = None,
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
) -> torch.Tensor:
    r"""Skeleton Recall loss: one minus the soft recall of the target's tubed skeleton, per sample and class.

    With probabilities :math:`p` and the tube :math:`T` (0/1) of one (sample, class), summed over the spatial
    axes (and over the batch when ``batch``):

    .. math:: \mathcal{L} = 1 - \frac{\sum p\,T + s_{nr}}{\sum T + s_{dr}}.

    The paper's code uses the same ratio with :math:`s_{nr} = s_{dr} = 1`; the defaults here are MONAI's
    1e-5, as for every loss of this package. A class whose tube is empty (absent from the target, or the
    background channel, see below) gives :math:`1 - s_{nr}/s_{dr}`, 0 by default, with zero gradient. A
    perfect prediction gives 0; a prediction that misses a part of the tube loses that part's share.

    The tube (``skeleton``) comes in the target's layout, as :class:`seglosses.transforms.SkeletonTubed`
    produces it from the label:

    - with ``to_onehot_y`` (and C > 1): (B, 1, *spatial), class k on the tube of class k, 0 elsewhere; the
      background class has no tube, so with ``include_background`` its term is the empty-tube value above
      (the paper drops the background: prefer ``include_background=False``);
    - otherwise (B, C, *spatial), one 0/1 channel per class (a single channel is the foreground's tube).

    When ``skeleton`` is None the tube is computed here from ``target`` with scikit-image, on the CPU, sample
    by sample (1 to 2.5 s per whole 512x512x(10-25) vesselNN volume on the development machine): correct, but
    it stalls the training step. Compute it in the data loader instead when you can. Channel 0 of a
    multi-channel ``target`` is then skeletonized only with ``include_background``, so both paths agree.

    Args:
        input: (B, C, *spatial) logits (or probabilities with no activation set), 1D, 2D or 3D (in 1D a
            segment's skeleton is the segment itself).
        target: (B, 1, *spatial) class indices with ``to_onehot_y``, otherwise (B, C, *spatial) one-hot or soft
            labels (foreground: > 0.5 when the tube is computed here).
        skeleton: the tube of ``target``, same shape as ``target`` (see above), or None to compute it.
        include_background: keep channel 0; when False it is dropped after activation and one-hot encoding.
        to_onehot_y: ``target`` (and ``skeleton``) hold class indices, one-hot encoded with C classes.
        sigmoid, softmax, other_act: the activation applied to ``input`` (at most one).
        reduction: ``"none"`` returns (B, C) (C after ``include_background``; (1, C) with ``batch``);
            ``"mean"``/``"sum"`` reduce those values.
        smooth_nr, smooth_dr: added to numerator and denominator of the recall (>= 0).
        batch: sum over the batch before the ratio (one value per class).

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) or (1, C) for ``"none"``; float32 for half-precision input.

    Raises:
        TypeError: ``input``/``target``/``skeleton`` not tensors, ``input`` not floating point, ``other_act``
            not callable, a smoothing term not a number.
        ValueError: wrong rank or shapes (``skeleton`` not of ``target``'s shape), NaN/Inf, labels or tube
            classes outside [0, C), more than one activation, unknown ``reduction``, negative smoothing.

    Example:
        >>> target = torch.zeros(1, 1, 16, 16, dtype=torch.long)
        >>> target[0, 0, 6:10, 2:14] = 1
        >>> perfect = 20.0 * (2 * target.float() - 1)  # logits: the target itself, confidently
        >>> float(skeleton_recall_loss(perfect, target, sigmoid=True)) < 1e-6
        True
    """
    settings = _recall_settings(given(locals()))
    smooth_nr, smooth_dr = settings["smooth_nr"], settings["smooth_dr"]
    extra_check = None
    if skeleton is not None and isinstance(input, torch.Tensor) and isinstance(target, torch.Tensor):
        _validate_skeleton_shape(skeleton, target)
        extra_check = _skeleton_values_check(skeleton, input.shape[1])  # read with the input's checks: one sync
    probs, _ = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=(1, 2, 3), extra_check=extra_check,
    )
    n_classes = input.shape[1]
    if skeleton is None:
        skeleton = _tube_from_target(target, n_classes, include_background)
    else:
        if type(skeleton) is not torch.Tensor:
            # A MetaTensor from the loader would make every result a MetaTensor; only the values matter here.
            skeleton = skeleton.as_subclass(torch.Tensor)
        skeleton = skeleton.to(probs.device)
    if skeleton.shape[1] == 1 and n_classes > 1:
        tube = one_hot(skeleton, n_classes, probs.dtype)
        tube[:, 0] = 0  # index 0 marks "no tube", not a background tube
    else:
        tube = skeleton.to(probs.dtype)
    if tube.shape[1] != probs.shape[1]:
        tube = tube[:, 1:]
    dims = tuple(range(2, probs.dim()))
    # prepare() computes half-precision input in float32, so these sums cannot overflow past 65504 voxels.
    hit = (probs * tube).sum(dims)
    size = tube.sum(dims)
    if batch:
        hit, size = hit.sum(0, keepdim=True), size.sum(0, keepdim=True)
    return reduce(1 - (hit + smooth_nr) / (size + smooth_dr), reduction)


class SkeletonRecallLoss(SettingsModule):
    """Module form of :func:`skeleton_recall_loss`: stores the settings (checked here) and calls the function.

    ``forward(input, target, skeleton=None)``: ``skeleton`` is the tube of ``target`` from
    :class:`seglosses.transforms.SkeletonTubed`; without it the tube is computed on the CPU at every call.

    Example:
        >>> loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> labels = torch.zeros(2, 1, 32, 32, dtype=torch.long)
        >>> labels[:, :, 10:14, 4:28] = 1
        >>> loss(torch.randn(2, 2, 32, 32), labels).shape
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
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        batch: bool = False,
    ) -> None:
        super().__init__()
        self._keep(_recall_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor, skeleton: torch.Tensor | None = None) -> torch.Tensor:
        """``input`` (B, C, *spatial) logits, ``target`` and ``skeleton`` (B, 1 or C, *spatial); see
        :func:`skeleton_recall_loss`."""
        return skeleton_recall_loss(input, target, skeleton, **self._arguments())
