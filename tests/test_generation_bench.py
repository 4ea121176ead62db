"""The generation tasks (real vs generated AUROC), the runner on them, and the tables of
benchmarks/generation.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmad.bench import BenchSpec, make_detector, run_spec
from dmad.bench.generation import (
    GenerationSeriesTask,
    GenerationTabularTask,
    HeldOutTooShortError,
    is_skipped,
    series_injectors,
)
from dmad.bench.tasks import TASKS, TabularTask, make_task
from dmad.data.windows import default_window
from dmad.exceptions import DataValidationError
from dmad.generation.loop import estimate_auroc
from dmad.generation.tabular import HARD_ALPHA

ROOT = Path(__file__).resolve().parents[1]
#: keep the tiny sets tiny (the protocol would resample them to 1000 rows)
FAST = {"resample_to": None}


def _script():
    """benchmarks/generation.py as a module (it is a script, not part of the package)."""
    path = ROOT / "benchmarks" / "generation.py"
    spec = importlib.util.spec_from_file_location("benchmark_generation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_table(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(200, 4)), rng.normal(4.0, 1.0, size=(10, 4))])
    np.savez(path, X=X, y=np.r_[np.zeros(200), np.ones(10)])
    return path


def write_series(path: Path, n_train: int = 2000, n_test: int = 600) -> Path:
    """A noisy sine of period 20 with one labelled bump in the test part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(n_train + n_test)
    x = (np.sin(2 * np.pi * t / 20) + 0.05 * rng.normal(size=len(t)))[:, None].astype(np.float32)
    labels = np.zeros(n_test, np.int8)
    x[n_train + 300 : n_train + 310] += 3.0
    labels[300:310] = 1
    np.savez(path, train=x[:n_train], test=x[n_train:], labels=labels)
    return path


def test_tasks_are_registered_with_their_options():
    assert TASKS["generation-tabular"] is GenerationTabularTask
    assert TASKS["generation-timeseries"] is GenerationSeriesTask
    task = make_task("generation-tabular", {"strength": "default"})
    assert task.options == {
        "holdout": 0.2,
        "kind": "mixed",
        "strength": "default",
        **TabularTask().options,
    }
    assert task.headline == "real/auroc" and not task.uses_maps
    assert task.default_baselines == ("iforest", "knn", "lof", "ecod", "ocsvm")
    assert make_task("generation-timeseries").options == {"holdout": 0.2, "per_kind": 4}
    for options, match in [
        ({"holdout": 1.5}, "holdout"),
        ({"kind": "weird"}, "kind"),
        ({"strength": "adbench"}, "strength"),
    ]:
        with pytest.raises(DataValidationError, match=match):
            make_task("generation-tabular", options)
    with pytest.raises(DataValidationError, match="per_kind"):
        make_task("generation-timeseries", {"per_kind": 0})


def test_tabular_split_holds_out_normals_and_injects_as_estimate_auroc(tmp_path):
    path = write_table(tmp_path / "set.npz")
    task = GenerationTabularTask(**FAST)
    X_fit, X_test, truth = task.load_splits(path, seed=3)
    X_train, real_X, real_y = TabularTask(**FAST).load_splits(path, seed=3)
    n_hold = round(0.2 * len(X_train))
    assert list(X_test) == ["generated", "real"]  # the old order: generated scored first
    assert len(X_fit) == len(X_train) - n_hold
    assert np.array_equal(X_test["real"], real_X) and np.array_equal(truth["real"], real_y)
    generated, labels = X_test["generated"], truth["generated"]
    assert len(generated) == 2 * n_hold and labels.sum() == n_hold
    # the normal rows of the generated set are exactly the held-out rows, disjoint from the fit
    held_out = generated[labels == 0]
    assert as_set(held_out) | as_set(X_fit) == as_set(X_train)
    assert not as_set(held_out) & as_set(X_fit)
    # the injected rows are new ones
    assert not as_set(generated[labels == 1]) & as_set(X_train)
    # what the old script's estimate_auroc(det, X_hold, "mixed", ...) injected and scored
    det = make_detector("dte_np", {}, 3).fit(X_fit)
    old_hold = held_out_in_order(X_train, 3, n_hold)
    old = estimate_auroc(
        det, old_hold, "mixed", n_anomalies=n_hold, alpha=HARD_ALPHA, random_state=3
    )
    assert np.array_equal(old.injection.data, generated)
    assert np.array_equal(old.injection.labels, labels)


def as_set(rows: np.ndarray) -> set[tuple[float, ...]]:
    return {tuple(r) for r in np.round(np.asarray(rows, dtype=np.float64), 12)}


def held_out_in_order(X_train: np.ndarray, seed: int, n_hold: int) -> np.ndarray:
    """The old script's held-out rows: the first ``n_hold`` of a seeded permutation."""
    X_train = np.asarray(X_train, dtype=np.float64)
    return X_train[np.random.default_rng(seed).permutation(len(X_train))[:n_hold]]


def test_every_detector_sees_the_same_generated_set(tmp_path):
    write_table(tmp_path / "data" / "a.npz")
    seen: dict[str, np.ndarray] = {}

    def keep(job, detector, name, X, truth, scores, maps):
        if name == "generated":
            seen[job.detector.label] = np.asarray(X)

    spec = BenchSpec(
        name="gen-tab",
        task="generation-tabular",
        datasets={"folder": str(tmp_path / "data")},
        detectors=[
            "dte_np",
            {"name": "dte_np", "params": {"n_neighbors": 3}, "label": "dte_np k3"},
        ],
        store=tmp_path / "gen.sqlite",
        task_options=FAST,
    )
    df = run_spec(spec, progress=False, on_result=keep)
    assert list(df["status"]) == ["ok", "ok"]
    assert np.array_equal(seen["dte_np"], seen["dte_np k3"])
    assert {"real/auroc", "generated/auroc"} <= set(df.columns)
    assert (df["headline"] == df["real/auroc"]).all() and (df["generated/auroc"] > 0.5).all()
    # a second call resumes: nothing reruns
    assert run_spec(spec, progress=False)["timestamp"].tolist() == df["timestamp"].tolist()


def test_series_split_in_time_with_rounds_of_injected_copies(tmp_path):
    path = write_series(tmp_path / "S" / "sine.npz")
    task = GenerationSeriesTask(per_kind=1)
    fit_part, X_test, truth = task.load_splits(path, seed=0)
    full = np.load(path)["train"]
    assert np.array_equal(fit_part, full[:1600])  # the first 80 % in time
    held_out = full[1600:]
    copies, labels = X_test["generated"], truth["generated"]
    injectors = series_injectors(len(held_out), default_window(fit_part), 0, per_kind=1)
    assert isinstance(copies, list) and len(copies) == len(injectors) > 1
    assert len(labels) == sum(len(c) for c in copies) == len(copies) * len(held_out)
    for i, copy in enumerate(copies):
        part = labels[i * len(held_out) : (i + 1) * len(held_out)]
        changed = np.any(copy != held_out, axis=1)
        assert part.sum() > 0 and not (changed & (part == 0)).any()
    assert np.array_equal(X_test["real"], np.load(path)["test"])
    again = task.load_splits(path, seed=0)[1]["generated"]
    assert all(np.array_equal(a, b) for a, b in zip(copies, again, strict=True))


def test_short_held_out_part_is_a_distinctive_error(tmp_path):
    # period 20, held-out part 60 steps < 4 windows: nothing to rank by
    path = write_series(tmp_path / "S" / "short.npz", n_train=300)
    with pytest.raises(HeldOutTooShortError, match="shorter than 4 windows of 20 steps"):
        GenerationSeriesTask().load_splits(path, seed=0)
    assert issubclass(HeldOutTooShortError, DataValidationError)


def test_series_run_pools_copies_and_records_skips(tmp_path):
    write_series(tmp_path / "data" / "S" / "sine.npz")
    write_series(tmp_path / "data" / "S" / "short.npz", n_train=300)
    spec = BenchSpec(
        name="gen-ts",
        task="generation-timeseries",
        datasets={"folder": str(tmp_path / "data")},
        detectors=[{"name": "dte_windows", "params": {"window": 20, "scales": [1.0]}}],
        store=tmp_path / "gen.sqlite",
        task_options={"per_kind": 1},
    )
    df = run_spec(spec, progress=False).set_index("dataset")
    assert df.loc["sine", "status"] == "ok" and df.loc["sine", "real/auroc"] > 0.9
    assert df.loc["sine", "n_test"] == 600 + 400 * 4  # the real series + 4 copies of 400 steps
    assert df.loc["short", "status"] == "error" and is_skipped(df.loc["short", "error"])
    assert not is_skipped("DataValidationError: something else")


# ---- benchmarks/generation.py's tables ---------------------------------------------------------
def _frame(cells: dict[str, dict[str, tuple[float, float]]]) -> pd.DataFrame:
    """Stored-row-like frame: dataset → detector → (real, generated)."""
    rows = [
        {
            "dataset": dataset,
            "label": detector,
            "detector": detector,
            "status": "ok",
            "error": None,
            "seed": 0,
            "real/auroc": real,
            "generated/auroc": generated,
            "fit_seconds": 30.0,
            "score_seconds": 30.0,
        }
        for dataset, by_detector in cells.items()
        for detector, (real, generated) in by_detector.items()
    ]
    return pd.DataFrame(rows)


def test_rho_is_one_when_rankings_agree_and_pairs_respect_ties():
    bench = _script()
    df = _frame(
        {
            # dmad: dte_np > ddpm > tabadm in both; knn ties dte_np on real (gap 0.01)
            "a": {
                "dte_np": (0.90, 0.95),
                "ddpm": (0.80, 0.85),
                "tabadm": (0.70, 0.75),
                "knn": (0.91, 0.60),
            },
            # reversed rankings
            "b": {
                "dte_np": (0.90, 0.70),
                "ddpm": (0.80, 0.80),
                "tabadm": (0.70, 0.90),
                "knn": (0.60, 0.95),
            },
        }
    )
    rows = bench.ranking_rows(df)
    assert rows["dmad"].tolist() == [True, True, True, False] * 2
    assert bench.concordant_pairs(rows[rows["dataset"] == "a"]) == (3, 5)  # the tie left out
    assert bench.concordant_pairs(rows[rows["dataset"] == "b"]) == (0, 6)
    lines = bench.ranking_lines(rows, "sets")
    assert lines[0].startswith("| dataset | ρ dmad (3) | ρ dmad + baselines (4) |")
    assert "| a | 1.00 | -0.20 | knn (0.910) | dte_np (0.950) |" in lines
    assert "| b | -1.00 | -1.00 | dte_np (0.900) | knn (0.950) |" in lines
    assert "| **mean** | **0.00** | **-0.60** | | |" in lines
    text = "\n".join(lines)
    assert "ρ > 0 on 1/2 sets (dmad detectors) and 0/2 (with baselines)" in text
    assert "in 3/6 pairs of dmad detectors and 3/11 of all" in text
    assert "| a | 0.900 / 0.950 | 0.800 / 0.850 | 0.700 / 0.750 | 0.910 / 0.600 |" in lines


def test_series_tables_name_collections_and_skip_skipped_rows():
    bench = _script()
    df = _frame(
        {
            "s1": {"dte_windows": (0.9, 0.8), "d3r": (0.5, 0.4), "window_knn": (0.7, 0.9)},
            "s2": {"dte_windows": (0.6, 0.7), "d3r": (0.8, 0.9), "window_knn": (0.7, 0.8)},
        }
    )
    skipped = {**df.iloc[0].to_dict(), "dataset": "s3", "status": "error"}
    skipped["error"] = "HeldOutTooShortError: skipped C/s3: ..."
    df = pd.concat([df, pd.DataFrame([skipped])], ignore_index=True)
    rows = bench.ranking_rows(df, {"s1": "A", "s2": "A", "s3": "B"})
    assert list(dict.fromkeys(rows["dataset"])) == ["A/s1", "A/s2"]
    assert rows.loc[rows["detector"] == "window_knn", "dmad"].eq(False).all()
    md = bench.series_markdown(rows, 0, 0.2, 4, threads=1)
    assert "| *mean A (2)* | *1.00* | *0.75* | | |" in md
    assert "default epochs" in md and "6 min on 1 CPU thread." in md
    assert bench._failures(df) == []


def test_tabular_markdown_states_the_setting():
    bench = _script()
    rows = bench.ranking_rows(
        _frame({"a": {"dte_np": (0.9, 0.9), "ddpm": (0.8, 0.7), "knn": (0.7, 0.8)}})
    )
    md = bench.tabular_markdown(rows, 0, "mixed", "hard")
    assert "strength α: local 2, global 1.1, clustered 2" in md
    assert "default epochs" in md
    assert "local 5, global 1.1, clustered 5" in bench.tabular_markdown(rows, 0, "mixed", "default")


def test_image_table_per_seed_and_mean_from_fit_info():
    bench = _script()
    records = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        for label, head in (("without generated anomalies", None), ("with scar", 24)):
            info = {"train_result": {"epochs": 16, "stopped": "epochs"}}
            if head:
                info["head_result"] = {"epochs": head, "stopped": "epochs"}
            records.append(
                {
                    "seed": seed,
                    "label": label,
                    "status": "ok",
                    "fit_info": json.dumps(info),
                    "aupro": 0.4 + shift,
                    "pixel_auroc": 0.7 + shift,
                    "image_auroc": 0.6 + shift,
                    "n_fit": 761,
                    "n_test": 353,
                    "threads": 1,
                    "hardware": "cpu",
                }
            )
    rows = bench.image_rows(pd.DataFrame(records))
    assert rows["head_epochs"].tolist() == [0, 24, 0, 24]
    md = bench.image_markdown(rows, 64, bench.IMAGE_PARAMS)
    assert "| 1 | with scar | 16 / 24 | 0.500 | 0.800 | 0.700 |" in md
    assert "| mean ± sd | with scar | | 0.450 ± 0.071 | 0.750 ± 0.071 | 0.650 ± 0.071 |" in md
    assert "761 normal training images" in md and "353 real test images" in md


def test_image_spec_has_one_job_per_kind_with_explicit_epochs(tmp_path):
    bench = _script()
    (tmp_path / "magnetic_tile" / "train" / "good").mkdir(parents=True)
    args = bench.argparse.Namespace(
        image_size=64,
        image_data=str(tmp_path),
        image_category="magnetic_tile",
        seeds=[0, 1],
        threads=1,
        store_dir=str(tmp_path / "results"),
    )
    spec = bench.image_spec(args)
    assert spec.task_options == {"image_size": 64}
    assert [d.params["synthetic"] for d in spec.detectors] == [None, "perlin", "scar"]
    for config in spec.detectors:
        assert config.params["epochs"] == 16 and config.params["head_epochs"] == 24
        assert "max_seconds" not in config.params


def test_script_detector_lists():
    bench = _script()
    tabular = bench.tabular_detectors()
    assert tabular[-5:] == ["iforest", "knn", "lof", "ecod", "ocsvm"]
    assert {"dte_np", "ddpm", "tabadm"} <= set(tabular[:-5]) and "pca" not in tabular
    series = bench.series_detectors()
    assert {"dte_windows", "window_knn", "moving_zscore"} <= set(series)
    assert "ensemble" not in series and "windowed" not in series
