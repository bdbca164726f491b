"""Lay out DRIVE (retinal vessels, Staal et al. 2004) for the tests and examples, from its official archive.

    python data_scripts/prepare_drive.py --archive DRIVE.zip --out DATA

DRIVE is distributed after registration (https://drive.grand-challenge.org/), so this script does not download
it: give it the archive (with training/images/*.tif, training/1st_manual/*.gif, training/mask/*.gif, and test/
if present). It writes DATA/drive/training (and test) as ../shared/data/drive, then checks 565x584 images,
labels and masks in {0, 255}, one label and mask per image. Existing data is kept unless --overwrite.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prepare import extract_zip, prepare  # noqa: E402

SPLITS = ("training", "test")


def build(archive: Path, staging: Path, scratch: Path) -> None:
    unpacked = extract_zip(archive, scratch / "unpacked")
    found = [p for p in unpacked.rglob("training") if (p / "images").is_dir()]
    if len(found) != 1:
        raise SystemExit(f"prepare_drive: {archive} has no single training/images folder (found {len(found)})")
    for split in SPLITS:
        source = found[0].parent / split
        if source.is_dir():
            shutil.copytree(source, staging / split)


def verify(staging: Path) -> str:
    from seglosses.io import read_image

    counts = []
    for split in SPLITS:
        images = sorted((staging / split / "images").glob("*.tif"))
        if split == "training" and not images:
            raise SystemExit(f"prepare_drive: no images in {staging / split / 'images'}")
        for path in images:
            number = path.name.split("_")[0]
            image, _, _ = read_image(path, colour=True)
            if image.shape[:2] != (584, 565):
                raise SystemExit(f"prepare_drive: {path.name} is {image.shape}, expected 584x565")
            partners = [staging / split / "mask" / f"{number}_{split}_mask.gif"]
            if split == "training":
                partners.append(staging / split / "1st_manual" / f"{number}_manual1.gif")
            for partner in partners:
                if not partner.is_file():
                    raise SystemExit(f"prepare_drive: missing {partner.relative_to(staging)}")
                values = np.unique(read_image(partner)[0])
                if not np.all(np.isin(values, (0, 255))):
                    raise SystemExit(f"prepare_drive: {partner.name} holds {values[:6]}, expected {{0, 255}}")
        if images:
            counts.append(f"{len(images)} {split} images")
    return ", ".join(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help="the DRIVE zip archive")
    parser.add_argument("--out", required=True, help="data folder; DRIVE goes into OUT/drive")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/drive")
    args = parser.parse_args(argv)
    archive = Path(args.archive)
    if not archive.is_file():
        parser.error(f"no archive at {archive}")
    return prepare(Path(args.out) / "drive", args.overwrite, lambda s, t: build(archive, s, t), verify)


if __name__ == "__main__":
    raise SystemExit(main())
