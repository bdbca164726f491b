"""nnU-Net v2 trainers for the seglosses losses (``pip install "seglosses[nnunet]"``, nnunetv2 2.8).

- :mod:`seglosses.nnunet.trainers`: ``nnUNetTrainerSeglosses`` and its named subclasses, for the stock
  ``nnUNetv2_train -tr NAME`` once ``nnUNet_extTrainer`` points at :func:`trainer_dir`
  (``export nnUNet_extTrainer=$(seglosses nnunet-path)``), or through ``seglosses nnunet-train``.
- :class:`TopologyLoss`: their loss, nnU-Net's Dice+CE plus seglosses terms over deep supervision.
- :class:`SkeletonTubeTransform`: Skeleton Recall's tubes in nnU-Net's data loader.
"""

from __future__ import annotations

try:
    import nnunetv2  # noqa: F401
except ImportError as error:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "seglosses.nnunet needs nnU-Net v2: pip install \"seglosses[nnunet]\" (nnunetv2 2.8)."
    ) from error

from seglosses._nnunet_cli import trainer_dir as _trainer_dir
from seglosses.nnunet.loss import FULL_RESOLUTION_ONLY, TopologyLoss
from seglosses.nnunet.trainers import (
    TRAINERS,
    nnUNetTrainerSeglosses,
    nnUNetTrainerSeglossesBettiMatching,
    nnUNetTrainerSeglossesClDice,
    nnUNetTrainerSeglossesMIP,
    nnUNetTrainerSeglossesSkeletonRecall,
)
from seglosses.nnunet.transforms import SkeletonTubeTransform

__all__ = [
    "FULL_RESOLUTION_ONLY",
    "TRAINERS",
    "SkeletonTubeTransform",
    "TopologyLoss",
    "nnUNetTrainerSeglosses",
    "nnUNetTrainerSeglossesBettiMatching",
    "nnUNetTrainerSeglossesClDice",
    "nnUNetTrainerSeglossesMIP",
    "nnUNetTrainerSeglossesSkeletonRecall",
    "trainer_dir",
]


def trainer_dir() -> str:
    """The folder to give nnU-Net as ``nnUNet_extTrainer``: one module that names the seglosses trainers."""
    return _trainer_dir()
