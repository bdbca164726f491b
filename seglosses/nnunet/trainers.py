"""nnU-Net v2 trainers with seglosses terms, for the stock ``nnUNetv2_train`` / ``nnUNetv2_predict``.

Every trainer is ``nnUNetTrainer`` with one change, the loss: nnU-Net's own Dice+CE (Dice+BCE for regions, built
by nnU-Net exactly as in the stock trainer) plus seglosses terms, weighted over deep supervision as described in
:mod:`seglosses.nnunet.loss`. Network, plans, augmentation, schedule, mixed precision and inference are
nnU-Net's; a model trained with one of them predicts with ``nnUNetv2_predict -tr <its name>``.

=============================================  ==========================================================
trainer                                        loss spec
=============================================  ==========================================================
``nnUNetTrainerSeglossesClDice``               ``dice_ce+1*cldice``
``nnUNetTrainerSeglossesSkeletonRecall``       ``dice_ce+1*skeleton_recall`` (tubes made in the data loader)
``nnUNetTrainerSeglossesBettiMatching``        ``dice_ce+0.01*betti_matching`` (full-resolution output)
``nnUNetTrainerSeglossesMIP``                  ``dice_ce+1*mip``, projections along all three axes; 3D only
``nnUNetTrainerSeglosses``                     ``$SEGLOSSES_NNUNET_LOSS`` (default ``dice_ce``)
=============================================  ==========================================================

``dice_ce`` in a spec is nnU-Net's Dice+CE and ``dice`` its Dice alone; every other name is the seglosses loss of
:class:`seglosses.losses.CombinedLoss`'s table (``include_background`` off for label layouts, on for regions).
The weights of the named trainers: 1 for clDice and Skeleton Recall (the Skeleton Recall paper's nnU-Net
setting), 0.01 for Betti matching (chosen on TopoMortar's held-out training images, README).

Environment variables read by these trainers (``seglosses nnunet-train`` sets them from its options):

- ``SEGLOSSES_NNUNET_LOSS``: the spec of ``nnUNetTrainerSeglosses``;
- ``SEGLOSSES_NNUNET_EPOCHS``, ``SEGLOSSES_NNUNET_ITERATIONS``, ``SEGLOSSES_NNUNET_VAL_ITERATIONS``: epochs,
  training and validation iterations per epoch instead of nnU-Net's 1000, 250 and 50 (short runs, smoke tests).

The spec a model was trained with is written to ``seglosses.json`` in its fold folder; a run that would train a
different spec into a folder holding one stops with an error instead of overwriting that model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from batchgeneratorsv2.transforms.utils.deep_supervision_downsampling import DownsampleSegForDSTransform
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from seglosses import __version__
from seglosses.losses.combined import parse_spec
from seglosses.nnunet.loss import FULL_RESOLUTION_ONLY, TopologyLoss
from seglosses.nnunet.transforms import SkeletonTubeTransform

__all__ = [
    "LENGTH_VARIABLES",
    "LOSS_VARIABLE",
    "TRAINERS",
    "nnUNetTrainerSeglosses",
    "nnUNetTrainerSeglossesBettiMatching",
    "nnUNetTrainerSeglossesClDice",
    "nnUNetTrainerSeglossesMIP",
    "nnUNetTrainerSeglossesSkeletonRecall",
]

LOSS_VARIABLE = "SEGLOSSES_NNUNET_LOSS"
#: Environment variable -> trainer attribute, for shorter runs than nnU-Net's schedule.
LENGTH_VARIABLES = {
    "SEGLOSSES_NNUNET_EPOCHS": "num_epochs",
    "SEGLOSSES_NNUNET_ITERATIONS": "num_iterations_per_epoch",
    "SEGLOSSES_NNUNET_VAL_ITERATIONS": "num_val_iterations_per_epoch",
}
_BASE_NAMES = ("dice_ce", "dice")
_RECORD = "seglosses.json"
_CUDA = torch.device("cuda")  # nnUNetTrainer's default device


def _positive_int(variable: str) -> int | None:
    text = os.environ.get(variable)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"Expected {variable} to be a positive integer, but got {text!r}.")
    return value


class nnUNetTrainerSeglosses(nnUNetTrainer):
    """``nnUNetTrainer`` whose loss is nnU-Net's Dice+CE plus the seglosses terms of a spec.

    The spec is the class attribute ``loss_spec`` (the named subclasses) or, for this class, the environment
    variable ``SEGLOSSES_NNUNET_LOSS`` (default ``"dice_ce"``: then the loss equals the stock trainer's). Subclass
    it to fix a spec, per-term settings (``term_settings``, e.g. ``{"cldice": {"iterations": 5}}``) or which
    terms skip the lower-resolution outputs (``full_resolution_only``).
    """

    loss_spec: str | None = None
    term_settings: dict[str, dict] = {}
    full_resolution_only: frozenset[str] = FULL_RESOLUTION_ONLY
    skeleton_radius: int = 2
    loss: Any  # nnUNetTrainer's attribute: a TopologyLoss once initialized

    def __init__(
        self,
        plans: dict,
        configuration: str,
        fold: int,
        dataset_json: dict,
        device: torch.device = _CUDA,
    ) -> None:
        # The signature is nnUNetTrainer's own: nnU-Net records the init arguments by inspecting it.
        super().__init__(plans, configuration, fold, dataset_json, device)
        spec = self.loss_spec
        if spec is None:
            spec = os.environ.get(LOSS_VARIABLE) or "dice_ce"
        elif os.environ.get(LOSS_VARIABLE):
            self.print_to_log_file(f"{LOSS_VARIABLE} is ignored: {type(self).__name__} trains {spec!r}.")
        self.seglosses_spec = spec
        self._terms = dict((name, weight) for weight, name in parse_spec(spec))
        if "dice" in self._terms and "dice_ce" in self._terms:
            raise ValueError(f"Expected at most one of nnU-Net's base losses 'dice_ce' and 'dice', but got {spec!r}.")
        ndim = len(self.configuration_manager.patch_size)
        if "mip" in self._terms and ndim != 3:
            raise ValueError(f"The MIP loss projects 3D patches, but configuration {configuration!r} is {ndim}D.")
        if "topograph" in self._terms and ndim != 2:
            raise ValueError(f"The Topograph loss is 2D only, but configuration {configuration!r} is {ndim}D.")
        topology = [name for name in self._terms if name not in _BASE_NAMES]
        if topology and self.label_manager.has_ignore_label:
            raise ValueError(
                f"The seglosses terms {topology} have no notion of nnU-Net's ignore label (the topology of partly "
                "annotated labels is undefined); train this dataset with the stock trainer or without the ignore label."
            )
        for variable, attribute in LENGTH_VARIABLES.items():
            value = _positive_int(variable)
            if value is not None:
                setattr(self, attribute, value)
        self.uses_skeleton = "skeleton_recall" in self._terms
        self._term_values: list[dict[str, float]] = []
        self.print_to_log_file(f"seglosses {__version__}: loss {spec!r}")

    # ------------------------------------------------------------------------------------------------------ loss
    def _build_loss(self) -> TopologyLoss:
        stock = super()._build_loss()  # nnU-Net's base loss, compiled and wrapped as it does it
        if isinstance(stock, DeepSupervisionWrapper):
            base, ds_weights = stock.loss, tuple(stock.weight_factors)
        else:
            base, ds_weights = stock, (1.0,)
        base_weight = self._terms.get("dice_ce", self._terms.get("dice", 0.0))
        if "dice" in self._terms:
            base.weight_ce = 0
        terms = "+".join(f"{weight!r}*{name}" for name, weight in self._terms.items() if name not in _BASE_NAMES)
        settings = {name: dict(value) for name, value in self.term_settings.items() if name in self._terms}
        if "mip" in self._terms:
            settings["mip"] = {"axes": (-3, -2, -1), **settings.get("mip", {})}
        return TopologyLoss(
            base if base_weight else None, base_weight, terms or None, regions=self.label_manager.has_regions,
            ds_weights=ds_weights, full_resolution_only=self.full_resolution_only, skeleton=self.uses_skeleton,
            **settings,
        )

    # ------------------------------------------------------------------------------------------------ transforms
    def _with_tubes(self, transforms, regions: bool):
        if not self.uses_skeleton:
            return transforms
        steps = transforms.transforms
        at = next((i for i, step in enumerate(steps) if isinstance(step, DownsampleSegForDSTransform)), len(steps))
        steps.insert(at, SkeletonTubeTransform(radius=self.skeleton_radius, regions=regions))
        return transforms

    def get_training_transforms(self, patch_size, rotation_for_DA, deep_supervision_scales, mirror_axes,
                                do_dummy_2d_data_aug, use_mask_for_norm=None, is_cascaded=False,
                                foreground_labels=None, regions=None, ignore_label=None):
        """nnU-Net's training transforms, with Skeleton Recall's tubes made after the spatial augmentation."""
        transforms = super().get_training_transforms(
            patch_size, rotation_for_DA, deep_supervision_scales, mirror_axes, do_dummy_2d_data_aug,
            use_mask_for_norm=use_mask_for_norm, is_cascaded=is_cascaded, foreground_labels=foreground_labels,
            regions=regions, ignore_label=ignore_label)
        return self._with_tubes(transforms, regions is not None)

    def get_validation_transforms(self, deep_supervision_scales, is_cascaded=False,
                                  foreground_labels=None, regions=None, ignore_label=None):
        """nnU-Net's validation transforms, with the tubes (the validation loss has every term)."""
        transforms = super().get_validation_transforms(
            deep_supervision_scales, is_cascaded=is_cascaded, foreground_labels=foreground_labels, regions=regions,
            ignore_label=ignore_label)
        return self._with_tubes(transforms, regions is not None)

    # ----------------------------------------------------------------------------------------------------- steps
    def train_step(self, batch: dict) -> dict:
        result = super().train_step(batch)
        if isinstance(self.loss, TopologyLoss) and self.loss.last_terms:
            self._term_values.append({name: float(value) for name, value in self.loss.last_terms.items()})
        return result

    def validation_step(self, batch: dict) -> dict:
        """nnU-Net's validation step; with tubes in the targets, the loss sees them and the Dice counts do not."""
        if not self.uses_skeleton:
            return super().validation_step(batch)
        full = batch["target"]
        strip: Callable[[torch.Tensor], torch.Tensor] = lambda t: t[:, : t.shape[1] // 2]
        labels = [strip(t) for t in full] if isinstance(full, list) else strip(full)
        loss: Any = self.loss
        device = self.device

        def with_tubes(output, _labels):
            target = [t.to(device, non_blocking=True) for t in full] if isinstance(full, list) else full.to(device)
            return loss(output, target)

        self.loss = with_tubes
        try:
            return super().validation_step({**batch, "target": labels})
        finally:
            self.loss = loss

    def on_train_epoch_end(self, train_outputs: list[dict]) -> None:
        super().on_train_epoch_end(train_outputs)
        if self._term_values:
            names = self._term_values[0]
            means = {name: float(np.mean([values[name] for values in self._term_values])) for name in names}
            self.print_to_log_file(
                "seglosses terms (full resolution, unweighted): "
                + ", ".join(f"{name} {value:.4f}" for name, value in means.items()))
            self._term_values = []

    # ------------------------------------------------------------------------------------------------ the record
    def on_train_start(self) -> None:
        self._record_spec()
        super().on_train_start()

    def _record_spec(self) -> None:
        """Write the spec beside the model, refusing to train another spec into a folder that holds one."""
        if self.local_rank != 0 or self.output_folder is None:
            return
        path = os.path.join(self.output_folder, _RECORD)
        if os.path.isfile(path):
            with open(path) as file:
                previous = json.load(file).get("loss")
            if previous != self.seglosses_spec:
                raise RuntimeError(
                    f"{self.output_folder} holds a model trained with the loss {previous!r}; this run asks for "
                    f"{self.seglosses_spec!r} and would overwrite it. Move that folder away, or set nnUNet_results "
                    "to another folder for this loss."
                )
        record = {
            "loss": self.seglosses_spec,
            "trainer": type(self).__name__,
            "seglosses": __version__,
            "full_resolution_only": sorted(self.full_resolution_only & set(self._terms)),
            "term_settings": {name: repr(value) for name, value in self.term_settings.items()},
        }
        os.makedirs(self.output_folder, exist_ok=True)
        with open(path + ".tmp", "w") as file:
            json.dump(record, file, indent=2)
        os.replace(path + ".tmp", path)


class nnUNetTrainerSeglossesClDice(nnUNetTrainerSeglosses):
    """nnU-Net's Dice+CE + 1 * clDice (soft skeleton, 10 iterations), on every deep-supervision output."""

    loss_spec = "dice_ce+1*cldice"


class nnUNetTrainerSeglossesSkeletonRecall(nnUNetTrainerSeglosses):
    """nnU-Net's Dice+CE + 1 * Skeleton Recall; the tubes are made in the data loader, after augmentation."""

    loss_spec = "dice_ce+1*skeleton_recall"


class nnUNetTrainerSeglossesBettiMatching(nnUNetTrainerSeglosses):
    """nnU-Net's Dice+CE + 0.01 * Betti matching (construction T), on the full-resolution output."""

    loss_spec = "dice_ce+0.01*betti_matching"


class nnUNetTrainerSeglossesMIP(nnUNetTrainerSeglosses):
    """nnU-Net's Dice+CE + 1 * MIP loss (projections along the three axes); 3D configurations only."""

    loss_spec = "dice_ce+1*mip"


TRAINERS = {
    cls.__name__: cls
    for cls in (nnUNetTrainerSeglosses, nnUNetTrainerSeglossesClDice, nnUNetTrainerSeglossesSkeletonRecall,
                nnUNetTrainerSeglossesBettiMatching, nnUNetTrainerSeglossesMIP)
}
