"""Resident memory of this process, for the benchmarks that measure peak extra memory in fresh processes (Linux)."""

from __future__ import annotations

from pathlib import Path


def status_kib(field: str) -> int:
    """A KiB figure of /proc/self/status, e.g. ``VmRSS`` (resident now) or ``VmHWM`` (its high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def reset_peak() -> None:
    """Set the high-water mark VmHWM to the current resident size (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")
