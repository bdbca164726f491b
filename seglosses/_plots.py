"""Figures of ``seglosses evaluate --plots`` (needs matplotlib: ``pip install "seglosses[plots]"``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seglosses.topology import betti_matching

MARKERS = {0: "o", 1: "s", 2: "^"}


def _figure():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def case_figure(prediction: np.ndarray, target: np.ndarray, path: Path, title: str, construction: str) -> None:
    """Agreement map of one case with its unmatched topological features marked.

    Green: both, red: prediction only, blue: target only. Each unmatched feature of the Betti matching is drawn
    at its birth pixel (circle: component, square: loop, triangle: cavity), red for the prediction's and blue
    for the target's. 3D cases are shown as maximum projections along the first axis.
    """
    plt = _figure()
    m = betti_matching(prediction.astype(np.float64), target.astype(np.float64), construction=construction)
    project = (lambda a: a.max(0)) if prediction.ndim == 3 else (lambda a: a)
    p, g = project(prediction), project(target)
    rgb = np.zeros((*p.shape, 3))
    rgb[p & g] = (0.2, 0.8, 0.2)
    rgb[p & ~g] = (0.9, 0.2, 0.2)
    rgb[~p & g] = (0.2, 0.4, 0.9)
    figure, axis = plt.subplots(figsize=(6, 6 * p.shape[0] / max(p.shape[1], 1) + 0.6))
    axis.imshow(rgb, interpolation="nearest")
    for d in m.dims:
        for cells, colour in ((m.unmatched_prediction_cells(d), "red"), (m.unmatched_target_cells(d), "blue")):
            if len(cells):
                coordinates = np.unravel_index(cells[:, 0], prediction.shape)[-2:]
                axis.scatter(coordinates[1], coordinates[0], marker=MARKERS[d], facecolors="none",
                             edgecolors=colour, s=60, linewidths=1.5)
    counts = ", ".join(
        f"H{d}: {int(a)} pred / {int(b)} gt" for d, a, b in zip(m.dims, m.num_unmatched_prediction, m.num_unmatched_target)
    )
    axis.set_title(f"{title}\nunmatched features {counts}", fontsize=9)
    axis.set_axis_off()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def summary_figure(rows: list[dict], columns: list[str], path: Path) -> None:
    """One histogram per metric over the cases that finished."""
    plt = _figure()
    ok = [r for r in rows if r["status"] == "ok"]
    n = max(len(columns), 1)
    ncols = min(4, n)
    nrows = -(-n // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
    for axis, column in zip(axes.ravel(), columns):
        values = np.array([r[column] for r in ok if column in r], dtype=np.float64)
        axis.hist(values[~np.isnan(values)], bins=20, color="0.4")
        axis.set_title(column, fontsize=9)
    for axis in axes.ravel()[len(columns):]:
        axis.set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
