"""The conversion of images for the topology engine's Python face (the checks are :mod:`seglosses._validation`'s).

Validation, dtype and layout fixes happen here in Python; the compiled core receives C-contiguous
float64 arrays of rank 2 or 3 and never has to defend itself against bad input.
"""

from __future__ import annotations

import numpy as np

from seglosses._arrays import check_real, to_numpy
from seglosses._validation import (  # noqa: F401 - the engine's names, re-exported for its modules
    CONSTRUCTIONS,
    DEFAULT_CONSTRUCTION,
    FILTRATIONS,
    MAX_MATCHING_PIXELS,
    MAX_PIXELS,
    check_choice,
    check_size,
)


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
