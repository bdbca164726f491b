"""The CUDA engine (``persistence(..., backend="cuda")``) against the CPU engine, on a GPU machine.

    python benchmarks/bench_cuda.py                 # equality on --cases random inputs, then the timing table
    python benchmarks/bench_cuda.py --cases 0 --batch 16 --side 512

1. Equality: ``--cases`` random 2D images (noise, few-valued plateaus with ties, binary masks; sides 2-96) whose
   GPU barcodes must equal the CPU engine's, bar by bar and critical pixel by critical pixel, in T and V, superlevel;
   and the 3D union-find phases (H0, H2) on the device against their CPU emulation. Prints the counts; exits 1 on
   a mismatch.
   Then Betti matchings (``betti_matching(..., backend="cuda")``): ``--cases`` / 2 random 2D pairs (the same kinds,
   mixed), and planar 3D ones, superlevel and sublevel, T and V, against the CPU engine, matched and unmatched
   pairs, critical cells and values.
2. Timing, side by side in one run: barcodes of a batch of ``--batch`` 2D ``--side``^2 maps (smooth and noisy
   likelihoods) on the GPU (the batch's maps concurrently, CUDA-synchronised) and on the CPU engine with
   ``num_threads`` = all cores; then Betti matchings of the same maps against a vessel-like mask. Minimum of
   ``--rounds`` interleaved rounds, and the ratio.

3. Real label pairs (``--real FILE``, made beforehand where the data are, by ``--export-real FILE``, since the data
   folder does not travel to a GPU machine): TopoMortar's accurate against noisy labels (train and val, 512^2),
   DRIVE's vessel labels against the inverted green channel as a likelihood, and vesselNN slices (image against
   label, 2D and as planar 3D); Betti matchings on the GPU against the CPU engine, T and V.

    python benchmarks/bench_cuda.py --export-real .gpu_data/real_pairs.npz   # here: needs ../shared/data
    python benchmarks/bench_cuda.py --real .gpu_data/real_pairs.npz          # on the GPU machine

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


def equality(cases: int, seed: int) -> int:
    from seglosses import _core, _cuda

    rng = np.random.default_rng(seed)
    bad = 0
    for i in range(cases):
        shape = (int(rng.integers(2, 97)), int(rng.integers(2, 97)))
        image = _image(rng, shape, i % 3)
        construction = "TV"[i % 2]
        gpu = persistence(torch.from_numpy(image).cuda(), construction=construction, backend="cuda")
        if not _same(gpu, persistence(image, construction=construction, backend="cpu")):
            bad += 1
            print(f"MISMATCH 2D case {i}: shape {shape}, kind {i % 3}, construction {construction}")
    stream = torch.cuda.current_stream().cuda_stream
    cases_3d = max(cases // 10, 1) if cases else 0
    for i in range(cases_3d):
        shape = tuple(int(s) for s in rng.integers(2, 25, 3))
        image = _image(rng, shape, i % 3)
        code = i % 2
        device = torch.from_numpy(image).cuda()
        for dual in (False, True):
            got, got_essential = _cuda.union_find_pairs(device.data_ptr(), shape, code, dual, i % 2 == 0, stream)
            want, want_essential = _core._gpu_pixel_pairs(image, code, dual)
            if got_essential != want_essential or not np.array_equal(np.sort(got, axis=0), np.sort(want, axis=0)):
                bad += 1
                print(f"MISMATCH 3D case {i}: shape {shape}, kind {i % 3}, construction {'TV'[code]}, dual {dual}")
    print(f"equality: {cases} 2D barcodes and {cases_3d} 3D union-find phase pairs (x2) against the CPU engine: "
          f"{bad} mismatches")
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
    print(f"equality: {cases} Betti matchings (2D and planar 3D; merges on the host and on the device, alternately) "
          f"against the CPU engine: {bad} mismatches")
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
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **pairs)
    print(f"exported {len(pairs)} pairs to {path} ({Path(path).stat().st_size / 2**20:.1f} MB)")
    return 0


def real_equality(path: str) -> int:
    pairs = np.load(path)
    bad = count = 0
    for name in pairs.files:
        p, g = (pairs[name].astype(np.float64) / 255.0)
        planar = name.startswith("vesselnn")  # vesselNN slices also as (H, 1, W) volumes
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
          f"DRIVE, vesselNN slices) against the CPU engine: {bad} mismatches")
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", help="an .npz of real pairs made by --export-real: their matchings' equality")
    parser.add_argument("--export-real", metavar="FILE", help="write the real pairs from the data folder, then exit")
    args = parser.parse_args()
    if args.export_real:
        return export_real(args.export_real)
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
    timing(args.batch, args.side, args.rounds)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
