"""Tests of dmad.bench: spec validation, resumable runs, error rows, reports, BENCHMARKS.md."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import dmad.bench.runner as runner
from dmad.bench import (
    BenchSpec,
    ResultStore,
    load_spec,
    make_detector,
    render_markdown,
    run_spec,
    update_benchmarks_md,
)
from dmad.bench.store import dataset_fingerprint
from dmad.bench.tasks import TabularTask
from dmad.exceptions import DataValidationError

DDPM = {"name": "ddpm", "params": {"epochs": 2, "hidden": 32, "n_blocks": 1}}
# resample_to=None keeps the tiny sets tiny (the protocol would resample them to 1000 rows)
FAST = {"resample_to": None}


def _write_set(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(80, 4)), rng.normal(4.0, 1.0, size=(8, 4))])
    y = np.r_[np.zeros(80), np.ones(8)]
    np.savez(path, X=X, y=y)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    _write_set(folder / "alpha.npz", 0)
    _write_set(folder / "beta.npz", 1)
    return folder


def _spec(data_dir: Path, tmp_path: Path, detectors: list, **kwargs) -> BenchSpec:
    return BenchSpec(
        name="unit",
        datasets={"folder": str(data_dir)},
        detectors=detectors,
        seeds=kwargs.pop("seeds", [0, 1]),
        store=tmp_path / "results" / "bench.sqlite",
        task_options=FAST,
        **kwargs,
    )


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count detector constructions and split loads done by the runner."""
    calls = {"detectors": 0, "splits": 0}
    make, load = runner.make_detector, TabularTask.load_splits

    def counting_make(*args, **kwargs):
        calls["detectors"] += 1
        assert torch.get_num_threads() == 1  # the spec's thread limit holds during the jobs
        return make(*args, **kwargs)

    def counting_load(self, *args, **kwargs):
        calls["splits"] += 1
        return load(self, *args, **kwargs)

    monkeypatch.setattr(runner, "make_detector", counting_make)
    monkeypatch.setattr(TabularTask, "load_splits", counting_load)
    return calls


def test_run_spec_rows_and_resume(data_dir, tmp_path, counted):
    spec = _spec(data_dir, tmp_path, ["knn", DDPM])
    threads = torch.get_num_threads()
    df = run_spec(spec, progress=False)
    assert torch.get_num_threads() == threads  # restored after the run
    assert len(df) == 2 * 2 * 2
    assert counted == {"detectors": 8, "splits": 4}  # one split load per dataset × seed
    assert (df["status"] == "ok").all()
    for metric in ("auroc", "aupr", "best_f1", "headline"):
        assert df[metric].between(0.0, 1.0).all()
    assert (df["headline"] == df["auroc"]).all()
    assert set(df["label"]) == {"knn", "ddpm"} and set(df["dataset"]) == {"alpha", "beta"}
    assert (df["n_fit"] == 40).all() and (df["n_test"] == 48).all()
    assert (df["fit_seconds"] > 0).all() and df["job_hash"].is_unique
    assert df.loc[0, "threads"] == 1 and df.loc[0, "dmad_version"]

    again = run_spec(spec, progress=False)
    assert counted["detectors"] == 8  # resumed: nothing re-ran
    pd.testing.assert_frame_equal(again, df)
    assert len(ResultStore(spec.store).rows("unit")) == 8


def test_max_jobs_then_resume(data_dir, tmp_path, counted):
    spec = _spec(data_dir, tmp_path, ["iforest"], seeds=[0])
    assert len(run_spec(spec, progress=False, max_jobs=1)) == 1
    assert len(run_spec(spec, progress=False)) == 2
    assert counted["detectors"] == 2


def test_failing_job_becomes_error_row(data_dir, tmp_path, counted):
    bad = {"name": "ddpm", "params": {"epochs": 0}, "label": "ddpm-bad"}
    spec = _spec(data_dir, tmp_path, ["knn", bad], seeds=[0])
    df = run_spec(spec, progress=False)
    errors = df[df["label"] == "ddpm-bad"]
    assert len(df) == 4 and len(errors) == 2
    assert (errors["status"] == "error").all() and errors["auroc"].isna().all()
    assert errors["error"].str.contains("epochs").all()
    assert (df.loc[df["label"] == "knn", "status"] == "ok").all()
    # failed jobs are retried on the next run, finished ones are not
    run_spec(spec, progress=False)
    assert counted["detectors"] == 4 + 2
    assert "Failed jobs (2)" in render_markdown(df)


def test_rerun_without_resume_reproduces(data_dir, tmp_path, counted):
    spec = _spec(data_dir, tmp_path, ["iforest", DDPM], seeds=[3])
    first = run_spec(spec, progress=False)
    second = run_spec(spec, progress=False, resume=False)
    assert counted["detectors"] == 8  # everything ran twice
    pd.testing.assert_series_equal(first["auroc"], second["auroc"])  # same seed, same scores


def test_make_detector_fills_seed_and_quiet():
    det = make_detector("ddpm", {"t_stars": [10, 20], "verbose": None}, seed=5)
    assert det.random_state == 5 and det.verbose is None and det.t_stars == (10, 20)
    baseline = make_detector("iforest", {"n_estimators": 50}, seed=5)
    assert baseline.random_state == 5 and baseline.n_estimators == 50
    assert baseline.registry_name == "iforest" and baseline.family == "baseline (PyOD)"
    with pytest.raises(DataValidationError, match="unknown detector 'nope'"):
        make_detector("nope", {}, seed=0)


def test_missing_pyod_names_the_install_command(monkeypatch):
    real = importlib.import_module

    def no_pyod(name, *args):
        if name.startswith("pyod"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_pyod)
    detector = make_detector("knn", {}, seed=0)  # creating needs no PyOD, fitting does
    with pytest.raises(DataValidationError, match=r"pip install pyod"):
        detector.fit(np.random.default_rng(0).normal(size=(20, 3)))


def test_fingerprint_follows_content_not_location(tmp_path):
    a = _write_set(tmp_path / "x.npz", 0)
    (tmp_path / "moved").mkdir()
    b = _write_set(tmp_path / "moved" / "x.npz", 0)
    c = _write_set(tmp_path / "moved" / "y.npz", 1)
    assert dataset_fingerprint(a) == dataset_fingerprint(b)
    assert dataset_fingerprint(c)["sha256_head"] != dataset_fingerprint(a)["sha256_head"]


def _rows() -> pd.DataFrame:
    rows = []
    for dataset, scores in (("alpha", (0.9, 0.7)), ("beta", (0.6, 0.8))):
        for label, auroc in zip(("knn", "ddpm"), scores, strict=True):
            for seed in (0, 1):
                rows.append(
                    {
                        "dataset": dataset,
                        "label": label,
                        "seed": seed,
                        "status": "ok",
                        "auroc": auroc,
                        "fit_seconds": 0.5,
                        "score_seconds": 0.25,
                        "n_test": 100,
                        "threads": 1,
                        "hardware": "x86_64, 2 CPUs, cpu",
                        "dmad_version": "0.1.0",
                        "torch_version": "2.x",
                        "error": None,
                    }
                )
    return pd.DataFrame(rows)


def test_render_markdown_tables():
    text = render_markdown(_rows())
    lines = text.splitlines()
    assert "| dataset | knn | ddpm |" in lines
    assert "| alpha | **90.0** | 70.0 |" in lines
    assert "| beta | 60.0 | **80.0** |" in lines
    assert "| **mean** | **75.0** | **75.0** |" in lines
    assert "| **mean rank** | **1.50** | **1.50** |" in lines
    assert "| knn | 0.5 | 0.25 | 400 | 4/4 |" in lines
    assert lines[-1].startswith("threads: 1 · seeds: 0, 1 · hardware: x86_64, 2 CPUs, cpu")
    assert "| alpha | **0.90** | 0.70 |" in render_markdown(_rows(), digits=2, percent=False)
    with pytest.raises(DataValidationError, match="aupr"):
        render_markdown(_rows(), metric="aupr")


def test_update_benchmarks_md_in_place(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    update_benchmarks_md(path, "tabular", "old table")
    update_benchmarks_md(path, "timeseries", "ts table")
    path.write_text("# Benchmarks\n\nintro\n\n" + path.read_text())
    update_benchmarks_md(path, "tabular", "new table\n")
    once = path.read_text()
    update_benchmarks_md(path, "tabular", "new table\n")
    assert path.read_text() == once  # idempotent
    assert once.startswith("# Benchmarks\n\nintro\n")
    assert "old table" not in once and once.count("new table") == 1
    assert "<!-- dmad-bench:timeseries:start -->\nts table\n<!-- dmad-bench:timeseries:end -->" in (
        once
    )
    assert once.index("new table") < once.index("ts table")  # replaced where it was
    path.write_text(once.replace("<!-- dmad-bench:tabular:end -->", ""))
    with pytest.raises(DataValidationError, match="broken 'tabular' block"):
        update_benchmarks_md(path, "tabular", "x")
    with pytest.raises(DataValidationError, match="section name"):
        update_benchmarks_md(path, "bad name", "x")


def _yaml_spec(tmp_path: Path, data_dir: Path, **changes) -> Path:
    spec = {
        "name": "dev",
        "task": "tabular",
        "datasets": {"folder": str(data_dir), "include": ["alpha"]},
        "detectors": [DDPM, {"name": "knn", "params": {"n_neighbors": 3}, "label": "knn3"}],
        "seeds": [0, 1, 2],
        "threads": 1,
        "store": str(tmp_path / "dev.sqlite"),
    }
    spec.update(changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_load_spec(tmp_path, data_dir):
    spec = load_spec(_yaml_spec(tmp_path, data_dir))
    assert spec.name == "dev" and spec.seeds == [0, 1, 2] and spec.threads == 1
    assert [p.name for p in spec.dataset_paths] == ["alpha.npz"]
    assert [(d.name, d.label) for d in spec.detectors] == [("ddpm", "ddpm"), ("knn", "knn3")]
    assert spec.store == tmp_path / "dev.sqlite"


def test_shipped_quick_spec_is_valid(monkeypatch):
    repo = Path(__file__).resolve().parents[1]
    if not (repo.parent / "shared" / "data" / "tabular").is_dir():
        pytest.skip("the shared dev data is not next to this checkout")
    monkeypatch.chdir(repo)  # the spec's paths resolve against the working directory
    spec = load_spec("benchmarks/specs/tabular_quick.yaml")
    assert [p.stem for p in spec.dataset_paths] == ["cardio", "glass"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": [0]}, r"unknown key\(s\) \['seed'\] in the spec"),
        ({"task": "video"}, "unknown task 'video'"),
        ({"task_options": {"shufle": True}}, "valid options: shuffle"),
        ({"task_options": {"train_fraction": 2}}, "train_fraction must be in"),
        ({"detectors": [{"name": "nope"}]}, "unknown detector 'nope'.*iforest"),
        ({"detectors": [{"name": "knn", "params": {"k": 3}}]}, r"no parameter\(s\) \['k'\]"),
        ({"detectors": [{"name": "ddpm", "parms": {}}]}, r"\['parms'\] in detectors\[0\]"),
        ({"detectors": ["knn", {"name": "knn", "label": "k"}]}, "same params"),
        (
            {"detectors": ["knn", {"name": "knn", "params": {"n_neighbors": 3}}]},
            "label.*more than once",
        ),
        ({"detectors": []}, "non-empty list"),
        ({"datasets": {"folder": "no/such/dir"}}, "dataset folder 'no/such/dir' not found"),
        ({"datasets": {"files": ["gone.npz"]}}, "dataset file 'gone.npz' not found"),
        ({"seeds": [0, "1"]}, "seeds must be"),
        ({"threads": 0}, "threads must be a positive integer"),
        ({"name": "has space"}, "spec name"),
    ],
)
def test_spec_validation_errors(tmp_path, data_dir, changes, message):
    with pytest.raises(DataValidationError, match=message):
        load_spec(_yaml_spec(tmp_path, data_dir, **changes))


def test_dataset_selection_errors(tmp_path, data_dir):
    with pytest.raises(DataValidationError, match=r"include names \['gamma'\]"):
        load_spec(
            _yaml_spec(tmp_path, data_dir, datasets={"folder": str(data_dir), "include": ["gamma"]})
        )
    spec = BenchSpec(
        name="x",
        datasets={"folder": str(data_dir), "exclude": ["alpha"]},
        detectors=["knn"],
    )
    assert [p.stem for p in spec.dataset_paths] == ["beta"] and spec.store == Path(
        "results/x.sqlite"
    )


def test_malformed_yaml_and_missing_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(DataValidationError, match="not valid YAML"):
        load_spec(path)
    path.write_text("name: x\n")
    with pytest.raises(DataValidationError, match=r"lacks the required key\(s\) \['datasets'"):
        load_spec(path)
    with pytest.raises(DataValidationError, match="not found"):
        load_spec(tmp_path / "absent.yaml")
