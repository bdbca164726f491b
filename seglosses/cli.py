"""The ``seglosses`` command line: ``seglosses evaluate`` (metrics of predictions on disk) and ``seglosses demo``.

Each subcommand is registered by a small ``add_*`` function that declares its arguments and the function to run.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from seglosses._progress import progress_bar
from seglosses._validation import CONSTRUCTIONS, DEFAULT_CONSTRUCTION
from seglosses.io import IMAGE_SUFFIXES, case_name, read_image, write_csv
from seglosses.metrics.functional import METRIC_NAMES, evaluate_case

__all__ = ["main"]


# ----------------------------------------------------------------------------------------------------------- evaluate
# An integer image with at most this many distinct values, all at most this large, looks like class indices,
# not like a probability map stored as fractions of the type's range: it is refused with the --label-map hint.
_LABEL_LIKE = 16


def _fractions(array: np.ndarray) -> np.ndarray | None:
    """The image as probabilities in [0, 1] when it is a probability map (not a mask, not a label map), else None."""
    if array.dtype == bool or array.dtype.kind not in "iuf":
        return None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return None
    values = np.unique(array)
    if np.all(np.isin(values, (0, 1))) or np.all(np.isin(values, (0, 255))) or np.all(np.isin(values, (0, 65535))):
        return None
    if array.dtype.kind == "f" and values.min() >= 0 and values.max() <= 1:
        return array.astype(np.float64)
    label_like = len(values) <= _LABEL_LIKE and values.min() >= 0 and values.max() <= _LABEL_LIKE
    if array.dtype in (np.uint8, np.uint16) and not label_like:
        return array / float(np.iinfo(array.dtype).max)
    return None


def binarise(array: np.ndarray, threshold: float, what: str) -> np.ndarray:
    """A mask from a stored image.

    {0, 1} masks and {0, max} masks (max = 255 or 65535, the type's top) are taken as they are. Probabilities are
    thresholded: floats in [0, 1], and uint8/uint16 images read as fractions of their type's range (value / 255,
    value / 65535), as image files store them. An integer image of a few small values (at most 16 values, none
    above 16) looks like a label map and is refused with a hint to pass --label-map.
    """
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{what}: expected a numeric image, but got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{what}: {bad} of {array.size} values are NaN or Inf; expected a mask or probabilities")
    values = np.unique(array)
    if np.all(np.isin(values, (0, 1))) or np.all(np.isin(values, (0, 255))) or np.all(np.isin(values, (0, 65535))):
        return array > 0
    fractions = _fractions(array)
    if fractions is not None:
        return fractions > threshold
    label_like = len(values) <= _LABEL_LIKE and values.min() >= 0 and values.max() <= _LABEL_LIKE
    shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
    raise ValueError(
        f"{what}: expected a binary mask ({{0, 1}} or {{0, 255}}), probabilities (floats in [0, 1], or uint8/uint16 "
        f"fractions of their range) or, with --label-map, a label map, but got {array.dtype} values {{{shown}}}"
        + ("; pass --label-map for label maps" if array.dtype.kind in "iu" and label_like else "")
    )


def evaluate_pair(job: dict) -> dict:
    """One case: read both files, check them, compute the metrics. Failures are returned with their reason."""
    row = {"case": job["case"], "status": "ok", "error": ""}
    try:
        if job.get("error"):
            raise ValueError(job["error"])
        if job["pred"] is None or job["gt"] is None:
            missing = "prediction" if job["pred"] is None else "ground truth"
            raise ValueError(f"no {missing} file with this name")
        prediction, _, _ = read_image(job["pred"])
        target, spacing, affine = read_image(job["gt"])
        if prediction.shape != target.shape:
            raise ValueError(f"shape mismatch: prediction {prediction.shape}, ground truth {target.shape}")
        if target.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D images, but got shape {target.shape}")
        options = dict(
            metrics=job["metrics"], construction=job["construction"], tile_size=job["tile_size"], spacing=spacing,
            num_threads=job["threads"],
        )
        if job["label_map"]:
            for what, array in (("prediction", prediction), ("ground truth", target)):
                if array.dtype.kind not in "biu":
                    raise ValueError(f"{what}: --label-map expects integer labels, but got dtype {array.dtype}")
            classes = sorted((set(np.unique(target).tolist()) | set(np.unique(prediction).tolist())) - {0})
            for k in classes:
                metrics = evaluate_case(prediction == k, target == k, **options)
                row.update({f"class{k}_{name}": value for name, value in metrics.items()})
            p, g = prediction > 0, target > 0  # all foreground classes together, for the figure
        else:
            p = binarise(prediction, job["threshold"], "prediction")
            g = binarise(target, 0.5, "ground truth")
            row.update(evaluate_case(p, g, **options))
        if job["plots"] is not None:
            from seglosses._plots import case_figure, diagram_figure, metrics_text

            folder, case = Path(job["plots"]), job["case"]
            names = [c for c in row if c not in ("case", "status", "error")]
            case_figure(p, g, folder / f"{case}_features.png", case, job["construction"],
                        metrics=metrics_text(row, names), affine=affine, spacing=spacing, axes=job["mip_axis"])
            row["figures"] = [f"{case}_features.png"]  # for the report; not a CSV column
            probabilities = None if job["label_map"] else _fractions(prediction)
            if probabilities is not None:  # a probability map: its persistence says more than its mask
                target_map = _fractions(target)
                diagram_figure(probabilities, g.astype(np.float64) if target_map is None else target_map,
                               folder / f"{case}_diagram.png", case, job["construction"])
                row["figures"].append(f"{case}_diagram.png")
    except Exception as error:  # every failure of a case is reported in its row; the other cases go on
        row.update(status="failed", error=f"{type(error).__name__}: {error}")
    return row


_GROUPS = ("dice", "cldice", "betti_error", "local_betti_error", "betti_matching_error", "hd95")


def column_order(column: str) -> tuple:
    """Sort key of a CSV column: by class, then metric as in ``--metrics``, then dimension (the total last)."""
    match = re.fullmatch(r"(?:class(\d+)_)?(.+?)(?:_(\d))?", column)
    assert match is not None  # the pattern matches any non-empty name
    k, name, d = match.groups()
    group = _GROUPS.index(name) if name in _GROUPS else len(_GROUPS)
    return (int(k) if k else -1, group, int(d) if d else 9, column)


def pair_files(pred_dir: Path, gt_dir: Path) -> list[tuple[str, Path | None, Path | None, str]]:
    """Cases by name: (name, prediction file or None, ground-truth file or None, error or ""), sorted by name.

    Two files of one name in a folder (``a.png`` and ``a.nii.gz``) make that case fail with the reason; the
    other cases go on."""
    errors: dict[str, str] = {}

    def index(folder: Path) -> dict[str, Path]:
        files: dict[str, list[Path]] = {}
        for path in sorted(folder.iterdir()):
            name = case_name(path)
            if name is not None and path.is_file():
                files.setdefault(name, []).append(path)
        for name, paths in files.items():
            if len(paths) > 1:
                errors[name] = f"two files for this case in {folder}: {', '.join(p.name for p in paths)}"
        return {name: paths[0] for name, paths in files.items()}

    preds, gts = index(pred_dir), index(gt_dir)
    return [(name, preds.get(name), gts.get(name), errors.get(name, "")) for name in sorted(set(preds) | set(gts))]


def summarise(rows: list[dict], columns: list[str]) -> str:
    """Mean ± std of every metric over the cases that finished (NaN values left out and counted)."""
    ok = [r for r in rows if r["status"] == "ok"]
    width = max([28] + [len(c) + 2 for c in columns])
    lines = [f"{'metric':<{width}}{'mean':>10}{'std':>10}{'n':>6}"]
    for column in columns:
        values = np.array([r[column] for r in ok if column in r], dtype=np.float64)
        values = values[~np.isnan(values)]
        if len(values):
            lines.append(f"{column:<{width}}{values.mean():>10.4f}{values.std():>10.4f}{len(values):>6}")
        else:
            lines.append(f"{column:<{width}}{'nan':>10}{'nan':>10}{0:>6}")
    failed = len(rows) - len(ok)
    lines.append(f"{len(ok)} of {len(rows)} cases evaluated" + (f", {failed} failed (see the CSV)" if failed else ""))
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    pred_dir, gt_dir, out = Path(args.pred), Path(args.gt), Path(args.out)
    for flag, folder in (("--pred", pred_dir), ("--gt", gt_dir)):
        if not folder.is_dir():
            print(f"seglosses evaluate: {flag} {folder} is not a folder", file=sys.stderr)
            return 2
    if out.is_dir():
        print(f"seglosses evaluate: --out {out} is a folder; name the CSV file to write", file=sys.stderr)
        return 2
    if out.exists() and not args.overwrite:
        print(f"seglosses evaluate: {out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    if out.resolve().parent in (pred_dir.resolve(), gt_dir.resolve()):
        print(f"seglosses evaluate: write {out.name} outside the input folders", file=sys.stderr)
        return 2
    plots = Path(args.plots) if args.plots else None
    if plots is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print('seglosses evaluate: --plots needs matplotlib: pip install "seglosses[plots]"', file=sys.stderr)
            return 2
        if plots.exists() and any(plots.iterdir()) and not args.overwrite:
            print(f"seglosses evaluate: {plots} is not empty; pass --overwrite to write into it", file=sys.stderr)
            return 2
        plots.mkdir(parents=True, exist_ok=True)
    cases = pair_files(pred_dir, gt_dir)
    if not cases:
        print(f"seglosses evaluate: no images ({', '.join(IMAGE_SUFFIXES)}) in {pred_dir} or {gt_dir}",
              file=sys.stderr)
        return 2
    jobs = [
        dict(case=name, pred=p, gt=g, metrics=tuple(args.metrics), construction=args.construction,
             tile_size=args.tile_size, threshold=args.threshold, label_map=args.label_map,
             plots=None if plots is None else str(plots), mip_axis=args.mip_axis, error=error,
             # The cores shared among the workers: a large 3D matching spreads over its share.
             threads=max(1, (os.cpu_count() or 1) // args.workers))
        for name, p, g, error in cases
    ]
    rows: list[dict] = []
    pool = None
    results: Iterator[dict]
    if args.workers == 1:
        results = map(evaluate_pair, jobs)
    else:
        # Spawned workers: no fork of a process whose torch/OpenMP threads may hold locks. Ctrl-C reaches the whole
        # process group; the workers are started (by map's submissions) while SIGINT is ignored, which they inherit
        # from birth, so this process alone stops, cancelling the cases not started, without their tracebacks.
        pool = ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("spawn"))
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            results = pool.map(evaluate_pair, jobs)
        finally:
            signal.signal(signal.SIGINT, handler)
    try:
        with progress_bar(len(jobs), "evaluate", quiet=args.quiet, unit="case") as bar:
            for job, row in zip(jobs, results):
                rows.append(row)
                bar.set_postfix_str(job["case"], refresh=False)
                bar.update()
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if pool is not None:
        pool.shutdown()
    columns = []
    for row in rows:
        columns += [c for c in row if c not in ("case", "status", "error", "figures") and c not in columns]
    columns.sort(key=column_order)  # 2D and 3D cases mixed: betti_error_2 beside betti_error_1, not after hd95
    write_csv(out, rows, ["case", "status", "error", *columns])  # a row's "figures" are for the report only
    print(summarise(rows, columns))
    for row in rows:
        if row["status"] != "ok":
            print(f"failed: {row['case']}: {row['error']}", file=sys.stderr)
    if plots is not None:
        from seglosses._plots import summary_figure
        from seglosses._report import write_report

        summary_figure(rows, columns, plots / "summary.png")
        settings = {"predictions": str(pred_dir), "ground truth": str(gt_dir), "construction": args.construction,
                    "threshold": f"{args.threshold:g}", "label maps": "yes" if args.label_map else "no"}
        report = write_report(plots, rows, columns, settings)
        print(f"report: {report}")
    print(f"per-case results: {out}")
    return 1 if any(row["status"] != "ok" for row in rows) else 0


def fraction(text: str) -> float:
    """A threshold strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), but got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), but got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, but got {text}")
    return value


def add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="metrics of predictions against ground truth on disk",
        description="Pair prediction and ground-truth files by name (NIfTI, PNG, TIF, GIF), compute Dice, clDice, "
        "Betti errors, local Betti errors, the Betti matching error and HD95 per case, write a CSV and print a "
        "summary. Exit code 1 when a case failed (its reason is in the CSV), 2 for a usage error.",
    )
    parser.add_argument("--pred", required=True, help="folder of predictions (masks or probabilities)")
    parser.add_argument("--gt", required=True, help="folder of ground-truth labels")
    parser.add_argument("--out", required=True, help="per-case CSV to write")
    parser.add_argument("--metrics", nargs="+", choices=METRIC_NAMES, default=list(METRIC_NAMES), metavar="METRIC",
                        help=f"metrics to compute, any of {', '.join(METRIC_NAMES)} (default: all)")
    parser.add_argument("--construction", choices=CONSTRUCTIONS, default=DEFAULT_CONSTRUCTION,
                        help="T: pixels as top cells, foreground 8/26-connected (default); V: 4/6-connected")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    parser.add_argument("--threshold", type=fraction, default=0.5,
                        help="for probability maps, in (0, 1); uint8/uint16 maps are fractions of their range "
                        "(default 0.5)")
    parser.add_argument("--label-map", action="store_true", help="integer label maps: metrics per class")
    parser.add_argument("--tile-size", type=positive_int, default=128, help="local Betti error tiles (default 128)")
    parser.add_argument("--plots", help="folder for an HTML report (index.html: summary table and plots, every "
                        "case's figure and metrics, sortable), per-case agreement maps with unmatched features marked "
                        "and, for probability maps, persistence diagrams")
    parser.add_argument("--mip-axis", choices=("all", "x", "y", "z"), default="all",
                        help="3D figures: maximum-intensity projections along each axis of the volume turned to RAS "
                        "(NIfTI affine; array axes 0, 1, 2 without one), or along one (default all)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing CSV / write into plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (results and errors still print)")
    parser.set_defaults(run=run_evaluate)


# ---------------------------------------------------------------------------------------------------------- the tool
def build_parser() -> argparse.ArgumentParser:
    from seglosses import __version__

    parser = argparse.ArgumentParser(prog="seglosses", description="Segmentation losses and topology metrics.")
    parser.add_argument("--version", action="version", version=f"seglosses {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_evaluate(subparsers)
    from seglosses.demo import add_demo

    add_demo(subparsers)
    from seglosses._nnunet_cli import add_nnunet

    add_nnunet(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; its exit code: 0 done, 1 some case failed, 2 usage error, 130 interrupted (Ctrl-C)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        # The shell's convention for SIGINT (128 + 2), with a line instead of a traceback. Nothing half-written
        # is left behind: results are written only once every case is done. An object the interrupt caught half
        # built (an image reader inside its constructor, seen in CI) may fail in its destructor when collected:
        # Python would print that as an ignored exception with its traceback, so such reports are dropped now.
        sys.unraisablehook = lambda unraisable: None
        sys.stderr.write(f"\nseglosses {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
