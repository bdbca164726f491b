"""The loss of the seglosses nnU-Net trainers: nnU-Net's own Dice+CE plus weighted seglosses terms, over nnU-Net's
deep-supervision outputs.

With deep supervision nnU-Net computes its loss on every output i (full resolution first) against the label
downsampled to it and sums them with weights :math:`w_i` (:math:`2^{-i}`, the coarsest 0, normalised to sum to
1). The terms here are weighted the same way:

.. math:: \\mathcal{L} = \\sum_i w_i \\Big(\\lambda_0\\,\\mathrm{DiceCE}_i + \\sum_t \\lambda_t\\, t_i\\Big),

where a term whose cost lies in host work (``betti_matching``, ``hutopo``, ``topograph``, ``warping``: persistence
or graph computations per map, on the CPU) is computed on the full-resolution output only (its
:math:`t_i` for i > 0 is taken as 0, so it enters with :math:`w_0 \\lambda_t`); the pixel-wise terms (clDice,
Skeleton Recall, MIP, cbDice) are computed on every output, as nnU-Net does for Dice+CE, Skeleton Recall's tube
downsampled with the label. Without deep supervision there is one output and :math:`w_0 = 1`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seglosses.losses.combined import CombinedLoss, parse_spec

__all__ = ["FULL_RESOLUTION_ONLY", "TopologyLoss"]

#: Terms computed on the full-resolution output only: each is a host computation per map (persistence, graphs).
FULL_RESOLUTION_ONLY = frozenset({"betti_matching", "hutopo", "topograph", "warping"})


class TopologyLoss(nn.Module):
    """nnU-Net's base loss and seglosses terms, over the outputs of deep supervision.

    Args:
        base: nnU-Net's loss for one output (``DC_and_CE_loss``, or ``DC_and_BCE_loss`` for regions), or None.
        base_weight: its weight :math:`\\lambda_0`.
        terms: a spec of seglosses terms (``"1*cldice+0.01*betti_matching"``, see :class:`CombinedLoss`), or None.
        regions: nnU-Net's region-based layout (sigmoid outputs, one boolean target channel per region, every
            channel a structure); otherwise softmax outputs with the background first and one channel of class
            indices as target (the background's terms left out).
        ds_weights: nnU-Net's deep-supervision weights, full resolution first; ``(1.0,)`` without it.
        full_resolution_only: names of the terms computed on the full-resolution output only.
        skeleton: the targets carry Skeleton Recall's tubes as extra channels
            (:class:`~seglosses.nnunet.SkeletonTubeTransform`): the second half of their channels.
        **settings: per-term settings by name, as :class:`CombinedLoss` takes them (they override
            ``include_background``, which follows ``regions``).

    ``forward(output, target)`` takes what nnU-Net's loss takes: one logits tensor and one target, or the lists of
    deep supervision. After each call ``last_terms`` holds every seglosses term's full-resolution value, unweighted
    and detached, by name.
    """

    def __init__(
        self,
        base: nn.Module | None,
        base_weight: float,
        terms: str | None,
        *,
        regions: bool,
        ds_weights: Sequence[float] = (1.0,),
        full_resolution_only: frozenset[str] = FULL_RESOLUTION_ONLY,
        skeleton: bool = False,
        **settings: Any,
    ) -> None:
        super().__init__()
        if base is None and not terms:
            raise ValueError("Expected a base loss or seglosses terms, but got neither.")
        self.base = base
        self.base_weight = float(base_weight)
        self.regions = regions
        self.ds_weights = tuple(float(w) for w in ds_weights)
        self.full_resolution_only = frozenset(full_resolution_only)
        self.skeleton = skeleton
        self.combined: CombinedLoss | None = None
        if terms:
            # include_background follows the layout; a caller's settings override it. CombinedLoss checks the
            # settings (names outside the spec, values that are not dicts).
            per_term: dict[str, Any] = {name: {"include_background": regions} for _, name in parse_spec(terms)}
            for name, extra in settings.items():
                per_term[name] = {**per_term[name], **extra} if name in per_term and isinstance(extra, dict) else extra
            self.combined = CombinedLoss(terms, to_onehot_y=not regions, softmax=not regions, sigmoid=regions, **per_term)
        if skeleton and (self.combined is None or "skeleton_recall" not in self.combined.weights):
            raise ValueError("Expected skeleton_recall among the terms when the targets carry skeleton channels.")
        self.last_terms: dict[str, torch.Tensor] = {}

    def split(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(labels, tube)`` of one target: the tube is the second half of the channels when ``skeleton``."""
        if not self.skeleton:
            return target, None
        if target.shape[1] % 2:
            raise ValueError(
                f"Expected the target's channels to be labels followed by their tubes (an even count), but got "
                f"{target.shape[1]}: is SkeletonTubeTransform in the data pipeline?"
            )
        half = target.shape[1] // 2
        return target[:, :half], target[:, half:]

    def forward(
        self, output: torch.Tensor | Sequence[torch.Tensor], target: torch.Tensor | Sequence[torch.Tensor]
    ) -> torch.Tensor:
        outputs: list[torch.Tensor] = list(output) if isinstance(output, (list, tuple)) else [output]  # type: ignore[list-item]
        targets: list[torch.Tensor] = list(target) if isinstance(target, (list, tuple)) else [target]  # type: ignore[list-item]
        if len(outputs) != len(targets) or len(outputs) > len(self.ds_weights):
            raise ValueError(
                f"Expected as many targets as outputs, at most {len(self.ds_weights)} (the deep-supervision weights), "
                f"but got {len(outputs)} outputs and {len(targets)} targets."
            )
        total: torch.Tensor | None = None
        self.last_terms = {}
        for scale, (weight, out, tgt) in enumerate(zip(self.ds_weights, outputs, targets)):
            if weight == 0.0:
                continue
            labels, tube = self.split(tgt)
            parts: list[torch.Tensor] = []
            if self.base is not None and self.base_weight:
                parts.append(self.base_weight * self.base(out, labels))
            if self.combined is not None:
                term_labels = labels.float() if labels.dtype == torch.bool else labels
                term_tube = tube.float() if tube is not None and tube.dtype == torch.bool else tube
                for name, loss in self.combined.losses.items():
                    if scale > 0 and name in self.full_resolution_only:
                        continue
                    value = loss(out, term_labels, term_tube) if name == "skeleton_recall" else loss(out, term_labels)
                    if scale == 0:
                        self.last_terms[name] = value.detach()
                    parts.append(self.combined.weights[name] * value)
            scaled = weight * sum(parts[1:], parts[0])
            total = scaled if total is None else total + scaled
        if total is None:
            raise ValueError("Expected a non-zero deep-supervision weight for some output, but all were 0.")
        return total

    def extra_repr(self) -> str:
        spec = self.combined.spec if self.combined is not None else None
        return (f"base_weight={self.base_weight:g}, terms={spec!r}, regions={self.regions}, "
                f"ds_weights={tuple(round(w, 4) for w in self.ds_weights)}, skeleton={self.skeleton}")
