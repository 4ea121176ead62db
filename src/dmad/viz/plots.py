"""Score plots written straight to PNG files (matplotlib's Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dmad.metrics import aupr, auroc, pr_curve, roc_curve  # noqa: E402

__all__ = ["plot_roc_pr", "plot_score_histogram"]


def plot_roc_pr(
    y_true: np.ndarray, scores: Mapping[str, np.ndarray], path: str | Path, title: str = ""
) -> Path:
    """ROC and precision-recall curves of several detectors side by side, AUCs in the legend."""
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y_true, s)
        precision, recall, _ = pr_curve(y_true, s)
        ax_roc.plot(fpr, tpr, label=f"{name} (AUROC {auroc(y_true, s):.3f})")
        ax_pr.step(recall, precision, where="post", label=f"{name} (AUPR {aupr(y_true, s):.3f})")
    ax_roc.plot([0, 1], [0, 1], "k:", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    base_rate = float(np.mean(y_true))
    ax_pr.axhline(base_rate, color="k", ls=":", lw=1)
    ax_pr.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    for ax in (ax_roc, ax_pr):
        ax.legend(fontsize=8, loc="lower right" if ax is ax_roc else "upper right")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_score_histogram(
    y_true: np.ndarray,
    scores: np.ndarray,
    path: str | Path,
    *,
    threshold: float | None = None,
    title: str = "",
) -> Path:
    """Histogram of scores of normal vs anomalous samples, with the decision threshold."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    bins = np.histogram_bin_edges(scores, bins=40).tolist()
    ax.hist(scores[~y_true], bins=bins, alpha=0.6, label=f"normal (n={(~y_true).sum()})")
    ax.hist(scores[y_true], bins=bins, alpha=0.6, label=f"anomaly (n={y_true.sum()})")
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", label="threshold")
    ax.set(xlabel="anomaly score (higher = more anomalous)", ylabel="count", title=title)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
