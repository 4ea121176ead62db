"""Range-based AUC and Volume Under the Surface (VUS) for time-series anomaly detection.

Paparrizos, Boniol, Palpanas, Tsay, Elmore, Franklin, "Volume Under the Surface: a new accuracy
evaluation measure for time-series anomaly detection", VLDB 2022; protocol as used by TSB-AD
(Liu & Paparrizos, NeurIPS 2024 Datasets and Benchmarks).

Two conventions are implemented; ``convention="tsb"`` is the default.

TSB-AD convention (``convention="tsb"``, the default) reproduces the numbers of TSB-AD's
evaluation code (Liu & Paparrizos, "The Elephant in the Room: Towards A Reliable Time-Series
Anomaly Detection Benchmark", NeurIPS 2024 Datasets and Benchmarks;
``TSB_AD/evaluation/basic_metrics.py``, ``RangeAUC_volume_opt``). It is the default because it is
what the field's published figures use (TSB-AD's leaderboards, and the baseline figures in
dmad's notes), so a dmad number can be set beside them, and because under it a perfect detector
scores about 1: 0/1 scores equal to the labels get exactly 1 for VUS-PR and VUS-ROC at every
buffer length (continuous scores that rank every labelled point first lose a little to the
rank-spaced thresholds). dmad's own convention (below) gives the same 0/1 detector a VUS-PR of
about 0.7 (0.68-0.69) at the usual ``max_buffer=100`` on events of 10 points.

Both conventions share the protocol: for a buffer length ``L`` each labelled event (maximal run of
1s) keeps weight 1 inside and gets a soft border of ``L // 2`` points on each side; at each of
``n_thresholds`` thresholds, evenly spaced ranks of the sorted scores, points with
``score >= threshold`` are predicted; precision = soft weight of predicted points / number of
predicted points; recall (TPR) is a soft recall times the existence reward (the fraction of
events, extended by their borders, holding at least one prediction); range-AUC-ROC is the
trapezoid area of (FPR, TPR) with (0, 0) prepended and (1, 1) appended; VUS averages the
range-AUCs over ``L = 0, 1, ..., max_buffer``. TSB-AD's convention, in detail:

1. border weight ``sqrt(1 - d / L)`` for ``d = 1 .. L // 2`` (the paper's formula), so the
   border ends at about ``sqrt(1/2)``;
2. overlapping borders add up over every event within reach on that side (even across an
   event in between), clipped to 1;
3. recall divides the predicted soft weight by ``P + B / 2`` (``P`` = number of labelled
   points, ``B`` = soft weight of the predicted border points), which changes with the
   threshold, and is clipped to 1; FPR divides (number predicted - their soft weight) by
   ``n - P - B / 2``;
4. the existence reward counts groups of events whose extended ranges overlap as one event;
5. range-AUC-PR is the step sum ``sum_k (R_k - R_{k-1}) P_k`` from ``R_0 = 0`` (average
   precision).

dmad convention (``convention="dmad"``, dmad's earlier default, kept for comparison with dmad
results computed before TSB-AD's became the default) follows a literal reading of the paper's
prose:

1. border weight ``sqrt(1 - d / (L / 2))`` at distance ``d <= L // 2``, so the border fades to 0
   at its outer end;
2. overlapping borders take the maximum (the nearest event), so a point near two events is not
   more anomalous than one next to a single event;
3. recall = soft weight of predicted points / total soft weight, reaching 1 only once all of it
   is predicted; FPR = (1 - soft weight) of predicted points / total (1 - soft weight);
4. every labelled event counts for the existence reward, whatever the buffer;
5. range-AUC-PR is the trapezoid area of precision over recall with (recall 0, precision 1)
   prepended, integrated like the ROC curve.

Its recall counts the whole soft border as positive, so a detector that flags exactly the
labelled points reaches only recall ``P / (P + border weight)`` at precision 1 and its PR and
ROC areas fall as the buffer grows; TSB-AD's recall counts the border only as far as it is
predicted, and its denominator can be passed (hence the clip: one labelled point and one of its
two border points predicted already give recall 1). The price: a predicted border point counts
fully above that fraction bar and half below it, so where the borders are long next to the
events random scores reach a VUS-ROC well above 0.5 (about 0.7 on 40-point events at
``max_buffer=100``, where dmad's convention gives 0.5): compare a detector with a random
baseline scored the same way, not with 0.5.

TSB-AD's ``get_metrics`` defaults to a largest buffer of 100 (``max_buffer`` here); its
benchmark scripts instead pass each series' autocorrelation period (``find_length_rank``).

Everything is vectorised over thresholds: one sort, then per buffer length one cumulative sum
of soft weights in score order and one sort of the per-event (or per-group) maxima.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import numpy as np
from scipy.ndimage import distance_transform_edt

from dmad.exceptions import DataValidationError
from dmad.metrics._validation import _check_binary_scores, _check_int
from dmad.metrics.f1 import _segment_max, _segments
from dmad.metrics.ranking import _trapezoid

__all__ = ["vus", "vus_roc", "vus_pr", "range_auc", "CONVENTIONS", "Convention"]

#: a value of ``convention``: ``"tsb"`` TSB-AD's code (the default), ``"dmad"`` dmad's earlier one
Convention = Literal["dmad", "tsb"]
#: accepted values of ``convention``
CONVENTIONS: tuple[Convention, ...] = ("dmad", "tsb")


def _check_convention(convention: object) -> Convention:
    if isinstance(convention, str) and convention in CONVENTIONS:
        return convention
    raise DataValidationError(
        f"convention must be one of {list(CONVENTIONS)}, got {convention!r}; 'tsb' (the "
        "default) is TSB-AD's, which published figures use, 'dmad' dmad's earlier convention."
    )


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
    y: np.ndarray, s: np.ndarray, buffers: range, n_thresholds: int, convention: Convention
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
    convention: Convention = "tsb",
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
    convention : {"tsb", "dmad"}
        ``"tsb"`` (default) reproduces TSB-AD's code, which published leaderboards use and under
        which a perfect detector scores ~1; ``"dmad"`` is dmad's earlier convention, a literal
        reading of the paper (a perfect detector scores ~0.7 at ``max_buffer=100`` on
        10-point events). Differences in the module docstring.

    Returns
    -------
    dict
        ``roc`` and ``pr``.

    Examples
    --------
    >>> range_auc([0, 0, 1, 1, 0, 0], [0.1, 0.2, 0.9, 0.8, 0.3, 0.1], buffer=0)["roc"]
    1.0
    >>> y, s = [0, 0, 1, 0, 0], [0.1, 0.9, 0.5, 0.2, 0.0]
    >>> range_auc(y, s, buffer=0)["pr"], range_auc(y, s, buffer=0, convention="dmad")["pr"]
    (0.5, 0.25)
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
    convention: Convention = "tsb",
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
    convention : {"tsb", "dmad"}
        ``"tsb"`` (default) reproduces TSB-AD's code, which published leaderboards use and under
        which a perfect detector scores ~1; ``"dmad"`` is dmad's earlier convention, a literal
        reading of the paper (a perfect detector scores ~0.7 at ``max_buffer=100`` on
        10-point events). Differences in the module docstring.

    Returns
    -------
    dict
        ``vus_roc`` and ``vus_pr``.

    Examples
    --------
    >>> y = [0, 0, 1, 1, 0, 0, 0, 0]
    >>> scores = [0.1, 0.2, 0.9, 0.8, 0.3, 0.1, 0.2, 0.1]
    >>> vus(y, scores, max_buffer=4)
    {'vus_roc': 1.0, 'vus_pr': 1.0}
    >>> {k: round(v, 3) for k, v in vus(y, scores, max_buffer=4, convention="dmad").items()}
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
    convention: Convention = "tsb",
) -> float:
    """VUS-ROC alone; parameters as in :func:`vus`.

    ``convention="tsb"`` (default) is TSB-AD's code, the convention of published leaderboards,
    under which a perfect detector scores ~1; ``convention="dmad"`` is dmad's earlier reading of
    the paper, which counts the whole soft border as positive, so a perfect detector scores about
    0.66 at ``max_buffer=100`` (see the module docstring).

    Examples
    --------
    >>> vus_roc([0, 1, 1, 0, 0], [0.1, 0.9, 0.8, 0.2, 0.1], max_buffer=2)
    1.0
    >>> import numpy as np
    >>> y = np.zeros(1000, dtype=int)
    >>> y[500:510] = 1  # one 10-point event, flagged exactly
    >>> vus_roc(y, y), round(vus_roc(y, y, convention="dmad"), 2)
    (1.0, 0.66)
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
    convention: Convention = "tsb",
) -> float:
    """VUS-PR alone; parameters as in :func:`vus`. TSB-AD's recommended headline metric.

    ``convention="tsb"`` (default) is TSB-AD's code, the convention of published leaderboards,
    under which a perfect detector scores ~1; ``convention="dmad"`` is dmad's earlier reading of
    the paper, which counts the whole soft border as positive, so a perfect detector scores about
    0.68 at ``max_buffer=100`` (see the module docstring).

    Examples
    --------
    >>> vus_pr([0, 1, 1, 0, 0], [0.1, 0.9, 0.8, 0.2, 0.1], max_buffer=0)
    1.0
    >>> import numpy as np
    >>> y = np.zeros(1000, dtype=int)
    >>> y[500:510] = 1  # one 10-point event, flagged exactly
    >>> vus_pr(y, y), round(vus_pr(y, y, convention="dmad"), 2)
    (1.0, 0.68)
    """
    return vus(
        y_true, scores, max_buffer=max_buffer, n_thresholds=n_thresholds, convention=convention
    )["vus_pr"]
