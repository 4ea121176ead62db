"""Sliding windows over a series and the way back from window scores to per-step scores.

Shared by every window-based time-series detector so that window placement, coverage of the last
step and score averaging are identical across methods (and match the baselines described in
``docs/protocols.md``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from dmad.exceptions import DataValidationError
from dmad.validation import check_positive_int

__all__ = [
    "default_window",
    "dominant_period",
    "sliding_windows",
    "window_starts",
    "windows_to_points",
]


def window_starts(T: int, window: int, stride: int = 1) -> np.ndarray:
    """Start index of every window of length ``window`` over ``T`` steps.

    Starts are ``0, stride, 2*stride, ...``; when the stride does not land on ``T - window``, a
    final window ending exactly at ``T`` is added so that the last step is always covered.

    Examples
    --------
    >>> window_starts(10, 4, stride=3).tolist()
    [0, 3, 6]
    >>> window_starts(11, 4, stride=3).tolist()
    [0, 3, 6, 7]
    """
    T, window = check_positive_int(T, name="T"), check_positive_int(window, name="window")
    stride = check_positive_int(stride, name="stride")
    if window > T:
        raise DataValidationError(
            f"window={window} is longer than the series length {T}; pass a window <= {T}."
        )
    starts = np.arange(0, T - window + 1, stride)
    if starts[-1] != T - window:
        starts = np.append(starts, T - window)
    return starts


def sliding_windows(X: Any, window: int, stride: int = 1) -> np.ndarray:
    """Windows of a series, stacked: (T, D) → (n_windows, window, D); (T,) → (n_windows, window).

    Window ``i`` is ``X[starts[i] : starts[i] + window]`` with ``starts = window_starts(T, window,
    stride)``. The result is a read-only zero-copy view of ``X`` when ``(T - window) % stride ==
    0``; otherwise the extra final window (ending at ``T``) forces a copy.

    Examples
    --------
    >>> w = sliding_windows(np.arange(5.0), 3)
    >>> w.shape, w[-1].tolist()
    ((3, 3), [2.0, 3.0, 4.0])
    """
    X = np.asarray(X)
    if X.ndim not in (1, 2):
        raise DataValidationError(f"X must have shape (T,) or (T, D), got {X.shape}.")
    starts = window_starts(X.shape[0], window, stride)
    view = np.lib.stride_tricks.sliding_window_view(X, window, axis=0)
    if X.ndim == 2:
        view = view.transpose(0, 2, 1)  # sliding_window_view appends the window axis last
    if (X.shape[0] - window) % stride == 0:
        return view[::stride]
    return view[starts]


def windows_to_points(
    window_scores: Any,
    starts: Any,
    window: int,
    T: int,
    reduce: Literal["mean", "max"] = "mean",
) -> np.ndarray:
    """Per-step scores from window scores: each step gets the mean (or max) over its windows.

    Parameters
    ----------
    window_scores : array of shape (n_windows,) or (n_windows, window)
        One score per window, or one score per step of each window.
    starts : array of shape (n_windows,)
        Window start indices, e.g. from :func:`window_starts`.
    window, T : int
        Window length and series length.
    reduce : {"mean", "max"}
        How the scores of the windows covering a step are combined.

    Returns
    -------
    ndarray of float64, shape (T,)

    Examples
    --------
    >>> starts = window_starts(5, 3)
    >>> windows_to_points([1.0, 2.0, 3.0], starts, 3, 5).tolist()
    [1.0, 1.5, 2.0, 2.5, 3.0]
    """
    T, window = check_positive_int(T, name="T"), check_positive_int(window, name="window")
    scores = np.asarray(window_scores, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.intp)
    if starts.ndim != 1 or scores.shape[:1] != starts.shape or scores.ndim > 2:
        raise DataValidationError(
            f"window_scores (shape {scores.shape}) must hold one score or one row per window "
            f"start ({starts.shape[0] if starts.ndim == 1 else starts.shape} starts)."
        )
    if scores.ndim == 2 and scores.shape[1] != window:
        raise DataValidationError(
            f"per-step window_scores must have shape (n_windows, {window}), got {scores.shape}."
        )
    if starts.size and (starts.min() < 0 or starts.max() > T - window):
        raise DataValidationError(
            f"window starts must lie in [0, {T - window}] for window={window} and T={T}."
        )
    if not np.isfinite(scores).all():
        raise DataValidationError("window_scores contains NaN or inf; score every window.")
    if reduce not in ("mean", "max"):
        raise DataValidationError(f"reduce must be 'mean' or 'max', got {reduce!r}.")

    def per_step_sum(values: np.ndarray) -> np.ndarray:
        # Difference array: +value at the start, -value one past the end, then integrate (O(n + T)).
        delta = np.bincount(starts, values, T + 1) - np.bincount(starts + window, values, T + 1)
        return np.cumsum(delta)[:T]

    count = per_step_sum(np.ones(len(starts)))
    if (count == 0).any():
        first = int(np.flatnonzero(count == 0)[0])
        raise DataValidationError(
            f"time step {first} is covered by no window; build starts with window_starts(T, "
            "window, stride) (stride <= window)."
        )
    if reduce == "mean" and scores.ndim == 1:
        return per_step_sum(scores) / count
    steps = (starts[:, None] + np.arange(window)).ravel()
    values = np.broadcast_to(scores.reshape(len(starts), -1), (len(starts), window)).ravel()
    if reduce == "mean":
        return np.bincount(steps, values, T) / count
    out = np.full(T, -np.inf)
    np.maximum.at(out, steps, values)
    return out


def dominant_period(x: Any, min_period: int = 10, max_period: int = 200, default: int = 100) -> int:
    """Window length from the highest autocorrelation peak after lag 0, clipped to the bounds.

    The autocorrelation (biased estimator, via FFT) is searched up to lag ``2 * max_period``; a
    peak is a local maximum with positive correlation. Without one (a trend's monotone decay, a
    constant or a very short series) the ``default`` is returned. NaN counts as the series mean.

    Examples
    --------
    >>> t = np.arange(2000)
    >>> dominant_period(np.sin(2 * np.pi * t / 50))
    50
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataValidationError(
            f"dominant_period needs a univariate series of shape (T,) or (T, 1), got {arr.shape}."
        )
    if not 1 <= min_period <= max_period:
        raise DataValidationError(
            f"need 1 <= min_period <= max_period, got {min_period} and {max_period}."
        )
    finite = np.isfinite(arr)
    if finite.sum() < 3:
        return default
    centred = np.where(finite, arr - arr[finite].mean(), 0.0)
    max_lag = min(len(centred) - 1, 2 * max_period)
    if max_lag < 2 or not centred.any():
        return default
    spectrum = np.fft.rfft(centred, 2 * len(centred))  # zero padding: linear, not circular, ACF
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: max_lag + 1]
    acf /= acf[0]
    inner = acf[1:-1]
    peaks = np.flatnonzero((inner > acf[:-2]) & (inner >= acf[2:])) + 1
    if peaks.size == 0 or acf[peaks].max() <= 0:
        return default
    return int(np.clip(peaks[np.argmax(acf[peaks])], min_period, max_period))


def default_window(X: Any) -> int:
    """Window length of the baselines: dominant period if univariate, 10 if multivariate.

    Never longer than the series.

    Examples
    --------
    >>> default_window(np.zeros((500, 3)))
    10
    """
    arr = np.asarray(X)
    window = dominant_period(arr) if arr.ndim == 1 or arr.shape[1] == 1 else 10
    return min(window, len(arr))
