"""Summarise runs of examples/train_topomortar.py: mean ± std over seeds per loss, and the weight sweep's choice.

    python examples/topomortar_table.py runs/final/*            # one row per loss: mean ± std over its runs
    python examples/topomortar_table.py --choose runs/sweep/*   # per topology loss, the weight to report

Each run folder holds results.csv (one row per image) and run.json (its settings). A run's score is the mean over
its images; the table gives, per loss spec, the mean and the standard deviation (ddof 1) of those scores over
the runs (seeds), so the spread is the seed-to-seed spread, as TopoMortar reports it.

--choose picks, for every topology term (cldice, skeleton_recall, betti_matching, ...), the weight of the spec
``dice_ce+W*term`` with the lowest mean Betti matching error on the runs given (the holdout images of the
sweep), ties to the lower Betti-0 + Betti-1 error; it prints the chosen specs.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

COLUMNS = ("dice", "cldice", "betti_error_0", "betti_error_1", "betti_matching_error", "hd95")
HEADERS = ("Dice", "clDice", "Betti-0 error", "Betti-1 error", "BM error", "HD95")


def read_run(folder: Path) -> dict:
    """Settings of one run and the mean of every summary column over its images."""
    settings = json.loads((folder / "run.json").read_text())
    with open(folder / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    means = {}
    for column in COLUMNS:
        values = np.array([float(r[column]) for r in rows if r.get(column) not in (None, "")], float)
        means[column] = float(np.nanmean(values)) if values.size else float("nan")
    return {**settings, **means, "images": len(rows)}


def by_loss(runs: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(run["loss"], []).append(run)
    return groups


def table(runs: list[dict]) -> str:
    """A Markdown table: one row per loss spec, mean ± std over its runs."""
    lines = ["| loss | runs | " + " | ".join(HEADERS) + " | minutes per run |",
             "|---|---|" + "---|" * len(HEADERS) + "---|"]
    for loss, members in by_loss(runs).items():
        cells = []
        for column in COLUMNS:
            values = np.array([m[column] for m in members])
            digits = 3 if column in ("dice", "cldice") else 2
            spread = f" ± {values.std(ddof=1):.{digits}f}" if len(values) > 1 else ""
            cells.append(f"{values.mean():.{digits}f}{spread}")
        minutes = np.mean([m["seconds"] for m in members]) / 60
        lines.append(f"| {loss} | {len(members)} | " + " | ".join(cells) + f" | {minutes:.1f} |")
    return "\n".join(lines)


def choose(runs: list[dict]) -> dict[str, str]:
    """Per topology term, the spec ``dice_ce+W*term`` with the lowest Betti matching error (see the module doc)."""
    best: dict[str, tuple] = {}
    for loss, members in by_loss(runs).items():
        terms = loss.split("+")
        if len(terms) != 2 or terms[0] != "dice_ce":
            continue
        term = terms[1].split("*")[-1]
        score = (np.mean([m["betti_matching_error"] for m in members]),
                 np.mean([m["betti_error_0"] + m["betti_error_1"] for m in members]))
        if term not in best or score < best[term][0]:
            best[term] = (score, loss)
    return {term: loss for term, (_, loss) in sorted(best.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (each with results.csv and run.json)")
    parser.add_argument("--choose", action="store_true", help="print the weight chosen per topology term")
    args = parser.parse_args(argv)
    folders = [f for f in args.runs if (f / "run.json").is_file() and (f / "results.csv").is_file()]
    skipped = sorted(set(args.runs) - set(folders))
    if skipped:
        print(f"skipped (no run.json and results.csv): {', '.join(map(str, skipped))}", file=sys.stderr)
    if not folders:
        parser.error("no finished runs among the folders given")
    runs = [read_run(f) for f in folders]
    splits = sorted({(r["split"], r["images"]) for r in runs})
    print(f"{len(runs)} runs; images scored: " + ", ".join(f"{s} ({n})" for s, n in splits) + "\n")
    print(table(runs))
    if args.choose:
        print("\nchosen on these runs (lowest Betti matching error):")
        for term, loss in choose(runs).items():
            print(f"  {term:<18}{loss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
