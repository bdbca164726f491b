"""The CUDA engine (seglosses/csrc/cuda): its phases in CPU emulation against the CPU engine, the
Python backend's errors and assembly, the build, and (marked ``gpu``) the kernels on a device.

The emulation (``seglosses._core._gpu_*``) runs the kernels' own per-element functions (phases.h)
sequentially, in the kernels' rounds, so these tests prove the logic the GPU runs: its cell ranks are
the CPU engine's, apparent pairs are pairs of the boundary-matrix reduction in the engine's filtration
order, the Boruvka + Kruskal-merge union-find gives exactly that reduction's H0 and top-dimension pairs,
cell by cell (pairs are unique for a total order), and by pixel exactly the CPU engine's bars. The host part
of the 3D hybrid (H1 reduced on the host from the loop cells the union-find phases leave and from copies of
the ranks) runs in the emulation too, so a whole 3D barcode or matching is compared with the CPU engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seglosses import _core
from seglosses.topology import betti_matching, persistence
from seglosses.topology._cuda import assemble_barcode

CONSTRUCTIONS = {"T": 0, "V": 1}
ROOT = Path(__file__).resolve().parents[1]
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def _pairs(array: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in array}


def _top_dim(shape: tuple[int, ...]) -> int:
    return sum(s > 1 for s in shape)


@st.composite
def images(draw, max_side: int = 7):
    """2D/3D images (flat axes included) of noise, few-valued plateaus with ties, or binary masks."""
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1 if ndim == 3 else 2, max_side)) for _ in range(ndim))
    kind = draw(st.sampled_from(["noise", "ties", "binary"]))
    if kind == "noise":
        elements = st.floats(-1.0, 1.0, allow_nan=False, width=64)
    else:
        elements = st.sampled_from([0.0, 1.0] if kind == "binary" else [0.0, 0.25, 0.5, -0.0])
    return draw(arrays(np.float64, shape, elements=elements))


def _khalimsky_values(image: np.ndarray, construction: str) -> np.ndarray:
    """Every cell's value on the Khalimsky grid, axis by axis with numpy (the reference for phase 1)."""
    values = image.reshape((1,) * (3 - image.ndim) + image.shape)
    for axis in range(3):
        n = values.shape[axis]
        if n == 1:
            continue
        moved = np.moveaxis(values, axis, 0)
        if construction == "V":  # pixels at even positions, an edge takes the max of its two
            out = np.empty((2 * n - 1,) + moved.shape[1:])
            out[0::2] = moved
            out[1::2] = np.maximum(moved[:-1], moved[1:])
        else:  # pixels at odd positions, a face takes the min of the (one or two) pixels beside it
            out = np.empty((2 * n + 1,) + moved.shape[1:])
            out[1::2] = moved
            out[2:-1:2] = np.minimum(moved[:-1], moved[1:])
            out[0], out[-1] = moved[0], moved[-1]
        values = np.moveaxis(out, 0, axis)
    return values.ravel()


@settings(max_examples=60)
@given(image=images(), construction=st.sampled_from(["T", "V"]))
def test_cell_ranks_give_the_cell_values(image, construction):
    ranks = _core._gpu_cell_ranks(image, CONSTRUCTIONS[construction])
    sorted_values = np.sort(image.ravel(), kind="stable")
    np.testing.assert_array_equal(sorted_values[ranks], _khalimsky_values(image, construction))


@settings(max_examples=60)
@given(image=images(), construction=st.sampled_from(["T", "V"]))
def test_cell_ranks_are_the_cpu_engines(image, construction):
    code = CONSTRUCTIONS[construction]
    np.testing.assert_array_equal(_core._gpu_cell_ranks(image, code), _core._gpu_reference_cell_ranks(image, code))


def _reduction_pairs(image: np.ndarray, construction: str) -> dict[int, set[tuple[int, int]]]:
    """(birth cell, death cell) pairs per birth dimension, zero persistence included, of the textbook
    column reduction of the whole boundary matrix in the engine's filtration order (rank, dimension,
    cell index): the reference for the GPU phases, which work cell by cell."""
    code = CONSTRUCTIONS[construction]
    rank = _core._gpu_reference_cell_ranks(image, code).astype(np.int64)
    shape = (1,) * (3 - image.ndim) + image.shape
    extent = [1 if n == 1 else (2 * n + 1 if construction == "T" else 2 * n - 1) for n in shape]
    stride = [extent[1] * extent[2], extent[2], 1]
    cells = np.arange(rank.size)
    coords = np.stack(np.unravel_index(cells, extent), axis=1)
    dim = (coords % 2).sum(axis=1)
    order = np.lexsort((cells, dim, rank))
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    pivot_of: dict[int, set[int]] = {}
    pairs: dict[int, set[tuple[int, int]]] = {0: set(), 1: set(), 2: set()}
    for c in order:
        column = {int(position[c + side * stride[a]]) for a in range(3) if coords[c, a] % 2 for side in (-1, 1)}
        while column and max(column) in pivot_of:
            column ^= pivot_of[max(column)]
        if column:
            low = max(column)
            pivot_of[low] = column
            pairs[int(dim[order[low]])].add((int(order[low]), int(c)))
    return pairs


small_images = images(max_side=5)


@settings(max_examples=60, deadline=None)
@given(image=small_images, construction=st.sampled_from(["T", "V"]))
def test_phases_equal_the_reduction_cell_by_cell(image, construction):
    code = CONSTRUCTIONS[construction]
    reference = _reduction_pairs(image, construction)
    for d in range(_top_dim(image.shape)):
        apparent = _pairs(_core._gpu_apparent_pairs(image, code, d))
        assert apparent <= reference[d]
    h0, essential = _core._gpu_union_find_pairs(image, code, False)
    assert _pairs(h0) == reference[0] and len(h0) == len(reference[0])
    assert essential == int(np.flatnonzero(_core._gpu_cell_ranks(image, code) == 0).min())
    top = _top_dim(image.shape)
    if top >= 1:
        dual, none = _core._gpu_union_find_pairs(image, code, True)
        assert none == -1
        assert _pairs(dual) == reference[top - 1] and len(dual) == len(reference[top - 1])


@settings(max_examples=80, deadline=None)
@given(image=images(max_side=9), construction=st.sampled_from(["T", "V"]))
def test_union_find_phases_equal_the_cpu_engine_by_pixel(image, construction):
    code = CONSTRUCTIONS[construction]
    flat = image.ravel()
    cpu = _core.persistence(image, code)
    h0, essential = _core._gpu_pixel_pairs(image, code, False)
    h0 = h0[flat[h0[:, 0]] != flat[h0[:, 1]]]  # the engine drops pairs of equal value, not only of equal rank
    assert _pairs(h0) | {(essential, -1)} == _pairs(cpu[0][1]) and len(h0) + 1 == len(cpu[0][1])
    top = _top_dim(image.shape)
    if top >= 2:
        dual, _ = _core._gpu_pixel_pairs(image, code, True)
        dual = dual[flat[dual[:, 0]] != flat[dual[:, 1]]]
        assert _pairs(dual) == _pairs(cpu[top - 1][1]) and len(dual) == len(cpu[top - 1][1])


def test_apparent_pairs_cover_most_h1_columns_of_a_3d_likelihood():
    # The premise of the GPU design (most H1 columns of a 3D likelihood need no reduction), checked on
    # a smooth random field: most H1 pairs (zero persistence included) are found by the local test.
    rng = np.random.default_rng(0)
    field = rng.random((6, 6, 6))
    for _ in range(2):
        field = (field + np.roll(field, 1, 0) + np.roll(field, 1, 1) + np.roll(field, 1, 2)) / 4
    for construction in ("T", "V"):
        code = CONSTRUCTIONS[construction]
        apparent = len(_core._gpu_apparent_pairs(field, code, 1))
        assert apparent >= 0.5 * len(_reduction_pairs(field, construction)[1])


def _emulated_barcode(image: np.ndarray, construction: str, filtration: str, threads: int = 1):
    """What persistence(..., backend="cuda") returns, on the emulated engine: its pixel pairs, assembled."""
    sub = -image if filtration == "superlevel" else image
    pairs, essential = _core._gpu_barcode(sub, CONSTRUCTIONS[construction], threads)
    return assemble_barcode(pairs, essential, lambda index: sub.ravel()[index], shape=image.shape,
                            filtration=filtration, construction=construction)


def _assert_same_barcode(got, expected) -> None:
    assert got.dims == expected.dims
    for d in expected.dims:
        np.testing.assert_array_equal(got.intervals(d), expected.intervals(d))
        np.testing.assert_array_equal(got.critical_cells(d), expected.critical_cells(d))


@settings(max_examples=300, deadline=None)
@given(
    image=images(),
    construction=st.sampled_from(["T", "V"]),
    filtration=st.sampled_from(["superlevel", "sublevel"]),
)
def test_assembled_barcode_equals_the_cpu_backend(image, construction, filtration):
    # backend="cuda" end to end on the emulation: 2D, planar and solid 3D (H1 by the hybrid's host part),
    # every bar and critical pixel the CPU backend's, in its order.
    expected = persistence(image, filtration=filtration, construction=construction, backend="cpu")
    _assert_same_barcode(_emulated_barcode(image, construction, filtration), expected)


@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("kind", ["likelihood", "binary", "plateaus"])
def test_emulated_3d_barcode_on_larger_volumes_and_threads(construction, kind):
    # Volumes where H1 has stored columns (not only apparent and emergent pairs), on 1 and 3 host threads.
    rng = np.random.default_rng(21)
    noise = rng.standard_normal((20, 22, 18))
    smooth = sum(np.roll(noise, s, axis) for s in (-1, 0, 1) for axis in range(3))
    image = {"likelihood": 1 / (1 + np.exp(-smooth)), "binary": (smooth > 0).astype(np.float64),
             "plateaus": np.round(smooth).clip(-2, 2)}[kind]
    expected = persistence(image, construction=construction, backend="cpu")
    assert len(expected.intervals(1)) > 10
    for threads in (1, 3):
        _assert_same_barcode(_emulated_barcode(image, construction, "superlevel", threads), expected)


@st.composite
def image_pairs(draw, max_side: int = 8):
    """Two images of one shape (2D, or 3D with sides from 1: planar and solid), noise, ties or binary."""
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1 if ndim == 3 else 2, max_side if ndim == 2 else 5)) for _ in range(ndim))
    out = []
    for _ in range(2):
        kind = draw(st.sampled_from(["noise", "ties", "binary"]))
        if kind == "noise":
            elements = st.floats(-1.0, 1.0, allow_nan=False, width=64)
        else:
            elements = st.sampled_from([0.0, 1.0] if kind == "binary" else [0.0, 0.25, 0.5, -0.0])
        out.append(draw(arrays(np.float64, shape, elements=elements)))
    return out[0], out[1]


@settings(max_examples=150, deadline=None)
@given(pair=image_pairs(), construction=st.sampled_from(["T", "V"]), negate=st.booleans())
def test_gpu_matching_emulation_equals_the_cpu_engine_pair_for_pair(pair, construction, negate):
    # The union-find dimensions of the GPU matching (Boruvka forests, then the merges of
    # matching_phases.h) against the CPU engine: the same pairs, matched and unmatched, in the same order.
    # A solid pair's H1 comes from the hybrid's host part (the loop cells the forests leave, reduced by the CPU
    # engine's reductions from copies of the ranks): every dimension is compared.
    f, g = pair
    code = CONSTRUCTIONS[construction]
    ref_dims, ref_f, ref_g = _core.betti_matching(f, g, code, negate=negate)
    emu_dims, emu_f, emu_g = _core._gpu_betti_matching(f, g, code, negate=negate)
    assert (emu_f, emu_g) == (ref_f, ref_g)
    assert len(emu_dims) == len(ref_dims)
    for d in range(len(ref_dims)):
        for ref, emu in zip(ref_dims[d], emu_dims[d]):
            np.testing.assert_array_equal(emu, ref)


def test_gpu_matching_emulation_on_a_likelihood_against_its_mask():
    # Larger than the hypothesis cases: a smooth 2D likelihood against its thresholded mask, both constructions.
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((48, 40))
    smooth = sum(np.roll(np.roll(noise, i, 0), j, 1) for i in range(-2, 3) for j in range(-2, 3))
    likelihood = 1 / (1 + np.exp(-smooth / 3))
    mask = (likelihood > 0.5).astype(np.float64)
    for code in (0, 1):
        ref = _core.betti_matching(likelihood, mask, code, negate=True)
        emu = _core._gpu_betti_matching(likelihood, mask, code, negate=True)
        assert emu[1:] == ref[1:]
        assert sum(len(part) for dim in ref[0] for part in dim) > 20  # something was matched and unmatched
        for d in (0, 1):
            for r, e in zip(ref[0][d], emu[0][d]):
                np.testing.assert_array_equal(e, r)


DATA = Path(os.environ.get("SEGLOSSES_DATA", ROOT.parent / "shared" / "data"))


@pytest.mark.skipif(not (DATA / "topomortar" / "train" / "noisy").is_dir(), reason="TopoMortar not in the data folder")
@pytest.mark.parametrize("case", ["001", "027"])
def test_gpu_matching_emulation_on_topomortar_accurate_vs_noisy_labels(case):
    # Real label pairs: the brick wall's accurate mortar label against its noisy one, 512^2, T and V.
    from seglosses.io import read_image

    folder = DATA / "topomortar" / "train"
    p, g = (read_image(folder / kind / f"{case}.png")[0].astype(np.float64) / 255 for kind in ("accurate", "noisy"))
    for code in (0, 1):
        ref = _core.betti_matching(p, g, code, negate=True)
        emu = _core._gpu_betti_matching(p, g, code, negate=True)
        assert emu[1:] == ref[1:]
        assert len(ref[0][1][0]) > 10  # bricks (H1 bars) matched
        for d in (0, 1):
            for r, e in zip(ref[0][d], emu[0][d]):
                np.testing.assert_array_equal(e, r)


@pytest.mark.parametrize("construction", ["T", "V"])
def test_gpu_matching_emulation_3d_likelihood_against_its_mask_on_threads(construction):
    # A solid pair with stored H1 columns in every reduction: H1 by the hybrid's host part on 1 and 3 threads.
    rng = np.random.default_rng(17)
    noise = rng.standard_normal((18, 20, 16))
    smooth = sum(np.roll(noise, s, axis) for s in (-1, 0, 1) for axis in range(3))
    likelihood = 1 / (1 + np.exp(-smooth))
    mask = (sum(np.roll(rng.standard_normal(noise.shape), s, 0) for s in (-1, 0, 1)) > 0).astype(np.float64)
    code = CONSTRUCTIONS[construction]
    ref = _core.betti_matching(likelihood, mask, code, negate=True)
    assert len(ref[0][1][0]) + len(ref[0][1][2]) > 10  # H1 bars matched and unmatched
    for threads in (1, 3):
        emu = _core._gpu_betti_matching(likelihood, mask, code, negate=True, threads=threads)
        assert emu[1:] == ref[1:]
        for r_dim, e_dim in zip(ref[0], emu[0]):
            for r, e in zip(r_dim, e_dim):
                np.testing.assert_array_equal(e, r)


@pytest.mark.skipif(not (DATA / "vesselnn" / "labels").is_dir(), reason="vesselNN not in the data folder")
def test_gpu_emulation_on_vesselnn_patches():
    # Real 3D pairs: a two-photon vessel patch's normalised intensity against its label, the whole matching
    # and the barcode of the intensity, in T and V.
    from seglosses.io import read_image

    name = "burgess2014_noisySparseVessels.nii.gz"
    volume = read_image(DATA / "vesselnn" / "images" / name)[0].astype(np.float64)
    label = read_image(DATA / "vesselnn" / "labels" / name)[0].astype(np.float64)
    volume, label = np.squeeze(volume), np.squeeze(label)
    patch = tuple(slice(0, min(40, n)) for n in volume.shape)
    p = volume[patch] / max(float(volume.max()), 1.0)
    g = (label[patch] > 0).astype(np.float64)
    assert p.ndim == 3 and min(p.shape) > 1
    for construction, code in CONSTRUCTIONS.items():
        ref = _core.betti_matching(p, g, code, negate=True)
        emu = _core._gpu_betti_matching(p, g, code, negate=True, threads=2)
        assert emu[1:] == ref[1:]
        for r_dim, e_dim in zip(ref[0], emu[0]):
            for r, e in zip(r_dim, e_dim):
                np.testing.assert_array_equal(e, r)
        expected = persistence(p, construction=construction, backend="cpu")
        _assert_same_barcode(_emulated_barcode(p, construction, "superlevel", 2), expected)


def test_matching_backends_are_checked():
    with pytest.raises(ValueError, match=r"Expected `backend` to be one of \('auto', 'cpu', 'cuda'\)"):
        betti_matching(np.zeros((3, 3)), np.zeros((3, 3)), backend="gpu")


def test_cuda_merge_mode_is_checked(monkeypatch):
    from seglosses.topology._cuda import merge_on_host

    assert merge_on_host()
    monkeypatch.setenv("SEGLOSSES_CUDA_MERGE", "device")
    assert not merge_on_host()
    monkeypatch.setenv("SEGLOSSES_CUDA_MERGE", "gpu")
    with pytest.raises(ValueError, match="Expected SEGLOSSES_CUDA_MERGE to be 'host' or 'device'"):
        merge_on_host()


def test_cuda_matching_without_the_module(monkeypatch):
    _as_if_built_without_cuda(monkeypatch)
    with pytest.raises(RuntimeError, match="seglosses was built without CUDA"):
        betti_matching(np.zeros((3, 3)), np.zeros((3, 3)), backend="cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_matching_without_a_device():
    pytest.importorskip("seglosses._cuda", reason="seglosses was built without CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        betti_matching(np.zeros((3, 3)), np.zeros((3, 3)), backend="cuda")


def _as_if_built_without_cuda(monkeypatch) -> None:
    import seglosses

    monkeypatch.setitem(sys.modules, "seglosses._cuda", None)
    monkeypatch.delattr(seglosses, "_cuda", raising=False)  # `from seglosses import _cuda` reads it first


def test_unknown_backend_lists_cuda():
    with pytest.raises(ValueError, match=r"Expected `backend` to be one of \('auto', 'cpu', 'gudhi', 'cuda'\)"):
        persistence(np.zeros((3, 3)), backend="gpu")


def test_cuda_backend_without_the_module(monkeypatch):
    _as_if_built_without_cuda(monkeypatch)
    with pytest.raises(RuntimeError, match="seglosses was built without CUDA"):
        persistence(np.zeros((3, 3)), backend="cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_backend_without_a_device():
    pytest.importorskip("seglosses._cuda", reason="seglosses was built without CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        persistence(np.zeros((3, 3)), backend="cuda")


def test_auto_backend_keeps_cpu_inputs_on_the_cpu_engine():
    image = np.random.default_rng(1).random((6, 7))
    a = persistence(torch.from_numpy(image), backend="auto")
    b = persistence(image, backend="cpu")
    np.testing.assert_array_equal(a.intervals(1), b.intervals(1))


def _configure(tmp_path: Path, value: str, build: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, SEGLOSSES_CUDA=value)
    cmd = ["cmake", "-S", str(ROOT), "-B", str(tmp_path / "build"), f"-DPython_EXECUTABLE={sys.executable}"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if build and result.returncode == 0:
        result = subprocess.run(
            ["cmake", "--build", str(tmp_path / "build"), "--target", "_cuda", "-j2"],
            env=env, capture_output=True, text=True, check=False,
        )
    return result


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not found")
def test_cpu_only_configuration(tmp_path):
    # Configuring needs nanobind importable here (CI installs the package with build isolation, so its
    # environment has no nanobind: there the build itself, with nvcc found, is the CUDA check).
    pytest.importorskip("nanobind", reason="nanobind is not installed in this environment (build isolation)")
    result = _configure(tmp_path, "OFF")
    assert result.returncode == 0, result.stderr
    assert "seglosses_cuda_kernels" not in (tmp_path / "build" / "Makefile").read_text()
    bad = _configure(tmp_path / "bad", "maybe")
    assert bad.returncode != 0
    assert "Expected SEGLOSSES_CUDA to be AUTO, ON or OFF, but got 'MAYBE'" in bad.stderr


@pytest.mark.skipif(
    shutil.which("nvcc") is None or os.environ.get("SEGLOSSES_CUDA", "AUTO").upper() == "OFF",
    reason="no CUDA compiler on this machine: the package is CPU-only by design",
)
def test_the_cuda_module_was_built_and_imports_without_a_driver():
    # Where nvcc is found, the package's own build (pip install, CI) compiles the CUDA sources: this
    # is CI's proof that they compile. The module links the static CUDA runtime, which loads the driver
    # only at the first CUDA call, so it imports on a machine without one and reports its devices.
    from seglosses import _cuda

    count = _cuda.device_count()
    assert count >= 0
    if not torch.cuda.is_available():
        assert count == 0


# On a GPU machine: the kernels against their emulation and the CPU engine.


def _random_images(count: int, shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            out.append(rng.random(shape))
        elif kind == 1:
            out.append(rng.integers(0, 4, shape).astype(np.float64) / 4)
        else:
            out.append((rng.random(shape) > 0.5).astype(np.float64))
    return out


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("filtration", ["superlevel", "sublevel"])
def test_gpu_persistence_equals_cpu_2d(construction, filtration):
    for image in _random_images(30, (37, 53), seed=2):
        gpu = persistence(torch.from_numpy(image).cuda(), filtration=filtration, construction=construction,
                          backend="cuda")
        cpu = persistence(image, filtration=filtration, construction=construction, backend="cpu")
        for d in cpu.dims:
            np.testing.assert_array_equal(gpu.intervals(d), cpu.intervals(d))
            np.testing.assert_array_equal(gpu.critical_cells(d), cpu.critical_cells(d))


@pytest.mark.gpu
@needs_gpu
def test_gpu_batch_runs_concurrently_and_equals_cpu():
    images = _random_images(12, (64, 48), seed=5)
    tensors = [torch.from_numpy(im).cuda() * 1.0 for im in images]  # made on the current stream
    gpu = persistence(tensors, backend="cuda")
    cpu = persistence(images, backend="cpu")
    for g, c in zip(gpu, cpu):
        for d in c.dims:
            np.testing.assert_array_equal(g.intervals(d), c.intervals(d))
            np.testing.assert_array_equal(g.critical_cells(d), c.critical_cells(d))


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
def test_gpu_phases_equal_their_emulation_3d(construction):
    from seglosses import _cuda

    code = CONSTRUCTIONS[construction]
    stream = torch.cuda.current_stream().cuda_stream
    for image in _random_images(9, (11, 13, 9), seed=3):
        device = torch.from_numpy(image).cuda()
        ranks = torch.empty(len(_core._gpu_cell_ranks(image, code)), dtype=torch.int32, device="cuda")
        _cuda.cell_ranks(device.data_ptr(), tuple(image.shape), code, stream, ranks.data_ptr())
        np.testing.assert_array_equal(ranks.cpu().numpy().view(np.uint32), _core._gpu_cell_ranks(image, code))
        for d in range(3):
            assert _cuda.apparent_pairs(device.data_ptr(), tuple(image.shape), code, d, stream) == len(
                _core._gpu_apparent_pairs(image, code, d)
            )
        for dual in (False, True):
            cpu_pairs, cpu_essential = _core._gpu_pixel_pairs(image, code, dual)
            for host_merge in (False, True):
                gpu_pairs, gpu_essential = _cuda.union_find_pairs(device.data_ptr(), tuple(image.shape), code, dual,
                                                                  host_merge, stream)
                np.testing.assert_array_equal(gpu_pairs, cpu_pairs)  # the same merges in the same order
                assert gpu_essential == cpu_essential
        want, want_essential = _core._gpu_barcode(image, code, 2)
        for host_merge in (False, True):
            got, got_essential = _cuda.barcode(device.data_ptr(), tuple(image.shape), code, host_merge, 2, stream)
            assert got_essential == want_essential and len(got) == len(want) == 3
            for d in range(3):  # H1's pairs come in the order the threads publish them: compared sorted
                np.testing.assert_array_equal(np.unique(got[d], axis=0), np.unique(want[d], axis=0))


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("merge", ["host", "device"])
def test_gpu_persistence_equals_cpu_3d_and_auto_stays_off_the_gpu(construction, merge, monkeypatch):
    # 3D barcodes by the hybrid (H0 and H2 on the device, H1 on the host), batches included.
    monkeypatch.setenv("SEGLOSSES_CUDA_MERGE", merge)
    images = _random_images(9, (19, 23, 17), seed=4)
    gpu = persistence([torch.from_numpy(im).cuda() for im in images], construction=construction, backend="cuda")
    for got, image in zip(gpu, images):
        _assert_same_barcode(got, persistence(image, construction=construction, backend="cpu"))
    with pytest.raises(ValueError):  # "auto" keeps the CPU engine's refusal until the GPU engine is verified
        persistence(torch.from_numpy(images[0]).cuda(), backend="auto")


def _assert_same_matching(gpu, cpu) -> None:
    assert gpu.shape == cpu.shape and gpu.dims == cpu.dims
    for d in cpu.dims:
        for a, b in zip(gpu.matched_cells(d), cpu.matched_cells(d)):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(gpu.matched(d), cpu.matched(d)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(gpu.unmatched_prediction_cells(d), cpu.unmatched_prediction_cells(d))
        np.testing.assert_array_equal(gpu.unmatched_target_cells(d), cpu.unmatched_target_cells(d))
        np.testing.assert_array_equal(gpu.unmatched_prediction(d), cpu.unmatched_prediction(d))
    for a, b in zip(gpu.matched_essential(), cpu.matched_essential()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("filtration", ["superlevel", "sublevel"])
@pytest.mark.parametrize("merge", ["host", "device"])
def test_gpu_matching_equals_cpu_2d_and_planar(construction, filtration, merge, monkeypatch):
    monkeypatch.setenv("SEGLOSSES_CUDA_MERGE", merge)
    images = _random_images(40, (37, 53), seed=8)
    for i, (p, g) in enumerate(zip(images[::2], images[1::2])):
        if i % 4 == 3:
            p, g = p[:, None, :], g[:, None, :]  # planar 3D
        gpu = betti_matching(torch.from_numpy(p).cuda(), torch.from_numpy(g).cuda(), filtration=filtration,
                             construction=construction, backend="cuda")
        cpu = betti_matching(p, g, filtration=filtration, construction=construction, backend="cpu")
        _assert_same_matching(gpu, cpu)


@pytest.mark.gpu
@needs_gpu
def test_gpu_matching_batch_equals_cpu():
    images = _random_images(16, (64, 48), seed=9)
    gpu = betti_matching([torch.from_numpy(im).cuda() for im in images[:8]],
                         [torch.from_numpy(im).cuda() for im in images[8:]], backend="cuda")
    cpu = betti_matching(images[:8], images[8:], backend="cpu")
    for a, b in zip(gpu, cpu):
        _assert_same_matching(a, b)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("merge", ["host", "device"])
def test_gpu_matching_equals_cpu_solid_3d(construction, merge, monkeypatch):
    # Solid pairs by the hybrid: H0 and H2 on the device, H1 on the host from the device's loop cells.
    monkeypatch.setenv("SEGLOSSES_CUDA_MERGE", merge)
    images = _random_images(12, (21, 18, 16), seed=10)
    gpu = betti_matching([torch.from_numpy(im).cuda() for im in images[:6]],
                         [torch.from_numpy(im).cuda() for im in images[6:]], construction=construction, backend="cuda")
    cpu = betti_matching(images[:6], images[6:], construction=construction, backend="cpu")
    for a, b in zip(gpu, cpu):
        _assert_same_matching(a, b)


def test_betti_matching_values_by_a_gather_equal_numpy_indexing():
    # The CUDA backend builds its BettiMatching from gathers on the device; the layout must be numpy's.
    rng = np.random.default_rng(11)
    p, g = rng.random((9, 8)), (rng.random((9, 8)) > 0.5).astype(np.float64)
    ref = betti_matching(p, g)
    dims, birth_p, birth_g = _core.betti_matching(p, g, 0, negate=True)
    calls = []

    def gather(image):
        def at(index):
            calls.append(len(index))
            return image.ravel()[index]
        return at

    built = type(ref)(p, g, dims, (birth_p, birth_g), filtration="superlevel", construction="T",
                      gather=(gather(p), gather(g)))
    _assert_same_matching(built, ref)
    assert len(calls) == 2  # one gather per image


@pytest.mark.parametrize("name", ["BettiMatchingLoss", "HuTopoLoss"])
def test_topology_loss_backend_is_checked(name):
    import seglosses.losses

    with pytest.raises(ValueError, match=r"Expected `backend` to be one of \('auto', 'cpu', 'cuda'\)"):
        getattr(seglosses.losses, name)(backend="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_betti_matching_loss_cuda_backend_without_a_device():
    pytest.importorskip("seglosses._cuda", reason="seglosses was built without CUDA")
    from seglosses.losses import betti_matching_loss

    with pytest.raises(RuntimeError, match="no CUDA device"):
        betti_matching_loss(torch.rand(1, 1, 8, 8), torch.ones(1, 1, 8, 8), backend="cuda")


def _assert_cuda_loss_equals_cpu(loss_fn, logits: torch.Tensor, labels: torch.Tensor, **settings) -> None:
    """The loss on the GPU engine: the same value and the same gradient as on the CPU engine."""
    out = {}
    for backend, device in (("cpu", "cpu"), ("cuda", "cuda")):
        x = logits.to(device).requires_grad_(True)
        loss = loss_fn(x, labels.to(device), backend=backend, **settings)
        loss.backward()
        out[backend] = (loss.detach().cpu(), x.grad.cpu())
    torch.testing.assert_close(out["cuda"][0], out["cpu"][0])
    torch.testing.assert_close(out["cuda"][1], out["cpu"][1])


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
def test_gpu_betti_matching_loss_equals_the_cpu_backend(construction):
    from seglosses.losses import betti_matching_loss

    generator = torch.Generator().manual_seed(12)
    logits = torch.randn(3, 2, 40, 36, generator=generator, dtype=torch.float64)
    labels = (torch.rand(3, 1, 40, 36, generator=generator) > 0.6).long()
    _assert_cuda_loss_equals_cpu(betti_matching_loss, logits, labels, softmax=True, to_onehot_y=True,
                                 construction=construction, include_unmatched_target=True)


@pytest.mark.gpu
@needs_gpu
def test_gpu_betti_matching_loss_3d_equals_the_cpu_backend():
    from seglosses.losses import betti_matching_loss

    generator = torch.Generator().manual_seed(13)
    logits = torch.randn(2, 1, 16, 18, 14, generator=generator, dtype=torch.float64)
    labels = (torch.rand(2, 1, 16, 18, 14, generator=generator) > 0.6).double()
    _assert_cuda_loss_equals_cpu(betti_matching_loss, logits, labels, sigmoid=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_hutopo_loss_and_betti_numbers_cuda_backend_without_a_device():
    pytest.importorskip("seglosses._cuda", reason="seglosses was built without CUDA")
    from seglosses.losses import hutopo_loss
    from seglosses.topology import betti_numbers

    with pytest.raises(RuntimeError, match="no CUDA device"):
        hutopo_loss(torch.rand(1, 1, 8, 8), torch.ones(1, 1, 8, 8), backend="cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        betti_numbers(torch.ones(8, 8), backend="cuda")


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
def test_gpu_betti_numbers_equal_the_cpu_backend(construction):
    from seglosses.topology import betti_numbers

    for shape in ((40, 36), (14, 12, 10)):
        for seed in range(6):
            mask = (np.random.default_rng(seed).random(shape) > 0.55).astype(np.float64)
            gpu = betti_numbers(torch.from_numpy(mask).cuda().bool(), construction=construction, backend="cuda")
            assert gpu == betti_numbers(mask, construction=construction, backend="cpu")
    with pytest.raises(ValueError, match="to be binary"):
        betti_numbers(torch.full((6, 6), 0.5, device="cuda"), backend="cuda")


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("shape", [(40, 36), (16, 18, 14)])
def test_gpu_hutopo_loss_equals_the_cpu_backend(shape):
    from seglosses.losses import hutopo_loss

    generator = torch.Generator().manual_seed(14)
    logits = torch.randn(2, 1, *shape, generator=generator, dtype=torch.float64)
    labels = (torch.rand(2, 1, *shape, generator=generator) > 0.6).double()
    _assert_cuda_loss_equals_cpu(hutopo_loss, logits, labels, sigmoid=True)


def test_topology_metrics_cuda_backend_is_checked():
    from seglosses.metrics.functional import betti_matching_error, betti_number_errors

    mask = np.ones((6, 6))
    for metric in (betti_matching_error, betti_number_errors):
        with pytest.raises(ValueError, match=r"Expected `backend` to be one of \('auto', 'cpu', 'cuda'\)"):
            metric(mask, mask, backend="gpu")


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("construction", ["T", "V"])
def test_gpu_topology_metrics_equal_the_cpu_backend(construction):
    from seglosses.metrics.functional import betti_matching_error, betti_number_errors

    for shape in ((40, 36), (14, 12, 10)):
        for seed in range(4):
            rng = np.random.default_rng(seed)
            p, g = (rng.random(shape) > 0.55), (rng.random(shape) > 0.5)
            if seed == 3:
                p[...] = False  # an empty prediction
            for metric in (betti_matching_error, betti_number_errors):
                gpu = metric(torch.from_numpy(p).cuda(), torch.from_numpy(g).cuda(), construction=construction,
                             backend="cuda")
                np.testing.assert_array_equal(gpu, metric(p, g, construction=construction))
    with pytest.raises(ValueError, match="binary masks"):
        betti_matching_error(torch.full((6, 6), 0.5, device="cuda"), torch.ones(6, 6, device="cuda"), backend="cuda")
