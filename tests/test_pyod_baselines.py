"""The PyOD baselines as registered detectors, and their pickle-free, refit-free persistence."""

from __future__ import annotations

import importlib
import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

import dmad
from dmad.exceptions import DataValidationError, ModelFileError
from dmad.metrics import auroc
from dmad.sklearn_state import estimator_state, restore_estimator

pytest.importorskip("pyod")

PRESETS = ["iforest", "knn", "lof", "ecod", "ocsvm", "pca"]

#: every fit a load must not call: the PyOD class and the scikit-learn models inside it
FITS = {
    "iforest": ["pyod.models.iforest:IForest", "sklearn.ensemble:IsolationForest",
                "sklearn.tree:ExtraTreeRegressor"],
    "knn": ["pyod.models.knn:KNN", "sklearn.neighbors:NearestNeighbors"],
    "lof": ["pyod.models.lof:LOF", "sklearn.neighbors:LocalOutlierFactor"],
    "ecod": ["pyod.models.ecod:ECOD"],
    "ocsvm": ["pyod.models.ocsvm:OCSVM", "sklearn.svm:OneClassSVM"],
    "pca": ["pyod.models.pca:PCA", "sklearn.decomposition:PCA",
            "sklearn.preprocessing:StandardScaler"],
}  # fmt: skip


def _class(name: str) -> type:
    module, qualname = name.split(":")
    return getattr(importlib.import_module(module), qualname)


def _fit(name: str, X: np.ndarray, **params) -> dmad.BaseDetector:
    cls = dmad.get_detector_class(name)
    return dmad.create(name, **{"random_state": 0, **cls.test_params, **params}).fit(X)


def test_registered_as_tabular_baselines():
    for name in PRESETS:
        cls = dmad.get_detector_class(name)
        assert cls.modality == "tabular" and cls.family == "baseline (PyOD)"
        params = cls().get_params()
        assert {"standardize", "contamination", "random_state", "device", "verbose"} <= set(params)
        assert params["standardize"] is True and params["contamination"] == 0.1
    assert dmad.create("iforest").get_params()["n_estimators"] == 100
    assert dmad.create("knn").get_params()["algorithm"] == "auto"
    assert dmad.create("ocsvm").get_params()["gamma"] == "auto"


@pytest.mark.parametrize("name", PRESETS)
def test_separates_injected_anomalies(name, blobs):
    X_train, X_test, y_test = blobs
    det = _fit(name, X_train)
    scores = det.decision_function(X_test)
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    assert auroc(y_test, scores) > 0.9
    assert det.decision_scores_.shape == (len(X_train),) and det.n_features_in_ == 4
    assert np.isclose(det.labels_.mean(), 0.1, atol=0.02)
    np.testing.assert_array_equal(det.decision_scores_, det.model_.decision_scores_)


@pytest.mark.parametrize("name", PRESETS)
def test_save_load_scores_exactly_without_refit(name, blobs, tmp_path, monkeypatch):
    X_train, X_test, _ = blobs
    det = _fit(name, X_train)
    expected = det.decision_function(X_test)
    path = det.save(tmp_path / "m")
    for fit in FITS[name]:
        monkeypatch.setattr(_class(fit), "fit", _no_refit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = dmad.load(path)
    assert not [w for w in caught if "saved with" in str(w.message) or "version" in str(w.message)]
    assert type(loaded) is type(det) and loaded.get_params() == det.get_params()
    assert type(loaded.model_) is type(det.model_)
    np.testing.assert_array_equal(loaded.decision_function(X_test), expected)
    np.testing.assert_array_equal(loaded.decision_scores_, det.decision_scores_)
    assert loaded.threshold_ == det.threshold_
    np.testing.assert_array_equal(loaded.predict(X_test), det.predict(X_test))
    assert "pickle" not in (path / "meta.json").read_text()


def _no_refit(self, *args, **kwargs):
    raise AssertionError(f"{type(self).__name__}.fit called while loading")


def test_knn_shared_tree_is_one_object_after_load(blobs, tmp_path):
    det = _fit("knn", blobs[0])
    loaded = dmad.load(det.save(tmp_path / "m"))
    assert loaded.model_.tree_ is loaded.model_.neigh_._tree


def test_ecod_scratch_arrays_are_not_saved(blobs, tmp_path):
    det = _fit("ecod", blobs[0])
    det.decision_function(blobs[1])  # PyOD keeps this call's ECDF tables on the model
    path = det.save(tmp_path / "m")
    assert "U_l" not in (path / "meta.json").read_text()
    assert "X_train" in (path / "meta.json").read_text()


@pytest.mark.parametrize(
    "foreign", ["builtins:eval", "subprocess:Popen", "sklearn.base:defaultdict", "pyodx.m:X"]
)
def test_saved_class_outside_pyod_and_sklearn_is_refused(foreign, blobs, tmp_path):
    path = _fit("knn", blobs[0]).save(tmp_path / "m")
    meta = json.loads((path / "meta.json").read_text())
    keys = [k for k, v in meta["state"].items() if k.endswith("/class") and v.endswith(":KNN")]
    assert keys == ["state/model/pyod/root/class"]
    meta["state"][keys[0]] = foreign
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="PyOD and scikit-learn|not a class defined"):
        dmad.load(path)


def test_state_of_another_allowed_class_is_refused(blobs, tmp_path):
    path = _fit("knn", blobs[0]).save(tmp_path / "m")
    meta = json.loads((path / "meta.json").read_text())
    meta["state"]["state/model/pyod/root/class"] = "sklearn.preprocessing._data:StandardScaler"
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="not PyOD's KNN"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn: a state without its version stamp
        dmad.load(path)


def test_restore_refuses_foreign_classes_directly():
    state = estimator_state(StandardScaler().fit(np.eye(3)))
    state["root"]["class"] = "collections:OrderedDict"
    with pytest.raises(ModelFileError, match="only re-creates PyOD and scikit-learn"):
        restore_estimator(state)
    state["root"]["class"] = "sklearn.preprocessing:NoSuchScaler"
    with pytest.raises(ModelFileError, match="lack"):
        restore_estimator(state)
    state["root"].update(
        {"class": "sklearn.preprocessing._data:StandardScaler", "construct": "call"}
    )
    with pytest.raises(ModelFileError, match="not rebuilt by calling it"):
        restore_estimator(state)


def test_unrepresentable_attributes_are_refused():
    scaler = StandardScaler().fit(np.eye(3))
    scaler.hook_ = lambda x: x
    with pytest.raises(TypeError, match=r"estimator\.hook_.*function"):
        estimator_state(scaler)
    scaler.hook_ = np.random.RandomState(0)
    with pytest.raises(TypeError, match="RandomState"):
        estimator_state(scaler)
    scaler.hook_ = np.array([object()])
    with pytest.raises(TypeError, match="dtype object"):
        estimator_state(scaler)
    scaler.hook_ = scaler
    with pytest.raises(TypeError, match="contains itself"):
        estimator_state(scaler)


def test_state_walker_round_trips_every_supported_value(blobs, tmp_path):
    det = _fit("knn", blobs[0])
    rng = np.random.default_rng(0)
    extra = {
        "zero_d": np.array(2.5),
        "fortran": np.asfortranarray(rng.normal(size=(3, 4))),
        "unsigned": np.arange(4, dtype=np.uint32),
        "flags": np.array([True, False]),
        "empty": np.zeros((0, 3)),
        "names": np.array(["a", "bc"], dtype=object),
        "unicode": np.array([["x", "yz"]]),
        "scalars": (np.float32(0.1), np.int64(7), np.bool_(True), float("nan"), None, "s"),
        "odd_keys": {1: "one", "a/b": [1, 2]},
        "nested": [{"x": np.ones(2)}, ()],
        "fitted": StandardScaler().fit(rng.normal(size=(10, 2))),
    }
    det.model_.extra_ = extra
    loaded = dmad.load(det.save(tmp_path / "m")).model_.extra_
    assert set(loaded) == set(extra)
    for key in ("zero_d", "fortran", "unsigned", "flags", "empty", "names", "unicode"):
        assert loaded[key].dtype == extra[key].dtype and loaded[key].shape == extra[key].shape
        np.testing.assert_array_equal(loaded[key], extra[key])
    assert loaded["fortran"].flags.f_contiguous
    assert [type(v) for v in loaded["scalars"]] == [type(v) for v in extra["scalars"]]
    assert loaded["scalars"][0] == extra["scalars"][0] and np.isnan(loaded["scalars"][3])
    assert loaded["odd_keys"] == {1: "one", "a/b": [1, 2]}
    np.testing.assert_array_equal(loaded["nested"][0]["x"], np.ones(2))
    assert loaded["nested"][1] == ()
    np.testing.assert_array_equal(loaded["fitted"].scale_, extra["fitted"].scale_)


@pytest.mark.parametrize("name", PRESETS)
def test_clone_and_params(name, blobs):
    det = _fit(name, blobs[0])
    fresh = clone(det)
    assert fresh.get_params() == det.get_params() and not hasattr(fresh, "model_")
    fresh.set_params(contamination=0.2, standardize=False)
    assert fresh.contamination == 0.2 and fresh.standardize is False


def test_unscaled_rows_reach_pyod_as_given(blobs):
    from pyod.models.knn import KNN

    X_train, X_test, _ = blobs
    det = _fit("knn", X_train, standardize=False)
    assert det.encoder_.scaler_ is None
    reference = KNN(n_neighbors=5).fit(X_train.astype(np.float64))
    expected = reference.decision_function(X_test.astype(np.float64))
    np.testing.assert_array_equal(det.decision_function(X_test), expected)
    np.testing.assert_array_equal(det.decision_scores_, reference.decision_scores_)
    scaled = _fit("knn", X_train).decision_function(X_test)
    assert not np.allclose(scaled, expected)


def test_pca_rank_avoids_zero_variance_components(blobs):
    from pyod.models.pca import PCA

    X_train, X_test, y_test = blobs
    # a constant column and a copy of another: two components of variance 0
    X = np.column_stack([X_train, np.ones(len(X_train)), X_train[:, 0]]).astype(np.float64)
    T = np.column_stack([X_test, np.ones(len(X_test)), X_test[:, 0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = PCA().fit(X)
        assert not np.isfinite(plain.decision_function(T)).all()
        with pytest.raises(DataValidationError, match="non-finite"):
            _fit("pca", X)
    det = _fit("pca", X, n_components="rank")
    assert det.model_.n_components_ == 4
    scores = det.decision_function(T)
    assert np.isfinite(scores).all() and auroc(y_test, scores) > 0.9


def test_bad_parameters_name_the_fix(blobs):
    X_train = blobs[0]
    with pytest.raises(DataValidationError, match="standardize must be True or False"):
        _fit("knn", X_train, standardize="yes")
    with pytest.raises(DataValidationError, match="knn: PyOD's KNN rejected"):
        _fit("knn", X_train[:3], n_neighbors=5)


def test_random_state_seeds_the_forest(blobs):
    X_train, X_test, _ = blobs
    a, b = _fit("iforest", X_train), _fit("iforest", X_train)
    np.testing.assert_array_equal(a.decision_function(X_test), b.decision_function(X_test))
    assert a.model_.random_state == 0
    other = _fit("iforest", X_train, random_state=1).decision_function(X_test)
    assert not np.array_equal(other, a.decision_function(X_test))
