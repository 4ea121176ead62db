"""Backbone wrapper, feature nearest-neighbour baseline, image task (maps through the runner),
evaluation, grid plot, and benchmarks/image.py's specs and tables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _image_data import striped_images
from PIL import Image

import dmad
from dmad.bench import BenchSpec, load_spec, run_spec
from dmad.bench.image import ImageTask, evaluate_maps, run_image_detector
from dmad.bench.runner import plan_jobs
from dmad.bench.tasks import TASKS, make_task
from dmad.data.image import ImageSet
from dmad.exceptions import DataValidationError
from dmad.nets.backbones import FeatureExtractor, patch_embedding
from dmad.viz.images import plot_anomaly_grid

ROOT = Path(__file__).resolve().parents[1]
#: a fast feature_nn: small input, small bank, sharp maps
FAST_NN = {"max_fit_samples": 1000, "image_size": 64, "sigma": 1.0, "device": "cpu"}


def _script():
    """benchmarks/image.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("benchmark_image", ROOT / "benchmarks/image.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_backbone_loads_offline_with_imagenet_weights():
    fx = FeatureExtractor("efficientnet_lite0", layers=(2, 4), input_size=64)
    maps = fx(torch.rand(2, 1, 40, 40))
    assert [tuple(m.shape) for m in maps] == [(2, 24, 16, 16), (2, 40, 8, 8)]
    # pretrained, not random: the stem's batch-norm statistics are the ImageNet ones
    assert not torch.allclose(
        fx.net.stem[1].running_var, torch.ones_like(fx.net.stem[1].running_var)
    )
    assert not fx.train().training and all(not p.requires_grad for p in fx.parameters())
    assert patch_embedding(maps).shape == (2, 64, 16, 16)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "no_such_net"}, "unknown backbone"),
        ({"layers": (4, 2)}, "increasing"),
        ({"layers": (99,)}, "outside"),
        ({"input_size": 8}, "input_size"),
    ],
)
def test_backbone_bad_arguments(kwargs, match):
    with pytest.raises(DataValidationError, match=match):
        FeatureExtractor(**kwargs)


def _sets() -> tuple[ImageSet, ImageSet]:
    train, _ = striped_images(16, size=48)
    bad, masks = striped_images(4, size=48, defect=True, seed=1)
    good, _ = striped_images(4, size=48, seed=2)
    n_train, n_test = len(train), 8
    train_set = ImageSet(train, None, np.zeros(n_train, np.int8), ["good"] * n_train, [""] * 16)
    test_set = ImageSet(
        np.concatenate([bad, good]),
        np.concatenate([masks, np.zeros_like(masks)]),
        np.r_[np.ones(4), np.zeros(4)].astype(np.int8),
        ["square"] * 4 + ["good"] * 4,
        [""] * n_test,
    )
    return train_set, test_set


def test_feature_nn_baseline_localises_and_reports(tmp_path):
    train, test = _sets()
    det = dmad.create("feature_nn", random_state=0, **FAST_NN)
    metrics, scores, maps = run_image_detector(det, train, test)
    assert maps.shape == (8, 48, 48) and scores.shape == (8,)
    assert metrics["pixel_auroc"] > 0.9 and metrics["image_auroc"] == 1.0
    assert {"aupro", "aupro/square", "image_auroc/square", "fit_seconds"} <= set(metrics)
    assert det.bank_.shape == (1000, 152)
    png = plot_anomaly_grid(
        test.images[:3], maps[:3], tmp_path / "grid.png", masks=test.masks[:3], titles=list("abc")
    )
    assert png.stat().st_size < 300_000


def test_evaluate_maps_needs_masks():
    _, test = _sets()
    no_masks = ImageSet(test.images, None, test.labels, test.defect_types, test.paths)
    with pytest.raises(DataValidationError, match="masks"):
        evaluate_maps(no_masks, np.zeros(8), np.zeros((8, 48, 48)))


def test_image_task_is_registered(tmp_path):
    assert TASKS["image"] is ImageTask
    task = make_task("image", {"image_size": 64})
    assert task.options == {"image_size": 64, "max_train": None, "test_per_type": None}
    assert task.uses_maps
    _, test = _sets()
    assert task.evaluate(test, test.labels.astype(float)) == {"image_auroc": 1.0}  # no maps
    (tmp_path / "cat" / "train" / "good").mkdir(parents=True)
    assert task.list_datasets(tmp_path) == [tmp_path / "cat"]


def test_grid_rejects_mismatched_maps(tmp_path):
    with pytest.raises(DataValidationError, match="same N"):
        plot_anomaly_grid(np.zeros((2, 1, 8, 8)), np.zeros((2, 4, 4)), tmp_path / "x.png")


# ---- the image task through the runner -------------------------------------------------------
def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_category(root: Path, n_train: int = 12, n_good: int = 3, n_bad: int = 3) -> Path:
    """An MVTec-layout category of striped 48 px PNGs; the defect type "square" has masks."""
    train, _ = striped_images(n_train, size=48)
    good, _ = striped_images(n_good, size=48, seed=2)
    bad, masks = striped_images(n_bad, size=48, defect=True, seed=1)
    for i, img in enumerate(train):
        _save(root / "train" / "good" / f"{i:03d}.png", (img[0] * 255).astype(np.uint8))
    for i, img in enumerate(good):
        _save(root / "test" / "good" / f"{i:03d}.png", (img[0] * 255).astype(np.uint8))
    for i, (img, mask) in enumerate(zip(bad, masks, strict=True)):
        _save(root / "test" / "square" / f"{i:03d}.png", (img[0] * 255).astype(np.uint8))
        _save(root / "ground_truth" / "square" / f"{i:03d}_mask.png", mask * 255)
    return root


def test_runner_gives_image_tasks_maps_and_pixel_metrics(tmp_path):
    data = write_category(tmp_path / "data" / "stripes")
    seen = []
    spec = BenchSpec(
        name="img",
        task="image",
        datasets={"folder": str(tmp_path / "data")},
        detectors=[{"name": "feature_nn", "params": FAST_NN}],
        store=tmp_path / "image.sqlite",
    )
    df = run_spec(
        spec,
        progress=False,
        keep_scores=True,
        on_result=lambda job, det, name, X, truth, scores, maps: seen.append((truth, maps)),
    )
    row = df.iloc[0]
    assert row["status"] == "ok", row["error"]
    assert row["dataset"] == data.name and row["n_fit"] == 12 and row["n_test"] == 6
    for key in ("image_auroc", "pixel_auroc", "aupro"):
        assert 0.0 <= row[key] <= 1.0 and f"{key}/square" in df.columns
    assert row["pixel_auroc"] > 0.9 and row["headline"] == row["image_auroc"]
    ((truth, maps),) = seen
    assert maps.shape == (6, 48, 48) and truth.defect_types.count("square") == 3


def test_image_task_subsets_are_seeded_and_stratified(tmp_path):
    data = write_category(tmp_path / "stripes", n_train=10, n_good=4, n_bad=5)
    task = ImageTask(max_train=6, test_per_type=2)
    train, test_images, test = task.load_splits(data, seed=0)
    again, _, test_again = task.load_splits(data, seed=0)
    assert len(train) == 6 and np.array_equal(train, again)
    assert sorted(test.defect_types) == ["good", "good", "square", "square"]
    assert test.paths == test_again.paths and len(test_images) == 4


# ---- benchmarks/image.py -----------------------------------------------------------------------
def test_script_specs_split_feature_and_pixel_detectors(tmp_path):
    bench = _script()
    write_category(tmp_path / "stripes")
    args = bench.argparse.Namespace(
        data=str(tmp_path / "stripes"), seed=0, threads=1, store=tmp_path / "s.sqlite"
    )
    feature, diffusion = bench.make_specs(args)
    assert feature.task_options == {} and diffusion.task_options == bench.SUBSETS
    assert [d.label for d in feature.detectors] == list(bench.FEATURE_RUNS)
    assert [d.label for d in diffusion.detectors] == list(bench.DIFFUSION_RUNS)
    for config in [*feature.detectors, *diffusion.detectors]:
        assert "max_seconds" not in config.params and "bank_size" not in config.params
    (only,) = bench.make_specs(args, ["ddad"])
    assert only.name == "image-diffusion" and [d.label for d in only.detectors] == ["ddad"]


def test_yaml_spec_is_the_scripts_feature_spec(tmp_path, monkeypatch):
    """benchmarks/specs/image.yaml and the script's first spec run (and share) the same jobs."""
    yaml_text = (ROOT / "benchmarks" / "specs" / "image.yaml").read_text()
    (tmp_path / "work").mkdir()
    write_category(tmp_path / "shared" / "data" / "image" / "magnetic_tile")
    (tmp_path / "work" / "spec.yaml").write_text(yaml_text)
    monkeypatch.chdir(tmp_path / "work")
    from_yaml = load_spec("spec.yaml")
    bench = _script()
    args = bench.argparse.Namespace(
        data="../shared/data/image/magnetic_tile", seed=0, threads=2, store=from_yaml.store
    )
    feature = bench.make_specs(args)[0]
    assert from_yaml.store == Path("results/image.sqlite") == Path(feature.store)
    hashes = [j.job_hash for j in plan_jobs(from_yaml, from_yaml.make_task())]
    assert hashes == [j.job_hash for j in plan_jobs(feature, feature.make_task())]
    assert "max_seconds" not in yaml_text


def _row(label, subset, n_fit, n_test, base, **extra):
    options = {"image_size": None, "max_train": 150 if subset else None, "test_per_type": None}
    return {
        "label": label,
        "status": "ok",
        "error": None,
        "seed": 0,
        "task_options": json.dumps(options),
        "threads": 2,
        "torch_version": "2.x",
        "n_fit": n_fit,
        "n_test": n_test,
        "fit_seconds": 12.4,
        "score_seconds": 0.5 * n_test,
        "image_auroc": base,
        "pixel_auroc": base + 0.01,
        "aupro": base + 0.02,
        "image_auroc/crack": base - 0.1,
        "aupro/crack": base - 0.2,
        "image_auroc/break": base + 0.05,
        "aupro/break": base,
        **extra,
    }


def test_script_tables_from_stored_rows():
    bench = _script()
    df = pd.DataFrame(
        [
            _row("feature_nn (baseline)", False, 761, 353, 0.8),
            _row("ddad", True, 150, 60, 0.5),
            {**_row("masked_diffusion", True, 150, 60, 0.5), "status": "error", "error": "boom"},
        ]
    )
    md = bench.tables(df)
    lines = md.splitlines()
    assert "full test set: 353 images" in md and "no wall-clock cap" in md
    assert "| feature_nn (baseline) | 761 / 353 | 0.800 | 0.810 | 0.820 | 12 | 0.50 |" in lines
    assert "| ddad* | 150 / 60 | 0.500 | 0.510 | 0.520 | 12 | 0.50 |" in lines
    assert "| detector | break img / AUPRO | crack img / AUPRO |" in lines
    assert "| ddad | 0.550 / 0.500 | 0.400 / 0.300 |" in lines
    assert "- masked_diffusion, seed 0: boom" in lines


def test_script_draws_a_grid_per_job(tmp_path):
    bench = _script()
    write_category(tmp_path / "data" / "stripes")
    spec = BenchSpec(
        name="img",
        task="image",
        datasets={"folder": str(tmp_path / "data")},
        detectors=[{"name": "feature_nn", "params": FAST_NN, "label": "feature_nn (fast)"}],
        store=tmp_path / "image.sqlite",
    )
    run_spec(spec, progress=False, on_result=bench.grid_callback(tmp_path / "grids"))
    assert (tmp_path / "grids" / "feature_nn_fast.png").stat().st_size > 0
