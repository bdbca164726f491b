r"""Maximum intensity projection (MIP) loss (Radhakrishna et al., "SPOCKMIP: Segmentation of Vessels in MRAs
with Enhanced Continuity using Maximum Intensity Projection as Loss", 2024).

In a MIP a thin vessel is a line whatever its course in depth, and a small vessel that holds few voxels of
the volume holds a whole line of the projection: comparing the MIPs of prediction and label weighs the
continuity of the vessel tree and its small branches more than a voxel-wise loss does.
The MIPs are compared with a Tversky-family region loss, Dice by default; Focal Tversky is the paper's
choice. One function serves both, since the Tversky index with alpha = beta = 1/2 is Dice:

.. math:: TI = \frac{TP + s_{nr}}{TP + \alpha\,FP + \beta\,FN + s_{dr}},\qquad
          \frac{2\,TP + s_{nr}}{2\,TP + FP + FN + s_{dr}} = TI\big|_{\alpha=\beta=1/2,\ s \to s/2}
          \ \text{(MONAI's Dice)}.

The label's MIPs may come from the whole volume rather than the patch (as in SPOCKMIP), see
:class:`seglosses.transforms.MIPTargetd`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from seglosses._validation import check_number
from seglosses.losses._common import (
    SettingsModule,
    given,
    prepare,
    reduce,
    validate_common,
)
from seglosses.transforms.mip import validate_axes

__all__ = ["MIPLoss", "mip_loss"]

REGIONS = ("dice", "focal_tversky")
# SPOCKMIP's Focal Tversky (its code, in MONAI's naming): alpha weighs false positives, beta false negatives.
FOCAL_TVERSKY_DEFAULTS = {"alpha": 0.3, "beta": 0.7, "gamma": 0.75}


def _validate_region(
    region: str, alpha: float | None, beta: float | None, gamma: float | None
) -> tuple[float, float, float]:
    """Tversky weights and focal exponent of ``region``; ``alpha``/``beta``/``gamma`` only with Focal Tversky."""
    if region not in REGIONS:
        raise ValueError(f"Expected `region` to be one of {REGIONS}, but got {region!r}.")
    given = {"alpha": alpha, "beta": beta, "gamma": gamma}
    if region == "dice":
        for name, value in given.items():
            if value is not None:
                raise ValueError(
                    f"Expected `{name}` to be None with region='dice' (it is Tversky with 1/2, 1/2), but got {value!r}."
                )
        return 0.5, 0.5, 1.0
    alpha, beta, gamma = (
        FOCAL_TVERSKY_DEFAULTS[name] if value is None else check_number(name, value, allow_zero=name != "gamma")
        for name, value in given.items()
    )
    return alpha, beta, gamma


def _target_projection(
    mip: torch.Tensor, index: int, axis: int, like: torch.Tensor, n_classes: int
) -> torch.Tensor:
    """Check one entry of ``target_mips`` against ``like`` (B, C, H, W, D) and return it as a (B, C, ...) tensor.

    It must be (B, C, H, W, D) with its projected axis of size 1 or full, and then constant along that axis
    except for zero padding.
    """
    name = f"`target_mips[{index}]`"
    if not isinstance(mip, torch.Tensor):
        raise TypeError(f"Expected {name} to be a torch.Tensor, but got {type(mip).__name__}.")
    dim = axis + 2
    full = (like.shape[0], n_classes, *like.shape[2:])
    squeezed = tuple(1 if d == dim else s for d, s in enumerate(full))
    if tuple(mip.shape) not in (full, squeezed):
        raise ValueError(
            f"Expected {name} (projection along spatial axis {axis}, one channel per class of `input`; give "
            f"MIPTarget `num_classes` for class-index labels) to have shape {full} or {squeezed}, "
            f"but got {tuple(mip.shape)}."
        )
    mip = mip.as_subclass(torch.Tensor).to(device=like.device)
    if mip.is_floating_point() and not torch.isfinite(mip).all():
        raise ValueError(f"Expected {name} to contain only finite values, but got NaN or Inf.")
    if mip.shape[dim] > 1:
        high = mip.amax(dim, keepdim=True)
        # Zero padding along the axis (a pad after MIPTargetd) is absorbed by the max; any other value is not.
        if ((mip != high) & (mip != 0)).any():
            raise ValueError(
                f"Expected {name} to hold, along spatial axis {axis}, only its projection (broadcast) or zero "
                "padding, but it varies otherwise: was it rotated or resampled across that axis, or is it not a "
                "projection?"
            )
        mip = high
    return mip.to(like.dtype)


def _tversky_values(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float,
    beta: float,
    gamma: float,
    smooth_nr: float,
    smooth_dr: float,
    batch: bool,
) -> torch.Tensor:
    r"""Per-(sample, class) :math:`(1 - TI)^\gamma` of (B, C, *spatial) probabilities and labels: (B, C) or (1, C).

    With :math:`\gamma \ne 1`, :math:`1 - TI` is clamped at 0 first, so that the power is defined; for
    :math:`\gamma < 1` the gradient grows without bound as TI approaches 1, and at TI >= 1 value and gradient are 0.
    """
    dims = tuple(range(2, pred.dim()))
    # mip_loss() gets float32 from prepare() for half-precision input: these sums cannot overflow past 65504.
    tp = (pred * target).sum(dims)
    fp = pred.sum(dims) - tp
    fn = target.sum(dims) - tp
    if batch:
        tp, fp, fn = tp.sum(0, keepdim=True), fp.sum(0, keepdim=True), fn.sum(0, keepdim=True)
    loss = 1 - (tp + smooth_nr) / (tp + alpha * fp + beta * fn + smooth_dr)
    if gamma == 1:
        return loss
    # x ** gamma has an infinite derivative at 0 for gamma < 1: evaluate it only where x > 0.
    positive = loss > 0
    safe = torch.where(positive, loss, torch.ones_like(loss))
    return torch.where(positive, safe**gamma, torch.zeros_like(loss))


def _mip_settings(settings: dict) -> dict:
    """The one validator of :func:`mip_loss`'s settings, shared by :class:`MIPLoss` (``alpha``/``beta``/``gamma``
    stay as given: None means the region's default)."""
    validate_common(settings)
    for name in ("smooth_nr", "smooth_dr"):
        settings[name] = check_number(name, settings[name], allow_zero=True)
    validate_axes(settings["axes"])
    _validate_region(settings["region"], settings["alpha"], settings["beta"], settings["gamma"])
    return settings


def mip_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    target_mips: torch.Tensor | Sequence[torch.Tensor] | None = None,
    *,
    axes: int | Sequence[int] = (-1,),
    region: str = "dice",
    alpha: float | None = None,
    beta: float | None = None,
    gamma: float | None = None,
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
    r"""MIP loss: a region loss between maximum intensity projections of prediction and label, averaged over axes.

    For each spatial axis :math:`a` in ``axes``, the probabilities are projected, :math:`P_a = \max_a p`
    (gradient to the voxel holding the maximum), as is the label :math:`T_a` (from ``target_mips``, or the
    patch's ``target`` when None), and compared per (sample, class) over the remaining two axes:

    .. math:: \mathcal{L} = \frac{1}{|A|}\sum_{a \in A} \big(1 - TI(P_a, T_a)\big)^{\gamma},\qquad
              TI = \frac{TP + s_{nr}}{TP + \alpha\,FP + \beta\,FN + s_{dr}},

    :math:`TP = \sum P_a T_a`, :math:`FP = \sum P_a (1 - T_a)`, :math:`FN = \sum (1 - P_a) T_a`.

    - ``region="dice"``: :math:`1 - (2\,TP + s_{nr}) / (\sum P_a + \sum T_a + s_{dr})`, MONAI's soft Dice of
      the projections (Tversky with :math:`\alpha = \beta = 1/2`, the smoothing halved, :math:`\gamma = 1`).
      An empty label and prediction give :math:`1 - s_{nr}/s_{dr}` (0 by default).
    - ``region="focal_tversky"``: as in SPOCKMIP's code, :math:`\alpha = 0.3` (false positives),
      :math:`\beta = 0.7` (false negatives), :math:`\gamma = 0.75` unless given (SPOCKMIP smooths with 1; pass
      ``smooth_nr=smooth_dr=1`` for its values). With :math:`\gamma < 1` the gradient grows without bound as
      TI approaches 1; at TI = 1 (perfect or empty-and-empty projections) value and gradient are 0.

    SPOCKMIP adds this to a region loss on the volume (``DiceLoss(...)(x, y) + MIPLoss(...)(x, y)``);
    the multi-axis variant (``axes=(-3, -2, -1)``) averages the three axes' values, so its scale matches one axis.

    ``target_mips``: one tensor per axis, in ``axes`` order (a lone tensor is accepted for one axis). Each is
    (B, C, H, W, D) with C the channels of ``input`` (the projection of the *one-hot* label, also with
    ``to_onehot_y``), either of size 1 along its axis or of full size and constant along it (the broadcast
    layout of :class:`seglosses.transforms.MIPTargetd` after cropping and collation); a max along the axis
    reads it, which also absorbs zero padding. Values along the axis other than the projection and 0 raise
    (a rotation across the axis, a resampling); a binary projection rotated across its axis cannot be told
    from padding and is not detected. ``include_background=False`` drops its channel 0 as for ``input``.

    Args:
        input: (B, C, H, W, D) logits (or probabilities with no activation set); 3D only.
        target: (B, 1, H, W, D) class indices with ``to_onehot_y``, otherwise (B, C, H, W, D) one-hot or soft labels.
        target_mips: the label's projections as above, or None to project ``target`` (the patch).
        axes: spatial axes to project along: 0, 1, 2 or -3, -2, -1 (``(-1,)``: the last axis).
        region: ``"dice"`` or ``"focal_tversky"``.
        alpha, beta, gamma: Focal Tversky weights of false positives and negatives and its exponent (> 0);
            None takes SPOCKMIP's values; must be None with ``region="dice"``.
        include_background, to_onehot_y, sigmoid, softmax, other_act: as MONAI's losses.
        reduction: ``"none"`` returns (B, C) (C after ``include_background``; (1, C) with ``batch``);
            ``"mean"``/``"sum"`` reduce those values.
        smooth_nr, smooth_dr: added to numerator and denominator (>= 0).
        batch: sum over the batch before the ratio (one value per class).

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) or (1, C) for ``"none"``; float32 for half-precision input.

    Raises:
        TypeError: tensors of the wrong type, ``other_act`` not callable, bad ``axes`` type, numbers that are not.
        ValueError: ``input`` not 3D (B, C, H, W, D), wrong shapes (of ``target`` or ``target_mips``), a
            projection that varies along its axis other than by zero padding, NaN/Inf, labels outside [0, C),
            bad ``axes`` (empty, out of range, repeated), unknown ``region`` or ``reduction``, more than one
            activation, bad weights.

    Example:
        >>> logits = torch.randn(2, 1, 16, 16, 8)
        >>> labels = (torch.rand(2, 1, 16, 16, 8) > 0.9).float()
        >>> mip_loss(logits, labels, sigmoid=True, axes=(-3, -2, -1), reduction="none").shape
        torch.Size([2, 1])
    """
    settings = _mip_settings(given(locals()))
    smooth_nr, smooth_dr = settings["smooth_nr"], settings["smooth_dr"]
    axes = validate_axes(axes)  # as spatial indices 0, 1, 2 (the settings keep them as given)
    alpha, beta, gamma = _validate_region(region, alpha, beta, gamma)  # the region's values of unset parameters
    if region == "dice":
        smooth_nr, smooth_dr = smooth_nr / 2, smooth_dr / 2
    if target_mips is not None:
        if isinstance(target_mips, torch.Tensor):
            target_mips = (target_mips,)
        if not isinstance(target_mips, Sequence):
            raise TypeError(
                "Expected `target_mips` to be a tensor or a sequence of tensors (one per axis), "
                f"but got {type(target_mips).__name__}."
            )
        if len(target_mips) != len(axes):
            raise ValueError(
                f"Expected `target_mips` to hold one tensor per axis of `axes` ({len(axes)}), "
                f"but got {len(target_mips)}."
            )
    probs, onehot = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=(3,),
    )
    n_classes = input.shape[1]
    drop_background = probs.shape[1] < n_classes
    values = []
    for index, axis in enumerate(axes):
        dim = axis + 2
        if target_mips is None:
            label_mip = onehot.amax(dim, keepdim=True)
        else:
            label_mip = _target_projection(target_mips[index], index, axis, probs, n_classes)
            if drop_background:
                label_mip = label_mip[:, 1:]
        values.append(
            _tversky_values(
                probs.amax(dim, keepdim=True), label_mip, alpha=alpha, beta=beta, gamma=gamma,
                smooth_nr=smooth_nr, smooth_dr=smooth_dr, batch=batch,
            )
        )
    return reduce(torch.stack(values).mean(0), reduction)


class MIPLoss(SettingsModule):
    """Module form of :func:`mip_loss`: stores the settings (checked here) and calls the function.

    ``forward(input, target, target_mips=None)``: ``target_mips`` are the label's projections, one per axis
    (from :class:`seglosses.transforms.MIPTargetd`); without them the patch's label is projected.

    Example:
        >>> loss = MIPLoss(axes=(-3, -2, -1), region="focal_tversky", softmax=True, to_onehot_y=True)
        >>> loss(torch.randn(2, 2, 16, 16, 8), torch.randint(0, 2, (2, 1, 16, 16, 8))).shape
        torch.Size([])
    """

    def __init__(
        self,
        axes: int | Sequence[int] = (-1,),
        region: str = "dice",
        alpha: float | None = None,
        beta: float | None = None,
        gamma: float | None = None,
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
        self._keep(_mip_settings(given(locals())))

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        target_mips: torch.Tensor | Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``input`` (B, C, H, W, D) logits, ``target`` (B, 1 or C, H, W, D), ``target_mips`` one tensor per
        axis; see :func:`mip_loss`."""
        return mip_loss(input, target, target_mips, **self._arguments())
