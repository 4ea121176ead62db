"""Model files (format 2): nested parameters, the state protocol, refusals, atomic saving.

Saving and loading every registered detector exactly is a common-API check
(test_common_api.py); here is what concerns the file format itself, on small detectors.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import safetensors.torch

import dmad
from conftest import assert_same_params, make, tabular_data
from dmad.exceptions import DataValidationError, ModelFileError
from dmad.thresholds import BestF1, Fixed


@pytest.fixture(scope="module")
def dte_np():
    data = tabular_data()
    return make("dte_np").fit(data.train), data


def test_nested_detector_parameters_round_trip(modality_data, tmp_path):
    """An ensemble of a Windowed (itself holding a dte_np with a rule) and a preset."""
    data = modality_data("timeseries")
    inner = make("dte_np", n_neighbors=3, contamination=Fixed(2.0))
    members = [make("windowed", detector=inner), make("dte_windows", scales=(1,))]
    det = make("ensemble", members=members, weights=np.array([1.0, 0.5])).fit(data.train)
    det.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    first = config["params"]["members"][0]
    assert first["__detector__"] == "windowed"
    assert first["params"]["detector"]["__detector__"] == "dte_np"
    assert first["params"]["detector"]["params"]["n_neighbors"] == 3
    assert first["params"]["detector"]["params"]["contamination"] == {
        "__threshold__": "fixed",
        "config": {"value": 2.0},
    }
    assert "__array__" in config["params"]["weights"]  # arrays go to the safetensors file
    loaded = dmad.load(tmp_path / "m")
    assert_same_params(loaded, det)
    assert loaded.members[0].detector.contamination == Fixed(2.0)
    assert isinstance(loaded.weights, np.ndarray)
    np.testing.assert_array_equal(
        loaded.decision_function(data.test), det.decision_function(data.test)
    )


def test_rule_with_arrays_round_trips(dte_np, tmp_path):
    _, data = dte_np
    rule = BestF1(data.test, data.labels)
    det = make("dte_np", contamination=rule).fit(data.train)
    det.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["contamination"]["__threshold__"] == "best_f1"
    loaded = dmad.load(tmp_path / "m")
    assert isinstance(loaded.contamination, BestF1) and loaded.contamination == rule
    np.testing.assert_array_equal(loaded.contamination.X_val, data.test)
    assert loaded.threshold_ == det.threshold_


def test_public_state_protocol_rebuilds_the_fitted_detector(dte_np):
    det, data = dte_np
    state = det.get_state()
    assert {"seed", "decision_scores", "threshold", "input", "model"} <= set(state)
    twin = make("dte_np").set_state(state)
    np.testing.assert_array_equal(
        twin.decision_function(data.test), det.decision_function(data.test)
    )
    assert twin.threshold_ == det.threshold_
    with pytest.raises(dmad.NotFittedError):
        make("dte_np").get_state()


def test_format_1_models_are_refused_with_a_refit_hint(dte_np, tmp_path):
    det, _ = dte_np
    path = det.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    with pytest.raises(ModelFileError, match="format 1.*fit the detector again"):
        dmad.load(path)


def test_failed_save_leaves_the_existing_model_intact(dte_np, tmp_path, monkeypatch):
    det, data = dte_np
    path = det.save(tmp_path / "m")
    other = make("dte_np", n_neighbors=2).fit(data.train)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        other.save(path)
    with pytest.raises(OSError, match="disk full"):
        other.save(tmp_path / "new")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no staging left, no "new"
    kept = dmad.load(path)
    assert kept.n_neighbors == det.n_neighbors
    np.testing.assert_array_equal(
        kept.decision_function(data.test), det.decision_function(data.test)
    )
    other.save(path)  # and a good save replaces it
    assert dmad.load(path).n_neighbors == 2


def test_corrupt_and_foreign_model_files(dte_np, tmp_path):
    det, _ = dte_np
    path = det.save(tmp_path / "m")
    weights = path / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        dmad.load(path)
    det.save(path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "format_version": 999}))
    with pytest.raises(ModelFileError, match="newer"):
        dmad.load(path)
    (path / "config.json").write_text(json.dumps({**config, "detector": "nope"}))
    with pytest.raises(ModelFileError, match="unknown detector 'nope'"):
        dmad.load(path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="corrupt"):
        dmad.load(path)
    (path / "config.json").write_text(json.dumps({"format": "pickle"}))
    with pytest.raises(ModelFileError, match="foreign"):
        dmad.load(path)
    (path / "config.json").unlink()
    with pytest.raises(ModelFileError, match="not a dmad model directory"):
        dmad.load(path)
    with pytest.raises(ModelFileError, match="not a directory"):
        dmad.load(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFileError, match="not a directory"):
        det.save(tmp_path / "file")


def test_class_load_checks_the_class(dte_np, tmp_path):
    det, _ = dte_np
    path = det.save(tmp_path / "m")
    assert type(dmad.get_detector_class("dte_np").load(path)) is type(det)
    with pytest.raises(DataValidationError, match="dmad.load"):
        dmad.get_detector_class("ddpm").load(path)
