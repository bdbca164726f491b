"""MONAI transforms computed once per sample in the data loader: array transforms and their ``...d`` forms.

- :class:`SkeletonTube` / :class:`SkeletonTubed`: the tubed skeleton of a label, for the Skeleton Recall loss.
- :class:`MIPTarget` / :class:`MIPTargetd`: whole-volume maximum intensity projections of a label that stay
  aligned with random crops and flips, for the MIP loss.
- :class:`SkeletonSamplingWeights` / :class:`SkeletonSamplingWeightsd`: patch-centre weights on a label's
  skeleton, junctions and ends, for MONAI's ``RandWeightedCropd`` (topology-aware patch sampling).
"""

from seglosses.transforms.mip import MIPTarget, MIPTargetd
from seglosses.transforms.sampling import SkeletonSamplingWeights, SkeletonSamplingWeightsd, skeleton_sampling_weights
from seglosses.transforms.skeleton import SkeletonTube, SkeletonTubed, skeleton_tube

__all__: list[str] = [
    "MIPTarget",
    "MIPTargetd",
    "SkeletonSamplingWeights",
    "SkeletonSamplingWeightsd",
    "SkeletonTube",
    "SkeletonTubed",
    "skeleton_sampling_weights",
    "skeleton_tube",
]
