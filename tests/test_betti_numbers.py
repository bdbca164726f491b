"""betti_numbers(): against scikit-image labelling and Euler numbers on random binary masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.measure import euler_number, label

from seglosses.topology import betti_numbers

# Foreground connectivity of each construction (skimage's `connectivity`: orthogonal hops), and the
# dual connectivity of the background.
FOREGROUND = {("T", 2): 2, ("V", 2): 1, ("T", 3): 3, ("V", 3): 1}
BACKGROUND = {("T", 2): 1, ("V", 2): 2, ("T", 3): 1, ("V", 3): 3}


def skimage_betti(mask: np.ndarray, construction: str) -> tuple[int, ...]:
    """b0 by labelling the foreground; holes/cavities by labelling the padded background (minus the
    outside); b1 in 3D from the Euler characteristic b0 - b1 + b2."""
    nd = mask.ndim
    b0 = int(label(mask, connectivity=FOREGROUND[construction, nd]).max())
    background = np.pad(~mask, 1, constant_values=True)
    b_top = int(label(background, connectivity=BACKGROUND[construction, nd]).max()) - 1
    if nd == 2:
        return b0, b_top
    chi = int(euler_number(mask, connectivity=FOREGROUND[construction, nd]))
    return b0, b0 + b_top - chi, b_top


def random_mask(seed: int, shape: tuple[int, ...], density: float) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < density


@settings(max_examples=400)
@given(
    st.integers(0, 2**32 - 1),
    st.one_of(st.tuples(st.integers(1, 16), st.integers(1, 16)), st.tuples(*[st.integers(1, 8)] * 3)),
    st.floats(0.0, 1.0),
    st.sampled_from(("T", "V")),
)
def test_matches_scikit_image(seed, shape, density, construction):
    mask = random_mask(seed, shape, density)
    assert betti_numbers(mask, construction=construction) == skimage_betti(mask, construction)


@settings(max_examples=100)
@given(st.integers(0, 2**32 - 1), st.sampled_from(("T", "V")), st.sampled_from((2, 3)))
def test_gudhi_backend_agrees(seed, construction, nd):
    mask = random_mask(seed, (7,) * nd if nd == 2 else (5,) * nd, 0.5)
    assert betti_numbers(mask, construction=construction, backend="gudhi") == betti_numbers(
        mask, construction=construction
    )


@pytest.mark.parametrize(
    "mask, construction, expected",
    [
        (np.zeros((4, 4), dtype=bool), "T", (0, 0)),
        (np.ones((4, 4), dtype=bool), "V", (1, 0)),
        (np.eye(5, dtype=bool), "T", (1, 0)),
        (np.eye(5, dtype=bool), "V", (5, 0)),
        (np.zeros((3, 3, 3), dtype=np.uint8), "V", (0, 0, 0)),
        (np.ones((1, 1, 1), dtype=np.float32), "T", (1, 0, 0)),
    ],
)
def test_simple_masks(mask, construction, expected):
    assert betti_numbers(mask, construction=construction) == expected


def test_accepts_torch_and_float_masks():
    ring = torch.ones(6, 6)
    ring[2:4, 2:4] = 0
    assert betti_numbers(ring) == (1, 1)
    assert betti_numbers(ring.numpy().astype(np.float32)) == (1, 1)


def test_rejects_non_binary_masks():
    with pytest.raises(ValueError, match=r"Expected `mask` to be binary \(bool or 0/1\), but got values \[0\.0, 0\.5\]\."):
        betti_numbers(np.array([[0.0, 0.5]]))
    with pytest.raises(ValueError, match=r"Expected `mask` to be a 2D or 3D array, but got shape \(3,\)\."):
        betti_numbers(np.ones(3))
    with pytest.raises(ValueError, match=r"Expected `construction` to be one of \('T', 'V'\), but got 'Q'\."):
        betti_numbers(np.ones((3, 3)), construction="Q")


@pytest.mark.data
def test_topomortar_mortar_is_one_network(data_root):
    from PIL import Image

    labels = sorted((data_root / "topomortar").glob("**/accurate/*.png"))
    if not labels:
        pytest.skip("no TopoMortar labels under the data root")
    mask = np.asarray(Image.open(labels[0])) > 0
    if mask.ndim == 3:
        mask = mask[..., 0]
    assert betti_numbers(mask, construction="T") == skimage_betti(mask, "T")
