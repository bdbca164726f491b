"""Tests of the MIP loss: Dice/Tversky values against MONAI and SPOCKMIP's formula, whole-volume targets through
MONAI crops, shapes, gradients, errors, real data."""

from __future__ import annotations

import monai.losses
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from monai.data import MetaTensor, list_data_collate
from monai.transforms import Compose, RandCropByPosNegLabeld, RandFlipd, RandRotate90d

from seglosses.losses import DiceLoss, MIPLoss, mip_loss
from seglosses.transforms import MIPTargetd


def project(x: torch.Tensor, axis: int) -> torch.Tensor:
    """(B, C, H, W, D) → (B, C, ...) with spatial ``axis`` (0, 1, 2) reduced by max (kept as size 1)."""
    return x.amax(axis + 2, keepdim=True)


def spockmip_focal_tversky(
    pred: torch.Tensor, target: torch.Tensor, alpha_fn=0.7, gamma=0.75, smooth=1.0
) -> torch.Tensor:
    """SPOCKMIP's Focal Tversky for one (sample, class), written from its definition (alpha on false negatives)."""
    tp = (pred * target).sum()
    fn = (target * (1 - pred)).sum()
    fp = ((1 - target) * pred).sum()
    return (1 - (tp + smooth) / (tp + alpha_fn * fn + (1 - alpha_fn) * fp + smooth)) ** gamma


@given(seed=st.integers(0, 2**16), axes=st.sampled_from([(-1,), (0,), (-3, -2, -1), (1, 2)]), batch=st.booleans())
def test_dice_equals_monai_dice_of_projections(seed, axes, batch):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 8, 7, 6, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 1, 8, 7, 6), generator=g)
    got = mip_loss(logits, labels, axes=axes, softmax=True, to_onehot_y=True, batch=batch, reduction="none")
    probs = torch.softmax(logits, 1)
    onehot = torch.cat([labels == k for k in range(3)], 1).double()
    dice = monai.losses.DiceLoss(reduction="none", batch=batch)
    expected = torch.stack([dice(project(probs, a % 3), project(onehot, a % 3)).reshape(-1, 3) for a in axes]).mean(0)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@given(seed=st.integers(0, 2**16), alpha=st.floats(0, 1), beta=st.floats(0, 1), gamma=st.floats(0.5, 3))
def test_focal_tversky_equals_monai_tversky_to_the_gamma(seed, alpha, beta, gamma):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 2, 6, 7, 8, generator=g, dtype=torch.float64)
    labels = (torch.rand(2, 2, 6, 7, 8, generator=g) > 0.8).double()
    got = mip_loss(
        logits,
        labels,
        axes=-1,
        region="focal_tversky",
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        sigmoid=True,
        reduction="none",
    )
    tversky = monai.losses.TverskyLoss(alpha=alpha, beta=beta, reduction="none")
    expected = tversky(project(torch.sigmoid(logits), 2), project(labels, 2)).flatten(1).clamp(min=0) ** gamma
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_focal_tversky_defaults_are_spockmips():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 1, 12, 12, 10, generator=g, dtype=torch.float64)
    labels = (torch.rand(1, 1, 12, 12, 10, generator=g) > 0.9).double()
    got = MIPLoss(axes=-1, region="focal_tversky", sigmoid=True, smooth_nr=1, smooth_dr=1)(logits, labels)
    expected = spockmip_focal_tversky(project(torch.sigmoid(logits), 2), project(labels, 2))
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)


def test_multi_axis_is_the_mean_of_single_axes():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 1, 9, 8, 7, generator=g)
    labels = (torch.rand(2, 1, 9, 8, 7, generator=g) > 0.85).float()
    single = [mip_loss(logits, labels, axes=a, sigmoid=True, reduction="none") for a in (-3, -2, -1)]
    both = mip_loss(logits, labels, axes=(-3, -2, -1), sigmoid=True, reduction="none")
    torch.testing.assert_close(both, torch.stack(single).mean(0))
    torch.testing.assert_close(mip_loss(logits, labels, axes=(0, 1, 2), sigmoid=True, reduction="none"), both)


def test_hand_made_whole_volume_target():
    # A patch holding one straight vessel along the last axis, predicted perfectly; the whole volume has a
    # second vessel in the same (x, y) window but outside the patch's depth range.
    target = torch.zeros(1, 1, 6, 6, 4)
    target[0, 0, 2, 1:5, :] = 1  # 4 pixels in the z-projection
    whole = target.amax(-1, keepdim=True).clone()
    whole[0, 0, 4, 1:3] = 1  # 2 more pixels from outside the patch
    perfect = torch.where(target > 0, 30.0, -30.0).double()
    on_patch = mip_loss(perfect, target, sigmoid=True, smooth_nr=0, smooth_dr=0)
    assert on_patch.item() == pytest.approx(0, abs=1e-9)
    with_whole = mip_loss(perfect, target, whole, sigmoid=True, smooth_nr=0, smooth_dr=0)
    assert with_whole.item() == pytest.approx(1 - 2 * 4 / (4 + 6), abs=1e-9)  # Dice of 4 found among 6
    broadcast = mip_loss(perfect, target, whole.expand(1, 1, 6, 6, 4), sigmoid=True, smooth_nr=0, smooth_dr=0)
    assert broadcast.item() == with_whole.item()


@pytest.mark.parametrize("include_background", [True, False])
def test_transform_pipeline_to_loss(include_background):
    g = torch.Generator().manual_seed(5)
    label = (torch.rand(1, 20, 22, 18, generator=g) > 0.93).long() * torch.randint(1, 3, (1, 20, 22, 18), generator=g)
    mips = MIPTargetd(keys="label", axes=(-3, -2, -1), num_classes=3)
    names = mips.mip_keys["label"]
    keys = ["label", *names]
    pipeline = Compose(
        [
            mips,
            RandCropByPosNegLabeld(keys, label_key="label", spatial_size=(10, 10, 8), num_samples=2),
            RandFlipd(keys, prob=1.0, spatial_axis=1),
        ]
    )
    pipeline.set_random_state(5)
    batch = list_data_collate(pipeline({"label": MetaTensor(label)}))
    target_mips = [batch[k] for k in names]
    assert target_mips[0].shape == (2, 3, 10, 10, 8)
    logits = torch.randn(2, 3, 10, 10, 8, generator=g, requires_grad=True)
    loss = MIPLoss(
        axes=(-3, -2, -1), softmax=True, to_onehot_y=True, include_background=include_background, reduction="none"
    )
    values = loss(logits, batch["label"], target_mips)
    values.sum().backward()
    assert type(values) is torch.Tensor and values.shape == (2, 3 if include_background else 2)
    assert torch.isfinite(logits.grad).all()
    patch_only = loss(logits, batch["label"])
    assert not torch.allclose(values, patch_only)  # the whole volume's projections differ from the patch's
    onehot_patch = torch.cat([batch["label"].as_subclass(torch.Tensor) == k for k in range(3)], 1).float()
    same = loss(logits, batch["label"], [onehot_patch] * 3)
    torch.testing.assert_close(same, patch_only)


def test_rotation_across_the_axis_is_rejected_for_soft_labels():
    g = torch.Generator().manual_seed(6)
    label = torch.rand(1, 8, 8, 8, generator=g)
    mips = MIPTargetd(keys="label", axes=-1)
    rotate = RandRotate90d(["label", "label_mip2"], prob=1.0, max_k=1, spatial_axes=(0, 2))
    data = rotate(mips({"label": label}))
    with pytest.raises(
        ValueError, match=r"Expected `target_mips\[0\]` to hold, along spatial axis 2, only its projection"
    ):
        mip_loss(torch.randn(1, 1, 8, 8, 8), data["label"][None], data["label_mip2"][None], sigmoid=True)


@pytest.mark.parametrize("region", ["dice", "focal_tversky"])
def test_empty_and_perfect_cases_are_finite(region):
    empty = torch.zeros(2, 1, 6, 6, 6)
    for target, logits in ((empty, torch.full((2, 1, 6, 6, 6), -30.0)), (empty, torch.randn(2, 1, 6, 6, 6))):
        logits = logits.clone().requires_grad_()
        loss = mip_loss(logits, target, sigmoid=True, region=region, axes=(-3, -2, -1))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    nothing = mip_loss(torch.zeros(2, 1, 6, 6, 6), empty, region=region)  # probabilities, no activation
    assert nothing.item() == 0.0  # 1 - s_nr / s_dr
    target = torch.zeros(1, 1, 6, 6, 6)
    target[0, 0, 3, :, 2] = 1
    perfect = torch.where(target > 0, 1.0, 0.0).requires_grad_()  # probabilities, no activation: TI = 1 exactly
    loss = mip_loss(perfect, target, region=region, axes=(-3, -2, -1))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(perfect.grad).all()


def test_reductions_batch_and_module_agree():
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(3, 2, 8, 8, 6, generator=g)
    labels = torch.randint(0, 2, (3, 1, 8, 8, 6), generator=g)
    kwargs = dict(softmax=True, to_onehot_y=True, axes=(-2, -1), region="focal_tversky")
    none = mip_loss(logits, labels, reduction="none", **kwargs)
    assert none.shape == (3, 2)
    torch.testing.assert_close(MIPLoss(reduction="mean", **kwargs)(logits, labels), none.mean())
    torch.testing.assert_close(MIPLoss(reduction="sum", **kwargs)(logits, labels), none.sum())
    assert MIPLoss(reduction="none", batch=True, **kwargs)(logits, labels).shape == (1, 2)
    no_background = MIPLoss(reduction="none", include_background=False, **kwargs)(logits, labels)
    torch.testing.assert_close(no_background, none[:, 1:])


def test_combines_with_a_volume_loss():
    logits = torch.randn(2, 1, 8, 8, 8, requires_grad=True)
    labels = (torch.rand(2, 1, 8, 8, 8) > 0.8).float()
    total = DiceLoss(sigmoid=True)(logits, labels) + MIPLoss(sigmoid=True, axes=(-3, -2, -1))(logits, labels)
    total.backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("region", ["dice", "focal_tversky"])
def test_gradcheck(region):
    g = torch.Generator().manual_seed(8)
    logits = torch.randn(2, 2, 4, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 2, (2, 1, 4, 5, 3), generator=g)
    whole = [
        torch.randint(0, 2, (2, 2, 4, 5, 1), generator=g).double(),
        torch.randint(0, 2, (2, 2, 4, 1, 3), generator=g),
    ]
    assert torch.autograd.gradcheck(
        lambda x: mip_loss(
            x, labels, whole, axes=(-1, -2), region=region, softmax=True, to_onehot_y=True, reduction="none"
        ),
        (logits,),
    )


def test_autocast_bfloat16():
    logits = torch.randn(2, 2, 8, 8, 8, dtype=torch.bfloat16, requires_grad=True)
    labels = torch.randint(0, 2, (2, 1, 8, 8, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = mip_loss(logits, labels, softmax=True, to_onehot_y=True, axes=(-3, -2, -1))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    exact = mip_loss(logits.detach().double(), labels, softmax=True, to_onehot_y=True, axes=(-3, -2, -1))
    assert loss.item() == pytest.approx(exact.item(), abs=2e-2)


def test_half_precision_sums_do_not_overflow():
    target = torch.ones(1, 1, 300, 300, 2)  # 90,000 pixels per projection along the last axis
    probs = torch.full((1, 1, 300, 300, 2), 0.5, dtype=torch.float16)
    loss = mip_loss(probs, target, smooth_nr=0, smooth_dr=0)
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(1 - 2 * 0.5 / 1.5)


def test_errors():
    logits = torch.randn(2, 3, 6, 6, 4)
    labels = torch.randint(0, 3, (2, 1, 6, 6, 4))
    kwargs = dict(softmax=True, to_onehot_y=True)
    with pytest.raises(ValueError, match=r"Expected `input` to be 5D \(B, C, H, W, D\), but got shape \(2, 3, 6, 6\)"):
        mip_loss(torch.randn(2, 3, 6, 6), torch.randint(0, 3, (2, 1, 6, 6)), **kwargs)
    with pytest.raises(
        ValueError, match=r"Expected `axes` to be one or more spatial axes of a 3D volume in \[-3, 2\], but got \(-4,\)"
    ):
        mip_loss(logits, labels, axes=(-4,), **kwargs)
    with pytest.raises(ValueError, match=r"Expected `axes` to name distinct spatial axes, but got \(0, -3\)"):
        MIPLoss(axes=(0, -3))
    with pytest.raises(TypeError, match="Expected `axes` to be an int or a sequence of ints"):
        MIPLoss(axes="z")
    with pytest.raises(
        ValueError, match=r"Expected `target_mips` to hold one tensor per axis of `axes` \(3\), but got 1\."
    ):
        mip_loss(logits, labels, [torch.zeros(2, 3, 6, 6, 1)], axes=(-3, -2, -1), **kwargs)
    with pytest.raises(
        TypeError, match=r"Expected `target_mips` to be a tensor or a sequence of tensors \(one per axis\), but got nd"
    ):
        mip_loss(logits, labels, np.zeros((2, 3, 6, 6, 1)), **kwargs)
    with pytest.raises(
        ValueError,
        match=(
            r"Expected `target_mips\[0\]` \(projection along spatial axis 2, one channel per class of `input`; give "
            r"MIPTarget `num_classes` for class-index labels\) to have shape \(2, 3, 6, 6, 4\) or \(2, 3, 6, 6, 1\), "
            r"but got \(2, 1, 6, 6, 1\)"
        ),
    ):
        mip_loss(logits, labels, torch.zeros(2, 1, 6, 6, 1), **kwargs)
    with pytest.raises(
        ValueError, match=r"to have shape \(2, 3, 6, 6, 4\) or \(2, 3, 6, 6, 1\), but got \(2, 3, 6, 5, 1\)"
    ):
        mip_loss(logits, labels, torch.zeros(2, 3, 6, 5, 1), **kwargs)
    with pytest.raises(TypeError, match=r"Expected `target_mips\[1\]` to be a torch.Tensor, but got list"):
        mip_loss(logits, labels, [torch.zeros(2, 3, 6, 6, 1), [0]], axes=(-1, -2), **kwargs)
    with pytest.raises(
        ValueError, match=r"Expected `target_mips\[0\]` to contain only finite values, but got NaN or Inf"
    ):
        mip_loss(logits, labels, torch.full((2, 3, 6, 6, 1), float("nan")), **kwargs)
    with pytest.raises(
        ValueError, match=r"Expected `region` to be one of \('dice', 'focal_tversky'\), but got 'tversky'"
    ):
        MIPLoss(region="tversky")
    with pytest.raises(
        ValueError, match=r"Expected `alpha` to be None with region='dice' \(it is Tversky with 1/2, 1/2\), but got 0.3"
    ):
        MIPLoss(alpha=0.3)
    with pytest.raises(ValueError, match=r"Expected `gamma` to be a finite number > 0, but got 0.0"):
        MIPLoss(region="focal_tversky", gamma=0)
    with pytest.raises(ValueError, match=r"Expected `beta` to be a finite number >= 0, but got -0.5"):
        mip_loss(logits, labels, region="focal_tversky", beta=-0.5, **kwargs)
    with pytest.raises(ValueError, match=r"Expected `reduction` to be one of \('none', 'mean', 'sum'\), but got 'avg'"):
        MIPLoss(reduction="avg")


def test_vesselnn_volume_smoke(data_root):
    nib = pytest.importorskip("nibabel")
    path = sorted((data_root / "vesselnn" / "labels").glob("*.nii.gz"))[1]  # 320 x 320 x 26
    label = torch.from_numpy(np.asarray(nib.load(path).dataobj).astype(np.float32))[None]
    mips = MIPTargetd(keys="label", axes=(-3, -2, -1))
    names = mips.mip_keys["label"]
    crop = RandCropByPosNegLabeld(["label", *names], label_key="label", spatial_size=(64, 64, 16), num_samples=2)
    crop.set_random_state(0)
    batch = list_data_collate(crop(mips({"label": MetaTensor(label)})))
    logits = torch.randn(2, 1, 64, 64, 16, requires_grad=True)
    loss = MIPLoss(axes=(-3, -2, -1), sigmoid=True, region="focal_tversky")
    value = loss(logits, batch["label"], [batch[k] for k in names])
    value.backward()
    assert 0 < value.item() < 1 and torch.isfinite(logits.grad).all()
    patch_value = loss(logits, batch["label"])
    assert value.item() != patch_value.item()
