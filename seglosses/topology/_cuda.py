"""The CUDA backend of ``seglosses.topology`` (``backend="cuda"``; experimental).

The kernels live in the optional module ``seglosses._cuda``, built only when a CUDA toolkit is found
at install time (see CMakeLists.txt); it is imported here, on demand, so that importing seglosses never
needs a driver. The image stays in the tensor's device memory: the module receives its address and
torch's current stream, and returns the persistence pairs as critical pixels; the values are gathered
from the tensor on the device.

What runs on the GPU (design in seglosses/csrc/cuda/phases.h): cell ranks (CUB radix sort), and the
union-find phases, H0 and the top dimension by Alexander duality, which make up all of 2D persistence and
of a 2D Betti matching. H1 of a solid 3D image is a hybrid: the device selects the cells its union-finds
leave (the loop edges; for a matching also the loop squares) and sorts them, and the CPU engine's
reductions run on those lists on the host, from copies of the ranks. The kernels have been compiled and
their per-element logic, and the host part of the hybrid, tested through the CPU emulation, but they have
not yet run on a GPU, so ``backend="auto"`` never chooses them: CUDA tensors with ``"auto"`` get the CPU
engine's error, as before.

The pairs are assembled into a ``Barcode`` by ``assemble_barcode``, which the tests also run on the
CPU emulation of the same phases (``seglosses._core._gpu_barcode``) against the CPU engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from seglosses._validation import MAX_MATCHING_PIXELS, MAX_PIXELS, check_size
from seglosses.topology._validation import CONSTRUCTIONS

if TYPE_CHECKING:  # persistence.py imports this module lazily; a runtime import here would be circular
    from seglosses.topology.persistence import Barcode

__all__ = ["load", "assemble_barcode", "as_cuda_image", "persistence_cuda", "matching_cuda", "listed"]

def load():
    """Return the CUDA module with a usable device.

    Raises:
        RuntimeError: seglosses was built without CUDA, or there is no CUDA device.
    """
    try:
        from seglosses import _cuda
    except ImportError as error:
        raise RuntimeError(
            "seglosses was built without CUDA: reinstall it where nvcc is found (or with SEGLOSSES_CUDA=ON) "
            "to use backend='cuda', or use backend='cpu'."
        ) from error
    if _cuda.device_count() == 0 or not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: backend='cuda' needs a GPU and its driver; use backend='cpu'.")
    return _cuda


def assemble_barcode(
    pairs: Sequence[np.ndarray],
    essential: int,
    gather: Callable[[np.ndarray], np.ndarray],
    *,
    shape: tuple[int, ...],
    filtration: str,
    construction: str,
) -> Barcode:
    """The ``Barcode`` of an image from the engine's critical-pixel pairs.

    Args:
        pairs: per dimension (one per axis of the image), the (n, 2) critical pixels (birth, death) of the
            pairs of the *sublevel* filtration that the engine computed (of ``-image`` for a superlevel
            barcode), finite pairs only.
        essential: the essential H0 class's birth pixel.
        gather: the sublevel image's values at flat pixel indices (one call: one device-to-host copy).
        shape, filtration, construction: the image's, as in ``Barcode``.

    Pairs whose values are equal are dropped, as the CPU engine does (zero persistence).
    """
    from seglosses.topology.persistence import Barcode

    sign = -1.0 if filtration == "superlevel" else 1.0
    found = [np.asarray(p, dtype=np.int64).reshape(-1, 2) for p in pairs]
    sizes = np.cumsum([0] + [f.size for f in found])
    gathered = np.asarray(gather(np.concatenate([f.ravel() for f in found] + [np.array([essential])])),
                          dtype=np.float64)
    intervals, cells = [], []
    for d, cells_d in enumerate(found):
        values = gathered[sizes[d]:sizes[d + 1]].reshape(-1, 2)
        keep = values[:, 0] != values[:, 1]
        cells_d, values = cells_d[keep], values[keep]
        if d == 0:
            cells_d = np.concatenate([np.array([[essential, -1]], dtype=np.int64), cells_d])
            values = np.concatenate([np.array([[gathered[-1], np.inf]]), values])
        intervals.append(sign * values)
        cells.append(cells_d)
    return Barcode(intervals, cells, shape=shape, filtration=filtration, construction=construction)


def as_cuda_image(image, name: str, max_pixels: int = MAX_PIXELS, what: str = "the topology engine") -> torch.Tensor:
    """``image`` as a C-contiguous float64 CUDA tensor of rank 2 or 3 (the checks of ``as_image``, the size
    checked before the float64 copy)."""
    if not isinstance(image, torch.Tensor) or image.device.type != "cuda":
        where = image.device if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"Expected `{name}` to be a CUDA tensor for backend='cuda', but got {where}.")
    if image.is_complex():  # every other torch dtype is real (bool, integers, floats)
        raise TypeError(f"Expected `{name}` to hold real numbers, but got dtype {image.dtype}.")
    if image.ndim not in (2, 3):
        raise ValueError(f"Expected `{name}` to be a 2D or 3D array, but got shape {tuple(image.shape)}.")
    if image.numel() == 0:
        raise ValueError(f"Expected `{name}` to be non-empty, but got shape {tuple(image.shape)}.")
    check_size(image.numel(), name, max_pixels, what)
    image = image.detach().to(torch.float64).contiguous()
    if not bool(torch.isfinite(image).all()):
        raise ValueError(f"Expected `{name}` to contain only finite values, but got NaN or Inf.")
    return image


def persistence_cuda(images: list, *, filtration: str, construction: str, names: list[str],
                     threads: int = 1) -> list[Barcode]:
    """Barcodes of 2D and 3D CUDA images on the GPU engine (``persistence(..., backend="cuda")``).

    H0 and the top dimension on the device (cell ranks, Boruvka forests, merges); H1 of a solid 3D image by
    the hybrid: the device sorts the squares and makes the reduction's tables, its apparent pairs and its
    columns, and the CPU engine's reduction runs on them on the host (the tables, the pixel order and the
    sorted values are about 40 bytes per voxel, besides the columns and the apparent pairs of nonzero
    persistence). The images of a batch run
    concurrently: each on a CUDA stream of its own, driven by a host thread of its own (the module
    releases the GIL, and the union-find rounds read one flag per round back, so one stream alone would
    leave the device idle between rounds); their host reductions share ``threads`` threads.

    Raises:
        RuntimeError: built without CUDA, or no CUDA device.
        ValueError, TypeError: the checks of ``persistence`` on a tensor that is not on a CUDA device.
    """
    module = load()
    code = CONSTRUCTIONS.index(construction)
    host_merge = merge_on_host()
    subs = []
    for image, name in zip(images, names):
        image = as_cuda_image(image, name)
        subs.append(-image if filtration == "superlevel" else image)
    per_image = host_threads(threads, len(subs))

    def one(sub: torch.Tensor) -> Barcode:
        stream = torch.cuda.current_stream(sub.device).cuda_stream
        pairs, essential = module.barcode(sub.data_ptr(), tuple(sub.shape), code, host_merge, per_image, stream)
        return assemble_barcode(pairs, essential, _gatherer(sub.reshape(-1)), shape=tuple(sub.shape),
                                filtration=filtration, construction=construction)

    return _concurrently(one, [(sub,) for sub in subs])


def listed(images) -> tuple[list, bool]:
    """A CUDA argument as a list of images and whether it was a batch (a list, a tuple or a rank-4 tensor)."""
    if isinstance(images, (list, tuple)) or getattr(images, "ndim", 0) == 4:
        return list(images), True
    return [images], False


def _gatherer(flat: torch.Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """Values of a flat CUDA tensor at flat indices, as a numpy array (one device-to-host copy)."""

    def gather(index: np.ndarray) -> np.ndarray:
        return flat[torch.as_tensor(np.asarray(index, dtype=np.int64), device=flat.device)].cpu().numpy()

    return gather


def _concurrently(fn: Callable, jobs: Sequence[tuple[torch.Tensor, ...]]) -> list:
    """``fn(*job)`` for every job, each on a CUDA stream of its own (on its tensors' device) driven by a host
    thread of its own: the module releases the GIL, and the union-find rounds read one flag per round back,
    so one stream alone would leave the device idle between rounds. A single job runs on the current
    stream of its device."""
    if len(jobs) == 1:
        with torch.cuda.device(jobs[0][0].device):
            return [fn(*jobs[0])]
    streams = []
    for job in jobs:  # each side stream starts after the work that made its tensors (on the current stream)
        device = job[0].device
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        for tensor in job:
            tensor.record_stream(side)
        streams.append(side)

    def run(job, side):
        with torch.cuda.device(job[0].device), torch.cuda.stream(side):
            return fn(*job)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(jobs), 32)) as pool:
        out = list(pool.map(run, jobs, streams))
    for job, side in zip(jobs, streams):
        torch.cuda.current_stream(job[0].device).wait_stream(side)
    return out


def host_threads(threads: int, jobs: int) -> int:
    """Host threads for each of ``jobs`` concurrent images' host parts: ``threads`` in all, shared out, at
    least one each."""
    return max(1, threads // max(1, jobs))


def merge_on_host() -> bool:
    """Where the union-find phases' sequential merges run (barcodes and matchings): on the host (default;
    copies of the ranks and of the sorted spanning forests go there) or, with ``SEGLOSSES_CUDA_MERGE=device``,
    on one device thread per image. Both give the same result; which is faster is what
    ``benchmarks/bench_cuda.py`` measures on a GPU."""
    import os

    mode = os.environ.get("SEGLOSSES_CUDA_MERGE", "host")
    if mode not in ("host", "device"):
        raise ValueError(f"Expected SEGLOSSES_CUDA_MERGE to be 'host' or 'device', but got {mode!r}.")
    return mode == "host"


def matching_cuda(predictions: list, targets: list, *, filtration: str, construction: str,
                  names: list[tuple[str, str]], threads: int = 1) -> list:
    """Betti matchings of pairs of CUDA images on the GPU engine (``betti_matching(..., backend="cuda")``).

    2D and planar 3D images: every dimension is a union-find problem, all on the device. Solid 3D images:
    H0 and H2 on the device too; H1 is a hybrid: the device selects and sorts the cells its union-finds
    leave (the loop edges and squares of each image), and the CPU engine's reductions run on them on the
    host, from copies of the ranks (about 4 bytes per voxel and image in V, 4 per padded pixel in T, and
    4 per listed cell; the volumes themselves stay on the device). The pairs of a batch run concurrently
    (``_concurrently``), their host reductions on ``threads`` threads in all, shared out among the
    pairs. The result is the CPU engine's, pair for pair; its values are gathered
    from the tensors.

    Raises:
        RuntimeError: built without CUDA, or no CUDA device.
        ValueError, TypeError: the checks of ``betti_matching`` on tensors that are not on a CUDA device.
    """
    from seglosses.topology.matching import BettiMatching

    module = load()
    code = CONSTRUCTIONS.index(construction)
    host_merge = merge_on_host()
    jobs = []
    for p, g, (name_p, name_g) in zip(predictions, targets, names):
        p = as_cuda_image(p, name_p, MAX_MATCHING_PIXELS, "a Betti matching")
        g = as_cuda_image(g, name_g, MAX_MATCHING_PIXELS, "a Betti matching")
        if p.shape != g.shape or p.device != g.device:
            raise ValueError(
                f"Expected `{name_p}` and `{name_g}` to have the same shape on one device, but got "
                f"{tuple(p.shape)} on {p.device} and {tuple(g.shape)} on {g.device}."
            )
        jobs.append((p, g))
    per_pair = host_threads(threads, len(jobs))

    def one(p: torch.Tensor, g: torch.Tensor) -> BettiMatching:
        stream = torch.cuda.current_stream(p.device).cuda_stream
        dims, birth_p, birth_g = module.betti_matching(
            p.data_ptr(), g.data_ptr(), tuple(p.shape), code, filtration == "superlevel", host_merge, per_pair,
            stream,
        )
        return BettiMatching(p, g, dims, (birth_p, birth_g), filtration=filtration, construction=construction,
                             gather=(_gatherer(p.reshape(-1)), _gatherer(g.reshape(-1))))

    return _concurrently(one, jobs)
