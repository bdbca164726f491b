"""Tubed skeletons of labels for the Skeleton Recall loss (Kirchhoff et al., ECCV 2024).

The tube of a class is its binary skeleton (``skimage.morphology.skeletonize``: Zhang's thinning in 2D,
Lee's in 3D) dilated ``radius`` times with the face-connected cross (4-neighbours in 2D, 6 in 3D), i.e. every
pixel within city-block distance ``radius`` of the skeleton, then intersected with the class so the tube stays
inside it (objects that scikit-image's 3D thinning deletes entirely keep their centre, see
:func:`seglosses.ops.binary_skeleton`, the skeleton the clDice metric uses too).
``radius=2`` is the paper's tube (nnU-Net's ``SkeletonTransform`` dilates twice with the same cross).

One deliberate difference: the paper's code skeletonizes the union of all foreground classes and labels the
tube with the class underneath; here each class is skeletonized on its own, so a class's tube does not
depend on its neighbours and, where two classes touch, each keeps its own centre line. For binary labels
both are the same.

This is CPU work (scikit-image), meant for the data loader, once per sample: the loss then only multiplies
and sums. Placed after the spatial augmentations (as nnU-Net does) the tube follows deformed labels exactly;
placed before a crop, the skeleton key must be listed in the crop's ``keys`` so it is cropped with the label.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, ensure_tuple, ensure_tuple_rep
from scipy import ndimage as ndi

from seglosses._arrays import check_real, to_numpy
from seglosses._validation import check_count
from seglosses.ops.skeleton import binary_skeleton

__all__ = ["SkeletonTube", "SkeletonTubed", "skeleton_tube"]


def _class_tube(mask: np.ndarray, radius: int) -> np.ndarray:
    """Boolean tube of one binary ``mask`` (1D, 2D or 3D): skeleton, ``radius`` cross dilations, kept inside
    ``mask``. A 1D mask is thinned as a one-row image: a segment, one pixel thick already, is its own skeleton."""
    if mask.ndim == 1:
        return _class_tube(mask[None], radius)[0]
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    tube = binary_skeleton(mask)
    if radius:
        tube = ndi.binary_dilation(tube, structure=ndi.generate_binary_structure(mask.ndim, 1), iterations=radius)
    return tube & mask


def skeleton_tube(label: np.ndarray, *, radius: int = 2, include_background: bool = False) -> np.ndarray:
    """Tubed skeleton of a channel-first label, in the label's own layout and dtype.

    Two layouts, told apart by the number of channels:

    - (1, *spatial) class indices (binary masks included): each class k > 0 present is skeletonized on its own;
      the output holds k on the tube of class k and 0 elsewhere (class 0, the background, never has a tube).
    - (C, *spatial) with C > 1, one-hot or soft labels: channel k's foreground is ``label[k] > 0.5``; output
      channel k is 1 on its tube and 0 elsewhere. Channel 0 is taken as the background and left empty unless
      ``include_background`` (for multi-label targets whose channel 0 is a structure).

    Args:
        label: numpy array (1 or C, *spatial), 1D, 2D or 3D spatial (in 1D a segment is its own skeleton).
        radius: number of dilations of the skeleton by the face-connected cross; 2 gives the paper's tube,
            0 the bare skeleton.
        include_background: also skeletonize channel 0 of a multi-channel label (ignored for class indices).

    Returns:
        Array of ``label``'s shape and dtype.

    Raises:
        TypeError: ``label`` is not a numpy array.
        ValueError: ``label`` is not (C, N), (C, H, W) or (C, H, W, D); class indices that are negative or not
            integers; NaN/Inf; ``radius`` not a non-negative integer.

    Example:
        >>> label = np.zeros((1, 7, 12), dtype=np.uint8)
        >>> label[0, 2:5, 1:11] = 2  # a bar of class 2, 3 pixels thick
        >>> skeleton_tube(label, radius=0)[0, 3]  # the bare skeleton runs along the bar's middle row
        array([0, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0], dtype=uint8)
    """
    if not isinstance(label, np.ndarray):
        raise TypeError(f"Expected `label` to be a numpy array, but got {type(label).__name__}.")
    check_real(label, "label")
    radius = check_count("radius", radius)
    if label.ndim not in (2, 3, 4):
        raise ValueError(
            "Expected `label` to be channel-first 1D (C, N), 2D (C, H, W) or 3D (C, H, W, D), "
            f"but got shape {label.shape}."
        )
    if label.dtype.kind == "f" and not np.isfinite(label).all():
        raise ValueError("Expected `label` to contain only finite values, but got NaN or Inf.")
    out = np.zeros_like(label)
    if label.shape[0] == 1:
        if label.dtype.kind == "b":
            label = label.view(np.uint8)
        if label.dtype.kind == "f" and not np.array_equal(label, np.round(label)):
            raise ValueError("Expected a one-channel `label` to hold integer class indices, but got fractional values.")
        if label.size and label.min() < 0:
            raise ValueError(f"Expected class indices >= 0 in a one-channel `label`, but got {label.min()}.")
        for k in np.unique(label):
            if k == 0:
                continue
            mask = label[0] == k
            out[0][_class_tube(mask, radius)] = k
        return out
    for c in range(0 if include_background else 1, label.shape[0]):
        out[c][_class_tube(label[c] > 0.5, radius)] = 1
    return out


class SkeletonTube(Transform):
    """Array transform: the tubed skeleton of a channel-first label, see :func:`skeleton_tube`.

    Input (1, *spatial) class indices or (C, *spatial) one-hot, numpy or torch (MetaTensor); output of the same
    shape, layout (class indices on the tube / one 0-1 channel per class), dtype and type, with the input's
    meta data when it is a MetaTensor. The work is done on the CPU in numpy.

    Args:
        radius: dilations of the skeleton by the face-connected cross (2: the paper's tube).
        include_background: also skeletonize channel 0 of a multi-channel label.

    Raises:
        ValueError: as :func:`skeleton_tube`.

    Example:
        >>> import torch
        >>> label = torch.zeros(1, 16, 16, 8)
        >>> label[0, 4:12, 6:10, 2:6] = 1
        >>> SkeletonTube()(label).shape
        torch.Size([1, 16, 16, 8])
    """

    # scikit-image works on numpy: torch input is converted (and the result converted back).
    backend = [TransformBackends.NUMPY]

    def __init__(self, radius: int = 2, include_background: bool = False) -> None:
        self.radius = check_count("radius", radius)
        self.include_background = bool(include_background)

    def __call__(self, label: NdarrayOrTensor) -> NdarrayOrTensor:
        """``label`` (1 or C, *spatial) → its tube, same shape, layout, dtype and type."""
        tube = skeleton_tube(to_numpy(label, "label"), radius=self.radius, include_background=self.include_background)
        return convert_to_dst_type(tube, dst=label)[0]


class SkeletonTubed(MapTransform):
    """Dictionary form of :class:`SkeletonTube`: the tube of ``d[key]`` is stored under a new key.

    Args:
        keys: label keys to skeletonize.
        skeleton_keys: output key per label key (one name, or one per key); default ``"skeleton"``.
        radius, include_background: as :class:`SkeletonTube`.
        allow_missing_keys: skip absent label keys instead of raising ``KeyError``.

    Raises:
        ValueError: ``skeleton_keys`` does not give one name per key; as :class:`SkeletonTube`.

    Example:
        >>> import numpy as np
        >>> data = {"label": np.pad(np.ones((1, 6, 20), np.uint8), ((0, 0), (5, 5), (2, 2)))}
        >>> SkeletonTubed(keys="label")(data)["skeleton"].shape
        (1, 16, 24)
    """

    backend = SkeletonTube.backend

    def __init__(
        self,
        keys: KeysCollection,
        skeleton_keys: KeysCollection = "skeleton",
        radius: int = 2,
        include_background: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        names = ensure_tuple(skeleton_keys)
        if len(names) == 1:
            names = ensure_tuple_rep(names[0], len(self.keys))
        if len(names) != len(self.keys) or len(set(names)) != len(names):
            raise ValueError(
                f"Expected `skeleton_keys` to give one distinct name per key ({len(self.keys)}), but got {names!r}."
            )
        self.skeleton_keys = names
        self.tube = SkeletonTube(radius=radius, include_background=include_background)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """Add the tube of every label key under its skeleton key."""
        d = dict(data)
        for key, skeleton_key in self.key_iterator(d, self.skeleton_keys):
            d[skeleton_key] = self.tube(d[key])
        return d
