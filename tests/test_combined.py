"""CombinedLoss: weighted sums of the registry's losses from a spec string, as the demo and the examples use them."""

from __future__ import annotations

import pytest
import torch

from seglosses.losses import (
    LOSS_NAMES,
    BettiMatchingLoss,
    CombinedLoss,
    DiceCELoss,
    DiceclDiceLoss,
    MIPLoss,
    SkeletonRecallLoss,
    SoftclDiceLoss,
    parse_spec,
)
from seglosses.transforms import SkeletonTube


def inputs(spatial=(24, 24)):
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand((2, 1, *spatial), generator=generator) > 0.6).long()
    logits = 2 * torch.cat([1 - labels, labels], 1).float() + torch.randn((2, 2, *spatial), generator=generator)
    return logits, labels


def test_spec_parsing_and_its_errors():
    assert parse_spec("dice_ce+0.5*cldice") == [(1.0, "dice_ce"), (0.5, "cldice")]
    assert parse_spec(" dice_ce + 1e-2*betti_matching ") == [(1.0, "dice_ce"), (0.01, "betti_matching")]
    for bad, message in (("", "spec"), ("dice_ce+clDice", "names"), ("x*cldice", "number"),
                         ("-1*cldice", ">= 0"), ("inf*dice", "finite"), ("dice+dice", "once")):
        with pytest.raises(ValueError, match=message):
            parse_spec(bad)
    assert set(LOSS_NAMES) == {"dice", "dice_ce", "cldice", "dice_cldice", "cbdice", "skeleton_recall", "betti_matching", "hutopo", "topograph", "warping", "mip"}


def test_the_sum_equals_its_terms_with_the_registry_defaults():
    logits, labels = inputs()
    loss = CombinedLoss("dice_ce+0.5*cldice+0.01*betti_matching")
    expected = (
        DiceCELoss(to_onehot_y=True, softmax=True)(logits, labels)
        + 0.5 * SoftclDiceLoss(to_onehot_y=True, softmax=True, iterations=10)(logits, labels)
        + 0.01 * BettiMatchingLoss(to_onehot_y=True, softmax=True, include_background=False)(logits, labels)
    )
    assert torch.equal(loss(logits, labels), expected)
    terms = loss.terms(logits, labels)
    assert list(terms) == ["dice_ce", "cldice", "betti_matching"]
    assert "spec='dice_ce+0.5*cldice+0.01*betti_matching'" in repr(loss)


def test_settings_override_the_defaults_and_extras_reach_their_terms():
    logits, labels = inputs()
    loss = CombinedLoss("dice_cldice+skeleton_recall", dice_cldice={"iterations": 5, "alpha": 0.3})
    assert loss.losses["dice_cldice"].settings["iterations"] == 5
    tube = torch.stack([torch.as_tensor(SkeletonTube()(label)) for label in labels])
    expected = DiceclDiceLoss(to_onehot_y=True, softmax=True, iterations=5, alpha=0.3)(logits, labels) + \
        SkeletonRecallLoss(to_onehot_y=True, softmax=True, include_background=False)(logits, labels, tube)
    assert torch.equal(loss(logits, labels, skeleton=tube), expected)
    volume_logits, volume_labels = inputs((12, 10, 8))
    mip = CombinedLoss("mip", mip={"axes": (-3, -1)})
    reference = MIPLoss(axes=(-3, -1), to_onehot_y=True, softmax=True, include_background=False)
    assert torch.equal(mip(volume_logits, volume_labels), reference(volume_logits, volume_labels))
    with pytest.raises(ValueError, match="only for the losses"):
        CombinedLoss("dice_ce", cldice={"iterations": 5})
    with pytest.raises(TypeError, match="dict"):
        CombinedLoss("cldice", cldice=5)


def test_gradients_flow_and_one_channel_sigmoid_works():
    logits, labels = inputs()
    logits.requires_grad_(True)
    CombinedLoss("dice_ce+0.5*cldice")(logits, labels).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    one = CombinedLoss("dice+cldice", sigmoid=True, softmax=False, to_onehot_y=False)
    assert torch.isfinite(one(logits[:, 1:], labels.float()))
