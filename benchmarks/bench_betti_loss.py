"""The cost of a training step's loss: forward + backward seconds and peak extra memory of every topology loss next
to Dice and clDice on the CPU, side by side in one run.

    python benchmarks/bench_betti_loss.py            # (2, 2, 64, 64, 64) and (8, 2, 256, 256), 3 repeats
    python benchmarks/bench_betti_loss.py --threads 1 --losses Dice HuTopo

Logits are those of a network part-way through training: a noisy, smoothed vessel-like likelihood from
benchmarks/inputs.py (fixed seed) turned into two-class logits, against the true vessel mask as the target.
Every (loss, input) runs in a fresh process: the peak extra memory of its first forward+backward pass (VmHWM
after minus VmRSS before, with the inputs already built and the high-water mark reset through
/proc/self/clear_refs; it includes the input-sized gradient), then the median time of --repeats further passes. Ratios are to DiceclDice
(iterations=10).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inputs import make_input, vessel_mask  # noqa: E402
from memory import reset_peak, status_kib  # noqa: E402

import seglosses  # noqa: E402

SHAPES = {"3d": ((64, 64, 64), 2), "2d": ((256, 256), 8)}
LOSSES = {  # name -> (class, settings besides the common ones)
    "Dice": ("DiceLoss", {}),
    "DiceclDice(10)": ("DiceclDiceLoss", {"iterations": 10}),
    "cbDice(10)": ("cbDiceLoss", {"iterations": 10}),
    "SkeletonRecall": ("SkeletonRecallLoss", {}),
    "BettiMatching": ("BettiMatchingLoss", {"threads": True}),
    "HuTopo": ("HuTopoLoss", {"threads": True}),
    "Topograph": ("TopographLoss", {}),
    "Warping": ("WarpingLoss", {}),
}
TWO_D_ONLY = {"Topograph"}
REFERENCE = "DiceclDice(10)"


def batch(shape: tuple[int, ...], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    likelihoods = [make_input(shape, "lik", seed=i) for i in range(n)]
    p = torch.from_numpy(np.stack(likelihoods)).float().clamp(1e-4, 1 - 1e-4)
    logits = torch.stack([torch.zeros_like(p), torch.logit(p)], 1)
    # The true vessel mask, which the noisy likelihood gets wrong in places (speckle, broken thin branches):
    # the losses that work on the errors (Topograph, Warping) then have errors to work on.
    target = torch.from_numpy(vessel_mask(shape).astype(np.int64))[None, None].repeat(n, 1, *([1] * len(shape)))
    return logits, target


def child(name: str, kind: str, repeats: int, threads: int | None) -> dict:
    """One (loss, input) in this process: seconds (median) and peak extra bytes."""
    if threads:
        torch.set_num_threads(threads)
    cls, settings = LOSSES[name]
    settings = dict(settings)
    if settings.pop("threads", False):
        settings["num_threads"] = threads
    loss = getattr(seglosses, cls)(softmax=True, to_onehot_y=True, include_background=False, **settings)
    logits, target = batch(*SHAPES[kind])
    tiny = tuple(slice(0, 8) for _ in SHAPES[kind][0])
    loss(logits[(slice(None), slice(None), *tiny)].clone().requires_grad_(), target[(slice(None), slice(None), *tiny)]).backward()
    x = logits.clone().requires_grad_()  # (the tiny pass above did the lazy imports, outside the measurement)
    reset_peak()
    before = status_kib("VmRSS")
    loss(x, target).backward()  # the first pass: its memory is the peak; its time (first-call costs) is not used
    peak = (status_kib("VmHWM") - before) * 1024
    del x
    times = []
    for _ in range(repeats):
        x = logits.clone().requires_grad_()
        start = time.perf_counter()
        loss(x, target).backward()
        times.append(time.perf_counter() - start)
        del x
    return {"seconds": statistics.median(times), "peak_bytes": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch and engine threads (default: all cores)")
    parser.add_argument("--losses", nargs="+", choices=list(LOSSES), default=list(LOSSES))
    parser.add_argument("--child", nargs=2, metavar=("LOSS", "INPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.repeats, args.threads)))
        return 0
    names = list(dict.fromkeys([REFERENCE, *args.losses]))
    print(f"torch threads {args.threads or torch.get_num_threads()}, median of {args.repeats} forward+backward after a first "
          "pass (whose peak memory is measured), one fresh process per cell; seconds / peak extra MB / time ratio to clDice")
    print(f"{'loss':<18}" + "".join(f"{kind + ' ' + str((n, 2, *shape)):>40}" for kind, (shape, n) in SHAPES.items()))
    results = {}
    for name in names:
        for kind in SHAPES:
            if kind == "3d" and name in TWO_D_ONLY:
                continue
            command = [sys.executable, __file__, "--child", name, kind, "--repeats", str(args.repeats)]
            if args.threads:
                command += ["--threads", str(args.threads)]
            output = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ)).stdout
            results[name, kind] = json.loads(output.strip().splitlines()[-1])
    for name in names:
        cells = []
        for kind in SHAPES:
            if (name, kind) not in results:
                cells.append("2D only")
                continue
            r, ref = results[name, kind], results[REFERENCE, kind]
            cells.append(f"{r['seconds']:.3f} s / {r['peak_bytes'] / 2**20:.0f} MB / {r['seconds'] / ref['seconds']:.2f}x")
        print(f"{name:<18}" + "".join(f"{c:>40}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
