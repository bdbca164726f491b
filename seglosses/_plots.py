"""Figures of ``seglosses evaluate --plots`` and the colour code they share with ``seglosses demo``.

The colour code and the agreement map are numpy only (the demo draws with them); the figures need matplotlib
(``pip install "seglosses[plots]"``), imported when a figure is drawn.

Per-case figures keep every pixel: a 2D case is drawn at its native resolution (small images enlarged by a whole
factor, never resampled down), a 3D case as maximum-intensity projections in its physical orientation (NIfTI
volumes turned to the closest RAS orientation of their affine, each axis stretched by its voxel spacing). The
legend, the case's metrics and the counts of unmatched features are in the image.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

if TYPE_CHECKING:
    from seglosses.topology import BettiMatching

__all__ = [
    "AGREEMENT",
    "UNMATCHED",
    "agreement_rgb",
    "case_figure",
    "diagram_figure",
    "metric_label",
    "ringed_agreement",
    "summary_figure",
]

# One colour code for every agreement map of the package (RGB 0-255, on black): the demo's figure, evaluate's.
AGREEMENT = {"prediction and target": (255, 255, 255), "prediction only": (220, 40, 40), "target only": (40, 90, 230)}
# Unmatched topological features (Betti matching) are ringed in these colours, over a black halo.
UNMATCHED = {"prediction": (255, 220, 0), "target": (0, 230, 230)}
FEATURES = {0: ("o", "component"), 1: ("s", "loop"), 2: ("^", "cavity")}
AXES = ("x", "y", "z")


def agreement_rgb(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(*shape, 3) uint8 agreement map of two masks of one shape in the package's colour code (``AGREEMENT``)."""
    rgb = np.zeros((*prediction.shape, 3), np.uint8)
    rgb[prediction & target] = AGREEMENT["prediction and target"]
    rgb[prediction & ~target] = AGREEMENT["prediction only"]
    rgb[~prediction & target] = AGREEMENT["target only"]
    return rgb


def ringed_agreement(prediction: np.ndarray, target: np.ndarray, construction: str = "T") -> np.ndarray:
    """(H, W, 3) uint8 agreement map of a 2D pair with each unmatched feature of the Betti matching ringed by a
    5x5 square in its ``UNMATCHED`` colour: the raster form of :func:`case_figure`, numpy only (the demo's
    figure; no matplotlib needed)."""
    from seglosses.topology import betti_matching

    rgb = agreement_rgb(prediction, target)
    m = cast("BettiMatching", betti_matching(prediction.astype(np.float64), target.astype(np.float64),
                                             construction=construction))
    for xy, _, who in _unmatched(m, prediction.shape):
        for r, c in xy:
            r0, r1 = max(r - 2, 0), min(r + 3, prediction.shape[0])
            c0, c1 = max(c - 2, 0), min(c + 3, prediction.shape[1])
            rgb[r0:r1, [c0, c1 - 1]] = UNMATCHED[who]
            rgb[[r0, r1 - 1], c0:c1] = UNMATCHED[who]
    return rgb


# ------------------------------------------------------------------------------------------------- metric names
_STEMS = (
    ("local_betti_error_", "local Betti error H"),
    ("betti_matching_error_", "Betti matching error H"),
    ("betti_error_", "Betti error H"),
)
_NAMES = {"dice": "Dice", "cldice": "clDice", "betti_matching_error": "Betti matching error", "hd95": "HD95"}
_SHORT = {"Betti matching error": "BM error", "local Betti error": "local Betti err", "Betti error": "Betti err"}


def _split(column: str) -> tuple[str, str]:
    """(class prefix or "", metric) of a CSV column: ``class2_dice`` -> ("class 2", "dice")."""
    match = re.fullmatch(r"class(\d+)_(.+)", column)
    return (f"class {match[1]}", match[2]) if match else ("", column)


def metric_label(column: str) -> str:
    """A person's name for a CSV column: ``betti_error_1`` -> "Betti error H1", ``class2_dice`` -> "class 2: Dice"."""
    prefix, name = _split(column)
    label = _NAMES.get(name, name)
    for stem, text in _STEMS:
        if name.startswith(stem):
            label = text + name[len(stem):]
            break
    return f"{prefix}: {label}" if prefix else label


def higher_is_better(column: str) -> bool:
    return _split(column)[1] in ("dice", "cldice")


def metrics_text(row: dict, columns: list[str]) -> str:
    """The case's metrics on one line (classes on lines of their own), for a figure's title."""
    groups: dict[str, list[str]] = {}
    for column in columns:
        if column not in row:
            continue
        prefix, name = _split(column)
        label = metric_label(name)
        for long, short in _SHORT.items():
            label = label.replace(long, short)
        value = row[column]
        text = "nan" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"
        groups.setdefault(prefix, []).append(f"{label} {text}")
    return "\n".join((f"{p}: " if p else "") + "  ·  ".join(items) for p, items in groups.items())


# ---------------------------------------------------------------------------------------------------- 3D views
@dataclass
class Volume:
    """A 3D mask pair in display order: axes (x, y, z) with y and z pointing up on screen."""

    prediction: np.ndarray
    target: np.ndarray
    spacing: tuple[float, float, float]
    names: tuple[str, str, str]  # direction of increasing index per axis, e.g. ("R", "A", "S")
    to_display: Callable[[np.ndarray], np.ndarray] = field(repr=False)  # array coordinates -> display ones


def oriented(prediction: np.ndarray, target: np.ndarray, affine: np.ndarray | None,
             spacing: tuple[float, ...] | None) -> Volume:
    """The pair turned to the closest RAS orientation of ``affine`` (NIfTI); without an affine the array axes are
    kept (x, y, z = axes 0, 1, 2) with ``spacing`` or unit spacing."""
    shape = np.array(prediction.shape)
    if affine is None:
        given = spacing or (1.0, 1.0, 1.0)
        return Volume(prediction, target, (float(given[0]), float(given[1]), float(given[2])),
                      ("axis 0", "axis 1", "axis 2"), lambda c: np.asarray(c))
    from nibabel.orientations import apply_orientation, io_orientation

    affine = np.asarray(affine, dtype=np.float64)
    ornt = io_orientation(affine)
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(0))
    new_spacing = [1.0, 1.0, 1.0]
    for i, (axis, _) in enumerate(ornt):
        new_spacing[int(axis)] = float(zooms[i]) or 1.0

    def to_display(coordinates: np.ndarray) -> np.ndarray:
        coordinates = np.asarray(coordinates)
        out = np.empty_like(coordinates)
        for i, (axis, flip) in enumerate(ornt):
            out[:, int(axis)] = shape[i] - 1 - coordinates[:, i] if flip < 0 else coordinates[:, i]
        return out

    return Volume(apply_orientation(prediction, ornt), apply_orientation(target, ornt),
                  (new_spacing[0], new_spacing[1], new_spacing[2]),
                  ("R", "A", "S"), to_display)


@dataclass
class Panel:
    """One map of a figure: an RGB image (rows, cols) with the physical size of its pixels and its markers."""

    rgb: np.ndarray
    pixel: tuple[float, float]  # (row, column) size of one pixel in physical units
    markers: list[tuple[np.ndarray, np.ndarray, int, str]]  # (rows, cols, dimension, "prediction"|"target")
    caption: str


def _view(volume: Volume, axis: int, cells: list[tuple[np.ndarray, int, str]], h: int, v: int) -> Panel:
    """The maximum-intensity projection along ``axis``, with axis ``h`` running right and ``v`` up."""
    p, g = volume.prediction.max(axis), volume.target.max(axis)
    if (h, v) == tuple(a for a in range(3) if a != axis):  # the projection's rows are h: transpose
        p, g = p.T, g.T
    p, g = p[::-1], g[::-1]  # rows: v from high to low
    rows = volume.prediction.shape[v]
    markers = [(rows - 1 - xyz[:, v], xyz[:, h], d, who) for xyz, d, who in cells]
    name = volume.names
    return Panel(
        agreement_rgb(p, g), (volume.spacing[v], volume.spacing[h]), markers,
        f"along {AXES[axis]} ({name[axis]}): {AXES[h]} ({name[h]}) →, {AXES[v]} ({name[v]}) ↑",
    )


def _unmatched(matching, shape: tuple[int, ...]) -> list[tuple[np.ndarray, int, str]]:
    """(coordinates (n, ndim) of the birth pixels, dimension, whose) of every unmatched feature."""
    out = []
    for d in matching.dims:
        for cells, who in ((matching.unmatched_prediction_cells(d), "prediction"),
                           (matching.unmatched_target_cells(d), "target")):
            if len(cells):
                out.append((np.stack(np.unravel_index(cells[:, 0], shape), axis=1), d, who))
    return out


# ------------------------------------------------------------------------------------------------ drawing
def _plt():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _resample(rgb: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Nearest-neighbour resize to (rows, cols): whole-factor enlargement keeps every pixel as a block."""
    r = (np.arange(rows) * rgb.shape[0]) // rows
    c = (np.arange(cols) * rgb.shape[1]) // cols
    return rgb[r][:, c]


def _unit(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    """An RGB 0-255 colour as matplotlib's 0-1 triple."""
    return (colour[0] / 255, colour[1] / 255, colour[2] / 255)


def _legend_handles(dims: tuple[int, ...]):
    from matplotlib.artist import Artist
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Artist] = [
        Patch(facecolor=_unit(c), edgecolor="black", label=name) for name, c in AGREEMENT.items()
    ]
    handles += [Line2D([], [], linestyle="", marker="o", markersize=9, markerfacecolor="none",
                       markeredgecolor=_unit(c), markeredgewidth=2.5, label=f"unmatched in {who}")
                for who, c in UNMATCHED.items()]
    handles += [Line2D([], [], linestyle="", marker=FEATURES[d][0], markersize=8, markerfacecolor="none",
                       markeredgecolor="0.3", markeredgewidth=1.5, label=f"H{d} {FEATURES[d][1]}") for d in dims]
    return handles


def _wrap(line: str, width: int, separator: str = "  ·  ") -> list[str]:
    """``line`` in lines of at most ``width`` characters, broken between its items (never inside one)."""
    lines: list[str] = []
    for item in line.split(separator):
        if lines and len(lines[-1]) + len(separator) + len(item) <= width:
            lines[-1] += separator + item
        else:
            lines.append(item)
    return lines or [""]


def _draw(panels: list[Panel], grid: list[tuple[int, int]], title: str, subtitle: str, dims: tuple[int, ...],
          path: Path) -> dict:
    """Lay the panels out at whole pixels under a header (title, metrics, legend) and save the PNG.

    ``grid`` gives each panel's (row, column) in the layout. Returns the layout: panel caption -> (top, left,
    height, width) of its map in the PNG's pixels, and the whole-number enlargement ``scale``."""
    plt = _plt()
    dpi, pad, caption = 100, 16, 18
    unit = min(min(p.pixel) for p in panels)
    sizes = [(p.rgb.shape[0] * p.pixel[0] / unit, p.rgb.shape[1] * p.pixel[1] / unit) for p in panels]
    longest = max(max(s) for s in sizes)
    scale = max(1, min(8, int(384 // longest)))  # small images enlarged by a whole factor, large ones kept 1:1
    sizes = [(max(1, round(r * scale)), max(1, round(c * scale))) for r, c in sizes]
    heights = [max(r for (r, _), (i, _) in zip(sizes, grid) if i == k) for k in range(max(i for i, _ in grid) + 1)]
    widths = [max(c for (_, c), (_, j) in zip(sizes, grid) if j == k) for k in range(max(j for _, j in grid) + 1)]
    tops = np.cumsum([0] + [caption + h + pad for h in heights]) + caption
    lefts = np.cumsum([pad] + [w + pad for w in widths])
    places = [(int(tops[i]), int(lefts[j])) for i, j in grid]
    width = max(640, max(left + max(c, 6 * len(p.caption)) for p, (_, left), (_, c) in zip(panels, places, sizes)) + pad)
    lines = [line for part in subtitle.split("\n") for line in _wrap(part, max(40, width // 7))]
    header = 30 + 16 * len(lines) + 56
    height = header + int(tops[-1]) - caption
    figure = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    figure.text(pad / width, 1 - 10 / height, title, fontsize=11, fontweight="bold", va="top")
    figure.text(pad / width, 1 - 30 / height, "\n".join(lines), fontsize=9, va="top", linespacing=1.3)
    figure.legend(handles=_legend_handles(dims), loc="upper left", ncol=4, fontsize=8,
                  frameon=False, bbox_to_anchor=(pad / width - 0.005, 1 - (34 + 16 * len(lines)) / height),
                  handlelength=1.4, columnspacing=1.2)
    layout: dict = {"scale": scale}
    for panel, (top, left), (rows, cols) in zip(panels, places, sizes):
        top += header
        # The map at whole pixels inside a one-pixel grey frame (white agreement pixels meet a white page).
        framed = np.pad(_resample(panel.rgb, rows, cols), ((1, 1), (1, 1), (0, 0)), constant_values=150)
        figure.figimage(framed, xo=left - 1, yo=height - top - rows - 1, origin="upper", zorder=0)
        axis = figure.add_axes((left / width, 1 - (top + rows) / height, cols / width, rows / height), zorder=1)
        axis.set_xlim(-0.5, panel.rgb.shape[1] - 0.5)
        axis.set_ylim(panel.rgb.shape[0] - 0.5, -0.5)
        axis.patch.set_alpha(0)
        axis.set_xticks([]), axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_visible(False)
        figure.text(left / width, 1 - (top - 3) / height, panel.caption, fontsize=8, va="bottom")
        for rows_of, cols_of, d, who in panel.markers:
            marker, colour = FEATURES[d][0], np.array(UNMATCHED[who]) / 255
            for edge, lw in (("black", 4.0), (colour, 1.8)):  # a black halo: visible on white, red, blue, black
                axis.scatter(cols_of, rows_of, marker=marker, s=70, facecolors="none", edgecolors=[edge],
                             linewidths=lw, clip_on=False)
        layout[panel.caption] = (top, left, rows, cols)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return layout


def case_figure(
    prediction: np.ndarray,
    target: np.ndarray,
    path: Path,
    title: str,
    construction: str,
    *,
    metrics: str = "",
    affine: np.ndarray | None = None,
    spacing: tuple[float, ...] | None = None,
    axes: str = "all",
    matching=None,
) -> dict:
    """Agreement map of one case with its unmatched topological features marked, as a PNG.

    Black: background of both; white: prediction and target; red: prediction only; blue: target only. Each
    unmatched feature of the Betti matching is ringed at its birth pixel (circle: component, square: loop,
    triangle: cavity), yellow for the prediction's and cyan for the target's, over a black halo. 2D cases are
    drawn at native resolution (images under 384 pixels enlarged by a whole factor). 3D cases are
    maximum-intensity projections along each of x, y, z (``axes="all"``) or along one (``"x"``, ``"y"``,
    ``"z"``), of the volume turned to the closest RAS orientation of ``affine`` (x runs to the right, y and z
    up), each axis stretched by its voxel spacing.

    On masks every feature is born at level 1, so where two features tie (two components of the prediction of
    which one has no partner), which one is drawn as unmatched is decided by voxel order: the counts are exact,
    the ring may sit on either of the tied features. Probability maps have no such ties.

    Returns the layout (see ``_draw``).
    """
    from seglosses.topology import betti_matching

    if matching is None:
        matching = cast("BettiMatching", betti_matching(prediction.astype(np.float64), target.astype(np.float64),
                                                      construction=construction))
    cells = _unmatched(matching, prediction.shape)
    counts = ", ".join(
        f"H{d} {int(a)} / {int(b)}"
        for d, a, b in zip(matching.dims, matching.num_unmatched_prediction, matching.num_unmatched_target)
    )
    subtitle = (metrics + "\n" if metrics else "") + f"unmatched features (prediction / target): {counts}"
    if prediction.ndim == 2:
        panels = [Panel(agreement_rgb(prediction, target), (1.0, 1.0),
                        [(xy[:, 0], xy[:, 1], d, who) for xy, d, who in cells], "agreement map")]
        grid = [(0, 0)]
    else:
        volume = oriented(prediction, target, affine, spacing)
        moved = [(volume.to_display(xyz), d, who) for xyz, d, who in cells]
        # Orthogonal views: along z (x right, y up), along x beside it sharing its rows (z right, y up), along y
        # below it sharing its columns (x right, z up). One axis: that view alone.
        views = {"z": (2, 0, 1, (0, 0)), "x": (0, 2, 1, (0, 1)), "y": (1, 0, 2, (1, 0))}
        chosen = ("z", "x", "y") if axes == "all" else (axes,)
        panels = [_view(volume, views[a][0], moved, views[a][1], views[a][2]) for a in chosen]
        grid = [views[a][3] for a in chosen] if axes == "all" else [(0, 0)]
    return _draw(panels, grid, title, subtitle, matching.dims, path)


def diagram_figure(prediction: np.ndarray, target: np.ndarray, path: Path, title: str, construction: str) -> None:
    """Persistence diagrams of a probability map and its target, one panel per dimension (superlevel: a feature
    is born at the probability where it appears and dies where it merges or fills). Matched pairs of the Betti
    matching are joined by grey lines; unmatched features are crosses, red for the prediction's, blue for the
    target's."""
    from matplotlib.collections import LineCollection

    from seglosses.topology import betti_matching

    plt = _plt()
    m = cast("BettiMatching", betti_matching(prediction, target, construction=construction))
    red, blue = np.array(AGREEMENT["prediction only"]) / 255, np.array(AGREEMENT["target only"]) / 255
    figure, axes = plt.subplots(1, len(m.dims), figsize=(4.2 * len(m.dims), 4.6), squeeze=False)
    low = min(float(prediction.min()), float(target.min()))
    high = max(float(prediction.max()), float(target.max()))
    margin = 0.04 * max(high - low, 1e-6)
    for axis, d in zip(axes[0], m.dims):
        matched_p, matched_g = m.matched(d)
        axis.plot([low, high], [low, high], color="0.6", lw=1)
        if len(matched_p):
            segments = np.stack([matched_p, matched_g], axis=1)
            axis.add_collection(LineCollection(list(segments), colors="0.55", linewidths=0.8, alpha=0.6))
        axis.scatter(matched_p[:, 0], matched_p[:, 1], s=14, color=red, label=f"prediction, matched ({len(matched_p)})",
                     rasterized=True)
        axis.scatter(matched_g[:, 0], matched_g[:, 1], s=14, color=blue, label=f"target, matched ({len(matched_g)})",
                     rasterized=True)
        up, ug = m.unmatched_prediction(d), m.unmatched_target(d)
        axis.scatter(up[:, 0], up[:, 1], s=40, marker="x", color=red, label=f"prediction, unmatched ({len(up)})",
                     rasterized=True)
        axis.scatter(ug[:, 0], ug[:, 1], s=40, marker="x", color=blue, label=f"target, unmatched ({len(ug)})",
                     rasterized=True)
        axis.set_xlim(low - margin, high + margin), axis.set_ylim(low - margin, high + margin)
        axis.set_aspect("equal")
        axis.set_xlabel("birth (probability where it appears)")
        axis.set_ylabel("death")
        axis.set_title(f"H{d}: {FEATURES[d][1]}s", fontsize=10)
        axis.legend(fontsize=7, loc="upper left")
    figure.suptitle(f"{title}: persistence diagrams (superlevel, construction {construction}; the essential "
                    "component is left out)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def summary_figure(rows: list[dict], columns: list[str], path: Path) -> None:
    """One histogram per metric over the cases that finished, with its mean ± std and labelled axes."""
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    ok = [r for r in rows if r["status"] == "ok"]
    n = max(len(columns), 1)
    ncols = min(4, n)
    nrows = -(-n // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), squeeze=False)
    for axis, column in zip(axes.ravel(), columns):
        values = np.array([r[column] for r in ok if column in r], dtype=np.float64)
        values = values[~np.isnan(values)]
        label = metric_label(column)
        if len(values):
            axis.hist(values, bins=20, color="0.45")
            axis.axvline(values.mean(), color=np.array(AGREEMENT["prediction only"]) / 255, lw=1.5, ls="--")
            axis.set_title(f"{label}\nmean {values.mean():.4g} ± {values.std():.3g} (n = {len(values)})", fontsize=9)
        else:
            axis.set_title(f"{label}\nno value", fontsize=9)
        better = "higher is better" if higher_is_better(column) else "lower is better"
        axis.set_xlabel(f"{label} ({better})", fontsize=8)
        axis.set_ylabel("cases", fontsize=8)
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.tick_params(labelsize=7)
    for axis in axes.ravel()[len(columns):]:
        axis.set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
