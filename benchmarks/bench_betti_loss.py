"""Betti matching and HuTopo losses: forward + backward time next to Dice and clDice on the CPU, side by side in one
run.

    python benchmarks/bench_betti_loss.py            # (2, 2, 64, 64, 64) and (8, 2, 256, 256), 3 repeats
    python benchmarks/bench_betti_loss.py --threads 1

Logits are those of a network part-way through training: a noisy, smoothed vessel-like likelihood from
benchmarks/inputs.py (fixed seed) turned into two-class logits, with its thresholded mask as the one-hot target.
Ratios are BettiMatching and HuTopo time / DiceclDice (iterations=10) and BettiMatching / our Dice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inputs import make_input  # noqa: E402

from seglosses import BettiMatchingLoss, DiceclDiceLoss, DiceLoss, HuTopoLoss  # noqa: E402


def batch(shape: tuple[int, ...], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    likelihoods = [make_input(shape, "lik", seed=i) for i in range(n)]
    p = torch.from_numpy(np.stack(likelihoods)).float().clamp(1e-4, 1 - 1e-4)
    logits = torch.stack([torch.zeros_like(p), torch.logit(p)], 1)
    target = (p > 0.5).long()[:, None]
    return logits, target


def time_loss(loss, logits, target, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        x = logits.clone().requires_grad_()
        start = time.perf_counter()
        loss(x, target).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch and engine threads (default: all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    common = dict(softmax=True, to_onehot_y=True, include_background=False)
    losses = {
        "Dice": DiceLoss(**common),
        "DiceclDice(10)": DiceclDiceLoss(iterations=10, **common),
        "BettiMatching": BettiMatchingLoss(num_threads=args.threads, **common),
        "HuTopo": HuTopoLoss(num_threads=args.threads, **common),
    }
    print(f"torch threads {torch.get_num_threads()}, median of {args.repeats} forward+backward, seconds")
    print(f"{'input':<22}" + "".join(f"{name:>16}" for name in losses) + f"{'BM / clDice':>14}{'HuTopo / clDice':>17}{'BM / Dice':>12}")
    for shape, n in (((64, 64, 64), 2), ((256, 256), 8)):
        logits, target = batch(shape, n)
        seconds = {name: time_loss(loss, logits, target, args.repeats) for name, loss in losses.items()}
        label = f"({n}, 2, {', '.join(map(str, shape))})"
        print(f"{label:<22}" + "".join(f"{seconds[name]:>16.3f}" for name in losses)
              + f"{seconds['BettiMatching'] / seconds['DiceclDice(10)']:>14.2f}"
              + f"{seconds['HuTopo'] / seconds['DiceclDice(10)']:>17.2f}"
              + f"{seconds['BettiMatching'] / seconds['Dice']:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
