"""MONAI ``CumulativeIterationMetric`` classes for the topology metrics, used like ``monai.metrics.DiceMetric``.

Call the metric on each batch, ``metric(y_pred, y)`` with binarised one-hot ``(B, C, *spatial)`` tensors (e.g.
after ``AsDiscrete(argmax=True, to_onehot=C)``), then ``metric.aggregate()`` reduces everything seen so far with
MONAI's ``do_metric_reduction`` and ``metric.reset()`` starts again. The buffers are MONAI's, so under DDP
``aggregate`` sees every rank's cases (MONAI gathers them). Dice and HD95: use MONAI's ``DiceMetric`` and
``HausdorffDistanceMetric(percentile=95)`` directly (re-exported from :mod:`seglosses.metrics`).

Per-case values are (B, C) for clDice and (B, C, K) for the per-dimension errors (K homology dimensions); the
reduction averages over the cases (``"mean_batch"`` keeps classes and dimensions apart).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.metrics.utils import do_metric_reduction
from monai.utils import MetricReduction

from seglosses._arrays import to_numpy
from seglosses.metrics.functional import (
    betti_matching_error,
    betti_number_errors,
    cldice,
    local_betti_errors,
    validate_tile_size,
)
from seglosses.topology._validation import CONSTRUCTIONS, DEFAULT_CONSTRUCTION, check_choice

__all__ = ["BettiErrorMetric", "BettiMatchingErrorMetric", "ClDiceMetric", "LocalBettiErrorMetric"]


class _PerCaseMetric(CumulativeIterationMetric):
    """Applies a per-(sample, class) function of two binary masks and aggregates like MONAI's DiceMetric."""

    def __init__(
        self,
        include_background: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__()
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans

    def _case(self, prediction: np.ndarray, target: np.ndarray):  # pragma: no cover - overridden
        raise NotImplementedError

    def __call__(self, y_pred, y=None, **kwargs):  # type: ignore[override]
        """``y_pred`` and ``y``: binarised one-hot (B, C, *spatial) tensors, or lists of channel-first (C, *spatial)
        tensors as MONAI takes them. Anything else (numpy arrays included) raises ``TypeError`` before MONAI sees it."""
        for name, value in (("y_pred", y_pred), ("y", y)):
            items = value if isinstance(value, (list, tuple)) else [value]
            if not items or not all(isinstance(item, torch.Tensor) for item in items):
                given = type(value).__name__ if items is not value else f"{type(value).__name__} of " + (
                    ", ".join(sorted({type(item).__name__ for item in items})) or "nothing"
                )
                raise TypeError(
                    f"Expected `{name}` to be a torch tensor (B, C, *spatial) or a list of (C, *spatial) tensors, "
                    f"but got {given}."
                )
            ranks = (4, 5) if items is not value else (3, 4)
            if any(item.dim() not in ranks or item.numel() == 0 for item in items):
                shapes = ", ".join(str(tuple(item.shape)) for item in items[:3])
                raise ValueError(
                    f"Expected `{name}` to be non-empty binarised one-hot (B, C, *spatial) tensors, or lists of "
                    f"(C, *spatial) ones, with 2 or 3 spatial dimensions, but got shape {shapes}."
                )
        return super().__call__(y_pred, y, **kwargs)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if y_pred.shape != y.shape or y_pred.dim() not in (4, 5):
            raise ValueError(
                "Expected `y_pred` and `y` to be binarised one-hot (B, C, *spatial) tensors of one shape with 2 or 3 "
                f"spatial dimensions, but got {tuple(y_pred.shape)} and {tuple(y.shape)}."
            )
        first = 0 if self.include_background else 1
        p, g = to_numpy(y_pred), to_numpy(y)
        values = [[self._case(p[b, c], g[b, c]) for c in range(first, p.shape[1])] for b in range(p.shape[0])]
        return torch.as_tensor(np.asarray(values, dtype=np.float32), device=y_pred.device)

    def aggregate(self, reduction: MetricReduction | str | None = None):
        """Reduce the buffered per-case values (MONAI's ``do_metric_reduction``); with ``get_not_nans`` also the
        number of values that were not NaN."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"Expected the buffered values to be a torch.Tensor, but got {type(data).__name__}.")
        value, not_nans = do_metric_reduction(data, reduction or self.reduction)
        return (value, not_nans) if self.get_not_nans else value


class _TopologyMetric(_PerCaseMetric):
    def __init__(
        self,
        include_background: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        construction: str = DEFAULT_CONSTRUCTION,
    ) -> None:
        super().__init__(include_background, reduction, get_not_nans)
        self.construction = check_choice("construction", construction, CONSTRUCTIONS)


class BettiErrorMetric(_TopologyMetric):
    """|b_k(y) - b_k(y_pred)| per case, class and homology dimension (see ``betti_number_errors``).

    Example:
        >>> y = torch.zeros(2, 1, 8, 8); y[:, :, 2:6, 2:6] = 1
        >>> metric = BettiErrorMetric()
        >>> metric(y, y).shape
        torch.Size([2, 1, 2])
        >>> metric.aggregate()
        tensor([0., 0.])
    """

    def _case(self, prediction, target):
        return betti_number_errors(prediction, target, construction=self.construction)


class BettiMatchingErrorMetric(_TopologyMetric):
    """Unmatched bars of the Betti matching per case, class and homology dimension (``betti_matching_error``)."""

    def _case(self, prediction, target):
        return betti_matching_error(prediction, target, construction=self.construction)


class LocalBettiErrorMetric(_TopologyMetric):
    """Betti-number errors averaged over non-overlapping tiles (``local_betti_errors``), per dimension."""

    def __init__(
        self,
        tile_size: int | Sequence[int] = 128,
        include_background: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        construction: str = DEFAULT_CONSTRUCTION,
    ) -> None:
        super().__init__(include_background, reduction, get_not_nans, construction)
        validate_tile_size(tile_size)
        self.tile_size = tile_size

    def _case(self, prediction, target):
        return local_betti_errors(prediction, target, tile_size=self.tile_size, construction=self.construction)


class ClDiceMetric(_PerCaseMetric):
    """clDice per case and class with scikit-image skeletons (``cldice``; 1.0 when both masks are empty)."""

    def _case(self, prediction, target):
        return cldice(prediction, target)
