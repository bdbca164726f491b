"""Train a 3D vessel segmenter on vesselNN (two-photon microscopy, Teikari et al. 2016) with random patches and
any seglosses loss, then segment a held-out volume by sliding windows and write it as NIfTI.

Patches are drawn by MONAI's RandWeightedCropd from seglosses' skeleton sampling weights (centres on vessel
centre lines, junctions and ends); the label's Skeleton Recall tube and its whole-volume maximum intensity
projections (for the MIP loss, as SPOCKMIP takes them) are computed once per volume before cropping and cropped
with the patch. The last volume (sorted by name) is held out; its prediction is written with the input's affine.

    python examples/train_vessels3d.py --quick                                  # CPU, about 2 minutes
    python examples/train_vessels3d.py --loss dice_ce+0.5*mip --mip-axes -3 -2 -1 --device cuda --steps 4000
    python examples/train_vessels3d.py --loss dice_ce+skeleton_recall

The data folder is --data, else $SEGLOSSES_DATA, else ../shared/data beside the repository, holding
vesselnn/images/*.nii.gz and vesselnn/labels/*.nii.gz (array axes x, y, z).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    REPOSITORY,
    add_common_arguments,
    autocast,
    data_root,
    objective_and_output,
    write_results,
)

from seglosses.io import read_image, write_nifti  # noqa: E402
from seglosses.metrics import evaluate_case  # noqa: E402
from seglosses.transforms import MIPTargetd, SkeletonSamplingWeightsd, SkeletonTubed  # noqa: E402


def load_volumes(root: Path, limit: int = 0) -> list[dict]:
    """Every vesselNN case: image scaled to [0, 1] as (1, X, Y, Z) float32, label (1, X, Y, Z) int64, affine."""
    cases = []
    for path in sorted((root / "images").glob("*.nii.gz"))[: limit or None]:
        image, _, affine = read_image(path)
        label, _, _ = read_image(root / "labels" / path.name)
        image = image.astype(np.float32)
        image = (image - image.min()) / max(float(image.max() - image.min()), 1e-6)
        cases.append({"name": path.name, "image": image[None], "label": (label > 0).astype(np.int64)[None],
                      "affine": affine})
    if len(cases) < 2:
        sys.exit(f"train_vessels3d: need at least 2 volumes in {root / 'images'}, found {len(cases)}")
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, dataset="vesselnn", out="vessels3d-results", steps=2000, batch=2)
    parser.set_defaults(loss="dice_ce+0.5*mip")
    parser.add_argument("--mip-axes", type=int, nargs="+", default=[-1], help="projection axes of the MIP loss")
    parser.add_argument("--patch", type=int, nargs=3, default=[96, 96, 8], help="patch size (x y z)")
    parser.add_argument("--features", type=int, default=16, help="first-level channels of the U-Net")
    parser.add_argument("--volumes", type=int, default=0, help="use only the first N volumes (the last is held out)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.batch, args.features = min(args.steps, 120), min(args.batch, 2), min(args.features, 8)
        args.patch = [min(p, q) for p, q in zip(args.patch, (48, 48, 8))]
        args.volumes = args.volumes or 3
    objective, results = objective_and_output(parser, args, mip_axes=tuple(args.mip_axes))
    out = results.parent
    root = data_root(args.data, "vesselnn", "labels", "prepare_vesselnn.py", REPOSITORY)

    from monai.data import CacheDataset, DataLoader
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import UNet
    from monai.transforms import Compose, RandFlipd, RandWeightedCropd

    cases = load_volumes(root, args.volumes)
    train, held_out = cases[:-1], cases[-1]
    print(f"vesselNN: training on {len(train)} volumes, holding out {held_out['name']} {held_out['label'].shape[1:]}")
    mips = MIPTargetd(keys="label", axes=tuple(args.mip_axes), num_classes=2)
    mip_keys = list(mips.mip_keys["label"])
    keys = ["image", "label", "tube", *mip_keys]
    pipeline = Compose([
        SkeletonSamplingWeightsd(keys="label", weight_key="weight"),
        SkeletonTubed(keys="label", skeleton_keys="tube"),
        mips,
        RandWeightedCropd(keys=keys, w_key="weight", spatial_size=tuple(args.patch), num_samples=args.batch),
        RandFlipd(keys=keys, prob=0.5, spatial_axis=0),
        RandFlipd(keys=keys, prob=0.5, spatial_axis=1),
    ])
    pipeline.set_random_state(seed=args.seed)
    data = [{"image": c["image"], "label": c["label"]} for c in train]
    # Tubes and MIPs are deterministic: cache them once per volume; the random crops run every step.
    loader = DataLoader(CacheDataset(data, pipeline, progress=False), batch_size=1, shuffle=True)

    torch.manual_seed(args.seed)
    f = args.features
    # vesselNN volumes are 10-26 slices deep: downsample x and y only, so thin patches along z work.
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(f, 2 * f, 4 * f, 8 * f),
               strides=((2, 2, 1), (2, 2, 1), (2, 2, 1)), num_res_units=1)
    net.to(args.device)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    start, step = time.perf_counter(), 0
    while step < args.steps:
        for batch in loader:
            x, y, tube = (torch.as_tensor(batch[k]).to(args.device) for k in ("image", "label", "tube"))
            extras = {"tube": tube, "mips": [torch.as_tensor(batch[k]).to(args.device) for k in mip_keys]}
            with autocast(args.device, args.amp):
                loss = objective(net(x), y, extras)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            if step % max(1, args.steps // 10) == 0:
                print(f"  step {step}/{args.steps}  loss {loss.item():.4f}  ({time.perf_counter() - start:.0f} s)",
                      flush=True)
            if step >= args.steps:
                break

    net.eval()
    with torch.no_grad():
        image = torch.from_numpy(held_out["image"])[None].to(args.device)
        # Windows smaller than the volume along z are padded by MONAI; the prediction keeps the volume's shape.
        logits = sliding_window_inference(image, roi_size=tuple(args.patch), sw_batch_size=4, predictor=net,
                                          overlap=0.25)
    prediction = logits.argmax(1)[0].cpu().numpy().astype(np.uint8)
    out.mkdir(parents=True, exist_ok=True)
    prediction_path = out / f"prediction_{held_out['name']}"
    write_nifti(prediction_path, prediction, held_out["affine"])
    row = {"case": held_out["name"], **evaluate_case(prediction > 0, held_out["label"][0] > 0, tile_size=64)}
    write_results([row], out / "results.csv", f"held-out volume (loss {args.loss})")
    print(f"prediction written to {prediction_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
