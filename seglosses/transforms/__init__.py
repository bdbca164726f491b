"""MONAI transforms computed once per sample in the data loader: array transforms and their ``...d`` forms.

- :class:`SkeletonTube` / :class:`SkeletonTubed`: the tubed skeleton of a label, for the Skeleton Recall loss.
- :class:`MIPTarget` / :class:`MIPTargetd`: whole-volume maximum intensity projections of a label that stay
  aligned with random crops and flips, for the MIP loss.
"""

from seglosses.transforms.mip import MIPTarget, MIPTargetd
from seglosses.transforms.skeleton import SkeletonTube, SkeletonTubed, skeleton_tube

__all__: list[str] = ["MIPTarget", "MIPTargetd", "SkeletonTube", "SkeletonTubed", "skeleton_tube"]
