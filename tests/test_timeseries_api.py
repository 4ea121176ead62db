"""Time-series detectors beyond the common API: missing values, DataFrames, windows, drift.

Every detector here is built by ``conftest.make`` from its class's ``test_params``; the fitted
ones come from the session cache (fitted on the common suite's sine series).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmad
from conftest import is_slow, make, sine
from dmad.exceptions import DataValidationError

TIMESERIES = [
    pytest.param(n, marks=pytest.mark.slow) if is_slow(n) else n
    for n in dmad.available_detectors("timeseries")
]


@pytest.mark.parametrize("name", TIMESERIES)
def test_nan_is_masked_not_fatal(name, fitted_detector, modality_data):
    det = fitted_detector(name)
    test = modality_data("timeseries").test
    holes = test.copy()
    holes[30:33, 1] = np.nan
    scores = det.decision_function(holes)
    assert scores.shape == (len(test),) and np.isfinite(scores).all()
    far = slice(200, None)  # steps whose windows do not reach the holes score as before
    np.testing.assert_allclose(scores[far], det.decision_function(test)[far], rtol=1e-5)


@pytest.mark.parametrize("name", TIMESERIES)
def test_dataframe_input(name, fitted_detector, modality_data):
    det = fitted_detector(name)
    test = modality_data("timeseries").test
    frame = pd.DataFrame(test, columns=["a", "b"])
    np.testing.assert_array_equal(det.decision_function(frame), det.decision_function(test))


def test_univariate_series_as_1d_array_or_column():
    x = sine(300, 0)[:, 0]
    det = make("dte_windows", scales=(1,)).fit(x)
    assert det.n_features_in_ == 1
    np.testing.assert_array_equal(det.decision_function(x), det.decision_function(x[:, None]))
    np.testing.assert_array_equal(det.decision_function(pd.Series(x)), det.decision_function(x))


def test_multi_scale_is_the_mean_of_scales(modality_data):
    """Batch and stream scores of a multi-scale detector average its one-length members'."""
    train, test = modality_data("timeseries")[:2]
    multi = make("dte_windows", scales=(0.5, 1, 2)).fit(train)
    assert multi._window_lengths() == (10, 20, 40) and multi.stream_values_.shape == (39, 2)
    singles = [make("dte_windows", window=w, scales=(1,)).fit(train) for w in (10, 20, 40)]
    np.testing.assert_allclose(
        multi.decision_function(test),
        np.mean([d.decision_function(test) for d in singles], axis=0),
        rtol=1e-6,
    )
    # each member's stream buffer is shorter: feed it the fit series' tail it lacks
    expected = []
    for d in singles:
        d.stream_values_, d.stream_mask_ = multi.stream_values_, multi.stream_mask_
        expected.append(d.score_stream(test)[: len(test)])
    np.testing.assert_allclose(multi.score_stream(test), np.mean(expected, axis=0), rtol=1e-6)


def test_dte_windows_threshold_holds_on_fresh_normal_data():
    # fit scores leave out overlapping fit windows; with them, every fit window would match itself
    # and threshold_ would flag nearly all of a fresh normal series
    det = make("dte_windows", contamination=0.05).fit(sine(600, 0))
    assert det.predict(sine(600, 3)).mean() < 0.2


def test_window_longer_than_fit_series_is_clear():
    with pytest.raises(DataValidationError, match="window"):
        make("window_knn", window=50).fit(sine(30, 0))


def test_auto_window_is_the_dominant_period():
    det = make("dte_windows", window="auto").fit(sine(600, 0)[:, 0])
    assert det.window_ == 20 and det.decision_function(sine(100, 1)[:, 0]).shape == (100,)


@pytest.mark.parametrize("name", ["diffusion_recon", "moving_zscore", "dte_windows"])
def test_nan_in_fit_series_is_excluded_from_training(name):
    train = sine(600, 0)
    train[100:140, 0] = np.nan
    det = make(name, **({"epochs": 1} if name == "diffusion_recon" else {})).fit(train)
    assert np.isfinite(det.decision_scores_).all()
    assert np.isfinite(det.scaler_.mean_).all()
    np.testing.assert_allclose(det.scaler_.mean_[0], np.nanmean(train[:, 0]), atol=1e-6)


@pytest.mark.slow
def test_d3r_is_blind_to_a_level_shift(fitted_detector, modality_data):
    test = modality_data("timeseries").test
    d3r = fitted_detector("d3r")
    # the model sees the window minus its trend and the trend minus its mean: no level at all
    np.testing.assert_allclose(
        d3r.decision_function(test + np.float32(3.0)), d3r.decision_function(test), atol=1e-3
    )


def test_density_ensemble_survives_repeated_fit_windows():
    # the density term of a reconstruction detector is an explicit ensemble now; a flat stretch
    # repeats one window, so the density's fit median is 0 and must not divide the scores
    train = np.zeros((600, 2), np.float32)
    train[:100] = sine(100, 0)
    members = [make("diffusion_recon", epochs=1), make("dte_windows", scales=(1,))]
    det = make("ensemble", members=members).fit(train)
    assert np.isfinite(det.decision_scores_).all()
    assert np.isfinite(det.decision_function(sine(200, 1))).all()
