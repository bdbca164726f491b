"""Tensors and arrays to numpy, in one place, for every part of the package that computes in numpy.

``torch.Tensor.numpy()`` refuses bfloat16 (numpy has no such type) and tensors that need a gradient or live on a
GPU; MONAI's ``convert_to_numpy`` refuses bfloat16 too. Here bfloat16 becomes float32, which holds every bfloat16
value exactly, so a half-precision mask or label map is read as it is.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_real", "to_numpy"]


def to_numpy(data, name: str = "input") -> np.ndarray:
    """``data`` (a numpy array, a torch tensor or MetaTensor on any device, or anything ``np.asarray`` takes) as a
    numpy array: a view where one is possible, bfloat16 as float32 (exact), other dtypes as they are.

    Raises:
        TypeError: ``data`` cannot be an array (ragged nested lists and the like), naming ``name``.
    """
    if isinstance(data, torch.Tensor):
        data = data.detach().as_subclass(torch.Tensor).cpu()
        if data.dtype == torch.bfloat16:
            data = data.float()
        return data.numpy()
    try:
        return np.asarray(data)
    except (TypeError, ValueError) as error:
        raise TypeError(f"Expected `{name}` to be an array, but got {type(data).__name__} ({error}).") from None


def check_real(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` itself if it holds bools, integers or floats; ``TypeError`` naming ``name`` otherwise.

    numpy counts timedelta64 among the signed integers (``np.issubdtype``), so the dtype's kind is tested instead.
    """
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Expected `{name}` to hold real numbers, but got dtype {array.dtype}.")
    return array
