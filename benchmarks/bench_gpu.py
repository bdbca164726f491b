"""On a CUDA device: milliseconds per training step of a MONAI U-Net with Dice+CE alone and with each topology
loss added, the share of the step each loss takes, and the peak CUDA memory of the clDice losses beside Dice.

    python benchmarks/bench_gpu.py                      # every set-up, every loss, bf16 autocast
    python benchmarks/bench_gpu.py --only 2d --losses cldice betti_matching
    python benchmarks/bench_gpu.py --only 3d8           # the CUDA engine's goal: Betti matching vs clDice(10)

Set-ups: 3D, MONAI UNet (16, 32, 64, 128), batch 2 of 96^3 patches; 2D, TopoMortar's, batch 10 of 512^2 images,
UNet (32, 64, 128, 256); 3d8, the same 3D U-Net on a batch of 8 64^3 patches, with Dice+CE plus clDice of 10
iterations (``cldice10``) and plus Betti matching on the CPU engine and on the GPU engine (the share the CUDA
engine must bring down to clDice's). Inputs are generated vessel trees (seglosses.synthetic), labels their masks. A step is
forward, loss, backward and an SGD step under bf16 autocast (--no-amp: float32), timed with CUDA events after 3
warm-up steps, median of --steps steps; "loss share" = (step with the term - step without) / step with the term.
Memory: torch.cuda.max_memory_allocated over one forward+backward of the loss alone on (2, 2, 96^3) logits, minus
what was allocated before (inputs included in neither).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from seglosses.losses import CombinedLoss
from seglosses.synthetic import vessel_tree

TERMS = {"cldice": "dice_ce+0.5*cldice", "cldice10": "dice_ce+0.5*cldice", "cbdice": "dice_ce+0.5*cbdice", "skeleton_recall": "dice_ce+skeleton_recall",
         "betti_matching": "dice_ce+0.01*betti_matching", "hutopo": "dice_ce+0.01*hutopo",
         "topograph": "dice_ce+0.1*topograph", "warping": "dice_ce+warping", "mip": "dice_ce+0.5*mip",
         "betti_matching_cuda": "dice_ce+0.01*betti_matching"}
# Term options beyond the spec: Betti matching on the GPU engine (3D: H1 on the host), clDice of 10 iterations.
OPTIONS = {"betti_matching_cuda": {"betti_matching": {"backend": "cuda"}}, "mip": {"mip": {"axes": (-1,)}},
           "cldice10": {"cldice": {"iterations": 10}}}
TWO_D_ONLY, THREE_D_ONLY = {"topograph"}, {"mip"}
# The terms of each set-up (those of --losses that are listed).
SETUP_TERMS = {"3d8": ("cldice10", "betti_matching", "betti_matching_cuda")}


def batch(kind: str, device: str):
    shape, n = {"3d": ((96, 96, 96), 2), "3d8": ((64, 64, 64), 8), "2d": ((512, 512), 10)}[kind]
    pairs = [vessel_tree(shape, n_branches=10, seed=i) for i in range(n)]
    x = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None].float().to(device)
    y = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))[:, None].to(device)
    return x, y


def network(kind: str, device: str):
    from monai.networks.nets import UNet

    if kind in ("3d", "3d8"):
        return UNet(3, 1, 2, channels=(16, 32, 64, 128), strides=(2, 2, 2), num_res_units=1).to(device)
    return UNet(2, 3, 2, channels=(32, 64, 128, 256), strides=(2, 2, 2), num_res_units=1).to(device)


def step_ms(kind: str, spec: str, steps: int, amp: bool, options: dict | None = None) -> float:
    torch.manual_seed(0)
    x, y = batch(kind, "cuda")
    if kind == "2d":
        x = x.repeat(1, 3, 1, 1)
    net = network(kind, "cuda")
    optimiser = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    loss = CombinedLoss(spec, **(options or {}))
    times = []
    for i in range(steps + 3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            value = loss(net(x), y)
        optimiser.zero_grad(set_to_none=True)
        value.backward()
        optimiser.step()
        end.record()
        torch.cuda.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(end))
    return statistics.median(times)


def peak_mb(make) -> float:
    logits = torch.randn(2, 2, 96, 96, 96, device="cuda")
    labels = torch.randint(0, 2, (2, 1, 96, 96, 96), device="cuda")
    loss = make()
    x = logits.clone().requires_grad_(True)
    loss(x, labels).backward()  # warm-up
    del x
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    x = logits.clone().requires_grad_(True)
    loss(x, labels).backward()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - before) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("2d", "3d", "3d8"))
    parser.add_argument("--losses", nargs="+", choices=list(TERMS), default=list(TERMS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no-amp", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        parser.error("needs a CUDA device")
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"{'float32' if args.no_amp else 'bf16 autocast'}, median of {args.steps} steps")
    for kind in ("3d", "2d", "3d8"):
        if args.only and kind != args.only:
            continue
        base = step_ms(kind, "dice_ce", args.steps, not args.no_amp)
        print(f"\n{kind}: Dice+CE alone {base:.1f} ms per step")
        print(f"  {'loss':<18}{'ms per step':>12}{'loss share':>12}")
        for term in args.losses:
            if (kind != "2d" and term in TWO_D_ONLY) or (kind == "2d" and term in THREE_D_ONLY):
                continue
            if term not in SETUP_TERMS.get(kind, TERMS) or (kind not in SETUP_TERMS and term == "cldice10"):
                continue
            try:
                ms = step_ms(kind, TERMS[term], args.steps, not args.no_amp, OPTIONS.get(term))
            except Exception as error:  # noqa: BLE001 - report and go on: one broken loss must not hide the others
                print(f"  {term:<18}failed: {type(error).__name__}: {error}")
                continue
            print(f"  {term:<18}{ms:>12.1f}{(ms - base) / ms:>11.0%}")
    if args.only == "3d8":
        return 0
    import monai.losses

    import seglosses

    common = dict(softmax=True, to_onehot_y=True)
    rows = {
        "MONAI DiceLoss": lambda: monai.losses.DiceLoss(**common),
        "seglosses DiceLoss": lambda: seglosses.DiceLoss(**common),
        "MONAI SoftDiceclDiceLoss(10)": _monai_cldice,
        "seglosses DiceclDiceLoss(10)": lambda: seglosses.DiceclDiceLoss(iterations=10, **common),
    }
    print("\npeak CUDA memory of one forward+backward, (2, 2, 96^3) float32 logits:")
    for name, make in rows.items():
        try:
            print(f"  {name:<32}{peak_mb(make):>10.0f} MB")
        except Exception as error:  # noqa: BLE001
            print(f"  {name:<32}failed: {type(error).__name__}: {error}")
    return 0


def _monai_cldice():
    """MONAI's Dice+clDice (MONAI >= 1.5 takes logits and softmax=True) on one-hot labels."""
    import monai.losses

    inner = monai.losses.SoftDiceclDiceLoss(iter_=10, softmax=True)

    def loss(logits, labels):
        return inner(logits, torch.zeros_like(logits).scatter_(1, labels, 1.0))

    return loss


if __name__ == "__main__":
    raise SystemExit(main())
