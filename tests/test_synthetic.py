"""The synthetic generators deliver the topology their docstrings promise (checked with scikit-image)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import measure

from seglosses.synthetic import brick_wall, vessel_tree


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), h=st.integers(32, 96), w=st.integers(32, 96))
def test_brick_wall_topology(seed, h, w):
    image, label, n_bricks = brick_wall((h, w), brick=(8, 16), mortar=2, seed=seed)
    assert image.shape == label.shape == (h, w) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert measure.label(label, connectivity=2).max() == 1
    # Holes of the 8-connected mortar are the 4-connected components of the background.
    assert measure.label(1 - label, connectivity=1).max() == n_bricks > 0


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), three_d=st.booleans())
def test_vessel_tree_is_one_component(seed, three_d):
    shape = (32, 40, 24) if three_d else (64, 72)
    image, label = vessel_tree(shape, n_branches=5, seed=seed)
    assert image.shape == label.shape == shape
    assert label.sum() > 0
    assert measure.label(label, connectivity=len(shape)).max() == 1


def test_generators_are_deterministic():
    a = vessel_tree((48, 48), seed=3)
    b = vessel_tree((48, 48), seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("shape", [(4, 4), (64,), (64, 64, 64, 2)])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match="Expected `shape`"):
        if len(shape) == 2:
            brick_wall(shape)
        else:
            vessel_tree(shape)
