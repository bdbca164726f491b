"""A small synthetic nnU-Net v2 raw dataset of vessel trees, to try the seglosses trainers end to end.

    python examples/nnunet_synthetic.py --raw "$nnUNet_raw" --id 901 --dim 2
    python examples/nnunet_synthetic.py --raw "$nnUNet_raw" --id 902 --dim 3 --classes 2 --regions

writes ``Dataset<ID>_SyntheticVessels<dim>D/`` with ``imagesTr``, ``labelsTr``, ``imagesTs``, ``labelsTs`` (the
test labels, for ``seglosses evaluate``) and ``dataset.json``: 2D cases as PNG (nnU-Net's natural-image reader),
3D cases as NIfTI. Images are :func:`seglosses.synthetic.vessel_tree` images (noise, contrast 0.4); with
``--classes 2`` a vessel's core (pixels more than one pixel from the background) is class 2 and its rim class 1,
and ``--regions`` declares nnU-Net regions instead (``vessel`` = classes 1 and 2, ``core`` = class 2), for
region-based training with sigmoid outputs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from seglosses.io import write_nifti, write_png
from seglosses.synthetic import vessel_tree


def case(shape: tuple[int, ...], seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(image in [0, 1], label)`` of one case."""
    image, label = vessel_tree(shape, n_branches=6 if len(shape) == 2 else 5, max_radius=3.0, seed=seed)
    label = label.astype(np.uint8)
    if classes == 2:
        core = ndi.distance_transform_cdt(label, metric="taxicab") > 1
        label[core] = 2
    low, high = np.percentile(image, (0.5, 99.5))
    return np.clip((image - low) / max(high - low, 1e-6), 0, 1).astype(np.float32), label


def write_dataset(
    raw: str | Path,
    dataset_id: int,
    *,
    dim: int = 2,
    size: int | None = None,
    cases: int = 5,
    test_cases: int = 2,
    classes: int = 1,
    regions: bool = False,
    seed: int = 0,
) -> Path:
    """Write the dataset under ``raw`` and return its folder. Refuses to write into an existing dataset folder."""
    if dim not in (2, 3):
        raise ValueError(f"Expected dim 2 or 3, but got {dim}.")
    if classes not in (1, 2):
        raise ValueError(f"Expected 1 or 2 foreground classes, but got {classes}.")
    if regions and classes != 2:
        raise ValueError("Regions need --classes 2 (vessel = classes 1 and 2, core = class 2).")
    size = size or (64 if dim == 2 else 32)
    folder = Path(raw) / f"Dataset{dataset_id:03d}_SyntheticVessels{dim}D"
    if folder.exists():
        raise FileExistsError(f"{folder} exists; remove it or choose another --id.")
    suffix = ".png" if dim == 2 else ".nii.gz"
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        (folder / sub).mkdir(parents=True)
    for index in range(cases + test_cases):
        split = "Tr" if index < cases else "Ts"
        name = f"vessels_{index:03d}"
        image, label = case((size,) * dim, seed + index, classes)
        if dim == 2:
            write_png(folder / f"images{split}" / f"{name}_0000{suffix}", np.round(image * 255).astype(np.uint8))
            write_png(folder / f"labels{split}" / f"{name}{suffix}", label)
        else:
            write_nifti(folder / f"images{split}" / f"{name}_0000{suffix}", image)
            write_nifti(folder / f"labels{split}" / f"{name}{suffix}", label)
    if regions:
        labels: dict[str, int | list[int]] = {"background": 0, "vessel": [1, 2], "core": 2}
    elif classes == 2:
        labels = {"background": 0, "rim": 1, "core": 2}
    else:
        labels = {"background": 0, "vessel": 1}
    description = {
        "channel_names": {"0": "vessel image" if dim == 2 else "MRA"},
        "labels": labels,
        "numTraining": cases,
        "file_ending": suffix,
        "name": folder.name,
        "description": "Synthetic vessel trees (seglosses.synthetic.vessel_tree), examples/nnunet_synthetic.py",
    }
    if regions:
        description["regions_class_order"] = [1, 2]
    (folder / "dataset.json").write_text(json.dumps(description, indent=2))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", required=True, help="nnU-Net's raw folder (nnUNet_raw)")
    parser.add_argument("--id", type=int, default=901, help="dataset id (default 901)")
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2)
    parser.add_argument("--size", type=int, help="side of a case (default 64 in 2D, 32 in 3D)")
    parser.add_argument("--cases", type=int, default=5, help="training cases (default 5: nnU-Net's 5 folds)")
    parser.add_argument("--test-cases", type=int, default=2)
    parser.add_argument("--classes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--regions", action="store_true", help="declare nnU-Net regions (needs --classes 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = write_dataset(args.raw, args.id, dim=args.dim, size=args.size, cases=args.cases,
                           test_cases=args.test_cases, classes=args.classes, regions=args.regions, seed=args.seed)
    print(folder)


if __name__ == "__main__":
    main()
