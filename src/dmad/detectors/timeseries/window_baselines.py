"""The classical time-series baselines of the benchmark, exactly as in ``docs/protocols.md``.

- ``window_knn``: PyOD ``KNN(n_neighbors=5, method="largest", algorithm="brute")`` on flattened
  standardised windows, fit windows randomly subsampled to 3000 (Ramaswamy et al., SIGMOD 2000,
  on sub-sequences as in TSB-AD).
- ``window_iforest``: PyOD ``IForest(n_estimators=100)``, fit windows subsampled to 20 000
  (Liu, Ting & Zhou, ICDM 2008).
- ``window_pca``: PyOD ``PCA()`` on the same windows (the Sub-PCA family of TSB-AD), keeping as
  many components as the standardised fit windows have rank: PyOD's weighted score divides by
  each component's explained variance, and SMAP's command channels (constant, or moving together,
  in training) otherwise give components of variance exactly 0 and NaN scores.
- ``moving_zscore``: residual to the mean of the previous 20 points, z-scored per channel with
  the fit residuals' mean and std; score = max over channels of |z|.

The window baselines are presets of :class:`~dmad.detectors.timeseries.windowed.Windowed` around
the registered PyOD detectors (``knn``, ``iforest``, ``pca``, with ``standardize=False``: the
series is already standardised per channel, as the notes prescribe), so the benchmark runner, the
persistence (no refit on load) and the streaming API treat them like dmad's own. Missing values
are seen as the channel mean (these models have no mask); the moving z-score excludes them from
its means and scores them 0.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from dmad.detectors.base import BaseDetector
from dmad.detectors.registry import create
from dmad.detectors.timeseries.base import Series, TimeSeriesDetector
from dmad.detectors.timeseries.windowed import Windowed
from dmad.validation import check_positive_int

__all__ = ["MovingZScore", "WindowIForest", "WindowKNN", "WindowPCA"]

_COMMON_DOC = """
    window : int or "auto"
        Window length ("auto": dominant period if univariate, 10 if multivariate).
    stride : int
        Step between windows (fit and score).
    max_fit_samples : int or None
        Fit windows randomly subsampled to this many.
    contamination : float or threshold rule
        Fraction of the fit series assumed anomalous; sets ``threshold_``.
    random_state : int or None
        Seed of the fit-window subsample and of the model.
    device, verbose
        Unused (PyOD runs on the CPU); kept for a uniform API.
"""


class WindowKNN(Windowed, name="window_knn"):
    __doc__ = (
        """Window-KNN baseline: distance to the k-th nearest fit window (PyOD ``KNN``).

    Parameters
    ----------
    n_neighbors : int
        k."""
        + _COMMON_DOC
    )

    family: ClassVar[str] = "baseline (PyOD)"
    composite: ClassVar[bool] = False
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        window: int | str = "auto",
        stride: int = 1,
        n_neighbors: int = 5,
        max_fit_samples: int | None = 3000,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.window = window
        self.stride = stride
        self.n_neighbors = n_neighbors
        self.max_fit_samples = max_fit_samples
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _vector_detector(self) -> BaseDetector:
        return create(
            "knn",
            n_neighbors=self.n_neighbors,
            method="largest",
            algorithm="brute",
            standardize=False,
        )


class WindowIForest(Windowed, name="window_iforest"):
    __doc__ = (
        """Window-IForest baseline: isolation forest on flattened windows (PyOD ``IForest``).

    Parameters
    ----------
    n_estimators : int
        Number of trees."""
        + _COMMON_DOC
    )

    family: ClassVar[str] = "baseline (PyOD)"
    composite: ClassVar[bool] = False
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        window: int | str = "auto",
        stride: int = 1,
        n_estimators: int = 100,
        max_fit_samples: int | None = 20_000,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.window = window
        self.stride = stride
        self.n_estimators = n_estimators
        self.max_fit_samples = max_fit_samples
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _vector_detector(self) -> BaseDetector:
        return create("iforest", n_estimators=self.n_estimators, standardize=False)


class WindowPCA(Windowed, name="window_pca"):
    __doc__ = (
        """Window-PCA baseline: PyOD ``PCA()`` (weighted distance to the principal axes), keeping
    as many components as the standardised fit windows have rank."""
        + _COMMON_DOC
    )

    family: ClassVar[str] = "baseline (PyOD)"
    composite: ClassVar[bool] = False
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        window: int | str = "auto",
        stride: int = 1,
        max_fit_samples: int | None = None,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.window = window
        self.stride = stride
        self.max_fit_samples = max_fit_samples
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _vector_detector(self) -> BaseDetector:
        return create("pca", n_components="rank", standardize=False)


class MovingZScore(TimeSeriesDetector, name="moving_zscore"):
    """Moving z-score baseline: residual to the mean of the previous ``history`` points.

    The residual of every channel is z-scored with the mean and std of the fit series'
    residuals; the score of a step is the largest |z| over its observed channels. The first
    steps use the points available (an expanding mean); a step with no observed history has
    residual 0.

    Parameters
    ----------
    history : int
        Number of previous points averaged.
    contamination : float
        Fraction of the fit series assumed anomalous; sets ``threshold_``.
    random_state, device, verbose
        Unused (deterministic, numpy); kept for a uniform API.

    Examples
    --------
    >>> x = np.sin(np.arange(300) / 5.0)
    >>> det = MovingZScore().fit(x)
    >>> x[200] += 5
    >>> int(np.argmax(det.decision_function(x)))
    200
    """

    family: ClassVar[str] = "baseline"

    def __init__(
        self,
        history: int = 20,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.history = history
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # the window is the history plus the scored point; scoring is per step, never averaged
    window = "auto"
    stride = 1

    def _resolve_window(self, arr: np.ndarray) -> int:
        return check_positive_int(self.history, name="history") + 1

    def _padded_windows(self, series: Series) -> tuple[np.ndarray, np.ndarray]:
        # masked rows in front: the first steps see an expanding history, one window per step
        pad = np.zeros((self.window_ - 1, series.values.shape[1]), np.float32)
        padded = Series(np.concatenate([pad, series.values]), np.concatenate([pad, series.mask]))
        return self._windows(padded, 1)

    def _residuals(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        past, past_mask = values[:, :-1], mask[:, :-1]
        count = past_mask.sum(axis=1)
        mean = (past * past_mask).sum(axis=1) / np.maximum(count, 1)
        return np.where(count > 0, values[:, -1] - mean, 0.0)

    def _fit(self, series: Series) -> None:
        values, mask = self._padded_windows(series)
        residual, observed = self._residuals(values, mask), mask[:, -1] > 0
        count = np.maximum(observed.sum(axis=0), 1)
        self.residual_mean_ = np.where(observed, residual, 0).sum(axis=0) / count
        var = np.where(observed, (residual - self.residual_mean_) ** 2, 0).sum(axis=0) / count
        self.residual_std_ = np.where(var > 1e-12, np.sqrt(var), 1.0)

    def _score(self, series: Series) -> np.ndarray:
        return self._score_windows(*self._padded_windows(series))

    def _score_windows(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        z = np.abs(self._residuals(values, mask) - self.residual_mean_) / self.residual_std_
        return (z * mask[:, -1]).max(axis=1)

    def _model_state(self) -> dict[str, Any]:
        return {"mean": self.residual_mean_, "std": self.residual_std_}

    def _restore_model(self, state: dict[str, Any]) -> None:
        self.residual_mean_ = np.asarray(state["mean"], np.float64)
        self.residual_std_ = np.asarray(state["std"], np.float64)
