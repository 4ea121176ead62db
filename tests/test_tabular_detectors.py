"""Tabular detectors beyond the common API: DTE's maths, TabADM, DataFrames, low dimensions.

Every detector here is built by ``conftest.make`` from its class's ``test_params``; the fitted
ones come from the session cache (fitted on the common suite's tabular data).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

import dmad
from conftest import make
from dmad.exceptions import DataValidationError
from dmad.metrics import auroc

DTE = ["dte_np", "dte_c", "dte_ig"]
TABULAR = dmad.available_detectors("tabular")


@pytest.mark.parametrize("name", DTE)
def test_time_estimate_grows_with_added_noise(name, fitted_detector, modality_data):
    """The estimated diffusion level of held-out normal rows rises with the noise added to them."""
    X_train = modality_data("tabular").train
    det = fitted_detector(name)
    rng = np.random.default_rng(1)
    cov = np.cov(X_train, rowvar=False)
    held_out = rng.multivariate_normal(np.zeros(3), cov, size=200).astype(np.float32)
    # noise std in the detector's scaled units (the training data has unit variance per feature)
    levels = np.linspace(0.0, 0.8, 9)
    std = X_train.std(axis=0)
    means = [
        det.decision_function(
            held_out + rng.normal(size=held_out.shape).astype(np.float32) * s * std
        ).mean()
        for s in levels
    ]
    assert spearmanr(levels, means).statistic > 0.9


@pytest.mark.parametrize("name", TABULAR)
def test_dataframe_with_categorical_column(name, tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "age": rng.normal(40, 10, size=n),
            "country": rng.choice(["fr", "de", "it"], size=n),
        }
    )
    det = make(name).fit(frame)
    assert det.n_features_in_ == 3
    scores = det.decision_function(frame.head(20))
    assert scores.shape == (20,) and np.all(np.isfinite(scores))
    unseen = frame.head(2).assign(country="es")  # a category not seen in fit: all zeros
    assert np.isfinite(det.decision_function(unseen)).all()
    det.save(tmp_path / "m")
    loaded = dmad.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.decision_function(frame.head(20)), scores)
    np.testing.assert_array_equal(loaded.decision_scores_, det.decision_scores_)


def test_score_excluding_uses_the_fitted_scaling():
    # columns on very different scales: skipping the encoder would change every distance
    X = np.random.default_rng(3).normal(size=(60, 4)) * [1.0, 10.0, 100.0, 0.1] + 50
    det = make("dte_np").fit(X)
    own = (torch.arange(60), torch.arange(60), 1)  # leave-one-out, as the training scores
    np.testing.assert_allclose(det.score_excluding(X, own), det.decision_scores_, rtol=1e-5)


def test_dte_np_rejects_too_large_k():
    with pytest.raises(DataValidationError, match="n_neighbors"):
        make("dte_np", n_neighbors=10).fit(np.random.default_rng(0).normal(size=(8, 3)))


def test_dte_np_duplicates_give_finite_scores_and_leave_one_out():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 3))
    X = np.vstack([base] * 6)  # every row has five exact copies: all 5 neighbour distances 0
    det = make("dte_np").fit(X)
    assert np.all(np.isfinite(det.decision_scores_))
    scores = det.decision_function(base)
    assert np.all(np.isfinite(scores)) and np.all(scores >= 0)
    # without duplicates, leaving each row out keeps the training scores away from zero
    det = make("dte_np").fit(base)
    assert np.all(det.decision_scores_ > 0)
    assert np.all(det.decision_function(base) < det.decision_scores_)


@pytest.mark.parametrize("name", DTE)
@pytest.mark.parametrize("d", [1, 2])
def test_low_dimensional_input(name, d):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, d))
    det = make(name).fit(X)
    scores = det.decision_function(np.vstack([X[:20], np.full((5, d), 4.0)]))
    assert np.all(np.isfinite(scores))
    assert scores[-5:].min() > np.median(scores[:20])


def test_dte_np_matches_posterior_mode():
    """Score = mode of InvGamma(d/2 - 1, mean_k d^2 / 2) = mean_k d^2 / d."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 6)).astype(np.float32)
    det = make("dte_np", n_neighbors=3).fit(X)
    Z = det.encoder_.transform(X)
    query = rng.normal(size=(4, 6)).astype(np.float32)
    Q = det.encoder_.transform(query)
    d2 = ((Q[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    want = np.sort(d2, axis=1)[:, :3].mean(1) / 6
    np.testing.assert_allclose(det.decision_function(query), want, rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("dte_c", {"n_bins": 1}, "n_bins"),
        ("dte_np", {"n_neighbors": 0}, "n_neighbors"),
        ("tabadm", {"reject_fraction": 1.0}, "reject_fraction"),
        ("tabadm", {"n_score_steps": 0}, "n_score_steps"),
        ("dte_ig", {"score_batch_size": 0}, "score_batch_size"),
    ],
)
def test_bad_parameters_raise(name, params, match):
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(DataValidationError, match=match):
        make(name, **params).fit(X)


def test_tabadm_score_does_not_depend_on_batching(fitted_detector, modality_data):
    det = copy.deepcopy(fitted_detector("tabadm"))
    X_test = modality_data("tabular").test
    whole = det.decision_function(X_test)
    det.set_params(score_batch_size=7)  # rows per chunk (each at every scoring step)
    np.testing.assert_allclose(det.decision_function(X_test), whole, rtol=1e-5)
    np.testing.assert_allclose(det.decision_function(X_test[5:9]), whole[5:9], rtol=1e-5)


def test_tabadm_rejection_trains(blobs):
    X_train, X_test, y_test = blobs
    det = make("tabadm", reject_fraction=0.1).fit(X_train)
    assert auroc(y_test, det.decision_function(X_test)) > 0.9


@pytest.mark.parametrize("name", ["dte_c", "dte_ig"])
def test_dte_networks_have_no_time_input(name, fitted_detector):
    """DTE's networks must read the diffusion time off x: the timestep cannot reach them."""
    net = fitted_detector(name).net_
    assert net.time_embed is None
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(net(x, torch.full((16,), 300)), net(x), rtol=0, atol=0)
