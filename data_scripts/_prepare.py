"""What every data script does the same way: never replace existing data silently, build in a scratch folder,
verify, and only then move the checked copy into place."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def prepare(target: Path, overwrite: bool, build: Callable[[Path, Path], None], verify: Callable[[Path], str]) -> int:
    """``build(staging, scratch)`` writes the dataset into ``staging``; ``verify(staging)`` checks it and returns a
    summary (or raises SystemExit naming the problem); then ``staging`` replaces ``target``. Exit code 2 when
    ``target`` exists and ``overwrite`` is False (nothing is touched)."""
    name = Path(sys.argv[0]).name
    if target.exists() and not overwrite:
        print(f"{name}: {target} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        staging = Path(scratch) / target.name
        staging.mkdir()
        build(staging, Path(scratch))
        summary = verify(staging)  # only a complete, checked copy reaches the data folder
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
    print(f"wrote {target}: {summary}")
    return 0


def extract_zip(archive: Path, destination: Path) -> Path:
    """Unpack ``archive`` into ``destination``; SystemExit with the reason for a missing or broken file."""
    import zipfile

    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(destination)
    except (zipfile.BadZipFile, OSError) as error:
        raise SystemExit(f"{archive} is not a readable zip archive ({error})") from None
    return destination
