"""Tests of the Skeleton Recall loss: hand-made values, the tube paths, shapes, gradients, errors, real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from monai.data import MetaTensor
from scipy import ndimage as ndi

from seglosses.losses import SkeletonRecallLoss, skeleton_recall_loss
from seglosses.transforms import SkeletonTubed, skeleton_tube


def t_shape(size: int = 32) -> torch.Tensor:
    """(1, 1, size, size) binary 'T': a horizontal bar and a vertical branch below its middle, both 5 thick."""
    label = torch.zeros(1, 1, size, size, dtype=torch.long)
    label[0, 0, 4:9, 3:29] = 1
    label[0, 0, 9:28, 14:19] = 1
    return label


def shapes(seed: int, spatial: tuple[int, ...]) -> np.ndarray:
    """(1, *spatial) labels in {0, 1, 2}: smoothed noise cut at two levels, blobs and branches of two classes."""
    field = ndi.gaussian_filter(np.random.default_rng(seed).standard_normal(spatial), 1.5)
    field /= field.std()
    return ((field > 0.5).astype(np.int64) + (field > 1.2))[None]


def logits_of(probs: torch.Tensor) -> torch.Tensor:
    return torch.logit(probs.double().clamp(1e-12, 1 - 1e-12))


def reference(probs: np.ndarray, tube: np.ndarray, s_nr: float, s_dr: float) -> np.ndarray:
    """The paper's soft recall loss per (sample, class), written directly: (B, C)."""
    axes = tuple(range(2, probs.ndim))
    return 1 - ((probs * tube).sum(axes) + s_nr) / (tube.sum(axes) + s_dr)


def test_hand_made_recall():
    skeleton = torch.zeros(1, 1, 4, 5)
    skeleton[0, 0, 1, :] = 1
    skeleton[0, 0, 2, :] = 1  # 10 tube pixels
    probs = torch.zeros(1, 1, 4, 5)
    probs[0, 0, 1, :] = 1.0  # 5 found
    probs[0, 0, 2, :2] = 0.5  # 2 x 0.5 found
    probs[0, 0, 0, :] = 1.0  # outside the tube: recall ignores false positives
    loss = skeleton_recall_loss(probs, skeleton.clone(), skeleton, smooth_nr=0, smooth_dr=0)
    assert loss.item() == pytest.approx(1 - 6 / 10)


def test_perfect_prediction_is_zero_and_missing_branch_loses_its_share():
    target = t_shape()
    tube = torch.from_numpy(skeleton_tube(target[0].numpy()))[None]
    perfect = skeleton_recall_loss(logits_of(target.double()), target, tube, sigmoid=True)
    assert perfect.item() == pytest.approx(0, abs=1e-9)
    bar_only = torch.zeros_like(target)
    bar_only[0, 0, :9] = target[0, 0, :9]  # the prediction misses the vertical branch
    in_bar = (tube * bar_only).sum().item()
    expected = 1 - (in_bar + 1e-5) / (tube.sum().item() + 1e-5)
    got = skeleton_recall_loss(logits_of(bar_only.double()), target, tube, sigmoid=True)
    assert got.item() == pytest.approx(expected, abs=1e-9)
    assert 0.3 < expected < 0.8  # the branch holds a real share of the tube


@given(seed=st.integers(0, 2**16), three_d=st.booleans(), batch=st.booleans(), smooth=st.sampled_from([0.0, 1e-5, 1.0]))
def test_values_against_direct_formula(seed, three_d, batch, smooth):
    g = torch.Generator().manual_seed(seed)
    spatial = (10, 9, 7) if three_d else (16, 15)
    labels = torch.randint(0, 3, (2, 1, *spatial), generator=g)
    tube = torch.from_numpy(np.stack([skeleton_tube(label.numpy()) for label in labels]))
    logits = torch.randn(2, 3, *spatial, generator=g, dtype=torch.float64)
    got = skeleton_recall_loss(
        logits,
        labels,
        tube,
        softmax=True,
        to_onehot_y=True,
        include_background=False,
        smooth_nr=smooth,
        smooth_dr=max(smooth, 1e-5),
        batch=batch,
        reduction="none",
    )
    probs = torch.softmax(logits, 1).numpy()[:, 1:]
    onehot_tube = np.stack([tube[:, 0].numpy() == k for k in (1, 2)], 1).astype(np.float64)
    if batch:
        probs, onehot_tube = np.concatenate(list(probs), -1)[None], np.concatenate(list(onehot_tube), -1)[None]
    np.testing.assert_allclose(got.numpy(), reference(probs, onehot_tube, smooth, max(smooth, 1e-5)), rtol=1e-12)
    assert got.shape == ((1, 2) if batch else (2, 2))


@pytest.mark.parametrize("to_onehot_y", [True, False])
@pytest.mark.parametrize("include_background", [True, False])
def test_tube_computed_in_the_loss_equals_the_transform(to_onehot_y, include_background):
    g = torch.Generator().manual_seed(0)
    labels = torch.from_numpy(np.stack([shapes(seed, (24, 24)) for seed in (0, 1)]))
    target = labels if to_onehot_y else torch.cat([labels == k for k in range(3)], 1).float()
    tubed = [
        SkeletonTubed(keys="label", include_background=include_background)({"label": t})["skeleton"] for t in target
    ]
    logits = torch.randn(2, 3, 24, 24, generator=g)
    settings = dict(softmax=True, to_onehot_y=to_onehot_y, include_background=include_background, reduction="none")
    on_the_fly = skeleton_recall_loss(logits, target, **settings)
    precomputed = skeleton_recall_loss(logits, target, torch.stack(tubed), **settings)
    torch.testing.assert_close(on_the_fly, precomputed, rtol=0, atol=0)


def test_soft_single_channel_target_is_thresholded_at_one_half():
    target = t_shape().double()
    soft = target * 0.7 + 0.1  # 0.8 inside, 0.1 outside
    logits = torch.randn(1, 1, 32, 32, dtype=torch.float64)
    on_the_fly = skeleton_recall_loss(logits, soft, sigmoid=True)
    tube = torch.from_numpy(skeleton_tube(target[0].numpy()))[None]
    torch.testing.assert_close(on_the_fly, skeleton_recall_loss(logits, soft, tube, sigmoid=True))


def test_class_index_tube_has_no_background_term():
    target = t_shape()
    logits = torch.randn(1, 2, 32, 32)
    with_background = skeleton_recall_loss(logits, target, softmax=True, to_onehot_y=True, reduction="none")
    foreground = skeleton_recall_loss(
        logits, target, softmax=True, to_onehot_y=True, include_background=False, reduction="none"
    )
    assert with_background[0, 0].item() == 0.0  # empty background tube: 1 - s_nr / s_dr
    torch.testing.assert_close(with_background[:, 1:], foreground)


@pytest.mark.parametrize("three_d", [False, True])
def test_empty_and_full_targets_are_finite_with_finite_gradients(three_d):
    spatial = (12, 12, 8) if three_d else (20, 20)
    for target in (torch.zeros(2, 1, *spatial), torch.ones(2, 1, *spatial)):
        logits = torch.randn(2, 1, *spatial, requires_grad=True)
        loss = skeleton_recall_loss(logits, target, sigmoid=True)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
        if not target.any():
            assert loss.item() == 0.0 and not logits.grad.any()
        else:
            assert 0 < loss.item() < 1


def test_reductions_and_module_agree_with_function():
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 3, (3, 1, 16, 16, 8), generator=g)
    logits = torch.randn(3, 3, 16, 16, 8, generator=g)
    tube = torch.from_numpy(np.stack([skeleton_tube(label.numpy()) for label in labels]))
    none = skeleton_recall_loss(logits, labels, tube, softmax=True, to_onehot_y=True, reduction="none")
    assert none.shape == (3, 3)
    for reduction, value in (("mean", none.mean()), ("sum", none.sum())):
        module = SkeletonRecallLoss(softmax=True, to_onehot_y=True, reduction=reduction)
        torch.testing.assert_close(module(logits, labels, tube), value)
        torch.testing.assert_close(
            skeleton_recall_loss(logits, labels, tube, softmax=True, to_onehot_y=True, reduction=reduction), value
        )
    batched = SkeletonRecallLoss(softmax=True, to_onehot_y=True, batch=True, reduction="none")(logits, labels, tube)
    assert batched.shape == (1, 3)


def test_meta_tensor_skeleton_gives_plain_tensor():
    target = t_shape()
    tube = MetaTensor(torch.from_numpy(skeleton_tube(target[0].numpy()))[None].float())
    loss = skeleton_recall_loss(torch.randn(1, 1, 32, 32), target.float(), tube, sigmoid=True)
    assert type(loss) is torch.Tensor


@pytest.mark.parametrize("three_d", [False, True])
def test_gradcheck(three_d):
    spatial = (5, 4, 3) if three_d else (6, 5)
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 3, (2, 1, *spatial), generator=g)
    tube = torch.from_numpy(np.stack([skeleton_tube(label.numpy(), radius=1) for label in labels]))
    logits = torch.randn(2, 3, *spatial, generator=g, dtype=torch.float64, requires_grad=True)
    assert tube.any()
    assert torch.autograd.gradcheck(
        lambda x: skeleton_recall_loss(x, labels, tube, softmax=True, to_onehot_y=True, reduction="none"), (logits,)
    )


def test_autocast_bfloat16():
    target = t_shape()
    logits = torch.randn(1, 2, 32, 32, dtype=torch.bfloat16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = skeleton_recall_loss(logits, target, softmax=True, to_onehot_y=True, include_background=False)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    reference_value = skeleton_recall_loss(
        logits.detach().double(), target, softmax=True, to_onehot_y=True, include_background=False
    )
    assert loss.item() == pytest.approx(reference_value.item(), abs=2e-2)


def test_half_precision_sums_do_not_overflow():
    tube = torch.ones(1, 1, 300, 300)  # 90,000 tube pixels: more than float16 can count
    probs = torch.full((1, 1, 300, 300), 0.75, dtype=torch.float16)
    loss = skeleton_recall_loss(probs, tube, tube, smooth_nr=0, smooth_dr=0)
    assert loss.dtype == torch.float32 and loss.item() == pytest.approx(0.25)


def test_errors():
    logits = torch.randn(2, 3, 8, 8)
    labels = torch.randint(0, 3, (2, 1, 8, 8))
    kwargs = dict(softmax=True, to_onehot_y=True)
    with pytest.raises(
        ValueError, match=r"Expected `skeleton` to have the shape of `target` \(2, 1, 8, 8\) .*but got \(2, 3, 8, 8\)"
    ):
        skeleton_recall_loss(logits, labels, torch.zeros(2, 3, 8, 8), **kwargs)
    with pytest.raises(
        ValueError, match=r"Expected `skeleton` to have the shape of `target` \(2, 1, 8, 8\) .*but got \(2, 1, 8, 7\)"
    ):
        skeleton_recall_loss(logits, labels, torch.zeros(2, 1, 8, 7), **kwargs)
    with pytest.raises(ValueError, match=r"Expected `skeleton` class indices in \[0, 3\), but got values in \[3, 3\]"):
        skeleton_recall_loss(logits, labels, torch.full((2, 1, 8, 8), 3), **kwargs)
    with pytest.raises(
        ValueError, match="Expected `skeleton` to hold integer class indices, but got fractional values"
    ):
        skeleton_recall_loss(logits, labels, torch.full((2, 1, 8, 8), 0.5), **kwargs)
    with pytest.raises(ValueError, match="Expected `skeleton` to contain only finite values, but got NaN or Inf"):
        skeleton_recall_loss(logits, labels.float(), torch.full((2, 1, 8, 8), float("nan")), **kwargs)
    with pytest.raises(TypeError, match="Expected `skeleton` to be a torch.Tensor or None, but got ndarray"):
        skeleton_recall_loss(logits, labels, np.zeros((2, 1, 8, 8)), **kwargs)
    with pytest.raises(
        ValueError, match=r"Expected `target` \(class indices\) to have shape \(2, 1, 8, 8\), but got \(2, 1, 8, 9\)"
    ):
        skeleton_recall_loss(logits, torch.zeros(2, 1, 8, 9), **kwargs)
    with pytest.raises(ValueError, match="Expected `input` to contain only finite values"):
        skeleton_recall_loss(torch.full((2, 3, 8, 8), float("nan")), labels, **kwargs)
    with pytest.raises(ValueError, match=r"Expected `reduction` to be one of \('none', 'mean', 'sum'\), but got 'avg'"):
        SkeletonRecallLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"Expected `smooth_dr` to be a finite number >= 0, but got -1.0"):
        SkeletonRecallLoss(smooth_dr=-1)
    with pytest.raises(ValueError, match="Expected at most one of `sigmoid`, `softmax` and `other_act` to be set"):
        SkeletonRecallLoss(sigmoid=True, softmax=True)


def test_vesselnn_volume_smoke(data_root):
    nib = pytest.importorskip("nibabel")
    path = sorted((data_root / "vesselnn" / "labels").glob("*.nii.gz"))[1]  # the smallest, 320 x 320 x 26
    label = np.asarray(nib.load(path).dataobj)[None, :128, :128].astype(np.uint8)
    tube = SkeletonTubed(keys="label")({"label": label})["skeleton"]
    assert tube.any() and not (tube.astype(bool) & ~label.astype(bool)).any()
    target = torch.from_numpy(label)[None].long()
    skeleton = torch.from_numpy(tube)[None]
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 2, *label.shape[1:], generator=g, requires_grad=True)
    loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)(logits, target, skeleton)
    loss.backward()
    assert 0.3 < loss.item() < 0.7  # random logits recall about half of the tube
    assert torch.isfinite(logits.grad).all()
    perfect = skeleton_recall_loss(logits_of(target.double()), target, skeleton, sigmoid=True)
    assert perfect.item() == pytest.approx(0, abs=1e-9)


def test_1d_tube_and_loss_are_those_of_one_row_images():
    # In 1D a segment is its own skeleton; the tube and the loss equal the 2D ones of a one-row image.
    from seglosses.transforms import skeleton_tube

    label = np.zeros((1, 30), np.uint8)
    label[0, 3:12], label[0, 15:16], label[0, 20:28] = 1, 2, 1
    tube = skeleton_tube(label, radius=2)
    np.testing.assert_array_equal(tube, label)
    np.testing.assert_array_equal(tube, skeleton_tube(label[:, None], radius=2)[:, 0])
    logits = torch.randn((1, 3, 30), generator=torch.Generator().manual_seed(3))
    labels = torch.from_numpy(label.astype(np.int64))[None]
    loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False, reduction="none")
    torch.testing.assert_close(loss(logits, labels), loss(logits[:, :, None], labels[:, :, None]))
