"""Evaluation metrics: ranking (AUROC, AP), F1 variants, range-based VUS and pixel-level AUPRO.

VUS follows TSB-AD's convention by default (``convention="tsb"``; ``"dmad"`` for dmad's earlier
one): see :mod:`dmad.metrics.vus`.

All functions take labels with 1 = anomaly and scores where higher = more anomalous, and raise
:class:`~dmad.exceptions.DataValidationError` on unusable input.
"""

from __future__ import annotations

from typing import Any, Literal

from dmad.exceptions import DataValidationError
from dmad.metrics.f1 import best_f1, f1_at_threshold, pa_f1, point_adjust
from dmad.metrics.pixel import aupro, pixel_auroc
from dmad.metrics.ranking import aupr, auroc, pr_curve, roc_curve
from dmad.metrics.vus import range_auc, vus, vus_pr, vus_roc

__all__ = [
    "auroc",
    "aupr",
    "roc_curve",
    "pr_curve",
    "f1_at_threshold",
    "best_f1",
    "point_adjust",
    "pa_f1",
    "vus",
    "vus_roc",
    "vus_pr",
    "range_auc",
    "pixel_auroc",
    "aupro",
    "evaluate_scores",
]


def evaluate_scores(
    y_true: Any, scores: Any, *, kind: Literal["tabular", "timeseries"] = "tabular"
) -> dict[str, float]:
    """The standard metric set for one score vector.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels, 1 = anomaly; both classes present.
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous.
    kind : {"tabular", "timeseries"}
        ``"tabular"`` gives ``auroc``, ``aupr`` and ``best_f1``; ``"timeseries"`` adds
        ``vus_roc`` and ``vus_pr`` in :func:`vus`'s default, TSB-AD's convention (the one
        published figures use; call :func:`vus` with ``convention="dmad"`` for dmad's earlier
        one), and ``pa_f1`` (point-adjusted, inflated: report it separately).

    Examples
    --------
    >>> evaluate_scores([0, 0, 1, 1], [0.1, 0.2, 0.9, 0.8])
    {'auroc': 1.0, 'aupr': 1.0, 'best_f1': 1.0}
    """
    if kind not in ("tabular", "timeseries"):
        raise DataValidationError(f"kind must be 'tabular' or 'timeseries', got {kind!r}.")
    result = {
        "auroc": auroc(y_true, scores),
        "aupr": aupr(y_true, scores),
        "best_f1": best_f1(y_true, scores)["f1"],
    }
    if kind == "timeseries":
        result.update(vus(y_true, scores))
        result["pa_f1"] = pa_f1(y_true, scores)["f1"]
    return result
