"""Progress of the command line through tqdm, the ecosystem's convention (MONAI uses it).

On a terminal the bar is redrawn in place with rate and ETA. Into a file (a log, ``2> err``) it is written as
plain lines, at most one every 30 seconds plus the last, instead of a carriage-return frame per step.
``quiet`` shows nothing.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ["progress_bar"]

# Seconds between two lines of progress in a file: a long run leaves a few lines, a short one its last line.
LOG_INTERVAL = 30.0


class _Lines:
    """A file-like object that turns tqdm's carriage-return frames into lines."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total: float, desc: str, *, quiet: bool = False, unit: str = "it") -> tqdm:
    """A tqdm bar on stderr for ``total`` units (use as a context manager; ``update`` as work is done)."""
    interactive = sys.stderr.isatty()
    return tqdm(
        total=total, desc=desc, unit=unit, disable=quiet, leave=True, dynamic_ncols=interactive,
        file=sys.stderr if interactive else _Lines(sys.stderr), mininterval=0.1 if interactive else LOG_INTERVAL,
        ascii=not interactive, ncols=None if interactive else 100,
    )
