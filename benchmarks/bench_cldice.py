"""clDice memory and speed: seglosses vs MONAI, forward + backward on one 3D batch.

Configurations (each in its own fresh subprocess, one thread each so that the comparison is fair on a
shared machine):
    monai-dice      monai.losses.DiceLoss(softmax=True)
    dice            seglosses DiceLoss(softmax=True)
    monai-cldice    monai.losses.SoftDiceclDiceLoss(iter_=K, softmax=True)
    cldice          seglosses DiceclDiceLoss(iterations=K, softmax=True)
Input: (B, C, D, H, W) float32 logits (standard normal, fixed seed) and a one-hot float32 target of random
labels (the cost of the skeleton does not depend on the values).

Memory: peak extra resident memory, i.e. VmHWM minus VmRSS once the inputs exist, with the high-water mark
reset just before the loss runs (``echo 5 > /proc/self/clear_refs``; Linux >= 4.0). The gradient of the
input (one input-sized tensor) is part of every configuration's figure. The C heap makes this figure vary
by some 20 MB from one process to the next for the same code, so each configuration runs in
``--processes`` fresh processes and the median is reported (min-max in brackets). Time: wall seconds of
forward + backward, median over all runs (``--repeats`` per process).

Usage:
    python benchmarks/bench_cldice.py                       # (2, 2, 96, 96, 96), K = 10, 3 processes each
    python benchmarks/bench_cldice.py --shape 1 2 48 48 48 --processes 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import reset_peak, status_kib  # noqa: E402

CONFIGS = ("monai-dice", "dice", "monai-cldice", "cldice")


def _make_loss(config: str, iterations: int):
    import monai.losses

    import seglosses.losses

    if config == "monai-dice":
        return monai.losses.DiceLoss(softmax=True)
    if config == "dice":
        return seglosses.losses.DiceLoss(softmax=True)
    if config == "monai-cldice":
        return monai.losses.SoftDiceclDiceLoss(iter_=iterations, softmax=True)
    if config == "cldice":
        return seglosses.losses.DiceclDiceLoss(iterations=iterations, softmax=True)
    raise ValueError(f"Expected a configuration in {CONFIGS}, but got {config!r}.")


def run_one(config: str, shape: list[int], iterations: int, repeats: int) -> dict:
    """Measure one configuration in this process."""
    import torch

    torch.set_num_threads(1)
    loss_fn = _make_loss(config, iterations)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(shape, generator=generator).requires_grad_()
    labels = torch.randint(0, shape[1], (shape[0], 1, *shape[2:]), generator=generator)
    target = torch.zeros(shape).scatter_(1, labels, 1.0)
    del labels
    reset_peak()
    baseline = status_kib("VmRSS")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        (grad,) = torch.autograd.grad(loss_fn(logits, target), logits)
        times.append(time.perf_counter() - start)
        del grad
    peak = status_kib("VmHWM")
    return {"extra_mb": (peak - baseline) / 1024, "seconds": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs="+", default=[2, 2, 96, 96, 96])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per process")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per configuration")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.shape, args.iterations, args.repeats)))
        return

    results = {}
    for config in args.configs:
        command = [sys.executable, __file__, "--child", config, "--shape", *map(str, args.shape),
                   "--iterations", str(args.iterations), "--repeats", str(args.repeats)]
        runs = []
        for _ in range(args.processes):
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(output.strip().splitlines()[-1]))
        memory = [run["extra_mb"] for run in runs]
        results[config] = {
            "extra_mb": statistics.median(memory), "min_mb": min(memory), "max_mb": max(memory),
            "seconds": statistics.median([t for run in runs for t in run["seconds"]]),
        }
        print(f"  done {config}", file=sys.stderr)

    print(f"shape {tuple(args.shape)} float32, iterations {args.iterations}, one thread per process, "
          f"{args.processes} processes x {args.repeats} forward+backward per configuration (medians)")
    print(f"{'configuration':<14} {'peak extra MB':>14} {'(min - max)':>16} {'seconds':>9}")
    for config in args.configs:
        r = results[config]
        spread = f"({r['min_mb']:.0f} - {r['max_mb']:.0f})"
        print(f"{config:<14} {r['extra_mb']:>14.1f} {spread:>16} {r['seconds']:>9.2f}")

    def ratio(a: str, b: str, key: str) -> str:
        if a in results and b in results and results[b][key] > 0:
            return f"{results[a][key] / results[b][key]:.3f}"
        return "n/a"

    print(f"ours clDice / MONAI clDice: memory {ratio('cldice', 'monai-cldice', 'extra_mb')}, "
          f"time {ratio('cldice', 'monai-cldice', 'seconds')}")
    print(f"ours clDice / ours Dice: memory {ratio('cldice', 'dice', 'extra_mb')}; "
          f"ours clDice / MONAI Dice: memory {ratio('cldice', 'monai-dice', 'extra_mb')}")
    print(f"ours Dice / MONAI Dice: memory {ratio('dice', 'monai-dice', 'extra_mb')}, "
          f"time {ratio('dice', 'monai-dice', 'seconds')}")


if __name__ == "__main__":
    main()
