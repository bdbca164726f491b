"""Seconds per nnU-Net training iteration with each seglosses trainer against the stock ``nnUNetTrainer``.

    python benchmarks/bench_nnunet.py [--size 64] [--rounds 3] [--steps 4] [--device cpu]

Writes a synthetic 3D dataset (``examples/nnunet_synthetic.py``, 5 vessel-tree cases of ``size``^3), plans and
preprocesses it with nnU-Net's defaults (3d_fullres: its patch, batch size and network), then, in one process,
times ``train_step`` (forward, loss, backward, optimizer step: what a training iteration costs besides loading)
on batches drawn beforehand, trainers interleaved round by round; the loss alone (forward and backward from
fixed network outputs), its share of the step; and the data loader's time per batch
(augmentation in the main process), where Skeleton Recall's tubes are made. Reports the median over rounds of
each round's mean, and the ratio to the stock trainer measured in the same rounds. Needs ``seglosses[nnunet]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAINERS = ["nnUNetTrainer", "nnUNetTrainerSeglossesClDice", "nnUNetTrainerSeglossesSkeletonRecall",
            "nnUNetTrainerSeglossesMIP", "nnUNetTrainerSeglossesBettiMatching"]


def prepare(work: Path, size: int) -> None:
    spec = importlib.util.spec_from_file_location("nnunet_synthetic", ROOT / "examples" / "nnunet_synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not (work / "raw" / "Dataset950_SyntheticVessels3D").exists():
        module.write_dataset(work / "raw", 950, dim=3, size=size)
    subprocess.run([str(Path(sys.executable).parent / "nnUNetv2_plan_and_preprocess"), "-d", "950", "-c", "3d_fullres",
                    "-np", "1", "-npfp", "1"], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="side of a case (default 64)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per trainer and round")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", help="folder for nnU-Net's raw/preprocessed/results (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-nnunet-"))
    os.environ.update({"nnUNet_raw": str(work / "raw"), "nnUNet_preprocessed": str(work / "preprocessed"),
                       "nnUNet_results": str(work / "results"), "nnUNet_def_n_proc": "1", "nnUNet_compile": "false"})
    prepare(work, args.size)
    os.environ["nnUNet_n_proc_DA"] = "0"  # set after planning, which needs it positive

    import torch
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    import seglosses.nnunet as sn

    classes = {"nnUNetTrainer": nnUNetTrainer, **sn.TRAINERS}
    folder = work / "preprocessed" / "Dataset950_SyntheticVessels3D"
    plans = json.loads((folder / "nnUNetPlans.json").read_text())
    dataset_json = json.loads((folder / "dataset.json").read_text())
    device = torch.device(args.device)
    trainers, batches, loader_s = {}, {}, {}
    for name in TRAINERS:
        trainer = classes[name]({**plans, "continue_training": False}, "3d_fullres", 0, dataset_json, device=device)
        trainer.initialize()
        trainer.network.train()
        train, _ = trainer.get_dataloaders()
        start = time.perf_counter()
        batches[name] = [next(train) for _ in range(args.steps)]
        loader_s[name] = (time.perf_counter() - start) / args.steps
        trainers[name] = trainer
        trainer.train_step(batches[name][0])  # warm-up
    # The loss alone: forward and backward from fixed network outputs (made once per batch).
    outputs = {}
    with torch.no_grad():
        for name in TRAINERS:
            network = trainers[name].network
            outputs[name] = [[o.detach() for o in network(batch["data"].to(device))] for batch in batches[name]]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    rounds: dict[str, list[float]] = {name: [] for name in TRAINERS}
    loss_rounds: dict[str, list[float]] = {name: [] for name in TRAINERS}
    for _ in range(args.rounds):
        for name in TRAINERS:
            trainer = trainers[name]
            sync()
            start = time.perf_counter()
            for batch in batches[name]:
                trainer.train_step(batch)
            sync()
            rounds[name].append((time.perf_counter() - start) / args.steps)
            start = time.perf_counter()
            for batch, output in zip(batches[name], outputs[name]):
                logits = [o.clone().requires_grad_(True) for o in output]
                target = [t.to(device) for t in batch["target"]]
                trainer.loss(logits, target).backward()
            sync()
            loss_rounds[name].append((time.perf_counter() - start) / args.steps)
    config = trainers["nnUNetTrainer"].configuration_manager
    print(f"nnU-Net 3d_fullres on {args.size}^3 synthetic vessels: patch {config.patch_size}, batch "
          f"{config.batch_size}, device {args.device}, torch threads {torch.get_num_threads()}, "
          f"{args.rounds} rounds x {args.steps} steps")
    print("| trainer | s / train_step | x stock | loss fwd+bwd s | loss share of the step | loader s / batch |")
    print("|---|---|---|---|---|---|")
    stock = np.array(rounds["nnUNetTrainer"])
    for name in TRAINERS:
        values, loss = np.array(rounds[name]), np.array(loss_rounds[name])
        print(f"| {name} | {np.median(values):.3f} | {np.median(values / stock):.2f} | {np.median(loss):.3f} | "
              f"{np.median(loss / values):.0%} | {loader_s[name]:.3f} |")


if __name__ == "__main__":
    main()
