"""Bad input, generated: every public entry point either returns a finite result or raises ``ValueError`` /
``TypeError`` with the package's message ("Expected ..."), never another exception from deep inside.

Inputs are drawn from all numpy dtypes (timedeltas, datetimes, complex, strings, objects included) and torch
dtypes (half precision included), ranks 0-5 with empty axes, values with NaN, Inf and huge numbers, and
non-arrays; about one draw in three is a valid input, whose result must then be finite. SEGLOSSES_FUZZ_EXAMPLES
sets the number of cases per entry point (default 1000; CI runs the default, a few seconds per entry point).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seglosses.losses as losses
from seglosses import metrics
from seglosses.io import read_image
from seglosses.topology import betti_matching, betti_numbers, persistence
from seglosses.transforms import MIPTarget, SkeletonSamplingWeights, SkeletonTube

# Generated float16 arrays with huge values overflow in hypothesis' own cast; complex labels warn when cast.
pytestmark = [
    pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning"),
]
EXAMPLES = int(os.environ.get("SEGLOSSES_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
OUR_MESSAGE = ("Expected", "Could not read")

NUMPY_DTYPES = [
    "bool", "uint8", "int8", "int16", "int64", "uint64", "float16", "float32", "float64",
    "complex64", "timedelta64[s]", "datetime64[D]", "U2", "object",
]
SPECIAL = np.array([0.0, 1.0, 0.5, -1.0, 2.0, 255.0, np.nan, np.inf, -np.inf, 1e300, -1e300])
SEEDS = st.integers(0, 2**32 - 1)
# Arrays are made by numpy from a drawn seed: hypothesis then draws a few numbers per case, not one per element
# (elementwise drawing made a case cost ~10 ms). Shrinking still works on shapes, dtypes and seeds.
SPATIAL = st.lists(st.integers(1, 6), min_size=2, max_size=3).map(tuple)
ANY_SHAPE = st.lists(st.integers(0, 5), max_size=5).map(tuple)


def _values(dtype: str, shape: tuple, seed: int, special: bool) -> np.ndarray:
    """An array of ``dtype`` with values bad and good: NaN/Inf/huge for floats, out-of-range for integers."""
    rng = np.random.default_rng(seed)
    floats = rng.choice(SPECIAL, shape) if special else rng.uniform(-100, 100, shape)
    kind = np.dtype(dtype).kind
    if kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            return floats.astype(dtype)
    if kind in "biu":
        return rng.integers(-3 if kind == "i" else 0, 300 if kind != "b" else 2, shape).astype(dtype)
    if kind == "c":
        return (floats + 1j * rng.uniform(-1, 1, shape)).astype(dtype)
    if kind in "mM":
        return rng.integers(-5, 5, shape).astype(dtype)
    if kind == "U":
        return rng.choice(np.array(["a", "1", ""]), shape).astype(dtype)
    return rng.choice(np.array([None, 1, "a", 0.5], dtype=object), shape)


any_array = st.builds(_values, st.sampled_from(NUMPY_DTYPES), ANY_SHAPE, SEEDS, st.booleans())
MASK_DTYPES = st.sampled_from(["bool", "uint8", "float32", "int64"])


def _mask(shape: tuple, seed: int, density: float, dtype: str) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < density).astype(dtype)


def _image(shape: tuple, seed: int, levels: int) -> np.ndarray:
    """Real values in [-10, 10], with ties (plateaus) when ``levels`` is small."""
    values = np.random.default_rng(seed).uniform(-10, 10, shape)
    return np.round(values * levels / 20) * 20 / levels if levels else values


mask = st.builds(_mask, SPATIAL, SEEDS, st.floats(0, 1), MASK_DTYPES)
image = st.builds(_image, SPATIAL, SEEDS, st.sampled_from([0, 1, 3, 50]))
mask_pair = st.builds(
    lambda shape, seed, density, dtype: (_mask(shape, seed, density, dtype), _mask(shape, seed + 1, density, dtype)),
    SPATIAL, st.integers(0, 2**31), st.floats(0, 1), MASK_DTYPES,
)
image_pair = st.builds(
    lambda shape, seed, levels, density: (_image(shape, seed, levels), _mask(shape, seed + 1, density, "float64")),
    SPATIAL, st.integers(0, 2**31), st.sampled_from([0, 1, 3, 50]), st.floats(0, 1),
)


def _to_torch(array: np.ndarray, dtype_name: str):
    """The array as a tensor of a torch dtype when torch can hold it (bf16/fp16 included), else as it is."""
    if array.dtype.kind not in "biuf" or array.dtype == np.uint64:
        return array
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.to(getattr(torch, dtype_name)) if dtype_name != "same" else tensor


TENSOR_KINDS = st.sampled_from(["numpy", "same", "bfloat16", "float16", "float64"])


def maybe_tensor(inner):
    return st.tuples(inner, TENSOR_KINDS).map(lambda pair: pair[0] if pair[1] == "numpy" else _to_torch(*pair))


def maybe_tensors(pair):
    """Both arrays of a pair as numpy, or both as tensors of one torch dtype."""
    return st.tuples(pair, TENSOR_KINDS).map(
        lambda x: x[0] if x[1] == "numpy" else tuple(_to_torch(a, x[1]) for a in x[0])
    )


NOT_ARRAYS = st.sampled_from([None, 3, 2.5, "mask", [], [[1, 2], [3]], {"a": 1}, b"\x00"])
BAD = st.one_of(maybe_tensor(any_array), NOT_ARRAYS)


def bad_or_good(good):
    """One draw in three valid, the rest anything."""
    return st.one_of(good, good, BAD, maybe_tensor(good))


def pairs(good_pair):
    """A valid pair of one shape (as numpy or tensors), or two independent draws."""
    return st.one_of(good_pair, maybe_tensors(good_pair), st.tuples(bad_or_good(good_pair.map(lambda x: x[0])), BAD))


def is_valid_image(x) -> bool:
    arr = x.float().numpy() if isinstance(x, torch.Tensor) and x.dtype == torch.bfloat16 else x
    arr = arr.numpy() if isinstance(arr, torch.Tensor) else arr
    return (
        isinstance(arr, np.ndarray) and arr.dtype.kind in "biuf" and arr.ndim in (2, 3) and arr.size > 0
        and bool(np.isfinite(arr.astype(np.float64)).all())
    )


def is_valid_mask(x) -> bool:
    if not is_valid_image(x):
        return False
    arr = x.float().numpy() if isinstance(x, torch.Tensor) else x
    return bool(np.isin(arr.astype(np.float64), (0.0, 1.0)).all())


def call(function, *args, **kwargs):
    """The result, or None when ``function`` refused the input with our exception types and message form."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)
    except (ValueError, TypeError) as error:
        assert str(error).startswith(OUR_MESSAGE), f"{type(error).__name__} not in our form: {error}"
        return None


def assert_finite(result) -> None:
    values = result if isinstance(result, (tuple, list)) else [result]
    for value in values:
        if isinstance(value, torch.Tensor):
            assert torch.isfinite(value).all(), value
        else:
            assert np.isfinite(np.asarray(value, dtype=np.float64)).all(), value


# ------------------------------------------------------------------------------------------------------- engine
@FUZZ
@given(x=bad_or_good(image), filtration=st.sampled_from(["superlevel", "sublevel"]), construction=st.sampled_from("TV"))
def test_fuzz_persistence(x, filtration, construction):
    result = call(persistence, x, filtration=filtration, construction=construction)
    if is_valid_image(x):
        assert result is not None
        for d in result.dims:
            finite = result.intervals(d)[:, 0]
            assert np.isfinite(finite).all()


@FUZZ
@given(x=bad_or_good(mask), construction=st.sampled_from("TV"))
def test_fuzz_betti_numbers(x, construction):
    result = call(betti_numbers, x, construction=construction)
    if is_valid_mask(x):
        assert result is not None and all(b >= 0 for b in result)


@FUZZ
@given(pair=pairs(image_pair), construction=st.sampled_from("TV"))
def test_fuzz_betti_matching(pair, construction):
    p, g = pair
    result = call(betti_matching, p, g, construction=construction)
    if is_valid_image(p) and is_valid_image(g) and tuple(p.shape) == tuple(g.shape):
        assert result is not None
        assert (result.num_matched >= 0).all() and (result.num_unmatched_target >= 0).all()


# ------------------------------------------------------------------------------------------------------- losses
LOSS_SETTINGS = st.fixed_dictionaries(
    {
        "activation": st.sampled_from(["softmax", "sigmoid", "none"]),
        "to_onehot_y": st.booleans(),
        "include_background": st.booleans(),
        "reduction": st.sampled_from(["mean", "sum", "none"]),
    }
)
LOSS_DTYPES = ["float32", "float16", "bfloat16", "float64", "int64", "bool"]


@st.composite
def loss_inputs(draw, spatial_dims=(2, 3)):
    """(input, target): often well formed (B, C, *spatial) with matching labels, often not."""
    if draw(st.booleans()):
        dims = draw(st.sampled_from(spatial_dims))
        batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 3))
        shape = (batch, channels, *draw(st.lists(st.integers(1, 5), min_size=dims, max_size=dims)))
    else:
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=6)))
    seed, special = draw(SEEDS), draw(st.booleans())
    rng = np.random.default_rng(seed)
    values = rng.choice(SPECIAL, shape) if special else rng.uniform(-30, 30, shape)
    logits = torch.from_numpy(values).to(getattr(torch, draw(st.sampled_from(LOSS_DTYPES))))
    kind = draw(st.sampled_from(["indices", "onehot", "random"]))
    if kind == "random" or len(shape) < 2:
        other = tuple(draw(st.lists(st.integers(0, 4), max_size=6)))
        target = torch.from_numpy(rng.choice(SPECIAL, other))
    elif kind == "indices":
        low, high = -draw(st.integers(0, 1)), max(shape[1], 1) + draw(st.integers(0, 1))
        target = torch.from_numpy(rng.integers(low, high, (shape[0], 1, *shape[2:])))
    else:
        target = torch.from_numpy(rng.random(shape) > 0.5).to(draw(st.sampled_from([torch.float32, torch.int64, torch.bool])))
    return logits, target


def _build(name: str, settings_: dict, extra: dict):
    activation = settings_["activation"]
    return getattr(losses, name)(
        sigmoid=activation == "sigmoid", softmax=activation == "softmax", to_onehot_y=settings_["to_onehot_y"],
        include_background=settings_["include_background"], reduction=settings_["reduction"], **extra,
    )


LOSS_EXTRAS = {
    "DiceLoss": {},
    "DiceCELoss": {},
    "SoftclDiceLoss": {"iterations": 2},
    "DiceclDiceLoss": {"iterations": 2},
    "SkeletonRecallLoss": {},
    "BettiMatchingLoss": {"num_threads": 1},
    "MIPLoss": {"axes": (-3, -2, -1)},
}


@pytest.mark.parametrize("name", list(LOSS_EXTRAS))
def test_fuzz_losses(name):
    spatial_dims = {"DiceLoss": (1, 2, 3, 4), "DiceCELoss": (1, 2, 3, 4), "BettiMatchingLoss": (2, 3), "MIPLoss": (3,)}
    spatial_dims = spatial_dims.get(name, (1, 2, 3))

    @settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
    @given(inputs=loss_inputs(spatial_dims), options=LOSS_SETTINGS)
    def run(inputs, options):
        logits, target = inputs
        loss = _build(name, options, LOSS_EXTRAS[name])
        x = logits.clone().requires_grad_() if logits.is_floating_point() else logits
        value = call(loss, x, target)
        if value is None:
            return
        assert value.dtype in (torch.float32, torch.float64)
        assert torch.isfinite(value).all(), (value, logits, target)
        if x.requires_grad:
            (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
            activated = options["activation"] == "sigmoid" or (options["activation"] == "softmax" and x.shape[1] > 1)
            # Documented (README, "Half precision"): float16 *probabilities* can receive gradients beyond float16's
            # range (1/smooth_dr for an absent class); through an activation they are bounded.
            if activated or x.dtype != torch.float16:
                assert grad is None or torch.isfinite(grad).all()

    run()


# ------------------------------------------------------------------------------------------------------ metrics
@pytest.mark.parametrize(
    "metric", ["dice", "cldice", "betti_number_errors", "local_betti_errors", "betti_matching_error", "hd95"]
)
def test_fuzz_metric_functions(metric):
    function = getattr(metrics, metric)

    @FUZZ
    @given(pair=pairs(mask_pair), tile_size=st.one_of(st.integers(-1, 4), st.floats(0, 4), st.lists(st.integers(0, 4), max_size=4)))
    def run(pair, tile_size):
        p, g = pair
        kwargs = {"tile_size": tile_size} if metric == "local_betti_errors" else {}
        result = call(function, p, g, **kwargs)
        valid = is_valid_mask(p) and is_valid_mask(g) and tuple(p.shape) == tuple(g.shape)
        if valid and metric != "local_betti_errors":
            assert result is not None
        if result is not None and metric != "hd95":  # hd95 is NaN by definition when exactly one mask is empty
            assert_finite(result)

    run()


def _batched(pair, add_axes: bool):
    """A pair of masks as tensors, with batch and channel axes when asked."""
    return tuple(
        (x[None, None] if add_axes and x.dim() in (2, 3) else x) if isinstance(x, torch.Tensor) else x
        for x in (_to_torch(x, "same") if isinstance(x, np.ndarray) else x for x in pair)
    )


@FUZZ
@given(
    pair=st.tuples(pairs(mask_pair), st.booleans()).map(lambda x: _batched(*x)),
    metric=st.sampled_from(["BettiErrorMetric", "BettiMatchingErrorMetric", "ClDiceMetric"]),
)
def test_fuzz_metric_classes(pair, metric):
    p, y = pair
    result = call(getattr(metrics, metric)(), p, y)
    if result is not None:
        if metric == "ClDiceMetric":  # ignore_empty (MONAI's default): NaN exactly where the ground truth is empty
            labels = torch.stack(list(y)) if isinstance(y, (list, tuple)) else y
            empty = ~(labels != 0).flatten(2).any(-1)
            assert torch.equal(torch.isnan(result), empty.to(result.device))
            result = torch.nan_to_num(result)
        assert_finite(result)


# --------------------------------------------------------------------------------------------------- transforms
@FUZZ
@given(label=bad_or_good(mask.map(lambda m: m[None])), which=st.sampled_from(["tube", "weights", "mip"]))
def test_fuzz_transforms(label, which):
    transform = {"tube": SkeletonTube(), "weights": SkeletonSamplingWeights(), "mip": MIPTarget(axes=(-1,))}[which]
    result = call(transform, label)
    if result is not None:
        for value in result if isinstance(result, tuple) else (result,):
            assert_finite(torch.as_tensor(np.asarray(value, dtype=np.float64)) if not isinstance(value, torch.Tensor) else value.float())


# ----------------------------------------------------------------------------------------------------------- io
@settings(FUZZ, max_examples=max(EXAMPLES // 4, 1))
@given(
    suffix=st.sampled_from([".png", ".tif", ".gif", ".nii", ".nii.gz", ".txt", ".jpg"]),
    content=st.one_of(st.binary(max_size=256), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\x1f\x8b\x08"])),
)
def test_fuzz_read_image_of_corrupt_files(tmp_path_factory, suffix, content):
    path = tmp_path_factory.mktemp("io") / f"case{suffix}"
    path.write_bytes(content)
    result = call(read_image, path)
    if result is not None:
        assert isinstance(result[0], np.ndarray)
