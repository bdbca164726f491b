"""MONAI's own test cases for ``DiceLoss`` and ``DiceCELoss``, run against ours: the drop-in promise, checked.

MONAI's ``tests/losses/test_dice_loss.py`` and ``test_dice_ce_loss.py`` are read at test time from a MONAI source
checkout (``SEGLOSSES_MONAI_TESTS``: its ``tests`` folder, or the checkout holding it); nothing of them is copied
here. MONAI's source distributions on PyPI ship no tests, so without a checkout these tests skip with that reason.

Only the import changes (``from monai.losses import DiceLoss`` -> ours); the documented, deliberate differences
(README, "Switching from MONAI") are applied, each in one place here:

- ill shapes raise our ``ValueError`` where MONAI raises ``AssertionError``: both are accepted there;
- ``reduction="none"`` gives (B, C), MONAI (B, C, 1, ...): the README's one-line conversion is applied;
- TorchScript (``test_script``): ours is not scriptable (input checks in Python); skipped.
"""

from __future__ import annotations

import os
import sys
import types
import unittest
from pathlib import Path

import pytest
import torch

import seglosses.losses

MONAI_FILES = ("losses/test_dice_loss.py", "losses/test_dice_ce_loss.py")
IMPORTS = {
    "from monai.losses import DiceLoss": "DiceLoss",
    "from monai.losses import DiceCELoss": "DiceCELoss",
}


def _tests_folder() -> Path | None:
    root = os.environ.get("SEGLOSSES_MONAI_TESTS")
    if not root:
        return None
    for folder in (Path(root), Path(root) / "tests"):
        if all((folder / name).is_file() for name in MONAI_FILES):
            return folder
    return None


def monai_shape(values: torch.Tensor, input: torch.Tensor, batch: bool) -> torch.Tensor:
    """Our ``reduction="none"`` values, (B, C) or (1, C) with ``batch``, in MONAI's shape (B, C, 1, ...) or
    (C, 1, ...): the one-line conversion of the README."""
    ones = [1] * (input.dim() - 2)
    return values[0].reshape(-1, *ones) if batch else values.reshape(*values.shape, *ones)


def _monai_shaped(loss_class: type) -> type:
    class MonaiShaped(loss_class):
        def forward(self, input, target):
            values = super().forward(input, target)
            if self.settings["reduction"] != "none":
                return values
            return monai_shape(values, input, self.settings["batch"])

    MonaiShaped.__name__ = loss_class.__name__
    return MonaiShaped


class _Parameterized(types.ModuleType):
    """What MONAI's tests use of the ``parameterized`` package: ``parameterized.expand(cases)``."""

    class parameterized:  # noqa: N801 - the name MONAI imports
        @staticmethod
        def expand(cases):
            def mark(function):
                function.cases = list(cases)
                return function

            return mark


def _test_utils() -> types.ModuleType:
    module = types.ModuleType("tests.test_utils")

    def test_script_save(*args, **kwargs):
        raise unittest.SkipTest("TorchScript: our losses check their input in Python and are not scriptable")

    module.test_script_save = test_script_save
    return module


def _load(path: Path) -> types.ModuleType:
    source = path.read_text()
    namespace = types.ModuleType(f"monai_suite_{path.stem}")
    for line, name in IMPORTS.items():
        if line in source:
            source = source.replace(line, f"{name} = _ours_{name}")
            setattr(namespace, f"_ours_{name}", _monai_shaped(getattr(seglosses.losses, name)))
    saved = {name: sys.modules.get(name) for name in ("parameterized", "tests.test_utils")}
    sys.modules["parameterized"] = _Parameterized("parameterized")
    sys.modules["tests.test_utils"] = _test_utils()
    try:
        exec(compile(source, str(path), "exec"), namespace.__dict__)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return namespace


def _cases():
    folder = _tests_folder()
    if folder is None:
        reason = (
            "MONAI's test files are not on PyPI (its source distributions ship no tests): set SEGLOSSES_MONAI_TESTS "
            "to a MONAI checkout to run them"
        )
        return [pytest.param(None, None, None, None, marks=pytest.mark.skip(reason=reason), id="monai-tests-absent")]
    params = []
    for name in MONAI_FILES:
        module = _load(folder / name)
        for cls in vars(module).values():
            if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)):
                continue
            for method in sorted(m for m in vars(cls) if m.startswith("test")):
                cases = getattr(getattr(cls, method), "cases", [None])
                for index, case in enumerate(cases):
                    params.append(pytest.param(cls, method, index, case, id=f"{Path(name).stem}::{method}[{index}]"))
    return params


def _widen(expected):
    """Our ``ValueError`` is accepted where MONAI expects ``AssertionError`` (ill shapes)."""
    return (AssertionError, ValueError) if expected is AssertionError else expected


@pytest.mark.parametrize(("cls", "method", "index", "case"), _cases())
def test_monai_case_passes_with_our_loss(cls, method, index, case):
    test = cls(method)
    raises, raises_regex = test.assertRaises, test.assertRaisesRegex
    test.assertRaises = lambda expected, *a, **k: raises(_widen(expected), *a, **k)
    test.assertRaisesRegex = lambda expected, *a, **k: raises_regex(_widen(expected), *a, **k)
    function = getattr(cls, method)
    try:
        if case is None:
            function(test)
        else:
            function(test, *case)
    except unittest.SkipTest as skip:
        pytest.skip(str(skip))
