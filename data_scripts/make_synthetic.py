"""Write synthetic data with known topology: 2D brick walls (PNG) and 2D/3D vessel trees (PNG/NIfTI).

    python data_scripts/make_synthetic.py --out synthetic --walls 10 --vessels2d 10 --vessels3d 4

Layout: OUT/{walls,vessels2d}/{images,labels}/NNN.png and OUT/vessels3d/{images,labels}/NNN.nii.gz, plus
OUT/topology.csv with each label's Betti numbers (pixels as top cells), read back from the written files to check
them. Existing files are never replaced without --overwrite. Useful as ground truth for `seglosses evaluate`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from seglosses.io import read_image, write_nifti, write_png
from seglosses.synthetic import brick_wall, vessel_tree
from seglosses.topology import betti_numbers


def cases(args):
    """(group, index, image, label, suffix) for every case to write."""
    for i in range(args.walls):
        image, label, _ = brick_wall((args.size, args.size), seed=args.seed + i)
        yield "walls", i, image, label, ".png"
    for i in range(args.vessels2d):
        image, label = vessel_tree((args.size, args.size), seed=args.seed + i)
        yield "vessels2d", i, image, label, ".png"
    for i in range(args.vessels3d):
        image, label = vessel_tree((args.size3d,) * 3, seed=args.seed + i)
        yield "vessels3d", i, image, label, ".nii.gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--walls", type=int, default=10)
    parser.add_argument("--vessels2d", type=int, default=10)
    parser.add_argument("--vessels3d", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="2D image side (default 256)")
    parser.add_argument("--size3d", type=int, default=64, help="3D volume side (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    table = out / "topology.csv"
    if table.exists() and not args.overwrite:
        print(f"make_synthetic: {out} already holds data; pass --overwrite to replace it", file=sys.stderr)
        return 2
    rows = []
    for group, i, image, label, suffix in cases(args):
        for kind, array in (("images", image), ("labels", label)):
            (out / group / kind).mkdir(parents=True, exist_ok=True)
            path = out / group / kind / f"{i:03d}{suffix}"
            if suffix == ".png":
                write_png(path, (np.clip(array, 0, 1) * 255).astype(np.uint8) if kind == "images" else label > 0)
            else:
                write_nifti(path, array.astype(np.float32) if kind == "images" else (label > 0).astype(np.uint8))
        written, _, _ = read_image(out / group / "labels" / f"{i:03d}{suffix}")
        if written.shape != label.shape or not np.array_equal(written > 0, label > 0):
            raise SystemExit(f"make_synthetic: {group}/labels/{i:03d}{suffix} did not read back as written")
        betti = betti_numbers(written > 0)
        rows.append({"group": group, "case": f"{i:03d}", **{f"b{k}": b for k, b in enumerate(betti)}})
    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["group", "case", "b0", "b1", "b2"], restval="")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} cases to {out} (Betti numbers in {table})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
