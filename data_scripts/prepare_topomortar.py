"""Download and lay out TopoMortar (Valverde et al., BMVC 2025) for the tests and examples.

    python data_scripts/prepare_topomortar.py --out DATA              # downloads the repository archive
    python data_scripts/prepare_topomortar.py --out DATA --archive TopoMortar-main.zip   # an archive you have

Writes DATA/topomortar/{train,val,test}/{images,accurate,noisy,pseudo}/NNN.png plus splits.yaml,
splits_small.yaml, dataset_types.txt and LICENSE, the layout of ../shared/data/topomortar, then checks what it
wrote: image counts per split, 512x512 sizes, labels with values {0, 255}. An existing DATA/topomortar is never
touched without --overwrite. The dataset is MIT-licensed; cite Valverde et al. 2025.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prepare import prepare  # noqa: E402

URL = "https://github.com/jmlipman/TopoMortar/archive/refs/heads/main.zip"
KINDS = ("images", "accurate", "noisy", "pseudo")
METADATA = ("splits.yaml", "splits_small.yaml", "dataset_types.txt", "LICENSE")


def download(url: str, path: Path) -> None:
    """Fetch ``url`` into ``path`` (the only function that needs the network)."""
    print(f"downloading {url}")
    with urllib.request.urlopen(url, timeout=60) as response, open(path, "wb") as handle:
        shutil.copyfileobj(response, handle)


def extract(archive: Path, target: Path) -> None:
    """Copy the dataset/ folder and metadata of a TopoMortar repository archive into ``target``."""
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise SystemExit(f"prepare_topomortar: {archive} is not a readable zip archive ({error})") from None
    with bundle:
        names = bundle.namelist()
        roots = {name.split("/")[0] for name in names}
        if len(roots) != 1 or not any("/dataset/" in name for name in names):
            raise SystemExit(f"prepare_topomortar: {archive} does not look like the TopoMortar repository archive")
        root = roots.pop() + "/"
        for name in names:
            relative = name[len(root):]
            keep = relative.startswith("dataset/") or relative in METADATA
            if not keep or name.endswith("/"):
                continue
            relative = relative[len("dataset/"):] if relative.startswith("dataset/") else relative
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(name) as source, open(destination, "wb") as handle:
                shutil.copyfileobj(source, handle)


def verify(target: Path) -> dict[str, int]:
    """Counts of images per split; raises SystemExit naming the first problem found."""
    from skimage.io import imread

    counts = {}
    for split in ("train", "val", "test"):
        images = sorted((target / split / "images").glob("*.png"))
        if split != "test" and not images:
            raise SystemExit(f"prepare_topomortar: no images in {target / split / 'images'}")
        counts[split] = len(images)
        for image_path in images:
            image = imread(image_path)
            if image.shape[:2] != (512, 512):
                raise SystemExit(f"prepare_topomortar: {image_path} is {image.shape}, expected 512x512")
            label_path = target / split / "accurate" / image_path.name
            if not label_path.is_file():
                raise SystemExit(f"prepare_topomortar: missing label {label_path}")
            values = np.unique(imread(label_path))
            if not np.all(np.isin(values, (0, 255))):
                raise SystemExit(f"prepare_topomortar: {label_path} holds values {values[:6]}, expected {{0, 255}}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="data folder; TopoMortar goes into OUT/topomortar")
    parser.add_argument("--archive", help="a downloaded TopoMortar repository zip (default: download it)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/topomortar")
    args = parser.parse_args(argv)

    def build(staging: Path, scratch: Path) -> None:
        archive = Path(args.archive) if args.archive else scratch / "topomortar.zip"
        if not args.archive:
            download(URL, archive)
        extract(archive, staging)

    def check(staging: Path) -> str:
        return ", ".join(f"{n} {split} images" for split, n in verify(staging).items())

    # The existing folder is replaced only by a complete, checked copy (never removed before).
    return prepare(Path(args.out) / "topomortar", args.overwrite, build, check)


if __name__ == "__main__":
    raise SystemExit(main())
