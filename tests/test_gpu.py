"""Every loss of the behaviour registry on CUDA tensors: the same values and gradients as on the CPU, finite and
close under fp16/bf16 autocast, and no more host synchronisations than the loss documents. Skipped without a CUDA
device (run by benchmarks/gpu_check.sh on a GPU machine)."""

from __future__ import annotations

import warnings

import pytest
import torch
from test_compile import PIXEL_LOSSES, tube_of
from test_loss_behaviour import LOSSES, make_inputs, make_loss

import seglosses

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
NAMES = list(LOSSES)
SPATIAL = {2: (48, 40), 3: (20, 18, 16)}


def dims_for(name: str) -> int:
    return 3 if LOSSES[name].dims == (3,) else 2


def run(name: str, device: str, dtype=torch.float32, autocast=None, **overrides):
    """Value and input gradient of ``name`` on ``device`` (inputs generated on the CPU, then moved)."""
    dims = dims_for(name)
    logits, labels = make_inputs(dims, batch=2, spatial=SPATIAL[dims])
    extra = tube_of(name, labels)
    x = logits.to(device, dtype).requires_grad_(True)
    loss = make_loss(name, **overrides)
    context = torch.autocast("cuda", dtype=autocast) if autocast else torch.autocast("cuda", enabled=False)
    with context:
        value = loss(x, labels.to(device), *(e.to(device) for e in extra))
    value.backward()
    return value.detach().cpu().double(), x.grad.detach().cpu().double()


@pytest.mark.parametrize("name", NAMES)
def test_cuda_equals_cpu(name):
    cpu_value, cpu_grad = run(name, "cpu")
    gpu_value, gpu_grad = run(name, "cuda")
    torch.testing.assert_close(gpu_value, cpu_value, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu_grad, cpu_grad, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("precision", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", NAMES)
def test_autocast_is_finite_and_close_to_float32(name, precision):
    reference, _ = run(name, "cuda")
    value, grad = run(name, "cuda", autocast=precision)
    assert torch.isfinite(value).all() and torch.isfinite(grad).all()
    # Logits come from float32 here (autocast casts inside ops): the losses accumulate in float32.
    torch.testing.assert_close(value, reference, rtol=5e-3, atol=1e-2)


@pytest.mark.parametrize("name", PIXEL_LOSSES)
def test_pixel_losses_do_not_synchronise_with_value_checks_off(name):
    dims = dims_for(name)
    logits, labels = make_inputs(dims, batch=2, spatial=SPATIAL[dims])
    x = logits.cuda().float().requires_grad_(True)
    y = labels.cuda()
    extra = [e.cuda() for e in tube_of(name, labels)]
    loss = make_loss(name)
    loss(x, y, *extra).backward()  # warm-up: first-call allocations and lazy initialisation
    torch.cuda.synchronize()
    with seglosses.value_checks(False), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            loss(x, y, *extra).backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    assert not syncs, f"{name}: {len(syncs)} host synchronisations with value checks off: {syncs[0].message}"
