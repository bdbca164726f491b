"""Skeleton sampling weights: junctions, ends and branches in 2D and 3D; with RandWeightedCropd in a pipeline,
patch centres fall on the skeleton and every cropped key (image, label, tube, MIP) stays aligned."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import CacheDataset, DataLoader
from monai.transforms import Compose, RandFlipd, RandWeightedCropd, ToDeviced
from skimage.morphology import skeletonize

from seglosses.synthetic import vessel_tree
from seglosses.transforms import (
    MIPTargetd,
    SkeletonSamplingWeights,
    SkeletonSamplingWeightsd,
    SkeletonTubed,
    skeleton_sampling_weights,
)


def test_weights_mark_ends_junctions_and_branches_2d():
    label = np.zeros((1, 11, 11), int)
    label[0, 5, 1:10] = 1
    label[0, 1:5, 5] = 1
    w = skeleton_sampling_weights(label, skeleton_weight=2, junction_weight=7, endpoint_weight=5, background_weight=0.5)
    assert w.dtype == np.float32 and w.shape == (11, 11)
    assert w[5, 5] == 7 and w[5, 1] == w[5, 9] == w[1, 5] == 5 and w[5, 7] == 2 and w[0, 0] == 0.5
    assert set(np.unique(w[skeletonize(label[0] > 0)])) <= {2.0, 5.0, 7.0}


def test_weights_3d_and_empty_labels():
    label = np.zeros((9, 9, 9), int)
    label[4, 4, 1:8] = 1
    w = skeleton_sampling_weights(label)
    assert w[4, 4, 1] == w[4, 4, 7] == 10.0 and w[4, 4, 4] == 1.0
    empty = skeleton_sampling_weights(np.zeros((1, 4, 5, 6)))
    assert empty.shape == (4, 5, 6) and np.all(empty == np.float32(1e-3))


@pytest.mark.parametrize("dims", [2, 3])
def test_crops_centre_on_the_skeleton_and_keep_keys_aligned(dims):
    shape = (64, 64) if dims == 2 else (32, 32, 32)
    image, label = vessel_tree(shape, n_branches=6, seed=3)
    data = [{"image": image[None].astype(np.float32), "label": label[None].astype(np.int64)}]
    patch = (16,) * dims
    mips = [MIPTargetd(keys="label", axes=(-1,))] if dims == 3 else []  # the MIP loss is 3D only
    keys = ["image", "label", "tube", *(m for t in mips for m in t.mip_keys["label"])]
    pipeline = Compose([
        SkeletonSamplingWeightsd(keys="label", weight_key="weight", background_weight=1e-9),
        SkeletonTubed(keys="label", skeleton_keys="tube"),
        *mips,
        RandWeightedCropd(keys=keys, w_key="weight", spatial_size=patch, num_samples=6),
        RandFlipd(keys=keys, prob=0.5, spatial_axis=0),
        ToDeviced(keys=keys, device="cpu"),
    ])
    pipeline.set_random_state(seed=0)
    dataset = CacheDataset(data, pipeline, cache_rate=0.0, progress=False)
    patches = dataset[0]
    assert len(patches) == 6
    skeleton_voxels = 0
    for sample in patches:
        lab, tube = np.asarray(sample["label"])[0], np.asarray(sample["tube"])[0]
        assert lab.shape == patch and np.all(tube <= lab)          # the tube was cropped with the label
        # Centres drawn on the skeleton lie in the label (the two middle voxels of an even size: flips swap them).
        centre = tuple(slice(s // 2 - 1, s // 2 + 1) for s in patch)
        skeleton_voxels += bool(lab[centre].any())
        if mips:  # the whole-volume MIP, cropped with the patch, covers the patch's own MIP
            mip = np.asarray(sample[mips[0].mip_keys["label"][0]])[0]
            assert mip.shape == patch and np.all(lab.max(-1) <= mip.max(-1))
    assert skeleton_voxels == 6
    # The same seed gives the same patches.
    pipeline.set_random_state(seed=0)
    again = CacheDataset(data, pipeline, cache_rate=0.0, progress=False)[0]
    for a, b in zip(patches, again):
        assert torch.equal(torch.as_tensor(a["image"]), torch.as_tensor(b["image"]))


def test_works_in_a_data_loader():
    image, label = vessel_tree((48, 48), seed=1)
    data = [{"image": image[None].astype(np.float32), "label": label[None].astype(np.int64)} for _ in range(2)]
    pipeline = Compose([
        SkeletonSamplingWeightsd(keys="label"),
        RandWeightedCropd(keys=["image", "label"], w_key="weight", spatial_size=(16, 16), num_samples=2),
    ])
    loader = DataLoader(CacheDataset(data, pipeline, progress=False), batch_size=2)
    batch = next(iter(loader))
    assert batch["image"].shape == (4, 1, 16, 16)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="Expected `background_weight` to be a finite number > 0"):
        SkeletonSamplingWeights(background_weight=0)
    with pytest.raises(ValueError, match="Expected `junction_weight` to be a finite number"):
        SkeletonSamplingWeights(junction_weight=float("nan"))
    with pytest.raises(ValueError, match=r"Expected `label` to be \(1, \*spatial\)"):
        SkeletonSamplingWeights()(np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="Expected one label key"):
        SkeletonSamplingWeightsd(keys=["a", "b"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_patches_move_to_the_gpu_with_todeviced():
    image, label = vessel_tree((32, 32, 32), n_branches=4, seed=2)
    keys = ["image", "label", "tube"]
    pipeline = Compose([
        SkeletonSamplingWeightsd(keys="label"),
        SkeletonTubed(keys="label", skeleton_keys="tube"),
        RandWeightedCropd(keys=keys, w_key="weight", spatial_size=(16, 16, 16), num_samples=2),
        ToDeviced(keys=keys, device="cuda"),
    ])
    patches = pipeline({"image": image[None].astype(np.float32), "label": label[None].astype(np.int64)})
    assert all(torch.as_tensor(p[k]).is_cuda for p in patches for k in keys)
