"""Tests of seglosses.transforms: tubed skeletons against scikit-image, MIP targets through MONAI's crops and flips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from monai.data import MetaTensor, list_data_collate, set_track_meta
from monai.transforms import (
    Compose,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandSpatialCropd,
    RandSpatialCropSamplesd,
    SpatialPadd,
)
from scipy import ndimage as ndi
from skimage.morphology import dilation, skeletonize

from seglosses.transforms import MIPTarget, MIPTargetd, SkeletonTube, SkeletonTubed, skeleton_tube
from seglosses.transforms.mip import validate_axes


def blobs(seed: int, shape: tuple[int, ...], n_classes: int, sigma: float = 1.5) -> np.ndarray:
    """(1, *shape) class indices: smoothed noise cut into classes, thin and thick branching shapes."""
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    field = (field - field.mean()) / (field.std() + 1e-12)
    label = np.zeros(shape, dtype=np.int64)
    for k, low in enumerate(np.linspace(0.4, 1.6, n_classes - 1)[::-1], start=1):
        label[(field > low) & (label == 0)] = k
    return label[None]


def reference_tube(mask: np.ndarray, radius: int = 2) -> np.ndarray:
    """The paper's tube computed directly with scikit-image: skeleton, dilated ``radius`` times, inside the mask."""
    tube = skeletonize(mask)
    for _ in range(radius):
        tube = dilation(tube)  # default footprint: the face-connected cross, as nnU-Net's SkeletonTransform
    return tube.astype(bool) & mask


def every_object_kept(mask: np.ndarray) -> bool:
    """Whether scikit-image's skeleton touches every connected object (its 3D thinning may delete some)."""
    components, n = ndi.label(mask, structure=np.ones((3,) * mask.ndim))
    return len(np.setdiff1d(np.arange(1, n + 1), components[skeletonize(mask)])) == 0


# ---------------------------------------------------------------------------------------------- tubes


@given(seed=st.integers(0, 10_000), n_classes=st.integers(2, 4), radius=st.integers(0, 3), three_d=st.booleans())
def test_tube_equals_scikit_image_per_class(seed, n_classes, radius, three_d):
    shape = (20, 18, 12) if three_d else (40, 36)
    label = blobs(seed, shape, n_classes)
    masks = [label[0] == k for k in range(1, n_classes)]
    assume(all(every_object_kept(m) for m in masks))
    tube = skeleton_tube(label, radius=radius)
    expected = np.zeros_like(label)
    for k, mask in enumerate(masks, start=1):
        expected[0][reference_tube(mask, radius)] = k
    np.testing.assert_array_equal(tube, expected)


@given(seed=st.integers(0, 10_000), three_d=st.booleans())
def test_one_hot_layout_matches_class_indices(seed, three_d):
    shape = (16, 16, 10) if three_d else (32, 30)
    label = blobs(seed, shape, 3)
    onehot = np.stack([label[0] == k for k in range(3)]).astype(np.float32)
    from_indices = skeleton_tube(label)
    from_onehot = skeleton_tube(onehot)
    assert from_onehot.dtype == np.float32
    assert not from_onehot[0].any()  # channel 0 is the background: no tube by default
    for k in (1, 2):
        np.testing.assert_array_equal(from_onehot[k], from_indices[0] == k)
    with_background = skeleton_tube(onehot, include_background=True)
    background_as_a_class = skeleton_tube((onehot[:1] > 0.5).astype(np.uint8))
    np.testing.assert_array_equal(with_background[0], background_as_a_class[0])
    assert with_background[0].any()
    np.testing.assert_array_equal(with_background[1:], from_onehot[1:])


def test_tube_of_a_bar_is_its_middle_line_thickened():
    label = np.zeros((1, 11, 30), dtype=np.uint8)
    label[0, 2:9, 2:28] = 1  # 7 rows thick: the skeleton runs along row 5
    tube = skeleton_tube(label)
    middle = tube[0, :, 8:22]  # away from the ends, where Zhang's thinning leaves diagonal spurs
    assert middle[3:8].all()  # rows 5 +- 2
    assert not middle[:3].any() and not middle[8:].any()
    assert set(np.unique(tube)) == {0, 1}


def test_deleted_object_keeps_its_centre():
    # scikit-image issue #3757: 3D thinning deletes a rod with an even, symmetric cross-section.
    mask = np.zeros((30, 12, 12), dtype=bool)
    mask[3:27, 4:8, 4:8] = True
    assert not skeletonize(mask).any()
    tube = skeleton_tube(mask[None].astype(np.uint8), radius=0)[0].astype(bool)
    assert tube.any() and not (tube & ~mask).any()
    assert tube[10:20, 5:7, 5:7].all()  # the centre 2x2 core along the rod
    assert not tube[:, 4, :].any() and not tube[:, :, 7].any()


def test_empty_and_full_labels():
    assert not skeleton_tube(np.zeros((1, 12, 12, 8), dtype=np.uint8)).any()
    assert not skeleton_tube(np.zeros((3, 12, 12), dtype=np.float32)).any()
    full = skeleton_tube(np.ones((1, 12, 12, 8), dtype=np.uint8))
    assert full.any() and np.isfinite(full).all()


def test_array_transform_keeps_type_dtype_and_meta():
    label = blobs(3, (24, 24, 12), 2).astype(np.float32)
    expected = skeleton_tube(label)
    affine = torch.diag(torch.tensor([2.0, 2.0, 3.0, 1.0]))
    meta_label = MetaTensor(torch.from_numpy(label), affine=affine, meta={"filename_or_obj": "case.nii.gz"})
    out = SkeletonTube()(meta_label)
    assert isinstance(out, MetaTensor) and out.dtype == torch.float32
    assert torch.equal(out.affine, affine) and out.meta["filename_or_obj"] == "case.nii.gz"
    np.testing.assert_array_equal(out.numpy(), expected)
    as_numpy = SkeletonTube()(label.astype(np.uint8))
    assert isinstance(as_numpy, np.ndarray) and as_numpy.dtype == np.uint8
    plain = SkeletonTube(radius=1)(torch.from_numpy(label).long())
    assert type(plain) is torch.Tensor and plain.dtype == torch.long
    np.testing.assert_array_equal(plain.numpy(), skeleton_tube(label, radius=1))


def test_dictionary_transform():
    label = blobs(5, (32, 32), 3)
    data = {"label": label, "other": label.copy(), "image": np.zeros((1, 32, 32))}
    out = SkeletonTubed(keys=["label", "other"], skeleton_keys=["skel", "skel_other"])(data)
    np.testing.assert_array_equal(out["skel"], skeleton_tube(label))
    np.testing.assert_array_equal(out["skel_other"], skeleton_tube(label))
    assert out["label"] is label and "skeleton" not in out
    default = SkeletonTubed(keys="label")({"label": label})
    np.testing.assert_array_equal(default["skeleton"], skeleton_tube(label))
    missing = SkeletonTubed(keys=["label", "absent"], skeleton_keys=["a", "b"], allow_missing_keys=True)(
        {"label": label}
    )
    assert "a" in missing and "b" not in missing
    with pytest.raises(KeyError):
        SkeletonTubed(keys="absent")({"label": label})


def test_tube_errors():
    with pytest.raises(
        ValueError,
        match=r"Expected `label` to be channel-first 1D \(C, N\), 2D \(C, H, W\) or 3D \(C, H, W, D\), but got shape \(16,\)",
    ):
        skeleton_tube(np.zeros(16))
    with pytest.raises(ValueError, match="integer class indices, but got fractional values"):
        skeleton_tube(np.full((1, 8, 8), 0.5))
    with pytest.raises(ValueError, match=r"Expected class indices >= 0 in a one-channel `label`, but got -1"):
        skeleton_tube(np.full((1, 8, 8), -1))
    with pytest.raises(ValueError, match="only finite values, but got NaN or Inf"):
        skeleton_tube(np.full((2, 8, 8), np.nan))
    with pytest.raises(TypeError, match="Expected `label` to be a numpy array, but got list"):
        skeleton_tube([[[0, 1]]])
    with pytest.raises(ValueError, match=r"Expected `radius` to be a non-negative integer, but got -1"):
        SkeletonTube(radius=-1)
    with pytest.raises(ValueError, match=r"Expected `radius` to be a non-negative integer, but got 1.5"):
        SkeletonTube(radius=1.5)
    with pytest.raises(ValueError, match=r"one distinct name per key \(2\), but got \('skeleton', 'skeleton'\)"):
        SkeletonTubed(keys=["a", "b"])


# ---------------------------------------------------------------------------------------------- MIP targets


def vessel_volume(seed: int, shape=(24, 28, 20)) -> torch.Tensor:
    """(1, H, W, D) binary label of thin random structures, so that projections differ from slab to slab."""
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.standard_normal(shape), 1.0)
    return torch.from_numpy((field > 1.2 * field.std()).astype(np.float32))[None]


def coordinates(shape) -> torch.Tensor:
    """(3, H, W, D) voxel coordinates: cropped and flipped with the label, they tell each patch voxel's origin."""
    return torch.stack(torch.meshgrid(*[torch.arange(s) for s in shape], indexing="ij")).float()


def assert_aligned(patch: dict, full_label: torch.Tensor, mip_keys, axes) -> None:
    """Each stored projection of the patch equals the full label's projection at the patch voxels' origins
    (0 where padded), and holds only its maximum or padding along its axis (what the loss reads back)."""
    origin = patch["coords"].as_subclass(torch.Tensor).long()
    inside = (origin >= 0).all(0)  # padded voxels carry coordinate -1
    for key, axis in zip(mip_keys, axes, strict=True):
        stored = patch[key].as_subclass(torch.Tensor)
        full_mip = full_label.amax(axis + 1, keepdim=True).expand_as(full_label)
        expected = full_mip[:, origin[0].clamp(min=0), origin[1].clamp(min=0), origin[2].clamp(min=0)] * inside
        torch.testing.assert_close(stored, expected, rtol=0, atol=0)
        read = stored.amax(axis + 1, keepdim=True).expand_as(stored)
        assert ((stored == read) | ~inside).all()


CROPS = {
    "RandSpatialCropd": lambda keys: RandSpatialCropd(keys, roi_size=(10, 12, 8), random_size=False),
    "RandCropByPosNegLabeld": lambda keys: RandCropByPosNegLabeld(
        keys, label_key="label", spatial_size=(10, 12, 8), pos=1, neg=1, num_samples=3
    ),
    "RandSpatialCropSamplesd": lambda keys: RandSpatialCropSamplesd(
        keys, roi_size=(9, 11, 7), num_samples=3, random_size=False
    ),
}


@pytest.mark.parametrize("crop", sorted(CROPS))
@settings(max_examples=30)
@given(seed=st.integers(0, 2**16), flip_axes=st.sampled_from([0, 1, 2, (0, 2), (0, 1, 2)]))
def test_mip_targets_follow_crops_and_flips(crop, seed, flip_axes):
    label = vessel_volume(seed)
    axes = (-3, -2, -1)
    mips = MIPTargetd(keys="label", axes=axes)
    names = mips.mip_keys["label"]
    keys = ["label", "coords", *names]
    pipeline = Compose([mips, CROPS[crop](keys), RandFlipd(keys, prob=1.0, spatial_axis=flip_axes)])
    pipeline.set_random_state(seed)
    out = pipeline({"label": MetaTensor(label), "coords": MetaTensor(coordinates(label.shape[1:]))})
    patches = out if isinstance(out, list) else [out]
    for patch in patches:
        assert patch[names[0]].shape == patch["label"].shape
        assert_aligned(patch, label, names, (0, 1, 2))


def test_mip_targets_differ_from_patch_projection_and_survive_padding_and_collation():
    label = vessel_volume(11)
    mips = MIPTargetd(keys="label", axes=-1)
    keys = ["label", "coords", "label_mip2"]
    pipeline = Compose(
        [
            mips,
            RandSpatialCropd(keys, roi_size=(10, 12, 6), random_size=False),
            SpatialPadd(keys, spatial_size=(12, 12, 8), value=-1),  # pads with -1 so that padded voxels show in coords
        ]
    )
    pipeline.set_random_state(0)
    patch = pipeline({"label": MetaTensor(label), "coords": MetaTensor(coordinates(label.shape[1:]))})
    # Undo the -1 padding of the label-like keys: MONAI pads labels with 0.
    for key in ("label", "label_mip2"):
        patch[key] = patch[key].clamp(min=0)
    assert_aligned(patch, label, ["label_mip2"], [2])
    own = patch["label"].as_subclass(torch.Tensor).amax(-1)
    whole = patch["label_mip2"].as_subclass(torch.Tensor).amax(-1)
    assert (whole >= own).all() and not torch.equal(whole, own)  # the whole volume sees more than the slab
    batch = list_data_collate([patch, patch])
    assert batch["label_mip2"].shape == (2, 1, 12, 12, 8)


def test_crops_keep_the_broadcast_view_and_plain_tensors_work_without_meta():
    label = vessel_volume(2)
    mips = MIPTargetd(keys="label", axes=(-3, -1))
    crop = RandSpatialCropd(["label", *mips.mip_keys["label"]], roi_size=(10, 12, 8), random_size=False)
    patch = crop(mips({"label": MetaTensor(label)}))
    # Documented memory claim: MONAI's crops keep the projection a view (its storage is one projection).
    assert patch["label_mip0"].untyped_storage().nbytes() == label[:, 0].numel() * label.element_size()
    set_track_meta(False)
    try:
        plain = Compose([mips, crop])({"label": label.numpy()})
    finally:
        set_track_meta(True)
    assert type(plain["label_mip2"]) is torch.Tensor and plain["label_mip2"].shape == (1, 10, 12, 8)


def test_mip_target_values_layout_and_meta():
    label = torch.randint(0, 3, (1, 6, 7, 5))
    projections = MIPTarget(axes=(0, -1), num_classes=3)(MetaTensor(label, meta={"filename_or_obj": "x"}))
    onehot = torch.cat([label == k for k in range(3)]).to(label.dtype)
    for projection, axis in zip(projections, (0, 2), strict=True):
        assert isinstance(projection, MetaTensor) and projection.meta["filename_or_obj"] == "x"
        assert projection.shape == (3, 6, 7, 5) and projection.dtype == label.dtype
        assert projection.stride(axis + 1) == 0  # a broadcast view, not a copy
        torch.testing.assert_close(
            projection.as_subclass(torch.Tensor), onehot.amax(axis + 1, keepdim=True).expand(3, 6, 7, 5)
        )
    soft = np.random.default_rng(0).random((2, 6, 7, 5)).astype(np.float32)
    (z,) = MIPTarget(axes=-1)(soft)
    assert isinstance(z, torch.Tensor)
    np.testing.assert_array_equal(
        z.as_subclass(torch.Tensor).numpy(), np.broadcast_to(soft.max(-1, keepdims=True), soft.shape)
    )


def test_validate_axes():
    assert validate_axes(-1) == (2,)
    assert validate_axes((-3, -2, -1)) == (0, 1, 2)
    assert validate_axes([0, 2]) == (0, 2)
    with pytest.raises(
        ValueError, match=r"Expected `axes` to be one or more spatial axes of a 3D volume in \[-3, 2\], but got \(3,\)"
    ):
        validate_axes(3)
    with pytest.raises(ValueError, match=r"in \[-3, 2\], but got \(\)"):
        validate_axes(())
    with pytest.raises(ValueError, match=r"Expected `axes` to name distinct spatial axes, but got \(-1, 2\)"):
        validate_axes((-1, 2))
    with pytest.raises(TypeError, match=r"Expected `axes` to be an int or a sequence of ints, but got 'z'"):
        validate_axes("z")
    with pytest.raises(TypeError, match=r"an int or a sequence of ints, but got \(1.0,\)"):
        validate_axes((1.0,))


def test_mip_target_errors():
    with pytest.raises(
        ValueError, match=r"Expected `label` to be a channel-first 3D volume \(C, H, W, D\), but got shape \(1, 8, 8\)"
    ):
        MIPTarget()(torch.zeros(1, 8, 8))
    with pytest.raises(
        ValueError,
        match=r"Expected `label` to be \(1, H, W, D\) class indices with `num_classes`, but got shape \(2, 4, 4, 4\)",
    ):
        MIPTarget(num_classes=2)(torch.zeros(2, 4, 4, 4))
    with pytest.raises(ValueError, match=r"Expected `label` class indices in \[0, 2\), but got values in \[0, 2\]"):
        MIPTarget(num_classes=2)(torch.tensor([0, 2]).view(1, 2, 1, 1).expand(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"Expected `num_classes` to be a positive integer or None, but got 0"):
        MIPTargetd(keys="label", num_classes=0)
    with pytest.raises(ValueError, match="spatial axes of a 3D volume"):
        MIPTargetd(keys="label", axes=(-4,))
