"""betti_matching(): equality with Betti-Matching-3D (construction V), definition checks (T and V), real
label pairs, API and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles.betti_matching_3d import load as load_oracle

from seglosses.topology import BettiMatching, betti_matching, persistence

BM3D, BM3D_MISSING = load_oracle()
needs_oracle = pytest.mark.skipif(BM3D is None, reason=BM3D_MISSING)


# ----------------------------------------------------------------------------------------------------
# Inputs. Values are dyadic rationals in [0, 1], so `1 - p` (the oracle's sublevel form of a superlevel
# filtration) is exact and keeps every tie and every order.
# ----------------------------------------------------------------------------------------------------
KINDS = ("noise", "levels", "binary", "constant", "distinct")


def make_image(seed: int, shape: tuple[int, ...], kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.integers(0, 2**20, size=shape) / 2**20
    if kind == "levels":  # heavy ties and plateaus
        return rng.integers(0, rng.integers(2, 5), size=shape) / 4
    if kind == "binary":
        return (rng.random(shape) < rng.uniform(0.2, 0.8)).astype(np.float64)
    if kind == "constant":
        return np.full(shape, rng.integers(0, 4) / 4)
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 2**20


shapes_2d = st.tuples(st.integers(1, 14), st.integers(1, 14))
shapes_3d = st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))


def pairs_of(shapes):
    return st.builds(
        lambda seed, shape, kp, kg: (make_image(seed, shape, kp), make_image(seed + 1, shape, kg)),
        st.integers(0, 2**32 - 2),
        shapes,
        st.sampled_from(KINDS),
        st.sampled_from(KINDS),
    )


def rows(*columns: np.ndarray) -> list[tuple]:
    """Multiset of the rows of side-by-side (n, k) arrays, as a sorted list."""
    if not columns or len(columns[0]) == 0:
        return []
    return sorted(map(tuple, np.concatenate(columns, axis=1).tolist()))


def oracle_cells(coords: list[np.ndarray], d: int, shape: tuple[int, ...]) -> np.ndarray:
    births, deaths = coords
    if len(births[d]) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    return np.stack(
        [np.ravel_multi_index(tuple(births[d].T), shape), np.ravel_multi_index(tuple(deaths[d].T), shape)], axis=1
    )


def assert_equals_oracle(prediction: np.ndarray, target: np.ndarray, filtration: str) -> None:
    ours = betti_matching(prediction, target, filtration=filtration, construction="V")
    if filtration == "superlevel":
        ref = BM3D.compute_matching(1.0 - prediction, 1.0 - target)
    else:
        ref = BM3D.compute_matching(prediction, target)
    np.testing.assert_array_equal(ours.num_matched, ref.num_matched)
    np.testing.assert_array_equal(ours.num_unmatched_prediction, ref.num_unmatched_input1)
    np.testing.assert_array_equal(ours.num_unmatched_target, ref.num_unmatched_input2)
    shape = prediction.shape
    p, g = prediction.ravel(), target.ravel()
    for d in ours.dims:
        ref_mp = oracle_cells([ref.input1_matched_birth_coordinates, ref.input1_matched_death_coordinates], d, shape)
        ref_mg = oracle_cells([ref.input2_matched_birth_coordinates, ref.input2_matched_death_coordinates], d, shape)
        ref_up = oracle_cells([ref.input1_unmatched_birth_coordinates, ref.input1_unmatched_death_coordinates], d, shape)
        ref_ug = oracle_cells([ref.input2_unmatched_birth_coordinates, ref.input2_unmatched_death_coordinates], d, shape)
        mp, mg = ours.matched(d)
        # The matched interval pairs, as values: the acceptance criterion.
        assert rows(mp, mg) == rows(p[ref_mp], g[ref_mg])
        assert rows(ours.unmatched_prediction(d)) == rows(p[ref_up])
        assert rows(ours.unmatched_target(d)) == rows(g[ref_ug])
        # The critical cells too: the tie-break between equal values is the oracle's.
        cp, cg = ours.matched_cells(d)
        assert rows(cp, cg) == rows(ref_mp, ref_mg)
        assert rows(ours.unmatched_prediction_cells(d)) == rows(ref_up)
        assert rows(ours.unmatched_target_cells(d)) == rows(ref_ug)


# ----------------------------------------------------------------------------------------------------
# Equality with Betti-Matching-3D (550 random pairs, plus fixed larger ones)
# ----------------------------------------------------------------------------------------------------
@needs_oracle
@settings(max_examples=300)
@given(pair=pairs_of(shapes_2d), filtration=st.sampled_from(("superlevel", "sublevel")))
def test_equals_betti_matching_3d_2d(pair, filtration):
    assert_equals_oracle(*pair, filtration)


@needs_oracle
@settings(max_examples=250)
@given(pair=pairs_of(shapes_3d), filtration=st.sampled_from(("superlevel", "sublevel")))
def test_equals_betti_matching_3d_3d(pair, filtration):
    assert_equals_oracle(*pair, filtration)


@needs_oracle
@pytest.mark.parametrize("shape", [(64, 48), (1, 200), (17, 1), (14, 12, 10), (1, 20, 20), (20, 1, 9), (7, 6, 1)])
@pytest.mark.parametrize("kinds", [("noise", "noise"), ("noise", "binary"), ("levels", "levels"), ("binary", "binary")])
def test_equals_betti_matching_3d_larger(shape, kinds):
    prediction, target = make_image(11, shape, kinds[0]), make_image(12, shape, kinds[1])
    assert_equals_oracle(prediction, target, "superlevel")


def _topomortar_pairs(data_root, count: int):
    from skimage.io import imread

    root = data_root / "topomortar" / "train"
    names = sorted(p.name for p in (root / "accurate").glob("*.png"))[:count]
    if not names:
        pytest.skip(f"no TopoMortar labels under {root}")
    for name in names:
        accurate = (imread(root / "accurate" / name) > 0).astype(np.float64)
        noisy = (imread(root / "noisy" / name) > 0).astype(np.float64)
        yield name, accurate.reshape(accurate.shape[:2]), noisy.reshape(noisy.shape[:2])


@needs_oracle
@pytest.mark.data
def test_equals_betti_matching_3d_on_topomortar_labels(data_root):
    """Real label pairs (accurate vs noisy labels), as binary masks and as a noisy likelihood."""
    rng = np.random.default_rng(0)
    for _, accurate, noisy in _topomortar_pairs(data_root, 3):
        assert_equals_oracle(noisy, accurate, "superlevel")
        likelihood = np.clip(0.7 * noisy + rng.integers(0, 2**8, size=noisy.shape) / 2**10, 0, 1)
        assert_equals_oracle(likelihood, accurate, "superlevel")


# ----------------------------------------------------------------------------------------------------
# Definition checks (no oracle)
# ----------------------------------------------------------------------------------------------------
constructions = st.sampled_from(("T", "V"))


@settings(max_examples=150)
@given(pairs_of(st.tuples(st.integers(2, 10), st.integers(2, 10), st.integers(2, 10))))
def test_reduction_direction_does_not_change_the_matching(pair):
    # Each 3D H1 reduction picks homology or cohomology from the inputs' plateaus (and differently in
    # T and V); both directions must give the same pairs, in the same order.
    from seglosses import _core

    prediction, target = pair
    for construction in (0, 1):
        auto = _core.betti_matching(prediction, target, construction)
        for reduction in (1, 2):
            forced = _core.betti_matching(prediction, target, construction, reduction)
            assert forced[1:] == auto[1:]
            for arrays_a, arrays_b in zip(forced[0], auto[0]):
                for a, b in zip(arrays_a, arrays_b):
                    np.testing.assert_array_equal(a, b)


@settings(max_examples=80)
@given(
    pair=pairs_of(st.one_of(shapes_2d, shapes_3d)),
    filtration=st.sampled_from(("superlevel", "sublevel")),
    construction=constructions,
)
def test_identical_inputs_match_everything(pair, filtration, construction):
    image = pair[0]
    m = betti_matching(image, image.copy(), filtration=filtration, construction=construction)
    assert m.num_unmatched_prediction.sum() == 0 and m.num_unmatched_target.sum() == 0
    for d in m.dims:
        mp, mg = m.matched(d)
        np.testing.assert_array_equal(mp, mg)
        np.testing.assert_array_equal(*m.matched_cells(d))
    np.testing.assert_array_equal(*m.matched_essential())


@settings(max_examples=150)
@given(
    pair=pairs_of(st.one_of(shapes_2d, shapes_3d)),
    filtration=st.sampled_from(("superlevel", "sublevel")),
    construction=constructions,
)
def test_bars_are_the_barcodes_of_the_images(pair, filtration, construction):
    """Matched and unmatched bars of each image are exactly its finite bars (persistence(), itself
    tested against gudhi and cripser), in both constructions."""
    m = betti_matching(*pair, filtration=filtration, construction=construction)
    assert m.construction == construction
    for image, side, essential in zip(pair, (0, 1), m.matched_essential()):
        barcode = persistence(image, filtration=filtration, construction=construction)
        for d in m.dims:
            bars = barcode.intervals(d)
            finite = bars[np.isfinite(bars[:, 1])]
            unmatched = m.unmatched_prediction(d) if side == 0 else m.unmatched_target(d)
            assert rows(np.concatenate([m.matched(d)[side], unmatched])) == rows(finite)
        np.testing.assert_array_equal(barcode.intervals(0)[~np.isfinite(barcode.intervals(0)[:, 1])], essential)


@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("filtration", ["superlevel", "sublevel"])
def test_values_are_read_at_the_critical_cells(filtration, construction):
    prediction, target = make_image(3, (9, 8, 7), "noise"), make_image(4, (9, 8, 7), "binary")
    m = betti_matching(prediction, target, filtration=filtration, construction=construction)
    for d in m.dims:
        for values, cells, image in zip(m.matched(d), m.matched_cells(d), (prediction, target)):
            np.testing.assert_array_equal(values, image.ravel()[cells])
        np.testing.assert_array_equal(m.unmatched_prediction(d), prediction.ravel()[m.unmatched_prediction_cells(d)])
        np.testing.assert_array_equal(m.unmatched_target(d), target.ravel()[m.unmatched_target_cells(d)])
        sign = 1 if filtration == "superlevel" else -1
        for values in (*m.matched(d), m.unmatched_prediction(d), m.unmatched_target(d)):
            assert (sign * (values[:, 0] - values[:, 1]) > 0).all()  # births before deaths, no zero bars


@pytest.mark.parametrize("construction", ["T", "V"])
def test_missing_loop_is_an_unmatched_target_bar(construction):
    target = np.ones((7, 7))
    target[3, 3] = 0  # a ring: one loop
    prediction = np.full((7, 7), 0.9)  # a filled square
    m = betti_matching(prediction, target, construction=construction)
    assert m.num_matched.tolist() == [0, 0]
    assert m.num_unmatched_prediction.tolist() == [0, 0]
    assert m.num_unmatched_target.tolist() == [0, 1]
    np.testing.assert_array_equal(m.unmatched_target(1), [[1.0, 0.0]])
    assert m.unmatched_target_cells(1)[0, 1] == 3 * 7 + 3  # the loop is filled at the hole


@pytest.mark.parametrize("construction", ["T", "V"])
def test_extra_component_is_an_unmatched_prediction_bar(construction):
    target = np.zeros((8, 8))
    target[1:4, 1:4] = 1
    prediction = 0.9 * target
    prediction[6, 6] = 0.7  # a spurious blob
    m = betti_matching(prediction, target, construction=construction)
    assert m.num_matched.tolist() == [0, 0]
    assert m.num_unmatched_prediction.tolist() == [1, 0]
    assert m.num_unmatched_target.tolist() == [0, 0]
    np.testing.assert_array_equal(m.unmatched_prediction(0), [[0.7, 0.0]])
    np.testing.assert_array_equal(m.unmatched_prediction_cells(0)[:, 0], [6 * 8 + 6])
    np.testing.assert_array_equal(m.matched_essential()[0], [[0.9, -np.inf]])
    np.testing.assert_array_equal(m.matched_essential_cells()[1], [[1 * 8 + 1, -1]])


@pytest.mark.parametrize("construction", ["T", "V"])
def test_two_loops_match_by_location_not_by_size(construction):
    """Each predicted loop is matched to the target loop it overlaps, even where persistence differs."""
    target = np.zeros((7, 13))
    target[1:6, 1:6] = 1
    target[1:6, 7:12] = 1
    target[3, 3] = target[3, 9] = 0
    prediction = 0.9 * target
    prediction[3, 3] = 0.6  # the left loop is faint in the prediction
    m = betti_matching(prediction, target, construction=construction)
    assert m.num_matched[1] == 2
    mp, mg = m.matched(1)
    cp, cg = m.matched_cells(1)
    np.testing.assert_array_equal(cp[:, 1], cg[:, 1])  # each loop dies at its own hole in both images
    assert rows(mp) == [(0.9, 0.0), (0.9, 0.6)]


@pytest.mark.parametrize("construction", ["T", "V"])
def test_void_in_3d_is_dimension_2(construction):
    target = np.ones((5, 5, 5))
    target[2, 2, 2] = 0  # a hollow cube: one cavity
    m = betti_matching(np.ones((5, 5, 5)), target, construction=construction)
    assert m.num_unmatched_target.tolist() == [0, 0, 1]
    m = betti_matching(target, target, construction=construction)
    assert m.num_matched.tolist() == [0, 0, 1]


def test_constructions_differ_in_connectivity():
    """Diagonal neighbours: one component in T (8-connected), two in V (4-connected)."""
    target = np.zeros((5, 5))
    target[1, 1] = target[2, 2] = 1
    prediction = target.copy()
    prediction[2, 2] = 0.0  # the prediction misses one of the two pixels
    v = betti_matching(prediction, target, construction="V")
    t = betti_matching(prediction, target, construction="T")
    assert v.num_unmatched_target.tolist() == [1, 0]  # a second component that the prediction lacks
    assert t.num_unmatched_target.tolist() == [0, 0]  # one component, present in both
    # A tunnel through 3D diagonals: in T the two voxels touch at a corner.
    cube = np.zeros((3, 3, 3))
    cube[0, 0, 0] = cube[1, 1, 1] = 1
    assert betti_matching(cube, cube, construction="T").num_matched.tolist() == [0, 0, 0]
    assert betti_matching(cube, cube, construction="V").num_matched.tolist() == [1, 0, 0]


# ----------------------------------------------------------------------------------------------------
# API: batches, input types, result object
# ----------------------------------------------------------------------------------------------------
def _same(a: BettiMatching, b: BettiMatching) -> None:
    assert a.shape == b.shape
    for d in a.dims:
        for x, y in zip((*a.matched_cells(d), a.unmatched_prediction_cells(d)), (*b.matched_cells(d), b.unmatched_prediction_cells(d))):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("num_threads", [1, 2, None])
def test_batches_keep_order(num_threads):
    predictions = [make_image(s, (6, 5, 4), "noise") for s in range(5)]
    targets = [make_image(s + 10, (6, 5, 4), "binary") for s in range(5)]
    singles = [betti_matching(p, t) for p, t in zip(predictions, targets)]
    as_lists = betti_matching(predictions, targets, num_threads=num_threads)
    as_array = betti_matching(np.stack(predictions), np.stack(targets), num_threads=num_threads)
    assert isinstance(as_lists, list) and len(as_lists) == len(as_array) == 5
    for one, a, b in zip(singles, as_lists, as_array):
        _same(one, a)
        _same(one, b)
    mixed = betti_matching([predictions[0][0], predictions[1]], [targets[0][0], targets[1]])  # 2D and 3D
    assert [m.shape for m in mixed] == [(5, 4), (6, 5, 4)]


def test_accepts_tensors_dtypes_and_layouts():
    prediction, target = make_image(1, (10, 12), "noise"), make_image(2, (10, 12), "binary")
    reference = betti_matching(prediction, target)
    _same(reference, betti_matching(torch.from_numpy(prediction), torch.from_numpy(target).bool()))
    _same(reference, betti_matching(np.asfortranarray(prediction), target.astype(np.uint8)))
    strided = np.zeros((20, 24))
    strided[::2, ::2] = prediction
    _same(reference, betti_matching(strided[::2, ::2], target))


def test_result_object():
    m = betti_matching(make_image(1, (8, 8), "noise"), make_image(2, (8, 8), "binary"))
    assert m.dims == (0, 1) and m.filtration == "superlevel" and m.construction == "T"  # the package default
    assert repr(m).startswith("BettiMatching(shape=(8, 8), filtration='superlevel', construction='T', matched={H0: ")
    assert m.num_matched.dtype == np.int64 and m.num_matched.shape == (2,)
    for array in (*m.matched(0), *m.matched_cells(1), m.unmatched_target(0), *m.matched_essential()):
        assert not array.flags.writeable
    assert m.matched_cells(0)[0].dtype == np.int64 and m.matched(0)[0].dtype == np.float64
    with pytest.raises(ValueError, match=r"Expected `d` to be one of \(0, 1\), but got 2\."):
        m.matched(2)


# ----------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prediction", "target", "kwargs", "error", "message"),
    [
        (np.full((3, 3), np.nan), np.zeros((3, 3)), {}, ValueError, r"Expected `prediction` to contain only finite values"),
        (np.zeros((3, 3)), np.full((3, 3), np.inf), {}, ValueError, r"Expected `target` to contain only finite values"),
        (np.zeros(5), np.zeros(5), {}, ValueError, r"Expected `prediction` to be a 2D or 3D array, but got shape \(5,\)"),
        (np.zeros((2,) * 5), np.zeros((2,) * 5), {}, ValueError, r"Expected `prediction` to be a 2D or 3D array"),
        (np.zeros((0, 3)), np.zeros((0, 3)), {}, ValueError, r"Expected `prediction` to be non-empty"),
        (np.zeros((3, 3)), np.zeros((3, 4)), {}, ValueError, r"Expected `prediction` and `target` to have the same shape, but got \(3, 3\) and \(3, 4\)\."),
        ([np.zeros((3, 3))] * 2, [np.zeros((3, 3))], {}, ValueError, r"batches of one length, but got 2 and 1"),
        ([np.zeros((3, 3))], np.zeros((3, 3)), {}, ValueError, r"batches of one length, but got 1 and one image"),
        ([np.zeros((3, 3)), np.zeros((2, 2))], [np.zeros((3, 3)), np.zeros((2, 3))], {}, ValueError, r"same shape at batch index 1"),
        ([], [], {}, ValueError, r"Expected `prediction` to be a non-empty list"),
        (np.zeros((3, 3)), np.zeros((3, 3)), {"filtration": "up"}, ValueError, r"Expected `filtration` to be one of \('superlevel', 'sublevel'\), but got 'up'\."),
        (np.zeros((3, 3)), np.zeros((3, 3)), {"comparison": "max"}, ValueError, r"Expected `comparison` to be one of \('union',\), but got 'max'\."),
        (np.zeros((3, 3)), np.zeros((3, 3)), {"construction": "X"}, ValueError, r"Expected `construction` to be one of"),
        (np.zeros((3, 3)), np.zeros((3, 3)), {"num_threads": 0}, ValueError, r"Expected `num_threads` to be a positive integer or None"),
        (np.array([["a"]]), np.zeros((1, 1)), {}, TypeError, r"Expected `prediction` to hold real numbers"),
    ],
)
def test_bad_input(prediction, target, kwargs, error, message):
    with pytest.raises(error, match=message):
        betti_matching(prediction, target, **kwargs)


@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (1, 1, 1), (1, 1, 6), (2, 1, 2), (2, 2, 2)])
def test_degenerate_shapes_and_constant_images(shape, construction):
    for prediction, target in [(np.zeros(shape), np.zeros(shape)), (np.zeros(shape), np.ones(shape))]:
        m = betti_matching(prediction, target, construction=construction)
        assert m.num_matched.sum() + m.num_unmatched_prediction.sum() + m.num_unmatched_target.sum() == 0
        assert m.matched_essential_cells()[0][0, 0] == 0


@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("shape", [(41, 41, 41), (300, 300)])
def test_threads_inside_one_pair_give_the_same_matching(construction, shape):
    # Above the size from which one pair's independent parts run on several threads.
    prediction, target = make_image(3, shape, "noise"), make_image(4, shape, "binary")
    one = betti_matching(prediction, target, construction=construction, num_threads=1)
    three = betti_matching(prediction, target, construction=construction, num_threads=3)
    for d in one.dims:
        for a, b in zip(one.matched_cells(d), three.matched_cells(d)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(one.unmatched_prediction_cells(d), three.unmatched_prediction_cells(d))
        np.testing.assert_array_equal(one.unmatched_target_cells(d), three.unmatched_target_cells(d))



@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 2),
    shape=st.tuples(st.integers(40, 46), st.integers(40, 46), st.integers(40, 46)),
    kinds=st.tuples(st.sampled_from(KINDS), st.sampled_from(KINDS)),
    construction=st.sampled_from(["T", "V"]),
    filtration=st.sampled_from(["sublevel", "superlevel"]),
    threads=st.sampled_from([2, 3, 4, 8]),
)
def test_parallel_reductions_give_the_one_thread_matching(seed, shape, kinds, construction, filtration, threads):
    # From 64k voxels, each H1 reduction of a 3D pair runs lock-free on all threads (more threads than
    # this machine's cores interleave them at every preemption): the matching must be the sweep's.
    prediction, target = make_image(seed, shape, kinds[0]), make_image(seed + 1, shape, kinds[1])
    one = betti_matching(prediction, target, construction=construction, filtration=filtration, num_threads=1)
    many = betti_matching(prediction, target, construction=construction, filtration=filtration, num_threads=threads)
    for d in one.dims:
        for a, b in zip(one.matched_cells(d), many.matched_cells(d)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(one.unmatched_prediction_cells(d), many.unmatched_prediction_cells(d))
        np.testing.assert_array_equal(one.unmatched_target_cells(d), many.unmatched_target_cells(d))

_PROFILE_CHILD = r"""
import sys
import numpy as np
from seglosses import _core
rng = np.random.default_rng(0)
kind = sys.argv[1]
shape = (12, 12, 12)
if kind == "lik-vs-mask":  # a likelihood clipped at 0 (plateau 16%) against a sparse mask (c's plateau ~90%)
    target = np.zeros(shape)
    target[5:7, 5:7, :] = 1.0
    prediction = np.clip(0.15 + 0.7 * target + rng.normal(0, 0.15, shape), 0, 1)
else:  # a random binary prediction (plateau 50%) against noise (c's plateau 50%)
    prediction = (rng.random(shape) < 0.5).astype(np.float64)
    target = rng.random(shape)
_core.betti_matching(prediction, target, int(sys.argv[2]))
"""


def _run_child(kind: str, construction: int, env: dict, cwd) -> str:
    # cwd: away from the repository root, whose seglosses/ (no compiled core) would shadow the installed package.
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PROFILE_CHILD, kind, str(construction)], capture_output=True,
                         text=True, env=env, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stderr


def _profile_lines(kind: str, construction: int, cwd) -> list[str]:
    import os

    stderr = _run_child(kind, construction, {**os.environ, "SEGLOSSES_PROFILE": "1"}, cwd)
    return [line for line in stderr.splitlines() if line.startswith("seglosses profile")]


@pytest.mark.parametrize("construction", [0, 1])
def test_image_reduction_direction_follows_the_plateaus(construction, tmp_path):
    # The direction of the image reduction f -> c is a speed choice (the pairs are the same, see above):
    # the columns follow the image with the smaller plateau. A likelihood against a sparse mask must go by
    # cohomology (by homology a 64^3 one took 2.05 s in T instead of 0.34 s), a binary prediction against
    # noise by homology (cohomology 17x slower in T, 2.5x in V; benchmarks/bench_reduction.py).
    lik = _profile_lines("lik-vs-mask", construction, tmp_path)
    binary = _profile_lines("binary-vs-noise", construction, tmp_path)
    assert any("image f->c (cohomology)" in line for line in lik), lik
    assert any("image f->c (homology)" in line for line in binary), binary
    # The profile: one line per reduction (5) and one for the phases of the call.
    assert sum(line.startswith("seglosses profile h1 ") for line in lik) == 5
    (phases,) = [line for line in lik if line.startswith("seglosses profile matching:")]
    assert all(f" {p} " in phases for p in ("rank", "top", "h0", "h1", "total"))


def test_no_profile_without_the_variable(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "SEGLOSSES_PROFILE"}
    assert "seglosses profile" not in _run_child("lik-vs-mask", 0, env, tmp_path)
