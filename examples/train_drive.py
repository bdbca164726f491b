"""Train a 2D retinal-vessel segmenter on DRIVE (Staal et al. 2004) with any seglosses loss; the field-of-view
mask is respected by the loss and the metrics, and validation images are segmented by sliding windows.

DRIVE's 20 training images (21-40, 565x584 RGB) are split here: the last 4 by number are held out for
validation. Outside the field of view (the dark rim around the retina) the logits are replaced by a confident
background and the label by background before the loss, so those pixels neither cost nor receive gradient;
the metrics see prediction and label inside the field of view only.

    python examples/train_drive.py --quick                                   # CPU, about 2 minutes
    python examples/train_drive.py --loss dice_ce+0.5*cldice --device cuda --steps 4000
    torchrun --nproc_per_node 2 examples/train_drive.py --device cuda        # DDP

The data folder is --data, else $SEGLOSSES_DATA, else ../shared/data beside the repository, holding
drive/training/{images/NN_training.tif, 1st_manual/NN_manual1.gif, mask/NN_training_mask.gif}.
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
    Distributed,
    add_common_arguments,
    autocast,
    data_root,
    objective_and_output,
    write_results,
)

from seglosses.io import read_image  # noqa: E402
from seglosses.metrics import METRIC_NAMES, evaluate_case  # noqa: E402
from seglosses.transforms import SkeletonTube  # noqa: E402

CONFIDENT = 20.0  # logits this large make softmax probabilities 0/1 up to e^-40


def load_case(root: Path, number: str) -> dict:
    """(3, H, W) float32 image in [0, 1], (H, W) bool vessels, (H, W) bool field of view."""
    image, _, _ = read_image(root / "images" / f"{number}_training.tif", colour=True)
    label, _, _ = read_image(root / "1st_manual" / f"{number}_manual1.gif")
    fov, _, _ = read_image(root / "mask" / f"{number}_training_mask.gif")
    return {"name": number, "image": np.ascontiguousarray(image[..., :3].transpose(2, 0, 1), np.float32) / 255.0,
            "label": label > 0, "fov": fov > 0}


def mask_outside(logits: torch.Tensor, labels: torch.Tensor, fov: torch.Tensor):
    """Confident background outside the field of view, in the logits (B, 2, H, W) and the labels (B, 1, H, W)."""
    background = torch.tensor([CONFIDENT, -CONFIDENT], dtype=logits.dtype, device=logits.device).view(1, 2, 1, 1)
    return torch.where(fov, logits, background), torch.where(fov, labels, torch.zeros_like(labels))


def random_patches(cases: list[dict], tubes: list[np.ndarray], size: int, batch: int, rng: np.random.Generator):
    images, labels, fovs, patch_tubes = [], [], [], []
    for _ in range(batch):
        case, tube = (lambda i: (cases[i], tubes[i]))(rng.integers(len(cases)))
        h, w = case["label"].shape
        r, c = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        window = (slice(r, r + size), slice(c, c + size))
        flip = rng.random() < 0.5
        take = (lambda a, flip=flip: np.flip(a, -1).copy() if flip else a.copy())
        images.append(take(case["image"][(slice(None), *window)]))
        labels.append(take(case["label"][window])), fovs.append(take(case["fov"][window]))
        patch_tubes.append(take(tube[window]))
    stack = lambda arrays: torch.from_numpy(np.stack(arrays))  # noqa: E731
    return stack(images), stack(labels).long()[:, None], stack(fovs)[:, None], stack(patch_tubes).long()[:, None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, dataset="drive", out="drive-results", steps=3000, batch=8)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--features", type=int, default=32, help="first-level features of the BasicUNet")
    parser.add_argument("--val-cases", type=int, default=4, help="held-out images (the last ones by number)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.batch = min(args.steps, 400), min(args.batch, 4)
        args.patch, args.features = min(args.patch, 96), min(args.features, 8)
        args.val_cases = min(args.val_cases, 2)
    objective, out = objective_and_output(parser, args)
    root = data_root(args.data, "drive", "training/1st_manual", "prepare_drive.py", REPOSITORY) / "training"
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import BasicUNet

    numbers = sorted(path.name.split("_")[0] for path in (root / "1st_manual").glob("*_manual1.gif"))
    if len(numbers) <= args.val_cases:
        parser.error(f"--val-cases {args.val_cases} leaves no training image among {len(numbers)}")
    train = [load_case(root, n) for n in numbers[: -args.val_cases]]
    held_out = numbers[-args.val_cases:]
    tube_of = SkeletonTube()
    tubes = [np.asarray(tube_of(case["label"][None].astype(np.int64)))[0] for case in train]

    distributed = Distributed(args.device)
    if distributed.main:
        print(f"DRIVE: {len(train)} training images, validation on {', '.join(held_out)}")
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + distributed.rank)
    f = args.features
    net = distributed.wrap(BasicUNet(spatial_dims=2, in_channels=3, out_channels=2,
                                     features=(f, f, 2 * f, 4 * f, 8 * f, f)))
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y, fov, tube = (v.to(distributed.device) for v in random_patches(train, tubes, args.patch, args.batch, rng))
        with autocast(distributed.device, args.amp):
            logits, y = mask_outside(net(x), y, fov)
            loss = objective(logits, y, {"tube": tube * fov})
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if distributed.main and step % max(1, args.steps // 10) == 0:
            print(f"  step {step}/{args.steps}  loss {loss.item():.4f}  ({time.perf_counter() - start:.0f} s)", flush=True)

    net.eval()
    rows = []
    with torch.no_grad():
        for number in distributed.share(held_out):
            case = load_case(root, number)
            image = torch.from_numpy(case["image"])[None].to(distributed.device)
            logits = sliding_window_inference(image, roi_size=(args.patch, args.patch), sw_batch_size=4,
                                              predictor=net, overlap=0.25)
            prediction = logits.argmax(1)[0].cpu().numpy().astype(bool) & case["fov"]
            rows.append({"case": number, **evaluate_case(prediction, case["label"] & case["fov"],
                                                         metrics=METRIC_NAMES, tile_size=128)})
    rows = sorted(distributed.gather(rows), key=lambda row: row["case"])
    distributed.close()
    if distributed.main:
        write_results(rows, out, f"validation ({len(rows)} images, loss {args.loss})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
