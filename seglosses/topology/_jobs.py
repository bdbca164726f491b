"""Batches and threads of the topology engine's Python face, shared by ``persistence`` and ``betti_matching``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from seglosses._validation import MAX_PIXELS
from seglosses.topology._validation import as_image

__all__ = ["check_device", "run_jobs", "split_batch"]


def check_device(image, name: str) -> None:
    device = getattr(image, "device", None)
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        raise ValueError(
            f"Expected `{name}` to be a CPU tensor (the CUDA backend is not built yet; pass "
            f"`{name}.cpu()`), but got a tensor on {device}."
        )



def split_batch(
    image, name: str, max_pixels: int = MAX_PIXELS, what: str = "the topology engine"
) -> tuple[list[np.ndarray], bool]:
    """Return the images of ``image`` as float64 arrays, and whether it was a batch (size checked before the copy)."""
    if isinstance(image, (list, tuple)):
        if len(image) == 0:
            raise ValueError(
                f"Expected `{name}` to be a non-empty list of images, but got an empty {type(image).__name__}."
            )
        for i, item in enumerate(image):
            check_device(item, f"{name}[{i}]")
        return [as_image(item, f"{name}[{i}]", max_pixels=max_pixels, what=what) for i, item in enumerate(image)], True
    check_device(image, name)
    arr = as_image(image, name, allow_batch=True, max_pixels=max_pixels, what=what)
    if arr.ndim == 4:
        return list(arr), True
    return [arr], False




def run_jobs(run, jobs: list, threads: int) -> list:
    """``[run(job, k) for job in jobs]`` on ``threads`` threads in all: a pool over the jobs, and each
    call given ``k`` threads of its own when there are fewer jobs than threads (one large volume still
    uses every core). The compiled core releases the GIL, so the pool's threads run in parallel."""
    if threads == 1 or len(jobs) == 1:
        return [run(job, threads) for job in jobs]
    per_job = max(1, threads // len(jobs))
    with ThreadPoolExecutor(max_workers=min(threads, len(jobs))) as pool:
        return list(pool.map(lambda job: run(job, per_job), jobs))
