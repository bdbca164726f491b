"""The docstrings' examples run as written (doctest), on the installed package."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import seglosses

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(seglosses.__path__, prefix="seglosses.")
    if not name.startswith(("seglosses._core", "seglosses.__main__"))
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name.startswith("seglosses.nnunet"):
        pytest.importorskip("nnunetv2", reason="nnunetv2 is not installed (the nnunet extra)")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"
