"""TopographLoss against the authors' implementation (topolosses 0.2.0's TopographLoss, the oracle; tests skip
without it), on hand-made cases whose value the paper's definition gives, and on gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import topograph as oracle_loader
from scipy.ndimage import gaussian_filter

from seglosses.losses import TopographLoss, topograph_loss
from seglosses.losses.topograph import critical_regions

ORACLE, REASON = oracle_loader.load()
needs_oracle = pytest.mark.skipif(ORACLE is None, reason=REASON or "Topograph oracle unavailable")


def ring(size: int = 16) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    radius = np.hypot(yy, xx)
    return (radius >= size / 5) & (radius <= size / 2.6)


def ours(probs: np.ndarray, label: np.ndarray, construction: str = "T") -> tuple[float, np.ndarray]:
    """Loss and gradient with respect to the probabilities, of one (H, W) map."""
    p = torch.from_numpy(probs)[None, None].requires_grad_(True)
    loss = topograph_loss(p, torch.from_numpy(label.astype(np.float64))[None, None], construction=construction)
    loss.backward()
    return float(loss.detach()), p.grad[0, 0].numpy()


def theirs(probs: np.ndarray, label: np.ndarray, construction: str = "T") -> tuple[float, np.ndarray]:
    """The oracle on the two-channel form [1 - p, p] of the same map: loss, gradient with respect to p."""
    p = torch.from_numpy(probs)[None, None].requires_grad_(True)
    two = torch.cat([1 - p, p], 1)
    onehot = torch.from_numpy(np.stack([~label, label]).astype(np.float64))[None]
    loss = ORACLE.TopographLoss(use_base_loss=False, alpha=1.0, eight_connectivity=construction == "T",
                                use_c=oracle_loader.USE_C)(two, onehot)
    loss.backward()
    return float(loss.detach()), p.grad[0, 0].numpy()


def test_hand_made_cases():
    label = ring()
    # Agreement, and errors that change no topology (a thicker or notched ring), cost nothing.
    assert ours(label * 0.8 + 0.1, label)[0] == 0.0
    thick = label | np.roll(label, 1, axis=0)
    assert ours(thick * 0.8 + 0.1, label)[0] == 0.0
    # An isolated false-positive blob (a new component) is one critical region: its mean probability, 0.9.
    blob = label.copy()
    blob[0:2, 0:2] = True
    assert ours(blob * 0.8 + 0.1, label)[0] == pytest.approx(0.9)
    # The ring cut in two places: two critical regions, 1 - p = 0.9 each.
    cut = label.copy()
    cut[7:9, :5] = False
    cut[7:9, -5:] = False
    assert ours(cut * 0.8 + 0.1, label)[0] == pytest.approx(1.8)
    # A hole punched into the ring's body (a new loop).
    hole = label.copy()
    rows, cols = np.nonzero(label & (np.roll(label, 1, 0) & np.roll(label, -1, 0) & np.roll(label, 1, 1) & np.roll(label, -1, 1)))
    hole[rows[0], cols[0]] = False
    assert ours(hole * 0.8 + 0.1, label)[0] == pytest.approx(0.9)
    # One region only (prediction everything, label nothing): no graph, no loss.
    assert ours(np.full((8, 8), 0.9), np.zeros((8, 8), bool))[0] == 0.0


def test_a_diagonal_touch_joins_under_t_only():
    label = ring()
    touch = label.copy()
    r, c = np.argwhere(label)[0]  # the ring's first pixel in raster order; the pixel up-left touches it diagonally
    touch[r - 1, c - 1] = True
    assert ours(touch * 0.8 + 0.1, label, "T")[0] == 0.0  # 8-connected foreground: the pixel joins the ring
    assert ours(touch * 0.8 + 0.1, label, "V")[0] == pytest.approx(0.9)  # 4-connected: a new component


def test_gradient_is_one_over_the_region_size_on_critical_pixels():
    label = ring()
    blob = label.copy()
    blob[0:2, 0:3] = True
    probs = blob * 0.8 + 0.1
    loss, grad = ours(probs, label)
    regions = critical_regions(blob, label)
    assert loss == pytest.approx(0.9) and (regions > 0).sum() == 6
    np.testing.assert_allclose(grad[regions > 0], 1 / 6)
    assert (grad[regions == 0] == 0).all()


def random_case(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = gaussian_filter(rng.random((size, size)), 1.2) > 0.5
    probs = np.clip(np.where(label, 0.75, 0.25) + rng.normal(0, 0.3, label.shape), 0, 1)
    return probs, label


@needs_oracle
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), size=st.integers(4, 40), construction=st.sampled_from(["T", "V"]))
def test_equals_the_authors_implementation(seed, size, construction):
    probs, label = random_case(seed, size)
    our_loss, our_grad = ours(probs, label, construction)
    their_loss, their_grad = theirs(probs, label, construction)
    # (the oracle sums its regions in float32)
    assert our_loss == pytest.approx(their_loss, rel=1e-6, abs=1e-6)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-6, atol=1e-7)


@needs_oracle
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), density=st.floats(0.1, 0.9))
def test_equals_the_authors_implementation_on_salt_and_pepper(seed, density):
    # Pixel noise: many 2x2 windows of every kind, so every diagonal rule (special edges included) is met.
    rng = np.random.default_rng(seed)
    label = rng.random((24, 24)) < density
    probs = np.where(rng.random((24, 24)) < 0.5, label, ~label) * 0.6 + 0.2
    for construction in ("T", "V"):
        assert ours(probs, label, construction)[0] == pytest.approx(theirs(probs, label, construction)[0], rel=1e-5)


@needs_oracle
def test_batch_and_classes_match_the_oracle_mean():
    cases = [random_case(seed, 20) for seed in range(3)]
    probs = torch.from_numpy(np.stack([p for p, _ in cases]))[:, None]
    labels = torch.from_numpy(np.stack([lab for _, lab in cases]).astype(np.float64))[:, None]
    values = topograph_loss(probs, labels, reduction="none")
    assert values.shape == (3, 1)
    for i, (p, lab) in enumerate(cases):
        assert float(values[i, 0]) == pytest.approx(theirs(p, lab)[0])
    # Two-class softmax logits: the same as the oracle on the softmax probabilities.
    logits = torch.randn(2, 2, 16, 16, dtype=torch.float64)
    target = torch.randint(0, 2, (2, 1, 16, 16))
    module = TopographLoss(softmax=True, to_onehot_y=True, include_background=False)
    onehot = torch.zeros(2, 2, 16, 16, dtype=torch.float64).scatter_(1, target, 1.0)
    reference = ORACLE.TopographLoss(use_base_loss=False, alpha=1.0, softmax=True, use_c=oracle_loader.USE_C)
    assert float(module(logits, target)) == pytest.approx(float(reference(logits, onehot)))


def test_bad_input():
    with pytest.raises(ValueError, match="construction"):
        TopographLoss(construction="X")
    with pytest.raises(ValueError):
        topograph_loss(torch.rand(1, 1, 8, 8, 8), torch.rand(1, 1, 8, 8, 8))  # 3D: the paper's rules are 2D
