"""Ranking and F1 metrics against scikit-learn, hand-computed cases and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from dmad.exceptions import DataValidationError
from dmad.metrics import (
    aupr,
    auroc,
    best_f1,
    evaluate_scores,
    f1_at_threshold,
    pa_f1,
    point_adjust,
    pr_curve,
    roc_curve,
    vus,
)


def _random_case(seed: int, n: int = 300, tied: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    y[:2] = [0, 1]
    # Few distinct values force many ties, including ties across the two classes.
    scores = rng.integers(0, 8, n) + 2 * y if tied else rng.normal(size=n) + y
    return y, scores.astype(float)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tied", [True, False])
def test_auroc_aupr_match_sklearn(seed: int, tied: bool) -> None:
    y, s = _random_case(seed, tied=tied)
    assert auroc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert aupr(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


def test_curves_match_sklearn() -> None:
    y, s = _random_case(0)
    fpr, tpr, thr = roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_array_equal(thr, sk_thr)
    precision, recall, thr = pr_curve(y, s)
    sk_p, sk_r, sk_thr = skm.precision_recall_curve(y, s)
    # sklearn runs from low to high thresholds and appends (recall 0, precision 1).
    np.testing.assert_allclose(precision, sk_p[:-1][::-1])
    np.testing.assert_allclose(recall, sk_r[:-1][::-1])
    np.testing.assert_array_equal(thr, sk_thr[::-1])


def test_ranking_hand_computed() -> None:
    y, s = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    # Pairs (anomaly > normal): 0.8 beats both, 0.35 beats 0.1 only -> 3 of 4.
    assert auroc(y, s) == 0.75
    # Ranked 0.8 (1), 0.4 (0), 0.35 (1): AP = 1/2 * 1 + 1/2 * 2/3.
    assert aupr(y, s) == pytest.approx(5 / 6)
    # A tie between an anomaly and a normal point counts half.
    assert auroc([0, 1], [0.5, 0.5]) == 0.5
    assert auroc([0, 0, 1, 1], [1, 2, 3, 4]) == 1.0
    assert auroc([0, 0, 1, 1], [4, 3, 2, 1]) == 0.0


def test_f1_at_threshold_hand_and_sklearn() -> None:
    y, s = np.array([0, 1, 1, 0, 1]), np.array([0.1, 0.9, 0.4, 0.6, 0.2])
    # Threshold 0.4 flags 0.9, 0.4, 0.6: TP 2, FP 1, FN 1 -> F1 = 4 / 6.
    assert f1_at_threshold(y, s, 0.4) == pytest.approx(2 / 3)
    for t in [0.0, 0.2, 0.5, 0.95]:
        assert f1_at_threshold(y, s, t) == pytest.approx(skm.f1_score(y, s >= t))


@pytest.mark.parametrize("seed", range(4))
def test_best_f1_matches_threshold_sweep(seed: int) -> None:
    y, s = _random_case(seed, n=120)
    sweep = [skm.f1_score(y, s >= t) for t in np.unique(s)]
    result = best_f1(y, s)
    assert result["f1"] == pytest.approx(max(sweep))
    pred = s >= result["threshold"]
    assert result["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert result["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert f1_at_threshold(y, s, result["threshold"]) == pytest.approx(result["f1"])


def test_point_adjust_hand_computed() -> None:
    y = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 1])
    pred = np.array([1, 0, 1, 0, 0, 0, 0, 0, 1, 1])
    # Segment [1, 4) has a hit -> filled; [6, 8) has none; [9, 10) is hit at the series end.
    expected = [1, 1, 1, 1, 0, 0, 0, 0, 1, 1]
    assert point_adjust(y, pred).tolist() == expected
    assert pred.tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 1, 1]  # input untouched
    assert point_adjust(np.zeros(3, int), [1, 0, 1]).tolist() == [1, 0, 1]


def _point_adjust_loop(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    out, i = pred.copy(), 0
    while i < len(y):
        if y[i]:
            j = i
            while j < len(y) and y[j]:
                j += 1
            if pred[i:j].any():
                out[i:j] = 1
            i = j
        else:
            i += 1
    return out


@pytest.mark.parametrize("seed", range(4))
def test_pa_f1_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (np.convolve(rng.random(150) < 0.05, np.ones(6), mode="same") > 0).astype(int)
    s = rng.integers(0, 10, y.size).astype(float)
    np.testing.assert_array_equal(point_adjust(y, s >= 5), _point_adjust_loop(y, s >= 5))
    sweep = [skm.f1_score(y, _point_adjust_loop(y, s >= t)) for t in np.unique(s)]
    result = pa_f1(y, s)
    assert result["f1"] == pytest.approx(max(sweep))
    adjusted = _point_adjust_loop(y, s >= result["threshold"])
    assert skm.f1_score(y, adjusted) == pytest.approx(result["f1"])
    assert result["recall"] == pytest.approx(skm.recall_score(y, adjusted))


def test_pa_f1_inflates_random_scores() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros(5000, int)
    for start in range(200, 5000, 1000):
        y[start : start + 150] = 1
    s = rng.random(y.size)
    # Random scores: plain best F1 stays near the anomaly rate, point adjustment calls it good.
    assert best_f1(y, s)["f1"] < 0.3
    assert pa_f1(y, s)["f1"] > 0.7


def test_evaluate_scores() -> None:
    y, s = _random_case(1)
    tab = evaluate_scores(y, s)
    assert tab == {"auroc": auroc(y, s), "aupr": aupr(y, s), "best_f1": best_f1(y, s)["f1"]}
    ts = evaluate_scores(y, s, kind="timeseries")
    assert set(ts) == {"auroc", "aupr", "best_f1", "vus_roc", "vus_pr", "pa_f1"}
    # VUS in vus()'s default, TSB-AD's convention (what published figures use)
    assert {k: ts[k] for k in ("vus_roc", "vus_pr")} == vus(y, s, convention="tsb")
    assert ts["pa_f1"] >= ts["best_f1"]
    with pytest.raises(DataValidationError, match="kind must be"):
        evaluate_scores(y, s, kind="image")


_FUNCS = [auroc, aupr, best_f1, pa_f1, roc_curve, pr_curve, evaluate_scores]


@pytest.mark.parametrize("func", _FUNCS)
@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([0, 2, 1], [0.1, 0.2, 0.3], "y_true must be binary"),
        ([0, 1, 1], [0.1, 0.2], "length mismatch"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "NaN"),
        ([0, 1, 1], [0.1, np.inf, 0.3], "infinite"),
        ([], [], "empty"),
        ([[0, 1]], [[0.1, 0.2]], r"shape \(n_samples,\)"),
        ([0, 0, 0], [0.1, 0.2, 0.3], "only one class"),
        ([0, 1], ["a", "b"], "non-numeric"),
    ],
)
def test_bad_input_raises(func, y, s, match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        func(y, s)


def test_class_requirements() -> None:
    # AUROC needs both classes; AP and F1 only need an anomaly.
    with pytest.raises(DataValidationError, match="only one class.*no 0s"):
        auroc([1, 1], [0.1, 0.2])
    assert aupr([1, 1], [0.1, 0.2]) == 1.0
    assert best_f1([1, 1], [0.1, 0.2])["f1"] == 1.0
    with pytest.raises(DataValidationError, match="y_pred must be binary"):
        point_adjust([0, 1], [0.3, 0.9])
    with pytest.raises(DataValidationError, match="threshold"):
        f1_at_threshold([0, 1], [0.3, 0.9], float("nan"))


def test_accepts_bool_and_lists() -> None:
    y = [False, True, True, False]
    assert auroc(y, [0.1, 0.9, 0.8, 0.2]) == 1.0
    assert best_f1(np.array(y), np.array([1, 3, 3, 2]))["threshold"] == 3.0
