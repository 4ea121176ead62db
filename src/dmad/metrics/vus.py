"""Range-based AUC and Volume Under the Surface (VUS) for time-series anomaly detection.

Paparrizos, Boniol, Palpanas, Tsay, Elmore, Franklin, "Volume Under the Surface: a new accuracy
evaluation measure for time-series anomaly detection", VLDB 2022; protocol as used by TSB-AD
(Liu & Paparrizos, NeurIPS 2024 Datasets and Benchmarks).

Default convention (``convention="dmad"``). For a buffer length ``L`` each labelled event
(maximal run of 1s) keeps weight 1 inside and gets a soft border of ``L // 2`` points on each
side, weight ``sqrt(1 - d / (L / 2))`` at distance ``d``; overlapping borders take the maximum.
At each threshold (predict ``score >= threshold``):

* range recall (TPR) = soft weight of predicted points / total soft weight, times the existence
  reward: the fraction of events, extended by their borders, holding at least one prediction;
* FPR = (1 - soft weight) of predicted points / total (1 - soft weight);
* precision = soft weight of predicted points / number of predicted points.

Range-AUC-ROC is the trapezoid area of (FPR, TPR) with (0, 0) prepended and (1, 1) appended;
range-AUC-PR is the trapezoid area of precision over recall with (recall 0, precision 1)
prepended. VUS averages both over ``L = 0, 1, ..., max_buffer``. Thresholds are
``n_thresholds`` evenly spaced ranks of the sorted scores, as in TSB-AD.

TSB-AD convention (``convention="tsb"``) reproduces the numbers of TSB-AD's evaluation code
(Liu & Paparrizos, "The Elephant in the Room: Towards A Reliable Time-Series Anomaly Detection
Benchmark", NeurIPS 2024 Datasets and Benchmarks; ``TSB_AD/evaluation/basic_metrics.py``), so
results can be compared with its published leaderboards. Thresholds, buffer lengths, precision
and the ROC area are as above; it differs in:

1. border weight ``sqrt(1 - d / L)`` for ``d = 1 .. L // 2`` (the paper's formula), so the
   border ends at about ``sqrt(1/2)`` instead of falling to 0;
2. overlapping borders add up over every event within reach on that side (even across an
   event in between), clipped to 1, instead of taking the maximum;
3. recall divides the predicted soft weight by ``P + B / 2`` (``P`` = number of labelled
   points, ``B`` = soft weight of the predicted border points), which changes with the
   threshold, and is clipped to 1; FPR divides (number predicted - their soft weight) by
   ``n - P - B / 2``;
4. the existence reward counts groups of events whose extended ranges overlap as one event;
5. range-AUC-PR is the step sum ``sum_k (R_k - R_{k-1}) P_k`` from ``R_0 = 0`` (average
   precision) instead of the trapezoid.

TSB-AD's ``get_metrics`` defaults to a largest buffer of 100 (``max_buffer`` here); its
benchmark scripts instead pass each series' autocorrelation period (``find_length_rank``).

Why dmad's definition stays the default: its border fades to 0 at its outer end; a point near
two events is not more anomalous than one next to a single event; recall over the total soft
weight reaches 1 only once all of it is predicted (TSB-AD's denominator can pass it, hence the
clip: one labelled point and one of its two border points predicted already give recall 1);
every labelled event counts for the existence reward whatever the buffer; and both curves are
integrated the same way.

Everything is vectorised over thresholds: one sort, then per buffer length one cumulative sum
of soft weights in score order and one sort of the per-event (or per-group) maxima.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from scipy.ndimage import distance_transform_edt

from dmad.exceptions import DataValidationError
from dmad.metrics._validation import _check_binary_scores, _check_int
from dmad.metrics.f1 import _segment_max, _segments
from dmad.metrics.ranking import _trapezoid

__all__ = ["vus", "vus_roc", "vus_pr", "range_auc", "CONVENTIONS"]

#: accepted values of ``convention``: dmad's definition and TSB-AD's code
CONVENTIONS = ("dmad", "tsb")


def _check_convention(convention: Any) -> str:
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise DataValidationError(
            f"convention must be one of {list(CONVENTIONS)}, got {convention!r}; use 'tsb' "
            "only to compare with numbers computed by TSB-AD's code."
        )
    return convention


def _soft_labels_nearest(distance: np.ndarray, buffer: int) -> np.ndarray:
    """dmad's soft labels, from each point's distance to the nearest labelled point."""
    half = buffer // 2
    if half == 0:
        return (distance == 0).astype(np.float64)
    soft = np.zeros_like(distance)
    near = distance <= half
    # The weight falls with distance, so the nearest event gives the max over overlapping borders;
    # d <= L // 2 <= L / 2 keeps the root's argument in [0, 1] without clipping.
    soft[near] = np.sqrt(1.0 - distance[near] / (buffer / 2))
    return soft


def _soft_labels_summed(
    y: np.ndarray, starts: np.ndarray, ends: np.ndarray, buffer: int
) -> np.ndarray:
    """TSB-AD's soft labels: every event's border weights added up, clipped to 1."""
    half = buffer // 2
    soft = y.astype(np.float64)
    if half == 0:
        return soft
    d = np.arange(1, half + 1)
    # Right borders count from each event's last point, left borders from its first point.
    where = np.concatenate([(ends - 1)[:, None] + d, starts[:, None] - d]).ravel()
    weight = np.broadcast_to(np.sqrt(1.0 - d / buffer), (2 * starts.size, half)).ravel()
    inside = (where >= 0) & (where < y.size)
    soft += np.bincount(where[inside], weight[inside], minlength=y.size)
    return np.minimum(soft, 1.0)


def _range_aucs(
    y: np.ndarray, s: np.ndarray, buffers: range, n_thresholds: int, convention: str
) -> tuple[np.ndarray, np.ndarray]:
    """Range-AUC-ROC and range-AUC-PR for each buffer length."""
    tsb = convention == "tsb"
    n = s.size
    order = np.argsort(s)[::-1]
    ascending = s[order[::-1]]
    thresholds = ascending[::-1][np.linspace(0, n - 1, n_thresholds).astype(int)]
    n_pred = n - np.searchsorted(ascending, thresholds, side="left")  # ties all predicted
    starts, ends = _segments(y)
    n_labelled = np.count_nonzero(y)
    if tsb:
        labelled_hit = np.cumsum(y[order])[n_pred - 1]  # predicted labelled points
        soft_labels = partial(_soft_labels_summed, y, starts, ends)
    else:
        soft_labels = partial(_soft_labels_nearest, distance_transform_edt(~y))
    roc, pr = np.empty(len(buffers)), np.empty(len(buffers))
    for i, buffer in enumerate(buffers):
        half = buffer // 2
        hit = np.cumsum(soft_labels(buffer)[order])[n_pred - 1]
        lo, hi = np.maximum(starts - half, 0), np.minimum(ends + half, n)
        if tsb:  # events whose extended ranges overlap count once
            first = np.r_[True, lo[1:] >= hi[:-1]]
            lo, hi = lo[first], hi[np.r_[first[1:], True]]
        group_max = np.sort(_segment_max(s, lo, hi))
        existence = 1.0 - np.searchsorted(group_max, thresholds, side="left") / lo.size
        # dmad: the last threshold is the minimum score, so hit[-1] is the total soft weight.
        positive = n_labelled + (hit - labelled_hit) / 2 if tsb else hit[-1]
        recall = np.minimum(hit / positive, 1.0) * existence  # the clip only acts for "tsb"
        fpr = (n_pred - hit) / (n - positive)
        precision = hit / n_pred
        roc[i] = _trapezoid(np.r_[0.0, recall, 1.0], np.r_[0.0, fpr, 1.0])
        if tsb:
            pr[i] = float(np.sum(np.diff(recall, prepend=0.0) * precision))
        else:
            pr[i] = _trapezoid(np.r_[1.0, precision], np.r_[0.0, recall])
    return roc, pr


def range_auc(
    y_true: Any,
    scores: Any,
    buffer: int,
    *,
    n_thresholds: int = 250,
    convention: str = "dmad",
) -> dict[str, float]:
    """Range-AUC-ROC and range-AUC-PR for one buffer length (see the module docstring).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary point labels, both classes present.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous.
    buffer : int
        Buffer length ``L >= 0``; ``0`` (or ``1``) uses the plain labels.
    n_thresholds : int
        Number of thresholds, at evenly spaced ranks of the sorted scores.
    convention : {"dmad", "tsb"}
        ``"dmad"`` (default) follows the written definition; ``"tsb"`` reproduces TSB-AD's
        code, for comparison with its leaderboards (differences in the module docstring).

    Returns
    -------
    dict
        ``roc`` and ``pr``.

    Examples
    --------
    >>> range_auc([0, 0, 1, 1, 0, 0], [0.1, 0.2, 0.9, 0.8, 0.3, 0.1], buffer=0)["roc"]
    1.0
    >>> y, s = [0, 0, 1, 0, 0], [0.1, 0.9, 0.5, 0.2, 0.0]
    >>> range_auc(y, s, buffer=0)["pr"], range_auc(y, s, buffer=0, convention="tsb")["pr"]
    (0.25, 0.5)
    """
    y, s = _check_binary_scores(y_true, scores)
    buffer = _check_int(buffer, name="buffer", minimum=0)
    n_thresholds = _check_int(n_thresholds, name="n_thresholds", minimum=2)
    convention = _check_convention(convention)
    roc, pr = _range_aucs(y, s, range(buffer, buffer + 1), n_thresholds, convention)
    return {"roc": float(roc[0]), "pr": float(pr[0])}


def vus(
    y_true: Any,
    scores: Any,
    *,
    max_buffer: int = 100,
    n_thresholds: int = 250,
    convention: str = "dmad",
) -> dict[str, float]:
    """VUS-ROC and VUS-PR: range-AUCs averaged over buffer lengths ``0..max_buffer``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary point labels, both classes present.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous.
    max_buffer : int
        Largest buffer length (TSB-AD's ``get_metrics`` default is 100; its benchmark scripts
        pass the series' autocorrelation period instead).
    n_thresholds : int
        Number of thresholds, at evenly spaced ranks of the sorted scores.
    convention : {"dmad", "tsb"}
        ``"dmad"`` (default) follows the written definition; ``"tsb"`` reproduces TSB-AD's
        code, for comparison with its leaderboards (differences in the module docstring).

    Returns
    -------
    dict
        ``vus_roc`` and ``vus_pr``.

    Examples
    --------
    >>> y = [0, 0, 1, 1, 0, 0, 0, 0]
    >>> scores = [0.1, 0.2, 0.9, 0.8, 0.3, 0.1, 0.2, 0.1]
    >>> {k: round(v, 3) for k, v in vus(y, scores, max_buffer=4).items()}
    {'vus_roc': 0.98, 'vus_pr': 0.977}
    """
    y, s = _check_binary_scores(y_true, scores)
    max_buffer = _check_int(max_buffer, name="max_buffer", minimum=0)
    n_thresholds = _check_int(n_thresholds, name="n_thresholds", minimum=2)
    convention = _check_convention(convention)
    roc, pr = _range_aucs(y, s, range(max_buffer + 1), n_thresholds, convention)
    return {"vus_roc": float(roc.mean()), "vus_pr": float(pr.mean())}


def vus_roc(
    y_true: Any,
    scores: Any,
    *,
    max_buffer: int = 100,
    n_thresholds: int = 250,
    convention: str = "dmad",
) -> float:
    """VUS-ROC alone; see :func:`vus`.

    Examples
    --------
    >>> vus_roc([0, 1, 1, 0, 0], [0.1, 0.9, 0.8, 0.2, 0.1], max_buffer=2)
    1.0
    """
    return vus(
        y_true, scores, max_buffer=max_buffer, n_thresholds=n_thresholds, convention=convention
    )["vus_roc"]


def vus_pr(
    y_true: Any,
    scores: Any,
    *,
    max_buffer: int = 100,
    n_thresholds: int = 250,
    convention: str = "dmad",
) -> float:
    """VUS-PR alone; see :func:`vus`. TSB-AD's recommended headline metric.

    Examples
    --------
    >>> vus_pr([0, 1, 1, 0, 0], [0.1, 0.9, 0.8, 0.2, 0.1], max_buffer=0)
    1.0
    """
    return vus(
        y_true, scores, max_buffer=max_buffer, n_thresholds=n_thresholds, convention=convention
    )["vus_pr"]
