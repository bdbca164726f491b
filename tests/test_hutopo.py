"""HuTopoLoss against gudhi's Wasserstein distance (the oracle: gudhi.wasserstein on POT), on diagrams and on
images, plus hand-made cases and the refusal of soft labels. The behaviour registry covers the rest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seglosses import HuTopoLoss
from seglosses.losses.hutopo import hutopo_loss, label_matching
from seglosses.topology import persistence

wasserstein = pytest.importorskip("gudhi.wasserstein", reason="gudhi's Wasserstein distance needs POT (pip install pot)")


def oracle(points: np.ndarray, n_label: int) -> float:
    label = np.tile([[1.0, 0.0]], (n_label, 1)) if n_label else np.zeros((0, 2))
    return float(wasserstein.wasserstein_distance(points, label, order=2, internal_p=2)) ** 2


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(0, 12), m=st.integers(0, 6))
def test_matching_with_a_binary_label_is_gudhis_wasserstein(seed, n, m):
    rng = np.random.default_rng(seed)
    pairs = np.sort(rng.random((n, 2)), axis=1)[:, ::-1]  # births >= deaths, in [0, 1]
    matched, cost = label_matching(pairs, m)
    assert len(matched) <= m
    assert cost == pytest.approx(oracle(pairs, m), abs=1e-9)


def diagram(image: np.ndarray, d: int) -> np.ndarray:
    barcode = persistence(image, filtration="superlevel")
    values = barcode.intervals(d).copy()
    values[~np.isfinite(values[:, 1]), 1] = 0.0
    return values


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), shape=st.sampled_from([(9, 11), (16, 16), (6, 7, 5)]))
def test_loss_is_the_squared_wasserstein_distance_of_the_diagrams(seed, shape):
    rng = np.random.default_rng(seed)
    probs = rng.random(shape)
    label = rng.random(shape) > 0.6
    ours = float(hutopo_loss(torch.from_numpy(probs)[None, None], torch.from_numpy(label.astype(np.float64))[None, None]))
    expected = sum(oracle(diagram(probs, d), len(diagram(label.astype(float), d))) for d in range(len(shape)))
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_gradient_step_lowers_the_loss_and_hand_made_values():
    target = torch.zeros(1, 1, 12, 12)
    target[0, 0, 2:10, 2:10] = 1
    target[0, 0, 5:7, 5:7] = 0  # a ring
    prediction = target.clone() * 0.8
    prediction[0, 0, 5:7, 5:7] = 0.6  # the hole nearly filled: a loop (0.8, 0.6), matched to the label's
    # essential (0.8, 0) -> (1, 0): 0.04; the loop (0.8, 0.6) -> (1, 0): 0.04 + 0.36.
    assert float(hutopo_loss(prediction, target)) == pytest.approx(0.44)
    logits = torch.logit(prediction.clamp(0.05, 0.95)).requires_grad_(True)
    loss = hutopo_loss(logits, target, sigmoid=True)
    loss.backward()
    with torch.no_grad():
        stepped = logits - 0.5 * logits.grad / logits.grad.abs().max()
    assert float(hutopo_loss(stepped, target, sigmoid=True)) < float(loss)


def test_soft_labels_and_bad_settings_are_refused():
    probs = torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match="binary"):
        hutopo_loss(probs, torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="dim_weights"):
        HuTopoLoss(dim_weights=(1.0, -1.0))
    with pytest.raises(ValueError, match="construction"):
        HuTopoLoss(construction="X")
    assert float(hutopo_loss(probs, (probs > 0.5).float(), dim_weights=(0.0, 0.0))) == 0.0
