"""The time-series task, the runner on it, and the baselines' defining behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import dmad
from dmad.bench import BenchSpec, default_spec, run_spec
from dmad.bench.timeseries import TS_BASELINES, TimeSeriesTask
from dmad.data.windows import sliding_windows, window_starts, windows_to_points


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


def test_default_timeseries_spec_holds_every_detector_once(tmp_path):
    write_series(tmp_path / "toy.npz")
    spec = default_spec("timeseries", tmp_path)
    names = [d.name for d in spec.detectors]
    assert set(TS_BASELINES) <= set(names) and len(names) == len(set(names))
    assert "diffusion_recon" in names


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
    big = dmad.create("window_knn", window=25, max_fit_windows=100, random_state=0).fit(x)
    assert big.model_.decision_scores_.shape == (100,)


@pytest.mark.parametrize("name", ["window_iforest", "window_pca"])
def test_other_window_baselines_flag_a_fault(name):
    x = write_series_array()
    test = x[300:].copy()
    test[200:205] += 2.0
    scores = dmad.create(name, window=25, random_state=0).fit(x[:300]).decision_function(test)
    assert 190 <= int(np.argmax(scores)) <= 215
