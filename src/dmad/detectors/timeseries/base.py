"""The time-series detector frame: series in, one score per time step out.

A series is a (T,) or (T, D) array or DataFrame. Each channel is standardised with the fit series'
mean and standard deviation (saved with the model). Missing values (NaN) are never filled in
silently: they become an explicit mask (1 = observed) that travels with the values, the values
themselves set to the channel mean (0 after standardisation) only so that tensors stay finite.
Detectors exclude masked entries from their losses and errors; the classical window baselines,
which have no notion of a mask, see the channel mean. ``inf`` is rejected.

Window detectors implement two hooks on stacked windows of shape (n_windows, window, D):
``_fit_windows(values, mask)`` and ``_score_windows(values, mask) -> (n_windows,)``. Batch scoring
gives each step the mean score of the windows covering it (:func:`~dmad.data.windows.
windows_to_points`), as the baselines of ``docs/protocols.md`` do.

Streaming (:meth:`TimeSeriesDetector.score_stream`) scores each arriving point by the window that
*ends* at it, so its score is available immediately (zero latency) and depends on no future point;
a ring buffer holds the last ``window - 1`` standardised points (the longest window's, for a
multi-scale detector) (initialised from the end of the
fit series, i.e. the stream is taken to continue it). Batch scores average the windows covering a
step, future ones included, so the two differ by exactly that averaging: with stride 1,
``windows_to_points(stream[window - 1:], arange(T - window + 1), window, T)`` equals
``decision_function(x)`` for the stream ``x`` fed after ``fit`` (tested).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np

from dmad.data.windows import default_window, sliding_windows, window_starts, windows_to_points
from dmad.detectors.base import BaseDetector
from dmad.exceptions import DataValidationError
from dmad.ops import Standardizer
from dmad.validation import check_array, check_is_fitted, check_n_features, check_positive_int

__all__ = ["Series", "TimeSeriesDetector"]


class Series(NamedTuple):
    """A standardised series: ``values`` (T, D) float32 with 0 where missing, ``mask`` 1/0."""

    values: np.ndarray
    mask: np.ndarray


class TimeSeriesDetector(BaseDetector, abstract=True):
    """Base of all time-series detectors: validation, scaling, windows, streaming.

    Subclasses store ``window`` ("auto" or an int) and ``stride`` ("auto" or an int) among their
    parameters and implement ``_fit_windows`` / ``_score_windows`` (or override ``_fit`` /
    ``_score``). ``window="auto"`` applies the rule of the baselines: the dominant period of a
    univariate fit series (autocorrelation peak, clipped to 10..200, fallback 100), 10 for a
    multivariate one. ``stride="auto"`` is ``window // 10`` (at least 1): about ten windows still
    cover each step, and a network's cost no longer grows with the window length (a 200-step
    univariate window would otherwise cost 20 times a 10-step one per scored step).
    """

    modality: ClassVar[str] = "timeseries"

    # ---- input ---------------------------------------------------------------------------------
    def _as_array(self, X: Any, name: str = "X") -> np.ndarray:
        if hasattr(X, "to_numpy"):  # DataFrame / Series: only the numeric values matter
            X = X.to_numpy()
        arr = check_array(X, name=name, ndim=(1, 2), allow_nan=True)
        return arr[:, None] if arr.ndim == 1 else arr

    def _standardise(self, arr: np.ndarray) -> Series:
        mask = np.isfinite(arr)
        values = np.where(mask, self.scaler_.transform(arr), 0.0).astype(np.float32)
        return Series(values, mask.astype(np.float32))

    def _prepare(self, X: Any, fitting: bool) -> Series:
        arr = self._as_array(X)
        if fitting:
            self.n_features_in_ = arr.shape[1]
            self.scaler_ = Standardizer().fit(arr)
            self.window_ = self._resolve_window(arr)
            self.stride_ = self._resolve_stride()
        else:
            check_is_fitted(self, "scaler_")
            check_n_features(self.n_features_in_, arr.shape[1], what="channels")
        span = self._span()
        if arr.shape[0] < span:
            raise DataValidationError(
                f"the series has {arr.shape[0]} time steps, fewer than the window ({span} steps, "
                f"window={self.window_}); pass a longer series or a smaller window."
            )
        series = self._standardise(arr)
        if fitting:
            self._reset_stream(series)
        return series

    def _resolve_window(self, arr: np.ndarray) -> int:
        if self.window == "auto":
            return default_window(arr)
        if isinstance(self.window, str):
            raise DataValidationError(f"window must be 'auto' or an int, got {self.window!r}.")
        return check_positive_int(self.window, name="window")

    def _resolve_stride(self) -> int:
        if self.stride == "auto":
            return max(1, self.window_ // 10)
        if isinstance(self.stride, str):
            raise DataValidationError(f"stride must be 'auto' or an int, got {self.stride!r}.")
        return check_positive_int(self.stride, name="stride")

    # ---- windows -------------------------------------------------------------------------------
    def _window_lengths(self) -> tuple[int, ...]:
        """Every window length the detector scores with (a multi-scale detector has several)."""
        return (self.window_,)

    def _span(self) -> int:
        """The longest window: the shortest series that can be scored, the stream's memory."""
        return max(self._window_lengths())

    def _windows(self, series: Series, stride: int) -> tuple[np.ndarray, np.ndarray]:
        return (
            sliding_windows(series.values, self.window_, stride),
            sliding_windows(series.mask, self.window_, stride),
        )

    def _fit(self, series: Series) -> None:
        self._fit_windows(*self._windows(series, self.stride_))

    def _score(self, series: Series) -> np.ndarray:
        T = series.values.shape[0]
        scores = self._score_windows(*self._windows(series, self.stride_))
        return windows_to_points(
            scores, window_starts(T, self.window_, self.stride_), self.window_, T
        )

    def _fit_windows(self, values: np.ndarray, mask: np.ndarray) -> None:
        raise NotImplementedError

    def _score_windows(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One score per window, higher = more anomalous; windows shaped (n, window, D)."""
        raise NotImplementedError

    # ---- streaming -----------------------------------------------------------------------------
    def _reset_stream(self, series: Series) -> None:
        keep = self._span() - 1
        self.stream_values_ = series.values[len(series.values) - keep :].copy()
        self.stream_mask_ = series.mask[len(series.mask) - keep :].copy()

    def score_stream(self, x_new: Any) -> np.ndarray:
        """Score newly arrived points, continuing the fit series (or the previous call).

        Each point gets the score of the window ending at it, computed as soon as it arrives; the
        last ``window - 1`` points are kept between calls (constant memory), so feeding a series
        in chunks gives exactly the scores of feeding it at once.

        Parameters
        ----------
        x_new : array-like of shape (n,) or (n, D)
            The next ``n`` points (NaN allowed).

        Returns
        -------
        ndarray of float64, shape (n,)

        Examples
        --------
        >>> det.score_stream(new_points).shape  # doctest: +SKIP
        (5,)
        """
        check_is_fitted(self, "decision_scores_")
        arr = self._as_array(x_new, name="x_new")
        check_n_features(self.n_features_in_, arr.shape[1], name="x_new", what="channels")
        new = self._standardise(arr)
        series = Series(
            np.concatenate([self.stream_values_, new.values]),
            np.concatenate([self.stream_mask_, new.mask]),
        )
        scores = np.asarray(self._stream_scores(series, len(new.values)), dtype=np.float64)
        if not np.isfinite(scores).all():
            raise DataValidationError(
                f"{type(self).__name__} produced non-finite stream scores; x_new is far outside "
                "the training range."
            )
        self._reset_stream(series)
        return scores

    def _stream_scores(self, series: Series, n_new: int) -> np.ndarray:
        """Scores of the windows ending at each of the last ``n_new`` points of ``series``."""
        tail = slice(len(series.values) - n_new - self.window_ + 1, None)
        return self._score_windows(*self._windows(Series(*(a[tail] for a in series)), 1))

    # ---- persistence ---------------------------------------------------------------------------
    def _input_state(self) -> dict[str, Any]:
        return {
            "scaler": self.scaler_.get_state(),
            "window": self.window_,
            "n_features": self.n_features_in_,
            "stream_values": self.stream_values_,
            "stream_mask": self.stream_mask_,
        }

    def _restore_input(self, state: dict[str, Any]) -> None:
        self.scaler_ = Standardizer().set_state(state["scaler"])
        self.window_ = int(state["window"])
        self.stride_ = self._resolve_stride()
        self.n_features_in_ = int(state["n_features"])
        shape = (self._span() - 1, self.n_features_in_)
        self.stream_values_ = np.asarray(state["stream_values"], np.float32).reshape(shape)
        self.stream_mask_ = np.asarray(state["stream_mask"], np.float32).reshape(shape)
