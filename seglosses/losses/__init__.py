"""Segmentation losses. Every loss takes ``(input, target)`` = ((B, C, *spatial) logits, labels).

Each family lives in its own module: a pure function plus a thin ``nn.Module``.
"""

from seglosses.losses.betti_matching import BettiMatchingLoss, betti_matching_loss
from seglosses.losses.cbdice import cbdice_loss, cbDiceLoss
from seglosses.losses.cldice import DiceclDiceLoss, SoftclDiceLoss, dice_cldice_loss, soft_cldice_loss, soft_skeleton
from seglosses.losses.combined import LOSS_NAMES, CombinedLoss, parse_spec
from seglosses.losses.dice import DiceCELoss, DiceLoss, dice_ce_loss, dice_loss
from seglosses.losses.hutopo import HuTopoLoss, hutopo_loss
from seglosses.losses.mip import MIPLoss, mip_loss
from seglosses.losses.skeleton_recall import SkeletonRecallLoss, skeleton_recall_loss
from seglosses.losses.topograph import TopographLoss, topograph_loss
from seglosses.losses.warping import WarpingLoss, warping_loss

__all__: list[str] = [
    "BettiMatchingLoss",
    "betti_matching_loss",
    "cbDiceLoss",
    "cbdice_loss",
    "CombinedLoss",
    "LOSS_NAMES",
    "parse_spec",
    "DiceCELoss",
    "DiceLoss",
    "DiceclDiceLoss",
    "HuTopoLoss",
    "MIPLoss",
    "SkeletonRecallLoss",
    "SoftclDiceLoss",
    "TopographLoss",
    "WarpingLoss",
    "dice_ce_loss",
    "dice_cldice_loss",
    "dice_loss",
    "hutopo_loss",
    "mip_loss",
    "skeleton_recall_loss",
    "soft_cldice_loss",
    "soft_skeleton",
    "topograph_loss",
    "warping_loss",
]
