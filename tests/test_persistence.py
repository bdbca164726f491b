"""persistence(): barcodes against gudhi (T- and V-construction) and cripser (V), critical cells, API."""

from __future__ import annotations

import gudhi
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seglosses.topology import Barcode, betti_numbers, persistence
from seglosses.topology.persistence import _bar_order

cripser = pytest.importorskip("cripser")


# ----------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------
KINDS = ("noise", "levels", "binary", "constant", "distinct")


def make_image(seed: int, shape: tuple[int, ...], kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.random(shape)
    if kind == "levels":  # heavy ties and plateaus
        return rng.integers(0, rng.integers(2, 5), size=shape).astype(np.float64)
    if kind == "binary":
        return (rng.random(shape) < rng.uniform(0.2, 0.8)).astype(np.float64)
    if kind == "constant":
        return np.full(shape, rng.normal())
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)


def with_layout(image: np.ndarray, dtype: str, layout: str):
    """The same values in another dtype and memory layout (exact: the values are small integers or the
    dtype is float64)."""
    if dtype != "float64" and image.size:
        image = np.round(image * 10) if image.max() < 1.5 and image.min() >= 0 else image
        image = np.clip(image, 0, 255) if dtype == "uint8" else image
    image = image.astype(dtype)
    if layout == "transposed":
        return np.ascontiguousarray(image.T).T
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in image.shape), dtype=image.dtype)
        big[tuple(slice(None, None, 2) for _ in image.shape)] = image
        return big[tuple(slice(None, None, 2) for _ in image.shape)]
    if layout == "torch":
        return torch.from_numpy(np.ascontiguousarray(image))
    return image


shapes_2d = st.tuples(st.integers(1, 12), st.integers(1, 12))
shapes_3d = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))
images = st.builds(
    lambda seed, shape, kind, dtype, layout: (make_image(seed, shape, kind), dtype, layout),
    st.integers(0, 2**32 - 1),
    st.one_of(shapes_2d, shapes_3d),
    st.sampled_from(KINDS),
    st.sampled_from(("float64", "float32", "uint8")),
    st.sampled_from(("contiguous", "transposed", "strided", "torch")),
)


# ----------------------------------------------------------------------------------------------------
# Oracles (raw gudhi and cripser calls, independent of seglosses.topology._gudhi)
# ----------------------------------------------------------------------------------------------------
def gudhi_intervals(image: np.ndarray, construction: str) -> list[list[tuple[float, float]]]:
    if construction == "T":
        complex_ = gudhi.CubicalComplex(top_dimensional_cells=image)
    else:
        complex_ = gudhi.CubicalComplex(vertices=image)
    out: list[list[tuple[float, float]]] = [[] for _ in range(image.ndim)]
    for d, (birth, death) in complex_.persistence(homology_coeff_field=2, min_persistence=0.0):
        out[d].append((float(birth), float(death)))
    return [sorted(bars) for bars in out]


def cripser_intervals(image: np.ndarray) -> list[list[tuple[float, float]]]:
    rows = cripser.computePH(np.ascontiguousarray(image, dtype=np.float64), maxdim=image.ndim - 1)
    out: list[list[tuple[float, float]]] = [[] for _ in range(image.ndim)]
    for row in rows:
        birth, death = float(row[1]), float(row[2])
        death = np.inf if death >= np.finfo(np.float64).max else death
        if birth != death:  # cripser may list zero-persistence pairs
            out[int(row[0])].append((birth, death))
    return [sorted(bars) for bars in out]


def as_sublevel_lists(barcode: Barcode) -> list[list[tuple[float, float]]]:
    """The barcode's bars as sorted lists, mapped to the sublevel filtration of -f when superlevel."""
    sign = -1.0 if barcode.filtration == "superlevel" else 1.0
    return [sorted(map(tuple, (sign * barcode.intervals(d)).tolist())) for d in barcode.dims]


def check_consistent(barcode: Barcode, image: np.ndarray) -> None:
    """Critical cells hold the bar values; essential bars (exactly one, in H0) die at -1 / inf."""
    flat = image.ravel()
    essential = 0
    for d in barcode.dims:
        values, cells = barcode.intervals(d), barcode.critical_cells(d)
        assert values.dtype == np.float64 and cells.dtype == np.int64 and values.shape == cells.shape
        np.testing.assert_array_equal(flat[cells[:, 0]], values[:, 0])
        finite = np.isfinite(values[:, 1])
        np.testing.assert_array_equal(flat[cells[finite, 1]], values[finite, 1])
        assert (cells[~finite, 1] == -1).all()
        assert (values[:, 0] != values[:, 1]).all()
        np.testing.assert_array_equal(_bar_order(values, cells, barcode.filtration), np.arange(len(values)))
        essential += int((~finite).sum())
        if barcode.filtration == "superlevel":
            assert (values[:, 0] > values[:, 1]).all() and (values[~finite, 1] == -np.inf).all()
        else:
            assert (values[:, 0] < values[:, 1]).all() and (values[~finite, 1] == np.inf).all()
    assert essential == 1 and np.isinf(barcode.intervals(0)[0, 1])


# ----------------------------------------------------------------------------------------------------
# Barcodes equal the references
# ----------------------------------------------------------------------------------------------------
@settings(max_examples=1000)
@given(images, st.sampled_from(("superlevel", "sublevel")))
def test_t_construction_matches_gudhi(case, filtration):
    image, dtype, layout = case
    given_image = with_layout(image, dtype, layout)
    reference_values = np.asarray(given_image, dtype=np.float64)
    barcode = persistence(given_image, filtration=filtration, construction="T")
    sublevel_image = -reference_values if filtration == "superlevel" else reference_values
    assert as_sublevel_lists(barcode) == gudhi_intervals(sublevel_image, "T")
    check_consistent(barcode, reference_values)


@settings(max_examples=1000)
@given(images, st.sampled_from(("superlevel", "sublevel")))
def test_v_construction_matches_cripser_and_gudhi(case, filtration):
    image, dtype, layout = case
    given_image = with_layout(image, dtype, layout)
    reference_values = np.asarray(given_image, dtype=np.float64)
    barcode = persistence(given_image, filtration=filtration, construction="V")
    sublevel_image = -reference_values if filtration == "superlevel" else reference_values
    ours = as_sublevel_lists(barcode)
    if not (image.ndim == 2 and 1 in image.shape):  # cripser 0.0.37 reports every pixel of a 1xN image as essential
        assert ours == cripser_intervals(sublevel_image)
    assert ours == gudhi_intervals(sublevel_image, "V")
    check_consistent(barcode, reference_values)


@settings(max_examples=500)
@given(
    st.integers(0, 2**32 - 1),
    st.one_of(shapes_2d, shapes_3d),
    st.sampled_from(("T", "V")),
    st.sampled_from(("superlevel", "sublevel")),
)
def test_critical_cells_equal_gudhi_for_distinct_values(seed, shape, construction, filtration):
    # With distinct pixel values every bar's birth and death pixels are unambiguous.
    image = make_image(seed, shape, "distinct")
    ours = persistence(image, filtration=filtration, construction=construction)
    reference = persistence(image, filtration=filtration, construction=construction, backend="gudhi")
    for d in ours.dims:
        np.testing.assert_array_equal(ours.intervals(d), reference.intervals(d))
        np.testing.assert_array_equal(ours.critical_cells(d), reference.critical_cells(d))


@pytest.mark.parametrize("shape", [(24, 24, 24), (40, 6, 30)])
@pytest.mark.parametrize("kind", ["noise", "levels"])
def test_larger_3d_volumes_match_cripser(shape, kind):
    # Large enough that many H1 columns need a real reduction (not only emergent pairs).
    image = make_image(7, shape, kind)
    barcode = persistence(image, filtration="sublevel", construction="V")
    assert as_sublevel_lists(barcode) == cripser_intervals(image)
    check_consistent(barcode, image)


@settings(max_examples=300)
@given(
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(2, 70), st.integers(2, 70)),
    st.sampled_from(KINDS),
    st.sampled_from(((), (0,), (1,), (2,))),
)
def test_planar_path_equals_the_khalimsky_grid(seed, shape, kind, singleton):
    # 2D images (and 3D ones with one singleton axis) go to union-finds on pixels; the pairs by pixel
    # must be those of the general engine on the Khalimsky grid, ties and plateaus included.
    from seglosses import _core

    image = make_image(seed, shape, kind)
    if singleton:
        image = np.expand_dims(image, singleton[0])
    for construction in (0, 1):
        fast = _core.persistence(image, construction)
        grid = _core.persistence(image, construction, planar=False)
        for (values_a, cells_a), (values_b, cells_b) in zip(fast, grid):
            np.testing.assert_array_equal(values_a, values_b)
            np.testing.assert_array_equal(cells_a, cells_b)


@settings(max_examples=200)
@given(
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(2, 14), st.integers(2, 14), st.integers(2, 14)),
    st.sampled_from(KINDS),
)
def test_t_by_duality_equals_the_t_grid(seed, shape, kind):
    # 3D images in T go to construction V of the padded, negated image (Alexander duality); the pairs
    # by pixel, their values and their order must be those of the T grid itself, ties included.
    from seglosses import _core

    image = make_image(seed, shape, kind)
    dual = _core.persistence(image, 0)
    grid = _core.persistence(image, 0, dual=False)
    for (values_a, cells_a), (values_b, cells_b) in zip(dual, grid):
        np.testing.assert_array_equal(values_a, values_b)
        np.testing.assert_array_equal(cells_a, cells_b)


def test_t_by_duality_on_a_binary_volume_with_cavities_and_tunnels():
    # A hollow cube (one cavity), a solid torus-like frame (tunnels) and a lone voxel, in the
    # superlevel filtration a mask meets in betti_numbers.
    from seglosses import _core

    mask = np.zeros((12, 12, 12))
    mask[1:6, 1:6, 1:6] = 1
    mask[3, 3, 3] = 0
    mask[7:11, 7:11, 2] = 1
    mask[8:10, 8:10, 2] = 0
    mask[10, 1, 10] = 1
    dual = _core.persistence(-mask, 0)
    grid = _core.persistence(-mask, 0, dual=False)
    for (values_a, cells_a), (values_b, cells_b) in zip(dual, grid):
        np.testing.assert_array_equal(values_a, values_b)
        np.testing.assert_array_equal(cells_a, cells_b)
    assert betti_numbers(mask, construction="T") == (3, 1, 1)


@pytest.mark.parametrize("kind", ["noise", "levels"])
def test_wide_reduction_keys_give_the_same_pairs(kind):
    # Grids of 2^32 cells or more use 128-bit keys in the H1 reduction; force that path on a small one.
    from seglosses import _core

    image = make_image(11, (14, 12, 16), kind)
    for construction in (0, 1):
        packed = _core.persistence(image, construction)
        wide = _core.persistence(image, construction, wide_keys=True)
        for (values_a, cells_a), (values_b, cells_b) in zip(packed, wide):
            np.testing.assert_array_equal(values_a, values_b)
            np.testing.assert_array_equal(cells_a, cells_b)


def test_zero_persistence_pairs_complete_the_pairing():
    # Kept, they pair every cell of the complex: in 2D V, each vertex births an H0 class (one is
    # essential), each edge kills an H0 class or births an H1 class, each square kills an H1 class.
    from seglosses import _core

    image = make_image(2, (7, 9), "levels")
    (v0, _), (v1, _) = _core.persistence(image, 1, keep_zero_persistence=True)
    assert len(v0) == image.size  # one pair (or the essential class) per vertex
    assert (len(v0) - 1) + len(v1) == 7 * 8 + 6 * 9  # every edge kills an H0 class or births an H1 one
    assert len(v1) == 6 * 8  # every square kills an H1 class
    nonzero = persistence(image, filtration="sublevel", construction="V")
    assert len(nonzero.intervals(0)) == int((v0[:, 0] != v0[:, 1]).sum())


@pytest.mark.parametrize("construction", ["T", "V"])
def test_larger_3d_volume_matches_gudhi(construction):
    image = make_image(3, (20, 18, 22), "noise")
    barcode = persistence(image, filtration="superlevel", construction=construction)
    assert as_sublevel_lists(barcode) == gudhi_intervals(-image, construction)


@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (1, 1, 1), (1, 1, 6), (1, 5, 1), (4, 1, 1), (3, 1, 4)])
def test_degenerate_shapes(shape, construction):
    image = make_image(0, shape, "noise")
    for filtration in ("superlevel", "sublevel"):
        barcode = persistence(image, filtration=filtration, construction=construction)
        sublevel_image = -image if filtration == "superlevel" else image
        assert as_sublevel_lists(barcode) == gudhi_intervals(sublevel_image, construction)
        check_consistent(barcode, image)


# ----------------------------------------------------------------------------------------------------
# Known topology
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("construction", ["T", "V"])
def test_hollow_cube_has_one_cavity(construction):
    volume = np.zeros((7, 7, 7))
    volume[1:6, 1:6, 1:6] = 1.0
    volume[3, 3, 3] = 0.0
    barcode = persistence(volume, construction=construction)
    assert barcode.betti_numbers_at(1.0) == (1, 0, 1)
    np.testing.assert_array_equal(barcode.intervals(2), [[1.0, 0.0]])
    assert barcode.critical_cells(2)[0, 1] == np.ravel_multi_index((3, 3, 3), volume.shape)


@pytest.mark.parametrize("construction", ["T", "V"])
def test_solid_torus_has_one_tunnel(construction):
    volume = np.zeros((5, 7, 7))
    volume[1:4, 1:6, 1:6] = 1.0
    volume[1:4, 3, 3] = 0.0  # a hole drilled through along axis 0
    assert persistence(volume, construction=construction).betti_numbers_at(1.0) == (1, 1, 0)


def test_diagonal_pixels_connect_in_t_but_not_in_v():
    image = np.eye(4)
    assert persistence(image, construction="T").betti_numbers_at(1.0) == (1, 0)
    assert persistence(image, construction="V").betti_numbers_at(1.0) == (4, 0)


def test_superlevel_is_negated_sublevel():
    image = make_image(5, (9, 11), "noise")
    superlevel = persistence(image, filtration="superlevel")
    sublevel = persistence(-image, filtration="sublevel")
    for d in superlevel.dims:
        np.testing.assert_array_equal(superlevel.intervals(d), -sublevel.intervals(d))
        np.testing.assert_array_equal(superlevel.critical_cells(d), sublevel.critical_cells(d))


# ----------------------------------------------------------------------------------------------------
# Batches, backends, the Barcode object
# ----------------------------------------------------------------------------------------------------
def assert_same(a: Barcode, b: Barcode) -> None:
    assert a.shape == b.shape and a.dims == b.dims
    for d in a.dims:
        np.testing.assert_array_equal(a.intervals(d), b.intervals(d))
        np.testing.assert_array_equal(a.critical_cells(d), b.critical_cells(d))


@pytest.mark.parametrize("num_threads", [1, 2, None])
def test_batches_keep_order(num_threads):
    volumes = np.stack([make_image(s, (6, 7, 5), "noise") for s in range(5)])
    singles = [persistence(v, construction="V") for v in volumes]
    for batch in (persistence(volumes, construction="V", num_threads=num_threads),
                  persistence(list(volumes), construction="V", num_threads=num_threads)):
        assert isinstance(batch, list) and len(batch) == 5
        for one, single in zip(batch, singles):
            assert_same(one, single)
    mixed = [make_image(1, (8, 9), "noise"), make_image(2, (3, 4, 5), "levels")]
    for one, image in zip(persistence(mixed, num_threads=num_threads), mixed):
        assert_same(one, persistence(image))


def test_gudhi_backend_batch_and_torch():
    images = [make_image(s, (6, 6), "levels") for s in range(3)]
    batch = persistence([torch.from_numpy(im) for im in images], backend="gudhi")
    for one, image in zip(batch, images):
        assert as_sublevel_lists(one) == as_sublevel_lists(persistence(image, backend="cpu"))


def test_barcode_api():
    image = make_image(0, (6, 8), "noise")
    barcode = persistence(image, filtration="sublevel")
    assert barcode.dims == (0, 1) and barcode.shape == (6, 8)
    assert barcode.filtration == "sublevel" and barcode.construction == "T"
    assert len(barcode) == len(barcode.intervals(0)) + len(barcode.intervals(1))
    assert repr(barcode).startswith("Barcode(shape=(6, 8), filtration='sublevel', construction='T', bars={H0: ")
    lengths = np.diff(barcode.intervals(0), axis=1).ravel()
    assert (np.diff(lengths) <= 0).all()  # longest first, the essential bar on top
    with pytest.raises(ValueError, match="read-only"):
        barcode.intervals(0)[0, 0] = 1.0
    with pytest.raises(ValueError, match=r"Expected `d` to be one of \(0, 1\), but got 2\."):
        barcode.intervals(2)
    with pytest.raises(ValueError, match=r"Expected `d` to be one of \(0, 1\), but got True\."):
        barcode.critical_cells(True)
    # Betti numbers of a sublevel set, against scikit-image labelling of {f <= t} (8-connected in T).
    from skimage.measure import label

    t = float(np.median(image))
    assert barcode.betti_numbers_at(t)[0] == label(image <= t, connectivity=2).max()


# ----------------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "image, error, match",
    [
        (np.array([[0.0, np.nan]]), ValueError, r"Expected `image` to contain only finite values, but got NaN or Inf\."),
        (np.array([[0.0, np.inf]]), ValueError, r"Expected `image` to contain only finite values"),
        (np.zeros(5), ValueError, r"Expected `image` to be a 2D or 3D array, but got shape \(5,\)\."),
        (np.zeros((2, 2, 2, 2, 2)), ValueError, r"Expected `image` to be a 2D or 3D array, but got shape"),
        (np.zeros((0, 3)), ValueError, r"Expected `image` to be non-empty, but got shape \(0, 3\)\."),
        (np.zeros((2, 2), dtype=complex), TypeError, r"Expected `image` to hold real numbers, but got dtype complex128\."),
        (np.array([["a", "b"]]), TypeError, r"Expected `image` to hold real numbers"),
        ([], ValueError, r"Expected `image` to be a non-empty list of images, but got an empty list\."),
        ([np.zeros((2, 2)), np.zeros(3)], ValueError, r"Expected `image\[1\]` to be a 2D or 3D array"),
        (torch.zeros(3, 3, device="meta"), ValueError, r"Expected `image` to be a CPU tensor \(the CUDA backend is not built yet"),
    ],
)
def test_bad_images(image, error, match):
    with pytest.raises(error, match=match):
        persistence(image)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filtration": "up"}, r"Expected `filtration` to be one of \('superlevel', 'sublevel'\), but got 'up'\."),
        ({"construction": "X"}, r"Expected `construction` to be one of \('T', 'V'\), but got 'X'\."),
        ({"backend": "gpu"}, r"Expected `backend` to be one of \('auto', 'cpu', 'gudhi', 'cuda'\), but got 'gpu'\."),
        ({"num_threads": 0}, r"Expected `num_threads` to be a positive integer or None, but got 0\."),
        ({"num_threads": 1.5}, r"Expected `num_threads` to be a positive integer or None, but got 1\.5\."),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        persistence(np.zeros((3, 3)), **kwargs)


def test_core_rejects_bad_arrays_without_crashing():
    from seglosses import _core

    with pytest.raises(ValueError, match="2D or 3D"):
        _core.persistence(np.zeros(4), 0)
    with pytest.raises(ValueError, match="non-empty"):
        _core.persistence(np.zeros((0, 4)), 1)
    with pytest.raises(ValueError, match="construction"):
        _core.persistence(np.zeros((2, 4)), 2)


# ----------------------------------------------------------------------------------------------------
# Real data
# ----------------------------------------------------------------------------------------------------
@pytest.mark.data
def test_topomortar_label_matches_gudhi(data_root):
    from PIL import Image

    labels = sorted((data_root / "topomortar").glob("**/accurate/*.png"))
    if not labels:
        pytest.skip("no TopoMortar PNG labels under the data root")
    mask = (np.asarray(Image.open(labels[0])) > 0).astype(np.float64)
    if mask.ndim == 3:
        mask = mask[..., 0]
    blurred = mask + 0.01 * np.random.default_rng(0).random(mask.shape)
    barcode = persistence(blurred, construction="T")
    assert as_sublevel_lists(barcode) == gudhi_intervals(-blurred, "T")


@pytest.mark.parametrize("kind", ["noise", "binary"])
@pytest.mark.parametrize("construction", ["T", "V"])
def test_threads_inside_one_volume_give_the_same_barcode(kind, construction):
    # 41^3 voxels: above the size from which one volume's parts run on several threads.
    image = make_image(5, (41, 41, 41), kind)
    one = persistence(image, construction=construction, num_threads=1)
    two = persistence(image, construction=construction, num_threads=2)
    for d in one.dims:
        np.testing.assert_array_equal(one.intervals(d), two.intervals(d))
        np.testing.assert_array_equal(one.critical_cells(d), two.critical_cells(d))


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(40, 48), st.integers(40, 48), st.integers(40, 48)),
    kind=st.sampled_from(["noise", "levels", "binary", "permutation"]),
    construction=st.sampled_from(["T", "V"]),
    filtration=st.sampled_from(["sublevel", "superlevel"]),
    threads=st.sampled_from([2, 3, 4, 8]),
)
def test_parallel_reduction_gives_the_one_thread_barcode(seed, shape, kind, construction, filtration, threads):
    # Volumes of 64k voxels and more run their H1 reduction lock-free on all threads (more threads than
    # this machine's cores interleave them at every preemption); the barcode must be the sweep's.
    image = make_image(seed, shape, kind)
    one = persistence(image, construction=construction, filtration=filtration, num_threads=1)
    many = persistence(image, construction=construction, filtration=filtration, num_threads=threads)
    for d in one.dims:
        np.testing.assert_array_equal(one.intervals(d), many.intervals(d))
        np.testing.assert_array_equal(one.critical_cells(d), many.critical_cells(d))
