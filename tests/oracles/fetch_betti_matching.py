"""Fetch the Betti-Matching-3D test oracle (compiled module inside the `topolosses` 0.2.0 wheel).

Only the single self-contained extension module is extracted, into tests/oracles/_bin/; nothing is
installed. Installing topolosses itself would pull torchvision, OpenCV and POT and may replace torch.
Usage: python tests/oracles/fetch_betti_matching.py
"""

from __future__ import annotations

import importlib.machinery
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "topolosses==0.2.0"
MEMBER_PREFIX = "topolosses/losses/betti_matching/src/betti_matching"
DEST = Path(__file__).resolve().parent / "_bin"


def main() -> int:
    # This interpreter's own build only: a checkout reused by another Python version keeps that one's too.
    if sorted(DEST.glob(f"betti_matching{importlib.machinery.EXTENSION_SUFFIXES[0]}")):
        print(f"Betti-Matching-3D oracle already in {DEST}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp, WHEEL]
        subprocess.run(cmd, check=True)
        wheel = next(Path(tmp).glob("topolosses-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            members = [n for n in zf.namelist() if n.startswith(MEMBER_PREFIX) and n.endswith(".so")]
            if not members:
                print(f"no Betti-Matching-3D module in {wheel.name}", file=sys.stderr)
                return 1
            DEST.mkdir(parents=True, exist_ok=True)
            target = DEST / Path(members[0]).name
            target.write_bytes(zf.read(members[0]))
    print(f"Betti-Matching-3D oracle written to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
