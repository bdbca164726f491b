"""Input checks shared by every function of the topology engine's Python face.

Validation, dtype and layout fixes happen here in Python; the compiled core receives C-contiguous
float64 arrays of rank 2 or 3 and never has to defend itself against bad input.
"""

from __future__ import annotations

import numpy as np

from seglosses._arrays import check_real, to_numpy

FILTRATIONS = ("superlevel", "sublevel")
CONSTRUCTIONS = ("T", "V")
DEFAULT_CONSTRUCTION = "T"

# The compiled core numbers pixels and ranks with 32-bit integers. A barcode needs fewer than 2**32 - 1 pixels; a
# Betti matching numbers the cells of three images' filtrations together and needs 3 * pixels + 3 < 2**32 - 1.
MAX_PIXELS = 2**32 - 2
MAX_MATCHING_PIXELS = (2**32 - 5) // 3  # 1,431,655,763


def check_size(n_pixels: int, name: str, limit: int = MAX_PIXELS, what: str = "the topology engine") -> None:
    """Refuse an image of more than ``limit`` pixels, before anything is copied or converted."""
    if n_pixels > limit:
        raise ValueError(
            f"Expected `{name}` to have at most {limit:,} pixels ({what} numbers them with 32-bit integers), "
            f"but got {n_pixels:,}."
        )


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {choices}, but got {value!r}.")
    return value


def as_image(
    image, name: str = "image", *, allow_batch: bool = False, max_pixels: int = MAX_PIXELS, what: str = "the topology engine"
) -> np.ndarray:
    """Return ``image`` as a C-contiguous float64 numpy array of rank 2 or 3.

    Accepts numpy arrays, CPU torch tensors (detached; bfloat16 and float16 included) and anything
    ``np.asarray`` takes. With ``allow_batch`` a leading batch axis is allowed (rank 3 or 4 then means a
    batch of 2D or 3D images; the caller decides). Type, rank and size (``max_pixels`` per image) are
    checked before the float64 copy is made.

    Raises:
        TypeError: not real numbers (e.g. strings, objects, complex, datetimes or timedeltas).
        ValueError: rank not 2/3, an empty axis, more than ``max_pixels`` pixels per image, NaN or Inf.
    """
    device = getattr(image, "device", None)
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        raise ValueError(f"Expected `{name}` on the CPU for this backend, but got a tensor on {device}.")
    arr = check_real(to_numpy(image, name), name)
    ranks = (2, 3, 4) if allow_batch else (2, 3)
    if arr.ndim not in ranks:
        raise ValueError(f"Expected `{name}` to be a 2D or 3D array, but got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"Expected `{name}` to be non-empty, but got shape {arr.shape}.")
    check_size(int(np.prod(arr.shape[-3:] if arr.ndim == 4 else arr.shape)), name, max_pixels, what)
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"Expected `{name}` to contain only finite values, but got NaN or Inf.")
    return arr
