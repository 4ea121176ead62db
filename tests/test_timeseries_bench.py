"""The time-series task, the runner on it, and the baselines' defining behaviour."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import dmad
from dmad.bench import BenchSpec, default_spec, run_spec
from dmad.bench.timeseries import TS_BASELINES, TimeSeriesTask
from dmad.data.windows import sliding_windows, window_starts, windows_to_points
from dmad.metrics import vus, vus_pr


def _benchmark_script():
    """benchmarks/timeseries.py as a module (it is a script, not part of the package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "timeseries.py"
    spec = importlib.util.spec_from_file_location("benchmark_timeseries", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_series(path, with_train=True):
    x = write_series_array()
    labels = np.zeros(400, np.int8)
    x[500:505] += 2.0
    labels[200:205] = 1
    train = x[:300] if with_train else np.zeros((0, 1), np.float32)
    np.savez(path, train=train, test=x[300:], labels=labels)
    return x


def test_task_fits_on_train_or_transductively(tmp_path):
    write_series(tmp_path / "a.npz")
    write_series(tmp_path / "b.npz", with_train=False)
    task = TimeSeriesTask()
    fit_a, test_a, _ = task.load_splits(tmp_path / "a.npz", seed=0)
    fit_b, test_b, _ = task.load_splits(tmp_path / "b.npz", seed=0)
    assert len(fit_a) == 300 and fit_b is test_b
    metrics = task.evaluate(np.r_[np.zeros(50), np.ones(5)], np.r_[np.zeros(50), np.ones(5)])
    assert set(metrics) == set(task.metric_names) and metrics["auroc"] == 1.0


def test_headline_vus_pr_is_tsb_and_dmad_has_its_own_column():
    # A perfect 0/1 detector on one 10-point event: 1 in TSB-AD's convention; dmad's counts the
    # soft border as positive, so it stays below 1 (the values are checked by hand in
    # test_metrics_vus.py).
    y = np.zeros(1000, int)
    y[500:510] = 1
    task = TimeSeriesTask()
    metrics = task.evaluate(y, y.astype(float))
    assert task.headline == "vus_pr" and "vus_pr_tsb" not in task.metric_names
    assert metrics["vus_pr"] == 1.0 and metrics["vus_roc"] == 1.0
    assert metrics["vus_pr_dmad"] == vus_pr(y, y, convention="dmad") < 0.7
    rng = np.random.default_rng(0)
    s = y + rng.random(y.size)  # overlapping classes: the conventions differ
    metrics = task.evaluate(y, s)
    assert metrics["vus_pr"] == vus_pr(y, s, convention="tsb")
    assert metrics["vus_roc"] == vus(y, s, convention="tsb")["vus_roc"]
    assert metrics["vus_pr_dmad"] == vus_pr(y, s, convention="dmad") != metrics["vus_pr"]
    # the convention is part of the job hash, so stores written under dmad's are not resumed
    assert task.options == {"vus_convention": "tsb"}


def test_default_timeseries_spec_holds_every_detector_once(tmp_path):
    write_series(tmp_path / "toy.npz")
    spec = default_spec("timeseries", tmp_path)
    names = [d.name for d in spec.detectors]
    assert set(TS_BASELINES) <= set(names) and len(names) == len(set(names))
    assert "diffusion_recon" in names


def test_benchmark_script_runs_through_the_store_and_renders(tmp_path):
    bench = _benchmark_script()
    assert bench.METRICS[:3] == ["vus_pr", "vus_pr_dmad", "vus_roc"]
    assert set(bench.METRICS) == set(TimeSeriesTask.metric_names)
    assert "TSB-AD" in bench.NOTES["vus_pr"] and "dmad" in bench.NOTES["vus_pr_dmad"]
    data = tmp_path / "data" / "TOY"
    data.mkdir(parents=True)
    write_series(data / "toy.npz")
    args = [
        "--data", str(tmp_path / "data"), "--store", str(tmp_path / "ts.sqlite"),
        "--plots", str(tmp_path / "plots"), "--detectors", "window_knn", "moving_zscore",
        "--update-md", str(tmp_path / "B.md"),
    ]  # fmt: skip
    bench.main(args)
    text = (tmp_path / "B.md").read_text()
    assert "dmad-bench:timeseries:start" in text and "| TOY (1) |" in text
    assert (tmp_path / "plots" / "TOY__toy.png").is_file()  # drawn from the stored scores
    store = dmad.bench.ResultStore(tmp_path / "ts.sqlite")
    rows = store.rows()
    assert set(rows["label"]) == {"window_knn", "moving_zscore"}
    _, _, labels = TimeSeriesTask().load_splits(data / "toy.npz", seed=0)
    kept = store.scores(rows.loc[0, "job_hash"])["scores"]
    assert kept.shape == labels.shape
    assert rows.loc[0, "vus_pr"] == pytest.approx(vus_pr(labels, kept))
    # a second call runs nothing new: the tables come from the store
    before = (tmp_path / "ts.sqlite").stat().st_mtime_ns
    bench.main(args)
    assert len(store.rows()) == 2 and (tmp_path / "ts.sqlite").stat().st_mtime_ns >= before


def test_runner_runs_timeseries_specs(tmp_path):
    data = tmp_path / "data" / "TOY"
    data.mkdir(parents=True)
    write_series(data / "toy.npz")
    spec = BenchSpec(
        name="ts",
        task="timeseries",
        datasets={"folder": tmp_path / "data"},
        detectors=list(TS_BASELINES),
        store=tmp_path / "r.sqlite",
    )
    df = run_spec(spec, progress=False)
    assert (df["status"] == "ok").all(), df["error"].tolist()
    assert df.set_index("label").loc["window_knn", "vus_pr"] > 0.5


def test_window_knn_is_pyod_knn_on_flattened_standardised_windows():
    from pyod.models.knn import KNN

    x = write_series_array()
    det = dmad.create("window_knn", window=25, random_state=0).fit(x[:300])
    z = (x - x[:300].mean(0)) / x[:300].std(0)
    ref = KNN(n_neighbors=5, method="largest").fit(sliding_windows(z[:300], 25).reshape(276, -1))
    windows = sliding_windows(z[300:], 25).reshape(376, -1)
    expected = windows_to_points(ref.decision_function(windows), window_starts(400, 25), 25, 400)
    np.testing.assert_allclose(det.decision_function(x[300:]), expected, rtol=1e-4)


def write_series_array():
    rng = np.random.default_rng(0)
    t = np.arange(700)
    return (np.sin(2 * np.pi * t / 25) + 0.05 * rng.normal(size=700))[:, None].astype(np.float32)


def test_moving_zscore_and_subsampling():
    x = write_series_array()
    spike = x[300:].copy()
    spike[123] += 3.0
    z = dmad.create("moving_zscore").fit(x[:300]).decision_function(spike)
    assert int(np.argmax(z)) == 123
    big = dmad.create("window_knn", window=25, max_fit_samples=100, random_state=0).fit(x)
    assert big.detectors_[0].decision_scores_.shape == (100,)  # the kept fit windows


@pytest.mark.parametrize("name", ["window_iforest", "window_pca"])
def test_other_window_baselines_flag_a_fault(name):
    x = write_series_array()
    test = x[300:].copy()
    test[200:205] += 2.0
    scores = dmad.create(name, window=25, random_state=0).fit(x[:300]).decision_function(test)
    assert 190 <= int(np.argmax(scores)) <= 215
