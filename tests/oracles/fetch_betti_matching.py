"""Fetch the test oracles inside the `topolosses` 0.2.0 wheel: Betti-Matching-3D (its compiled module) and
Topograph (the authors' `topograph_loss.py`, `losses/utils.py` and their compiled helper).

Only those files are extracted, into tests/oracles/_bin/ (the Topograph files under their package path,
tests/oracles/_bin/topolosses/...); nothing is installed. Installing topolosses itself would pull torchvision,
OpenCV and POT and may replace torch.
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
TOPOGRAPH_MEMBERS = ("topolosses/losses/utils.py", "topolosses/losses/topograph/src/topograph_loss.py",
                     "topolosses/losses/topograph/src/_topograph")
DEST = Path(__file__).resolve().parent / "_bin"


def main() -> int:
    # This interpreter's own build only: a checkout reused by another Python version keeps that one's too.
    topograph = DEST / TOPOGRAPH_MEMBERS[1]
    if sorted(DEST.glob(f"betti_matching{importlib.machinery.EXTENSION_SUFFIXES[0]}")) and topograph.is_file():
        print(f"Betti-Matching-3D and Topograph oracles already in {DEST}")
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
            for name in zf.namelist():
                if name.startswith(TOPOGRAPH_MEMBERS):
                    (DEST / name).parent.mkdir(parents=True, exist_ok=True)
                    (DEST / name).write_bytes(zf.read(name))
    print(f"Betti-Matching-3D oracle written to {target}, Topograph's under {DEST / 'topolosses'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
