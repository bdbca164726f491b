"""Reference backend on gudhi (slow; the test oracle and a fallback).

gudhi's ``CubicalComplex`` takes ``top_dimensional_cells=`` (the T-construction) or ``vertices=`` (the
V-construction, gudhi >= 3.9) and reports persistence pairs through the top cells or vertices that carry
their birth and death values, indexed in Fortran order; here they become C-order flat pixel indices.
Only the sublevel filtration is computed: the caller negates for a superlevel one.
"""

from __future__ import annotations

import numpy as np


def _import_gudhi():
    try:
        import gudhi
    except ImportError as err:
        raise ImportError("backend='gudhi' needs gudhi >= 3.9, an optional dependency: "
                          "`pip install \"seglosses[gudhi]\"`.") from err
    return gudhi


def sublevel_persistence(image: np.ndarray, construction: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sublevel persistence of a C-contiguous float64 2D/3D image with gudhi.

    Returns, per homology dimension ``0..image.ndim - 1``, a pair ((n, 2) float64 birth/death values,
    (n, 2) int64 flat pixel indices, -1 for an essential death), unsorted. Zero-persistence pairs are
    dropped (gudhi keeps intervals strictly longer than ``min_persistence=0``).
    """
    gudhi = _import_gudhi()
    if construction == "T":
        complex_ = gudhi.CubicalComplex(top_dimensional_cells=image)
    else:
        complex_ = gudhi.CubicalComplex(vertices=image)
    complex_.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
    if construction == "T":
        regular, essential = complex_.cofaces_of_persistence_pairs()
    else:
        regular, essential = complex_.vertices_of_persistence_pairs()
    fortran_values = image.ravel(order="F")

    def to_c_order(fortran_index: np.ndarray) -> np.ndarray:
        return np.ravel_multi_index(np.unravel_index(fortran_index, image.shape, order="F"), image.shape)

    out = []
    for d in range(image.ndim):
        pairs = np.asarray(regular[d], dtype=np.int64).reshape(-1, 2) if d < len(regular) else np.empty((0, 2), np.int64)
        births = np.asarray(essential[d], dtype=np.int64).ravel() if d < len(essential) else np.empty(0, np.int64)
        values = np.concatenate(
            [fortran_values[pairs], np.stack([fortran_values[births], np.full(births.shape, np.inf)], axis=1)]
        )
        cells = np.concatenate(
            [to_c_order(pairs).reshape(-1, 2), np.stack([to_c_order(births), np.full(births.shape, -1)], axis=1)]
        ).astype(np.int64)
        out.append((values.reshape(-1, 2), cells.reshape(-1, 2)))
    return out
