"""Betti matching: seglosses (one thread) vs Betti-Matching-3D's compute_matching, side by side.

Inputs: the ANCHORS.md cases of benchmarks/inputs.py (fixed seed). A matching needs a pair: for
``noise`` two independent uniform images (seeds 0 and 1); for ``lik``/``clean`` the likelihood map as
the prediction and its vessel mask as the target (a training-time pair). Both sides get the superlevel
filtration (Betti-Matching-3D gets ``1 - p``, its sublevel form). Each case also checks that the two
implementations agree on the matched/unmatched counts.

Betti-Matching-3D is the compiled module from the topolosses 0.2.0 wheel (tests/oracles/_bin; fetch it
with tests/oracles/fetch_betti_matching.py). It runs the H1 barcodes of a 3D pair on several threads
(std::async) while ours runs a pair on one thread, so the timings run pinned to one core (the goals
are single-threaded; --all-cores lifts that), in rounds of one call each, back to back.

Usage:
    python benchmarks/bench_matching.py --quick      # 2D and 64^3 only, one repeat
    python benchmarks/bench_matching.py              # every case, median of --repeats (calls over
                                                     # 5 s run once)
    python benchmarks/bench_matching.py --memory     # also peak RSS per call, in fresh subprocesses
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from inputs import CASES, QUICK_CASES, case_name, make_input, vessel_mask  # noqa: E402
from oracles.betti_matching_3d import load as load_oracle  # noqa: E402

from seglosses.topology import betti_matching  # noqa: E402


def make_pair(shape: tuple[int, ...], kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "noise":
        return make_input(shape, "noise", seed=0), make_input(shape, "noise", seed=1)
    return make_input(shape, kind), vessel_mask(tuple(shape)).astype(np.float64)


def run_ours(prediction: np.ndarray, target: np.ndarray):
    return betti_matching(prediction, target, construction="V", num_threads=1)


def run_bm3d(bm3d, prediction: np.ndarray, target: np.ndarray):
    return bm3d.compute_matching(1.0 - prediction, 1.0 - target)


def timed(fn, repeats: int, slow_s: float = 5.0):
    """(median seconds, last result). A call slower than `slow_s` is not repeated (shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if times[-1] > slow_s:
            break
    return statistics.median(times), result


def peak_memory_mb(which: str, shape: tuple[int, ...], kind: str) -> float:
    """Peak RSS growth (MB) of one call, in a fresh interpreter after the inputs are built: the high-water mark
    (VmHWM, reset to the current RSS through /proc/self/clear_refs just before the call; building the inputs
    would otherwise already have set a higher peak) minus the RSS before the call."""
    code = f"""
import sys
from pathlib import Path
sys.path.insert(0, {str(HERE)!r}); sys.path.insert(0, {str(HERE.parent / 'tests')!r})
from bench_matching import make_pair, run_ours, run_bm3d, load_oracle
p, t = make_pair({tuple(shape)!r}, {kind!r})
bm3d = load_oracle()[0]
run = (lambda: run_ours(p, t)) if {which!r} == "ours" else (lambda: run_bm3d(bm3d, p, t))
def status_kb(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key + ":"))
    return int(line.split()[1])
Path("/proc/self/clear_refs").write_text("5")
before = status_kb("VmRSS")
run()
print((status_kb("VmHWM") - before) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2D and 64^3 cases only, one repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per case (median)")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS growth per call")
    parser.add_argument("--batch", type=int, default=0, help="also time a batch of this many 64^3 'lik' pairs on 1 thread and on all cores")
    parser.add_argument("--only", help="run only the cases whose name contains this text, e.g. '128^3'")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument(
        "--all-cores",
        action="store_true",
        help="time on every core (default: pinned to one core, so Betti-Matching-3D's std::async threads share it)",
    )
    args = parser.parse_args()
    cores = os.sched_getaffinity(0)
    if not args.all_cores:
        # The goals are single-threaded: ours runs a pair on one thread, Betti-Matching-3D spreads the
        # H1 barcodes of a 3D pair over std::async threads. Pinned to one core, both get one.
        os.sched_setaffinity(0, {min(cores)})

    bm3d, reason = load_oracle()
    if bm3d is None:
        print(f"Betti-Matching-3D unavailable: {reason}", file=sys.stderr)
        return 1
    cases = QUICK_CASES if args.quick else CASES
    if args.only:
        cases = [(shape, kind) for shape, kind in cases if args.only in case_name(shape, kind)]
    repeats = 1 if args.quick else args.repeats
    header = f"{'case':<14} {'ours (s)':>9} {'BM3D (s)':>9} {'BM3D/ours':>10}"
    if args.memory:
        header += f" {'ours MB':>8} {'BM3D MB':>8} {'mem ratio':>9}"
    print(header)
    results = []
    for shape, kind in cases:
        prediction, target = make_pair(shape, kind)
        # Rounds of one call each, back to back, so a slow spell of a shared machine hits both alike;
        # the ratio is the median of the per-round ratios.
        ours_times, ref_times = [], []
        for _ in range(repeats):
            t, ours = timed(lambda p=prediction, g=target: run_ours(p, g), 1)
            ours_times.append(t)
            t, ref = timed(lambda p=prediction, g=target: run_bm3d(bm3d, p, g), 1)
            ref_times.append(t)
            if t > 5.0:  # slow cases are not repeated
                break
        t_ours, t_ref = statistics.median(ours_times), statistics.median(ref_times)
        ratio = statistics.median(r / o for r, o in zip(ref_times, ours_times))
        agree = (
            ours.num_matched.tolist() == list(ref.num_matched)
            and ours.num_unmatched_prediction.tolist() == list(ref.num_unmatched_input1)
            and ours.num_unmatched_target.tolist() == list(ref.num_unmatched_input2)
        )
        row = {"case": case_name(shape, kind), "ours_s": t_ours, "bm3d_s": t_ref, "ratio": ratio, "agree": agree}
        line = f"{row['case']:<14} {t_ours:9.3f} {t_ref:9.3f} {ratio:9.2f}x"
        if args.memory:
            row["ours_mb"] = peak_memory_mb("ours", shape, kind)
            row["bm3d_mb"] = peak_memory_mb("bm3d", shape, kind)
            line += f" {row['ours_mb']:8.0f} {row['bm3d_mb']:8.0f} {row['ours_mb'] / max(row['bm3d_mb'], 1):8.2f}"
        if not agree:
            line += "  COUNTS DIFFER"
        print(line, flush=True)
        results.append(row)
    if args.batch:
        os.sched_setaffinity(0, cores)
        prediction, target = make_pair((64, 64, 64), "lik")
        batch_p, batch_t = [prediction] * args.batch, [target] * args.batch
        t_one, _ = timed(lambda: betti_matching(batch_p, batch_t, construction="V", num_threads=1), 1)
        t_all, _ = timed(lambda: betti_matching(batch_p, batch_t, construction="V"), 1)
        print(f"batch of {args.batch} x 64^3 lik: 1 thread {t_one:.2f} s, all {os.cpu_count()} cores {t_all:.2f} s, speed-up {t_one / t_all:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["agree"] for r in results) else 2


if __name__ == "__main__":
    raise SystemExit(main())
