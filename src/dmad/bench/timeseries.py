"""The time-series benchmark task and the names of its classical baselines.

Protocol (``docs/protocols.md``): fit on the ``train`` part of each dev ``.npz`` series
(NAB has none: fit on the test series itself, unsupervised and transductive), score ``test``, and
report VUS-PR (headline) and VUS-ROC in TSB-AD's convention (:mod:`dmad.metrics.vus`'s default,
comparable with published TSB-AD figures), VUS-PR again in dmad's earlier convention
(``vus_pr_dmad``, comparable with dmad results computed before the default changed), AUROC, AUPR
and best F1 without point adjustment; the point-adjusted F1 ``pa_f1`` is kept as a separate,
labelled column because random scores already reach about 0.8 with it. The baselines are
registered detectors (:mod:`dmad.detectors.timeseries.window_baselines`), so the runner builds
them like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dmad.bench.tasks import TASKS
from dmad.data.timeseries import list_series, load_dmad_npz
from dmad.exceptions import DataValidationError
from dmad.metrics import evaluate_scores, vus_pr

__all__ = [
    "TS_BASELINES",
    "TS_CAPS",
    "TS_DETECTORS",
    "TS_NET_CAPS",
    "TimeSeriesTask",
    "fit_series",
]

#: the four baselines of the notes, as registry names
TS_BASELINES = ("window_knn", "window_iforest", "window_pca", "moving_zscore")

#: the benchmark settings of the time-series detectors, shared by ``benchmarks/timeseries.py``
#: and ``benchmarks/generation.py``: the fit windows of every window detector are subsampled to
#: 3000, as window-KNN's; the networks use stride "auto" (window // 10), so a 200-step univariate
#: window costs about what a 10-step one does
TS_CAPS: dict[str, Any] = {"max_fit_samples": 3000}
TS_NET_CAPS: dict[str, Any] = {**TS_CAPS, "stride": "auto"}
#: the density view that used to be hidden inside diffusion_recon, now an explicit ensemble member:
#: DTE-NP on the same windows (single length, the recon's stride and fit subsample)
_DENSITY = {"__detector__": "dte_windows", "params": {**TS_NET_CAPS, "scales": [1.0]}}

#: label → (registry name, params); the same settings on every series
TS_DETECTORS: dict[str, tuple[str, dict[str, Any]]] = {
    "recon + dte (ensemble)": (
        "ensemble",
        {
            "members": [{"__detector__": "diffusion_recon", "params": TS_NET_CAPS}, _DENSITY],
            "calibration": "median",
        },
    ),
    "diffusion_recon": ("diffusion_recon", TS_NET_CAPS),
    "diffusion_imputation": ("diffusion_imputation", TS_NET_CAPS),
    "d3r": ("d3r", TS_NET_CAPS),
    "dte_windows": ("dte_windows", TS_CAPS),
    "window_knn": ("window_knn", {}),
    "window_iforest": ("window_iforest", {}),
    "window_pca": ("window_pca", {}),
    "moving_zscore": ("moving_zscore", {}),
}


def fit_series(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The series a detector is fitted on: ``train``, or ``test`` itself when there is none."""
    return train if len(train) else test


class TimeSeriesTask:
    """Fit on the train split (NAB: on the test series), score every step of the test split.

    Examples
    --------
    >>> task = TimeSeriesTask()
    >>> task.headline, "pa_f1" in task.metric_names
    ('vus_pr', True)
    """

    name: ClassVar[str] = "timeseries"
    modality: ClassVar[str] = "timeseries"
    metric_names: ClassVar[tuple[str, ...]] = (
        "vus_pr",
        "vus_pr_dmad",
        "vus_roc",
        "auroc",
        "aupr",
        "best_f1",
        "pa_f1",
    )
    headline: ClassVar[str] = "vus_pr"
    #: none beyond the registry: the baselines are registered time-series detectors, so a default
    #: grid (every detector of the modality) already holds them
    default_baselines: ClassVar[tuple[str, ...]] = ()
    uses_maps: ClassVar[bool] = False

    @property
    def options(self) -> dict[str, Any]:
        """No settable options: the protocol is fixed. The dict names the VUS convention of
        ``vus_pr`` / ``vus_roc`` because it is part of the job hash: results stored while dmad's
        convention was the default are recomputed instead of resumed under the new meaning."""
        return {"vus_convention": "tsb"}

    def list_datasets(self, folder: Path) -> list[Path]:
        """Every dev-format ``.npz`` series under ``folder`` (recursively)."""
        return list_series(folder)

    def load_splits(self, dataset_path: Path, seed: int) -> tuple[Any, Any, np.ndarray]:
        """``(fit series, test series, test labels)``; the seed does not change the split."""
        series = load_dmad_npz(dataset_path)
        if series.labels is None:
            raise DataValidationError(f"series {str(dataset_path)!r} has no labels to score.")
        return fit_series(series.train, series.test), series.test, series.labels

    def evaluate(
        self, truth: np.ndarray, scores: np.ndarray, maps: np.ndarray | None = None
    ) -> dict[str, float]:
        """VUS-PR and VUS-ROC (TSB-AD's convention), VUS-PR in dmad's earlier convention
        (``vus_pr_dmad``), AUROC, AUPR, best F1 and (separately) point-adjusted F1."""
        metrics = evaluate_scores(truth, scores, kind="timeseries")
        metrics["vus_pr_dmad"] = vus_pr(truth, scores, convention="dmad")
        return {name: metrics[name] for name in self.metric_names}


TASKS["timeseries"] = TimeSeriesTask
