"""Examples and data scripts: --help, the missing-data message, tiny runs, fake archives, overwrite refusal."""

from __future__ import annotations

import csv
import importlib.util
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from seglosses.io import write_png
from seglosses.synthetic import brick_wall

REPOSITORY = Path(__file__).resolve().parents[1]


def load(relative: str):
    path = REPOSITORY / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "script", ["examples/train_topomortar.py", "examples/topomortar_small.py", "examples/topomortar_table.py",
               "data_scripts/prepare_topomortar.py", "data_scripts/make_synthetic.py"]
)
def test_help(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load(script).main(["--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out


def test_train_topomortar_names_the_data_script_when_data_is_absent(tmp_path, monkeypatch):
    example = load("examples/train_topomortar.py")
    monkeypatch.setenv("SEGLOSSES_DATA", str(tmp_path))
    monkeypatch.setattr(example, "REPOSITORY", tmp_path / "repo")
    with pytest.raises(SystemExit, match="prepare_topomortar.py"):
        example.main(["--data", str(tmp_path), "--quick", "--out", str(tmp_path / "out")])


def test_train_topomortar_rejects_an_unknown_loss(tmp_path):
    with pytest.raises(SystemExit):
        load("examples/train_topomortar.py").main(["--loss", "dice_ce+0.5*nope", "--out", str(tmp_path)])


def make_fake_topomortar(root: Path, n_train: int = 3, n_val: int = 2, n_small: int | None = None,
                         n_test: int = 0) -> Path:
    """A TopoMortar-like tree from generated brick walls: 512x512 RGB images, {0, 255} labels, splits files (the
    small training set is the first ``n_small`` training images), dataset_types.txt (test images alternate
    between in-distribution and "shadows")."""
    data = root / "topomortar"
    splits = {"train": [f"{i:03d}" for i in range(1, n_train + 1)],
              "val": [f"{i:03d}" for i in range(51, 51 + n_val)],
              "test": [f"{i:03d}" for i in range(71, 71 + n_test)]}
    for split, ids in splits.items():
        for i, case in enumerate(ids):
            image, label, _ = brick_wall((512, 512), brick=(40, 90), mortar=8, seed=i)
            for kind in ("accurate", "noisy", "pseudo"):
                (data / split / kind).mkdir(parents=True, exist_ok=True)
                write_png(data / split / kind / f"{case}.png", label > 0)
            (data / split / "images").mkdir(parents=True, exist_ok=True)
            rgb = (np.repeat(np.clip(image, 0, 1)[..., None], 3, -1) * 255).astype(np.uint8)
            write_png(data / split / "images" / f"{case}.png", rgb)

    def splits_text(parts: dict) -> str:
        return "1:\n" + "".join(f"  {split}:\n" + "".join(f"  - dataset/{split}/images/{case}.png\n" for case in ids)
                                for split, ids in parts.items() if ids)

    (data / "splits.yaml").write_text(splits_text(splits))
    small = dict(splits, train=splits["train"][: n_small if n_small is not None else n_train])
    (data / "splits_small.yaml").write_text(splits_text(small))
    groups = {case: "indistr" for case in splits["train"] + splits["val"]}
    groups.update({case: ("indistr", "shadows")[i % 2] for i, case in enumerate(splits["test"])})
    (data / "dataset_types.txt").write_text("ID,group\n" + "".join(f"{c},{g}\n" for c, g in groups.items()))
    return data


def test_train_topomortar_tiny_run_on_generated_walls(tmp_path):
    make_fake_topomortar(tmp_path)
    out = tmp_path / "out"
    example = load("examples/train_topomortar.py")
    argv = ["--data", str(tmp_path), "--quick", "--steps", "2", "--val-cases", "1", "--out", str(out),
            "--loss", "dice_ce+0.5*skeleton_recall+0.01*betti_matching"]
    assert example.main(argv) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 1 and 0 <= float(rows[0]["dice"]) <= 1 and "betti_matching_error" in rows[0]
    with pytest.raises(SystemExit):  # the results file is not replaced without --overwrite
        example.main(argv)


SMALL = ["--protocol", "small", "--steps", "4", "--batch", "2", "--patch", "32", "--features", "4", "--val-cases", "1"]


def test_topomortar_holdout_is_outside_training_and_groups_are_read(tmp_path):
    example = load("examples/train_topomortar.py")
    data = make_fake_topomortar(tmp_path, n_train=4, n_small=2, n_test=4)
    assert example.holdout_ids(data) == ["003", "004"]  # the large set's images outside the small one
    groups = example.read_groups(data)
    assert [groups[c] for c in ("071", "072", "073", "074")] == ["indistr", "shadows", "indistr", "shadows"]
    assert example.read_split(data / "splits.yaml", "test") == ["071", "072", "073", "074"]


@pytest.mark.data
def test_topomortar_real_holdout_and_groups(data_root):
    root = data_root / "topomortar"
    if not (root / "dataset_types.txt").is_file():
        pytest.skip("no TopoMortar data")
    example = load("examples/train_topomortar.py")
    held_out = example.holdout_ids(root)
    assert len(held_out) == 10 and not set(held_out) & set(example.read_split(root / "splits_small.yaml", "train"))
    assert set(held_out) <= set(example.read_split(root / "splits.yaml", "train"))
    groups = example.read_groups(root)
    counts = {g: list(groups.values()).count(g) for g in set(groups.values())}
    assert counts == {"indistr": 120, "angles": 50, "colors": 50, "graffiti": 50, "objects": 50, "occlusion": 50,
                      "shadows": 50}
    assert all(groups[f"{i:03d}"] == "indistr" for i in range(1, 121))


def test_topomortar_small_protocol_resumes_to_the_same_weights(tmp_path, monkeypatch):
    import torch

    make_fake_topomortar(tmp_path, n_train=3, n_small=2)
    example = load("examples/train_topomortar.py")
    common = ["--data", str(tmp_path), *SMALL, "--checkpoint-every", "2", "--loss", "dice_ce+0.5*skeleton_recall"]
    assert example.main([*common, "--out", str(tmp_path / "straight")]) == 0
    straight = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)

    save = example.save_checkpoint

    def crash_after_step_2(path, *args):
        save(path, *args)
        if args[4] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(example, "save_checkpoint", crash_after_step_2)
    with pytest.raises(KeyboardInterrupt):
        example.main([*common, "--out", str(tmp_path / "resumed")])
    assert not (tmp_path / "resumed" / "results.csv").exists()
    monkeypatch.setattr(example, "save_checkpoint", save)
    assert example.main([*common, "--out", str(tmp_path / "resumed"), "--resume"]) == 0
    resumed = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)
    assert straight["step"] == resumed["step"] == 4
    for name, tensor in straight["net"].items():
        assert torch.equal(tensor, resumed["net"][name]), name
    # the same predictions, and a resume with other settings is refused
    assert (tmp_path / "straight" / "results.csv").read_text() == (tmp_path / "resumed" / "results.csv").read_text()
    with pytest.raises(SystemExit):
        example.main([*common, "--seed", "3", "--out", str(tmp_path / "resumed"), "--resume"])


def test_topomortar_predictions_are_scored_alike_by_seglosses_evaluate(tmp_path):
    from seglosses.cli import main as cli

    data = make_fake_topomortar(tmp_path, n_train=3, n_val=2, n_small=2)
    example = load("examples/train_topomortar.py")
    out = tmp_path / "run"
    assert example.main(["--data", str(tmp_path), *SMALL, "--val-cases", "2", "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "predictions").iterdir()) == ["051.png", "052.png"]
    assert cli(["evaluate", "--pred", str(out / "predictions"), "--gt", str(data / "val" / "accurate"),
                "--out", str(tmp_path / "evaluate.csv"), "--quiet"]) == 0
    ours = {r["case"]: r for r in csv.DictReader(open(out / "results.csv"))}
    theirs = {r["case"]: r for r in csv.DictReader(open(tmp_path / "evaluate.csv"))}
    assert set(ours) == set(theirs)
    for case, row in ours.items():
        for column in ("dice", "betti_error_0", "betti_error_1", "betti_matching_error", "hd95"):
            assert float(row[column]) == pytest.approx(float(theirs[case][column]), rel=1e-5, nan_ok=True), column


def test_topomortar_table_summarises_seeds_and_chooses_weights(tmp_path, capsys):
    import json

    table = load("examples/topomortar_table.py")
    for loss, seed, bm in [("dice_ce", 0, 5.0), ("dice_ce", 1, 7.0), ("dice_ce+0.5*cldice", 0, 3.0),
                           ("dice_ce+1*cldice", 0, 4.0)]:
        folder = tmp_path / f"{loss}-{seed}"
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"loss": loss, "seed": seed, "split": "holdout", "seconds": 60}))
        rows = [{"case": "041", "dice": 0.9, "cldice": 0.8, "betti_error_0": 1, "betti_error_1": 2,
                 "betti_matching_error": bm - 1, "hd95": 2},
                {"case": "042", "dice": 0.8, "cldice": 0.8, "betti_error_0": 1, "betti_error_1": 2,
                 "betti_matching_error": bm + 1, "hd95": 2}]
        with open(folder / "results.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    runs = [table.read_run(f) for f in sorted(tmp_path.iterdir())]
    assert table.choose(runs) == {"cldice": "dice_ce+0.5*cldice"}
    assert table.main([str(f) for f in sorted(tmp_path.iterdir())] + ["--choose"]) == 0
    printed = capsys.readouterr().out
    assert "| dice_ce | 2 | 0.850 ± 0.000 |" in printed and "6.00 ± 1.41" in printed  # std over seeds, ddof 1


@pytest.mark.slow
def test_topomortar_paper_protocol_runs_a_few_steps(tmp_path):
    make_fake_topomortar(tmp_path, n_train=2, n_val=1)
    example = load("examples/train_topomortar.py")
    out = tmp_path / "paper"
    argv = ["--data", str(tmp_path), "--protocol", "paper", "--steps", "2", "--batch", "1", "--out", str(out),
            "--loss", "dice_ce+0.5*skeleton_recall"]
    assert example.main(argv) == 0
    state = __import__("torch").load(out / "checkpoint.pt", weights_only=False)
    assert state["step"] == 2 and state["settings"]["protocol"] == "paper"
    assert len(list(csv.DictReader(open(out / "results.csv")))) == 1 and (out / "predictions" / "051.png").is_file()


@pytest.mark.data
@pytest.mark.slow
def test_train_topomortar_tiny_run_on_real_data(data_root, tmp_path):
    if not (data_root / "topomortar" / "splits.yaml").is_file():
        pytest.skip("no TopoMortar data")
    argv = ["--data", str(data_root), "--quick", "--steps", "2", "--val-cases", "1", "--out", str(tmp_path)]
    assert load("examples/train_topomortar.py").main(argv) == 0


def test_prepare_topomortar_from_an_archive(tmp_path):
    fake = make_fake_topomortar(tmp_path / "source", n_train=2, n_val=1)
    archive = tmp_path / "TopoMortar-main.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in fake.rglob("*"):
            if path.is_file():
                relative = path.relative_to(fake)
                inside = relative if path.parent == fake else Path("dataset") / relative
                bundle.write(path, f"TopoMortar-main/{inside}")
        bundle.writestr("TopoMortar-main/README.md", "not data")
    script = load("data_scripts/prepare_topomortar.py")
    out = tmp_path / "data"
    assert script.main(["--out", str(out), "--archive", str(archive)]) == 0
    assert len(list((out / "topomortar" / "train" / "images").glob("*.png"))) == 2
    assert (out / "topomortar" / "splits.yaml").is_file() and not (out / "topomortar" / "README.md").exists()
    assert script.main(["--out", str(out), "--archive", str(archive)]) == 2  # existing data kept
    assert script.main(["--out", str(out), "--archive", str(archive), "--overwrite"]) == 0


def test_prepare_topomortar_rejects_a_broken_archive_and_keeps_nothing(tmp_path):
    script = load("data_scripts/prepare_topomortar.py")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match="not a readable zip"):
        script.main(["--out", str(tmp_path / "data"), "--archive", str(broken)])
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as bundle:
        bundle.writestr("something/else.txt", "x")
    with pytest.raises(SystemExit, match="does not look like"):
        script.main(["--out", str(tmp_path / "data"), "--archive", str(other)])
    assert not (tmp_path / "data" / "topomortar").exists()


def test_make_synthetic_writes_checked_cases_with_their_topology(tmp_path):
    script = load("data_scripts/make_synthetic.py")
    out = tmp_path / "synthetic"
    argv = ["--out", str(out), "--walls", "1", "--vessels2d", "1", "--vessels3d", "1", "--size", "64", "--size3d", "16"]
    assert script.main(argv) == 0
    rows = list(csv.DictReader(open(out / "topology.csv")))
    assert [r["group"] for r in rows] == ["walls", "vessels2d", "vessels3d"]
    _, _, n_bricks = brick_wall((64, 64), seed=0)
    assert rows[0]["b0"] == "1" and rows[0]["b1"] == str(n_bricks)
    assert (out / "vessels3d" / "labels" / "000.nii.gz").is_file()
    assert script.main(argv) == 2


def test_train_vessels3d_names_the_data_script_when_data_is_absent(tmp_path, monkeypatch):
    example = load("examples/train_vessels3d.py")
    monkeypatch.setenv("SEGLOSSES_DATA", str(tmp_path))
    monkeypatch.setattr(example, "REPOSITORY", tmp_path / "repo")
    with pytest.raises(SystemExit, match="prepare_vesselnn.py"):
        example.main(["--data", str(tmp_path), "--quick", "--out", str(tmp_path / "out")])


def test_train_vessels3d_tiny_run_on_generated_volumes(tmp_path):
    from seglosses.io import write_nifti
    from seglosses.synthetic import vessel_tree

    for kind in ("images", "labels"):
        (tmp_path / "vesselnn" / kind).mkdir(parents=True)
    for i in range(2):
        image, label = vessel_tree((32, 32, 12), n_branches=4, seed=i)
        affine = np.diag([1.0, 1.0, 2.0, 1.0])
        write_nifti(tmp_path / "vesselnn" / "images" / f"v{i}.nii.gz", (image * 255).astype(np.uint8), affine)
        write_nifti(tmp_path / "vesselnn" / "labels" / f"v{i}.nii.gz", label.astype(np.uint8), affine)
    out = tmp_path / "out"
    argv = ["--data", str(tmp_path), "--quick", "--steps", "2", "--patch", "16", "16", "8", "--out", str(out),
            "--loss", "dice_ce+0.5*mip+skeleton_recall", "--mip-axes", "-3", "-1"]
    assert load("examples/train_vessels3d.py").main(argv) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert rows[0]["case"] == "v1.nii.gz" and 0 <= float(rows[0]["dice"]) <= 1
    from seglosses.io import read_image

    prediction, _, affine = read_image(out / "prediction_v1.nii.gz")
    assert prediction.shape == (32, 32, 12) and affine[2, 2] == 2.0  # the input's affine


@pytest.mark.slow
def test_train_topomortar_ddp_with_two_cpu_processes(tmp_path):
    """torchrun with 2 gloo processes: DDP training, validation cases split across ranks and gathered."""
    import os
    import signal
    import subprocess
    import sys

    make_fake_topomortar(tmp_path, n_train=2, n_val=3)
    # Alone this takes about 15 s. Under load it has hung: once for the whole 300 s (cause not found), and
    # once (2026-12-04) in a rank's exit, after its results were written: gloo's destructor, holding the
    # GIL, joined its work thread, which waited for the GIL to free the last collective's tensors (a torch
    # deadlock). torchrun starts the ranks in sessions of their own, so killing its process group leaves
    # them, and reading their output through pipes waited for them forever. So: output to files, a limit,
    # every process that carries this run's output folder killed on expiry, and one more try, which must pass.
    for attempt in range(2):
        out = tmp_path / f"out{attempt}"  # a fresh folder: the first try may have left a checkpoint
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                   str(REPOSITORY / "examples" / "train_topomortar.py"), "--data", str(tmp_path), "--quick",
                   "--steps", "2", "--val-cases", "3", "--out", str(out), "--device", "cpu"]
        log = tmp_path / f"torchrun{attempt}.log"
        with open(log, "w") as sink:
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                process.wait(timeout=150)
                hung = False
            except subprocess.TimeoutExpired:
                hung = True
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stderr = log.read_text()
        for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:  # ranks left behind by torchrun
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if pid.isdigit() and str(out) in cmdline:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        if not hung:
            break
        if attempt == 1:
            raise AssertionError("torchrun hung twice: " + stderr[-3000:])
    assert process.returncode == 0, stderr[-3000:]
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["case"] for r in rows] == ["051", "052", "053"]  # both ranks' cases, written once


def make_fake_drive(root: Path, n: int = 3) -> None:
    """DRIVE-like files from generated vessel trees: NN_training.tif (RGB), NN_manual1.gif, NN_training_mask.gif."""
    from PIL import Image

    from seglosses.synthetic import vessel_tree

    base = root / "drive" / "training"
    for folder in ("images", "1st_manual", "mask"):
        (base / folder).mkdir(parents=True)
    yy, xx = np.mgrid[:80, :72]
    fov = (yy - 40) ** 2 + (xx - 36) ** 2 < 34**2
    for i in range(n):
        image, label = vessel_tree((80, 72), n_branches=5, seed=i)
        rgb = (np.repeat(np.clip(image, 0, 1)[..., None], 3, -1) * 255).astype(np.uint8)
        Image.fromarray(rgb).save(base / "images" / f"{21 + i}_training.tif")
        Image.fromarray(((label > 0) & fov).astype(np.uint8) * 255).save(base / "1st_manual" / f"{21 + i}_manual1.gif")
        Image.fromarray(fov.astype(np.uint8) * 255).save(base / "mask" / f"{21 + i}_training_mask.gif")


def test_train_drive_tiny_run_on_generated_images(tmp_path):
    make_fake_drive(tmp_path)
    out = tmp_path / "out"
    argv = ["--data", str(tmp_path), "--quick", "--steps", "2", "--patch", "32", "--val-cases", "1",
            "--out", str(out), "--loss", "dice_ce+0.5*cldice"]
    assert load("examples/train_drive.py").main(argv) == 0
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["case"] for r in rows] == ["23"] and 0 <= float(rows[0]["dice"]) <= 1


def test_train_drive_masks_the_outside_of_the_field_of_view():
    import torch

    example = load("examples/train_drive.py")
    logits = torch.randn(1, 2, 6, 6, requires_grad=True)
    labels = torch.ones(1, 1, 6, 6, dtype=torch.long)
    fov = torch.zeros(1, 1, 6, 6, dtype=torch.bool)
    fov[..., 1:4, 1:4] = True
    masked_logits, masked_labels = example.mask_outside(logits, labels, fov)
    assert torch.all(masked_labels[~fov] == 0)
    from seglosses import DiceCELoss

    DiceCELoss(to_onehot_y=True, softmax=True)(masked_logits, masked_labels).backward()
    outside = ~fov.expand(1, 2, 6, 6)
    assert torch.all(logits.grad[outside] == 0) and torch.any(logits.grad[~outside] != 0)


def test_train_drive_names_the_data_script_when_data_is_absent(tmp_path, monkeypatch):
    example = load("examples/train_drive.py")
    monkeypatch.setenv("SEGLOSSES_DATA", str(tmp_path))
    monkeypatch.setattr(example, "REPOSITORY", tmp_path / "repo")
    with pytest.raises(SystemExit, match="prepare_drive.py"):
        example.main(["--data", str(tmp_path), "--quick", "--out", str(tmp_path / "out")])


def test_prepare_drive_from_an_archive(tmp_path):
    make_fake_drive(tmp_path / "source")
    base = tmp_path / "source" / "drive" / "training"
    from PIL import Image

    for path in (base / "images").glob("*.tif"):  # DRIVE's real size
        Image.fromarray(np.zeros((584, 565, 3), np.uint8)).save(path)
    archive = tmp_path / "DRIVE.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in base.rglob("*"):
            if path.is_file():
                bundle.write(path, f"DRIVE/training/{path.relative_to(base)}")
    script = load("data_scripts/prepare_drive.py")
    out = tmp_path / "data"
    assert script.main(["--archive", str(archive), "--out", str(out)]) == 0
    assert len(list((out / "drive" / "training" / "1st_manual").glob("*.gif"))) == 3
    assert script.main(["--archive", str(archive), "--out", str(out)]) == 2


def test_prepare_vesselnn_converts_stacks_to_nifti(tmp_path):
    from skimage.io import imsave

    from seglosses.io import read_image
    from seglosses.synthetic import vessel_tree

    (tmp_path / "images").mkdir(), (tmp_path / "labels").mkdir()
    image, label = vessel_tree((8, 20, 24), n_branches=3, seed=0)  # (z, y, x) as a TIFF stack stores it
    imsave(str(tmp_path / "images" / "stack.tif"), (image * 1000).astype(np.uint16), check_contrast=False)
    imsave(str(tmp_path / "labels" / "stack.tif"), label.astype(np.uint8) * 255, check_contrast=False)
    script = load("data_scripts/prepare_vesselnn.py")
    out = tmp_path / "data"
    argv = ["--images", str(tmp_path / "images"), "--labels", str(tmp_path / "labels"), "--out", str(out)]
    assert script.main(argv) == 0
    volume, _, _ = read_image(out / "vesselnn" / "labels" / "stack.nii.gz")
    np.testing.assert_array_equal(volume, label.astype(np.uint8).transpose(2, 1, 0))  # axes (x, y, z)
    assert read_image(out / "vesselnn" / "images" / "stack.nii.gz")[0].dtype == np.uint8
    assert script.main(argv) == 2


def test_prepare_topomortar_keeps_existing_data_when_the_new_copy_fails(tmp_path):
    script = load("data_scripts/prepare_topomortar.py")
    existing = tmp_path / "data" / "topomortar"
    existing.mkdir(parents=True)
    (existing / "precious.txt").write_text("keep me")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(SystemExit):
        script.main(["--out", str(tmp_path / "data"), "--archive", str(broken), "--overwrite"])
    assert (existing / "precious.txt").read_text() == "keep me"
