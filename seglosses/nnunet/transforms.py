"""Skeleton Recall's tubes in nnU-Net's data loader: a batchgeneratorsv2 transform around :func:`skeleton_tube`.

nnU-Net's loader passes only ``image`` and ``segmentation`` through its transforms and into the batch, so the
tube travels as extra channels of ``segmentation``: after the transform a sample's segmentation is
``(L + L, *spatial)``, the L label channels (1 channel of class indices, or R region masks) followed by their
tubes in the same layout. Placed after the spatial augmentation and the region conversion and before
``DownsampleSegForDSTransform`` (where :class:`~seglosses.nnunet.nnUNetTrainerSeglosses` puts it), the tube follows
the augmented label exactly and is downsampled with it for every deep-supervision output.
:class:`~seglosses.nnunet.TopologyLoss` splits the channels again.
"""

from __future__ import annotations

import torch
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform

from seglosses.transforms.skeleton import skeleton_tube

__all__ = ["SkeletonTubeTransform"]


class SkeletonTubeTransform(BasicTransform):
    """Append the tubed skeleton of ``segmentation`` (per class, or per region) as channels of its own layout.

    Args:
        radius: dilations of the skeleton by the face-connected cross (2: the paper's tube).
        regions: ``segmentation`` holds region masks (nnU-Net's region-based training, one boolean channel per
            region, each skeletonized on its own); otherwise one channel of class indices, every class > 0 on its
            own, the tube holding the class index.
    """

    def __init__(self, radius: int = 2, regions: bool = False) -> None:
        super().__init__()
        self.radius = radius
        self.regions = regions

    def apply(self, data_dict: dict, **params) -> dict:
        segmentation = data_dict.get("segmentation")
        if segmentation is None:
            return data_dict
        if isinstance(segmentation, list):
            raise RuntimeError(
                "SkeletonTubeTransform must run before DownsampleSegForDSTransform (it got the list of "
                "deep-supervision targets)."
            )
        labels = segmentation.numpy()
        if not self.regions and labels.shape[0] != 1:
            raise ValueError(
                f"Expected one channel of class indices (nnU-Net's label layout), but got {labels.shape[0]} channels; "
                "set regions=True for region masks."
            )
        # One channel is read as class indices (a single region's mask is classes 0/1); several as one mask each.
        tube = skeleton_tube(labels, radius=self.radius, include_background=self.regions)
        data_dict["segmentation"] = torch.cat((segmentation, torch.from_numpy(tube).to(segmentation.dtype)))
        return data_dict

    def __repr__(self) -> str:
        return f"{type(self).__name__}(radius={self.radius}, regions={self.regions})"
