"""Ops the losses, metrics and transforms are built on: the soft skeleton (differentiable, memory-lean) and the
binary skeleton (one for the clDice metric, Skeleton Recall's tubes and the sampling weights)."""

from seglosses.ops.skeleton import binary_skeleton
from seglosses.ops.soft import skeleton_overlaps, soft_skeleton

__all__ = ["binary_skeleton", "skeleton_overlaps", "soft_skeleton"]
