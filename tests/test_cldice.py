"""Soft skeleton and clDice losses against MONAI (values and gradients), exact gradients, memory structure.

Mapping to MONAI used throughout (see ``soft_cldice_loss``): MONAI's ``SoftclDiceLoss(iter_=K, smooth_nr=s,
smooth_dr=s, smooth=eps)`` pools channels and adds ``eps`` to the harmonic mean; ours is per class with no
such term. So for one channel after ``include_background`` the values agree to float precision with a tiny
``eps`` and within ``eps / 2`` with MONAI's default; for several channels ours[:, c] is MONAI on channel c.
"""

from __future__ import annotations

import monai
import monai.losses
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from monai.losses.cldice import soft_skel
from packaging.version import Version

import seglosses.ops.soft as cldice_module
from seglosses.losses import DiceclDiceLoss, SoftclDiceLoss, dice_cldice_loss, soft_cldice_loss, soft_skeleton

TINY = 1e-30  # MONAI's harmonic-mean term, made negligible (MONAI requires it to be positive)
# MONAI's clDice classes took (y_true, y_pred) probabilities without activation options before 1.5.
needs_monai_15 = pytest.mark.skipif(
    Version(monai.__version__) < Version("1.5"), reason=f"MONAI {monai.__version__} has the pre-1.5 clDice API"
)


def _maps(shape, seed, dtype=torch.float64):
    """Probability-like maps with some structure: smoothed noise, so skeletons are not trivial."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(shape, generator=generator, dtype=dtype)
    if min(shape[2:]) < 3:
        return noise
    pool = torch.nn.functional.avg_pool2d if len(shape) == 4 else torch.nn.functional.avg_pool3d
    return pool(noise, 3, stride=1, padding=1, count_include_pad=False)


@st.composite
def skeleton_inputs(draw):
    dims = draw(st.sampled_from([2, 3]))
    spatial = tuple(draw(st.integers(1, 12 if dims == 2 else 7)) for _ in range(dims))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial)
    return _maps(shape, draw(st.integers(0, 2**31 - 1))), draw(st.integers(0, 6))


@settings(max_examples=30)
@given(case=skeleton_inputs())
def test_soft_skeleton_values_and_gradients_equal_monai(case):
    x, iterations = case
    x.requires_grad_()
    ours, theirs = soft_skeleton(x, iterations), soft_skel(x, iterations)
    assert torch.equal(ours, theirs)  # same float operations in the same order
    cotangent = torch.randn_like(x)
    (grad_ours,) = torch.autograd.grad(ours, x, cotangent)
    (grad_theirs,) = torch.autograd.grad(theirs, x, cotangent)
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-12, atol=1e-12)


@settings(max_examples=30)
@given(length=st.integers(1, 40), seed=st.integers(0, 2**31 - 1), iterations=st.integers(0, 6))
def test_1d_soft_skeleton_is_monais_on_a_one_row_image(length, seed, iterations):
    # MONAI's soft_skel is 2D/3D only; on a (B, C, 1, N) image its pools along the height of 1 change nothing,
    # so it is the 1D skeleton (B, C, N): values and gradients must agree.
    x = torch.rand((2, 2, length), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = torch.nn.functional.avg_pool1d(x, 3, stride=1, padding=1, count_include_pad=False).requires_grad_()
    ours, theirs = soft_skeleton(x, iterations), soft_skel(x[:, :, None], iterations)[:, :, 0]
    assert torch.equal(ours, theirs)
    cotangent = torch.randn_like(x)
    (grad_ours,) = torch.autograd.grad(ours, x, cotangent)
    (grad_theirs,) = torch.autograd.grad(theirs, x, cotangent)
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-12, atol=1e-12)


def test_1d_cldice_equals_the_2d_loss_of_one_row_images():
    generator = torch.Generator().manual_seed(7)
    logits = torch.randn((2, 2, 30), generator=generator, dtype=torch.float64)
    labels = (torch.rand((2, 1, 30), generator=generator) > 0.4).long()
    for loss in (SoftclDiceLoss(softmax=True, to_onehot_y=True, reduction="none", iterations=4),
                 DiceclDiceLoss(softmax=True, to_onehot_y=True, reduction="none", iterations=4)):
        torch.testing.assert_close(loss(logits, labels), loss(logits[:, :, None], labels[:, :, None]))


@pytest.mark.parametrize("shape", [(1, 2, 7, 6), (1, 1, 5, 4, 6)])
def test_soft_skeleton_gradcheck(shape):
    # Distinct, well separated values: finite differences then never cross a min/max tie.
    n = torch.Size(shape).numel()
    generator = torch.Generator().manual_seed(4)
    x = (torch.randperm(n, generator=generator).to(torch.float64) / n).reshape(shape).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: soft_skeleton(t, 3), (x,), eps=1e-6, atol=1e-8)


def test_soft_skeleton_of_a_bar_is_its_centre_line():
    x = torch.zeros(1, 1, 9, 12)
    x[..., 3:6, 2:10] = 1.0
    skeleton = soft_skeleton(x, 3)[0, 0]
    assert skeleton[4, 3:9].eq(1).all()  # the centre row, away from the bar's ends
    assert skeleton[[3, 5]].sum() < skeleton[4].sum()


@needs_monai_15
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_cldice_equals_monai_for_one_foreground_channel(dims, reduction, activation):
    torch.manual_seed(5)
    spatial = (16, 14) if dims == 2 else (9, 8, 10)
    channels = 2 if activation == "softmax" else 1  # softmax without background, or one sigmoid channel
    logits = (torch.randn(3, channels, *spatial, dtype=torch.float64) * 2).requires_grad_()
    labels = (torch.rand(3, 1, *spatial) > 0.6).to(torch.float64)
    kwargs = dict(
        to_onehot_y=channels == 2, include_background=channels == 1,
        softmax=activation == "softmax", sigmoid=activation == "sigmoid", reduction=reduction,
    )
    ours = soft_cldice_loss(logits, labels, iterations=4, smooth=0.5, **kwargs)
    theirs = monai.losses.SoftclDiceLoss(iter_=4, smooth_nr=0.5, smooth_dr=0.5, smooth=TINY, **kwargs)(logits, labels)
    if reduction == "none":
        assert ours.shape == (3, 1) and theirs.shape == (3,)
        ours = ours[:, 0]
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    (grad_ours,) = torch.autograd.grad(ours.sum(), logits)
    (grad_theirs,) = torch.autograd.grad(theirs.sum(), logits)
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-10, atol=1e-12)
    # With MONAI's default harmonic-mean term (1e-4) the values differ by at most half of it.
    default = monai.losses.SoftclDiceLoss(iter_=4, smooth_nr=0.5, smooth_dr=0.5, **kwargs)(logits, labels)
    assert (ours - default).abs().max() <= 0.5e-4 * (logits.shape[0] if reduction == "sum" else 1)


@needs_monai_15
def test_cldice_per_class_is_monai_on_each_channel():
    torch.manual_seed(6)
    probs = torch.softmax(torch.randn(2, 3, 8, 9, 7, dtype=torch.float64), 1)
    labels = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 8, 9, 7)), 3).movedim(-1, 1).to(torch.float64)
    ours = soft_cldice_loss(probs, labels, iterations=3, reduction="none")
    assert ours.shape == (2, 3)
    for c in range(3):
        monai_loss = monai.losses.SoftclDiceLoss(iter_=3, smooth=TINY, reduction="none")
        theirs = monai_loss(probs[:, c : c + 1], labels[:, c : c + 1])
        torch.testing.assert_close(ours[:, c], theirs, rtol=1e-12, atol=1e-12)


@needs_monai_15
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_dice_cldice_equals_monai(dims, alpha):
    torch.manual_seed(7)
    spatial = (12, 15) if dims == 2 else (8, 7, 9)
    logits = torch.randn(2, 2, *spatial, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 2, (2, 1, *spatial))
    kwargs = dict(softmax=True, to_onehot_y=True, include_background=False)
    ours = dice_cldice_loss(
        logits, labels, iterations=5, smooth=1.0, smooth_nr=1.0, smooth_dr=1.0, alpha=alpha, **kwargs
    )
    theirs = monai.losses.SoftDiceclDiceLoss(iter_=5, alpha=alpha, smooth=TINY, **kwargs)(logits, labels)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    (grad_ours,) = torch.autograd.grad(ours, logits)
    (grad_theirs,) = torch.autograd.grad(theirs, logits)
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-10, atol=1e-12)


@needs_monai_15
def test_gradient_for_soft_targets_equals_monai():
    pred, target = _maps((2, 1, 10, 11), 8).requires_grad_(), _maps((2, 1, 10, 11), 9).requires_grad_()
    ours = soft_cldice_loss(pred, target, iterations=3)
    theirs = monai.losses.SoftclDiceLoss(iter_=3, smooth=TINY)(pred, target)
    for a, b in zip(torch.autograd.grad(ours, (pred, target)), torch.autograd.grad(theirs, (pred, target))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 2, 4, 5), (1, 2, 4, 3, 4)])
def test_cldice_gradcheck(shape):
    # Continuous random logits: softmax values tie with probability 0 (a grid of logits would make the
    # differences of logits, hence the probabilities, repeat, and finite differences cross the ties).
    generator = torch.Generator().manual_seed(10)
    logits = (torch.randn(shape, generator=generator, dtype=torch.float64) * 3).requires_grad_()
    labels = torch.randint(0, 2, (shape[0], 1, *shape[2:]), generator=generator)
    for fn in (soft_cldice_loss, dice_cldice_loss):
        def loss(t, fn=fn):
            return fn(t, labels, softmax=True, to_onehot_y=True, iterations=2, reduction="none")

        assert torch.autograd.gradcheck(loss, (logits,), eps=1e-6, atol=1e-7)


def test_batch_sums_over_the_batch_before_the_ratios():
    probs, labels = _maps((3, 2, 10, 10), 11), (_maps((3, 2, 10, 10), 12) > 0.5).to(torch.float64)
    ours = soft_cldice_loss(probs, labels, iterations=2, smooth=1.0, batch=True, reduction="none")
    skel_p, skel_l = soft_skel(probs, 2), soft_skel(labels, 2)
    precision = ((skel_p * labels).sum((0, 2, 3)) + 1) / (skel_p.sum((0, 2, 3)) + 1)
    sensitivity = ((skel_l * probs).sum((0, 2, 3)) + 1) / (skel_l.sum((0, 2, 3)) + 1)
    expected = 1 - 2 * precision * sensitivity / (precision + sensitivity)
    assert ours.shape == (1, 2)
    torch.testing.assert_close(ours[0], expected)


def test_documented_values_for_empty_masks():
    empty = torch.zeros(1, 1, 8, 8)
    bar = torch.zeros(1, 1, 8, 8)
    bar[..., 3:5, 1:7] = 1.0
    assert soft_cldice_loss(empty, empty).item() == 0.0
    mass = soft_skeleton(bar, 3).sum().item()
    t = 1.0 / (mass + 1.0)
    torch.testing.assert_close(soft_cldice_loss(bar, empty), torch.tensor((1 - t) / (1 + t)))


def test_chunking_does_not_change_results(monkeypatch):
    logits = torch.randn(2, 3, 9, 10, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (2, 1, 9, 10))
    kwargs = dict(softmax=True, to_onehot_y=True, reduction="none", iterations=3)
    whole = soft_cldice_loss(logits, labels, **kwargs)
    (grad_whole,) = torch.autograd.grad(whole.sum(), logits)
    monkeypatch.setattr(cldice_module, "_CHUNK_ELEMENTS", 2 * 90)  # two channels per chunk: 2 + 1 per sample
    chunked = soft_cldice_loss(logits, labels, **kwargs)
    (grad_chunked,) = torch.autograd.grad(chunked.sum(), logits)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-15)
    torch.testing.assert_close(grad_chunked, grad_whole, rtol=0, atol=1e-15)


@pytest.mark.parametrize("segment", [1, 2, 5])
def test_segment_length_does_not_change_gradients(monkeypatch, segment):
    x = _maps((1, 2, 8, 7, 6), 13).requires_grad_()
    cotangent = torch.randn_like(x)
    (reference,) = torch.autograd.grad(soft_skel(x, 6), x, cotangent)
    monkeypatch.setattr(cldice_module, "_SEGMENT", segment)
    (ours,) = torch.autograd.grad(soft_skeleton(x, 6), x, cotangent)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ndim", [3, 4])
def test_backward_memory_does_not_grow_with_iterations(ndim):
    # The whole point of the custom backward: the buffers held per chunk are a constant number of volumes,
    # whereas plain autograd holds some 15 volumes per iteration.
    needed = cldice_module._buffers_needed
    segment = cldice_module._SEGMENT
    counts = {k: needed(cldice_module._overlaps_vjp_chunk, ndim, k, segment) for k in (4, 10, 30, 100)}
    assert all(c == counts[4] for c in counts.values())
    values, masks = counts[4]
    assert values <= 12 and masks <= 2


def test_every_buffer_is_given_back():
    pool = cldice_module._Buffers(torch.zeros(2, 5, 6, 4))
    x, t = torch.rand(2, 5, 6, 4), torch.rand(2, 5, 6, 4)
    out = torch.empty_like(x)
    cldice_module._overlaps_vjp_chunk(x, t, torch.randn(2, 4), 4, pool, out)
    assert pool.created[torch.float32] > 0
    for dtype, count in pool.created.items():
        assert len(pool.free[dtype]) == count


def test_float64_chunks_use_the_reserved_block():
    x = torch.rand(1, 2, 6, 5, 4, dtype=torch.float64)
    pool = cldice_module._pools(cldice_module._overlaps_vjp_chunk, x, 5)(x[0])
    grad_sums = torch.randn(2, 4, dtype=torch.float64)
    cldice_module._overlaps_vjp_chunk(x[0], x[0], grad_sums, 5, pool, torch.empty_like(x[0]))
    assert pool.created == {}  # nothing allocated beyond the reserve


def test_half_precision_is_computed_in_float32():
    torch.manual_seed(14)
    logits, labels = torch.randn(2, 2, 16, 16), torch.randint(0, 2, (2, 1, 16, 16))
    reference = soft_cldice_loss(logits, labels, softmax=True, to_onehot_y=True)
    half = soft_cldice_loss(logits.bfloat16(), labels, softmax=True, to_onehot_y=True)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, reference, atol=2e-2, rtol=0)


def test_modules_call_the_functions():
    torch.manual_seed(15)
    logits, labels = torch.randn(2, 3, 8, 8, 8), torch.randint(0, 3, (2, 1, 8, 8, 8))
    kwargs = dict(softmax=True, to_onehot_y=True, reduction="none", iterations=2, smooth=0.5)
    torch.testing.assert_close(SoftclDiceLoss(**kwargs)(logits, labels), soft_cldice_loss(logits, labels, **kwargs))
    torch.testing.assert_close(
        DiceclDiceLoss(alpha=0.2, **kwargs)(logits, labels), dice_cldice_loss(logits, labels, alpha=0.2, **kwargs)
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(iterations=-1), ValueError, r"Expected `iterations` to be a non-negative integer, but got -1"),
        (dict(iterations=2.5), ValueError, r"Expected `iterations` to be a non-negative integer, but got 2.5"),
        (dict(iterations=True), ValueError, r"Expected `iterations` to be a non-negative integer, but got True"),
        (dict(smooth=0.0), ValueError, r"Expected `smooth` to be a finite number > 0, but got 0.0"),
        (dict(smooth="one"), TypeError, r"Expected `smooth` to be a number, but got str"),
        (dict(alpha=1.5), ValueError, r"Expected `alpha` to be a number in \[0, 1\], but got 1.5"),
        (dict(alpha=-0.1), ValueError, r"Expected `alpha` to be a finite number >= 0, but got -0.1"),
    ],
)
def test_cldice_argument_errors(kwargs, error, match):
    logits, labels = torch.randn(1, 2, 6, 6), torch.randint(0, 2, (1, 1, 6, 6))
    with pytest.raises(error, match=match):
        dice_cldice_loss(logits, labels, softmax=True, to_onehot_y=True, **kwargs)
    with pytest.raises(error, match=match):
        DiceclDiceLoss(softmax=True, to_onehot_y=True, **kwargs)
    if "alpha" not in kwargs:
        with pytest.raises(error, match=match):
            SoftclDiceLoss(**kwargs)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.zeros(2, 3), ValueError, r"Expected `x` to be 3D \(B, C, N\), 4D \(B, C, H, W\) or 5D \(B, C, H, W, D\), but got"),
        (torch.zeros(1, 1, 4, 4, dtype=torch.long), TypeError, r"Expected `x` to be a floating .*torch.int64"),
        ([[0.0]], TypeError, r"Expected `x` to be a floating point torch.Tensor, but got list"),
    ],
)
def test_soft_skeleton_errors(x, error, match):
    with pytest.raises(error, match=match):
        soft_skeleton(x)


@pytest.mark.parametrize("cls", [SoftclDiceLoss, DiceclDiceLoss])
def test_modules_refuse_positional_arguments(cls):
    # monai.losses.SoftclDiceLoss(10) means iter_=10; ours would have read 10 as include_background.
    with pytest.raises(TypeError):
        cls(10)
    assert cls(iterations=10).settings["iterations"] == 10
