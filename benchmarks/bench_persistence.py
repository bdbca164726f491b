"""Persistence barcodes: seglosses vs gudhi, cripser (CubicalRipser) and Betti-Matching-3D, side by side.

Every tool computes the sublevel filtration of the same float64 array ``x = 1 - p`` (the superlevel
filtration of the likelihood ``p``) on the inputs of ANCHORS.md (benchmarks/inputs.py, fixed seed),
single-threaded, in rounds that run every tool once, back to back; the script prints each tool's
median seconds and, per peer, the median over rounds of that round's ratio peer / ours:
- V-construction (pixels as vertices): ours vs cripser, Betti-Matching-3D ``compute_barcode`` and
  gudhi ``CubicalComplex(vertices=)``;
- T-construction (pixels as top cells): ours vs gudhi ``CubicalComplex(top_dimensional_cells=)``.
Then the peak extra memory at 128^3 (each tool in its own process: max RSS after the run minus max RSS
before it) and a batch of 8 volumes of 64^3 with 1 and 2 threads.

Usage (from the repository root):
    python benchmarks/bench_persistence.py --quick      # 2D and 64^3 only, about a minute
    python benchmarks/bench_persistence.py              # every input of ANCHORS.md, memory, batch
    python benchmarks/bench_persistence.py --cpu-time   # CPU seconds: steadier when others load the machine
Betti-Matching-3D is loaded from tests/oracles/_bin (python tests/oracles/fetch_betti_matching.py);
a missing peer is reported as "-".
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inputs import CASES, QUICK_CASES, case_name, make_input  # noqa: E402

from seglosses.topology import persistence  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load_bm3d():
    paths = sorted((ROOT / "tests" / "oracles" / "_bin").glob("betti_matching*.so"))
    if not paths:
        return None
    spec = importlib.util.spec_from_file_location("betti_matching", paths[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peers() -> dict[str, callable]:
    """name -> function(x) computing the sublevel barcode of x (all dimensions)."""
    tools = {
        "ours V": lambda x: persistence(x, filtration="sublevel", construction="V", num_threads=1),
        "ours T": lambda x: persistence(x, filtration="sublevel", construction="T", num_threads=1),
    }
    try:
        import cripser

        tools["cripser"] = lambda x: cripser.computePH(x, maxdim=x.ndim - 1)
    except ImportError:
        pass
    bm3d = load_bm3d()
    if bm3d is not None:
        tools["BM3D"] = bm3d.compute_barcode
    try:
        import gudhi

        def gudhi_v(x):
            return gudhi.CubicalComplex(vertices=x).persistence(homology_coeff_field=2)

        def gudhi_t(x):
            return gudhi.CubicalComplex(top_dimensional_cells=x).persistence(homology_coeff_field=2)

        tools["gudhi V"] = gudhi_v
        tools["gudhi T"] = gudhi_t
    except ImportError:
        pass
    return tools


def paired_rounds(tools: dict, x, rounds: int, clock=time.perf_counter) -> dict[str, list[float]]:
    """Seconds per tool and round; every round times each tool once, back to back, so a slow spell of a
    shared machine hits all tools of that round alike (the ratios are taken per round)."""
    times = {name: [] for name in tools}
    for _ in range(rounds):
        for name, fn in tools.items():
            start = clock()
            fn(x)
            times[name].append(clock() - start)
    return times


def median_wall_seconds(fn, x, repeats: int) -> float:
    """Median wall seconds of ``fn(x)`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def speed_table(cases, repeats: int, skip: set[str], clock) -> None:
    tools = {k: v for k, v in peers().items() if k not in skip}
    names = list(tools)
    ratios = [("cripser", "ours V"), ("BM3D", "ours V"), ("gudhi V", "ours V"), ("gudhi T", "ours T")]
    ratios = [(a, b) for a, b in ratios if a in tools and b in tools]
    header = ["input", *names, *[f"{a} / {b}" for a, b in ratios]]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for shape, kind in cases:
        x = np.ascontiguousarray(1.0 - make_input(shape, kind))
        n = repeats if np.prod(shape) <= 64**3 else max(1, repeats // 3)
        if n > 1:
            for fn in tools.values():
                fn(x)  # warm-up (imports, page faults)
        times = paired_rounds(tools, x, n, clock)
        seconds = {k: statistics.median(v) for k, v in times.items()}
        row = [case_name(shape, kind), *[fmt(seconds[k]) for k in names]]
        # The median over rounds of the per-round ratio.
        row += [f"{statistics.median(p / q for p, q in zip(times[a], times[b])):.2f}x" for a, b in ratios]
        print("| " + " | ".join(row) + " |", flush=True)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory_child(tool: str, size: int, kind: str) -> None:
    """Run one tool once in this process and print the peak extra RSS in MB (JSON): the high-water mark
    during the call (reset just before it through /proc/self/clear_refs) minus the RSS before it."""
    x = np.ascontiguousarray(1.0 - make_input((size,) * 3, kind))
    fn = peers()[tool]
    fn(np.random.default_rng(0).random((8, 8, 8)))  # load the module's code before the baseline
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before, peak = _status_kb("VmRSS"), lambda: _status_kb("VmHWM")
    except OSError:  # no /proc: the process-lifetime peak (an underestimate if setup peaked higher)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    start = time.perf_counter()
    fn(x)
    seconds = time.perf_counter() - start
    print(json.dumps({"tool": tool, "extra_mb": (peak() - before) / 1024.0, "seconds": seconds}))


def memory_table(size: int, kind: str, tools: list[str]) -> None:
    print(f"\nPeak extra memory, {size}^3 {kind} (separate processes, max RSS after - before):")
    results = {}
    for tool in tools:
        cmd = [sys.executable, __file__, "--memory-child", tool, "--memory-size", str(size), "--memory-kind", kind]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if proc.returncode != 0:
            print(f"  {tool}: failed ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode})")
            continue
        results[tool] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"  {tool}: {results[tool]['extra_mb']:.0f} MB ({results[tool]['seconds']:.2f} s)", flush=True)
    if results.get("BM3D", {}).get("extra_mb", 0) > 0 and "ours V" in results:
        print(f"  ours V / BM3D memory: {results['ours V']['extra_mb'] / results['BM3D']['extra_mb']:.2f}")


def batch_table(size: int, count: int) -> None:
    volumes = [np.ascontiguousarray(1.0 - make_input((size,) * 3, "noise", seed=s)) for s in range(count)]
    print(f"\nBatch of {count} volumes of {size}^3 noise (V-construction), median of 3:")
    timings = {}
    for threads in (1, 2):
        cpu = time.process_time()
        timings[threads] = median_wall_seconds(
            lambda v, n=threads: persistence(v, filtration="sublevel", construction="V", num_threads=n), volumes, 3
        )
        cpu = (time.process_time() - cpu) / 3
        # CPU / wall near the thread count shows the threads ran in parallel (GIL released); a busy
        # machine lowers it.
        print(f"  ours, {threads} thread(s): {timings[threads]:.2f} s wall, CPU / wall {cpu / timings[threads]:.2f}")
    print(f"  speed-up 1 -> 2 threads: {timings[1] / timings[2]:.2f}x (cores: {os.cpu_count()})")
    bm3d = load_bm3d()
    if bm3d is not None:
        seconds = median_wall_seconds(bm3d.compute_barcode, volumes, 1)
        print(f"  BM3D compute_barcode(list) (its own std::async parallelism): {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2D and 64^3 inputs only; no memory or batch runs")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per tool and input (fewer above 64^3)")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with the process CPU clock instead of the wall clock (fairer on a busy machine; every "
        "tool runs single-threaded here)",
    )
    parser.add_argument(
        "--sections", default="speed,memory,batch", help="comma-separated parts to run (speed, memory, batch)"
    )
    parser.add_argument("--only", help="run only the inputs whose name contains this text, e.g. '128^3'")
    parser.add_argument("--skip", default="", help="comma-separated tools to leave out, e.g. 'gudhi T,gudhi V'")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-size", type=int, default=128, help=argparse.SUPPRESS)
    parser.add_argument("--memory-kind", default="noise", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.memory_size, args.memory_kind)
        return
    import platform

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    sections = {s.strip() for s in args.sections.split(",")}
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if "speed" in sections:
        clock_name = "CPU" if args.cpu_time else "wall"
        print(f"Median {clock_name} seconds (single thread), sublevel filtration of 1 - p:\n")
        clock = time.process_time if args.cpu_time else time.perf_counter
        cases = QUICK_CASES if args.quick else CASES
        if args.only:
            cases = [(shape, kind) for shape, kind in cases if args.only in case_name(shape, kind)]
        speed_table(cases, args.repeats, skip, clock)
    if args.quick:
        return
    if "memory" in sections:
        memory_table(128, "noise", [t for t in ("ours V", "ours T", "cripser", "BM3D") if t not in skip])
    if "batch" in sections:
        batch_table(64, 8)


if __name__ == "__main__":
    main()
