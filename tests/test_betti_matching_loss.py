"""BettiMatchingLoss: hand-made cases, the definition re-computed from the engine's intervals, gradients, errors.

The shared behaviour (reductions, gradcheck, edge values, bad input, autocast, real data) is tested for every loss
in test_loss_behaviour.py; here are the checks specific to the Betti matching loss.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seglosses import BettiMatchingLoss, betti_matching_loss
from seglosses.topology import betti_matching


def as_batch(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float64))[None, None]


def ring(size: int = 12) -> np.ndarray:
    image = np.zeros((size, size))
    image[2:10, 2:10] = 1
    image[5:7, 5:7] = 0
    return image


def definition(prediction: np.ndarray, target: np.ndarray, weights, include_unmatched_target: bool, construction: str):
    """The loss written from the engine's intervals (not its cells): what the docstring promises."""
    m = betti_matching(prediction, target, construction=construction)
    essential_p, essential_g = m.matched_essential()
    total = weights[0] * 2 * (essential_p[0, 0] - essential_g[0, 0]) ** 2  # deaths at 0 on both sides
    for d in m.dims:
        matched_p, matched_g = m.matched(d)
        unmatched = m.unmatched_prediction(d)
        term = 2 * np.sum((matched_p - matched_g) ** 2) + np.sum((unmatched[:, 0] - unmatched[:, 1]) ** 2)
        if include_unmatched_target:
            cells = m.unmatched_target_cells(d).ravel()
            term += 2 * np.sum((prediction.ravel()[cells] - target.ravel()[cells]) ** 2)
        total += weights[d] * term
    return total


@pytest.mark.parametrize("shape", [(9, 11), (5, 6, 4)])
def test_the_target_itself_costs_nothing(shape):
    target = (np.random.default_rng(0).random(shape) > 0.5).astype(float)
    assert float(betti_matching_loss(as_batch(target), as_batch(target))) == 0.0


def test_an_extra_component_is_pushed_to_the_diagonal():
    target = ring()
    prediction = target.copy()
    prediction[0, 11] = 0.7  # an isolated pixel: a component born at 0.7 that dies at 0
    assert float(betti_matching_loss(as_batch(prediction), as_batch(target))) == pytest.approx(0.7**2)
    logits = torch.logit(as_batch(np.clip(prediction, 0.05, 0.95))).requires_grad_()
    betti_matching_loss(logits, as_batch(target), sigmoid=True).backward()
    # Gradient descent lowers the extra pixel: its gradient is positive. Clipped, the background is 0.05, not 0:
    # only the death pixels of the extra component and of the (matched) hole also move.
    assert logits.grad[0, 0, 0, 11] > 0
    background = torch.from_numpy(target == 0)
    background[0, 11] = False
    assert torch.count_nonzero(logits.grad[0, 0][background]) <= 2


def test_a_faint_component_is_pulled_to_its_partner():
    target = np.zeros((10, 10))
    target[1:4, 1:4] = 1
    target[6:9, 6:9] = 1
    prediction = 0.9 * target
    prediction[6:9, 6:9] = 0.3  # present but faint: matched (0.3, 0) ~ (1, 0)
    expected = 2 * (0.9 - 1.0) ** 2 + 2 * (0.3 - 1.0) ** 2  # the essential births, then the matched pair
    assert float(betti_matching_loss(as_batch(prediction), as_batch(target))) == pytest.approx(expected)


def test_a_missing_loop_counts_only_with_the_target_term():
    target = ring()
    closed = target.copy()
    closed[5:7, 5:7] = 1
    assert float(betti_matching_loss(as_batch(closed), as_batch(target))) == 0.0
    # The loop's death pixel (in the hole) is pulled from 1 to 0; its birth pixel already agrees.
    value = betti_matching_loss(as_batch(closed), as_batch(target), include_unmatched_target=True)
    assert float(value) == pytest.approx(2.0)


def test_a_missing_cavity_in_3d():
    target = np.zeros((7, 7, 7))
    target[1:6, 1:6, 1:6] = 1
    target[3, 3, 3] = 0  # a hollow cube: one cavity (H2)
    solid = target.copy()
    solid[3, 3, 3] = 1
    m = betti_matching(solid, target)
    assert m.num_unmatched_target[2] == 1
    value = betti_matching_loss(as_batch(solid), as_batch(target), include_unmatched_target=True)
    assert float(value) == pytest.approx(2.0)
    weighted = betti_matching_loss(
        as_batch(solid), as_batch(target), include_unmatched_target=True, dim_weights=(1, 1, 0.25)
    )
    assert float(weighted) == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.sampled_from([(6, 7), (9, 5), (4, 5, 3)]),
    levels=st.sampled_from([0, 3]),
    construction=st.sampled_from(["T", "V"]),
    include_unmatched_target=st.booleans(),
)
def test_equals_the_definition_on_random_maps(seed, shape, levels, construction, include_unmatched_target):
    rng = np.random.default_rng(seed)
    prediction = rng.random(shape)
    if levels:  # ties and plateaus
        prediction = np.round(prediction * levels) / levels
    target = (rng.random(shape) > 0.5).astype(float)
    weights = rng.random(len(shape)) + 0.1
    value = betti_matching_loss(
        as_batch(prediction), as_batch(target), construction=construction, dim_weights=tuple(weights),
        include_unmatched_target=include_unmatched_target,
    )
    expected = definition(prediction, target, weights, include_unmatched_target, construction)
    assert float(value) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_classes_and_samples_are_independent_jobs():
    rng = np.random.default_rng(3)
    logits = torch.from_numpy(rng.normal(size=(2, 3, 10, 9)))
    labels = torch.from_numpy(rng.integers(0, 3, size=(2, 1, 10, 9)))
    values = betti_matching_loss(logits, labels, softmax=True, to_onehot_y=True, reduction="none", num_threads=2)
    probs = torch.softmax(logits, 1).numpy()
    for b in range(2):
        for c in range(3):
            target = (labels[b, 0].numpy() == c).astype(float)
            expected = definition(probs[b, c], target, np.ones(2), False, "T")
            assert float(values[b, c]) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_gradient_equals_finite_differences_away_from_ties():
    rng = np.random.default_rng(7)
    logits = torch.from_numpy(rng.normal(size=(1, 1, 6, 6))).requires_grad_()
    target = as_batch((rng.random((6, 6)) > 0.5).astype(float))
    assert torch.autograd.gradcheck(
        lambda x: betti_matching_loss(x, target, sigmoid=True, include_unmatched_target=True), (logits,)
    )


def test_module_stores_settings_and_matches_the_function():
    rng = np.random.default_rng(11)
    logits = torch.from_numpy(rng.normal(size=(2, 2, 8, 8)))
    labels = torch.from_numpy(rng.integers(0, 2, size=(2, 1, 8, 8)))
    module = BettiMatchingLoss(softmax=True, to_onehot_y=True, include_background=False, dim_weights=[1.0, 0.5])
    function = betti_matching_loss(
        logits, labels, softmax=True, to_onehot_y=True, include_background=False, dim_weights=(1.0, 0.5)
    )
    torch.testing.assert_close(module(logits, labels), function)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(dim_weights=(1.0,)), ValueError, r"Expected `dim_weights` to hold 2 finite weights"),
        (dict(dim_weights=(1.0, -1.0)), ValueError, r"Expected `dim_weights` to hold 2 finite weights"),
        (dict(dim_weights=("a", "b")), TypeError, r"Expected `dim_weights` to be a sequence of numbers"),
        (dict(construction="X"), ValueError, r"construction"),
    ],
)
def test_bad_settings_are_named(kwargs, error, message):
    x = torch.rand(1, 1, 5, 5)
    with pytest.raises(error, match=message):
        betti_matching_loss(x, (x > 0.5).float(), **kwargs)


def test_soft_labels_outside_unit_interval_are_rejected():
    x = torch.rand(1, 1, 5, 5)
    with pytest.raises(ValueError, match=r"Expected `target` values in \[0, 1\]"):
        betti_matching_loss(x, 2 * x)


def test_module_rejects_non_sequence_weights():
    with pytest.raises(TypeError, match="Expected `dim_weights` to be a sequence"):
        BettiMatchingLoss(dim_weights=1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_input_gives_the_cpu_value():
    rng = np.random.default_rng(5)
    logits = torch.from_numpy(rng.normal(size=(2, 2, 12, 12))).float()
    labels = torch.from_numpy(rng.integers(0, 2, size=(2, 1, 12, 12)))
    cpu = betti_matching_loss(logits, labels, softmax=True, to_onehot_y=True)
    gpu = betti_matching_loss(logits.cuda().requires_grad_(), labels.cuda(), softmax=True, to_onehot_y=True)
    gpu.backward()
    torch.testing.assert_close(gpu.cpu(), cpu)



def test_the_target_term_acts_through_the_target_cells():
    """Two holes merged into one: the missing loop is pulled back through its birth and death pixels."""
    target = np.zeros((9, 12))
    target[1:8, 1:11] = 1
    target[3, 3:6] = target[5, 3:6] = 0  # two holes ...
    merged = target.copy()
    merged[4, 3:6] = 0                    # ... merged into one: one loop missing
    m = betti_matching(merged, target)
    assert m.num_unmatched_target[1] == 1
    value = betti_matching_loss(as_batch(merged), as_batch(target), include_unmatched_target=True)
    birth, death = m.unmatched_target_cells(1)[0]
    expected = 2 * ((merged.ravel()[birth] - 1) ** 2 + (merged.ravel()[death] - 0) ** 2)
    assert float(value) == pytest.approx(expected) and expected > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(6, 7), (4, 5, 3)]), with_target=st.booleans())
def test_relative_is_the_definition_on_maps_with_a_border_at_one(seed, shape, with_target):
    rng = np.random.default_rng(seed)
    prediction, target = rng.random(shape), (rng.random(shape) > 0.5).astype(float)
    value = betti_matching_loss(
        as_batch(prediction), as_batch(target), relative=True, include_unmatched_target=with_target
    )
    padded = [np.pad(a, 1, constant_values=1.0) for a in (prediction, target)]
    expected = definition(*padded, np.ones(len(shape)), with_target, "T")
    assert float(value) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_relative_joins_structures_through_the_border():
    target = np.zeros((9, 12))
    target[4, :] = 1  # a vessel crossing the patch
    cut = target.copy()
    cut[4, 0:2] = 0.4  # faint where it leaves the patch
    assert float(betti_matching_loss(as_batch(target), as_batch(target), relative=True)) == 0.0
    # Inside the patch the faint end is still one component with the rest: nothing to correct.
    assert float(betti_matching_loss(as_batch(cut), as_batch(target))) == 0.0
    # Relative to the border, the vessel closes two loops with it; one closes only at 0.4 instead of 1 in the
    # target: the matched loop (0.4, 0) is pulled to (1, 0), 2 * 0.6^2.
    assert float(betti_matching_loss(as_batch(cut), as_batch(target), relative=True)) == pytest.approx(0.72)
    logits = torch.logit(as_batch(np.clip(cut, 0.05, 0.95))).requires_grad_()
    betti_matching_loss(logits, as_batch(target), sigmoid=True, relative=True).backward()
    assert logits.grad.shape == logits.shape and torch.isfinite(logits.grad).all()
