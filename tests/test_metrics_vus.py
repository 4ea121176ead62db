"""Range-AUC and VUS against brute-force loop implementations of both conventions.

``_vus_brute`` follows dmad's convention (``convention="dmad"``, the default before TSB-AD's),
``_vus_tsb_brute`` the formulas of TSB-AD's evaluation code (Liu & Paparrizos, NeurIPS 2024; the
default), both written point by point and threshold by threshold.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from dmad.exceptions import DataValidationError
from dmad.metrics import range_auc, vus, vus_pr, vus_roc


def _area(x: list[float], y: list[float]) -> float:
    return sum((x[k + 1] - x[k]) * (y[k + 1] + y[k]) / 2 for k in range(len(x) - 1))


def _events(y: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (first, last) index of each run of 1s."""
    events, i, n = [], 0, len(y)
    while i < n:
        if y[i]:
            j = i
            while j + 1 < n and y[j + 1]:
                j += 1
            events.append((i, j))
            i = j + 1
        else:
            i += 1
    return events


def _vus_brute(y, s, max_buffer: int, n_thresholds: int) -> tuple[list[float], list[float]]:
    """Per-buffer range-AUC-ROC and -PR of dmad's convention, with explicit loops."""
    y, s, n = np.asarray(y), np.asarray(s, float), len(y)
    events = _events(y)
    thresholds = np.sort(s)[::-1][np.linspace(0, n - 1, n_thresholds).astype(int)]
    rocs, prs = [], []
    for buffer in range(max_buffer + 1):
        half = buffer // 2
        soft = y.astype(float)
        for first, last in events:
            for d in range(1, half + 1):
                for p in (first - d, last + d):
                    if 0 <= p < n:
                        soft[p] = max(soft[p], np.sqrt(1 - d / (buffer / 2)))
        tprs, fprs, precisions = [], [], []
        for t in thresholds:
            pred = s >= t
            found = [pred[max(a - half, 0) : b + half + 1].any() for a, b in events]
            tprs.append(soft[pred].sum() / soft.sum() * np.mean(found))
            fprs.append((1 - soft[pred]).sum() / (1 - soft).sum())
            precisions.append(soft[pred].sum() / pred.sum())
        rocs.append(_area([0, *fprs, 1], [0, *tprs, 1]))
        prs.append(_area([0, *tprs], [1, *precisions]))
    return rocs, prs


def _vus_tsb_brute(y, s, max_buffer: int, n_thresholds: int) -> tuple[list[float], list[float]]:
    """Per-buffer range-AUC-ROC and -PR of TSB-AD's convention, with explicit loops."""
    y, s, n = np.asarray(y), np.asarray(s, float), len(y)
    events = _events(y)
    thresholds = np.sort(s)[::-1][np.linspace(0, n - 1, n_thresholds).astype(int)]
    rocs, prs = [], []
    for buffer in range(max_buffer + 1):
        half = buffer // 2
        soft = y.astype(float)
        for first, last in events:  # every event adds its border, whatever lies in between
            for d in range(1, half + 1):
                for p in (first - d, last + d):
                    if 0 <= p < n:
                        soft[p] += np.sqrt(1 - d / buffer)
        soft = np.minimum(soft, 1.0)
        groups: list[list[int]] = []  # events whose extended ranges overlap form one group
        for first, last in events:
            if groups and first - half <= groups[-1][1]:
                groups[-1][1] = last + half
            else:
                groups.append([first - half, last + half])
        tprs, fprs, precisions = [], [], []
        for t in thresholds:
            pred = s >= t
            tp = soft[pred].sum()
            border = soft[pred & (y == 0)].sum()  # predicted points outside the events
            positive = y.sum() + border / 2
            found = [pred[max(a, 0) : b + 1].any() for a, b in groups]
            tprs.append(min(tp / positive, 1.0) * np.mean(found))
            fprs.append((pred.sum() - tp) / (n - positive))
            precisions.append(tp / pred.sum())
        rocs.append(_area([0, *fprs, 1], [0, *tprs, 1]))
        steps = np.diff([0, *tprs])  # average precision: each recall step times its precision
        prs.append(sum(step * precision for step, precision in zip(steps, precisions, strict=True)))
    return rocs, prs


def _random_series(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.zeros(n, int)
    for start in rng.choice(n, size=3, replace=False):
        y[start : start + rng.integers(1, 6)] = 1  # events may touch, merge or hit the ends
    s = rng.integers(0, 6, n) + 2 * y * rng.random(n)  # ties across and within classes
    return y, s


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_thresholds", [7, 250])
def test_vus_matches_brute_force(seed: int, n_thresholds: int) -> None:
    y, s = _random_series(seed, n=int(40 + 10 * seed))
    rocs, prs = _vus_brute(y, s, max_buffer=12, n_thresholds=n_thresholds)
    result = vus(y, s, max_buffer=12, n_thresholds=n_thresholds, convention="dmad")
    assert result["vus_roc"] == pytest.approx(np.mean(rocs), abs=1e-12)
    assert result["vus_pr"] == pytest.approx(np.mean(prs), abs=1e-12)
    for buffer in (0, 5, 12):
        single = range_auc(y, s, buffer, n_thresholds=n_thresholds, convention="dmad")
        assert single["roc"] == pytest.approx(rocs[buffer], abs=1e-12)
        assert single["pr"] == pytest.approx(prs[buffer], abs=1e-12)


def test_events_at_series_edges_and_all_near() -> None:
    y = np.array([1, 1, 0, 0, 1, 0, 0, 1])
    s = np.array([0.3, 0.9, 0.1, 0.5, 0.2, 0.8, 0.4, 0.7])
    rocs, prs = _vus_brute(y, s, max_buffer=9, n_thresholds=250)
    result = vus(y, s, max_buffer=9, convention="dmad")
    assert result == pytest.approx({"vus_roc": np.mean(rocs), "vus_pr": np.mean(prs)})
    rocs, prs = _vus_tsb_brute(y, s, max_buffer=9, n_thresholds=250)
    result = vus(y, s, max_buffer=9)
    assert result == pytest.approx({"vus_roc": np.mean(rocs), "vus_pr": np.mean(prs)})


def _crowded_series(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Short events a few points apart, so borders overlap and extended events merge."""
    rng = np.random.default_rng(100 + seed)
    y = (rng.random(n) < 0.2).astype(int)
    y[[0, -1]] = seed % 2  # odd seeds: events touching both ends
    y[n // 2], y[n // 2 + 1] = 0, 1  # both classes present
    s = rng.integers(0, 4, n) + y * rng.integers(0, 2, n)  # heavy ties
    return y, s.astype(float)


@pytest.mark.parametrize("make", [_random_series, _crowded_series])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_thresholds", [7, 250])
def test_tsb_convention_matches_brute_force(make, seed: int, n_thresholds: int) -> None:
    y, s = make(seed, int(40 + 10 * seed))
    rocs, prs = _vus_tsb_brute(y, s, max_buffer=16, n_thresholds=n_thresholds)
    result = vus(y, s, max_buffer=16, n_thresholds=n_thresholds, convention="tsb")
    assert result["vus_roc"] == pytest.approx(np.mean(rocs), abs=1e-12)
    assert result["vus_pr"] == pytest.approx(np.mean(prs), abs=1e-12)
    for buffer in (0, 2, 7, 16):
        single = range_auc(y, s, buffer, n_thresholds=n_thresholds, convention="tsb")
        assert single["roc"] == pytest.approx(rocs[buffer], abs=1e-12)
        assert single["pr"] == pytest.approx(prs[buffer], abs=1e-12)


def test_tsb_convention_by_hand() -> None:
    # One labelled point (index 2); the detector ranks its left neighbour first, then the event.
    y, s = [0, 0, 1, 0, 0], [0.1, 0.9, 0.5, 0.2, 0.0]
    # Buffer 2: one border point each side, weight a = sqrt(1 - 1/2). P = 1, n = 5.
    # Top 1 {1}: TP = a, positive = P + a/2, recall r1 = 2a/(2 + a), precision a,
    #   FPR f1 = (1 - a)/(n - 1 - a/2).
    # Top 2 {1, 2}: TP = 1 + a > 1 + a/2, so recall clips to 1; precision (1 + a)/2, same FPR.
    # Lower thresholds keep recall at 1: nothing more for the step sum, ROC flat at TPR 1.
    a = np.sqrt(0.5)
    f1, r1 = (1 - a) / (4 - a / 2), 2 * a / (2 + a)
    expected = {"roc": f1 * r1 / 2 + (1 - f1), "pr": r1 * a + (1 - r1) * (1 + a) / 2}
    assert expected["pr"] == pytest.approx((3.5 + a) / (4 + 2 * a))  # 0.77705
    for n_thresholds in (5, 250):  # repeated thresholds add zero-width steps only
        got = range_auc(y, s, 2, n_thresholds=n_thresholds, convention="tsb")
        assert got == pytest.approx(expected, abs=1e-12)
    # Buffer 0: the step sum credits precision 1/2 over the whole recall jump from 0 to 1; dmad's
    # trapezoid, which starts at (recall 0, precision 1) and passes (0, 0), gets half of that.
    assert range_auc(y, s, 0) == pytest.approx({"roc": 0.75, "pr": 0.5})
    assert range_auc(y, s, 0, convention="dmad") == pytest.approx({"roc": 0.75, "pr": 0.25})


def test_default_is_tsb_and_dmad_differs() -> None:
    y, s = _crowded_series(1, 60)
    tsb, dmad = vus(y, s, max_buffer=16), vus(y, s, max_buffer=16, convention="dmad")
    assert vus(y, s, max_buffer=16, convention="tsb") == tsb
    assert vus_pr(y, s, max_buffer=16) == tsb["vus_pr"]
    assert vus_roc(y, s, max_buffer=16) == tsb["vus_roc"]
    assert range_auc(y, s, 7) == range_auc(y, s, 7, convention="tsb")
    assert abs(dmad["vus_pr"] - tsb["vus_pr"]) > 1e-3


def _one_event(n: int = 1000, first: int = 500, length: int = 10) -> np.ndarray:
    y = np.zeros(n, int)
    y[first : first + length] = 1
    return y


@pytest.mark.parametrize("max_buffer", [0, 4, 100])
def test_perfect_detector_scores_one_by_default(max_buffer: int) -> None:
    # 0/1 scores equal to the labels: the top threshold predicts exactly the 10 labelled points
    # (precision 1, no predicted border, so recall 10 / P = 1, FPR 0), the next one everything.
    # Recall is 1 from the first step: VUS-PR 1 x 1; the ROC curve goes straight up: area 1.
    y = _one_event()
    assert vus_pr(y, y, max_buffer=max_buffer) == 1.0
    assert vus_roc(y, y, max_buffer=max_buffer) == 1.0
    # Continuous scores ranking every labelled point first, with a threshold at every rank
    # (n = 200 < 250 thresholds): precision stays 1 until recall reaches 1.
    y = np.zeros(200, int)
    y[50:60] = y[120:125] = 1
    s = y + np.random.default_rng(0).random(200) * 0.5
    assert vus(y, s, max_buffer=min(max_buffer, 20)) == {"vus_roc": 1.0, "vus_pr": 1.0}


def test_perfect_detector_near_one_with_coarse_thresholds() -> None:
    # 8 events of 10 points in 5000, ranked first; 250 thresholds fall every ~20 ranks, at ranks
    # 0, 20, 40, 60, 80, ... Rank 80 is the first normal point: its threshold predicts the 80
    # labelled points and one more, so recall reaches 1 there at a precision of at least 80/81;
    # every earlier recall step has precision 1. Hence each buffer's PR, and VUS-PR, >= 80/81.
    y = np.zeros(5000, int)
    for start in range(300, 4800, 600):
        y[start : start + 10] = 1
    s = y + np.random.default_rng(0).random(y.size) * 0.5
    assert 80 / 81 - 1e-12 <= vus_pr(y, s) < 1.0
    assert vus_roc(y, s) == pytest.approx(1.0, abs=1e-3)
    # dmad's convention counts the whole soft border as positive: far lower for the same scores
    assert vus_pr(y, s, convention="dmad") < 0.5


def _dmad_perfect_aucs(buffer: int, n: int = 1000, length: int = 10) -> tuple[float, float]:
    """dmad's range-AUC-ROC and -PR of 0/1 scores equal to one event's labels, by hand.

    Border weight b = 2 * sum_{d <= L//2} sqrt(1 - d / (L/2)) (event far from the ends). The top
    threshold predicts the event: precision 1, FPR 0, recall r = length / (length + b); the next
    predicts everything: recall 1, FPR 1, precision (length + b) / n. ROC = (1 + r) / 2 (from
    (0, 0) up to (0, r), then straight to (1, 1)); PR = r + (1 - r)(1 + p) / 2 (flat at 1 up to r,
    then a trapezoid down to p).
    """
    half = buffer // 2
    b = 2 * sum(np.sqrt(1 - d / (buffer / 2)) for d in range(1, half + 1)) if half else 0.0
    r, p = length / (length + b), (length + b) / n
    return (1 + r) / 2, r + (1 - r) * (1 + p) / 2


def test_dmad_convention_by_name_keeps_its_values() -> None:
    y = _one_event()
    # Buffers 0, 1, 2 keep a border of weight 0 (L // 2 = 0, or sqrt(1 - 1/1)): both areas 1.
    # Buffer 3: one border point each side, sqrt(1/3); buffer 4: sqrt(1/2) and 0.
    assert _dmad_perfect_aucs(2) == (1.0, 1.0)
    expected = np.mean([_dmad_perfect_aucs(L) for L in range(5)], axis=0)
    got = vus(y, y, max_buffer=4, convention="dmad")
    assert got == pytest.approx({"vus_roc": expected[0], "vus_pr": expected[1]}, abs=1e-12)
    # At the usual max_buffer=100 a perfect detector keeps only ~0.66 VUS-ROC and ~0.68 VUS-PR.
    expected = np.mean([_dmad_perfect_aucs(L) for L in range(101)], axis=0)
    assert vus_roc(y, y, convention="dmad") == pytest.approx(expected[0], abs=1e-12)
    assert vus_pr(y, y, convention="dmad") == pytest.approx(expected[1], abs=1e-12)
    assert expected == pytest.approx([0.66, 0.68], abs=0.01)
    for buffer in (3, 4, 40):
        single = range_auc(y, y, buffer, convention="dmad")
        assert (single["roc"], single["pr"]) == pytest.approx(_dmad_perfect_aucs(buffer))


def test_perfect_detector_at_zero_buffer() -> None:
    y = np.zeros(200, int)
    y[50:60] = y[120:125] = 1
    s = y + np.random.default_rng(0).random(200) * 0.5
    assert range_auc(y, s, 0) == {"roc": 1.0, "pr": 1.0}
    assert range_auc(y, s, 0, convention="dmad") == {"roc": 1.0, "pr": 1.0}
    # dmad's wider buffer softens the labels around events, so a perfect detector loses a little.
    assert vus_roc(y, s, max_buffer=20, convention="dmad") < 1.0


def test_random_scores() -> None:
    rng = np.random.default_rng(1)
    y = np.zeros(6000, int)
    for start in range(300, 6000, 600):
        y[start : start + 40] = 1
    s = rng.random(y.size)
    dmad = vus(y, s, max_buffer=100, convention="dmad")
    assert dmad["vus_roc"] == pytest.approx(0.5, abs=0.05)
    assert dmad["vus_pr"] < 0.2
    # TSB-AD's recall counts a predicted border point fully above and half below the fraction
    # bar, so with borders (up to 50 a side, weight >= sqrt(1/2)) longer than the 40-point events
    # random scores already get well above 0.5 VUS-ROC; VUS-PR stays low.
    tsb = vus(y, s, max_buffer=100)
    assert 0.6 < tsb["vus_roc"] < 0.8
    assert tsb["vus_pr"] < 0.2
    # with the plain labels (buffer 0) both conventions give the point-wise ROC of random scores
    assert range_auc(y, s, 0)["roc"] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("convention", ["dmad", "tsb"])
def test_convenience_wrappers_agree(convention: str) -> None:
    y, s = _random_series(3, 80)
    kwargs = {"max_buffer": 10, "n_thresholds": 30, "convention": convention}
    both = vus(y, s, **kwargs)
    assert vus_roc(y, s, **kwargs) == both["vus_roc"]
    assert vus_pr(y, s, **kwargs) == both["vus_pr"]


@pytest.mark.parametrize("convention", ["dmad", "tsb"])
def test_vus_is_fast_on_long_series(convention: str) -> None:
    rng = np.random.default_rng(0)
    y = np.zeros(30_000, int)
    for start in rng.choice(29_800, size=40, replace=False):
        y[start : start + rng.integers(5, 200)] = 1
    s = rng.random(y.size) + y
    start = time.perf_counter()
    vus(y, s, max_buffer=100, n_thresholds=250, convention=convention)
    # The target is < 1 s; the margin absorbs a busy shared CI machine.
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_buffer": -1}, "max_buffer must be an integer >= 0"),
        ({"max_buffer": 2.5}, "max_buffer must be an integer >= 0"),
        ({"n_thresholds": 1}, "n_thresholds must be an integer >= 2"),
        ({"convention": "tsb-ad"}, r"convention must be one of \['dmad', 'tsb'\]"),
        ({"convention": None}, "convention must be one of"),
    ],
)
def test_bad_parameters_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        vus([0, 1, 0], [0.1, 0.9, 0.2], **kwargs)


def test_bad_labels_raise() -> None:
    with pytest.raises(DataValidationError, match="only one class"):
        vus([1, 1, 1], [0.1, 0.9, 0.2])
    with pytest.raises(DataValidationError, match="buffer must be an integer >= 0"):
        range_auc([0, 1, 0], [0.1, 0.9, 0.2], buffer=-2)
    with pytest.raises(DataValidationError, match="length mismatch"):
        vus_pr([0, 1, 0], [0.1, 0.9])
    with pytest.raises(ValueError, match="convention must be one of"):  # also a ValueError
        range_auc([0, 1, 0], [0.1, 0.9, 0.2], buffer=2, convention="TSB")
    with pytest.raises(DataValidationError, match="convention must be one of"):
        vus_pr([0, 1, 0], [0.1, 0.9, 0.2], convention="paper")
