"""Synthetic images with known topology, for tests, examples and the demo (no download needed).

- :func:`brick_wall`: a 2D mortar network between bricks (TopoMortar-like): the mortar is one connected
  component (Betti-0 = 1) and every brick is a hole (Betti-1 = number of bricks).
- :func:`vessel_tree`: a 2D or 3D branching tree of tubes whose radius shrinks along the branches; every
  branch starts on its parent, so the vessels form one connected component.

Each returns ``(image, label)``: a float32 intensity image in [0, 1] with noise, and a uint8 label.
Everything is drawn from ``numpy.random.default_rng(seed)``, so a seed gives the same case everywhere.
"""

from __future__ import annotations

import numpy as np
from skimage import measure

__all__ = ["brick_wall", "vessel_tree"]


def _noisy_image(label: np.ndarray, rng: np.random.Generator, contrast: float, noise: float) -> np.ndarray:
    """Foreground brighter than background by ``contrast``, plus Gaussian noise, clipped to [0, 1]."""
    base = 0.5 - contrast / 2 + contrast * label.astype(np.float32)
    image = base + rng.normal(0.0, noise, size=label.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def brick_wall(
    shape: tuple[int, int] = (128, 128),
    *,
    brick: tuple[int, int] = (12, 28),
    mortar: int = 3,
    seed: int = 0,
    contrast: float = 0.4,
    noise: float = 0.15,
) -> tuple[np.ndarray, np.ndarray, int]:
    """A 2D brick wall: mortar (label 1) around bricks (label 0), rows offset by half a brick.

    Args:
        shape: (H, W) of the image.
        brick: (height, width) of a brick in pixels, jittered by up to 20% per row and brick.
        mortar: mortar thickness in pixels (>= 1).
        seed: random seed.
        contrast, noise: intensity difference of mortar and bricks, standard deviation of the noise.

    Returns:
        ``(image, label, n_bricks)``: (H, W) float32 image, (H, W) uint8 label, and the number of bricks,
        which is the label's Betti-1 (bricks touching the border are cut open by a mortar frame, so every
        brick is a hole of the one mortar component).
    """
    if len(shape) != 2 or min(shape) < 4 * mortar + 2:
        raise ValueError(f"Expected `shape` to be 2D and at least {4 * mortar + 2} pixels per side, but got {shape}.")
    rng = np.random.default_rng(seed)
    h, w = shape
    label = np.ones(shape, dtype=np.uint8)
    n_bricks = 0
    y = mortar
    row = 0
    while y < h - mortar - 1:
        bh = max(2, int(brick[0] * rng.uniform(0.8, 1.2)))
        y_end = min(y + bh, h - mortar)
        x = mortar - (brick[1] // 2 if row % 2 else 0)
        while x < w - mortar - 1:
            bw = max(2, int(brick[1] * rng.uniform(0.8, 1.2)))
            x0, x1 = max(x, mortar), min(x + bw, w - mortar)
            if x1 - x0 >= 2 and y_end - y >= 2:
                label[y:y_end, x0:x1] = 0
                n_bricks += 1
            x += bw + mortar
        y = y_end + mortar
        row += 1
    return _noisy_image(label, rng, contrast, noise), label, n_bricks


def _draw_ball(label: np.ndarray, centre: np.ndarray, radius: float) -> None:
    """Set every pixel within ``radius`` of ``centre`` (only the ball's bounding box is visited)."""
    lo = np.maximum(np.floor(centre - radius).astype(int), 0)
    hi = np.minimum(np.ceil(centre + radius).astype(int) + 1, label.shape)
    if np.any(hi <= lo):
        return
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
    dist2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    label[tuple(slice(a, b) for a, b in zip(lo, hi))][dist2 <= radius**2] = 1


def vessel_tree(
    shape: tuple[int, ...] = (128, 128),
    *,
    n_branches: int = 12,
    max_radius: float = 3.0,
    seed: int = 0,
    contrast: float = 0.4,
    noise: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """A 2D or 3D branching vessel tree: tubes of decreasing radius, every branch rooted on its parent.

    Args:
        shape: (H, W) or (H, W, D).
        n_branches: number of branches after the trunk.
        max_radius: radius of the trunk in pixels; children are thinner (down to 1 pixel).
        seed: random seed.
        contrast, noise: intensity difference of vessel and background, noise standard deviation.

    Returns:
        ``(image, label)``: float32 image and uint8 label of ``shape``; the label is one connected
        component (with full connectivity), thin branches included.
    """
    if len(shape) not in (2, 3) or min(shape) < 8:
        raise ValueError(f"Expected `shape` to be 2D or 3D with every side >= 8, but got {shape}.")
    rng = np.random.default_rng(seed)
    ndim = len(shape)
    size = np.asarray(shape, dtype=float)
    label = np.zeros(shape, dtype=np.uint8)
    # A branch is (start, direction, length, radius); the trunk enters from the first axis' border.
    start = size / 2
    start[0] = 2.0
    direction = np.zeros(ndim)
    direction[0] = 1.0
    branches = [(start, direction, 0.8 * size[0], max_radius)]
    points: list[tuple[np.ndarray, float]] = []
    for i in range(n_branches + 1):
        origin, direction, length, radius = branches[i]
        pos = origin.copy()
        for step in range(int(length)):
            direction = direction + rng.normal(0.0, 0.08, ndim)
            direction /= np.linalg.norm(direction)
            pos = np.clip(pos + direction, 1.0, size - 2.0)
            r = max(1.2, radius * (1.0 - 0.5 * step / max(length, 1.0)))
            _draw_ball(label, pos, r)
            points.append((pos.copy(), r))
        # Children start on a random point already drawn, so the tree stays connected.
        parent_pos, parent_r = points[rng.integers(len(points) // 3, len(points))]
        child_dir = rng.normal(0.0, 1.0, ndim)
        child_dir /= np.linalg.norm(child_dir)
        branches.append((parent_pos, child_dir, rng.uniform(0.2, 0.5) * size.min(), max(1.2, 0.7 * parent_r)))
    # Rasterised thin tubes can break where a branch grazes the border; keep the trunk's component so
    # the documented topology (one component) always holds.
    components = measure.label(label, connectivity=ndim)
    trunk = components[tuple(np.round(points[0][0]).astype(int))]
    label = (components == trunk).astype(np.uint8)
    return _noisy_image(label, rng, contrast, noise), label
