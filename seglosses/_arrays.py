"""Tensors and arrays to numpy, in one place, for every part of the package that computes in numpy.

``torch.Tensor.numpy()`` refuses bfloat16 (numpy has no such type) and tensors that need a gradient or live on a
GPU; MONAI's ``convert_to_numpy`` refuses bfloat16 too. Here bfloat16 becomes float32, which holds every bfloat16
value exactly, so a half-precision mask or label map is read as it is.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_numpy"]


def to_numpy(data) -> np.ndarray:
    """``data`` (a numpy array, a torch tensor or MetaTensor on any device, or anything ``np.asarray`` takes) as a
    numpy array: a view where one is possible, bfloat16 as float32 (exact), other dtypes as they are."""
    if isinstance(data, torch.Tensor):
        data = data.detach().as_subclass(torch.Tensor).cpu()
        if data.dtype == torch.bfloat16:
            data = data.float()
        return data.numpy()
    return np.asarray(data)
