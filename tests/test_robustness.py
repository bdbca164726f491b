"""Inputs that once slipped through (issue 17): half precision outside the losses, size limits checked before any
copy, dtypes that are not real numbers, ill-typed settings, bar order on overflowing lengths, metric classes fed
numpy. (Half precision in the losses is checked per loss in test_loss_behaviour.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seglosses.losses import SkeletonRecallLoss
from seglosses.metrics import (
    BettiErrorMetric,
    BettiMatchingErrorMetric,
    ClDiceMetric,
    LocalBettiErrorMetric,
    betti_matching_error,
    betti_number_errors,
    cldice,
    dice,
    evaluate_case,
    hd95,
    local_betti_errors,
)
from seglosses.topology import betti_matching, betti_numbers, persistence
from seglosses.topology._validation import MAX_MATCHING_PIXELS, MAX_PIXELS
from seglosses.transforms import (
    MIPTarget,
    SkeletonSamplingWeights,
    SkeletonSamplingWeightsd,
    SkeletonTube,
    SkeletonTubed,
)

HALF = [torch.float16, torch.bfloat16]


def _ring(shape=(12, 12)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[2:10, 2:10] = True
    mask[5:7, 5:7] = False
    return mask


# ----------------------------------------------------------------------------------------------- half precision
@pytest.mark.parametrize("dtype", HALF)
def test_every_metric_function_takes_half_precision_tensors(dtype):
    g = _ring()
    p = g.copy()
    p[5, 5] = True
    half_p, half_g = torch.from_numpy(p).to(dtype), torch.from_numpy(g).to(dtype)
    assert evaluate_case(half_p, half_g, tile_size=6) == pytest.approx(evaluate_case(p, g, tile_size=6), nan_ok=True)
    for metric in (dice, cldice, hd95):
        assert metric(half_p, half_g) == pytest.approx(metric(p, g))
    for metric in (betti_number_errors, local_betti_errors, betti_matching_error):
        np.testing.assert_array_equal(metric(half_p, half_g), metric(p, g))


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("metric", [BettiErrorMetric, BettiMatchingErrorMetric, ClDiceMetric, LocalBettiErrorMetric])
def test_every_metric_class_takes_half_precision_tensors(dtype, metric):
    g = torch.from_numpy(_ring())[None, None].float()
    p = g.clone()
    p[..., 5, 5] = 1
    expected = metric()(p, g)
    np.testing.assert_array_equal(metric()(p.to(dtype), g.to(dtype)).numpy(), expected.numpy())


@pytest.mark.parametrize("dtype", HALF)
def test_engine_takes_half_precision_tensors(dtype):
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.random((9, 11))).to(dtype)
    exact = image.double().numpy()  # every half value is a float64 value
    np.testing.assert_array_equal(persistence(image).intervals(1), persistence(exact).intervals(1))
    assert betti_numbers(torch.from_numpy(_ring()).to(dtype)) == (1, 1)
    np.testing.assert_array_equal(betti_matching(image, image).num_matched, betti_matching(exact, exact).num_matched)


@pytest.mark.parametrize("dtype", HALF)
def test_transforms_take_half_precision_labels(dtype):
    label = torch.from_numpy(_ring())[None].float()
    for transform in (SkeletonTube(), SkeletonSamplingWeights()):
        expected = transform(label)
        out = transform(label.to(dtype))
        assert isinstance(out, torch.Tensor)
        torch.testing.assert_close(out.float(), expected.float(), atol=1e-3, rtol=1e-2)
    tube = SkeletonTubed(keys="label")({"label": label.to(dtype)})["skeleton"]
    assert tube.dtype == dtype and torch.equal(tube.float(), SkeletonTube()(label).float())
    weights = SkeletonSamplingWeightsd(keys="label")({"label": label.to(dtype)})["weight"]
    assert torch.isfinite(torch.as_tensor(weights)).all()
    volume = torch.zeros(1, 6, 6, 4)
    volume[0, 2:4, 1:5, 1:3] = 1
    for projection, expected in zip(MIPTarget(axes=(-1, 0))(volume.to(dtype)), MIPTarget(axes=(-1, 0))(volume)):
        assert torch.equal(projection.float(), expected.float())


@pytest.mark.parametrize("dtype", HALF)
def test_skeleton_recall_computes_its_own_tube_from_half_precision_labels(dtype):
    labels = torch.from_numpy(_ring())[None, None].float()
    logits = torch.randn(1, 1, 12, 12)
    expected = SkeletonRecallLoss(sigmoid=True)(logits, labels)
    value = SkeletonRecallLoss(sigmoid=True)(logits.to(dtype), labels.to(dtype))
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, expected, atol=1e-2, rtol=1e-2)


# --------------------------------------------------------------------------------------------------- size limits
def _view(n_pixels: int, shape_2d: bool = True) -> np.ndarray:
    """A uint8 view of ``n_pixels`` pixels that takes no memory (zero strides): only a check before any copy
    can refuse it without a MemoryError."""
    side = int(np.ceil(np.sqrt(n_pixels)))
    shape = (side, side) if shape_2d else (side, side, 1)
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=shape, strides=(0,) * len(shape))


def test_persistence_refuses_images_over_its_limit_before_any_copy():
    huge = _view(2**32)
    assert huge.size > MAX_PIXELS
    for call in (lambda: persistence(huge), lambda: persistence([huge]), lambda: betti_numbers(huge)):
        with pytest.raises(ValueError, match=r"at most 4,294,967,294 pixels .*32-bit integers.*but got"):
            call()


def test_betti_matching_states_its_own_limit_before_any_copy():
    huge = _view(MAX_MATCHING_PIXELS + 1, shape_2d=False)
    assert MAX_MATCHING_PIXELS < huge.size < MAX_PIXELS
    with pytest.raises(ValueError, match=r"Expected `prediction` to have at most 1,431,655,763 pixels \(a Betti matching"):
        betti_matching(huge, huge)
    assert "1,431,655,763 pixels" in betti_matching.__doc__


# ------------------------------------------------------------------------------------------- not real numbers
@pytest.mark.parametrize("dtype", ["timedelta64[s]", "datetime64[D]", "complex128", "U1", "object"])
def test_arrays_that_do_not_hold_real_numbers_are_refused(dtype):
    image = np.zeros((4, 4), dtype=dtype) if dtype != "object" else np.full((4, 4), None)
    for call in (lambda: persistence(image), lambda: betti_numbers(image), lambda: betti_matching(image, image)):
        with pytest.raises(TypeError, match=r"Expected `(image|mask|prediction)` to hold real numbers"):
            call()
    with pytest.raises(TypeError):
        dice(image, image)


def test_ragged_lists_are_refused_with_our_message():
    with pytest.raises(TypeError, match=r"Expected `image\[0\]` to be an array, but got list"):
        persistence([[[1.0, 2.0], [3.0]]])


# ------------------------------------------------------------------------------------------------- tile sizes
@pytest.mark.parametrize("tile_size", [2.5, True, (2.5, 3), (4,), (4, 0), "8", None, ()])
def test_bad_tile_sizes_are_named(tile_size):
    mask = _ring()
    with pytest.raises(ValueError, match=r"Expected `tile_size` to be a positive int or 2 positive ints"):
        local_betti_errors(mask, mask, tile_size=tile_size)
    if tile_size != (4,):  # the class cannot know the images' rank before it sees them
        with pytest.raises(ValueError, match=r"Expected `tile_size`"):
            LocalBettiErrorMetric(tile_size=tile_size)


def test_good_tile_sizes_of_any_integer_type():
    mask = _ring()
    expected = local_betti_errors(mask, mask, tile_size=6)
    for tile_size in (np.int64(6), (6, 6), [6, np.int32(6)], np.array([6, 6])):
        np.testing.assert_array_equal(local_betti_errors(mask, mask, tile_size=tile_size), expected)


# ------------------------------------------------------------------------------------------------- bar order
def test_essential_bar_comes_first_when_finite_lengths_overflow():
    # Bars from 1.7e308 to -1.7e308 have a length that overflows to inf, the essential bar's length.
    big = 1.7e308
    image = np.full((5, 5), -big)
    image[0, 0], image[0, 4], image[4, 0], image[4, 4] = big, 0.9 * big, 0.8 * big, big
    for filtration in ("superlevel", "sublevel"):
        signed = image if filtration == "superlevel" else -image
        ours = persistence(signed, filtration=filtration, backend="cpu")
        reference = persistence(signed, filtration=filtration, backend="gudhi")
        for barcode in (ours, reference):
            bars = barcode.intervals(0)
            assert len(bars) == 4 and np.isinf(bars[0, 1]) and np.isfinite(bars[1:]).all()
        np.testing.assert_array_equal(ours.intervals(0), reference.intervals(0))


# ------------------------------------------------------------------------------------------ metric class input
@pytest.mark.parametrize("metric", [BettiErrorMetric, BettiMatchingErrorMetric, ClDiceMetric, LocalBettiErrorMetric])
def test_metric_classes_refuse_numpy_with_a_type_error(metric):
    y = np.ones((1, 1, 8, 8))
    with pytest.raises(TypeError, match=r"Expected `y_pred` to be a torch tensor .* but got ndarray"):
        metric()(y, torch.from_numpy(y))
    with pytest.raises(TypeError, match=r"Expected `y` to be a torch tensor .* but got list of ndarray"):
        metric()(torch.from_numpy(y), [y[0]])
    # MONAI's list form stays accepted
    values = metric()([torch.ones(1, 8, 8)], [torch.ones(1, 8, 8)])
    assert values.shape[:2] == (1, 1)


def test_betti_matching_loss_refuses_logits_without_an_activation():
    # 2 * 1e300**2 overflowed to inf; values outside [0, 1] are not probabilities (found by tests/test_fuzz.py).
    from seglosses.losses import BettiMatchingLoss

    for value in (1e300, 3.0, -0.5):
        with pytest.raises(ValueError, match=r"Expected `input` to be probabilities in \[0, 1\] after the activation"):
            BettiMatchingLoss()(torch.full((1, 1, 4, 4), value, dtype=torch.float64), torch.zeros(1, 1, 4, 4))
    logits = torch.full((1, 1, 4, 4), 1e300, dtype=torch.float64)
    assert torch.isfinite(BettiMatchingLoss(sigmoid=True)(logits, torch.zeros(1, 1, 4, 4)))


@pytest.mark.parametrize("bad", [None, "label", [[1, 2], [3]], np.zeros((1, 0, 4, 4)), np.full((1, 4, 4, 2), np.nan)])
def test_mip_target_refuses_what_is_not_a_volume(bad):
    with pytest.raises((TypeError, ValueError), match=r"Expected `label`"):
        MIPTarget()(bad)


def test_metric_classes_refuse_empty_batches():
    with pytest.raises(TypeError, match=r"but got list of nothing"):
        BettiErrorMetric()([], [])
    with pytest.raises(ValueError, match=r"Expected `y_pred` to be non-empty"):
        BettiErrorMetric()(torch.zeros(0, 1, 4, 4), torch.zeros(0, 1, 4, 4))


def test_one_checks_module_one_rule_for_flags_given_as_numbers():
    """True is a mistake where a number or a count belongs, in every part of the package alike (the losses' old
    validator took it for 1, the sampling weights refused it)."""
    import seglosses
    from seglosses.transforms import SkeletonSamplingWeights, SkeletonTube

    for make in (
        lambda: seglosses.DiceLoss(smooth_nr=True),
        lambda: seglosses.DiceclDiceLoss(alpha=True),
        lambda: SkeletonSamplingWeights(junction_weight=True),
    ):
        with pytest.raises(TypeError, match=r"Expected `\w+` to be a number, but got bool"):
            make()
    for make in (lambda: seglosses.SoftclDiceLoss(iterations=True), lambda: SkeletonTube(radius=True)):
        with pytest.raises(ValueError, match=r"Expected `\w+` to be a non-negative integer, but got True"):
            make()
