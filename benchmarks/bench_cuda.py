"""The CUDA engine against our CPU engine (all cores) and Betti-Matching-3D (issue 5's table).

Sections:
1. ``coverage`` (runs anywhere, on the CPU emulation of the kernels): the share of H1 pairs of 3D
   inputs that the local apparent-pair test finds, i.e. how many columns remain for the sequential
   reduction (zero-persistence pairs included: they are columns too).
2. ``gpu`` (needs a CUDA device; prints "no CUDA device" otherwise), side by side in one run, ratios
   against the GPU time:
   - persistence of a batch of 16 2D 512^2 likelihoods (all of 2D runs on the GPU engine) vs our CPU
     engine (all cores) vs Betti-Matching-3D's barcode (all cores);
   - the GPU phases of a batch of 8 3D patches at 64^3 and 128^3 (ranks + H0 + top dimension; H1 has
     no kernel) vs our CPU engine's whole persistence (not the same work: the CPU figure includes H1);
   - Betti matching of the same batches on our CPU engine and on Betti-Matching-3D (the matching has no
     GPU kernel yet);
   - the Betti matching loss's share of a MONAI 3D U-Net training step (batch 8, 64^3, forward +
     backward), next to DiceclDiceLoss's.

Usage (from the repository root):
    python benchmarks/bench_cuda.py [--quick] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from inputs import make_input, vessel_mask  # noqa: E402
from oracles.betti_matching_3d import load as load_oracle  # noqa: E402

from seglosses import _core  # noqa: E402
from seglosses.topology import betti_matching, persistence  # noqa: E402


def timed(fn, repeats: int) -> float:
    """Median wall seconds of ``fn()`` (CUDA work synchronized)."""
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def coverage(quick: bool) -> None:
    print("H1 pairs of 3D inputs found by the local apparent-pair test (CPU emulation of the kernel):")
    print(f"{'input':<16}{'constr.':>8}{'H1 pairs':>12}{'apparent':>12}{'share':>8}{'remaining':>11}")
    for shape in ((32,) * 3, (64,) * 3)[: 1 if quick else 2]:
        for kind in ("noise", "lik", "clean"):
            image = -make_input(shape, kind)  # superlevel: the sublevel filtration of -p
            for construction, code in (("T", 0), ("V", 1)):
                total = len(_core._gpu_reference_cell_pairs(image, code, 1))
                apparent = len(_core._gpu_apparent_pairs(image, code, 1))
                print(
                    f"{f'{shape[0]}^3 {kind}':<16}{construction:>8}{total:>12}{apparent:>12}"
                    f"{apparent / total:>8.1%}{total - apparent:>11}"
                )


def gpu_available() -> str:
    """'' when the GPU section can run, else why not."""
    try:
        from seglosses import _cuda
    except ImportError:
        return "seglosses was built without CUDA"
    if not torch.cuda.is_available() or _cuda.device_count() == 0:
        return "no CUDA device"
    return ""


def gpu_tables(repeats: int, quick: bool) -> None:
    from seglosses import _cuda

    bm3d, why = load_oracle()
    threads = os.cpu_count() or 1
    print(f"device: {torch.cuda.get_device_name()}, CPU threads: {threads}" + ("" if bm3d else f"; {why}"))

    print("\nPersistence, batch of 16 2D 512^2 likelihoods (seconds; ratios = peer / our GPU)")
    print(f"{'input':<12}{'ours GPU':>10}{'ours CPU':>10}{'ratio':>8}{'BM3D':>10}{'ratio':>8}")
    for kind in ("lik", "noise"):
        batch = [make_input((512, 512), kind, seed=i) for i in range(16)]
        device = [torch.from_numpy(im).cuda() for im in batch]
        gpu = timed(lambda: persistence(device, backend="cuda"), repeats)
        cpu = timed(lambda: persistence(batch, backend="cpu", num_threads=threads), repeats)
        peer = timed(lambda: bm3d.compute_barcode([1.0 - im for im in batch]), repeats) if bm3d else float("nan")
        print(f"{'512^2 ' + kind:<12}{gpu:>10.3f}{cpu:>10.3f}{cpu / gpu:>8.1f}{peer:>10.3f}{peer / gpu:>8.1f}")

    print("\n3D batches of 8 (seconds): GPU phases (ranks, H0, top dimension; no H1) vs whole persistence on CPU")
    print(f"{'input':<14}{'GPU phases':>12}{'CPU persistence':>17}{'CPU matching':>14}{'BM3D matching':>15}")
    stream = torch.cuda.current_stream().cuda_stream
    for side in (64,) if quick else (64, 128):
        shape = (side,) * 3
        for kind in ("clean", "lik"):
            batch = [make_input(shape, kind, seed=i) for i in range(8)]
            target = vessel_mask(shape).astype(np.float64)
            device = [(-torch.from_numpy(im)).cuda() for im in batch]

            def gpu_phases():
                for im in device:
                    for dual in (False, True):
                        _cuda.union_find_pairs(im.data_ptr(), shape, 0, dual, stream)

            gpu = timed(gpu_phases, repeats)
            cpu = timed(lambda: persistence(batch, backend="cpu", num_threads=threads), 1)
            match = timed(lambda: betti_matching(batch, [target] * 8, construction="V", num_threads=threads), 1)
            peer = (
                timed(lambda: bm3d.compute_matching([1.0 - im for im in batch], [1.0 - target] * 8), 1)
                if bm3d
                else float("nan")
            )
            print(f"{f'{side}^3 {kind}':<14}{gpu:>12.3f}{cpu:>17.3f}{match:>14.3f}{peer:>15.3f}")

    loss_share(repeats)


def loss_share(repeats: int) -> None:
    from monai.networks.nets import UNet

    from seglosses.losses import BettiMatchingLoss, DiceCELoss, DiceclDiceLoss

    print("\nLoss share of a MONAI 3D U-Net step (batch 8, 64^3, forward + backward)")
    torch.manual_seed(0)
    net = UNet(3, 1, 2, channels=(16, 32, 64, 128), strides=(2, 2, 2), num_res_units=2).cuda()
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3)
    x = torch.randn(8, 1, 64, 64, 64, device="cuda")
    mask = torch.from_numpy(vessel_mask((64, 64, 64))).cuda()
    y = mask[None, None].expand(8, 1, -1, -1, -1).long()
    base = DiceCELoss(softmax=True, to_onehot_y=True)
    extras = {
        "DiceCE only": None,
        "+ DiceclDiceLoss": DiceclDiceLoss(softmax=True, to_onehot_y=True),
        "+ BettiMatchingLoss (CPU engine)": BettiMatchingLoss(softmax=True, to_onehot_y=True, include_background=False),
    }
    times = {}
    for name, extra in extras.items():

        def step(extra=extra):
            optimizer.zero_grad()
            logits = net(x)
            loss = base(logits, y) + (extra(logits, y) if extra is not None else 0.0)
            loss.backward()
            optimizer.step()

        step()  # warm-up
        times[name] = timed(step, repeats)
    reference = times["DiceCE only"]
    for name, seconds in times.items():
        share = (seconds - reference) / seconds
        print(f"{name:<34}{seconds:>8.3f} s/step   extra loss share {share:>6.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    coverage(args.quick)
    why = gpu_available()
    if why:
        print(f"\n{why}: the GPU tables need a CUDA device (run this script on a GPU machine).")
        return 0
    gpu_tables(args.repeats, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
