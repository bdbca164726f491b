"""cbDiceLoss against a second implementation written from the paper's equations (NumPy, SciPy's distance
transform, MONAI's soft skeleton), on hand-made cases whose value the definition gives, and on gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from seglosses.losses import cbdice_loss, cbDiceLoss

EPS = 1e-7


def reference(p: np.ndarray, label: np.ndarray, iterations: int = 10, smooth: float = 1.0) -> float:
    """cbDice loss (1 - cbDice) of one probability map ``p`` and ``label`` (same spatial shape), written
    directly from Shi et al.'s equations: radius-normalised depth maps and skeleton weights of each map, then
    the two weighted ratios and their harmonic mean."""
    from monai.losses.cldice import soft_skel

    power = 1 if p.ndim == 2 else 2

    def weights(x: np.ndarray):
        skeleton = soft_skel(torch.from_numpy(x)[None, None], iterations).numpy()[0, 0]
        mask, on_skeleton = x > 0.5, skeleton > 0.5
        distance = distance_transform_edt(mask) if mask.any() else np.zeros(x.shape)
        radius = np.where(on_skeleton, distance, 0.0)
        largest = max(radius.max(), 1.0)
        relative = radius / largest
        thinness = np.where(on_skeleton, (1 + EPS) / (relative**power + EPS), 0.0)
        return np.minimum(distance, largest) / largest * x, relative * x, thinness * skeleton

    v_p, sv_p, s_p = weights(p)
    v_l, sv_l, s_l = weights(label)
    precision = ((s_p * v_l).sum() + smooth) / ((s_p * np.where(sv_l != 0, sv_l, sv_p)).sum() + smooth)
    sensitivity = ((s_l * v_p).sum() + smooth) / ((s_l * np.where(sv_p != 0, sv_p, sv_l)).sum() + smooth)
    return 1 - 2 * precision * sensitivity / (precision + sensitivity)


def bar(shape=(16, 16), rows=slice(6, 9), cols=slice(2, 14)) -> torch.Tensor:
    target = torch.zeros(1, 1, *shape, dtype=torch.float64)
    target[0, 0, rows, cols] = 1
    return target


def test_agreement_is_zero_and_a_missed_bar_costs_its_skeleton():
    target = bar()
    assert float(cbdice_loss(target.clone(), target)) == pytest.approx(0.0, abs=1e-12)
    # Empty prediction: precision (0 + 1) / (0 + 1) = 1; sensitivity 1 / (n + 1) for the n skeleton pixels of
    # the bar, each weighted 1 (radius 2 = the largest radius, so the skeleton weight is 1), so the loss is
    # 1 - 2 S / (1 + S) = n / (n + 2).
    n = 10  # the 12-pixel bar's centre line without its two end pixels
    assert float(cbdice_loss(torch.zeros_like(target), target)) == pytest.approx(n / (n + 2), rel=1e-6)


def test_thin_and_thick_vessels_count_alike():
    # Two bars of the same length, 3 and 7 pixels wide; missing either one costs the same, where plain
    # (unweighted) overlap would charge the thick one more.
    target = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    target[0, 0, 4:7, 4:28] = 1  # thin
    target[0, 0, 16:23, 4:28] = 1  # thick
    miss_thin, miss_thick = target.clone(), target.clone()
    miss_thin[0, 0, 4:7] = 0
    miss_thick[0, 0, 16:23] = 0
    thin, thick = float(cbdice_loss(miss_thin, target)), float(cbdice_loss(miss_thick, target))
    assert thin == pytest.approx(reference(miss_thin[0, 0].numpy(), target[0, 0].numpy()))
    assert thick == pytest.approx(reference(miss_thick[0, 0].numpy(), target[0, 0].numpy()))
    assert thin > 0 and thick > 0
    assert thin >= 0.5 * thick  # the thin bar's skeleton pixels weigh more (1/radius), so its loss is not small


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), dims=st.sampled_from([2, 3]), smooth_label=st.booleans())
def test_equals_the_reference_on_random_maps(seed, dims, smooth_label):
    rng = np.random.default_rng(seed)
    shape = (20, 18) if dims == 2 else (10, 9, 8)
    label = rng.random(shape) > 0.6
    if smooth_label:  # blobs, with skeletons of several pixels
        from scipy.ndimage import gaussian_filter

        label = gaussian_filter(rng.random(shape), 1.5) > 0.5
    probs = np.clip(label * 0.7 + rng.random(shape) * 0.4, 0, 1)
    ours = float(cbdice_loss(torch.from_numpy(probs)[None, None], torch.from_numpy(label.astype(np.float64))[None, None]))
    assert ours == pytest.approx(reference(probs, label.astype(np.float64)), rel=1e-9, abs=1e-12)


def test_per_class_and_batch_sums():
    rng = np.random.default_rng(3)
    probs = torch.from_numpy(rng.random((2, 3, 16, 16)))
    labels = torch.from_numpy((rng.random((2, 3, 16, 16)) > 0.5).astype(np.float64))
    values = cbdice_loss(probs, labels, reduction="none")
    assert values.shape == (2, 3)
    for b in range(2):
        for c in range(3):
            assert float(values[b, c]) == pytest.approx(reference(probs[b, c].numpy(), labels[b, c].numpy()))
    assert cbdice_loss(probs, labels, reduction="none", batch=True).shape == (1, 3)


def test_gradient_step_lowers_the_loss():
    target = bar((24, 24), slice(10, 13), slice(3, 21)).float()
    logits = (4 * target - 2 + 0.5 * torch.randn_like(target)).requires_grad_(True)
    logits.data[0, 0, 11, 8:12] = -3  # a gap in the bar
    loss = cbdice_loss(logits, target, sigmoid=True)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    stepped = (logits - 5.0 * logits.grad).detach()
    assert float(cbdice_loss(stepped, target, sigmoid=True)) < float(loss.detach())


def test_bad_input():
    with pytest.raises(ValueError, match="iterations"):
        cbDiceLoss(iterations=-1)
    with pytest.raises(ValueError, match="smooth"):
        cbDiceLoss(smooth=0)
    with pytest.raises(ValueError):
        cbdice_loss(torch.rand(1, 1, 16), torch.rand(1, 1, 16))  # 1D: no distance-weighted skeleton in the paper
