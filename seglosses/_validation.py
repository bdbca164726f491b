"""One checks module: the argument checks of the whole package, with one message form.

Every refusal reads "Expected `name` to be <what>, but got <what was given>.": ``TypeError`` when the kind is
wrong (a string for a number, ``True`` for a count), ``ValueError`` when the value is (negative, NaN, not one
of the choices). Array checks live beside the conversions they guard (:mod:`seglosses._arrays`,
:func:`seglosses.topology._validation.as_image`); the topology engine's limits are here because the losses and
metrics that call the engine check them too, before their own copies.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

__all__ = [
    "CONSTRUCTIONS",
    "DEFAULT_CONSTRUCTION",
    "FILTRATIONS",
    "MAX_MATCHING_PIXELS",
    "MAX_PIXELS",
    "REDUCTIONS",
    "check_activation",
    "check_choice",
    "check_count",
    "check_number",
    "check_optional_count",
    "check_reduction",
    "check_size",
    "check_smoothing",
    "check_threads",
]

REDUCTIONS = ("none", "mean", "sum")
FILTRATIONS = ("superlevel", "sublevel")
CONSTRUCTIONS = ("T", "V")
DEFAULT_CONSTRUCTION = "T"

# The compiled core numbers pixels and ranks with 32-bit integers. A barcode needs fewer than 2**32 - 1 pixels; a
# Betti matching numbers the cells of three images' filtrations together and needs 3 * pixels + 3 < 2**32 - 1.
MAX_PIXELS = 2**32 - 2
MAX_MATCHING_PIXELS = (2**32 - 5) // 3  # 1,431,655,763


def check_choice(name: str, value, choices: tuple) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {choices}, but got {value!r}.")
    return value


def check_number(name: str, value, *, allow_zero: bool = True, maximum: float | None = None) -> float:
    """A finite real number >= 0 (> 0 without ``allow_zero``, at most ``maximum`` when given) as a float.

    ``True``/``False`` are refused: a flag where a number belongs is a mistake, not 1 or 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Expected `{name}` to be a number, but got {type(value).__name__}.")
    value = float(value)
    low = ">= 0" if allow_zero else "> 0"
    bound = f"in [0, {maximum:g}]" if maximum is not None and allow_zero else f"a finite number {low}"
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero) or (
        maximum is not None and value > maximum
    ):
        raise ValueError(f"Expected `{name}` to be {bound}, but got {value}.")
    return value


def check_smoothing(smooth_nr, smooth_dr) -> tuple[float, float]:
    """A ratio loss's smoothing terms ``smooth_nr`` and ``smooth_dr``, each a finite number >= 0."""
    return check_number("smooth_nr", smooth_nr), check_number("smooth_dr", smooth_dr)


def check_count(name: str, value, *, minimum: int = 0) -> int:
    """A whole number >= ``minimum`` as an int; ``True``/``False`` refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"Expected `{name}` to be {what}, but got {value!r}.")
    return int(value)


def check_optional_count(name: str, value, *, minimum: int = 0) -> int | None:
    """None, or a whole number >= ``minimum`` as an int."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"Expected `{name}` to be {what} or None, but got {value!r}.")
    return int(value)


def check_threads(num_threads: int | None) -> int:
    """``num_threads`` as a positive int; None means every core."""
    count = check_optional_count("num_threads", num_threads, minimum=1)
    return (os.cpu_count() or 1) if count is None else count


def check_reduction(reduction: str) -> str:
    """A loss's ``reduction``: one of ``REDUCTIONS``."""
    return check_choice("reduction", reduction, REDUCTIONS)


def check_activation(sigmoid: bool, softmax: bool, other_act: Callable | None) -> None:
    """At most one of ``sigmoid``, ``softmax`` and ``other_act`` may be set; ``other_act`` must be callable."""
    if other_act is not None and not callable(other_act):
        raise TypeError(f"Expected `other_act` to be callable or None, but got {type(other_act).__name__}.")
    chosen = [name for name, on in (("sigmoid", sigmoid), ("softmax", softmax), ("other_act", other_act is not None)) if on]
    if len(chosen) > 1:
        raise ValueError(
            "Expected at most one of `sigmoid`, `softmax` and `other_act` to be set, "
            f"but got {', '.join(f'`{c}`' for c in chosen)}."
        )


def check_size(n_pixels: int, name: str, limit: int = MAX_PIXELS, what: str = "the topology engine") -> None:
    """Refuse an image of more than ``limit`` pixels, before anything is copied or converted."""
    if n_pixels > limit:
        raise ValueError(
            f"Expected `{name}` to have at most {limit:,} pixels ({what} numbers them with 32-bit integers), "
            f"but got {n_pixels:,}."
        )
