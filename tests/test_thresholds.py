"""POT / SPOT against scipy's generalized Pareto; quantile and best-F1 thresholds; the rule
objects a detector's ``contamination`` accepts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import genpareto

from conftest import make, tabular_data
from dmad.exceptions import DataValidationError
from dmad.metrics import best_f1, f1_at_threshold
from dmad.thresholds import (
    POT,
    SPOT,
    THRESHOLDS,
    BestF1,
    Fixed,
    Quantile,
    best_f1_threshold,
    fit_gpd,
    pot_threshold,
    quantile_threshold,
    threshold_rule,
)


@pytest.mark.parametrize("shape", [-0.2, 0.0, 0.3])
def test_gpd_fit_matches_scipy_mle(shape):
    y = genpareto.rvs(shape, scale=1.5, size=4000, random_state=1)
    fit = fit_gpd(y)
    c, _, scale = genpareto.fit(y, floc=0)
    assert fit.shape == pytest.approx(c, abs=2e-3)
    assert fit.scale == pytest.approx(scale, rel=2e-3)
    assert fit.loglik >= genpareto.logpdf(y, c, scale=scale).sum() - 1e-6


@pytest.mark.parametrize("shape", [-0.1, 0.2])
def test_pot_threshold_matches_genpareto_quantile(shape):
    s = genpareto.rvs(shape, scale=1.0, size=200_000, random_state=2)
    q = 1e-4
    assert pot_threshold(s, q=q, level=0.98) == pytest.approx(genpareto.ppf(1 - q, shape), rel=0.05)


def test_spot_flags_extremes_and_keeps_threshold_above_init():
    rng = np.random.default_rng(0)
    spot = SPOT(q=1e-3).fit(rng.exponential(size=5000))
    stream = np.r_[rng.exponential(size=500), 30.0, rng.exponential(size=10)]
    alarms, thresholds = spot.update(stream)
    assert alarms[500] == 1 and alarms.sum() <= 3
    assert (thresholds > spot.init_threshold_).all()


def test_quantile_and_best_f1_thresholds():
    assert quantile_threshold(np.arange(101.0), 0.1) == 90.0
    y, s = np.array([0, 0, 1, 1, 0]), np.array([0.1, 0.3, 0.8, 0.9, 0.2])
    z = best_f1_threshold(y, s)
    assert ((s > z).astype(int) == y).all()


def test_bad_input():
    with pytest.raises(DataValidationError, match="excess"):
        fit_gpd([1.0, 2.0])
    with pytest.raises(DataValidationError, match="q and level"):
        pot_threshold(np.arange(100.0), q=2.0)


# ---- rules as a detector's contamination ---------------------------------------------------------
@pytest.fixture(scope="module")
def tabular():
    return tabular_data()


def test_a_float_means_the_quantile_rule(tabular):
    assert threshold_rule(0.05) == Quantile(0.05)
    rule = POT()
    assert threshold_rule(rule) is rule
    as_float = make("dte_np", contamination=0.05).fit(tabular.train)
    as_rule = make("dte_np", contamination=Quantile(0.05)).fit(tabular.train)
    assert as_rule.threshold_ == as_float.threshold_
    assert as_float.threshold_ == quantile_threshold(as_float.decision_scores_, 0.05)
    np.testing.assert_array_equal(as_rule.labels_, as_float.labels_)


def test_pot_rule_sets_the_tail_threshold(tabular):
    det = make("dte_np", contamination=POT(q=1e-2, level=0.9)).fit(tabular.train)
    assert det.threshold_ == pot_threshold(det.decision_scores_, q=1e-2, level=0.9)
    assert det.threshold_ > np.quantile(det.decision_scores_, 0.9)


def test_best_f1_rule_scores_the_validation_data(blobs):
    X_train, X_val, y_val = blobs  # uniform anomalies: some fall among the normal rows
    det = make("dte_np", contamination=BestF1(X_val, y_val)).fit(X_train)
    scores = det.decision_function(X_val)
    assert det.threshold_ == best_f1_threshold(y_val, scores)
    best = best_f1(y_val, scores)["f1"]
    assert 0.5 < best < 1  # a real trade-off, which predict() then makes
    assert f1_at_threshold(y_val, det.predict(X_val), 0.5) == pytest.approx(best)


def test_best_f1_rule_checks_its_labels(tabular):
    with pytest.raises(DataValidationError, match="both classes"):
        BestF1(tabular.test, np.zeros(len(tabular.test)))
    with pytest.raises(DataValidationError, match="one label per score"):
        make("dte_np", contamination=BestF1(tabular.test, tabular.labels[:-1])).fit(tabular.train)


def test_fixed_rule_is_the_threshold(tabular):
    det = make("dte_np", contamination=Fixed(0.5)).fit(tabular.train)
    assert det.threshold_ == 0.5
    np.testing.assert_array_equal(det.labels_, det.decision_scores_ > 0.5)
    with pytest.raises(DataValidationError, match="finite"):
        Fixed(np.nan)


@pytest.mark.parametrize(
    ("contamination", "match"),
    [
        (0.9, r"contamination must be a number in \(0.0, 0.5\]"),
        (0.0, r"contamination must be a number in \(0.0, 0.5\]"),
        ("0.1", "Quantile, POT, BestF1, Fixed"),
        (None, "Quantile, POT, BestF1, Fixed"),
        (True, "Quantile, POT, BestF1, Fixed"),
    ],
)
def test_bad_contamination_is_explained(contamination, match):
    with pytest.raises(DataValidationError, match=match):
        threshold_rule(contamination)


RULES = [Quantile(0.05), POT(q=1e-3, level=0.95), Fixed(1.5), BestF1([[0.0], [1.0]], [0, 1])]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.kind)
def test_rules_rebuild_from_their_config_and_compare_by_settings(rule):
    twin = THRESHOLDS[rule.kind](**rule.get_config())
    assert twin == rule and hash(twin) == hash(rule) and twin is not rule
    assert type(rule).__name__ in repr(rule)
    others = [r for r in RULES if r is not rule]
    assert all(rule != other for other in others)
    assert Quantile(0.05) != Quantile(0.1) and Fixed(1.5) != Fixed(2.0)
    assert BestF1([[0.0], [1.0]], [0, 1]) != BestF1([[0.0], [2.0]], [0, 1])
