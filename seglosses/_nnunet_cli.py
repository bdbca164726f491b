"""``seglosses nnunet-path`` and ``seglosses nnunet-train``: the nnU-Net commands (nnunetv2 is imported only when
one of them runs)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_TRAINER = "nnUNetTrainerSeglosses"


def trainer_dir() -> str:
    """Folder for ``nnUNet_extTrainer`` (the same as :func:`seglosses.nnunet.trainer_dir`, without importing
    nnunetv2)."""
    return str(Path(__file__).resolve().parent / "nnunet" / "external")


def with_trainer_dir(environ: dict[str, str]) -> str:
    """``nnUNet_extTrainer`` with our folder first, the user's folders kept after it."""
    current = [path for path in environ.get("nnUNet_extTrainer", "").split(os.pathsep) if path]
    return os.pathsep.join([trainer_dir(), *(path for path in current if path != trainer_dir())])


def run_path(args: argparse.Namespace) -> int:
    print(trainer_dir())
    return 0


def _own_options() -> argparse.ArgumentParser:
    from seglosses.cli import positive_int

    parser = argparse.ArgumentParser(prog="seglosses nnunet-train", add_help=False)
    parser.add_argument("--loss", help="loss spec of nnUNetTrainerSeglosses, e.g. 'dice_ce+0.01*betti_matching'")
    parser.add_argument("--epochs", type=positive_int, help="epochs (nnU-Net: 1000)")
    parser.add_argument("--iterations", type=positive_int, help="training iterations per epoch (nnU-Net: 250)")
    parser.add_argument("--val-iterations", type=positive_int, help="validation iterations per epoch (nnU-Net: 50)")
    return parser


def run_train(args: argparse.Namespace) -> int:
    from seglosses.losses.combined import parse_spec
    from seglosses.nnunet.trainers import LENGTH_VARIABLES, LOSS_VARIABLE

    own, passthrough = _own_options().parse_known_args(args.nnunet_args)
    trainer = None
    if "-tr" in passthrough:
        at = passthrough.index("-tr")
        if at + 1 >= len(passthrough):
            sys.stderr.write("seglosses nnunet-train: -tr needs a trainer name\n")
            return 2
        trainer = passthrough[at + 1]
        del passthrough[at: at + 2]
    trainer = trainer or DEFAULT_TRAINER
    if own.loss is not None:
        if trainer != DEFAULT_TRAINER:
            sys.stderr.write(f"seglosses nnunet-train: --loss sets the loss of {DEFAULT_TRAINER}; {trainer} has its own\n")
            return 2
        try:
            parse_spec(own.loss)
        except ValueError as error:
            sys.stderr.write(f"seglosses nnunet-train: {error}\n")
            return 2
        os.environ[LOSS_VARIABLE] = own.loss
    for (variable, _), value in zip(LENGTH_VARIABLES.items(), (own.epochs, own.iterations, own.val_iterations)):
        if value is not None:
            os.environ[variable] = str(value)
    os.environ["nnUNet_extTrainer"] = with_trainer_dir(dict(os.environ))
    from nnunetv2.run.run_training import run_training_entry

    sys.argv = ["nnUNetv2_train", args.dataset, args.configuration, args.fold, "-tr", trainer, *passthrough]
    run_training_entry()
    return 0


def add_nnunet(subparsers) -> None:
    path = subparsers.add_parser(
        "nnunet-path", help="folder of the seglosses nnU-Net trainers, for nnUNet_extTrainer",
        description="Print the folder to set as nnUNet_extTrainer, so that the stock nnUNetv2_train and "
        "nnUNetv2_predict find the seglosses trainers: export nnUNet_extTrainer=$(seglosses nnunet-path)",
    )
    path.set_defaults(run=run_path)
    train = subparsers.add_parser(
        "nnunet-train", help="nnUNetv2_train with a seglosses trainer",
        description="Run nnU-Net's own training entry point (nnUNetv2_train) with a seglosses trainer: "
        f"nnUNet_extTrainer is set for this run, -tr defaults to {DEFAULT_TRAINER}, and every argument that is "
        "not one of the options below goes to nnUNetv2_train (e.g. -device cpu, --npz, -p PLANS, --c).",
        epilog="options: --loss SPEC (the loss of nnUNetTrainerSeglosses, e.g. 'dice_ce+1*skeleton_recall'), "
        "--epochs N, --iterations N, --val-iterations N (shorter runs than nnU-Net's 1000 x 250 x 50)",
    )
    train.add_argument("dataset", help="dataset name or id, as nnUNetv2_train takes it")
    train.add_argument("configuration", help="2d, 3d_fullres, 3d_lowres, ...")
    train.add_argument("fold", help="0-4 or all")
    train.add_argument("nnunet_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    train.set_defaults(run=run_train)
