"""Behaviour every loss of ``seglosses.losses`` must show, checked on each through one registry.

A loss is listed in ``LOSSES`` with the settings it is built with here, the spatial dimensions it accepts
and its documented values on the edge cases. Losses missing from ``seglosses.losses`` are skipped with a
reason, so this file works while the package grows. Every loss is used the same way:
``Loss(softmax=True, to_onehot_y=True, include_background=False, ...)(logits, labels)`` with (B, 2, *spatial)
logits and (B, 1, *spatial) class indices.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

# Logits of this size make softmax probabilities 0 or 1 up to exp(-2 * 20) ~ 4e-18.
CERTAIN = 20.0
CE_OF_A_CERTAIN_MISTAKE = math.log1p(math.exp(2 * CERTAIN))  # -log softmax of the wrong class, about 40


@dataclass(frozen=True)
class LossSpec:
    """How the behaviour tests build and feed one loss.

    ``edge_values``: the documented value (with the defaults' smoothing, up to 1e-4) for a prediction and a
    target that are each all background ("empty") or all foreground ("full"), keyed (prediction, target).
    """

    name: str
    kwargs: dict = field(default_factory=dict)
    dims: tuple[int, ...] = (2, 3)
    edge_values: dict = field(default_factory=dict)
    # MONAI's `batch` (sum over the batch before a ratio) exists only for ratio losses.
    has_batch: bool = True
    # Ratio losses lie in [0, 1] (their sums with CE a little above); sums over features are unbounded.
    bounded: bool = True


_ZERO_ON_AGREEMENT = {("empty", "empty"): 0.0, ("full", "full"): 0.0}
LOSSES = {
    spec.name: spec
    for spec in (
        LossSpec("DiceLoss", dims=(1, 2, 3), edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 1.0, ("empty", "full"): 1.0}),
        LossSpec(
            "DiceCELoss", dims=(1, 2, 3),
            edge_values={
                **_ZERO_ON_AGREEMENT,
                ("full", "empty"): 1.0 + CE_OF_A_CERTAIN_MISTAKE,
                ("empty", "full"): 1.0 + CE_OF_A_CERTAIN_MISTAKE,
            },
        ),
        # A constant map has an empty soft skeleton, so both ratios are 1 whatever the other map is.
        LossSpec(
            "SoftclDiceLoss", dict(iterations=2), dims=(1, 2, 3),
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 0.0, ("empty", "full"): 0.0},
        ),
        LossSpec(
            "DiceclDiceLoss", dict(iterations=2), dims=(1, 2, 3),
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 0.5, ("empty", "full"): 0.5},
        ),
        # As clDice: constant maps have empty soft skeletons, so both weighted ratios are 1.
        LossSpec(
            "cbDiceLoss", dict(iterations=2), dims=(2, 3),
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 0.0, ("empty", "full"): 0.0},
        ),
        # An empty tube gives 0; a full target's tube is missed entirely by an empty prediction.
        LossSpec(
            "SkeletonRecallLoss", dims=(1, 2, 3),
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 0.0, ("empty", "full"): 1.0},
        ),
        # A sum over bars: only the essential components differ (births 1 and 0, deaths at 0): 2 * 1^2.
        LossSpec(
            "BettiMatchingLoss", dict(num_threads=1), has_batch=False, bounded=False,
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 2.0, ("empty", "full"): 2.0},
        ),
        # Only the essential components differ: one unmatched point (1, 0) or label feature, 1/2 (b - d)^2 = 1/2.
        LossSpec(
            "HuTopoLoss", dict(num_threads=1), has_batch=False, bounded=False,
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 0.5, ("empty", "full"): 0.5},
        ),
        # A constant prediction against a constant target is one region of the overlay: no graph, no loss.
        LossSpec(
            "TopographLoss", dims=(2,), has_batch=False, bounded=False,
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 0.0, ("empty", "full"): 0.0},
        ),
        # Constant maps that disagree: nothing can be warped (no pixel of an empty map can be added, the last pixel
        # of a full one cannot be removed), so every pixel is critical: the cross-entropy of a certain mistake.
        LossSpec(
            "WarpingLoss", has_batch=False, bounded=False,
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): CE_OF_A_CERTAIN_MISTAKE,
                         ("empty", "full"): CE_OF_A_CERTAIN_MISTAKE},
        ),
        LossSpec(
            "MIPLoss", dict(axes=(-3, -2, -1)), dims=(3,),
            edge_values={**_ZERO_ON_AGREEMENT, ("full", "empty"): 1.0, ("empty", "full"): 1.0},
        ),
    )
}
NAMES = list(LOSSES)
SHAPES = {1: (11,), 2: (7, 8), 3: (5, 6, 4)}
CONV = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}


def make_loss(name: str, **overrides):
    """``name``'s module with the common settings; skips the test when the package does not have it yet."""
    spec = LOSSES[name]
    try:
        cls = getattr(importlib.import_module("seglosses.losses"), name)
    except (ImportError, AttributeError) as error:
        pytest.skip(f"{name} is not available in seglosses.losses ({error})")
    settings = dict(softmax=True, to_onehot_y=True, include_background=False, **spec.kwargs)
    settings.update(overrides)
    return cls(**settings)


def make_inputs(dims: int, *, batch: int = 2, channels: int = 2, dtype=torch.float32, seed: int = 0, spatial=None):
    """(B, C, *spatial) logits of a noisy guess of a random label, and the (B, 1, *spatial) labels."""
    generator = torch.Generator().manual_seed(seed)
    spatial = spatial or SHAPES[dims]
    smooth = torch.rand((batch, 1, *spatial), generator=generator, dtype=torch.float64)
    labels = (smooth > 0.5).long() * torch.randint(1, channels, (batch, 1, *spatial), generator=generator)
    onehot = torch.zeros((batch, channels, *spatial), dtype=torch.float64).scatter_(1, labels, 1.0)
    logits = 2 * onehot + torch.randn((batch, channels, *spatial), generator=generator, dtype=torch.float64)
    return logits.to(dtype), labels


def cases(dims_filter=None):
    """(loss name, dims) pairs for parametrisation."""
    return [
        pytest.param(name, dims, id=f"{name}-{dims}d")
        for name in NAMES
        for dims in LOSSES[name].dims
        if dims_filter is None or dims in dims_filter
    ]


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize("include_background", [True, False])
def test_reduction_none_keeps_samples_and_classes(name, dims, include_background):
    logits, labels = make_inputs(dims, batch=3, channels=3)
    values = make_loss(name, reduction="none", include_background=include_background)(logits, labels)
    assert values.shape == (3, 3 if include_background else 2)
    mean = make_loss(name, reduction="mean", include_background=include_background)(logits, labels)
    total = make_loss(name, reduction="sum", include_background=include_background)(logits, labels)
    assert mean.shape == total.shape == ()
    torch.testing.assert_close(mean, values.mean())
    torch.testing.assert_close(total, values.sum())
    if LOSSES[name].has_batch:
        batched = make_loss(name, reduction="none", include_background=include_background, batch=True)(logits, labels)
        assert batched.shape == (1, values.shape[1])


@pytest.mark.parametrize(("name", "dims"), cases())
def test_gradcheck_float64(name, dims):
    # Small inputs: finite differences cost two loss evaluations per element.
    spatial = {1: (7,), 2: (5, 4), 3: (4, 3, 3)}[dims]
    logits, labels = make_inputs(dims, batch=2 if dims == 2 else 1, dtype=torch.float64, seed=1, spatial=spatial)
    loss = make_loss(name, reduction="none")
    assert torch.autograd.gradcheck(lambda x: loss(x, labels), (logits.requires_grad_(),), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize("prediction", ["empty", "full"])
@pytest.mark.parametrize("target", ["empty", "full"])
def test_documented_values_on_empty_and_full_masks(name, dims, prediction, target):
    spatial = SHAPES[dims]
    labels = torch.full((2, 1, *spatial), 1 if target == "full" else 0)
    foreground = 1.0 if prediction == "full" else 0.0
    logits = torch.stack([torch.full(spatial, -CERTAIN), torch.full(spatial, CERTAIN)])
    logits = (logits if foreground else logits.flip(0)).expand(2, 2, *spatial).clone().requires_grad_()
    value = make_loss(name)(logits, labels)
    (grad,) = torch.autograd.grad(value, logits)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    expected = LOSSES[name].edge_values[(prediction, target)]
    assert value.item() == pytest.approx(expected, abs=1e-4, rel=1e-4)


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize("scale", [1e-3, 1.0, 60.0])
def test_gradients_are_finite_for_any_logit_scale(name, dims, scale):
    logits, labels = make_inputs(dims, seed=2)
    logits = (logits * scale).requires_grad_()
    (grad,) = torch.autograd.grad(make_loss(name)(logits, labels), logits)
    assert torch.isfinite(grad).all()


def _bad_inputs(dims):
    logits, labels = make_inputs(dims)
    spatial = logits.shape[2:]
    nan_logits = logits.clone()
    nan_logits[0, 0, (0,) * dims] = float("nan")
    inf_logits = logits.clone()
    inf_logits[..., -1] = float("inf")
    return {
        "rank": (logits.flatten(1), labels.flatten(1), ValueError, r"Expected `input` to be .*but got shape"),
        "mismatched": (
            logits, labels[..., :-1], ValueError, r"Expected `target` \(class indices\) to have shape",
        ),
        "integer logits": (logits.long(), labels, TypeError, r"Expected `input` to be a floating point tensor"),
        "nan": (nan_logits, labels, ValueError, r"Expected `input` to contain only finite values, but got NaN or Inf"),
        "inf": (inf_logits, labels, ValueError, r"Expected `input` to contain only finite values, but got NaN or Inf"),
        "label too large": (logits, labels + 2, ValueError, r"Expected `target` labels in \[0, 2\)"),
        "negative label": (logits, labels - 1, ValueError, r"Expected `target` labels in \[0, 2\)"),
        "target rank": (
            logits, labels.flatten(1), ValueError, r"Expected `target` to have the same number of dimensions",
        ),
        "spatial": (
            logits, torch.zeros((2, 1, *(s + 1 for s in spatial)), dtype=torch.long), ValueError, r"to have shape",
        ),
    }


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize(
    "case",
    [
        "rank", "mismatched", "integer logits", "nan", "inf", "label too large", "negative label", "target rank",
        "spatial",
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(name, dims, case):
    logits, labels, error, match = _bad_inputs(dims)[case]
    loss = make_loss(name)
    with pytest.raises(error, match=match):
        loss(logits, labels)


@pytest.mark.parametrize("name", NAMES)
def test_more_than_one_activation_is_rejected(name):
    message = r"Expected at most one of `sigmoid`, `softmax` and `other_act` to be set, but got `sigmoid`, `softmax`"
    with pytest.raises(ValueError, match=message):
        make_loss(name, sigmoid=True)
    with pytest.raises(TypeError, match=r"Expected `other_act` to be callable or None, but got int"):
        make_loss(name, softmax=False, other_act=3)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_reduction_is_rejected(name):
    with pytest.raises(ValueError, match=r"Expected `reduction` to be one of \('none', 'mean', 'sum'\), but got 'avg'"):
        make_loss(name, reduction="avg")


@pytest.mark.parametrize(("name", "dims"), cases())
def test_autocast_bfloat16(name, dims):
    # Logits come out of a network layer under autocast, in bfloat16, as in mixed-precision training.
    torch.manual_seed(3)
    features, labels = make_inputs(dims, channels=2, seed=3)
    conv = CONV[dims](2, 2, 1)
    loss = make_loss(name)
    reference = loss(conv(features), labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = conv(features)
        assert logits.dtype == torch.bfloat16
        value = loss(logits, labels)
    value.backward()
    assert all(torch.isfinite(p.grad).all() for p in conv.parameters())
    torch.testing.assert_close(value.float(), reference, atol=3e-2, rtol=3e-2)


@pytest.mark.data
@pytest.mark.parametrize("name", [n for n in NAMES if 2 in LOSSES[n].dims])
def test_topomortar_label_smoke(data_root, name):
    from skimage.io import imread

    paths = sorted((data_root / "topomortar" / "train" / "accurate").glob("*.png"))
    if not paths:
        pytest.skip("no TopoMortar labels found")
    mask = imread(paths[0]) > 0
    mask = torch.from_numpy(np.ascontiguousarray(mask.reshape(mask.shape[:2])[:128, :128]))
    labels = mask.long()[None, None]
    generator = torch.Generator().manual_seed(4)
    logits = torch.stack([-2.0 * mask, 2.0 * mask]).float()[None] + torch.randn((1, 2, 128, 128), generator=generator)
    logits.requires_grad_()
    value = make_loss(name)(logits, labels)
    value.backward()
    assert 0.0 <= value.item() and (value.item() < 2.0 or not LOSSES[name].bounded)
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


@pytest.mark.data
@pytest.mark.parametrize("name", [n for n in NAMES if 3 in LOSSES[n].dims])
def test_vesselnn_crop_smoke(data_root, name):
    nib = pytest.importorskip("nibabel")
    paths = sorted((data_root / "vesselnn" / "labels").glob("*.nii.gz"))
    if not paths:
        pytest.skip("no vesselNN labels found")
    volume = np.asarray(nib.load(paths[0]).dataobj)[:48, :48, :10] > 0
    mask = torch.from_numpy(np.ascontiguousarray(volume))
    labels = mask.long()[None, None]
    generator = torch.Generator().manual_seed(5)
    noise = torch.randn((1, 2, *mask.shape), generator=generator)
    logits = torch.stack([-2.0 * mask, 2.0 * mask]).float()[None] + noise
    logits.requires_grad_()
    value = make_loss(name)(logits, labels)
    value.backward()
    assert 0.0 <= value.item() and (value.item() < 2.0 or not LOSSES[name].bounded)
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


# ----------------------------------------------------------------------------------------------- half precision
HALF = {"float16": torch.float16, "bfloat16": torch.bfloat16}
# Spatial sizes over 65,504 voxels, the float16 maximum: a half-precision sum over one channel overflows there.
LARGE = {1: (70_000,), 2: (300, 300), 3: (48, 48, 32)}


def _half_case(case: str, dims: int):
    """(logits float32, labels) of the valid inputs that broke half precision (issue 17)."""
    spatial = SHAPES[dims]
    if case == "random":
        return make_inputs(dims, seed=6)
    if case == "absent class":  # class 1 absent, the network certain of it: gradient 1/smooth_dr in half
        logits = torch.stack([torch.full(spatial, CERTAIN), torch.full(spatial, -CERTAIN)])
        return logits.expand(2, 2, *spatial).clone(), torch.zeros((2, 1, *spatial), dtype=torch.long)
    # Confident and right on a box, on a volume larger than float16's range ("large"), or on the registry's shape.
    spatial = LARGE[dims] if case == "large" else spatial
    labels = torch.zeros((1, 1, *spatial), dtype=torch.long)
    labels[(0, 0, *(slice(s // 4, 3 * s // 4) for s in spatial))] = 1
    onehot = torch.cat([1 - labels, labels], 1).float()
    return (2 * onehot - 1) * (CERTAIN if case == "confident" else 5.0), labels


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize("dtype", list(HALF))
@pytest.mark.parametrize("case", ["random", "absent class", "confident", "large"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_half_precision_input_is_computed_in_float32(name, dims, dtype, case, reduction):
    # Plain half-precision logits: finite value and gradients, float32 out, and the float32 loss of the same values.
    logits, labels = _half_case(case, dims)
    half = logits.to(HALF[dtype]).requires_grad_()
    loss = make_loss(name, reduction=reduction)
    value = loss(half, labels)
    (grad,) = torch.autograd.grad(value, half)
    assert value.dtype == torch.float32
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    same_values = half.detach().float().requires_grad_()
    reference = loss(same_values, labels)
    (reference_grad,) = torch.autograd.grad(reference, same_values)
    torch.testing.assert_close(value, reference)
    torch.testing.assert_close(grad.float(), reference_grad.to(HALF[dtype]).float())
    # Against the unrounded float32 logits only the rounding of the input differs (README, "Half precision":
    # measured at most 0.3% for bfloat16, 0.015% for float16 on these cases).
    torch.testing.assert_close(value, loss(logits, labels), atol=1e-2, rtol=5e-3)


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize("dtype", list(HALF))
@pytest.mark.parametrize("case", ["absent class", "large"])
def test_half_precision_under_autocast(name, dims, dtype, case):
    # Logits from a layer under autocast, in the half dtype, as in mixed-precision training: finite loss and
    # parameter gradients, close to the float32 run.
    logits, labels = _half_case(case, dims)
    conv = CONV[dims](2, 2, 1)
    with torch.no_grad():  # an identity layer, so that the logits are those of the case
        conv.weight.copy_(torch.eye(2).reshape(conv.weight.shape))
        conv.bias.zero_()
    loss = make_loss(name)
    reference = loss(conv(logits), labels)
    with torch.autocast("cpu", dtype=HALF[dtype]):
        half = conv(logits)
        assert half.dtype == HALF[dtype]
        value = loss(half, labels)
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert all(torch.isfinite(p.grad).all() for p in conv.parameters())
    torch.testing.assert_close(value, reference.detach(), atol=1e-2, rtol=5e-3)


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize("shape", ["batch 0", "channels 0", "spatial 0"])
def test_empty_axes_are_rejected_alike_by_every_loss(name, dims, shape):
    spatial = list(SHAPES[dims])
    batch, channels = 2, 2
    if shape == "batch 0":
        batch = 0
    elif shape == "channels 0":
        channels = 0
    else:
        spatial[0] = 0
    logits = torch.zeros((batch, channels, *spatial))
    labels = torch.zeros((batch, 1, *spatial), dtype=torch.long)
    with pytest.raises(ValueError, match=r"Expected `input` to have at least one sample, one channel and non-empty"):
        make_loss(name)(logits, labels)


@pytest.mark.parametrize(("name", "dims"), cases())
@pytest.mark.parametrize("bad", [2.0, -0.5, float("nan")])
def test_one_hot_targets_outside_the_unit_interval_are_rejected(name, dims, bad):
    logits, labels = make_inputs(dims)
    target = torch.cat([1 - labels, labels], 1).float()
    target[0, 0, (0,) * dims] = bad
    message = "only finite values" if bad != bad else r"values in \[0, 1\]"
    with pytest.raises(ValueError, match=rf"Expected `target` (to contain {message}|{message})"):
        make_loss(name, to_onehot_y=False)(logits, target)


@pytest.mark.parametrize("name", [n for n in NAMES if 1 not in LOSSES[n].dims])
def test_losses_without_a_1d_form_say_which_ranks_they_take(name):
    logits, labels = make_inputs(2)
    with pytest.raises(ValueError, match=r"Expected `input` to be (4D|5D).*but got shape \(2, 2, 56\)"):
        make_loss(name)(logits.flatten(2), labels.flatten(2))


@pytest.mark.parametrize("name", NAMES)
def test_settings_are_attributes_checked_by_the_function_too(name):
    loss = make_loss(name)
    for key, value in loss.settings.items():
        assert getattr(loss, key) is value or getattr(loss, key) == value
    assert "reduction='mean'" in repr(loss)
    logits, labels = make_inputs(LOSSES[name].dims[-1])
    loss.reduction = "none"  # a setting changed after construction takes effect ...
    assert loss(logits, labels).dim() == 2
    loss.reduction = "average"  # ... and is checked by the same validator as at construction
    with pytest.raises(ValueError, match="`reduction`"):
        loss(logits, labels)
    with pytest.raises(ValueError, match="`reduction`"):
        make_loss(name, reduction="average")
