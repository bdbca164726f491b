"""Segmentation and topology metrics: pure functions on binary masks and MONAI cumulative metric classes.

Dice and HD95 are MONAI's (``DiceMetric``, ``HausdorffDistanceMetric``), re-exported here for convenience.
"""

from monai.metrics import DiceMetric, HausdorffDistanceMetric

from seglosses.metrics.cumulative import BettiErrorMetric, BettiMatchingErrorMetric, ClDiceMetric, LocalBettiErrorMetric
from seglosses.metrics.functional import (
    METRIC_NAMES,
    betti_matching_error,
    betti_number_errors,
    cldice,
    dice,
    evaluate_case,
    hd95,
    local_betti_errors,
    topology_precision,
    topology_sensitivity,
)

__all__ = [
    "METRIC_NAMES",
    "BettiErrorMetric",
    "BettiMatchingErrorMetric",
    "ClDiceMetric",
    "DiceMetric",
    "HausdorffDistanceMetric",
    "LocalBettiErrorMetric",
    "betti_matching_error",
    "betti_number_errors",
    "cldice",
    "dice",
    "evaluate_case",
    "hd95",
    "local_betti_errors",
    "topology_precision",
    "topology_sensitivity",
]
