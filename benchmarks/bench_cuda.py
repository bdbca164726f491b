"""The CUDA engine (``persistence`` / ``betti_matching`` with ``backend="cuda"``) against the CPU engine, on a GPU.

    python benchmarks/bench_cuda.py                 # equality on --cases random inputs, then the timing tables
    python benchmarks/bench_cuda.py --cases 0 --batch 16 --side 512 --batch-3d 8 --sides-3d 64 128

1. Equality: ``--cases`` random 2D images (noise, few-valued plateaus with ties, binary masks; sides 2-96) and
   ``--cases`` / 5 random 3D volumes (sides 2-24, some with a flat axis; H1 by the hybrid) whose GPU barcodes must
   equal the CPU engine's, bar by bar and critical pixel by critical pixel, in T and V, superlevel, with the merges
   on the host and on the device alternately. Then Betti matchings: ``--cases`` / 2 random pairs (the same kinds,
   mixed; 2D, planar 3D and, one in four, solid 3D), superlevel and sublevel, T and V, against the CPU engine,
   matched and unmatched pairs, critical cells and values. Prints the counts; exits 1 on a mismatch.
2. Timing, side by side in one run: barcodes and Betti matchings of a batch of ``--batch`` 2D ``--side``^2 maps
   (smooth and noisy likelihoods against a vessel-like mask), then Betti matchings of ``--batch-3d`` volumes of each
   of ``--sides-3d`` (smooth and noisy likelihoods against vessel-like masks), on the GPU (the batch's pairs
   concurrently, CUDA-synchronised; merges on the host and on the device), on the CPU engine with ``num_threads``
   = all cores, and (3D, where its module loads: tests/oracles/_bin or ``--bm3d DIR``) Betti-Matching-3D, one pair
   after another as its API runs them (``--bm3d-pairs`` of the batch timed once, scaled to the batch). Minimum of
   ``--rounds`` interleaved rounds, and the ratios. Then one profiled GPU matching of each 3D size (``SEGLOSSES_PROFILE``): where its time goes.

3. Real label pairs (``--real FILE``, made beforehand where the data are, by ``--export-real FILE``, since the data
   folder does not travel to a GPU machine): TopoMortar's accurate against noisy labels (train and val, 512^2),
   DRIVE's vessel labels against the inverted green channel as a likelihood, vesselNN slices (image against
   label, 2D and as planar 3D) and vesselNN patches (64^2 x up to 32, solid 3D); Betti matchings on the GPU
   against the CPU engine, T and V.

    python benchmarks/bench_cuda.py --export-real .gpu_data/real_pairs.npz   # here: needs ../shared/data
    python benchmarks/bench_cuda.py --real .gpu_data/real_pairs.npz          # on the GPU machine

4. Without a GPU (``--host-part SIDE...``): what the 3D hybrid leaves to the host, its H1 reduction (the emulation's
   host part is the device engine's host code), against the CPU engine's whole call, on noise and a smooth
   likelihood (barcodes) and a likelihood against a mask (matchings): the ratio bounds the GPU engine's gain per
   image at equal host cores.

    python benchmarks/bench_cuda.py --host-part 64 96 [--threads N]

Without a CUDA device (or a package built without CUDA) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from seglosses.topology import betti_matching, persistence


def _image(rng: np.random.Generator, shape: tuple[int, ...], kind: int) -> np.ndarray:
    if kind == 0:
        return rng.random(shape)
    if kind == 1:
        return rng.integers(0, 4, shape).astype(np.float64) / 4
    return (rng.random(shape) > 0.5).astype(np.float64)


def _same(a, b) -> bool:
    return all(np.array_equal(a.intervals(d), b.intervals(d)) and np.array_equal(a.critical_cells(d),
                                                                                  b.critical_cells(d))
               for d in b.dims)


def _shape_3d(rng: np.random.Generator, low: int, high: int) -> tuple[int, ...]:
    shape = [int(v) for v in rng.integers(low, high + 1, 3)]
    if rng.random() < 0.1:
        shape[int(rng.integers(0, 3))] = 1  # a flat axis: planar
    return tuple(shape)


def equality(cases: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    bad = 0
    cases_3d = max(cases // 5, 1) if cases else 0
    for i in range(cases + cases_3d):
        solid = i >= cases
        shape = _shape_3d(rng, 2, 24) if solid else (int(rng.integers(2, 97)), int(rng.integers(2, 97)))
        image = _image(rng, shape, i % 3)
        construction = "TV"[i % 2]
        os.environ["SEGLOSSES_CUDA_MERGE"] = ("host", "device")[(i // 2) % 2]
        gpu = persistence(torch.from_numpy(image).cuda(), construction=construction, backend="cuda")
        if not _same(gpu, persistence(image, construction=construction, backend="cpu")):
            bad += 1
            print(f"MISMATCH barcode case {i}: shape {shape}, kind {i % 3}, construction {construction}, "
                  f"merge on {os.environ['SEGLOSSES_CUDA_MERGE']}")
    os.environ.pop("SEGLOSSES_CUDA_MERGE", None)
    print(f"equality: {cases} 2D and {cases_3d} 3D barcodes against the CPU engine: {bad} mismatches")
    return bad


def _same_matching(a, b) -> bool:
    parts = ("matched_cells", "unmatched_prediction_cells", "unmatched_target_cells", "matched", "unmatched_prediction")
    for d in b.dims:
        for name in parts:
            x, y = getattr(a, name)(d), getattr(b, name)(d)
            if not all(np.array_equal(u, v) for u, v in zip(x if isinstance(x, tuple) else (x,),
                                                          y if isinstance(y, tuple) else (y,))):
                return False
    return all(np.array_equal(u, v) for u, v in zip(a.matched_essential_cells(), b.matched_essential_cells()))


def matching_equality(cases: int, seed: int) -> int:
    rng = np.random.default_rng(seed + 1)
    bad = 0
    for i in range(cases):
        shape = (int(rng.integers(2, 97)), int(rng.integers(2, 97)))
        if i % 10 == 9:
            shape = (shape[0], 1, shape[1])  # planar 3D
        elif i % 4 == 3:
            shape = _shape_3d(rng, 2, 20)  # solid 3D: H1 by the hybrid
        p, g = _image(rng, shape, i % 3), _image(rng, shape, (i // 3) % 3)
        construction, filtration = "TV"[i % 2], ("superlevel", "sublevel")[(i // 2) % 2]
        os.environ["SEGLOSSES_CUDA_MERGE"] = ("host", "device")[(i // 4) % 2]  # both merge modes
        gpu = betti_matching(torch.from_numpy(p).cuda(), torch.from_numpy(g).cuda(), construction=construction,
                             filtration=filtration, backend="cuda")
        cpu = betti_matching(p, g, construction=construction, filtration=filtration, backend="cpu")
        if not _same_matching(gpu, cpu):
            bad += 1
            print(f"MISMATCH matching case {i}: shape {shape}, construction {construction}, {filtration}, "
                  f"merge on {os.environ['SEGLOSSES_CUDA_MERGE']}")
    os.environ.pop("SEGLOSSES_CUDA_MERGE", None)
    print(f"equality: {cases} Betti matchings (2D, planar and solid 3D; merges on the host and on the device, "
          f"alternately) against the CPU engine: {bad} mismatches")
    return bad


def _maps(batch: int, side: int, smooth: bool, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(batch):
        m = rng.random((side, side))
        if smooth:
            for _ in range(8):
                m = (m + np.roll(m, 1, 0) + np.roll(m, -1, 0) + np.roll(m, 1, 1) + np.roll(m, -1, 1)) / 5
        out.append(m)
    return out


def _vessel_mask(side: int, seed: int) -> np.ndarray:
    """A binary mask of random thin curves (random walks, 2-3 pixels wide), vessel-like."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((side, side))
    for _ in range(12):
        y, x = rng.integers(0, side, 2).astype(float)
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(side):
            angle += rng.normal(0, 0.2)
            y, x = (y + np.sin(angle)) % side, (x + np.cos(angle)) % side
            mask[int(y), int(x)] = mask[int(y + 1) % side, int(x)] = 1
    return mask


def _time(call, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` interleaved rounds of ``call(mode)`` for the GPU with its merges on the host and on the
    device, and for the CPU engine on all cores."""
    best = {"host": float("inf"), "device": float("inf"), "cpu": float("inf")}
    for _ in range(rounds):
        for mode in ("host", "device", "cpu"):
            if mode != "cpu":
                os.environ["SEGLOSSES_CUDA_MERGE"] = mode
            torch.cuda.synchronize()
            t = time.perf_counter()
            call(mode)
            torch.cuda.synchronize()
            best[mode] = min(best[mode], time.perf_counter() - t)
    os.environ.pop("SEGLOSSES_CUDA_MERGE", None)
    return best


def timing(batch: int, side: int, rounds: int) -> None:
    threads = os.cpu_count() or 1
    print(f"\n{batch} maps of {side}^2 (T, superlevel); GPU seconds with the union-find merges on the host and on one "
          f"device thread per image, CPU engine on {threads} threads; best of {rounds} interleaved rounds")
    print(f"{'what':<34} {'GPU host-merge':>15} {'GPU dev-merge':>14} {'CPU':>9} {'CPU / best GPU':>15}")
    masks = [_vessel_mask(side, seed=i) for i in range(batch)]
    for smooth in (True, False):
        maps = _maps(batch, side, smooth, seed=1)
        likelihoods = [0.6 * m + 0.4 * x for m, x in zip(masks, maps)]
        device = {name: [torch.from_numpy(m).cuda() for m in arrays]
                  for name, arrays in (("maps", maps), ("lik", likelihoods), ("masks", masks))}
        persistence(device["maps"][:1], backend="cuda")  # warm-up (module load, memory pool)
        betti_matching(device["lik"][:1], device["masks"][:1], backend="cuda")
        kind = "smooth" if smooth else "noise"
        rows = {
            f"barcodes, {kind}": lambda mode, maps=maps, device=device: persistence(maps, backend="cpu", num_threads=threads) if mode == "cpu"
            else persistence(device["maps"], backend="cuda"),
            f"matchings, {kind} vs vessel mask": lambda mode, likelihoods=likelihoods, device=device: betti_matching(
                likelihoods, masks, backend="cpu", num_threads=threads) if mode == "cpu"
            else betti_matching(device["lik"], device["masks"], backend="cuda"),
        }
        for name, call in rows.items():
            best = _time(call, rounds)
            gpu = min(best["host"], best["device"])
            print(f"{name:<34} {best['host']:>15.4f} {best['device']:>14.4f} {best['cpu']:>9.4f} "
                  f"{best['cpu'] / gpu:>14.2f}x")


def _vessel_mask_3d(side: int, seed: int) -> np.ndarray:
    """A binary volume of random thick curves (3D random walks, 2 voxels wide), vessel-like."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((side, side, side))
    for _ in range(10):
        point = rng.uniform(0, side, 3)
        direction = rng.normal(size=3)
        for _ in range(2 * side):
            direction = direction / np.linalg.norm(direction) + rng.normal(0, 0.2, 3)
            point = (point + direction / np.linalg.norm(direction)) % side
            i, j, k = point.astype(int)
            mask[i, j, k] = mask[(i + 1) % side, j, k] = mask[i, (j + 1) % side, k] = 1
    return mask


def _volumes(batch: int, side: int, smooth: bool, seed: int) -> list[np.ndarray]:
    """Likelihood-like volumes against vessel masks: 0.6 mask + 0.4 (smoothed) uniform noise."""
    from scipy.ndimage import uniform_filter

    rng = np.random.default_rng(seed)
    out = []
    for i in range(batch):
        noise = rng.random((side, side, side))
        if smooth:
            noise = uniform_filter(noise, 5)
            noise = (noise - noise.min()) / (noise.max() - noise.min())
        out.append(0.6 * _vessel_mask_3d(side, seed=100 + i) + 0.4 * noise)
    return out


def _load_bm3d(folder: str | None):
    """The Betti-Matching-3D module (tests/oracles/_bin, or a folder holding this interpreter's build), or None."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tests.oracles.betti_matching_3d as oracle

    if folder:
        oracle.BIN = Path(folder)
    module, reason = oracle.load()
    if module is None:
        print(f"Betti-Matching-3D: {reason}")
    return module


def timing_3d(batch: int, sides: list[int], rounds: int, bm3d_folder: str | None, bm3d_pairs: int) -> None:
    threads = os.cpu_count() or 1
    bm3d = _load_bm3d(bm3d_folder)
    print(f"\nBetti matchings of {batch} volumes (V, superlevel; V is Betti-Matching-3D's construction) against "
          f"vessel-like masks; GPU seconds with the merges on the host and on the device (H1 on the host, "
          f"{threads} threads shared by the pairs), CPU engine on {threads} threads, Betti-Matching-3D one pair "
          f"after another ({bm3d_pairs} pairs timed once, scaled to the batch); best of {rounds} interleaved rounds")
    print(f"{'what':<26} {'GPU host-merge':>15} {'GPU dev-merge':>14} {'CPU':>8} {'BM3D':>8} "
          f"{'CPU/GPU':>8} {'BM3D/GPU':>9}")
    for side in sides:
        masks = [_vessel_mask_3d(side, seed=100 + i) for i in range(batch)]
        for smooth in (True, False):
            likelihoods = _volumes(batch, side, smooth, seed=side)
            device_p = [torch.from_numpy(v).cuda() for v in likelihoods]
            device_g = [torch.from_numpy(m).cuda() for m in masks]
            betti_matching(device_p[:1], device_g[:1], construction="V", backend="cuda")  # warm-up

            def call(mode, likelihoods=likelihoods, masks=masks, device_p=device_p, device_g=device_g):
                if mode == "cpu":
                    return betti_matching(likelihoods, masks, construction="V", backend="cpu", num_threads=threads)
                return betti_matching(device_p, device_g, construction="V", backend="cuda")

            best = _time(call, rounds)
            gpu = min(best["host"], best["device"])
            bm = float("nan")
            if bm3d is not None:  # the first bm3d_pairs pairs, timed; the batch's time scaled from them
                timed = min(bm3d_pairs, batch)
                t = time.perf_counter()
                for p, g in zip(likelihoods[:timed], masks[:timed]):
                    bm3d.compute_matching(1.0 - p, 1.0 - g)
                bm = (time.perf_counter() - t) * batch / timed
            name = f"{batch} x {side}^3 {'smooth' if smooth else 'noise'}"
            print(f"{name:<26} {best['host']:>15.3f} {best['device']:>14.3f} {best['cpu']:>8.3f} {bm:>8.2f} "
                  f"{best['cpu'] / gpu:>7.2f}x {bm / gpu:>8.1f}x")
    print("\nwhere the time goes (one profiled GPU matching of one pair, merges on the host; seconds):")
    os.environ["SEGLOSSES_PROFILE"] = "1"
    for side in sides:
        p, g = _volumes(1, side, False, seed=side)[0], _vessel_mask_3d(side, seed=100)
        sys.stderr.flush()
        betti_matching(torch.from_numpy(p).cuda(), torch.from_numpy(g).cuda(), construction="V", backend="cuda",
                       num_threads=threads)
        sys.stderr.flush()
    os.environ.pop("SEGLOSSES_PROFILE", None)


def _profiled(call) -> dict[str, float]:
    """Runs ``call()`` with SEGLOSSES_PROFILE on, and returns the total seconds of each profile line it printed (by
    the line's name; the engine writes them to file descriptor 2, read back through a temporary file)."""
    import re
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    os.environ["SEGLOSSES_PROFILE"] = "1"
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 2)
        try:
            call()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.environ.pop("SEGLOSSES_PROFILE", None)
        log.seek(0)
        text = log.read()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"seglosses profile ([^:]+):.* total ([0-9.]+)", text)}


def host_part(sides: list[int], threads: int) -> None:
    """Without a GPU: what the 3D hybrid leaves to the host (its H1 reduction, run by the emulation's host part,
    which is the device engine's host code) against the CPU engine's whole call, one image or pair, ``threads``
    threads. The ratio bounds what the GPU engine can gain per image at equal host cores."""
    from scipy.ndimage import gaussian_filter

    from seglosses import _core

    print(f"\nthe 3D hybrid's host part against the CPU engine's whole call ({threads} threads, T and V, seconds)")
    print(f"{'what':<34} {'CPU engine':>11} {'host part':>10} {'bound':>7}")
    rng = np.random.default_rng(0)
    for side in sides:
        shape = (side,) * 3
        noise = rng.random(shape)
        smooth = 1 / (1 + np.exp(-8 * gaussian_filter(rng.standard_normal(shape), 2)))
        mask = (gaussian_filter(rng.standard_normal(shape), 2) > 0.3).astype(np.float64)
        for code, construction in ((0, "T"), (1, "V")):
            for name, image in (("noise", noise), ("smooth likelihood", smooth)):
                cpu = _profiled(lambda image=image, code=code: _core.persistence(-image, code, num_threads=threads))
                emu = _profiled(lambda image=image, code=code: _core._gpu_barcode(-image, code, threads))
                whole, host = max(cpu.values()), emu.get("h1 from tables", float("nan"))
                print(f"{f'barcode {side}^3 {name} {construction}':<34} {whole:>11.3f} {host:>10.3f} {whole / host:>6.2f}x")
            cpu = _profiled(lambda code=code, smooth=smooth, mask=mask: _core.betti_matching(smooth, mask, code, negate=True, num_threads=threads))
            emu = _profiled(lambda code=code, smooth=smooth, mask=mask: _core._gpu_betti_matching(smooth, mask, code, negate=True, threads=threads))
            whole, host = cpu.get("matching", float("nan")), emu.get("matching h1 on host", float("nan"))
            print(f"{f'matching {side}^3 lik vs mask {construction}':<34} {whole:>11.3f} {host:>10.3f} "
                  f"{whole / host:>6.2f}x")


def export_real(path: str) -> int:
    """Real (prediction-like, label) pairs from the data folder into one compressed .npz of uint8 arrays."""
    from pathlib import Path

    from seglosses.io import read_image

    data = Path(os.environ.get("SEGLOSSES_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not data.is_dir():
        print(f"no data folder at {data}: nothing exported")
        return 1
    pairs: dict[str, np.ndarray] = {}

    def add(name: str, a: np.ndarray, b: np.ndarray) -> None:
        pairs[name] = np.stack([np.asarray(a, np.uint8), np.asarray(b, np.uint8)])

    for split in ("train", "val"):
        for accurate in sorted((data / "topomortar" / split / "accurate").glob("*.png")):
            noisy = accurate.parents[1] / "noisy" / accurate.name
            if noisy.is_file():
                add(f"topomortar {split} {accurate.stem}", read_image(accurate)[0], read_image(noisy)[0])
    for label in sorted((data / "drive" / "training" / "1st_manual").glob("*.gif")):
        image = next((data / "drive" / "training" / "images").glob(label.name.split("_")[0] + "_*.tif"), None)
        if image is not None:
            green = read_image(image, colour=True)[0][..., 1]
            add(f"drive {label.stem}", 255 - green, read_image(label)[0])
    for label in sorted((data / "vesselnn" / "labels").glob("*.nii.gz")):
        image, target = read_image(data / "vesselnn" / "images" / label.name)[0], read_image(label)[0]
        for z in np.linspace(0, target.shape[2] - 1, 3).astype(int):
            add(f"vesselnn {label.name[:-7]} z{z}", image[:256, :256, z], 255 * (target[:256, :256, z] > 0))
        for corner in (0, 128):  # solid patches: 64 x 64 x up to 32 slices
            patch = (slice(corner, corner + 64), slice(corner, corner + 64), slice(0, 32))
            add(f"vesselnn3d {label.name[:-7]} c{corner}", image[patch], 255 * (target[patch] > 0))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **pairs)
    print(f"exported {len(pairs)} pairs to {path} ({Path(path).stat().st_size / 2**20:.1f} MB)")
    return 0


def real_equality(path: str) -> int:
    pairs = np.load(path)
    bad = count = 0
    for name in pairs.files:
        p, g = (pairs[name].astype(np.float64) / 255.0)
        planar = name.startswith("vesselnn ")  # vesselNN slices also as (H, 1, W) volumes
        for shape in ((p.shape, (p.shape[0], 1, p.shape[1])) if planar else (p.shape,)):
            for construction in ("T", "V"):
                a, b = p.reshape(shape), g.reshape(shape)
                gpu = betti_matching(torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda(), construction=construction,
                                     backend="cuda")
                count += 1
                if not _same_matching(gpu, betti_matching(a, b, construction=construction, backend="cpu")):
                    bad += 1
                    print(f"MISMATCH real pair {name}, shape {shape}, construction {construction}")
    print(f"equality: {count} Betti matchings of {len(pairs.files)} real label pairs (TopoMortar accurate vs noisy, "
          f"DRIVE, vesselNN slices and 3D patches) against the CPU engine: {bad} mismatches")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-3d", type=int, default=8)
    parser.add_argument("--sides-3d", type=int, nargs="*", default=[64, 128], help="none: no 3D timing")
    parser.add_argument("--bm3d", help="a folder holding Betti-Matching-3D's module for this interpreter")
    parser.add_argument("--bm3d-pairs", type=int, default=8, help="pairs of each 3D batch Betti-Matching-3D runs")
    parser.add_argument("--no-timing", action="store_true", help="the equality checks only")
    parser.add_argument("--host-part", type=int, nargs="+", metavar="SIDE",
                        help="without a GPU: the 3D hybrid's host part against the CPU engine, volumes of SIDE^3")
    parser.add_argument("--threads", type=int, default=1, help="host threads of --host-part")
    parser.add_argument("--real", help="an .npz of real pairs made by --export-real: their matchings' equality")
    parser.add_argument("--export-real", metavar="FILE", help="write the real pairs from the data folder, then exit")
    args = parser.parse_args()
    if args.export_real:
        return export_real(args.export_real)
    if args.host_part:
        host_part(args.host_part, args.threads)
        return 0
    try:
        from seglosses import _cuda
    except ImportError:
        print("seglosses was built without CUDA: nothing to measure")
        return 0
    if _cuda.device_count() == 0 or not torch.cuda.is_available():
        print("no CUDA device: nothing to measure")
        return 0
    print("device:", torch.cuda.get_device_name(0))
    bad = equality(args.cases, args.seed) if args.cases else 0
    bad += matching_equality(args.cases // 2, args.seed) if args.cases else 0
    if args.real:
        bad += real_equality(args.real)
    if args.no_timing:
        return 1 if bad else 0
    timing(args.batch, args.side, args.rounds)
    if args.sides_3d:
        timing_3d(args.batch_3d, args.sides_3d, args.rounds, args.bm3d, args.bm3d_pairs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
