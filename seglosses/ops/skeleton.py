"""The binary skeleton of the package: one function for the clDice metric, Skeleton Recall's tubes and the
skeleton sampling weights, so that metric, transform and loss agree on every object."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

__all__ = ["binary_skeleton"]


def binary_skeleton(mask: np.ndarray) -> np.ndarray:
    """scikit-image's skeleton of a boolean 2D/3D ``mask`` (Zhang's thinning in 2D, Lee's in 3D), with a centre
    kept for every object that thinning deleted.

    scikit-image's 3D thinning (Lee et al. 1994) deletes some objects entirely, for instance rods whose
    cross-section is even and symmetric (scikit-image issue #3757, open). Such an object would have no skeleton:
    no tube for Skeleton Recall, and nothing to count in clDice. It gets the pixels farthest from its boundary
    instead. An empty mask gives an empty skeleton.

    Example:
        >>> rod = np.zeros((8, 8, 12), bool); rod[3:5, 3:5, 2:10] = True   # 2x2 cross-section: thinned away
        >>> int(binary_skeleton(rod).sum()) > 0
        True
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask.copy()
    skeleton = skeletonize(mask)
    components, n = ndi.label(mask, structure=np.ones((3,) * mask.ndim, dtype=bool))
    kept = np.zeros(n + 1, dtype=bool)
    kept[components[skeleton]] = True
    for index, box in enumerate(ndi.find_objects(components), start=1):
        if kept[index]:
            continue
        inside = components[box] == index
        distance = ndi.distance_transform_edt(np.pad(inside, 1))[(slice(1, -1),) * mask.ndim]
        skeleton[box] |= inside & (distance == distance[inside].max())
    return skeleton
