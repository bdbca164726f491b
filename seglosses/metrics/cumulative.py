"""MONAI ``CumulativeIterationMetric`` classes for the topology metrics, used like ``monai.metrics.DiceMetric``.

Call the metric on each batch, ``metric(y_pred, y)`` with binarised one-hot ``(B, C, *spatial)`` tensors (e.g.
after ``AsDiscrete(argmax=True, to_onehot=C)``), then ``metric.aggregate()`` reduces everything seen so far with
MONAI's ``do_metric_reduction`` and ``metric.reset()`` starts again. The buffers are MONAI's, so under DDP
``aggregate`` sees every rank's cases (MONAI gathers them). Dice and HD95: use MONAI's ``DiceMetric`` and
``HausdorffDistanceMetric(percentile=95)`` directly (re-exported from :mod:`seglosses.metrics`).

Per-case values are (B, C) for clDice and (B, C, K) for the per-dimension errors (K homology dimensions), or
(B, C) with ``per_dimension=False`` (the dimensions summed: ``aggregate().item()`` then works as with MONAI's
metrics); the reduction averages over the cases (``"mean_batch"`` keeps classes and dimensions apart). MONAI's
``ignore_empty`` (NaN for an empty ground truth, skipped) and ``num_classes`` (class-index maps as input) are
taken as ``DiceMetric`` takes them. The Betti error and Betti matching metrics hand a whole batch to the engine
at once (threaded, ``num_threads``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.metrics.utils import do_metric_reduction
from monai.utils import MetricReduction

from seglosses._arrays import to_numpy
from seglosses._validation import CONSTRUCTIONS, DEFAULT_CONSTRUCTION, check_choice
from seglosses.metrics.functional import (
    betti_matching_error,
    betti_number_errors,
    betti_numbers_of,
    cldice,
    local_betti_errors,
    local_betti_errors_of,
    validate_tile_size,
)
from seglosses.topology import betti_matching

__all__ = ["BettiErrorMetric", "BettiMatchingErrorMetric", "ClDiceMetric", "LocalBettiErrorMetric"]


class _PerCaseMetric(CumulativeIterationMetric):
    """Applies a per-(sample, class) function of two binary masks and aggregates like MONAI's DiceMetric.

    Args (MONAI's, as ``monai.metrics.DiceMetric`` has them):
        include_background: score channel 0 too.
        reduction: MONAI's reduction of the buffered values in ``aggregate`` (``"mean"``, ``"mean_batch"``, ...).
        get_not_nans: ``aggregate`` also returns how many values were not NaN.
        ignore_empty: a case whose ground-truth channel is empty gives NaN, which the reduction skips (and
            ``get_not_nans`` counts out), as MONAI's ``DiceMetric`` does by default.
        num_classes: with it, ``y_pred`` and ``y`` may be (B, 1, *spatial) class-index maps, one-hot encoded
            here to ``num_classes`` channels (as MONAI's ``DiceMetric(num_classes=...)``).
    """

    _default_ignore_empty = True

    def __init__(
        self,
        include_background: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        ignore_empty: bool | None = None,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.ignore_empty = self._default_ignore_empty if ignore_empty is None else bool(ignore_empty)
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or num_classes < 1):
            raise ValueError(f"Expected `num_classes` to be a positive integer or None, but got {num_classes!r}.")
        self.num_classes = num_classes

    def _case(self, prediction: np.ndarray, target: np.ndarray):  # pragma: no cover - overridden
        raise NotImplementedError

    def _cases(self, predictions: list[np.ndarray], targets: list[np.ndarray]) -> list:
        """Every (sample, class) pair of a batch; one engine call per pair unless a metric batches them."""
        return [self._case(p, g) for p, g in zip(predictions, targets)]

    def __call__(self, y_pred, y=None, **kwargs):
        """``y_pred`` and ``y``: binarised one-hot (B, C, *spatial) tensors, or lists of channel-first (C, *spatial)
        tensors as MONAI takes them; with ``num_classes``, (B, 1, *spatial) class indices too. Anything else (numpy
        arrays included) raises ``TypeError`` before MONAI sees it."""
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

    def _one_hot(self, labels: torch.Tensor, name: str) -> torch.Tensor:
        if labels.shape[1] != 1 or self.num_classes is None or self.num_classes == 1:
            return labels
        if labels.is_floating_point() and not torch.equal(labels, labels.round()):
            raise ValueError(f"Expected `{name}` to hold integer class indices (num_classes given), but got fractions.")
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"Expected `{name}` class indices in [0, {self.num_classes}), but got values in "
                             f"[{labels.min().item():g}, {labels.max().item():g}].")
        out = torch.zeros((labels.shape[0], self.num_classes, *labels.shape[2:]), dtype=torch.bool, device=labels.device)
        return out.scatter_(1, labels.long(), True)

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y_pred, y = self._one_hot(y_pred, "y_pred"), self._one_hot(y, "y")
        if y_pred.shape != y.shape or y_pred.dim() not in (4, 5):
            raise ValueError(
                "Expected `y_pred` and `y` to be binarised one-hot (B, C, *spatial) tensors of one shape with 2 or 3 "
                f"spatial dimensions, but got {tuple(y_pred.shape)} and {tuple(y.shape)}."
            )
        first = 0 if self.include_background else 1
        p, g = to_numpy(y_pred), to_numpy(y)
        pairs = [(b, c) for b in range(p.shape[0]) for c in range(first, p.shape[1])]
        results = self._cases([p[b, c] for b, c in pairs], [g[b, c] for b, c in pairs])
        values = np.asarray(results, dtype=np.float32).reshape(p.shape[0], p.shape[1] - first, -1)
        if self.ignore_empty:
            empty = np.array([not g[b, c].any() for b, c in pairs]).reshape(p.shape[0], p.shape[1] - first)
            values[empty] = np.nan
        values = self._shape(values)
        return torch.as_tensor(values, device=y_pred.device)

    def _shape(self, values: np.ndarray) -> np.ndarray:
        """(B, C, 1) per-case values of a scalar metric as (B, C)."""
        return values[..., 0]

    def aggregate(self, reduction: MetricReduction | str | None = None):
        """Reduce the buffered per-case values (MONAI's ``do_metric_reduction``); with ``get_not_nans`` also the
        number of values that were not NaN."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"Expected the buffered values to be a torch.Tensor, but got {type(data).__name__}.")
        value, not_nans = do_metric_reduction(data, reduction or self.reduction)
        return (value, not_nans) if self.get_not_nans else value


class _TopologyMetric(_PerCaseMetric):
    """A per-dimension topology error. ``per_dimension=False`` sums the dimensions into one value per case, so
    that ``aggregate()`` gives one number (``.item()`` as in MONAI's tutorials) instead of one per dimension.

    ``ignore_empty`` is False by default here (unlike MONAI's Dice): against an empty ground truth the errors
    are still defined, the features the prediction has and should not, and they are what a reader wants to see.
    """

    _default_ignore_empty = False

    def __init__(
        self,
        include_background: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        construction: str = DEFAULT_CONSTRUCTION,
        *,
        ignore_empty: bool | None = None,
        num_classes: int | None = None,
        per_dimension: bool = True,
    ) -> None:
        super().__init__(include_background, reduction, get_not_nans, ignore_empty, num_classes)
        self.construction = check_choice("construction", construction, CONSTRUCTIONS)
        self.per_dimension = bool(per_dimension)

    def _shape(self, values: np.ndarray) -> np.ndarray:
        return values if self.per_dimension else values.sum(-1)


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

    def __init__(self, *args, num_threads: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_threads = num_threads

    def _case(self, prediction, target):
        return betti_number_errors(prediction, target, construction=self.construction)

    def _cases(self, predictions, targets):
        """Every mask of the batch in one engine call, spread over ``num_threads`` (default: all cores)."""
        betti = betti_numbers_of([*predictions, *targets], self.construction, self.num_threads)
        n = len(predictions)
        return [np.abs(betti[n + i] - betti[i]) for i in range(n)]


class BettiMatchingErrorMetric(_TopologyMetric):
    """Unmatched bars of the Betti matching per case, class and homology dimension (``betti_matching_error``)."""

    def __init__(self, *args, num_threads: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_threads = num_threads

    def _case(self, prediction, target):
        return betti_matching_error(prediction, target, construction=self.construction)

    def _cases(self, predictions, targets):
        """The whole batch in one engine call, spread over ``num_threads`` (default: all cores)."""
        matchings = betti_matching(
            [p.astype(np.float64) for p in predictions], [g.astype(np.float64) for g in targets],
            construction=self.construction, num_threads=self.num_threads,
        )
        out = []
        for m, p, g in zip(matchings, predictions, targets):
            unmatched = m.num_unmatched_prediction + m.num_unmatched_target
            if p.any() != g.any():  # as betti_matching_error: an empty side has no essential component to match
                unmatched[0] += 1
            out.append(unmatched)
        return out


class LocalBettiErrorMetric(_TopologyMetric):
    """Betti-number errors averaged over non-overlapping tiles (``local_betti_errors``), per dimension."""

    def __init__(
        self,
        tile_size: int | Sequence[int] = 128,
        include_background: bool = True,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
        construction: str = DEFAULT_CONSTRUCTION,
        **kwargs,
    ) -> None:
        self.num_threads = kwargs.pop("num_threads", None)
        super().__init__(include_background, reduction, get_not_nans, construction, **kwargs)
        validate_tile_size(tile_size)
        self.tile_size = tile_size

    def _case(self, prediction, target):
        return local_betti_errors(prediction, target, tile_size=self.tile_size, construction=self.construction)

    def _cases(self, predictions, targets):
        """Every tile of every case of the batch in one engine call."""
        sizes = validate_tile_size(self.tile_size, predictions[0].ndim) if predictions else ()
        return local_betti_errors_of(list(zip(predictions, targets)), sizes, self.construction, self.num_threads)


class ClDiceMetric(_PerCaseMetric):
    """clDice per case and class on the package's binary skeleton (``cldice``). An empty ground truth gives NaN
    (skipped by ``aggregate``) with ``ignore_empty=True``, the default as in MONAI's ``DiceMetric``; with
    False, ``cldice``'s values (1.0 when both masks are empty, 0.0 when one is)."""

    def _case(self, prediction, target):
        return cldice(prediction, target)
