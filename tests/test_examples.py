"""The README's main job runs end to end (a few steps, so the test stays fast)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_synthetic_runs_and_reports_every_loss(capsys):
    example = load_example("train_synthetic")
    argv = ["--steps", "2", "--batch", "2", "--size", "32", "--train-cases", "4", "--test-cases", "2"]
    assert example.main([*argv, "--losses", "dice_ce", "cldice", "skeleton_recall"]) == 0
    table = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("loss"))
    rows = {line.split()[0]: line.split()[1:] for line in table[header + 1:] if line.strip()}
    assert set(rows) == {"dice_ce", "cldice", "skeleton_recall"}
    for seconds, dice, b0_error, b1_error in rows.values():
        assert 0.0 <= float(dice) <= 1.0
        assert float(b0_error) >= 0.0 and float(b1_error) >= 0.0


def test_train_synthetic_rejects_an_unknown_loss():
    example = load_example("train_synthetic")
    with pytest.raises(SystemExit):
        example.main(["--losses", "no_such_loss"])
