"""``seglosses demo``: train a small U-Net with and without a topology loss on generated vessels, and compare.

Needs no data and no GPU. The same network is trained from the same seed on the same generated 2D vessel trees
(:func:`seglosses.synthetic.vessel_tree`), first with Dice + cross-entropy alone, then with a topology loss added;
both are evaluated on held-out trees (Dice, clDice, Betti-number errors, Betti matching error) and a figure shows
the predictions with their topological errors marked.

    seglosses demo                         # 600 steps per run, about a minute on 2 CPU cores
    seglosses demo --loss betti_matching --minutes 2
    seglosses demo --quick                 # seconds: a smoke test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from seglosses._progress import progress_bar

__all__ = ["add_demo", "main"]

DESCRIPTION = __doc__.split("\n\n")[0].replace("``", "")  # the docstring's first paragraph, without RST markup

TOPOLOGY_LOSSES = {
    "cldice": "Dice + cross-entropy + 0.5 * (Dice + clDice)",
    "cbdice": "Dice + cross-entropy + 0.5 * cbDice (centreline-boundary Dice, Shi et al. 2024)",
    "skeleton_recall": "Dice + cross-entropy + Skeleton Recall",
    "betti_matching": "Dice + cross-entropy + 0.01 * Betti matching",
    "hutopo": "Dice + cross-entropy + 0.01 * HuTopo (persistence diagrams, Hu et al. 2019)",
    "warping": "Dice + cross-entropy + Warping (cross-entropy on critical pixels, Hu 2022)",
    "topograph": "Dice + cross-entropy + 0.1 * Topograph (critical regions of the overlay graph, Lux et al. 2025)",
}
# The same losses as seglosses.losses.CombinedLoss specs (its registry holds the names and defaults); the demo's
# clDice runs 5 iterations on its thin 64x64 vessels. A sum over features, Betti matching gets a small weight
# that keeps it on the scale of Dice + CE.
SPECS = {
    "dice_ce": ("dice_ce", {}),
    "cldice": ("dice_ce+dice_cldice", {"dice_cldice": {"iterations": 5, "alpha": 0.5}}),
    "cbdice": ("dice_ce+0.5*cbdice", {"cbdice": {"iterations": 5}}),
    "skeleton_recall": ("dice_ce+skeleton_recall", {}),
    "betti_matching": ("dice_ce+0.01*betti_matching", {}),
    "hutopo": ("dice_ce+0.01*hutopo", {}),
    "topograph": ("dice_ce+0.1*topograph", {}),
    "warping": ("dice_ce+warping", {}),
}


def make_data(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` generated vessel trees: images (n, 1, size, size) float32 and labels (n, 1, size, size) int64."""
    from seglosses.synthetic import vessel_tree

    pairs = [vessel_tree((size, size), n_branches=8, max_radius=2.0, seed=seed + i, noise=0.2) for i in range(n)]
    images = torch.from_numpy(np.stack([p[0] for p in pairs]).astype(np.float32))[:, None]
    labels = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))[:, None]
    return images, labels


def make_objective(name: str):
    """``objective(logits, labels, tube)`` for ``"dice_ce"`` or Dice + CE plus one of ``TOPOLOGY_LOSSES``."""
    from seglosses.losses import CombinedLoss

    if name not in SPECS:
        raise ValueError(f"Expected a loss in {tuple(SPECS)}, but got {name!r}.")
    spec, settings = SPECS[name]
    loss = CombinedLoss(spec, **cast(dict[str, Any], settings))
    return lambda logits, labels, tube: loss(logits, labels, skeleton=tube)


def train(name: str, data, args) -> tuple[torch.nn.Module, int, float]:
    """Train for ``args.steps`` (or ``args.minutes`` when given); returns the network, steps and seconds."""
    from monai.networks.nets import UNet

    images, labels, tubes = data
    torch.manual_seed(args.seed)
    net = UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(16, 32, 64), strides=(2, 2), num_res_units=1)
    net.to(args.device)
    objective = make_objective(name)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    rng = np.random.default_rng(args.seed)
    budget = args.minutes * 60.0
    start, step = time.perf_counter(), 0

    def done() -> bool:
        return time.perf_counter() - start >= budget if args.minutes else step >= args.steps

    # With a time budget the bar counts seconds, otherwise steps.
    total, unit = (round(budget), "s") if args.minutes else (args.steps, "step")
    with progress_bar(total, name, quiet=args.quiet, unit=unit) as bar:
        while not done():
            index = torch.from_numpy(rng.choice(len(images), size=args.batch, replace=False))
            x, y, tube = (t[index].to(args.device) for t in (images, labels, tubes))
            loss = objective(net(x), y, tube)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            bar.set_postfix_str(f"loss {loss.item():.3f}", refresh=False)
            bar.update(min(round(time.perf_counter() - start), total) - bar.n if args.minutes else 1)
    return net, step, time.perf_counter() - start


@torch.no_grad()
def predict(net, images: torch.Tensor, device: str) -> np.ndarray:
    net.eval()
    return net(images.to(device)).argmax(1).cpu().numpy().astype(bool)


def evaluate(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from seglosses.metrics import betti_matching_error, betti_number_errors, cldice, dice

    rows = [
        (dice(p, g), cldice(p, g), *betti_number_errors(p, g), betti_matching_error(p, g).sum())
        for p, g in zip(predictions, labels)
    ]
    values = np.mean(np.asarray(rows, dtype=np.float64), axis=0)
    return dict(zip(("dice", "cldice", "betti0_error", "betti1_error", "betti_matching_error"), values))


def figure(images: np.ndarray, labels: np.ndarray, predictions: dict[str, np.ndarray], rows: int = 4,
           titles: dict[str, str] | None = None) -> np.ndarray:
    """Rows of cases: image | label | one error overlay per loss, scaled x4, separated by grey lines, under a row
    of column headers and above a colour legend (drawn with Pillow, which scikit-image already requires)."""
    from PIL import Image, ImageDraw, ImageFont

    from seglosses._plots import AGREEMENT, UNMATCHED, ringed_agreement

    scale, separator = 4, 2
    tiles = []
    for i in range(min(rows, len(images))):
        grey = (np.clip(images[i], 0, 1) * 255).astype(np.uint8)
        panels = [np.repeat(grey[..., None], 3, -1), np.repeat(labels[i][..., None].astype(np.uint8) * 255, 3, -1)]
        panels += [ringed_agreement(p[i], labels[i]) for p in predictions.values()]
        gap = np.full((images.shape[1], separator, 3), 128, np.uint8)
        row = np.concatenate([x for panel in panels for x in (panel, gap)][:-1], axis=1)
        tiles += [row, np.full((separator, row.shape[1], 3), 128, np.uint8)]
    grid = np.kron(np.concatenate(tiles[:-1], axis=0), np.ones((scale, scale, 1), np.uint8))

    font = ImageFont.load_default(size=15)
    entries = [("both", AGREEMENT["prediction and target"], False), ("extra", AGREEMENT["prediction only"], False),
               ("missed", AGREEMENT["target only"], False), ("unmatched: predicted", UNMATCHED["prediction"], True),
               ("unmatched: label", UNMATCHED["target"], True)]
    # The legend's entries left to right, wrapped to the figure's width.
    lines: list[list[tuple[int, str, tuple[int, int, int], bool]]] = [[]]
    x = 8
    for text, colour, ring in entries:
        step = 28 + int(font.getlength(text))
        if lines[-1] and x + step > grid.shape[1]:
            lines.append([])
            x = 8
        lines[-1].append((x, text, colour, ring))
        x += step
    header, line_height = 28, 26
    canvas = Image.new("RGB", (grid.shape[1], header + grid.shape[0] + line_height * len(lines) + 4), (255, 255, 255))
    canvas.paste(Image.fromarray(grid), (0, header))
    draw = ImageDraw.Draw(canvas)
    titles = titles or {}
    columns = ["image", "label", *(titles.get(name, name) for name in predictions)]
    width = images.shape[2] * scale
    for k, text in enumerate(columns):
        centre = k * (width + separator * scale) + width // 2
        draw.text((centre, header // 2), text, fill=(0, 0, 0), font=font, anchor="mm")
    for n, line in enumerate(lines):
        y = header + grid.shape[0] + line_height * n + line_height // 2 + 2
        for x, text, colour, ring in line:
            box = (x, y - 7, x + 14, y + 7)
            if ring:  # the figure's rings are square
                draw.rectangle(box, outline=colour, width=3)
            else:
                draw.rectangle(box, fill=colour, outline=(0, 0, 0))
            draw.text((x + 20, y), text, fill=(0, 0, 0), font=font, anchor="lm")
    return np.asarray(canvas)


def run_demo(args: argparse.Namespace) -> int:
    from skimage.io import imsave

    from seglosses.transforms import SkeletonTube

    out = Path(args.out)
    table_path, figure_path = out / "results.csv", out / "predictions.png"
    if not args.overwrite and (table_path.exists() or figure_path.exists()):
        print(f"seglosses demo: {out} already holds results; pass --overwrite to replace them", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("seglosses demo: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    # Options left unset take the defaults of the mode; what the user gave wins in both (--quick --steps 20: 20).
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.batch > args.train_cases or min(args.batch, args.test_cases, args.size, args.steps) <= 0 or args.minutes < 0:
        print("seglosses demo: expected positive --batch, --test-cases, --size and --steps, --minutes >= 0, and "
              "--batch at most --train-cases", file=sys.stderr)
        return 2
    size = args.size
    print(f"generating {args.train_cases} training and {args.test_cases} held-out vessel trees ({size}x{size})")
    images, labels = make_data(args.train_cases, size, seed=args.seed)
    test_images, test_labels = make_data(args.test_cases, size, seed=args.seed + 100_000)
    tube_of = SkeletonTube()  # once per training case, as a data loader would
    tubes = torch.stack([torch.as_tensor(np.asarray(tube_of(label))) for label in labels]).long()

    results, predictions = {}, {}
    for name in ("dice_ce", args.loss):
        what = "Dice + cross-entropy" if name == "dice_ce" else TOPOLOGY_LOSSES[name]
        print(f"training with {name}: {what}")
        net, steps, seconds = train(name, (images, labels, tubes), args)
        predictions[name] = predict(net, test_images, args.device)
        results[name] = dict(steps=steps, seconds=seconds, **evaluate(predictions[name], test_labels[:, 0].numpy() > 0))

    columns = ("steps", "seconds", "dice", "cldice", "betti0_error", "betti1_error", "betti_matching_error")
    print(f"\nheld-out synthetic vessels: {args.test_cases} cases of {size}x{size}, errors averaged per case")
    headers = ("steps", "seconds", "Dice", "clDice", "Betti-0 err", "Betti-1 err", "BM err")
    print(f"{'loss':<16}" + "".join(f"{h:>9}" if i < 4 else f"{h:>13}" for i, h in enumerate(headers)))
    for name, row in results.items():
        cells = [f"{row['steps']:>9d}", f"{row['seconds']:>9.1f}", f"{row['dice']:>9.3f}", f"{row['cldice']:>9.3f}"]
        cells += [f"{row[c]:>13.2f}" for c in columns[4:]]
        print(f"{name:<16}" + "".join(cells))
    print("\n" + verdict(args.loss, results["dice_ce"], results[args.loss]))
    from seglosses.io import write_csv

    out.mkdir(parents=True, exist_ok=True)
    write_csv(table_path, [{"loss": name, **row} for name, row in results.items()], ["loss", *columns])
    titles = {"dice_ce": "Dice + CE", args.loss: f"+ {args.loss}"}
    imsave(str(figure_path), figure(test_images[:, 0].numpy(), test_labels[:, 0].numpy() > 0, predictions,
                                    titles=titles), check_contrast=False)
    print(f"\nwrote {table_path} and {figure_path} (image | label | {' | '.join(predictions)}: white correct, red extra, "
          "blue missed; unmatched features ringed yellow (predicted) or cyan (missed))")
    return 0


def verdict(name: str, base: dict, topo: dict) -> str:
    """One sentence on this run's numbers: what the topology loss did to the topological errors and to Dice."""
    def change(key: str) -> str:
        before, after = base[key], topo[key]
        if round(before, 2) == round(after, 2):
            return f"stayed at {after:.2f}"
        share = f" ({(after - before) / before:+.0%})" if before > 0 else ""
        return f"went from {before:.2f} to {after:.2f}{share}"

    return (f"Adding {name} to Dice + CE: the Betti matching error per case {change('betti_matching_error')}, "
            f"Betti-0 {change('betti0_error')}, Betti-1 {change('betti1_error')}; Dice {topo['dice']:.3f} "
            f"(Dice + CE alone {base['dice']:.3f}).")


def add_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="train with and without a topology loss on generated vessels and compare",
        description=DESCRIPTION,
    )
    add_arguments(parser)


DEFAULTS = dict(steps=600, minutes=0.0, size=64, train_cases=48, test_cases=64, batch=8)
QUICK = dict(steps=3, minutes=0.0, size=32, train_cases=8, test_cases=4, batch=4)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loss", choices=list(TOPOLOGY_LOSSES), default="topograph",
                        help="topology loss added to Dice + CE in the second run (default topograph: the one that "
                        "lowered the Betti matching error on every seed of the README's comparison)")
    parser.add_argument("--steps", type=int,
                        help="training steps per run (default 600, 3 with --quick; results repeat exactly per --seed "
                        "on one machine)")
    parser.add_argument("--minutes", type=float,
                        help="train for this many minutes per run instead of --steps (results then depend on the "
                        "machine's speed and load)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (default cpu)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the generated data and of the training (default 0)")
    parser.add_argument("--size", type=int, help="image side in pixels (default 64, 32 with --quick)")
    parser.add_argument("--train-cases", type=int, help="generated training images (default 48, 8 with --quick)")
    parser.add_argument("--test-cases", type=int, help="generated held-out images (default 64, 4 with --quick)")
    parser.add_argument("--batch", type=int, help="images per training step (default 8, 4 with --quick)")
    parser.add_argument("--out", default="seglosses-demo", help="folder for results.csv and predictions.png")
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (the table still prints)")
    parser.add_argument("--quick", action="store_true",
                        help="a few steps on tiny images (seconds): a smoke test; options given explicitly still apply")
    parser.set_defaults(run=run_demo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seglosses demo", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
