"""Loader of the Betti-Matching-3D test oracle (the compiled module from the `topolosses` 0.2.0 wheel).

`load()` returns the module, or None and the reason it is unavailable, so tests can skip with that
reason. The module is fetched into tests/oracles/_bin/ by tests/oracles/fetch_betti_matching.py.
Its API: `compute_matching(a, b)` on float64 arrays in the *sublevel* form (pass 1 - p for a
superlevel filtration of p), V-construction; it does not report the essential H0 class.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

BIN = Path(__file__).resolve().parent / "_bin"
FETCH_HINT = "run `python tests/oracles/fetch_betti_matching.py`"


def load() -> tuple[ModuleType | None, str]:
    """Return (module, "") or (None, reason)."""
    # This interpreter's build: another Python version's module would not load (undefined symbols).
    candidates = sorted(BIN.glob(f"betti_matching{importlib.machinery.EXTENSION_SUFFIXES[0]}"))
    if not candidates:
        return None, f"Betti-Matching-3D oracle absent from {BIN} ({FETCH_HINT})"
    path = candidates[0]
    try:
        spec = importlib.util.spec_from_file_location("betti_matching", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError) as error:  # e.g. another Python version or platform than the wheel's
        return None, f"Betti-Matching-3D oracle at {path} cannot be loaded: {error}"
    return module, ""
