"""Persistence barcodes and Betti numbers of 2D/3D images (cubical complexes).

The filtered complex is the image's cubical complex in one of two constructions:

- ``"T"`` (the package default): pixels/voxels are the top-dimensional cells, a lower cell takes the
  minimum over the top cells containing it (gudhi's ``CubicalComplex(top_dimensional_cells=)``); the
  foreground of a superlevel set is 8-connected (2D) / 26-connected (3D), as in scikit-image's default
  full connectivity and TopoMortar's Betti errors.
- ``"V"``: pixels/voxels are the vertices, a cell takes the maximum over its vertices (CubicalRipser,
  Betti-Matching-3D); the foreground is 4-/6-connected.

A superlevel filtration of f is the sublevel filtration of -f with the values negated back, so a bar
(birth, death) has birth >= death and an essential class dies at -inf. The computation runs in the
compiled core (``seglosses._core``, GIL released, a thread pool over batches) or, with
``backend="gudhi"``, in gudhi (the reference used by the tests).

Reference: H. Wagner, C. Chen, E. Vucini, "Efficient computation of persistent homology for cubical
data", Topological Methods in Data Analysis and Visualization II, 2012; and the CubicalRipser paper,
S. Kaji, T. Sudo, K. Ahara, "Cubical Ripser: Software for computing persistent homology of image and
volume data", arXiv:2005.12692, 2020.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seglosses._validation import check_threads
from seglosses.topology._jobs import check_device, run_jobs, split_batch
from seglosses.topology._validation import (
    CONSTRUCTIONS,
    DEFAULT_CONSTRUCTION,
    FILTRATIONS,
    as_image,
    check_choice,
)

BACKENDS = ("auto", "cpu", "gudhi")
# persistence() and betti_numbers() also take "cuda" (the GPU engine, seglosses/topology/_cuda.py: CUDA tensors,
# never chosen by "auto" until it has been verified on a GPU).
PERSISTENCE_BACKENDS = BACKENDS + ("cuda",)

__all__ = ["Barcode", "persistence", "betti_numbers"]


class Barcode:
    """Persistence barcode of one 2D/3D image, per homology dimension ``d`` in ``dims``.

    Bars of dimension ``d`` are ordered by persistence ``|death - birth|``, longest first (essential
    bars, of infinite persistence, come first), ties broken by birth in filtration order and then by
    the birth and death pixels' flat indices, so the order is deterministic and the same for every
    backend. Zero-persistence bars are not reported.

    Built by ``persistence``; the constructor takes per dimension the (n, 2) intervals and critical
    cells, and sorts them unless ``presorted`` says they are in the order above already.

    Attributes:
        shape: spatial shape of the image, ``(H, W)`` or ``(D, H, W)``.
        filtration: ``"superlevel"`` or ``"sublevel"``.
        construction: ``"T"`` or ``"V"``.
        dims: the homology dimensions, ``(0, 1)`` in 2D and ``(0, 1, 2)`` in 3D.

    Example:
        >>> import numpy as np
        >>> from seglosses.topology import persistence
        >>> ring = np.ones((5, 5)); ring[2, 2] = 0
        >>> barcode = persistence(ring, filtration="superlevel")
        >>> barcode.intervals(1)
        array([[1., 0.]])
        >>> barcode.critical_cells(1)[:, 1]  # the hole is filled at the centre pixel
        array([12])
    """

    def __init__(
        self,
        intervals: Sequence[np.ndarray],
        critical_cells: Sequence[np.ndarray],
        *,
        shape: tuple[int, ...],
        filtration: str,
        construction: str,
        presorted: bool = False,
    ) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.filtration = filtration
        self.construction = construction
        self.dims = tuple(range(len(self.shape)))
        self._intervals = []
        self._cells = []
        for values, cells in zip(intervals, critical_cells):
            values = np.asarray(values, dtype=np.float64).reshape(-1, 2)
            cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
            if not presorted:
                order = _bar_order(values, cells, filtration)
                values, cells = values[order], cells[order]
            values.flags.writeable = False
            cells.flags.writeable = False
            self._intervals.append(values)
            self._cells.append(cells)

    def _check_dim(self, d: int) -> int:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or int(d) not in self.dims:
            raise ValueError(f"Expected `d` to be one of {self.dims}, but got {d!r}.")
        return int(d)

    def intervals(self, d: int) -> np.ndarray:
        """(n, 2) float64 read-only array of (birth, death) values of the bars of dimension ``d``.

        An essential bar dies at +inf (sublevel) or -inf (superlevel).
        """
        return self._intervals[self._check_dim(d)]

    def critical_cells(self, d: int) -> np.ndarray:
        """(n, 2) int64 read-only array of flat (C-order) pixel indices holding each bar's birth and
        death values (``image.ravel()[cells] == intervals`` where finite); -1 for an essential death."""
        return self._cells[self._check_dim(d)]

    def betti_numbers_at(self, t: float) -> tuple[int, ...]:
        """Betti numbers of the filtration's set at level ``t``: ``{f <= t}`` (sublevel) or
        ``{f >= t}`` (superlevel), i.e. the number of bars with birth <= t < death (mirrored)."""
        out = []
        for values in self._intervals:
            if self.filtration == "sublevel":
                alive = (values[:, 0] <= t) & (t < values[:, 1])
            else:
                alive = (values[:, 0] >= t) & (t > values[:, 1])
            out.append(int(alive.sum()))
        return tuple(out)

    def __len__(self) -> int:
        return sum(len(v) for v in self._intervals)

    def __repr__(self) -> str:
        bars = ", ".join(f"H{d}: {len(v)}" for d, v in enumerate(self._intervals))
        return (
            f"Barcode(shape={self.shape}, filtration={self.filtration!r}, "
            f"construction={self.construction!r}, bars={{{bars}}})"
        )


def _bar_order(values: np.ndarray, cells: np.ndarray, filtration: str) -> np.ndarray:
    """The documented order (the compiled core returns its bars in it already)."""
    sign = 1.0 if filtration == "sublevel" else -1.0
    with np.errstate(invalid="ignore", over="ignore"):
        length = np.abs(values[:, 1] - values[:, 0])
    # The essential bar first by its own key: a finite bar's length overflows to inf too for values near
    # +-1.7e308, and then only the birth would set them apart. np.lexsort sorts by the last key first.
    finite = np.isfinite(values[:, 1])
    return np.lexsort((cells[:, 1], cells[:, 0], sign * values[:, 0], -length, finite))


def _sublevel(image: np.ndarray, construction: str, backend: str, threads: int = 1, negate: bool = False):
    """Sublevel persistence of ``image``, or of ``-image`` with ``negate`` (the core reads it negated, no copy)."""
    if backend == "gudhi":
        from seglosses.topology._gudhi import sublevel_persistence

        return sublevel_persistence(-image if negate else image, construction)
    from seglosses import _core

    return _core.persistence(image, CONSTRUCTIONS.index(construction), num_threads=threads, negate=negate)


def _one_barcode(image: np.ndarray, filtration: str, construction: str, backend: str, threads: int = 1) -> Barcode:
    superlevel = filtration == "superlevel"
    result = _sublevel(image, construction, backend, threads, negate=superlevel)
    intervals = [-values if superlevel else values for values, _ in result]
    return Barcode(
        intervals,
        [cells for _, cells in result],
        shape=image.shape,
        filtration=filtration,
        construction=construction,
        presorted=backend != "gudhi",
    )


def persistence(
    image,
    *,
    filtration: str = "superlevel",
    construction: str = DEFAULT_CONSTRUCTION,
    backend: str = "auto",
    num_threads: int | None = None,
) -> Barcode | list[Barcode]:
    """Persistence barcode of the cubical complex of a 2D/3D image, or of each image of a batch.

    Shapes: one image ``(*spatial)`` with ``spatial`` of length 2 or 3 gives a ``Barcode``; a list of
    such images (shapes may differ) or a ``(B, D, H, W)`` array gives a list of ``B`` barcodes, in
    order. A batch of 2D images is passed as a list (``list(images)`` for a ``(B, H, W)`` array), since
    a rank-3 array is a 3D image.

    A bar of dimension ``d`` is a d-dimensional hole of the sets ``{f >= t}`` (superlevel) or
    ``{f <= t}`` (sublevel) born at ``t = birth`` and filled at ``t = death``; see ``Barcode``.

    Args:
        image: numpy array (any real or bool dtype, any strides), CPU torch tensor (detached
            internally), or a list of them.
        filtration: ``"superlevel"`` (a likelihood map: foreground is high) or ``"sublevel"``.
        construction: ``"T"`` (pixels as top cells, 8-/26-connected foreground; the default) or
            ``"V"`` (pixels as vertices, 4-/6-connected).
        backend: ``"auto"``/``"cpu"`` (the compiled core), ``"gudhi"`` (the slow reference) or
            ``"cuda"`` (experimental: the GPU engine for CUDA tensors, H1 of a 3D image reduced on the host
            from what the GPU hands over; not yet verified on a GPU, so ``"auto"`` never chooses it; see
            ``seglosses.topology._cuda``).
        num_threads: threads in all (default: all cores): a batch is spread over them, and an image
            (or each image of a batch smaller than ``num_threads``) uses its share inside the engine,
            where the work of one 3D image parallelises (benchmarks/README.md has the figures).

    Returns:
        ``Barcode`` or a list of them.

    Raises:
        ValueError: an unknown ``filtration``/``construction``/``backend``, an image that is not 2D or
            3D, empty, of more than 2**32 - 2 pixels (checked before any copy), or holds NaN/Inf, a CUDA
            tensor, or a bad ``num_threads``.
        TypeError: an image of a non-real dtype (complex, strings, objects, datetimes, timedeltas).
        RuntimeError: ``backend="cuda"`` where seglosses was built without CUDA or there is no device.

    Example:
        >>> import numpy as np
        >>> from seglosses.topology import persistence
        >>> image = np.array([[0.9, 0.1, 0.8], [0.2, 0.4, 0.3]])
        >>> persistence(image).intervals(0)  # "T": the peaks meet diagonally through 0.4
        array([[ 0.9, -inf],
               [ 0.8,  0.4]])
        >>> persistence(image, construction="V").intervals(0)  # "V": 0.4 is a peak of its own
        array([[ 0.9, -inf],
               [ 0.8,  0.2],
               [ 0.4,  0.3]])
        >>> persistence(image).critical_cells(0)
        array([[ 0, -1],
               [ 2,  4]])
    """
    check_choice("filtration", filtration, FILTRATIONS)
    check_choice("construction", construction, CONSTRUCTIONS)
    check_choice("backend", backend, PERSISTENCE_BACKENDS)
    threads = check_threads(num_threads)
    if backend == "cuda":
        return _persistence_on_cuda(image, filtration, construction, threads)
    images, is_batch = split_batch(image, "image")
    barcodes = run_jobs(lambda im, k: _one_barcode(im, filtration, construction, backend, k), images, threads)
    return barcodes if is_batch else barcodes[0]


def _persistence_on_cuda(image, filtration: str, construction: str, threads: int):
    """``persistence(..., backend="cuda")``: one CUDA tensor, a list of them or a (B, D, H, W) tensor."""
    from seglosses.topology._cuda import listed, persistence_cuda

    images, is_batch = listed(image)
    if is_batch and not images:
        raise ValueError(f"Expected `image` to be a non-empty list of images, but got an empty {type(image).__name__}.")
    names = [f"image[{i}]" for i in range(len(images))] if is_batch else ["image"]
    barcodes = persistence_cuda(images, filtration=filtration, construction=construction, names=names,
                                threads=threads)
    return barcodes if is_batch else barcodes[0]


def betti_numbers(mask, *, construction: str = DEFAULT_CONSTRUCTION, backend: str = "auto") -> tuple[int, ...]:
    """Betti numbers of the foreground of a binary 2D/3D mask.

    ``(b0, b1)`` in 2D (components, holes) and ``(b0, b1, b2)`` in 3D (components, tunnels,
    cavities) of the cubical complex of the foreground, in the chosen construction: ``"T"`` (default)
    counts 8-/26-connected components, ``"V"`` 4-/6-connected ones (the background then has the dual
    connectivity). They are the essential classes of the foreground in the superlevel filtration at
    level 1: the bars with birth 1 and death 0 or -inf.

    Args:
        mask: ``(*spatial)`` bool or 0/1 numeric array or CPU tensor, 2D or 3D (a CUDA tensor with
            ``backend="cuda"``).
        construction: ``"T"`` or ``"V"``.
        backend: ``"auto"``/``"cpu"``, ``"gudhi"`` or ``"cuda"`` (experimental: the GPU engine on a CUDA tensor,
            as ``persistence``; ``"auto"`` does not choose it).

    Raises:
        ValueError: values other than 0 and 1, or the checks of ``persistence``.
        TypeError: a non-real dtype.
        RuntimeError: ``backend="cuda"`` where seglosses was built without CUDA or there is no device.

    Example:
        >>> import numpy as np
        >>> from seglosses.topology import betti_numbers
        >>> ring = np.ones((5, 5), dtype=bool); ring[2, 2] = False
        >>> betti_numbers(ring)
        (1, 1)
    """
    check_choice("construction", construction, CONSTRUCTIONS)
    check_choice("backend", backend, PERSISTENCE_BACKENDS)
    if backend == "cuda":
        barcode = _binary_barcode_on_cuda(mask, construction)
    else:
        check_device(mask, "mask")
        arr = as_image(mask, "mask")
        if not np.isin(arr, (0.0, 1.0)).all():
            raise ValueError(
                f"Expected `mask` to be binary (bool or 0/1), but got values {np.unique(arr)[:5].tolist()}."
            )
        barcode = _one_barcode(arr, "superlevel", construction, backend)
    return tuple(int(((v[:, 0] == 1.0) & (v[:, 1] < 1.0)).sum()) for v in map(barcode.intervals, barcode.dims))


def _binary_barcode_on_cuda(mask, construction: str) -> Barcode:
    """The superlevel barcode of a binary CUDA mask on the GPU engine (``betti_numbers(..., backend="cuda")``)."""
    import torch

    from seglosses.topology._cuda import as_cuda_image, load, persistence_cuda

    load()  # built with CUDA, and a device: the errors of persistence(..., backend="cuda"), in its order
    image = as_cuda_image(mask, "mask")
    values = torch.unique(image).cpu().numpy()
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"Expected `mask` to be binary (bool or 0/1), but got values {values[:5].tolist()}.")
    return persistence_cuda([image], filtration="superlevel", construction=construction, names=["mask"])[0]
