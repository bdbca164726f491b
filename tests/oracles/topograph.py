"""Loader of the Topograph test oracle: the authors' `TopographLoss` from the `topolosses` 0.2.0 wheel.

`load()` returns the module `topolosses.losses.topograph.src.topograph_loss`, or None and the reason it is
unavailable, so tests can skip with that reason. Its files are fetched into tests/oracles/_bin/topolosses/ by
tests/oracles/fetch_betti_matching.py. The package's own `__init__` files are not used (they import every loss
of topolosses, with OpenCV, torchvision and gudhi): empty parent packages stand in for them. Its compiled helper
(`_topograph`, CPython 3.11 builds only) is used where it loads; otherwise a stub stands in and the oracle must be
called with `use_c=False` (`USE_C` says which; both give identical losses).
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from types import ModuleType

BIN = Path(__file__).resolve().parent / "_bin"
FETCH_HINT = "run `python tests/oracles/fetch_betti_matching.py`"
MODULE = "topolosses.losses.topograph.src.topograph_loss"
USE_C = True


def _package(name: str, path: Path) -> None:
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package


def load() -> tuple[ModuleType | None, str]:
    """Return (module, "") or (None, reason)."""
    global USE_C
    source = BIN / "topolosses" / "losses" / "topograph" / "src" / "topograph_loss.py"
    if not source.is_file():
        return None, f"Topograph oracle absent from {BIN} ({FETCH_HINT})"
    try:
        import networkx  # noqa: F401
    except ImportError:
        return None, "the Topograph oracle needs networkx"
    root = BIN / "topolosses"
    for name, path in (("topolosses", root), ("topolosses.losses", root / "losses"),
                       ("topolosses.losses.topograph", root / "losses" / "topograph"),
                       ("topolosses.losses.topograph.src", root / "losses" / "topograph" / "src")):
        _package(name, path)
    helper = "topolosses.losses.topograph.src._topograph"
    try:
        importlib.import_module(helper)
    except (ImportError, OSError):
        sys.modules[helper] = types.ModuleType(helper)
        USE_C = False
    try:
        return importlib.import_module(MODULE), ""
    except Exception as error:  # noqa: BLE001 - any failure of a peer's module is a reason to skip
        return None, f"Topograph oracle at {source} cannot be loaded: {error!r}"
