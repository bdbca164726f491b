"""Code shared by the training examples: where the data is, losses by name with weights, result tables."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from seglosses.io import write_csv
from seglosses.losses import LOSS_NAMES, CombinedLoss, parse_spec

REPOSITORY = Path(__file__).resolve().parents[1]


def data_root(argument: str | None, dataset: str, marker: str, script: str, repository: Path = REPOSITORY) -> Path:
    """``<root>/<dataset>`` for the first root among --data, $SEGLOSSES_DATA and ../shared/data that holds
    ``<dataset>/<marker>``; otherwise exit with a message naming the data script to run."""
    candidates = [argument, os.environ.get("SEGLOSSES_DATA"), str(repository.parent / "shared" / "data")]
    for candidate in candidates:
        if candidate and (Path(candidate) / dataset / marker).exists():
            return Path(candidate) / dataset
    sys.exit(
        f"no {dataset} data found (looked in --data, $SEGLOSSES_DATA and ../shared/data for {dataset}/{marker}). "
        f"Prepare it with: python data_scripts/{script} --out DATA_FOLDER"
    )


def parse_loss(spec: str, *, mip_axes: tuple[int, ...] = (-1,)):
    """``"dice_ce+0.5*cldice"`` -> ``objective(logits, labels, extras)``: :class:`seglosses.losses.CombinedLoss`
    with its registry's defaults (the MIP term along ``mip_axes``).

    ``extras`` may hold ``"tube"`` (Skeleton Recall's tube from SkeletonTubed) and ``"mips"`` (the label's
    whole-volume projections from MIPTargetd); without them those losses compute them from the patch.
    """
    try:
        names = [name for _, name in parse_spec(spec)]
        loss = CombinedLoss(spec, **({"mip": {"axes": mip_axes}} if "mip" in names else {}))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None

    def objective(logits, labels, extras: dict):
        return loss(logits, labels, skeleton=extras.get("tube"), target_mips=extras.get("mips"))

    return objective


def write_results(rows: list[dict], out: Path, title: str) -> None:
    """Per-case CSV plus a printed mean ± std of every numeric column."""
    write_csv(out, rows)
    print(f"\n{title}:")
    for column in rows[0]:
        values = [r[column] for r in rows]
        if all(isinstance(v, (int, float)) for v in values):
            values = np.array(values, dtype=np.float64)
            print(f"  {column:<26}{np.nanmean(values):>10.4f} ± {np.nanstd(values):.4f}")
    print(f"per-case results: {out}")


class Distributed:
    """DDP set-up for scripts run under ``torchrun`` (one process per GPU, or gloo processes on the CPU).

    Without ``torchrun`` (no WORLD_SIZE in the environment) it is a single process: rank 0 of 1, no process
    group. Each rank trains on its own random patches (seeded by rank), gradients are averaged by
    DistributedDataParallel, evaluation cases are split across ranks and gathered on rank 0, which writes.
    """

    def __init__(self, device: str) -> None:
        import torch
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = device
        if self.world > 1:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            if device.startswith("cuda"):
                torch.cuda.set_device(local)
                self.device = f"cuda:{local}"
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, net):
        """``net`` on this rank's device, inside DistributedDataParallel when there are several ranks."""
        from torch.nn.parallel import DistributedDataParallel

        net = net.to(self.device)
        if self.world == 1:
            return net
        return DistributedDataParallel(net, device_ids=[int(self.device.split(":")[1])] if ":" in self.device else None)

    def share(self, items: list) -> list:
        """This rank's share of ``items`` (every world-th item, starting at the rank)."""
        return items[self.rank :: self.world]

    def gather(self, rows: list) -> list:
        """Every rank's ``rows``, concatenated on every rank (in rank order)."""
        if self.world == 1:
            return rows
        import torch.distributed as dist

        everything = [None] * self.world
        dist.all_gather_object(everything, rows)
        return [row for part in everything for row in part]

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            # Every rank past its last collective before any tears its sockets down: a rank that
            # destroys the group while a peer's gloo threads are still finishing the last exchange can
            # abort that peer ("terminate called without an active exception", seen once under load).
            dist.barrier()
            dist.destroy_process_group()
            # The group itself is freed when DistributedDataParallel lets it go (at exit, holding the
            # GIL), and its destructor joins gloo's work thread, which may still want the GIL to free the
            # last collective's tensors: a deadlock, seen once under load. A pause releases the GIL
            # to that thread first.
            import time

            time.sleep(0.2)


def autocast(device: str, enabled: bool):
    """bfloat16 autocast on CUDA when ``enabled`` (every seglosses loss accumulates in float32 under it; bf16 needs
    no gradient scaler); a no-op context otherwise."""
    import contextlib

    import torch

    if enabled and str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def add_common_arguments(parser: argparse.ArgumentParser, *, dataset: str, out: str, steps: int | None,
                         batch: int | None) -> None:
    """The options every training example shares (data, loss, schedule, device, output, --quick). ``steps`` or
    ``batch`` None: the option defaults to None, for the script to fill in (e.g. from a protocol)."""
    import torch

    parser.add_argument("--data", help=f"folder holding {dataset}/ (default: $SEGLOSSES_DATA, ../shared/data)")
    parser.add_argument("--loss", default="dice_ce",
                        help="losses by name with weights (seglosses.losses.CombinedLoss), e.g. dice_ce, "
                        "dice_ce+0.5*cldice, dice_ce+0.01*betti_matching, dice_ce+skeleton_recall, dice_ce+0.5*mip; "
                        f"names: {', '.join(LOSS_NAMES)}")
    given = lambda value: "the protocol's" if value is None else value  # noqa: E731
    parser.add_argument("--steps", type=int, default=steps, help=f"training steps (default {given(steps)})")
    parser.add_argument("--batch", type=int, default=batch, help=f"patches per step (default {given(batch)})")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast on CUDA (the full GPU mode)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=out, help=f"folder for results.csv (default {out})")
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    parser.add_argument("--quick", action="store_true", help="CPU smoke run: few steps, a small network")


def objective_and_output(parser: argparse.ArgumentParser, args, **loss_options):
    """The parsed loss and the results path; parser errors for a bad --loss or an existing results file."""
    try:
        objective = parse_loss(args.loss, **loss_options)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    out = Path(args.out) / "results.csv"
    if out.exists() and not args.overwrite:
        parser.error(f"{out} exists; pass --overwrite to replace it")
    return objective, out
