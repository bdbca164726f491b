"""The one switch for the checks that read tensor values.

Every loss checks its input's values before it computes: NaN/Inf in the logits, class indices outside [0, C),
one-hot or soft labels outside [0, 1]. Reading a value is a host synchronisation on a GPU (the check waits for
the tensor) and a graph break under ``torch.compile``. With the checks on, a loss call reads values once (all
flags in one small tensor); off, it reads none, and the pixel losses compile with ``fullgraph=True``. Shape,
dtype and settings checks stay on: they read no values.

Switch them off for a whole run with the environment variable ``SEGLOSSES_CHECKS=0``, in code with
:func:`set_value_checks`, or for a block with :func:`value_checks`::

    import seglosses
    seglosses.set_value_checks(False)          # from here on
    with seglosses.value_checks(False):        # for this block only
        loss = compiled_loss(logits, labels)

Off, bad values are not caught: NaN logits give a NaN loss, out-of-range class indices fail inside
``scatter`` (a device-side assertion on CUDA).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["set_value_checks", "value_checks", "value_checks_enabled"]

_enabled = os.environ.get("SEGLOSSES_CHECKS", "1").strip().lower() not in ("0", "false", "off", "no")


def value_checks_enabled() -> bool:
    """Whether the losses check their inputs' values (default True; ``SEGLOSSES_CHECKS=0`` starts with False)."""
    return _enabled


def set_value_checks(enabled: bool) -> None:
    """Switch the value checks of every loss on or off, from now on, in this process."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"Expected `enabled` to be a bool, but got {type(enabled).__name__}.")
    _enabled = enabled


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """The value checks on or off inside a ``with`` block; the previous setting is restored after it."""
    previous = _enabled
    set_value_checks(enabled)
    try:
        yield
    finally:
        set_value_checks(previous)
