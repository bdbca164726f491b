"""Convert the vesselNN TIFF stacks (two-photon mouse brain vessels, Teikari et al. 2016) to NIfTI.

    python data_scripts/prepare_vesselnn.py --images STACKS/images --labels STACKS/labels --out DATA
    python data_scripts/prepare_vesselnn.py --download --out DATA

The dataset's repository (github.com/petteriTeikari/vesselNN_dataset) holds image and label stacks as TIFF;
pass their two folders (labels are paired with images by file name), or --download to fetch the repository
archive and search it for them (folders named like "denoised"/"images" and "labels"; check the printed
pairing). Each stack, read as (z, y, x), is written as DATA/vesselnn/{images,labels}/NAME.nii.gz with array
axes (x, y, z), unit spacing, images as uint8 (rescaled when they are not) and labels as {0, 1}, the layout of
../shared/data/vesselnn. Every pair is checked (same shape, binary label). Existing data is kept unless
--overwrite.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prepare import extract_zip, prepare  # noqa: E402

URL = "https://github.com/petteriTeikari/vesselNN_dataset/archive/refs/heads/master.zip"


def read_stack(path: Path) -> np.ndarray:
    from skimage.io import imread

    try:
        stack = np.asarray(imread(str(path)))
    except Exception as error:  # tifffile raises many types for corrupt files
        raise SystemExit(f"prepare_vesselnn: cannot read {path} ({error})") from None
    if stack.ndim != 3:
        raise SystemExit(f"prepare_vesselnn: {path} is not a 3D stack (shape {stack.shape})")
    return stack


def pairs(images: Path, labels: Path) -> list[tuple[Path, Path]]:
    found = []
    for image in sorted(images.glob("*.tif*")):
        label = next((p for p in labels.glob(f"{image.stem}*.tif*")), None)
        if label is None:
            raise SystemExit(f"prepare_vesselnn: no label stack for {image.name} in {labels}")
        found.append((image, label))
    if not found:
        raise SystemExit(f"prepare_vesselnn: no TIFF stacks in {images}")
    return found


def build(cases: list[tuple[Path, Path]], staging: Path) -> None:
    from seglosses.io import write_nifti

    for kind in ("images", "labels"):
        (staging / kind).mkdir()
    for image_path, label_path in cases:
        image, label = read_stack(image_path), read_stack(label_path)
        if image.shape != label.shape:
            raise SystemExit(f"prepare_vesselnn: {image_path.name} {image.shape} and its label {label.shape} differ")
        if image.dtype != np.uint8:
            low, high = float(image.min()), float(image.max())
            image = np.round((image - low) / max(high - low, 1e-12) * 255).astype(np.uint8)
        name = image_path.name.split(".")[0] + ".nii.gz"
        write_nifti(staging / "images" / name, image.transpose(2, 1, 0))
        write_nifti(staging / "labels" / name, (label > 0).astype(np.uint8).transpose(2, 1, 0))


def verify(staging: Path) -> str:
    from seglosses.io import read_image

    names = sorted(p.name for p in (staging / "images").glob("*.nii.gz"))
    for name in names:
        image, _, _ = read_image(staging / "images" / name)
        label, _, _ = read_image(staging / "labels" / name)
        if image.shape != label.shape or not np.all(np.isin(np.unique(label), (0, 1))):
            raise SystemExit(f"prepare_vesselnn: {name} did not read back as a volume with a {{0, 1}} label")
    return f"{len(names)} volumes"


def find_folders(root: Path) -> tuple[Path, Path]:
    """The image and label stack folders of the unpacked repository."""
    folders = [p for p in root.rglob("*") if p.is_dir() and any(p.glob("*.tif*"))]
    labels = [p for p in folders if "label" in p.name.lower()]
    images = [p for p in folders if p.name.lower() in ("denoised", "images", "raw")]
    if len(labels) != 1 or not images:
        raise SystemExit(f"prepare_vesselnn: could not find one label folder and an image folder in {root}; "
                         "pass --images and --labels")
    return images[0], labels[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", help="folder of image TIFF stacks")
    parser.add_argument("--labels", help="folder of label TIFF stacks (paired by name)")
    parser.add_argument("--download", action="store_true", help="fetch the dataset repository instead")
    parser.add_argument("--out", required=True, help="data folder; vesselNN goes into OUT/vesselnn")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/vesselnn")
    args = parser.parse_args(argv)
    if not args.download and not (args.images and args.labels):
        parser.error("give --images and --labels, or --download")

    def build_from_source(staging: Path, scratch: Path) -> None:
        if args.download:
            archive = scratch / "vesselnn.zip"
            print(f"downloading {URL}")
            urllib.request.urlretrieve(URL, archive)
            images, labels = find_folders(extract_zip(archive, scratch / "unpacked"))
        else:
            images, labels = Path(args.images), Path(args.labels)
        cases = pairs(images, labels)
        for image, label in cases:
            print(f"  {image.name} <- label {label.name}")
        build(cases, staging)

    return prepare(Path(args.out) / "vesselnn", args.overwrite, build_from_source, verify)


if __name__ == "__main__":
    raise SystemExit(main())
