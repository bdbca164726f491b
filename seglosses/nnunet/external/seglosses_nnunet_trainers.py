"""nnU-Net's external-trainer folder: point ``nnUNet_extTrainer`` here (``seglosses nnunet-path`` prints it) and
``nnUNetv2_train`` / ``nnUNetv2_predict`` find the seglosses trainers by name."""

from seglosses.nnunet.trainers import (  # noqa: F401  (names looked up by nnU-Net)
    nnUNetTrainerSeglosses,
    nnUNetTrainerSeglossesBettiMatching,
    nnUNetTrainerSeglossesClDice,
    nnUNetTrainerSeglossesMIP,
    nnUNetTrainerSeglossesSkeletonRecall,
)
