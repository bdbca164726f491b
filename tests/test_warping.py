"""WarpingLoss: the compiled simple-point test against Betti numbers (every 2D neighbourhood, random 3D ones),
warping keeps topology, the critical pixels on hand-made cases, and the loss's values and gradients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter

from seglosses import _core
from seglosses.losses import WarpingLoss, warping_loss
from seglosses.losses.warping import critical_pixels, warp_towards
from seglosses.topology import betti_numbers


def is_simple(patch: np.ndarray, construction: str) -> bool:
    """The compiled test on the centre of a 3x3(x3) patch (flipped iff simple)."""
    image = np.ascontiguousarray(patch, dtype=np.uint8)
    centre = np.ravel_multi_index(tuple(s // 2 for s in image.shape), image.shape)
    return _core.warp(image, np.array([centre], np.int64), 0 if construction == "T" else 1) == 1


def keeps_betti_numbers(patch: np.ndarray, construction: str) -> bool:
    """Whether flipping the centre keeps the Betti numbers of the patch, padded with background."""
    padded = np.pad(patch.astype(bool), 1)
    flipped = padded.copy()
    centre = tuple(s // 2 for s in padded.shape)
    flipped[centre] = ~flipped[centre]
    return betti_numbers(padded, construction=construction) == betti_numbers(flipped, construction=construction)


@pytest.mark.parametrize("construction", ["T", "V"])
def test_simple_points_in_2d_are_exactly_the_betti_preserving_flips(construction):
    # In 2D, a flip of an isolated 3x3 patch keeps its topology iff it keeps the numbers of foreground and
    # background components, i.e. the Betti numbers of the padded patch: every one of the 512 patches.
    for bits in itertools.product((0, 1), repeat=9):
        patch = np.array(bits, np.uint8).reshape(3, 3)
        assert is_simple(patch, construction) == keeps_betti_numbers(patch, construction), (bits, construction)


@pytest.mark.parametrize("construction", ["T", "V"])
def test_simple_points_in_3d_keep_betti_numbers(construction):
    rng = np.random.default_rng(7)
    simple = 0
    for _ in range(1500):
        patch = (rng.random((3, 3, 3)) < rng.uniform(0.2, 0.8)).astype(np.uint8)
        if is_simple(patch, construction):
            simple += 1
            assert keeps_betti_numbers(patch, construction)
    assert simple > 100


def smooth_mask(rng, shape, sigma=1.5):
    return gaussian_filter(rng.random(shape), sigma) > 0.5


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), dims=st.sampled_from([2, 3]), construction=st.sampled_from(["T", "V"]))
def test_warping_keeps_the_topology_of_the_source(seed, dims, construction):
    rng = np.random.default_rng(seed)
    shape = (24, 24) if dims == 2 else (10, 10, 10)
    source, toward = smooth_mask(rng, shape), smooth_mask(rng, shape)
    warped = warp_towards(source, toward, construction)
    assert betti_numbers(warped, construction=construction) == betti_numbers(source, construction=construction)
    # It moved towards the target: it changed only pixels where the two differ, and no fewer agree than before.
    assert not (warped != source)[source == toward].any()
    assert (warped == toward).sum() >= (source == toward).sum()
    critical = critical_pixels(source, toward, construction)
    assert not critical[source == toward].any()
    if betti_numbers(source, construction=construction) != betti_numbers(toward, construction=construction):
        assert critical.any()


def test_hand_made_critical_pixels():
    ring = np.zeros((16, 16), bool)
    ring[3:13, 3:13] = True
    ring[6:10, 6:10] = False
    assert not critical_pixels(ring, ring).any()
    # Thicker or thinner by a row: no topology changes, no critical pixel.
    thick = ring.copy()
    thick[2, 3:13] = True
    assert not critical_pixels(thick, ring).any() and not critical_pixels(ring, thick).any()
    # Cut once: the loop is lost; the cut's column is critical.
    cut = ring.copy()
    cut[3:6, 7] = False
    assert np.argwhere(critical_pixels(cut, ring)).tolist() == [[3, 7], [4, 7], [5, 7]]
    # A separate false-positive blob is critical (a new component), the ring is not.
    blob = ring.copy()
    blob[0:2, 0:2] = True
    assert np.argwhere(critical_pixels(blob, ring)).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    # Under V the same blob touching the ring only at a corner is a new component; under T it joins the ring.
    corner = ring.copy()
    corner[2, 2] = True
    assert critical_pixels(corner, ring, "V").sum() == 1 and not critical_pixels(corner, ring, "T").any()


def test_loss_values_and_gradients():
    label = torch.zeros(1, 1, 7, 9, dtype=torch.float64)
    label[0, 0, 3, 1:8] = 1
    broken = label.clone()
    broken[0, 0, 3, 4] = 0
    probs = (broken * 0.8 + 0.1).requires_grad_(True)
    loss = warping_loss(probs, label)
    assert float(loss.detach()) == pytest.approx(-np.log(0.1) / 63)
    loss.backward()
    expected = torch.zeros_like(probs)
    expected[0, 0, 3, 4] = -1 / (0.1 * 63)
    torch.testing.assert_close(probs.grad, expected)
    # Logits with the activation: exact cross-entropy even where the probability rounds to 0 in float32.
    logits = torch.where(broken > 0, 30.0, -30.0).float()
    two = torch.cat([-logits, logits], 1)
    value = warping_loss(two, label[:, 0:1].long(), softmax=True, to_onehot_y=True, include_background=False)
    assert float(value) == pytest.approx(60.0 / 63, rel=1e-5)  # -log softmax = 60 on the one critical pixel
    sig = warping_loss(logits, label.float(), sigmoid=True)
    assert float(sig) == pytest.approx(30.0 / 63, rel=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="construction"):
        WarpingLoss(construction="X")
    with pytest.raises(ValueError, match="2D or 3D"):
        _core.warp(np.zeros(5, np.uint8), np.zeros(0, np.int64), 0)
    with pytest.raises(ValueError, match="inside"):
        _core.warp(np.zeros((3, 3), np.uint8), np.array([9], np.int64), 0)
