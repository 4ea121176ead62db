"""Synthetic time-series anomalies with exact per-step labels, univariate and multivariate.

The taxonomy is that of Lai, Zha, Xu, Zhao, Wang, Hu, "Revisiting Time Series Outlier Detection:
Definitions and Benchmarks", NeurIPS 2021 (Datasets and Benchmarks): *point* outliers, global
(far from the whole series) or contextual (far from their neighbourhood), and *pattern* outliers
over a segment: shapelet (a different basic shape), seasonal (a different frequency) and trend
(a drift added to the segment). Amplitude and variance changes, flat lines (a stuck sensor) and
missing data (NaN) are the usual companions in TSAD benchmarks (e.g. TimeEval's GutenTAG), added
so that every failure mode of a detector can be probed with one call.

Each anomaly covers ``length`` steps (1 for the point kinds) on the chosen ``channels``; the
segments of one call are placed in disjoint slots unless ``positions`` are given. Departures from
Lai et al., all deliberate: real series are modified in place of generating them from a formula;
the shapelet replacement is a square wave with the segment's mean and standard deviation;
the seasonal change resamples the series itself ``strength`` times faster, starting at the
segment, rather than changing the frequency of a synthetic sine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dmad.exceptions import DataValidationError
from dmad.generation._common import Injection, check_kind, rng_from
from dmad.validation import check_array, check_positive_int

__all__ = ["MIXED_KINDS", "SERIES_KINDS", "inject_mixed_series", "inject_series"]

#: Anomaly kinds of :func:`inject_series`.
SERIES_KINDS = (
    "point",
    "contextual",
    "shapelet",
    "seasonal",
    "trend",
    "amplitude",
    "variance",
    "flatline",
    "missing",
)
#: Kinds of ``kind="mixed"``: every kind but "missing", which probes NaN handling, not detection.
MIXED_KINDS = tuple(kind for kind in SERIES_KINDS if kind != "missing")
_POINT_KINDS = ("point", "contextual")
#: Default ``strength`` of each kind: standard deviations for point/contextual/trend/variance,
#: a factor for amplitude (deviation from the segment mean) and seasonal (speed-up).
DEFAULT_STRENGTH = {
    "point": 4.0,
    "contextual": 3.0,
    "shapelet": 1.0,
    "seasonal": 2.0,
    "trend": 3.0,
    "amplitude": 3.0,
    "variance": 1.0,
    "flatline": 1.0,
    "missing": 1.0,
}


#: Channel indices (or start positions) as a sequence or an integer array.
Indices = Sequence[int] | np.ndarray


def _starts(
    T: int, n: int, length: int, positions: Indices | None, rng: np.random.Generator
) -> np.ndarray:
    if positions is not None:
        starts = np.asarray(positions, dtype=np.int64).reshape(-1)
        if starts.size != n or np.any(starts < 0) or np.any(starts + length > T):
            raise DataValidationError(
                f"positions must hold n_anomalies={n} start indices in 0..{T - length} "
                f"(series length {T}, anomaly length {length}), got {list(starts)}."
            )
        return starts
    slot = T // n
    if slot < length:
        raise DataValidationError(
            f"{n} anomalies of length {length} do not fit in a series of length {T}; "
            "lower n_anomalies or length."
        )
    # One anomaly per slot: random positions that never overlap.
    return np.arange(n) * slot + rng.integers(0, slot - length + 1, size=n)


def _gather_linear(x: np.ndarray, pos: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """Linear interpolation of columns ``channels`` of ``x`` (T, D) at fractional ``pos`` (n, L)."""
    pos = np.clip(pos, 0, len(x) - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), len(x) - 2)
    w = (pos - lo)[..., None]
    return x[lo][..., channels] * (1 - w) + x[lo + 1][..., channels] * w


def _anomalous_values(
    kind: str,
    x: np.ndarray,
    idx: np.ndarray,
    channels: np.ndarray,
    strength: float,
    context: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """New values (n, L, c) for the steps ``idx`` (n, L) and ``channels`` of the series ``x``."""
    seg = x[idx][..., channels]
    n, length, c = seg.shape
    sigma = np.nanstd(x[:, channels], axis=0)
    sigma = np.where(sigma > 0, sigma, 1.0)
    sign = rng.choice([-1.0, 1.0], size=(n, 1, c))
    if kind == "point":
        return np.nanmean(x[:, channels], axis=0) + sign * strength * sigma
    if kind == "contextual":
        around = np.clip(idx[:, :1] + np.arange(-context, context + 1), 0, len(x) - 1)
        window = x[around][..., channels]
        local_std = np.nanstd(window, axis=1, keepdims=True)
        local_std = np.where(local_std > 0, local_std, sigma)
        return np.nanmean(window, axis=1, keepdims=True) + sign * strength * local_std
    seg_mean = np.nanmean(seg, axis=1, keepdims=True)
    if kind == "shapelet":
        cycles = rng.uniform(1.0, 3.0, size=(n, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
        wave = np.sign(
            np.sin(2 * np.pi * cycles * np.arange(length)[None, :, None] / length + phase)
        )
        seg_std = np.nanstd(seg, axis=1, keepdims=True)
        return seg_mean + strength * np.where(seg_std > 0, seg_std, sigma) * wave
    if kind == "seasonal":
        # Sample the series ``strength`` times faster from the segment start (mid-step offsets
        # keep even the first step from landing on its own original value).
        pos = idx[:, :1] + strength * (np.arange(length) + 0.5) - 0.5
        return _gather_linear(x, pos.astype(np.float64), channels)
    if kind == "trend":
        ramp = (np.arange(1, length + 1) / length)[None, :, None]
        return seg + sign * strength * sigma * ramp
    if kind == "amplitude":
        return seg_mean + strength * (seg - seg_mean)
    if kind == "variance":
        return seg + strength * sigma * rng.standard_normal(seg.shape)
    if kind == "flatline":
        # Stuck at the last value before the segment (its mean when it starts the series).
        before = x[np.maximum(idx[:, :1] - 1, 0)][..., channels]
        return np.broadcast_to(np.where(idx[:, :1, None] > 0, before, seg_mean), seg.shape)
    return np.full(seg.shape, np.nan)  # "missing"


def inject_series(
    X: Any,
    kind: str = "point",
    *,
    n_anomalies: int = 1,
    length: int | None = None,
    positions: Indices | None = None,
    channels: Indices | str | None = None,
    strength: float | None = None,
    context: int = 20,
    random_state: int | np.random.Generator | None = None,
) -> Injection:
    """Inject ``n_anomalies`` anomalies of ``kind`` into a series; return it with exact labels.

    Parameters
    ----------
    X : array-like of shape (T,) or (T, D)
        The series (normal data); NaN entries are allowed and ignored by the statistics.
    kind : str
        One of :data:`SERIES_KINDS`: "point", "contextual" (one step each), "shapelet",
        "seasonal", "trend", "amplitude", "variance", "flatline", "missing" (segments); or
        "mixed": the :data:`MIXED_KINDS` in turn, in random order (:func:`inject_mixed_series`).
    n_anomalies : int
        Number of anomalies.
    length : int, optional
        Steps per segment anomaly (default ``min(50, T // (4 n_anomalies))``, at least 2);
        must be 1 or None for the point kinds.
    positions : sequence or array of int, optional
        Start index of each anomaly; random non-overlapping positions by default.
    channels : sequence or array of int, "random" or None
        Channels to modify: these, all (None; the default, except for "mixed"), or "random":
        each anomaly on its own random 1 to max(1, n // 5) of the n channels that vary (the
        default of "mixed": real multivariate anomalies touch a few channels, not all).
    strength : float, optional
        Size of the change; defaults per kind in :data:`DEFAULT_STRENGTH` (in channel standard
        deviations for point/contextual/trend/variance; a factor for amplitude and seasonal; the
        square-wave amplitude in segment standard deviations for shapelet).
    context : int
        Half-width of the neighbourhood of a contextual anomaly.
    random_state : int, numpy Generator or None
        Seed.

    Returns
    -------
    Injection
        ``data`` shaped like ``X`` (float64), ``labels`` (T,) int8 (1 = a modified step on any
        channel), ``mask`` shaped like ``X`` (True = modified entry).

    Examples
    --------
    >>> x = np.sin(np.arange(500) / 10)
    >>> out = inject_series(x, "trend", n_anomalies=2, length=30, random_state=0)
    >>> out.data.shape, int(out.labels.sum())
    ((500,), 60)
    """
    arr = check_array(X, name="X", ndim=(1, 2), allow_nan=True, min_samples=2, dtype=np.float64)
    x = arr[:, None] if arr.ndim == 1 else arr
    T, D = x.shape
    check_kind(kind, (*SERIES_KINDS, "mixed"), "series anomaly")
    n = check_positive_int(n_anomalies, name="n_anomalies")
    rng = rng_from(random_state)
    if kind == "mixed":
        if positions is not None or strength is not None:
            raise DataValidationError("kind='mixed' places and sizes its anomalies itself.")
        kinds = rng.permutation(np.resize(MIXED_KINDS, n)).tolist()
        out = inject_mixed_series(
            x,
            kinds,
            length=length,
            channels="random" if channels is None else channels,
            context=context,
            random_state=rng,
        )
        return _as_input_shape(out, arr.ndim)
    if isinstance(channels, str):
        if channels != "random":
            raise DataValidationError(
                f"channels must be indices, None or 'random', got {channels!r}."
            )
        return _random_channels(x, arr.ndim, kind, n, length, positions, strength, context, rng)
    context = check_positive_int(context, name="context")
    if kind in _POINT_KINDS:
        if length not in (None, 1):
            raise DataValidationError(f"kind={kind!r} is a point anomaly; length must be 1.")
        length = 1
    elif length is None:
        length = _default_length(T, n)
    length = check_positive_int(length, name="length")
    chans = np.arange(D) if channels is None else np.unique(np.asarray(channels, dtype=np.int64))
    if chans.size == 0 or chans.min() < 0 or chans.max() >= D:
        raise DataValidationError(f"channels must be indices in 0..{D - 1}, got {channels!r}.")
    strength = DEFAULT_STRENGTH[kind] if strength is None else float(strength)
    if kind == "seasonal" and strength == 1.0:
        raise DataValidationError("kind='seasonal' needs strength != 1 (the speed-up factor).")
    idx = _starts(T, n, length, positions, rng)[:, None] + np.arange(length)
    values = _anomalous_values(kind, x, idx, chans, strength, context, rng)
    out = x.copy()
    out[idx[..., None], chans] = values
    mask = np.zeros((T, D), dtype=bool)
    mask[idx[..., None], chans] = True
    return _as_input_shape(Injection(out, _step_labels(mask), mask), arr.ndim)


def _step_labels(mask: np.ndarray) -> np.ndarray:
    """(T,) int8 labels of a (T,) or (T, D) entry mask: 1 where any channel was modified."""
    return np.asarray(mask if mask.ndim == 1 else mask.any(axis=1), dtype=np.int8)


def _default_length(n_steps: int, n_anomalies: int) -> int:
    """Segment length when none is given: a quarter of each anomaly's share, 2 to 50 steps."""
    return max(2, min(50, n_steps // (4 * n_anomalies)))


def _as_input_shape(injection: Injection, ndim: int) -> Injection:
    """A (T, 1) injection back to (T,) for a univariate input."""
    if ndim == 2:
        return injection
    return Injection(injection.data[:, 0], injection.labels, injection.mask[:, 0])


def _random_channels(
    x: np.ndarray,
    ndim: int,
    kind: str,
    n: int,
    length: int | None,
    positions: Indices | None,
    strength: float | None,
    context: int,
    rng: np.random.Generator,
) -> Injection:
    """``channels="random"``: the anomalies one at a time, each on its own varying channels."""
    if kind in _POINT_KINDS:
        span = 1
    else:
        length = span = _default_length(len(x), n) if length is None else length
    starts = _starts(len(x), n, span, positions, rng)
    varying = np.flatnonzero(np.nanstd(x, axis=0) > 0)
    pool = varying if varying.size else np.arange(x.shape[1])
    data, mask = x, np.zeros(x.shape, dtype=bool)
    for start in starts:
        chosen = rng.choice(pool, size=rng.integers(1, max(1, pool.size // 5) + 1), replace=False)
        out = inject_series(
            data,
            kind,
            length=length,
            positions=[start],
            channels=chosen,
            strength=strength,
            context=context,
            random_state=rng,
        )
        data, mask = out.data, mask | out.mask
    return _as_input_shape(Injection(data, _step_labels(mask), mask), ndim)


def inject_mixed_series(
    X: Any,
    kinds: Sequence[str] = MIXED_KINDS,
    *,
    slot: int | None = None,
    length: int | None = None,
    channels: Indices | str | None = "random",
    context: int = 20,
    random_state: int | np.random.Generator | None = None,
) -> Injection:
    """One anomaly of each of ``kinds`` (repeats allowed), in turn, one per ``slot`` steps.

    The series analogue of the tabular "mixed" kind, for judging a detector on many kinds at
    once (:func:`dmad.generation.loop.estimate_auroc`). Each anomaly starts in the middle half of
    its slot, so neighbours stay at least half a slot apart: a window detector smears an anomaly
    over a window on each side, so give a slot several windows. Segments take a quarter of the
    slot by default: long enough to span windows, as labelled real events do (tens to hundreds
    of steps in SMD/SMAP/MSL); an eighth of the slot, capped at 50 steps, made the generated
    AUROC rank detectors no better than chance (``benchmarks/generation.py``, BENCHMARKS.md).

    Parameters
    ----------
    X : array-like of shape (T,) or (T, D)
        The series (normal data).
    kinds : sequence of str
        :data:`SERIES_KINDS` entries, one anomaly each, placed in this order.
    slot : int, optional
        Steps per anomaly (default ``T // len(kinds)``).
    length : int, optional
        Steps per segment anomaly (default ``slot // 4``, at least 2); point kinds take 1.
    channels, context, random_state
        As in :func:`inject_series`; ``channels`` is "random" by default.

    Returns
    -------
    Injection

    Examples
    --------
    >>> x = np.sin(np.arange(800) / 10)
    >>> out = inject_mixed_series(x, ["trend", "point", "flatline", "shapelet"], random_state=0)
    >>> int(out.labels.sum())
    151
    """
    arr = check_array(X, name="X", ndim=(1, 2), allow_nan=True, min_samples=2, dtype=np.float64)
    kinds = list(kinds)
    if not kinds:
        raise DataValidationError("kinds must name at least one anomaly kind.")
    for kind in kinds:
        check_kind(kind, SERIES_KINDS, "series anomaly")
    slot = len(arr) // len(kinds) if slot is None else check_positive_int(slot, name="slot")
    length = max(2, slot // 4) if length is None else check_positive_int(length, name="length")
    if slot * len(kinds) > len(arr) or slot < length:
        raise DataValidationError(
            f"{len(kinds)} slots of {slot} steps with segments of {length} steps do not fit in a "
            f"series of {len(arr)} steps; lower the count, slot or length."
        )
    rng = rng_from(random_state)
    offsets = (slot - length) // 4 + rng.integers(0, (slot - length) // 2 + 1, size=len(kinds))
    starts = np.arange(len(kinds)) * slot + offsets
    data, mask = arr, np.zeros(arr.shape, dtype=bool)
    for kind in dict.fromkeys(kinds):
        at = starts[np.asarray(kinds) == kind]
        out = inject_series(
            data,
            kind,
            n_anomalies=len(at),
            length=None if kind in _POINT_KINDS else length,
            positions=at,
            channels=channels,
            context=context,
            random_state=rng,
        )
        data, mask = out.data, mask | out.mask
    return Injection(data, _step_labels(mask), mask)
