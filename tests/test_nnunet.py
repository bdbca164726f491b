"""seglosses.nnunet against nnU-Net v2 itself: trainers found by the stock commands, their loss equal to nnU-Net's
Dice+CE plus our modules, tubes made in nnU-Net's loader, and short trainings on tiny synthetic datasets through
``nnUNetv2_train``, then ``nnUNetv2_predict`` and ``seglosses evaluate``.

Skipped where nnunetv2 is not installed (CI installs the extra in a second environment: .ci/run).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("nnunetv2", reason="nnunetv2 is not installed (pip install 'seglosses[nnunet]')")
from filelock import FileLock  # noqa: E402  (a torch dependency)

import seglosses.nnunet as sn  # noqa: E402
from seglosses.losses import BettiMatchingLoss, MIPLoss, SkeletonRecallLoss, SoftclDiceLoss  # noqa: E402
from seglosses.transforms.skeleton import skeleton_tube  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# id: (dim, classes, regions)
DATASETS = {901: (2, 1, False), 902: (3, 1, False), 903: (2, 2, False), 904: (2, 2, True)}
NAMES = {901: "Dataset901_SyntheticVessels2D", 902: "Dataset902_SyntheticVessels3D",
         903: "Dataset903_SyntheticVessels2D", 904: "Dataset904_SyntheticVessels2D"}


def _example():
    spec = importlib.util.spec_from_file_location("nnunet_synthetic", ROOT / "examples" / "nnunet_synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _quiet_env(root: Path, results: Path) -> dict[str, str]:
    return {
        **os.environ,
        "nnUNet_raw": str(root / "raw"),
        "nnUNet_preprocessed": str(root / "preprocessed"),
        "nnUNet_results": str(results),
        "nnUNet_n_proc_DA": "0",  # augmentation in the main process
        "nnUNet_def_n_proc": "1",  # one export worker (nnU-Net spawns 8 by default)
        "nnUNet_compile": "false",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="session")
def nnunet_root(tmp_path_factory, worker_id) -> Path:
    """Raw and preprocessed synthetic datasets, made once for all xdist workers."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker_id != "master" else base) / "nnunet-datasets"
    with FileLock(str(root) + ".lock"):
        if not (root / "ready").exists():
            example = _example()
            for dataset_id, (dim, classes, regions) in DATASETS.items():
                example.write_dataset(root / "raw", dataset_id, dim=dim, classes=classes, regions=regions)
            env = {**_quiet_env(root, root / "unused"), "nnUNet_n_proc_DA": "1"}
            for ids, configuration in (([901, 903, 904], "2d"), ([902], "3d_fullres")):
                subprocess.run(
                    [str(BIN / "nnUNetv2_plan_and_preprocess"), "-d", *map(str, ids), "-c", configuration, "-np", "1", "-npfp", "1"],
                    env=env, check=True, capture_output=True, timeout=600)
            (root / "ready").touch()
    return root


@pytest.fixture()
def nnunet_env(nnunet_root, tmp_path, monkeypatch) -> Path:
    """nnU-Net's folders in this process's environment; results in a fresh folder."""
    for key, value in _quiet_env(nnunet_root, tmp_path / "results").items():
        if key.startswith("nnUNet_"):
            monkeypatch.setenv(key, value)
    for variable in (sn.trainers.LOSS_VARIABLE, *sn.trainers.LENGTH_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path / "results"


def make_trainer(cls, dataset_id: int, configuration: str, fold=0, dataset_json: dict | None = None):
    root = Path(os.environ["nnUNet_preprocessed"]) / NAMES[dataset_id]
    plans = json.loads((root / "nnUNetPlans.json").read_text())
    dataset_json = dataset_json or json.loads((root / "dataset.json").read_text())
    return cls({**plans, "continue_training": False}, configuration, fold, dataset_json, device=torch.device("cpu"))


# ---------------------------------------------------------------------------------------------- found by nnU-Net
def test_stock_lookup_finds_every_trainer(monkeypatch):
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    monkeypatch.setenv("nnUNet_extTrainer", sn.trainer_dir())
    for name, cls in sn.TRAINERS.items():
        assert recursive_find_trainer_class_by_name(name) is cls


def test_nnunet_path_command():
    out = subprocess.run([str(BIN / "seglosses"), "nnunet-path"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == sn.trainer_dir()
    assert Path(sn.trainer_dir(), "seglosses_nnunet_trainers.py").is_file()


# ------------------------------------------------------------------------------------------ the loss, term by term
def _outputs_and_targets(trainer, generator, classes_in_target: int):
    """Random deep-supervision logits and labels of the trainer's shapes (full resolution first)."""
    patch = trainer.configuration_manager.patch_size
    scales = trainer._get_deep_supervision_scales()
    heads = trainer.label_manager.num_segmentation_heads
    outputs, targets = [], []
    for scale in scales:
        shape = [round(p * s) for p, s in zip(patch, scale)]
        outputs.append(torch.randn(2, heads, *shape, generator=generator, dtype=torch.float64).float())
        targets.append(torch.randint(0, classes_in_target, (2, 1, *shape), generator=generator).to(torch.int16))
    return outputs, targets


@pytest.mark.parametrize("trainer_name, term, weight", [
    ("nnUNetTrainerSeglossesClDice", "cldice", 1.0),
    ("nnUNetTrainerSeglossesBettiMatching", "betti_matching", 0.01),
])
def test_trainer_loss_is_stock_loss_plus_our_module(nnunet_env, trainer_name, term, weight):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    trainer = make_trainer(sn.TRAINERS[trainer_name], 903, "2d")
    stock = make_trainer(nnUNetTrainer, 903, "2d")._build_loss()
    loss = trainer._build_loss()
    outputs, targets = _outputs_and_targets(trainer, torch.Generator().manual_seed(0), 3)
    weights = stock.weight_factors
    if term == "cldice":
        ours = SoftclDiceLoss(softmax=True, to_onehot_y=True, include_background=False, iterations=10)
        expected = stock(outputs, targets) + weight * sum(
            w * ours(o, t) for w, o, t in zip(weights, outputs, targets) if w)
    else:
        ours = BettiMatchingLoss(softmax=True, to_onehot_y=True, include_background=False)
        expected = stock(outputs, targets) + weight * weights[0] * ours(outputs[0], targets[0])
    torch.testing.assert_close(loss(outputs, targets), expected, rtol=1e-5, atol=1e-6)
    assert set(loss.last_terms) == {term}


def test_skeleton_recall_loss_reads_the_tube_channels(nnunet_env):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    trainer = make_trainer(sn.nnUNetTrainerSeglossesSkeletonRecall, 901, "2d")
    stock = make_trainer(nnUNetTrainer, 901, "2d")._build_loss()
    loss = trainer._build_loss()
    outputs, labels = _outputs_and_targets(trainer, torch.Generator().manual_seed(1), 2)
    tubes = [torch.from_numpy(np.stack([skeleton_tube(s) for s in t.numpy()])) for t in labels]
    with_tubes = [torch.cat((t, u), 1) for t, u in zip(labels, tubes)]
    ours = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
    expected = stock(outputs, labels) + sum(
        w * ours(o, t, u) for w, o, t, u in zip(stock.weight_factors, outputs, labels, tubes) if w)
    torch.testing.assert_close(loss(outputs, with_tubes), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="even count"):
        loss([outputs[0]], [torch.cat((labels[0], tubes[0], labels[0]), 1)])


def test_regions_use_sigmoid_terms_on_every_region(nnunet_env):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    trainer = make_trainer(sn.nnUNetTrainerSeglossesClDice, 904, "2d")
    assert trainer.label_manager.has_regions
    stock = make_trainer(nnUNetTrainer, 904, "2d")._build_loss()
    loss = trainer._build_loss()
    outputs, labels = _outputs_and_targets(trainer, torch.Generator().manual_seed(2), 3)
    regions = [torch.cat((t >= 1, t == 2), 1) for t in labels]  # vessel = {1, 2}, core = {2}
    ours = SoftclDiceLoss(sigmoid=True, include_background=True, iterations=10)
    expected = stock(outputs, regions) + sum(
        w * ours(o, r.float()) for w, o, r in zip(stock.weight_factors, outputs, regions) if w)
    torch.testing.assert_close(loss(outputs, regions), expected, rtol=1e-5, atol=1e-6)


def test_mip_trainer_projects_along_three_axes(nnunet_env):
    trainer = make_trainer(sn.nnUNetTrainerSeglossesMIP, 902, "3d_fullres")
    loss = trainer._build_loss()
    outputs, labels = _outputs_and_targets(trainer, torch.Generator().manual_seed(3), 2)
    ours = MIPLoss(axes=(-3, -2, -1), softmax=True, to_onehot_y=True, include_background=False)
    loss(outputs, labels)
    torch.testing.assert_close(loss.last_terms["mip"], ours(outputs[0], labels[0]))


def test_spec_trainer_reads_the_environment(nnunet_env, monkeypatch):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    monkeypatch.setenv("SEGLOSSES_NNUNET_LOSS", "dice_ce")
    plain = make_trainer(sn.nnUNetTrainerSeglosses, 901, "2d")._build_loss()
    stock = make_trainer(nnUNetTrainer, 901, "2d")._build_loss()
    outputs, labels = _outputs_and_targets(make_trainer(nnUNetTrainer, 901, "2d"), torch.Generator().manual_seed(4), 2)
    torch.testing.assert_close(plain(outputs, labels), stock(outputs, labels))  # "dice_ce" is the stock loss
    monkeypatch.setenv("SEGLOSSES_NNUNET_LOSS", "0.5*dice_ce+0.25*cldice+0.01*betti_matching")
    monkeypatch.setenv("SEGLOSSES_NNUNET_EPOCHS", "3")
    trainer = make_trainer(sn.nnUNetTrainerSeglosses, 901, "2d")
    assert trainer.num_epochs == 3 and trainer.seglosses_spec.startswith("0.5*dice_ce")
    mixed = trainer._build_loss()
    assert mixed.base_weight == 0.5 and mixed.combined.weights == {"cldice": 0.25, "betti_matching": 0.01}
    assert mixed(outputs, labels).isfinite()


@pytest.mark.parametrize("variable, value, message", [
    ("SEGLOSSES_NNUNET_LOSS", "dice_ce+2*clDice", "Expected loss names"),
    ("SEGLOSSES_NNUNET_LOSS", "dice+dice_ce", "at most one"),
    ("SEGLOSSES_NNUNET_LOSS", "dice_ce+mip", "3D"),
    ("SEGLOSSES_NNUNET_ITERATIONS", "0", "positive integer"),
    ("SEGLOSSES_NNUNET_EPOCHS", "ten", "positive integer"),
])
def test_bad_settings_fail_at_construction(nnunet_env, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        make_trainer(sn.nnUNetTrainerSeglosses, 901, "2d")


def test_topograph_is_refused_in_3d_and_ignore_labels_everywhere(nnunet_env, monkeypatch):
    monkeypatch.setenv("SEGLOSSES_NNUNET_LOSS", "dice_ce+topograph")
    with pytest.raises(ValueError, match="2D only"):
        make_trainer(sn.nnUNetTrainerSeglosses, 902, "3d_fullres")
    dataset_json = json.loads((Path(os.environ["nnUNet_preprocessed"]) / NAMES[901] / "dataset.json").read_text())
    dataset_json["labels"] = {"background": 0, "vessel": 1, "ignore": 2}
    with pytest.raises(ValueError, match="ignore label"):
        make_trainer(sn.nnUNetTrainerSeglossesClDice, 901, "2d", dataset_json=dataset_json)


def test_a_different_spec_does_not_overwrite_a_trained_model(nnunet_env, monkeypatch):
    monkeypatch.setenv("SEGLOSSES_NNUNET_LOSS", "dice_ce+cldice")
    first = make_trainer(sn.nnUNetTrainerSeglosses, 901, "2d")
    first._record_spec()
    record = Path(first.output_folder) / "seglosses.json"
    assert json.loads(record.read_text())["loss"] == "dice_ce+cldice"
    first._record_spec()  # the same spec again: fine (continued training)
    monkeypatch.setenv("SEGLOSSES_NNUNET_LOSS", "dice_ce+skeleton_recall")
    with pytest.raises(RuntimeError, match="would overwrite"):
        make_trainer(sn.nnUNetTrainerSeglosses, 901, "2d")._record_spec()
    assert json.loads(record.read_text())["loss"] == "dice_ce+cldice"


# ----------------------------------------------------------------------------------------- tubes in the loader
@pytest.mark.parametrize("regions", [False, True])
def test_tube_transform_appends_the_tube_in_the_label_layout(regions):
    rng = np.random.default_rng(0)
    labels = (rng.random((1, 40, 40)) < 0.5).astype(np.int16) * 2
    labels[0, 10:14, 2:38] = 1
    segmentation = torch.from_numpy(np.concatenate([labels >= 1, labels == 2]) if regions else labels)
    out = sn.SkeletonTubeTransform(regions=regions)(image=torch.zeros(1, 40, 40), segmentation=segmentation)
    seg = out["segmentation"]
    assert seg.dtype == segmentation.dtype and seg.shape[0] == 2 * segmentation.shape[0]
    torch.testing.assert_close(seg[: segmentation.shape[0]], segmentation)
    expected = skeleton_tube(segmentation.numpy(), include_background=regions)
    np.testing.assert_array_equal(seg[segmentation.shape[0]:].numpy(), expected)
    with pytest.raises(RuntimeError, match="before DownsampleSegForDSTransform"):
        sn.SkeletonTubeTransform()(segmentation=[segmentation])


@pytest.mark.parametrize("dataset_id, configuration", [(901, "2d"), (904, "2d"), (902, "3d_fullres")])
def test_loader_batches_carry_tubes_at_every_resolution(nnunet_env, dataset_id, configuration):
    from batchgeneratorsv2.transforms.utils.deep_supervision_downsampling import DownsampleSegForDSTransform

    trainer = make_trainer(sn.nnUNetTrainerSeglossesSkeletonRecall, dataset_id, configuration)
    trainer.initialize()
    train, val = trainer.get_dataloaders()
    steps = [type(t) for t in train.data_loader.transforms.transforms]
    assert steps.index(sn.SkeletonTubeTransform) == steps.index(DownsampleSegForDSTransform) - 1
    batch = next(train)
    channels = 2 if trainer.label_manager.has_regions else 1
    assert [t.shape[1] for t in batch["target"]] == [2 * channels] * len(batch["target"])
    full = batch["target"][0]
    for sample in full:
        np.testing.assert_array_equal(sample[channels:].numpy(),
                                      skeleton_tube(sample[:channels].numpy(), include_background=channels > 1))
    assert next(val)["target"][0].shape[1] == 2 * channels


# ---------------------------------------------------------------------------------------- a fixed batch, trained
@pytest.mark.parametrize("trainer_name, dataset_id, configuration", [
    ("nnUNetTrainerSeglossesClDice", 901, "2d"),
    ("nnUNetTrainerSeglossesSkeletonRecall", 904, "2d"),
    ("nnUNetTrainerSeglossesBettiMatching", 903, "2d"),
    ("nnUNetTrainerSeglossesMIP", 902, "3d_fullres"),
    ("nnUNetTrainerSeglossesBettiMatching", 902, "3d_fullres"),
])
def test_terms_are_finite_and_decrease_on_a_fixed_batch(nnunet_env, trainer_name, dataset_id, configuration):
    torch.manual_seed(0)
    trainer = make_trainer(sn.TRAINERS[trainer_name], dataset_id, configuration)
    trainer.initialize()
    trainer.network.train()
    train, _ = trainer.get_dataloaders()
    batch = next(train)
    losses, terms = [], []
    for _ in range(12):
        losses.append(float(trainer.train_step(batch)["loss"]))
        terms.append({name: float(value) for name, value in trainer.loss.last_terms.items()})
    assert all(np.isfinite(losses)) and all(np.isfinite(list(t.values())).all() for t in terms)
    assert losses[-1] < losses[0]
    for name in terms[0]:
        assert min(t[name] for t in terms[-3:]) < terms[0][name], (name, [t[name] for t in terms])


def test_loss_under_cpu_autocast_is_close_to_float32(nnunet_env):
    trainer = make_trainer(sn.nnUNetTrainerSeglossesSkeletonRecall, 901, "2d")
    trainer.initialize()
    train, _ = trainer.get_dataloaders()
    batch = next(train)
    with torch.no_grad():
        reference = trainer.loss(trainer.network(batch["data"]), batch["target"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output = trainer.network(batch["data"])
            mixed = trainer.loss(output, batch["target"])
    assert output[0].dtype == torch.bfloat16 and mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, reference, rtol=0.05, atol=0.02)


# --------------------------------------------------------------------------- the documented commands, end to end
def _train(root: Path, results: Path, dataset_id: int, configuration: str, trainer: str, spec: str | None = None):
    env = {**_quiet_env(root, results), "nnUNet_extTrainer": sn.trainer_dir(), "SEGLOSSES_NNUNET_EPOCHS": "1",
           "SEGLOSSES_NNUNET_ITERATIONS": "2", "SEGLOSSES_NNUNET_VAL_ITERATIONS": "1"}
    if spec:
        env["SEGLOSSES_NNUNET_LOSS"] = spec
    done = subprocess.run([str(BIN / "nnUNetv2_train"), str(dataset_id), configuration, "0", "-tr", trainer,
                           "-device", "cpu"], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fold = results / NAMES[dataset_id] / f"{trainer}__nnUNetPlans__{configuration}" / "fold_0"
    assert (fold / "checkpoint_final.pth").is_file()
    log = next(fold.glob("training_log_*.txt")).read_text()
    return env, fold, log


@pytest.mark.slow
@pytest.mark.parametrize("trainer, dataset_id, configuration, spec", [
    ("nnUNetTrainerSeglossesClDice", 901, "2d", None),
    ("nnUNetTrainerSeglossesSkeletonRecall", 903, "2d", None),
    ("nnUNetTrainerSeglossesBettiMatching", 904, "2d", None),
    ("nnUNetTrainerSeglosses", 901, "2d", "dice_ce+0.5*cldice+0.01*betti_matching+0.5*topograph"),
    ("nnUNetTrainerSeglossesSkeletonRecall", 902, "3d_fullres", None),
    ("nnUNetTrainerSeglossesBettiMatching", 902, "3d_fullres", None),
])
def test_nnunetv2_train_with_each_trainer(nnunet_root, tmp_path, trainer, dataset_id, configuration, spec):
    _, fold, log = _train(nnunet_root, tmp_path, dataset_id, configuration, trainer, spec)
    assert "seglosses terms (full resolution, unweighted):" in log
    record = json.loads((fold / "seglosses.json").read_text())
    assert record["trainer"] == trainer and record["loss"] == (spec or sn.TRAINERS[trainer].loss_spec)


@pytest.mark.slow
@pytest.mark.parametrize("dataset_id, configuration, trainer", [
    (901, "2d", "nnUNetTrainerSeglossesSkeletonRecall"),
    (902, "3d_fullres", "nnUNetTrainerSeglossesMIP"),
])
def test_train_predict_evaluate(nnunet_root, tmp_path, dataset_id, configuration, trainer):
    env, _, _ = _train(nnunet_root, tmp_path / "results", dataset_id, configuration, trainer)
    raw = nnunet_root / "raw" / NAMES[dataset_id]
    predictions = tmp_path / "predictions"
    done = subprocess.run([str(BIN / "nnUNetv2_predict"), "-i", str(raw / "imagesTs"), "-o", str(predictions),
                           "-d", str(dataset_id), "-c", configuration, "-f", "0", "-tr", trainer, "-device", "cpu",
                           "-npp", "1", "-nps", "1"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = tmp_path / "metrics.csv"
    done = subprocess.run([str(BIN / "seglosses"), "evaluate", "--pred", str(predictions), "--gt",
                           str(raw / "labelsTs"), "--out", str(table), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 2 and all(0.0 <= float(row["dice"]) <= 1.0 for row in rows)


@pytest.mark.slow
def test_seglosses_nnunet_train_wrapper(nnunet_root, tmp_path):
    env = {**_quiet_env(nnunet_root, tmp_path), "nnUNet_extTrainer": ""}
    done = subprocess.run([str(BIN / "seglosses"), "nnunet-train", "901", "2d", "0", "--loss", "dice_ce+1*cldice",
                           "--epochs", "1", "--iterations", "2", "--val-iterations", "1", "-device", "cpu"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    fold = tmp_path / NAMES[901] / "nnUNetTrainerSeglosses__nnUNetPlans__2d" / "fold_0"
    assert json.loads((fold / "seglosses.json").read_text())["loss"] == "dice_ce+1*cldice"
    bad = subprocess.run([str(BIN / "seglosses"), "nnunet-train", "901", "2d", "0", "--loss", "dice_ce+x"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "Expected loss names" in bad.stderr
