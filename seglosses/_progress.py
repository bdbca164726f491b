"""One-line progress bar on stderr for the command line (no dependency: tqdm is not needed for one bar)."""

from __future__ import annotations

import sys


def progress(label: str, fraction: float, text: str, *, width: int = 24) -> None:
    """Redraw ``label [#####.....] text`` in place; ``fraction`` in [0, 1] (clipped); a newline at 1."""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = int(width * fraction)
    sys.stderr.write(f"\r  {label:<16}[{'#' * filled}{'.' * (width - filled)}] {text[:40]:<40}")
    if fraction >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()
