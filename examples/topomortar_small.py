"""The small TopoMortar protocol end to end on the CPU: the weight sweep on the holdout images, the choice of weights,
three seeds per loss on the validation images, and the table (the one in the README).

    python examples/topomortar_small.py --out topomortar-small            # about 2 hours on 2 cores (23 runs)
    python examples/topomortar_small.py --out topomortar-small --jobs 1   # one run at a time

Runs already finished in --out (their run.json exists) are not run again, so an interrupted call resumes. Each run
is `examples/train_topomortar.py --protocol small` with one thread (--jobs runs side by side).

1. Sweep, seed 0, scored on the 10 holdout training images (never trained on in this protocol): Dice+CE alone and
   with each topology term at two weights: clDice 0.5 and 1 (10 soft-skeleton iterations), Skeleton Recall 0.5
   and 1, Betti matching 0.01 and 0.1.
2. Choice (examples/topomortar_table.py --choose): per term, the weight with the lowest mean Betti matching error
   on the holdout images (ties: lower Betti-0 + Betti-1 error). The combination is Dice+CE plus the chosen terms of
   the two terms with the lowest holdout Betti matching error, also run on the holdout images.
3. Report: Dice+CE, each chosen term and the combination, seeds 0, 1, 2, scored on the 20 validation images.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from topomortar_table import choose, read_run, table  # noqa: E402

SWEEP = ["dice_ce", "dice_ce+0.5*cldice", "dice_ce+1*cldice", "dice_ce+0.5*skeleton_recall",
         "dice_ce+1*skeleton_recall", "dice_ce+0.01*betti_matching", "dice_ce+0.1*betti_matching"]
SEEDS = (0, 1, 2)


def folder(out: Path, split: str, loss: str, seed: int) -> Path:
    return out / split / f"{loss.replace('+', '_').replace('*', 'x')}-s{seed}"


def run_all(jobs: list[tuple[str, str, int]], out: Path, workers: int, extra: list[str]) -> list[Path]:
    """Run (split, loss, seed) jobs that have not finished, ``workers`` at a time; their folders."""

    def one(job: tuple[str, str, int]) -> Path:
        split, loss, seed = job
        target = folder(out, split, loss, seed)
        if (target / "run.json").is_file():
            return target
        target.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(HERE / "train_topomortar.py"), "--protocol", "small", "--split", split,
                   "--seed", str(seed), "--loss", loss, "--out", str(target), "--overwrite", *extra]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        with open(target.parent / f"{target.name}.log", "w") as log:  # (names hold dots: not with_suffix)
            print(f"  {split} seed {seed}: {loss}", flush=True)
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
        return target

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, jobs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("topomortar-small"))
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side, one thread each (default 2)")
    parser.add_argument("--data", help="folder holding topomortar/ (default: $SEGLOSSES_DATA, ../shared/data)")
    parser.add_argument("--steps", type=int, help="training steps per run (default: the protocol's 1,000)")
    args = parser.parse_args(argv)
    extra = (["--data", args.data] if args.data else []) + (["--steps", str(args.steps)] if args.steps else [])

    print("1. sweep on the holdout images")
    sweep = [read_run(f) for f in run_all([("holdout", loss, 0) for loss in SWEEP], args.out, args.jobs, extra)]
    chosen = choose(sweep)
    ranked = sorted(chosen, key=lambda term: next(r["betti_matching_error"] for r in sweep if r["loss"] == chosen[term]))
    combination = "+".join([chosen[ranked[0]], *(chosen[t].split("+", 1)[1] for t in ranked[1:2])])
    sweep += [read_run(f) for f in run_all([("holdout", combination, 0)], args.out, args.jobs, extra)]
    print(table(sweep))
    print(f"\n2. chosen: {', '.join(chosen.values())}; combination: {combination}")

    print("\n3. three seeds on the validation images")
    losses = ["dice_ce", *chosen.values(), combination]
    report = run_all([("val", loss, seed) for seed in SEEDS for loss in losses], args.out, args.jobs, extra)
    print(table([read_run(f) for f in report]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
