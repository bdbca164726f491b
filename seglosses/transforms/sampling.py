"""Topology-aware patch sampling: weights that draw patch centres on a label's skeleton, its junctions and ends.

Random patches of thin structures mostly show background, and ``RandCropByPosNegLabeld`` draws foreground
centres in proportion to volume, so thick parts dominate and the few voxels where branches meet or end (where
topological errors happen) are rarely at the centre. :class:`SkeletonSamplingWeights` turns a label into a
sampling weight map: ``skeleton_weight`` on skeleton voxels, ``junction_weight`` where three or more skeleton
branches meet, ``endpoint_weight`` where a branch ends, ``background_weight`` everywhere else (so every patch
position stays possible). MONAI's own ``RandWeightedCrop(d)`` then draws the centres from it; nothing about
cropping is rewritten here, so the crop keeps MONAI's meta data, inverse and alignment of all keys::

    Compose([
        SkeletonSamplingWeightsd(keys="label", weight_key="weight"),
        SkeletonTubed(keys="label", skeleton_keys="tube"),          # before the crop, cropped with it
        RandWeightedCropd(keys=["image", "label", "tube"], w_key="weight", spatial_size=(96, 96, 96), num_samples=4),
    ])
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type
from scipy import ndimage as ndi

from seglosses._arrays import check_real, to_numpy
from seglosses._validation import check_number
from seglosses.ops.skeleton import binary_skeleton

__all__ = ["SkeletonSamplingWeights", "SkeletonSamplingWeightsd", "skeleton_sampling_weights"]


def skeleton_sampling_weights(
    label: np.ndarray,
    *,
    skeleton_weight: float = 1.0,
    junction_weight: float = 10.0,
    endpoint_weight: float = 10.0,
    background_weight: float = 1e-3,
) -> np.ndarray:
    """Sampling weights (float32, the label's spatial shape) from a (1, *spatial) or (*spatial) label.

    The foreground (label > 0, all classes together) is skeletonized with scikit-image (2D/3D); a skeleton
    voxel's neighbours on the skeleton (8/26-neighbourhood) make it an end (one neighbour, or none: an isolated
    dot) or a junction (three or more; with diagonal neighbours this also marks the skeleton voxels right next to
    a branch point, a small cluster, which is what a patch centre needs). An empty label gives
    ``background_weight`` everywhere (uniform sampling).

    Example:
        >>> label = np.zeros((1, 9, 9), int); label[0, 4, 1:8] = 1; label[0, 1:4, 4] = 1   # a T
        >>> w = skeleton_sampling_weights(label)
        >>> float(w[4, 4]), float(w[4, 1]), float(w[4, 6]), float(w[0, 0])  # junction, end, branch, background
        (10.0, 10.0, 1.0, 0.0010000000474974513)
    """
    label = check_real(to_numpy(label, "label"), "label")
    if label.dtype.kind == "f" and not np.isfinite(label).all():
        raise ValueError("Expected `label` to contain only finite values, but got NaN or Inf.")
    if label.ndim in (3, 4) and label.shape[0] == 1:
        label = label[0]
    if label.ndim not in (2, 3):
        raise ValueError(f"Expected `label` to be (1, *spatial) or (*spatial) in 2D or 3D, but got {label.shape}.")
    weights = np.full(label.shape, background_weight, dtype=np.float32)
    foreground = label > 0
    if not foreground.any():
        return weights
    skeleton = binary_skeleton(foreground)
    neighbours = ndi.convolve(skeleton.astype(np.uint8), np.ones((3,) * label.ndim, np.uint8), mode="constant") - 1
    weights[skeleton] = skeleton_weight
    weights[skeleton & (neighbours <= 1)] = endpoint_weight
    weights[skeleton & (neighbours >= 3)] = junction_weight
    return weights


class SkeletonSamplingWeights(Transform):
    """Array transform: (1, *spatial) label -> (1, *spatial) sampling weights for ``RandWeightedCrop``.

    See :func:`skeleton_sampling_weights`. All weights >= 0, ``background_weight`` > 0 so no position is
    excluded.
    """

    backend = [TransformBackends.NUMPY]

    def __init__(
        self,
        skeleton_weight: float = 1.0,
        junction_weight: float = 10.0,
        endpoint_weight: float = 10.0,
        background_weight: float = 1e-3,
    ) -> None:
        self.weights = dict(
            skeleton_weight=check_number("skeleton_weight", skeleton_weight),
            junction_weight=check_number("junction_weight", junction_weight),
            endpoint_weight=check_number("endpoint_weight", endpoint_weight),
            background_weight=check_number("background_weight", background_weight, allow_zero=False),
        )

    def __call__(self, label: NdarrayOrTensor) -> NdarrayOrTensor:
        array = check_real(to_numpy(label, "label"), "label")
        if array.ndim not in (3, 4) or array.shape[0] != 1:
            raise ValueError(f"Expected `label` to be (1, *spatial) in 2D or 3D, but got shape {tuple(array.shape)}.")
        weights = skeleton_sampling_weights(array, **self.weights)[None]
        return convert_to_dst_type(weights, label, dtype=np.float32)[0]


class SkeletonSamplingWeightsd(MapTransform):
    """Dictionary form: writes the weights of ``data[keys]`` to ``data[weight_key]`` (one key only)."""

    backend = SkeletonSamplingWeights.backend

    def __init__(
        self,
        keys: KeysCollection,
        weight_key: str = "weight",
        skeleton_weight: float = 1.0,
        junction_weight: float = 10.0,
        endpoint_weight: float = 10.0,
        background_weight: float = 1e-3,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if len(self.keys) != 1:
            raise ValueError(f"Expected one label key in `keys`, but got {self.keys}.")
        self.weight_key = weight_key
        self.transform = SkeletonSamplingWeights(skeleton_weight, junction_weight, endpoint_weight, background_weight)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[self.weight_key] = self.transform(d[key])
        return d
