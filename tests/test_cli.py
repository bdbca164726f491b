"""`seglosses evaluate` end to end on generated files, its failure cases, real labels; io; `seglosses demo`."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seglosses.cli import main
from seglosses.io import case_name, read_image, write_nifti, write_png
from seglosses.metrics import evaluate_case
from seglosses.synthetic import brick_wall


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def walls(tmp_path):
    """Three 2D cases as PNG {0, 255} labels and predictions with one brick broken in case 1."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    labels = {}
    for i in range(3):
        _, label, _ = brick_wall((64, 96), seed=i)
        label = label.astype(bool)
        prediction = label.copy()
        if i == 1:
            prediction[:, 40:44] = True  # mortar bridged over bricks: holes lost
        write_png(gt / f"case{i}.png", label)
        write_png(pred / f"case{i}.png", prediction)
        labels[f"case{i}"] = (prediction, label)
    return tmp_path, labels


def test_evaluate_writes_the_metrics_of_every_case(walls, capsys):
    root, labels = walls
    out = root / "results.csv"
    code = main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(out),
                 "--tile-size", "32"])
    assert code == 0
    rows = read_rows(out)
    assert [r["case"] for r in rows] == ["case0", "case1", "case2"]
    for row in rows:
        expected = evaluate_case(*labels[row["case"]], tile_size=32)
        for column, value in expected.items():
            assert float(row[column]) == pytest.approx(value, rel=1e-5, nan_ok=True), column
    assert float(rows[1]["betti_error_1"]) > 0 and float(rows[0]["betti_error_1"]) == 0
    summary = capsys.readouterr().out
    assert "betti_error_1" in summary and "3 of 3 cases evaluated" in summary


def test_failures_are_reported_per_case_and_the_others_finish(walls, capsys):
    root, _ = walls
    (root / "pred" / "case2.png").unlink()                         # missing partner
    (root / "pred" / "case0.png").write_bytes(b"not a png")        # unreadable
    write_png(root / "pred" / "case1.png", np.zeros((10, 10), bool))  # shape mismatch
    write_png(root / "gt" / "case3.png", np.zeros((8, 8), bool))
    write_png(root / "pred" / "case3.png", np.zeros((8, 8), bool))
    out = root / "out" / "results.csv"
    code = main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(out),
                 "--metrics", "dice", "betti"])
    assert code == 1
    rows = {r["case"]: r for r in read_rows(out)}
    assert rows["case0"]["status"] == "failed" and "Could not read" in rows["case0"]["error"]
    assert "shape mismatch" in rows["case1"]["error"]
    assert "no prediction file" in rows["case2"]["error"]
    assert rows["case3"]["status"] == "ok" and float(rows["case3"]["dice"]) == 1.0
    assert "1 of 4 cases evaluated, 3 failed" in capsys.readouterr().out


def test_existing_output_is_never_overwritten_without_the_flag(walls):
    root, _ = walls
    out = root / "results.csv"
    out.write_text("precious")
    args = ["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(out), "--metrics", "dice"]
    assert main(args) == 2
    assert out.read_text() == "precious"
    assert main([*args, "--overwrite"]) == 0
    assert read_rows(out)[0]["case"] == "case0"


def test_usage_errors(walls, tmp_path):
    root, _ = walls
    assert main(["evaluate", "--pred", str(tmp_path / "nope"), "--gt", str(root / "gt"), "--out", "x.csv"]) == 2
    inside = root / "gt" / "results.csv"
    assert main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(inside)]) == 2
    assert not inside.exists()
    with pytest.raises(SystemExit):
        main(["evaluate", "--pred", "a", "--gt", "b", "--out", "c", "--metrics", "accuracy"])


def test_probabilities_label_maps_and_nifti(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    rng = np.random.default_rng(0)
    label = np.zeros((12, 14, 10), np.uint8)
    label[2:6, 2:6, 2:6] = 1
    label[7:11, 7:12, 3:8] = 2
    write_nifti(gt / "vol.nii.gz", label, affine=np.diag([0.5, 0.5, 2.0, 1.0]))
    write_nifti(pred / "vol.nii.gz", label)
    out = tmp_path / "maps.csv"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--label-map",
                 "--metrics", "dice", "hd95"]) == 0
    row = read_rows(out)[0]
    assert float(row["class1_dice"]) == float(row["class2_dice"]) == 1.0 and float(row["class2_hd95"]) == 0.0
    # Without --label-map, labels {0, 1, 2} are rejected with the reason.
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--overwrite"]) == 1
    assert "--label-map" in read_rows(out)[0]["error"]
    # Probabilities are thresholded.
    probabilities = np.where(label > 0, 0.8, 0.1) + rng.uniform(-0.05, 0.05, label.shape)
    write_nifti(pred / "vol.nii.gz", probabilities.astype(np.float32))
    write_nifti(gt / "vol.nii.gz", (label > 0).astype(np.uint8))
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--overwrite",
                 "--metrics", "dice"]) == 0
    assert float(read_rows(out)[0]["dice"]) == 1.0


def test_plots_and_workers(walls):
    pytest.importorskip("matplotlib")
    root, _ = walls
    out, plots = root / "r.csv", root / "plots"
    code = main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(out),
                 "--metrics", "dice", "betti_matching", "--plots", str(plots), "--workers", "2"])
    assert code == 0
    assert (plots / "summary.png").is_file() and (plots / "case1_features.png").is_file()
    assert main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(root / "s.csv"),
                 "--plots", str(plots)]) == 2  # a non-empty plots folder is not written into without --overwrite


def test_console_script_is_installed(walls):
    root, _ = walls
    executable = shutil.which("seglosses") or str(Path(sys.executable).with_name("seglosses"))
    result = subprocess.run(
        [executable, "evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out",
         str(root / "c.csv"), "--metrics", "dice"], capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "3 of 3 cases evaluated" in result.stdout


def test_io_reads_what_it_writes_and_names_its_errors(tmp_path):
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:5] = True
    write_png(tmp_path / "m.png", mask)
    data, spacing, affine = read_image(tmp_path / "m.png")
    np.testing.assert_array_equal(data > 0, mask)
    assert spacing is None and affine is None
    write_nifti(tmp_path / "v.nii.gz", mask[..., None].astype(np.uint8), affine=np.diag([2.0, 3.0, 4.0, 1.0]))
    data, spacing, affine = read_image(tmp_path / "v.nii.gz")
    assert data.shape == (5, 7, 1) and spacing == (2.0, 3.0, 4.0) and affine[1, 1] == 3.0
    assert case_name("a.b.nii.gz") == "a.b" and case_name("x.TIF") == "x" and case_name("notes.txt") is None
    with pytest.raises(FileNotFoundError, match="nothing is there"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "x.bmp").write_bytes(b"")
    with pytest.raises(ValueError, match="suffix"):
        read_image(tmp_path / "x.bmp")
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    from skimage.io import imsave

    imsave(str(tmp_path / "c.png"), colour, check_contrast=False)
    with pytest.raises(ValueError, match="colour channels that differ"):
        read_image(tmp_path / "c.png")


@pytest.mark.data
def test_topomortar_noisy_against_accurate(data_root, tmp_path):
    source = data_root / "topomortar" / "train"
    accurate = sorted((source / "accurate").glob("*.png"))[:3]
    if not accurate:
        pytest.skip("no TopoMortar labels found")
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    for path in accurate:
        (gt / path.name).symlink_to(path)
        (pred / path.name).symlink_to(source / "noisy" / path.name)
    out = tmp_path / "topomortar.csv"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out)]) == 0
    rows = read_rows(out)
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    assert all(0 < float(r["dice"]) < 1 for r in rows)


def test_demo_quick_writes_table_and_figure_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "dice_ce" in printed and "topograph" in printed  # the default topology loss
    assert "Adding topograph to Dice + CE: the Betti matching error per case" in printed  # this run's verdict
    assert (out / "predictions.png").is_file()
    table = (out / "results.csv").read_text().splitlines()
    assert table[0].startswith("loss,steps") and len(table) == 3
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    assert main(["demo", "--quick", "--out", str(out), "--overwrite", "--loss", "betti_matching"]) == 0


def test_io_reads_lzw_tiffs_and_colour_images(tmp_path):
    from PIL import Image

    rgb = np.zeros((6, 5, 3), np.uint8)
    rgb[1, 2] = (200, 10, 30)
    Image.fromarray(rgb).save(tmp_path / "image.tif", compression="tiff_lzw")  # tifffile needs imagecodecs
    data, _, _ = read_image(tmp_path / "image.tif", colour=True)
    np.testing.assert_array_equal(data, rgb)
    with pytest.raises(ValueError, match="colour channels that differ"):
        read_image(tmp_path / "image.tif")


def test_out_that_is_a_folder_is_a_usage_error_before_any_work(walls, capsys):
    root, _ = walls
    folder = root / "existing"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    code = main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(folder),
                 "--overwrite"])
    assert code == 2
    captured = capsys.readouterr()
    assert "is a folder" in captured.err and "cases evaluated" not in captured.out
    assert (folder / "keep.txt").read_text() == "precious"


def test_duplicate_case_names_fail_that_case_only(walls, capsys):
    root, _ = walls
    write_nifti(root / "pred" / "case1.nii.gz", np.zeros((64, 96), np.uint8))  # beside case1.png
    out = root / "results.csv"
    code = main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(out),
                 "--metrics", "dice"])
    assert code == 1
    rows = {r["case"]: r for r in read_rows(out)}
    assert rows["case1"]["status"] == "failed"
    assert "two files for this case" in rows["case1"]["error"] and "case1.png" in rows["case1"]["error"]
    assert rows["case0"]["status"] == rows["case2"]["status"] == "ok"
    assert "2 of 3 cases evaluated, 1 failed" in capsys.readouterr().out


def test_nan_in_a_volume_is_named_as_the_reason(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    label = np.zeros((8, 8, 4), np.uint8)
    label[2:6, 2:6, 1:3] = 1
    probabilities = label.astype(np.float32)
    probabilities[0, 0, 0] = np.nan
    write_nifti(gt / "vol.nii.gz", label)
    write_nifti(pred / "vol.nii.gz", probabilities)
    out = tmp_path / "r.csv"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--metrics", "dice"]) == 1
    error = read_rows(out)[0]["error"]
    assert "prediction" in error and "NaN" in error


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_cleanly_with_exit_code_130(tmp_path, workers):
    import os
    import signal
    import time

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    for i in range(400):  # enough work that a loaded machine is still busy when the signal comes
        _, label, _ = brick_wall((96, 96), seed=i)
        write_png(gt / f"case{i:03d}.png", label.astype(bool))
        write_png(pred / f"case{i:03d}.png", label.astype(bool))
    out, log = tmp_path / "r.csv", tmp_path / "stderr.txt"
    executable = shutil.which("seglosses") or str(Path(sys.executable).with_name("seglosses"))
    with open(log, "w") as err:
        # A terminal's Ctrl-C reaches the whole process group: the workers too.
        process = subprocess.Popen(
            [executable, "evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--workers", workers],
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while "/400" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, "finished before it could be interrupted"
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=120)
    stderr = log.read_text()
    assert code == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not out.exists()  # nothing half-written


def test_label_maps_never_score_the_background(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    label = np.zeros((16, 16), np.uint8)
    label[2:6, 2:6], label[9:14, 9:14] = 1, 2
    prediction = label.copy()
    prediction[0, 0] = 3  # a class only the prediction has
    write_png(gt / "a.png", label)
    write_png(pred / "a.png", prediction)
    out = tmp_path / "r.csv"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--label-map",
                 "--metrics", "dice"]) == 0
    row = read_rows(out)[0]
    assert not [column for column in row if column.startswith("class0_")]
    assert float(row["class1_dice"]) == float(row["class2_dice"]) == 1.0 and float(row["class3_dice"]) == 0.0


def test_probability_maps_of_every_common_encoding(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    rng = np.random.default_rng(1)
    label = np.zeros((20, 20), bool)
    label[4:16, 6:12] = True
    probabilities = np.clip(np.where(label, 0.8, 0.2) + rng.uniform(-0.15, 0.15, label.shape), 0, 1)
    write_png(gt / "a.png", label)
    out = tmp_path / "r.csv"
    args = ["evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out), "--metrics", "dice", "--overwrite"]
    for dtype in (np.uint8, np.uint16):
        scaled = np.round(probabilities * np.iinfo(dtype).max).astype(dtype)  # fractions of the type's range
        (pred / "a.png").unlink(missing_ok=True)
        (pred / "a.tif").unlink(missing_ok=True)
        if dtype == np.uint8:
            write_png(pred / "a.png", scaled)
        else:
            from skimage.io import imsave

            imsave(str(pred / "a.tif"), scaled, check_contrast=False)
        assert main(args) == 0, read_rows(out)[0]["error"]
        assert float(read_rows(out)[0]["dice"]) == 1.0
    # A few small integers look like a label map: refused with the hint, not read as near-zero probabilities.
    (pred / "a.tif").unlink()
    write_png(pred / "a.png", label.astype(np.uint8) * 2 + (rng.random(label.shape) > 0.9))
    assert main(args) == 1
    assert "pass --label-map" in read_rows(out)[0]["error"]


@pytest.mark.parametrize("threshold", ["0", "1", "2", "-1", "nan", "half"])
def test_threshold_outside_the_unit_interval_is_a_usage_error(walls, threshold, capsys):
    root, _ = walls
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(root / "r.csv"),
              "--threshold", threshold])
    assert exit_info.value.code == 2 and "expected a number in (0, 1)" in capsys.readouterr().err
    assert not (root / "r.csv").exists()


def test_version_and_python_dash_m(capsys):
    from seglosses import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"seglosses {__version__}"
    result = subprocess.run([sys.executable, "-m", "seglosses", "--version"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"seglosses {__version__}"


def test_demo_quick_keeps_the_options_given(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--steps", "5", "--out", str(out)]) == 0
    rows = (out / "results.csv").read_text().splitlines()[1:]
    assert [row.split(",")[1] for row in rows] == ["5", "5"]
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    help_text = capsys.readouterr().out
    assert "``" not in help_text and "--train-cases TRAIN_CASES" in help_text and "held-out images" in help_text


def test_progress_in_a_log_file_is_a_few_lines_and_quiet_is_none(walls, tmp_path):
    root, _ = walls
    executable = shutil.which("seglosses") or str(Path(sys.executable).with_name("seglosses"))

    def run(*args):
        result = subprocess.run([executable, *args], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stderr

    evaluate = ["evaluate", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--metrics", "dice"]
    log = run(*evaluate, "--out", str(tmp_path / "a.csv"))
    assert "\r" not in log and 1 <= len(log.splitlines()) <= 3 and "3/3" in log.splitlines()[-1]
    assert run(*evaluate, "--out", str(tmp_path / "b.csv"), "--quiet") == ""
    log = run("demo", "--quick", "--out", str(tmp_path / "demo"))
    assert "\r" not in log and len(log.splitlines()) <= 4 and "3/3" in log
    assert run("demo", "--quick", "--quiet", "--out", str(tmp_path / "demo"), "--overwrite") == ""
