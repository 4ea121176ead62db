"""The ``dmad`` command line end-to-end: in-process through ``dmad.cli.main`` (see ``_cli.py``),
and once as a subprocess through the installed console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cli import run_cli

from dmad.cli import console_main
from dmad.metrics import auroc


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    test = pd.DataFrame(
        np.vstack([rng.normal(size=(40, 3)), rng.normal(6, 0.5, size=(10, 3))]),
        columns=["a", "b", "c"],
    )
    test["label"] = np.r_[np.zeros(40), np.ones(10)].astype(int)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


def test_console_script_lists_detectors(tmp_path):
    """The one subprocess: the installed ``dmad`` script starts, prints and exits 0."""
    script = shutil.which("dmad", path=sysconfig.get_path("scripts")) or shutil.which("dmad")
    command = [script] if script else [sys.executable, "-m", "dmad.cli"]  # not installed
    out = subprocess.run(
        [*command, "list"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "ddpm" in out.stdout


def test_fit_then_score_round_trip(tables):
    # a 6-sigma anomaly cluster: two epochs already rank it first; the seed keeps that so
    fit = run_cli(
        "fit",
        "train.csv",
        "-d",
        "ddpm",
        "-p",
        "epochs=2",
        "-p",
        "t_stars=[50, 100]",
        "-p",
        "hidden=32",
        "-p",
        "random_state=0",
        "-o",
        "model",
        "--device",
        "cpu",
        cwd=tables,
    )
    assert fit.exit_code == 0, fit.stderr
    assert fit.stdout.startswith("fitted ddpm on 300 rows") and len(fit.stdout.splitlines()) == 1
    assert (tables / "model" / "weights.safetensors").is_file()
    scored = run_cli(
        "score", "model", "test.csv", "--label-column", "label", "-o", "s.csv", cwd=tables
    )
    assert scored.exit_code == 0, scored.stderr
    scores = pd.read_csv(tables / "s.csv")
    assert list(scores.columns) == ["row", "score", "label"] and len(scores) == 50
    assert auroc(np.r_[np.zeros(40), np.ones(10)], scores["score"].to_numpy()) > 0.9
    assert "AUROC" in scored.stdout


def _one_error_line(result) -> bool:
    """Exit 1 with exactly ``error: ...`` on stderr: no traceback, nothing on stdout."""
    lines = result.stderr.strip().splitlines()
    return (
        result.exit_code == 1
        and len(lines) == 1
        and lines[0].startswith("error:")
        and not result.stdout
    )


def test_errors_are_one_line_with_exit_codes(tables, monkeypatch, capsys):
    missing = run_cli("fit", "nope.csv", "-d", "ddpm", "-o", "m", cwd=tables)
    assert _one_error_line(missing), missing
    assert "nope.csv" in missing.stderr and "Traceback" not in missing.stderr
    unknown = run_cli("fit", "train.csv", "-d", "not_a_detector", "-o", "m", cwd=tables)
    assert _one_error_line(unknown) and "unknown detector" in unknown.stderr, unknown
    not_a_model = run_cli("score", "train.csv", "test.csv", "-o", "s.csv", cwd=tables)
    assert _one_error_line(not_a_model), not_a_model
    wrong_type = run_cli(
        "fit", "train.csv", "-d", "ddpm", "-p", "epochs=abc", "-o", "m", cwd=tables
    )
    assert _one_error_line(wrong_type), wrong_type  # a plain TypeError, not a DmadError
    assert not (tables / "m").exists() and not (tables / "s.csv").exists()
    usage = run_cli("fit", cwd=tables)
    assert usage.exit_code == 2 and "Missing argument" in usage.stderr, usage
    bad_param = run_cli("fit", "train.csv", "-d", "ddpm", "-p", "epochs", "-o", "m", cwd=tables)
    assert bad_param.exit_code == 2 and "key=value" in bad_param.stderr, bad_param
    # the console script's wrapper hands main's code to the interpreter
    monkeypatch.chdir(tables)
    monkeypatch.setattr(sys, "argv", ["dmad", "fit", "nope.csv", "-d", "ddpm", "-o", "m"])
    with pytest.raises(SystemExit) as exited:
        console_main()
    assert exited.value.code == 1 and capsys.readouterr().err.startswith("error:")


def test_bench_task_name_needs_data_and_builds_default_grid(tmp_path):
    from dmad.bench import default_spec

    out = run_cli("bench", "tabular", cwd=tmp_path)
    assert out.exit_code == 2 and "--data" in out.stderr
    np.savez(tmp_path / "tiny.npz", X=np.zeros((5, 2)), y=np.r_[0, 0, 0, 0, 1])
    spec = default_spec("tabular", tmp_path, seeds=[0])
    names = [d.name for d in spec.detectors]
    assert "ddpm" in names and "knn" in names and "iforest" in names
