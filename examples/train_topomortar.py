"""Train a 2D segmenter on TopoMortar (brick-wall mortar, Valverde et al. 2025) with any seglosses loss, then
evaluate the validation images with the topology metrics.

TopoMortar's protocol: 512x512 RGB images of red brick walls, the mortar to segment is one connected network
whose holes are the bricks; training labels come in three qualities (accurate, noisy, pseudo) and two training
set sizes (large: 50 images, small: 10, from splits.yaml / splits_small.yaml); the validation images (051-070)
are scored with Dice, clDice, Betti errors, local Betti errors (128x128 tiles), the Betti matching error and
HD95. The test split (071-420) is not in ../shared/data; point --data at a full copy to use it.

    python examples/train_topomortar.py --quick                       # CPU, about 2 minutes
    python examples/train_topomortar.py --loss dice_ce+0.5*cldice --device cuda --steps 8000
    python examples/train_topomortar.py --loss dice_ce+0.01*betti_matching --labels noisy --train-set small
    torchrun --nproc_per_node 4 examples/train_topomortar.py --device cuda     # DDP, one process per GPU

The data folder is --data, else $SEGLOSSES_DATA, else ../shared/data next to this repository; it must hold
topomortar/ as data_scripts/prepare_topomortar.py lays it out (train|val/{images,accurate,noisy,pseudo}/NNN.png,
splits.yaml, splits_small.yaml).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skimage.io import imread

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

from seglosses.metrics import METRIC_NAMES, evaluate_case  # noqa: E402
from seglosses.transforms import SkeletonTube  # noqa: E402


def read_split(path: Path, split: str) -> list[str]:
    """Image ids of one split ("train", "val", "test") from TopoMortar's splits file (first fold)."""
    ids, current = [], None
    for line in path.read_text().splitlines():
        key = re.match(r"^\s{2}(\w+):\s*$", line)
        if key:
            current = key.group(1)
        elif current == split and line.strip().startswith("- "):
            ids.append(Path(line.strip()[2:]).stem)
    if not ids:
        sys.exit(f"train_topomortar: {path} lists no {split!r} images")
    return ids


def load_case(root: Path, split: str, case: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    """(3, H, W) float32 image in [0, 1] and (H, W) bool mortar label."""
    image = imread(root / split / "images" / f"{case}.png")[..., :3].astype(np.float32) / 255.0
    label = imread(root / split / labels / f"{case}.png")
    label = label.reshape(label.shape[:2]) > 0
    return np.ascontiguousarray(image.transpose(2, 0, 1)), label


def random_patches(images, labels, tubes, size: int, batch: int, rng: np.random.Generator):
    """A batch of random ``size`` crops with random flips: (B, 3, s, s), (B, 1, s, s) labels and tubes."""
    xs, ys, ts = [], [], []
    for _ in range(batch):
        i = rng.integers(len(images))
        h, w = labels[i].shape
        r, c = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        x, y, t = images[i][:, r:r + size, c:c + size], labels[i][r:r + size, c:c + size], tubes[i][r:r + size, c:c + size]
        for axis in (-1, -2):
            if rng.random() < 0.5:
                x, y, t = np.flip(x, axis), np.flip(y, axis), np.flip(t, axis)
        xs.append(x.copy()), ys.append(y.copy()), ts.append(t.copy())
    as_tensor = lambda arrays: torch.from_numpy(np.stack(arrays))  # noqa: E731
    return as_tensor(xs), as_tensor(ys).long()[:, None], as_tensor(ts).long()[:, None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, dataset="topomortar", out="topomortar-results", steps=4000, batch=8)
    parser.add_argument("--labels", choices=("accurate", "noisy", "pseudo"), default="accurate")
    parser.add_argument("--train-set", choices=("large", "small"), default="large")
    parser.add_argument("--patch", type=int, default=256)
    parser.add_argument("--features", type=int, default=32, help="first-level features of the BasicUNet")
    parser.add_argument("--val-cases", type=int, default=0, help="evaluate only the first N validation images")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.batch = min(args.steps, 60), min(args.batch, 4)
        args.patch, args.features = min(args.patch, 128), min(args.features, 8)
        args.val_cases = args.val_cases or 4
    objective, out = objective_and_output(parser, args)
    root = data_root(args.data, "topomortar", "splits.yaml", "prepare_topomortar.py", REPOSITORY)
    from monai.networks.nets import BasicUNet

    splits = root / ("splits.yaml" if args.train_set == "large" else "splits_small.yaml")
    train_ids, val_ids = read_split(splits, "train"), read_split(splits, "val")
    if args.val_cases:
        val_ids = val_ids[: args.val_cases]
    print(f"TopoMortar: {len(train_ids)} training images ({args.labels} labels), {len(val_ids)} validation images")
    train = [load_case(root, "train", case, args.labels) for case in train_ids]
    images, labels = [t[0] for t in train], [t[1] for t in train]
    tube_of = SkeletonTube()
    tubes = [np.asarray(tube_of(label[None].astype(np.int64)))[0] for label in labels]

    distributed = Distributed(args.device)
    torch.manual_seed(args.seed)  # the same initial weights on every rank
    rng = np.random.default_rng(args.seed + distributed.rank)  # each rank its own patches
    f = args.features
    net = distributed.wrap(BasicUNet(spatial_dims=2, in_channels=3, out_channels=2,
                                     features=(f, f, 2 * f, 4 * f, 8 * f, f)))
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y, t = (v.to(distributed.device) for v in random_patches(images, labels, tubes, args.patch, args.batch, rng))
        with autocast(distributed.device, args.amp):
            loss = objective(net(x), y, {"tube": t})
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if distributed.main and step % max(1, args.steps // 10) == 0:
            print(f"  step {step}/{args.steps}  loss {loss.item():.4f}  ({time.perf_counter() - start:.0f} s)", flush=True)

    net.eval()
    rows = []
    with torch.no_grad():
        for case in distributed.share(val_ids):
            image, label = load_case(root, "val", case, "accurate")
            logits = net(torch.from_numpy(image)[None].to(distributed.device))
            prediction = logits.argmax(1)[0].cpu().numpy().astype(bool)
            rows.append({"case": case, **evaluate_case(prediction, label, metrics=METRIC_NAMES, tile_size=128)})
    rows = sorted(distributed.gather(rows), key=lambda row: row["case"])
    distributed.close()
    if not distributed.main:
        return 0
    write_results(rows, out, f"validation ({len(rows)} images, loss {args.loss}, {args.labels} labels, "
                  f"{args.train_set} set)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
