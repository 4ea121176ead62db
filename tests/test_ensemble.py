"""Ensemble: weighted sum of member scores, each calibrated on its own fit scores."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import dmad
from conftest import make, series_data
from dmad.exceptions import DataValidationError
from dmad.ops import Calibrator


def test_weights_scale_the_calibrated_member_scores(modality_data):
    train, test = modality_data("tabular")[:2]
    det = make("ensemble", weights=[2.0, 0.0]).fit(train)
    dte_np = make("dte_np").fit(train)  # deterministic: the same as the fitted member
    calibrated = dte_np.decision_function(test) - np.median(dte_np.decision_scores_)
    np.testing.assert_allclose(det.decision_function(test), 2 * calibrated, rtol=1e-12)
    np.testing.assert_allclose(
        det.decision_scores_, 2 * (dte_np.decision_scores_ - np.median(dte_np.decision_scores_))
    )


def test_equal_weights_sum_the_members(modality_data):
    train, test = modality_data("tabular")[:2]
    det = make("ensemble").fit(train)
    parts = [
        Calibrator("median").fit(m.decision_scores_).transform(m.decision_function(test))
        for m in det.members_
    ]
    np.testing.assert_allclose(det.decision_function(test), np.sum(parts, axis=0), rtol=1e-12)


@pytest.mark.parametrize("calibration", ["zscore", "median", "median_ratio", "log_ratio"])
def test_calibration_puts_a_member_on_its_fit_scale(calibration, modality_data):
    train = modality_data("tabular").train
    det = make("ensemble", members=[make("dte_np")], calibration=calibration).fit(train)
    scores = det.decision_scores_
    if calibration == "zscore":
        assert scores.mean() == pytest.approx(0, abs=1e-9)
        assert scores.std(ddof=1) == pytest.approx(1)
    else:  # a difference, ratio or log-ratio to the member's fit median
        centre = {"median": 0.0, "median_ratio": 1.0, "log_ratio": 0.0}[calibration]
        assert np.median(scores) == pytest.approx(centre, abs=1e-6)  # log of a mid-pair mean


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"members": []}, "non-empty list of dmad detectors"),
        ({"members": ["dte_np"]}, "non-empty list of dmad detectors"),
        ({"weights": [1.0]}, "weights must be 2"),
        ({"weights": [1.0, np.nan]}, "weights must be 2"),
        ({"calibration": "rank"}, "calibration must be one of"),
    ],
)
def test_bad_settings_are_explained(params, match, modality_data):
    with pytest.raises(DataValidationError, match=match):
        make("ensemble", **params).fit(modality_data("tabular").train)


def test_members_of_different_modalities_are_refused(modality_data):
    members = [make("dte_np"), make("dte_windows")]
    with pytest.raises(DataValidationError, match="one modality"):
        make("ensemble", members=members).fit(modality_data("tabular").train)


def test_members_are_fitted_clones_with_the_ensembles_seed(modality_data):
    train, test = modality_data("tabular")[:2]
    det = make("ensemble", random_state=7).fit(train)
    for template, member in zip(det.members, det.members_, strict=True):
        assert member is not template and not hasattr(template, "decision_scores_")
        assert template.random_state == 0 and member.random_state == 7 and member.seed_ == 7
    alone = make("dte_c", random_state=7).fit(train)
    np.testing.assert_array_equal(
        det.members_[1].decision_function(test), alone.decision_function(test)
    )


@pytest.fixture(scope="module")
def series_ensemble():
    """Two time-series members with different windows and stream buffers."""
    data = series_data()
    members = [make("dte_windows", scales=(1,)), make("moving_zscore")]
    return make("ensemble", members=members, calibration="zscore").fit(data.train), data


def test_score_stream_combines_the_members_streams(series_ensemble, tmp_path):
    det, data = series_ensemble
    det = copy.deepcopy(det)
    det.save(tmp_path / "m")  # with the stream buffers as they are now
    members = copy.deepcopy(det.members_)
    stream = np.r_[det.score_stream(data.test[:150]), det.score_stream(data.test[150:])]
    parts = [
        c.transform(m.score_stream(data.test))
        for c, m in zip(det.calibrators_, members, strict=True)
    ]
    np.testing.assert_allclose(stream, np.sum(parts, axis=0), rtol=1e-9)
    loaded = dmad.load(tmp_path / "m")  # the buffers are saved: the stream goes on as before
    np.testing.assert_allclose(loaded.score_stream(data.test), stream, rtol=1e-9)


def test_series_ensemble_saves_and_loads_exactly(series_ensemble, tmp_path):
    det, data = series_ensemble
    det.save(tmp_path / "m")
    loaded = dmad.load(tmp_path / "m")
    assert [type(m) for m in loaded.members_] == [type(m) for m in det.members_]
    scores = det.decision_function(data.test)
    np.testing.assert_array_equal(loaded.decision_function(data.test), scores)


def test_score_stream_needs_time_series_members(fitted_detector, modality_data):
    det = fitted_detector("ensemble")  # tabular members
    with pytest.raises(DataValidationError, match="time-series members"):
        det.score_stream(modality_data("tabular").test)
