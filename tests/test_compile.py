"""The losses under ``torch.compile``, the value-check switch, and how often a loss reads tensor values (each read
is a host synchronisation on a GPU and a graph break under compile)."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest
import torch
from test_loss_behaviour import LOSSES, make_inputs, make_loss

import seglosses
import seglosses.losses
from seglosses.transforms import SkeletonTube

PIXEL_LOSSES = ["DiceLoss", "DiceCELoss", "SoftclDiceLoss", "DiceclDiceLoss", "SkeletonRecallLoss", "MIPLoss"]


def tube_of(name: str, labels):
    """Skeleton Recall gets its tube from the data loader in a training loop; the others nothing."""
    if name != "SkeletonRecallLoss":
        return ()
    return (torch.stack([torch.as_tensor(SkeletonTube()(label)) for label in labels]),)


def dims_of(name: str) -> int:
    return 3 if 3 in LOSSES[name].dims and name in ("MIPLoss", "BettiMatchingLoss") else 2


@contextlib.contextmanager
def counted_reads():
    """Counts the calls that read a tensor's values to the host (bool(), item(), tolist(), float(), int(),
    numpy(), cpu()) while the block runs."""
    reads = {"n": 0}
    names = ("__bool__", "item", "tolist", "__float__", "__int__", "numpy", "cpu")
    originals = {n: getattr(torch.Tensor, n) for n in names}

    def counting(original):
        def wrapper(self, *args, **kwargs):
            reads["n"] += 1
            return original(self, *args, **kwargs)

        return wrapper

    for n, original in originals.items():
        setattr(torch.Tensor, n, counting(original))
    try:
        yield reads
    finally:
        for n, original in originals.items():
            setattr(torch.Tensor, n, original)


def test_every_loss_is_in_the_behaviour_registry():
    # CombinedLoss is a sum of these (tests/test_combined.py), not a loss of its own.
    losses = {n for n in seglosses.losses.__all__ if n.endswith("Loss")} - {"CombinedLoss"}
    assert losses == set(LOSSES), "a loss escapes the behaviour registry of tests/test_loss_behaviour.py"


@pytest.mark.parametrize("name", PIXEL_LOSSES)
def test_pixel_losses_read_values_once_per_call_and_never_with_checks_off(name):
    logits, labels = make_inputs(dims_of(name), dtype=torch.float32)
    loss, extra = make_loss(name), tube_of(name, labels)
    loss(logits, labels, *extra)  # warm-up: first-call work (lazy imports, caches) is not counted
    with counted_reads() as reads:
        loss(logits, labels, *extra)
    assert reads["n"] <= 1
    with seglosses.value_checks(False), counted_reads() as reads:
        loss(logits, labels, *extra)
    assert reads["n"] == 0


def test_switch_turns_the_value_checks_off_and_back():
    logits, labels = make_inputs(2)
    logits[0, 0, 0, 0] = float("nan")
    loss = seglosses.DiceLoss(softmax=True, to_onehot_y=True)
    with pytest.raises(ValueError, match="finite"):
        loss(logits, labels)
    with seglosses.value_checks(False):
        assert torch.isnan(loss(logits, labels))  # off: nothing is read, NaN goes through
    with pytest.raises(ValueError, match="finite"):  # restored after the block
        loss(logits, labels)
    seglosses.set_value_checks(False)
    try:
        assert torch.isnan(loss(logits, labels))
    finally:
        seglosses.set_value_checks(True)
    with pytest.raises(TypeError, match="bool"):
        seglosses.set_value_checks("no")
    # Shape checks read no values and stay on.
    with seglosses.value_checks(False), pytest.raises(ValueError, match="shape"):
        loss(logits, labels[:, :, :3])


def test_environment_variable_starts_with_the_checks_off():
    code = "import seglosses._checks as c; print(c.value_checks_enabled())"
    for value, expected in (("0", "False"), ("off", "False"), ("1", "True")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"SEGLOSSES_CHECKS": value, "PATH": ""}, check=True).stdout.strip()
        assert out == expected


def test_a_failed_check_still_names_the_problem_after_the_single_read():
    logits, labels = make_inputs(2, channels=3)
    labels[0, 0, 0, 0] = 7
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        seglosses.DiceLoss(softmax=True, to_onehot_y=True)(logits, labels)
    tube = torch.zeros_like(labels, dtype=torch.float32)
    tube[0, 0, 0, 0] = 0.5
    with pytest.raises(ValueError, match="integer class indices"):
        seglosses.SkeletonRecallLoss(softmax=True, to_onehot_y=True)(logits, labels.clamp(max=2), tube)


def _compiled_equals_eager(name: str, backend: str, fullgraph: bool):
    torch._dynamo.reset()
    logits, labels = make_inputs(dims_of(name), dtype=torch.float32)
    loss, extra = make_loss(name), tube_of(name, labels)
    eager_logits = logits.clone().requires_grad_(True)
    eager = loss(eager_logits, labels, *extra)
    eager.backward()
    compiled_logits = logits.clone().requires_grad_(True)
    compiled = torch.compile(loss, backend=backend, fullgraph=fullgraph)(compiled_logits, labels, *extra)
    compiled.backward()
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compiled_logits.grad, eager_logits.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", PIXEL_LOSSES)
def test_pixel_losses_compile_as_one_graph_with_checks_off(name):
    # Dynamo's graph capture is the same for every backend; aot_eager adds the traced backward without the
    # minutes of C++ compilation that inductor takes on a 2-core machine (see the inductor test below).
    with seglosses.value_checks(False):
        _compiled_equals_eager(name, "aot_eager", fullgraph=True)


@pytest.mark.parametrize("name", NAMES := list(LOSSES))
def test_every_loss_compiles_with_checks_on_and_equals_eager(name):
    _compiled_equals_eager(name, "aot_eager", fullgraph=False)


@pytest.mark.slow
def test_default_backend_inductor_equals_eager():
    with seglosses.value_checks(False):
        _compiled_equals_eager("DiceclDiceLoss", "inductor", fullgraph=True)
    _compiled_equals_eager("BettiMatchingLoss", "inductor", fullgraph=False)
