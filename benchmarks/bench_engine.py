"""The engine's own goals: construction T against V, one volume on several threads, memory per voxel.

Three parts (``--sections``, all by default):

- ``tv``: seconds of construction T and V side by side, in rounds (each round runs both once, back to
  back; the ratio is the median over rounds of that round's T / V), single-threaded, for barcodes
  (superlevel filtration of the image, as the Betti metrics and losses use it) and for matchings.
  Barcode inputs: the ANCHORS.md kinds (noise, lik, clean) and the families that exposed T's slow
  paths: a random binary mask (``binary``, what ``betti_numbers`` meets on early-training predictions)
  and a four-level quantized likelihood (``plateau``). Matching pairs: ``noise`` against a random
  binary mask, ``lik``/``clean``/``plateau`` against the vessel mask they were made from, ``noise``
  against independent noise.
- ``threads``: one volume of ``--threads-size``^3 (192 by default) on 1 and 2 threads, each run in a
  fresh process (wall seconds; barcode of noise and lik, matching of lik against its mask).
- ``memory``: peak extra resident memory of one call in a fresh process (high-water mark reset just
  before the call, minus the resident memory before it), per voxel: a barcode of ``--memory-size``^3
  noise (256 by default) and a matching of ``--matching-memory-size``^3 noise against a random binary
  mask (96 by default), both constructions, one thread.

Usage (from the repository root, on an otherwise idle machine):
    python benchmarks/bench_engine.py                     # everything, about 15 minutes on 2 cores
    python benchmarks/bench_engine.py --sections tv --sizes 64
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
from inputs import make_input, vessel_mask  # noqa: E402

from seglosses.topology import betti_matching, persistence  # noqa: E402

BARCODE_KINDS = ("noise", "lik", "clean", "binary", "plateau")
MATCHING_PAIRS = ("noise-binary", "lik-mask", "clean-mask", "plateau-mask", "noise-noise")


def matching_pair(shape: tuple[int, ...], name: str) -> tuple[np.ndarray, np.ndarray]:
    kind, target = name.split("-")
    prediction = make_input(shape, kind, seed=0)
    if target == "mask":
        return prediction, vessel_mask(tuple(shape)).astype(np.float64)
    return prediction, make_input(shape, target, seed=1)


def run(what: str, x, y, construction: str, threads: int = 1):
    if what == "barcode":
        return persistence(x, construction=construction, num_threads=threads)
    return betti_matching(x, y, construction=construction, num_threads=threads)


def tv_table(sizes: list[int], rounds: int) -> None:
    print("Construction T vs V, single thread, median seconds over rounds (ratio: median of per-round T / V):\n")
    print(f"{'what':<9} {'input':<22} {'V (s)':>8} {'T (s)':>8} {'T / V':>7}")
    for what, names in (("barcode", BARCODE_KINDS), ("matching", MATCHING_PAIRS)):
        for size in sizes:
            shape = (size,) * 3
            for name in names:
                x, y = (make_input(shape, name), None) if what == "barcode" else matching_pair(shape, name)
                times = {"V": [], "T": []}
                for _ in range(rounds):
                    for c in ("V", "T"):
                        start = time.perf_counter()
                        run(what, x, y, c)
                        times[c].append(time.perf_counter() - start)
                ratio = statistics.median(t / v for t, v in zip(times["T"], times["V"]))
                v, t = statistics.median(times["V"]), statistics.median(times["T"])
                print(f"{what:<9} {f'{size}^3 {name}':<22} {v:8.3f} {t:8.3f} {ratio:6.2f}x", flush=True)


CHILD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {here!r})
from bench_engine import make_input, matching_pair, run
what, name, size, construction, threads = {args!r}
shape = (size,) * 3
x, y = (make_input(shape, name), None) if what == "barcode" else matching_pair(shape, name)
run(what, x[:8, :8, :8].copy(), None if y is None else y[:8, :8, :8].copy(), construction)  # load the code
def kb(key):
    return int(next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key + ":")).split()[1])
Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
before = kb("VmRSS")
start = time.perf_counter()
run(what, x, y, construction, threads)
print(json.dumps({{"seconds": time.perf_counter() - start, "extra_mb": (kb("VmHWM") - before) / 1024}}))
"""


def child(what: str, name: str, size: int, construction: str, threads: int) -> dict:
    code = CHILD.format(here=str(HERE), args=(what, name, size, construction, threads))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def threads_table(size: int) -> None:
    print(f"\nOne {size}^3 volume on 1 and 2 threads (fresh processes, wall seconds, construction T):")
    for what, name in (("barcode", "noise"), ("barcode", "lik"), ("matching", "lik-mask")):
        one = child(what, name, size, "T", 1)["seconds"]
        two = child(what, name, size, "T", 2)["seconds"]
        print(f"  {what} {name}: 1 thread {one:.2f} s, 2 threads {two:.2f} s, speed-up {one / two:.2f}x", flush=True)


def memory_table(size: int, matching_size: int) -> None:
    print("\nPeak extra memory of one call (fresh processes, one thread):")
    for what, name, n in (("barcode", "noise", size), ("matching", "noise-binary", matching_size)):
        for c in ("V", "T"):
            r = child(what, name, n, c, 1)
            per_voxel = r["extra_mb"] * 2**20 / n**3
            print(f"  {what} {n}^3 {name} {c}: {r['extra_mb']:.0f} MB, {per_voxel:.0f} bytes per voxel ({r['seconds']:.1f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="tv,threads,memory", help="comma-separated: tv, threads, memory")
    parser.add_argument("--sizes", default="64,96", help="cube sizes of the T/V table")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the T/V table")
    parser.add_argument("--threads-size", type=int, default=192)
    parser.add_argument("--memory-size", type=int, default=256)
    parser.add_argument("--matching-memory-size", type=int, default=96)
    args = parser.parse_args()
    import platform

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    sections = {s.strip() for s in args.sections.split(",")}
    if "tv" in sections:
        tv_table([int(s) for s in args.sizes.split(",")], args.rounds)
    if "threads" in sections:
        threads_table(args.threads_size)
    if "memory" in sections:
        memory_table(args.memory_size, args.matching_memory_size)


if __name__ == "__main__":
    main()
