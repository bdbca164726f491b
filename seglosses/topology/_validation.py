"""Input checks shared by every function of the topology engine's Python face.

Validation, dtype and layout fixes happen here in Python; the compiled core receives C-contiguous
float64 arrays of rank 2 or 3 and never has to defend itself against bad input.
"""

from __future__ import annotations

import numpy as np

FILTRATIONS = ("superlevel", "sublevel")
CONSTRUCTIONS = ("T", "V")
DEFAULT_CONSTRUCTION = "T"


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {choices}, but got {value!r}.")
    return value


def as_image(image, name: str = "image", *, allow_batch: bool = False) -> np.ndarray:
    """Return ``image`` as a C-contiguous float64 numpy array of rank 2 or 3.

    Accepts numpy arrays, CPU torch tensors (detached) and anything ``np.asarray`` takes. With
    ``allow_batch`` a leading batch axis is allowed (rank 3 or 4 then means a batch of 2D or 3D images;
    the caller decides).

    Raises:
        TypeError: not numeric (e.g. strings, objects, complex).
        ValueError: rank not 2/3, an empty axis, NaN or Inf.
    """
    try:
        import torch

        if isinstance(image, torch.Tensor):
            if image.device.type != "cpu":
                raise ValueError(
                    f"Expected `{name}` on the CPU for this backend, but got a tensor on {image.device}."
                )
            image = image.detach().numpy() if image.dtype != torch.bfloat16 else image.detach().float().numpy()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"Expected `{name}` to hold real numbers, but got dtype {arr.dtype}.")
    ranks = (2, 3, 4) if allow_batch else (2, 3)
    if arr.ndim not in ranks:
        raise ValueError(f"Expected `{name}` to be a 2D or 3D array, but got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"Expected `{name}` to be non-empty, but got shape {arr.shape}.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"Expected `{name}` to contain only finite values, but got NaN or Inf.")
    return arr
