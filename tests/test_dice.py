"""Dice and DiceCE against MONAI (values and gradients), our (B, C) "none" shape, and argument checks."""

from __future__ import annotations

import warnings

import monai.losses
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.networks import one_hot

from seglosses.losses import DiceCELoss, DiceLoss, dice_ce_loss, dice_loss


@st.composite
def dice_cases(draw, *, allow_sigmoid=True):
    """Random inputs and a random combination of Dice options (float32, 1 to 4 spatial axes, as MONAI takes)."""
    dims = draw(st.sampled_from([1, 2, 3, 4]))
    batch_size = draw(st.integers(1, 3))
    channels = draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(1, 6 if dims < 4 else 3)) for _ in range(dims))
    seed = draw(st.integers(0, 2**31 - 1))
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn((batch_size, channels, *spatial), generator=generator) * 3
    labels = torch.randint(0, channels, (batch_size, 1, *spatial), generator=generator)
    to_onehot_y = draw(st.booleans())
    # Float class indices: MONAI's squared_pred path fails on integer targets that it does not one-hot encode (C = 1).
    target = labels.float() if to_onehot_y else one_hot(labels, channels)
    activation = draw(st.sampled_from(["softmax", "sigmoid", "none"] if allow_sigmoid else ["softmax", "none"]))
    options = dict(
        include_background=draw(st.booleans()),
        to_onehot_y=to_onehot_y,
        sigmoid=activation == "sigmoid",
        softmax=activation == "softmax",
        batch=draw(st.booleans()),
        smooth_nr=draw(st.sampled_from([0.0, 1e-5, 1.0])),
        smooth_dr=draw(st.sampled_from([1e-5, 1.0])),
    )
    if activation == "none":
        logits = torch.softmax(logits, 1)
    return logits, target, options


def _quietly(fn, *args, **kwargs):
    # Single-channel cases make both libraries warn that softmax/one-hot/background are ignored.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


@settings(max_examples=80)
@given(
    case=dice_cases(), squared_pred=st.booleans(), jaccard=st.booleans(),
    reduction=st.sampled_from(["none", "mean", "sum"]),
)
def test_dice_equals_monai(case, squared_pred, jaccard, reduction):
    logits, target, options = case
    options.update(squared_pred=squared_pred, jaccard=jaccard)
    ours = _quietly(dice_loss, logits, target, reduction=reduction, **options)
    theirs = _quietly(monai.losses.DiceLoss(reduction=reduction, **options), logits, target)
    if reduction == "none":
        channels = logits.shape[1] - (0 if options["include_background"] or logits.shape[1] == 1 else 1)
        assert ours.shape == (1 if options["batch"] else logits.shape[0], channels)
        theirs = theirs.reshape(ours.shape)
    # MONAI's operations in MONAI's order: equal to the bit, not merely close.
    assert torch.equal(ours, theirs), (ours, theirs)


@settings(max_examples=40)
@given(case=dice_cases(), weighted=st.booleans(), label_smoothing=st.sampled_from([0.0, 0.1]),
       lambdas=st.sampled_from([(1.0, 1.0), (0.3, 2.0), (0.0, 1.0)]))
def test_dice_ce_mean_equals_monai(case, weighted, label_smoothing, lambdas):
    logits, target, options = case
    if not (options["sigmoid"] or options["softmax"]):
        logits = torch.log(logits)  # the cross-entropy term needs logits; the Dice term then sees probabilities
    channels = logits.shape[1]
    weight = torch.linspace(0.5, 2.0, channels) if weighted else None
    settings_ = dict(
        options, weight=weight, lambda_dice=lambdas[0], lambda_ce=lambdas[1], label_smoothing=label_smoothing
    )
    ours = _quietly(dice_ce_loss, logits, target, **settings_)
    theirs = _quietly(monai.losses.DiceCELoss(**settings_), logits, target)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_dice_ce_none_and_sum_are_consistent_with_the_terms():
    torch.manual_seed(0)
    logits, labels = torch.randn(3, 3, 6, 7), torch.randint(0, 3, (3, 1, 6, 7))
    kwargs = dict(softmax=True, to_onehot_y=True, include_background=False)
    values = dice_ce_loss(logits, labels, reduction="none", lambda_ce=0.5, **kwargs)
    dice = dice_loss(logits, labels, reduction="none", **kwargs)
    per_sample_ce = torch.nn.functional.cross_entropy(logits, labels[:, 0], reduction="none").mean((1, 2))
    assert values.shape == (3, 2)
    torch.testing.assert_close(values, dice + 0.5 * per_sample_ce[:, None])
    torch.testing.assert_close(dice_ce_loss(logits, labels, reduction="sum", lambda_ce=0.5, **kwargs), values.sum())
    torch.testing.assert_close(dice_ce_loss(logits, labels, reduction="mean", lambda_ce=0.5, **kwargs), values.mean())


@pytest.mark.parametrize("shape", [(2, 3, 7), (2, 3, 5, 6), (2, 2, 4, 3, 5)])
def test_dice_gradients_equal_monai(shape):
    torch.manual_seed(1)
    logits = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, shape[1], (shape[0], 1, *shape[2:]))
    for ours_fn, theirs in ((dice_loss, monai.losses.DiceLoss), (dice_ce_loss, monai.losses.DiceCELoss)):
        kwargs = dict(softmax=True, to_onehot_y=True, include_background=False)
        (ours,) = torch.autograd.grad(ours_fn(logits, labels, **kwargs), logits)
        (ref,) = torch.autograd.grad(theirs(**kwargs)(logits, labels), logits)
        torch.testing.assert_close(ours, ref)


def test_modules_call_the_functions():
    torch.manual_seed(2)
    logits, labels = torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))
    kwargs = dict(softmax=True, to_onehot_y=True, batch=True, reduction="none")
    torch.testing.assert_close(DiceLoss(**kwargs)(logits, labels), dice_loss(logits, labels, **kwargs))
    torch.testing.assert_close(
        DiceCELoss(lambda_dice=0.7, **kwargs)(logits, labels), dice_ce_loss(logits, labels, lambda_dice=0.7, **kwargs)
    )


def test_class_weights_multiply_dice_values():
    torch.manual_seed(3)
    logits, labels = torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 1, 8, 8))
    plain = dice_loss(logits, labels, softmax=True, to_onehot_y=True, reduction="none")
    weighted = dice_loss(logits, labels, softmax=True, to_onehot_y=True, reduction="none", weight=[0.0, 1.0, 2.0])
    torch.testing.assert_close(weighted, plain * torch.tensor([0.0, 1.0, 2.0]))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(weight=[1.0, 2.0]), ValueError, r"Expected `weight` to have one value per channel \(3 after"),
        (dict(weight=[1.0, -2.0, 1.0]), ValueError, r"Expected `weight` to be a non-negative finite number"),
        (dict(weight="heavy"), TypeError, r"Expected `weight` to be a number, a sequence of numbers or a tensor"),
        (dict(smooth_nr=-1.0), ValueError, r"Expected `smooth_nr` to be a finite number >= 0, but got -1.0"),
        (dict(smooth_dr=float("nan")), ValueError, r"Expected `smooth_dr` to be a finite number >= 0"),
        (dict(reduction="avg"), ValueError, r"Expected `reduction` to be one of \('none', 'mean', 'sum'\).*'avg'"),
    ],
)
def test_dice_argument_errors(kwargs, error, match):
    logits, labels = torch.randn(1, 3, 4, 4), torch.randint(0, 3, (1, 1, 4, 4))
    with pytest.raises(error, match=match):
        dice_loss(logits, labels, softmax=True, to_onehot_y=True, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lambda_ce=-1.0), r"Expected `lambda_ce` to be a finite number >= 0, but got -1.0"),
        (dict(lambda_dice=-0.5), r"Expected `lambda_dice` to be a finite number >= 0, but got -0.5"),
        (dict(label_smoothing=1.5), r"Expected `label_smoothing` to be in \[0, 1\], but got 1.5"),
        (dict(weight=[1.0, 1.0]), r"Expected `weight` to have one value per channel of `input` \(3\), but got 2"),
    ],
)
def test_dice_ce_argument_errors(kwargs, match):
    logits, labels = torch.randn(1, 3, 4, 4), torch.randint(0, 3, (1, 1, 4, 4))
    with pytest.raises(ValueError, match=match):
        dice_ce_loss(logits, labels, softmax=True, to_onehot_y=True, **kwargs)
    if "weight" not in kwargs:
        with pytest.raises(ValueError, match=match):
            DiceCELoss(softmax=True, to_onehot_y=True, **kwargs)


def test_module_weight_is_a_buffer_and_repr_shows_the_settings():
    # As MONAI's DiceLoss: the class weights move with .to() and are saved with the model.
    loss = DiceLoss(weight=[1, 2], softmax=True)
    assert torch.equal(loss.state_dict()["class_weight"], torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert "weight=[1.0, 2.0]" in repr(loss) and "softmax=True" in repr(loss)
    assert DiceLoss().state_dict() == {}
    x, y = torch.randn(2, 2, 6, 6), torch.randint(0, 2, (2, 1, 6, 6))
    reloaded = DiceLoss(weight=[5, 5], softmax=True, to_onehot_y=True)
    reloaded.load_state_dict(DiceLoss(weight=[1, 2]).state_dict())
    assert set(monai.losses.DiceLoss(weight=[1, 2]).state_dict()) == set(reloaded.state_dict())  # same key
    expected = DiceLoss(weight=[1, 2], softmax=True, to_onehot_y=True)(x, y)
    torch.testing.assert_close(reloaded(x, y), expected)
