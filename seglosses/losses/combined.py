"""Weighted sums of losses from a spec string: ``CombinedLoss("dice_ce+0.5*cldice")``.

The one registry of loss names and their default settings, shared by ``seglosses demo``, the training examples
and users: a spec is ``term(+term)*`` with ``term = [weight*]name``, e.g. ``"dice_ce"``,
``"dice_ce+0.5*cldice"``, ``"dice_ce+0.01*betti_matching"``.

===================  ========================================================================================
name                 loss and default settings (besides the shared ``to_onehot_y``/``softmax``/``sigmoid``)
===================  ========================================================================================
``dice``             :class:`DiceLoss`
``dice_ce``          :class:`DiceCELoss`
``cldice``           :class:`SoftclDiceLoss` (``iterations=10``)
``dice_cldice``      :class:`DiceclDiceLoss` (``iterations=10, alpha=0.5``)
``cbdice``           :class:`cbDiceLoss` (``include_background=False``; ``iterations=10``)
``skeleton_recall``  :class:`SkeletonRecallLoss` (``include_background=False``)
``betti_matching``   :class:`BettiMatchingLoss` (``include_background=False``)
``hutopo``           :class:`HuTopoLoss` (``include_background=False``)
``topograph``        :class:`TopographLoss` (``include_background=False``; 2D)
``warping``          :class:`WarpingLoss` (``include_background=False``)
``mip``              :class:`MIPLoss` (``include_background=False``; ``axes=(-1,)``)
===================  ========================================================================================

Per-term settings override the defaults by keyword: ``CombinedLoss("dice_ce+cldice", cldice={"iterations": 5})``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seglosses.losses.betti_matching import BettiMatchingLoss
from seglosses.losses.cbdice import cbDiceLoss
from seglosses.losses.cldice import DiceclDiceLoss, SoftclDiceLoss
from seglosses.losses.dice import DiceCELoss, DiceLoss
from seglosses.losses.hutopo import HuTopoLoss
from seglosses.losses.mip import MIPLoss
from seglosses.losses.skeleton_recall import SkeletonRecallLoss
from seglosses.losses.topograph import TopographLoss
from seglosses.losses.warping import WarpingLoss

__all__ = ["LOSS_NAMES", "CombinedLoss", "parse_spec"]

_REGISTRY: dict[str, tuple[type[nn.Module], dict]] = {
    "dice": (DiceLoss, {}),
    "dice_ce": (DiceCELoss, {}),
    "cldice": (SoftclDiceLoss, {"iterations": 10}),
    "dice_cldice": (DiceclDiceLoss, {"iterations": 10, "alpha": 0.5}),
    "cbdice": (cbDiceLoss, {"include_background": False}),
    "skeleton_recall": (SkeletonRecallLoss, {"include_background": False}),
    "betti_matching": (BettiMatchingLoss, {"include_background": False}),
    "hutopo": (HuTopoLoss, {"include_background": False}),
    "topograph": (TopographLoss, {"include_background": False}),
    "warping": (WarpingLoss, {"include_background": False}),
    "mip": (MIPLoss, {"include_background": False}),
}
LOSS_NAMES = tuple(_REGISTRY)


def parse_spec(spec: str) -> list[tuple[float, str]]:
    """``"dice_ce+0.5*cldice"`` -> ``[(1.0, "dice_ce"), (0.5, "cldice")]``; ``ValueError`` naming what is wrong."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"Expected a loss spec such as 'dice_ce+0.5*cldice', but got {spec!r}.")
    terms: list[tuple[float, str]] = []
    for part in spec.replace(" ", "").split("+"):
        weight_text, _, name = part.rpartition("*")
        if name not in _REGISTRY:
            raise ValueError(f"Expected loss names from {', '.join(LOSS_NAMES)}, but got {name!r} in {spec!r}.")
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise ValueError(f"Expected a number before '*', but got {weight_text!r} in {spec!r}.") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"Expected weights that are finite and >= 0, but got {weight_text} in {spec!r}.")
        if any(name == other for _, other in terms):
            raise ValueError(f"Expected each loss once, but got {name!r} twice in {spec!r}.")
        terms.append((weight, name))
    return terms


class CombinedLoss(nn.Module):
    """The weighted sum of the losses named in ``spec`` (see the module's table), one module.

    Args:
        spec: ``"dice_ce+0.5*cldice"``: terms ``[weight*]name`` joined by ``+`` (weight 1 when omitted).
        to_onehot_y, softmax, sigmoid: given to every term (default: class-index targets and softmax, the
            set-up of a multi-class or two-channel binary segmenter; ``sigmoid=True, softmax=False,
            to_onehot_y=False`` for one-channel logits).
        **settings: per-term settings by name, overriding the defaults, e.g. ``cldice={"iterations": 5}``,
            ``mip={"axes": (-3, -2, -1)}``.

    ``forward(input, target, skeleton=None, target_mips=None)``: Skeleton Recall takes ``skeleton`` (the tube from
    :class:`seglosses.transforms.SkeletonTubed`) and MIP ``target_mips`` (from ``MIPTargetd``); without them
    they compute them from ``target``. ``terms(...)`` returns every unweighted term by name, for logging.

    Example:
        >>> loss = CombinedLoss("dice_ce+0.5*cldice", cldice={"iterations": 5})
        >>> print(loss)  # doctest: +ELLIPSIS
        CombinedLoss(
          spec='dice_ce+0.5*cldice'
          (losses): ModuleDict(
            (dice_ce): DiceCELoss(...)
            (cldice): SoftclDiceLoss(..., iterations=5, ...)
          )
        )
        >>> logits, labels = torch.randn(2, 2, 32, 32), torch.randint(0, 2, (2, 1, 32, 32))
        >>> loss(logits, labels).shape
        torch.Size([])
    """

    def __init__(
        self, spec: str, *, to_onehot_y: bool = True, softmax: bool = True, sigmoid: bool = False, **settings: Any
    ) -> None:
        super().__init__()
        self.spec = spec
        self.weights = dict((name, weight) for weight, name in parse_spec(spec))
        unknown = sorted(set(settings) - set(self.weights))
        if unknown:
            raise ValueError(f"Expected settings only for the losses in {spec!r}, but got settings for {unknown}.")
        losses = {}
        for name in self.weights:
            cls, defaults = _REGISTRY[name]
            extra = settings.get(name, {})
            if not isinstance(extra, dict):
                raise TypeError(f"Expected the settings of {name!r} as a dict, but got {type(extra).__name__}.")
            losses[name] = cls(**{"to_onehot_y": to_onehot_y, "softmax": softmax, "sigmoid": sigmoid,
                                  **defaults, **extra})
        self.losses = nn.ModuleDict(losses)

    def terms(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        skeleton: torch.Tensor | None = None,
        target_mips: torch.Tensor | Sequence[torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every term's value, unweighted, by name."""
        values = {}
        for name, loss in self.losses.items():
            if name == "skeleton_recall":
                values[name] = loss(input, target, skeleton)
            elif name == "mip":
                values[name] = loss(input, target, target_mips)
            else:
                values[name] = loss(input, target)
        return values

    def forward(
        self,
        input: torch.Tensor,
        target: torch.Tensor,
        skeleton: torch.Tensor | None = None,
        target_mips: torch.Tensor | Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The weighted sum of the terms."""
        total: torch.Tensor | None = None
        for name, value in self.terms(input, target, skeleton, target_mips).items():
            weighted = value if self.weights[name] == 1.0 else self.weights[name] * value
            total = weighted if total is None else total + weighted
        assert total is not None  # a spec has at least one term
        return total

    def extra_repr(self) -> str:
        return f"spec={self.spec!r}"
