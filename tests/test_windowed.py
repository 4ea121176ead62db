"""Windowed: any vector (tabular) detector on sliding windows; dte_windows is one of its presets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

import dmad
from conftest import make
from dmad.exceptions import DataValidationError
from dmad.metrics import auroc


def test_the_readme_form_fits_and_scores(modality_data):
    train, test, labels = modality_data("timeseries")[:3]
    det = dmad.create(
        "windowed", detector=dmad.create("dte_np"), window=20, exclusion_zone=True
    ).fit(train)
    scores = det.decision_function(test)
    assert scores.shape == (len(test),) and auroc(labels, scores) > 0.9


@pytest.mark.parametrize("name", dmad.available_detectors("tabular"))
def test_windowed_around_any_vector_detector(name, modality_data, tmp_path):
    train, test = modality_data("timeseries")[:2]
    inner = make(name)
    det = make("windowed", detector=inner, exclusion_zone=False, random_state=3).fit(train)
    (fitted,) = det.detectors_
    assert fitted is not inner and not hasattr(inner, "decision_scores_")  # a fitted clone
    assert type(fitted) is type(inner) and fitted.n_features_in_ == 20 * 2  # flattened windows
    if "random_state" in inner.get_params():
        assert fitted.random_state == 3 and inner.random_state == 0
    scores = det.decision_function(test)
    assert scores.shape == (len(test),) and np.isfinite(scores).all()
    det.save(tmp_path / "m")
    loaded = dmad.load(tmp_path / "m")
    assert type(loaded.detector) is type(inner)
    np.testing.assert_array_equal(loaded.decision_function(test), scores)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"detector": None}, "tabular dmad detector"),
        ({"detector": {"__detector__": "dte_windows", "params": {}}}, "tabular dmad detector"),
        ({"scales": (1, 2)}, "calibration"),
        ({"scales": (1, 2), "calibration": "bogus"}, "calibration must be"),
        ({"scales": ()}, "scales"),
    ],
    ids=["no detector", "series detector", "scales uncalibrated", "bad calibration", "no scales"],
)
def test_bad_settings_are_explained(params, match, modality_data):
    with pytest.raises(DataValidationError, match=match):
        make("windowed", **params).fit(modality_data("timeseries").train)


def test_the_exclusion_zone_needs_a_detector_that_can_leave_pairs_out(modality_data):
    train = modality_data("timeseries").train
    with pytest.raises(DataValidationError, match="exclusion_zone=True"):
        make("windowed", detector=make("dte_c"), exclusion_zone=True).fit(train)
    det = make("windowed", detector=make("dte_c"), exclusion_zone=False).fit(train)
    assert np.isfinite(det.decision_scores_).all()


@pytest.mark.parametrize("scales", [(1,), (1, 2)])
def test_dte_windows_is_windowed_dte_np(scales, modality_data):
    """The preset fixes dte_np, log-ratio calibration and the exclusion zone; nothing else."""
    train, test = modality_data("timeseries")[:2]
    preset = make("dte_windows", scales=scales, n_neighbors=3).fit(train)
    general = make(
        "windowed",
        detector=make("dte_np", n_neighbors=3),
        scales=scales,
        calibration="log_ratio",
        exclusion_zone=True,
        max_fit_samples=preset.max_fit_samples,
    ).fit(train)
    np.testing.assert_array_equal(preset.decision_scores_, general.decision_scores_)
    scores = preset.decision_function(test)
    np.testing.assert_array_equal(scores, general.decision_function(test))
    np.testing.assert_array_equal(np.argsort(scores), np.argsort(general.decision_function(test)))
    assert preset.threshold_ == general.threshold_


def test_the_exclusion_zone_keeps_fit_scores_honest(modality_data):
    """Without the zone dte_np's fit windows match their overlapping neighbours, so the fit
    scores are optimistic and threshold_ flags almost every step of a new normal series."""
    train, normal = modality_data("timeseries").train, modality_data("timeseries").normal
    with_zone = make("windowed", exclusion_zone=True).fit(train)
    without = clone(with_zone).set_params(exclusion_zone=False).fit(train)
    np.testing.assert_array_equal(  # scoring new data does not use the zone
        with_zone.decision_function(normal), without.decision_function(normal)
    )
    # leaving neighbours out can only lengthen the k-NN distances of the fit windows
    assert (without.decision_scores_ < with_zone.decision_scores_).all()
    assert without.predict(normal).mean() > 0.9 > 0.5 > with_zone.predict(normal).mean()


def test_subsampled_fit_windows_are_seeded(modality_data):
    train, test = modality_data("timeseries")[:2]
    a = make("windowed", max_fit_samples=200).fit(train)
    b = make("windowed", max_fit_samples=200).fit(train)
    c = make("windowed", max_fit_samples=200, random_state=1).fit(train)
    assert a.detectors_[0].train_.shape[0] == 200
    np.testing.assert_array_equal(a.decision_function(test), b.decision_function(test))
    assert not np.array_equal(a.decision_function(test), c.decision_function(test))
