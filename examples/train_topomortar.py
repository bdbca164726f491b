"""Train a 2D segmenter on TopoMortar (brick-wall mortar, Valverde et al. 2025) with any seglosses loss, then
evaluate held-out images with the topology metrics and write the predictions as PNG.

TopoMortar: 512x512 RGB images of red brick walls; the mortar to segment is one connected network whose holes are
the bricks. Training labels come in three qualities (accurate, noisy, pseudo) and two training set sizes (large:
50 images, small: 10, from splits.yaml / splits_small.yaml). Images are scored with Dice, clDice, Betti errors
(pixels as top cells, as TopoMortar counts them), local Betti errors (128x128 tiles), the Betti matching error and
HD95, per group of dataset_types.txt (in-distribution and six out-of-distribution groups) when the test split is
scored.

Protocols (--protocol):
  paper   TopoMortar's published set-up (the GPU mode): MONAI DynUNet 2D (8 levels, deep supervision over 6 heads,
          weighted as TopoMortar weights them) on whole 512x512 images, batch 10, 12,000 iterations, SGD lr 0.01,
          momentum 0.99, Nesterov, weight decay 3e-5, poly decay 0.9, gradient norm clipped at 12, float16 mixed
          precision with a gradient scaler on CUDA, and TopoMortar's augmentation (rotation, zoom, noise, blur,
          intensity scaling, simulated low resolution, gamma, flips). Trains on the whole training set.
  small   A fixed CPU protocol (about 5 minutes per loss on 2 cores): images and labels downsampled 2x (256x256),
          random 128x128 crops with flips and 90-degree turns, batch 8, 1,000 steps, BasicUNet with 16 first-level
          features, Adam lr 1e-3 with poly decay 0.9; predictions are made at 256x256, their logits upsampled
          (bilinear) to 512x512 and scored there against the full-resolution labels. It never trains on the
          10 holdout images (see --split), so that loss weights chosen on them are chosen on unseen images.
  custom  BasicUNet on random --patch crops at full resolution with the options given (the default).

Splits (--split): val (051-070), test (071-420, TopoMortar's test split; only in a full copy of the dataset),
holdout (10 training images outside the small training set, held out for choosing loss weights: the run trains
without them and scores them).

    python examples/train_topomortar.py --quick                                  # CPU smoke run, under a minute
    python examples/train_topomortar.py --protocol small --loss dice_ce+0.5*cldice --seed 1 --out runs/cldice-1
    python examples/train_topomortar.py --protocol paper --loss dice_ce+0.5*cldice --device cuda --split test
    python examples/train_topomortar.py --protocol paper --resume --out OUT        # continue from OUT/checkpoint.pt
    torchrun --nproc_per_node 4 examples/train_topomortar.py --device cuda       # DDP, one process per GPU

Writes OUT/results.csv (one row per image), OUT/predictions/NNN.png (0/255 masks, which `seglosses evaluate` scores)
and OUT/checkpoint.pt (every --checkpoint-every steps and at the end; --resume continues from it and gives the same
weights as an uninterrupted run: every step draws its patches from a generator seeded by (seed, rank, step)).
`python examples/topomortar_table.py OUT1 OUT2 ...` prints the mean and spread over several runs.

The data folder is --data, else $SEGLOSSES_DATA, else ../shared/data next to this repository; it must hold
topomortar/ as data_scripts/prepare_topomortar.py lays it out (train|val|test/{images,accurate,noisy,pseudo}/NNN.png,
splits.yaml, splits_small.yaml, dataset_types.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
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

from seglosses.io import write_png  # noqa: E402
from seglosses.metrics import METRIC_NAMES, evaluate_case  # noqa: E402
from seglosses.transforms import SkeletonTube  # noqa: E402

HOLDOUT_SIZE = 10
# The options a checkpoint records, and --resume checks (run.json records these and the split).
CHECKPOINT_SETTINGS = ("loss", "protocol", "seed", "labels", "train_set", "steps")
SUMMARY_COLUMNS = ("dice", "cldice", "betti_error_0", "betti_error_1", "betti_matching_error", "hd95")


@dataclass(frozen=True)
class Protocol:
    """The training set-up a --protocol fixes (options given on the command line override it)."""

    network: str  # "basicunet" or "dynunet"
    scale: int  # images and labels downsampled by this factor for training and prediction
    patch: int  # crop size at the training scale; 0: whole images
    batch: int
    steps: int
    features: int
    optimiser: str  # "adam" or "sgd"
    augmentation: str  # "flips", "d4" (flips and 90-degree turns) or "paper"
    amp: bool  # float16 autocast with a gradient scaler on CUDA
    clip: float  # gradient norm clipping; 0: none
    exclude_holdout: bool  # never train on the holdout images


PROTOCOLS = {
    "custom": Protocol("basicunet", 1, 256, 8, 4000, 32, "adam", "flips", False, 0.0, False),
    "small": Protocol("basicunet", 2, 128, 8, 1000, 16, "adam", "d4", False, 0.0, True),
    "paper": Protocol("dynunet", 1, 0, 10, 12000, 32, "sgd", "paper", True, 12.0, False),
}


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


def holdout_ids(root: Path) -> list[str]:
    """The last HOLDOUT_SIZE images of the large training set that are not in the small one (fixed by the splits
    files, so that both training set sizes can exclude them)."""
    small = set(read_split(root / "splits_small.yaml", "train"))
    return sorted(i for i in read_split(root / "splits.yaml", "train") if i not in small)[-HOLDOUT_SIZE:]


def read_groups(root: Path) -> dict[str, str]:
    """Image id -> group ("indistr", "angles", ...) from dataset_types.txt; {} when the file is absent."""
    path = root / "dataset_types.txt"
    if not path.is_file():
        return {}
    groups = {}
    for line in path.read_text().splitlines()[1:]:
        if line.strip():
            case, group = line.strip().split(",")
            groups[case.strip().zfill(3)] = group.strip()
    return groups


def load_case(root: Path, split: str, case: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    """(3, H, W) float32 image normalised per channel (zero mean, unit std) and (H, W) bool mortar label."""
    image = imread(root / split / "images" / f"{case}.png")[..., :3].astype(np.float32)
    image = image.transpose(2, 0, 1)
    image = (image - image.mean(axis=(1, 2), keepdims=True)) / (image.std(axis=(1, 2), keepdims=True) + 1e-6)
    label = imread(root / split / labels / f"{case}.png")
    label = label.reshape(label.shape[:2]) > 0
    return np.ascontiguousarray(image), label


def downsample(image: np.ndarray, label: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Average ``scale`` x ``scale`` blocks of the image; the label where at least half of a block is mortar."""
    if scale == 1:
        return image, label
    c, h, w = image.shape
    h, w = h // scale * scale, w // scale * scale
    blocks = lambda a: a[..., :h, :w].reshape(*a.shape[:-2], h // scale, scale, w // scale, scale)  # noqa: E731
    return blocks(image).mean(axis=(-3, -1)), blocks(label.astype(np.float32)).mean(axis=(-3, -1)) >= 0.5


def random_patches(images, labels, tubes, size: int, batch: int, rng: np.random.Generator, augmentation: str):
    """A batch of random ``size`` crops (whole images for size 0) with random flips (and 90-degree turns for
    "d4"): (B, 3, s, s), (B, 1, s, s) labels and tubes."""
    xs, ys, ts = [], [], []
    for _ in range(batch):
        i = rng.integers(len(images))
        h, w = labels[i].shape
        s = size or min(h, w)
        r, c = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        x, y, t = images[i][:, r:r + s, c:c + s], labels[i][r:r + s, c:c + s], tubes[i][r:r + s, c:c + s]
        for axis in (-1, -2):
            if rng.random() < 0.5:
                x, y, t = np.flip(x, axis), np.flip(y, axis), np.flip(t, axis)
        if augmentation == "d4" and rng.random() < 0.5:
            x, y, t = (np.swapaxes(a, -1, -2) for a in (x, y, t))
        xs.append(x.copy()), ys.append(y.copy()), ts.append(t.copy())
    as_tensor = lambda arrays: torch.from_numpy(np.stack(arrays))  # noqa: E731
    return as_tensor(xs), as_tensor(ys).long()[:, None], as_tensor(ts).long()[:, None]


def paper_augmentation():
    """TopoMortar's training augmentation (its published configuration), as MONAI dictionary transforms on
    "image", "label" and "tube" (the Skeleton Recall tube moves with the label, by nearest neighbour)."""
    import monai.transforms as mt

    spatial = ["image", "label", "tube"]
    return mt.Compose([
        mt.RandRotated(spatial, range_x=np.pi, prob=0.2, mode=["bilinear", "nearest", "nearest"]),
        mt.RandZoomd(spatial, min_zoom=0.7, max_zoom=1.4, prob=0.2, mode=["bilinear", "nearest-exact", "nearest-exact"]),
        mt.RandGaussianNoised("image", prob=0.1, mean=0.0, std=0.1),
        mt.RandGaussianSmoothd("image", sigma_x=(0.5, 1.0), sigma_y=(0.5, 1.0), prob=0.2),
        mt.RandScaleIntensityd("image", factors=0.25, prob=0.15),
        mt.RandScaleIntensityFixedMeand("image", factors=0.25, preserve_range=True, prob=0.15),
        mt.RandSimulateLowResolutiond("image", zoom_range=(0.5, 1.0), prob=0.25),
        mt.RandAdjustContrastd("image", gamma=(0.7, 1.5), invert_image=True, retain_stats=True, prob=0.1),
        mt.RandAdjustContrastd("image", gamma=(0.7, 1.5), invert_image=False, retain_stats=True, prob=0.1),
        mt.RandAxisFlipd(spatial, prob=0.5),
    ])


def augmented_batch(images, labels, tubes, batch: int, rng: np.random.Generator, transform):
    """``batch`` whole images through the paper's augmentation, each sample seeded from ``rng``."""
    xs, ys, ts = [], [], []
    for _ in range(batch):
        i = rng.integers(len(images))
        transform.set_random_state(seed=int(rng.integers(2**31)))
        sample = transform({"image": images[i], "label": labels[i][None].astype(np.float32),
                            "tube": tubes[i][None].astype(np.float32)})
        xs.append(torch.as_tensor(np.asarray(sample["image"]), dtype=torch.float32))
        ys.append(torch.as_tensor(np.asarray(sample["label"])).round().long())
        ts.append(torch.as_tensor(np.asarray(sample["tube"])).round().long())
    return torch.stack(xs), torch.stack(ys), torch.stack(ts)


def build_network(protocol: Protocol, features: int):
    if protocol.network == "dynunet":
        from monai.networks.nets import DynUNet

        return DynUNet(spatial_dims=2, in_channels=3, out_channels=2, kernel_size=[3] * 8,
                       strides=[1] + [2] * 7, upsample_kernel_size=[2] * 7, deep_supervision=True, deep_supr_num=6)
    from monai.networks.nets import BasicUNet

    f = features
    return BasicUNet(spatial_dims=2, in_channels=3, out_channels=2, features=(f, f, 2 * f, 4 * f, 8 * f, f))


def supervised_loss(objective, output: torch.Tensor, labels, extras) -> torch.Tensor:
    """The loss of one step. DynUNet's training output (B, heads, C, H, W) is weighted as TopoMortar weights it:
    the full-resolution head with weight 1, head i with 2^-i / sum_j 2^-j (j < 7), the sum divided by the number of
    heads; every head gets the whole loss (topology terms included), as in the paper."""
    if output.dim() == labels.dim():
        return objective(output, labels, extras)
    weights = 0.5 ** np.arange(7)
    weights = weights / weights.sum()
    total = objective(output[:, 0], labels, extras)
    for i in range(1, output.shape[1]):
        total = total + float(weights[i]) * objective(output[:, i], labels, extras)
    return total / output.shape[1]


def save_checkpoint(path: Path, net, optimiser, scheduler, scaler, step: int, args) -> None:
    """Atomically (a temporary file renamed over the old one): an interrupted save never loses the last one."""
    module = getattr(net, "module", net)
    state = {"step": step, "net": module.state_dict(), "optimiser": optimiser.state_dict(),
             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else None,
             "settings": {k: getattr(args, k) for k in CHECKPOINT_SETTINGS}}
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def predict(net, image: np.ndarray, scale: int, device) -> np.ndarray:
    """The (H, W) bool mortar prediction of one normalised (3, H, W) image, made at 1/scale resolution and
    upsampled (bilinear, on the logits) to the image's size."""
    small, _ = downsample(image, np.zeros(image.shape[1:], bool), scale)
    logits = net(torch.from_numpy(np.ascontiguousarray(small))[None].float().to(device))
    if logits.shape[-2:] != image.shape[-2:]:
        logits = F.interpolate(logits, size=image.shape[-2:], mode="bilinear", align_corners=False)
    return logits.argmax(1)[0].cpu().numpy().astype(bool)


def print_group_table(rows: list[dict], groups: dict[str, str], args) -> None:
    """Mean ± std over images per dataset group, beside TopoMortar's published numbers for the same setting."""
    from topomortar_published import published

    by_group: dict[str, list[dict]] = {}
    for row in rows:
        by_group.setdefault(groups.get(row["case"], "indistr"), []).append(row)
    if len(by_group) > 1 or "indistr" not in by_group:  # TopoMortar publishes one aggregate of its OOD groups
        by_group["ood"] = [row for group, members in by_group.items() if group != "indistr" for row in members]
    print(f"\nper group (mean ± std over images), loss {args.loss}, {args.labels} labels, {args.train_set} set:")
    print(f"  {'group':<10}{'n':>4}" + "".join(f"{c:>22}" for c in SUMMARY_COLUMNS))
    for group, members in sorted(by_group.items(), key=lambda item: (item[0] == "ood", item[0])):
        cells = []
        for column in SUMMARY_COLUMNS:
            values = np.array([r[column] for r in members if isinstance(r.get(column), (int, float))], float)
            cells.append(f"{np.nanmean(values):.3f} ± {np.nanstd(values):.3f}" if values.size else "-")
        print(f"  {group:<10}{len(members):>4}" + "".join(f"{c:>22}" for c in cells))
        reference = published(args.labels, args.train_set, group)
        if reference:
            where = "test images" if args.split == "test" else "test images, not these"
            print(f"    TopoMortar published ({where}; mean of 10 seeds):")
            for loss, metrics in reference.items():
                shown = "  ".join(f"{k} {v:.3f}" for k, v in metrics.items() if not k.endswith("_std"))
                print(f"      {loss:<16}{shown}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    add_common_arguments(parser, dataset="topomortar", out="topomortar-results", steps=None, batch=None)
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default="custom",
                        help="the training set-up: paper (TopoMortar's, GPU), small (fixed CPU protocol), custom")
    parser.add_argument("--split", choices=("val", "test", "holdout"), default="val",
                        help="images to score: val (051-070), test (071-420, full dataset only), holdout (10 "
                        "training images, held out of training, for choosing loss weights)")
    parser.add_argument("--labels", choices=("accurate", "noisy", "pseudo"), default="accurate")
    parser.add_argument("--train-set", choices=("large", "small"), default="large")
    parser.add_argument("--patch", type=int, help="crop size (default: the protocol's; custom 256)")
    parser.add_argument("--features", type=int, help="first-level features of the BasicUNet (custom: 32)")
    parser.add_argument("--val-cases", type=int, default=0, help="score only the first N images of the split")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="save OUT/checkpoint.pt every N steps (default: a tenth of the steps; always at the end)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    args = parser.parse_args(argv)
    protocol = PROTOCOLS[args.protocol]
    args.steps = args.steps or protocol.steps
    args.batch = args.batch or protocol.batch
    args.patch = protocol.patch if args.patch is None else args.patch
    args.features = args.features or protocol.features
    if args.quick:
        args.steps, args.batch = min(args.steps, 60), min(args.batch, 4)
        args.patch, args.features = min(args.patch or 128, 128), min(args.features, 8)
        args.val_cases = args.val_cases or 4
    if args.resume:
        args.overwrite = True  # the results of the interrupted run do not exist yet; the checkpoint is read
    objective, out = objective_and_output(parser, args)
    checkpoint = out.parent / "checkpoint.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.resume and not checkpoint.is_file():
        parser.error(f"--resume: {checkpoint} does not exist")
    root = data_root(args.data, "topomortar", "splits.yaml", "prepare_topomortar.py", REPOSITORY)

    splits = root / ("splits.yaml" if args.train_set == "large" else "splits_small.yaml")
    train_ids = read_split(splits, "train")
    held_out = holdout_ids(root)
    if args.split == "holdout" or protocol.exclude_holdout:
        train_ids = [case for case in train_ids if case not in held_out]
    if args.split == "holdout":
        eval_split, eval_ids = "train", held_out
    else:
        eval_split, eval_ids = args.split, read_split(root / "splits.yaml", args.split)
        if not (root / eval_split / "images").is_dir():
            sys.exit(f"train_topomortar: the {args.split} images are not in {root} (TopoMortar's test split is in "
                     "the full dataset: python data_scripts/prepare_topomortar.py --out DATA_FOLDER)")
    if args.val_cases:
        eval_ids = eval_ids[: args.val_cases]
    print(f"TopoMortar, protocol {args.protocol}: {len(train_ids)} training images ({args.labels} labels), "
          f"{len(eval_ids)} {args.split} images")
    train = [downsample(*load_case(root, "train", case, args.labels), protocol.scale) for case in train_ids]
    images, labels = [t[0] for t in train], [t[1] for t in train]
    tube_of = SkeletonTube()
    tubes = [np.asarray(tube_of(label[None].astype(np.int64)))[0] for label in labels]

    distributed = Distributed(args.device)
    torch.manual_seed(args.seed)  # the same initial weights on every rank
    net = distributed.wrap(build_network(protocol, args.features))
    if protocol.optimiser == "sgd":
        optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True, weight_decay=3e-5)
    else:
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    total = args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: (1 - min(step, total - 1) / total) ** 0.9)
    use_scaler = protocol.amp and str(distributed.device).startswith("cuda")  # the paper's fp16, scaled
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    first = 1
    if args.resume:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if state["settings"] != {k: getattr(args, k) for k in state["settings"]}:
            parser.error(f"--resume: {checkpoint} was written with other settings: {state['settings']}")
        getattr(net, "module", net).load_state_dict(state["net"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler and state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        first = state["step"] + 1
        print(f"  resumed after step {state['step']}")
    every = args.checkpoint_every or max(1, args.steps // 10)
    transform = paper_augmentation() if protocol.augmentation == "paper" else None
    start = time.perf_counter()
    net.train()
    for step in range(first, args.steps + 1):
        rng = np.random.default_rng([args.seed, distributed.rank, step])
        if transform is not None:
            batch = augmented_batch(images, labels, tubes, args.batch, rng, transform)
        else:
            batch = random_patches(images, labels, tubes, args.patch, args.batch, rng, protocol.augmentation)
        x, y, t = (v.to(distributed.device) for v in batch)
        if use_scaler:
            with torch.autocast("cuda", dtype=torch.float16):
                loss = supervised_loss(objective, net(x), y, {"tube": t})
        else:
            with autocast(distributed.device, args.amp):
                loss = supervised_loss(objective, net(x), y, {"tube": t})
        optimiser.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(optimiser)
        else:
            loss.backward()
        if protocol.clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), protocol.clip)
        if scaler:
            scaler.step(optimiser)
            scaler.update()
        else:
            optimiser.step()
        scheduler.step()
        if distributed.main and (step % every == 0 or step == args.steps):
            save_checkpoint(checkpoint, net, optimiser, scheduler, scaler, step, args)
        if distributed.main and step % max(1, args.steps // 10) == 0:
            print(f"  step {step}/{args.steps}  loss {loss.item():.4f}  ({time.perf_counter() - start:.0f} s)", flush=True)

    net.eval()
    rows = []
    predictions = out.parent / "predictions"
    predictions.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for case in distributed.share(eval_ids):
            image, label = load_case(root, eval_split, case, "accurate")
            prediction = predict(net, image, protocol.scale, distributed.device)
            write_png(predictions / f"{case}.png", prediction)
            rows.append({"case": case, **evaluate_case(prediction, label, metrics=METRIC_NAMES, tile_size=128)})
    rows = sorted(distributed.gather(rows), key=lambda row: row["case"])
    distributed.close()
    if not distributed.main:
        return 0
    seconds = time.perf_counter() - start
    settings = {k: getattr(args, k) for k in (*CHECKPOINT_SETTINGS, "split")}
    (out.parent / "run.json").write_text(json.dumps({**settings, "seconds": round(seconds, 1)}, indent=1) + "\n")
    write_results(rows, out, f"{args.split} ({len(rows)} images, loss {args.loss}, protocol {args.protocol}, "
                  f"{args.labels} labels, {args.train_set} set, seed {args.seed}; "
                  f"{seconds:.0f} s)")
    print_group_table(rows, read_groups(root), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
