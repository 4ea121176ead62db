"""Thresholds for anomaly scores of any detector: contamination quantile, POT / SPOT, best F1.

Every function takes scores where higher = more anomalous and returns a threshold ``z`` to be used
as ``detector.predict(X, threshold=z)`` (anomaly where ``score > z``).

- :func:`quantile_threshold`: the (1 - contamination) quantile (what ``fit`` sets as
  ``threshold_``).
- :func:`pot_threshold` and :class:`SPOT`: peaks over threshold. Siffer, Fouque, Termier & Largouet,
  "Anomaly Detection in Streams with Extreme Value Theory", KDD 2017, as used by OmniAnomaly (Su et
  al., KDD 2019). Excesses of the scores over a high initial threshold ``t`` follow a generalized
  Pareto distribution (Pickands-Balkema-de Haan); its shape and scale are fitted by maximum
  likelihood with Grimshaw's reduction to one equation in ``x = shape / scale``, and the threshold
  exceeded with probability ``q`` is ``t + scale / shape * ((q n / N_t) ** -shape - 1)``.
- :func:`best_f1_threshold`: the threshold maximising F1 on labelled validation scores.

The same rules as objects, for a detector's ``contamination`` parameter (``fit`` then sets
``threshold_`` with them): :class:`Quantile`, :class:`POT`, :class:`BestF1` and :class:`Fixed`.

Departure from Siffer et al.: the roots of Grimshaw's equation are bracketed on a dense log-spaced
grid and refined with Brent's method (instead of L-BFGS-B from a few starting points), which
finds every sign change the grid resolves; the exponential case (shape 0) is always a candidate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import brentq

from dmad.exceptions import DataValidationError
from dmad.metrics import best_f1
from dmad.validation import check_array, check_fraction

__all__ = [
    "POT",
    "BestF1",
    "Fixed",
    "GPDFit",
    "Quantile",
    "SPOT",
    "THRESHOLDS",
    "Threshold",
    "best_f1_threshold",
    "fit_gpd",
    "pot_threshold",
    "quantile_threshold",
    "threshold_rule",
]

_GRID = 200  # grid points per search interval of Grimshaw's equation


def _scores(scores: Any, name: str = "scores") -> np.ndarray:
    return check_array(scores, name=name, ndim=1, dtype=np.float64)


def quantile_threshold(scores: Any, contamination: float = 0.1) -> float:
    """The (1 - contamination) quantile of ``scores``.

    Examples
    --------
    >>> quantile_threshold(np.arange(101.0), 0.1)
    90.0
    """
    check_fraction(contamination, name="contamination")
    return float(np.quantile(_scores(scores), 1 - contamination))


@dataclass(frozen=True)
class GPDFit:
    """Generalized Pareto fit of excesses: ``shape`` (xi, gamma), ``scale`` (sigma), log-lik."""

    shape: float
    scale: float
    loglik: float


def _gpd_loglik(excess: np.ndarray, shape: float, scale: float) -> float:
    if scale <= 0:
        return -np.inf
    if abs(shape) < 1e-12:
        return float(-len(excess) * np.log(scale) - excess.sum() / scale)
    z = 1 + shape * excess / scale
    if np.any(z <= 0):
        return -np.inf
    return float(-len(excess) * np.log(scale) - (1 + 1 / shape) * np.log(z).sum())


def fit_gpd(excess: Any) -> GPDFit:
    """Maximum-likelihood generalized Pareto fit of positive excesses (Grimshaw's trick).

    With ``x = shape / scale`` the likelihood equations reduce to ``u(x) v(x) = 1`` where
    ``u(x) = mean(1 / (1 + x y))`` and ``v(x) = 1 + mean(log(1 + x y))``; each root gives
    ``shape = v(x) - 1`` and ``scale = shape / x``. The candidate (roots and the exponential
    case) with the highest likelihood wins.

    Examples
    --------
    >>> y = np.random.default_rng(0).exponential(2.0, size=5000)
    >>> fit = fit_gpd(y)
    >>> round(fit.scale, 1), abs(fit.shape) < 0.05
    (2.0, True)
    """
    y = _scores(excess, "excess")
    if np.any(y < 0):
        raise DataValidationError("excess must be >= 0 (scores minus the initial threshold).")
    if len(y) < 3 or y.max() <= 0:
        raise DataValidationError(
            f"need at least 3 positive excesses to fit a generalized Pareto tail, got {len(y)}; "
            "lower the initial level or pass more scores."
        )
    y_max, y_mean, y_min = y.max(), y.mean(), max(y[y > 0].min(), 1e-12 * y.max())

    def w(x: np.ndarray | float) -> np.ndarray:
        xy = np.multiply.outer(np.atleast_1d(x), y)
        return (1 / (1 + xy)).mean(axis=-1) * (1 + np.log1p(xy).mean(axis=-1)) - 1

    # Siffer et al.'s bounds: x in (-1/y_max, 0) and (0, 2 (mean - min) / min^2]
    eps = 1e-8 / y_max
    left = -1 / y_max + eps
    right = max(2 * (y_mean - y_min) / y_min**2, 10 * eps)
    grids = [
        -np.geomspace(-left, eps, _GRID),
        np.geomspace(eps, right, _GRID),
    ]
    candidates = [(0.0, y_mean)]
    for grid in grids:
        values = w(grid)
        for i in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0):
            x = brentq(lambda v: float(w(v)[0]), grid[i], grid[i + 1])
            shape = float(np.log1p(x * y).mean())
            candidates.append((shape, shape / x))
    fits = [GPDFit(s, sc, _gpd_loglik(y, s, sc)) for s, sc in candidates]
    return max(fits, key=lambda f: f.loglik)


def _tail_quantile(t: float, fit: GPDFit, q: float, n: int, n_peaks: int) -> float:
    ratio = q * n / n_peaks
    if abs(fit.shape) < 1e-12:
        return float(t - fit.scale * np.log(ratio))
    return float(t + fit.scale / fit.shape * (ratio ** (-fit.shape) - 1))


def pot_threshold(scores: Any, q: float = 1e-3, level: float = 0.98) -> float:
    """Peaks-over-threshold: the score exceeded with probability ``q`` under a GPD tail.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Calibration scores (e.g. ``detector.decision_scores_``).
    q : float
        Target exceedance probability (risk), e.g. 1e-3; smaller = higher threshold.
    level : float
        Quantile of ``scores`` used as the initial threshold ``t`` (0.98 as in OmniAnomaly).

    Returns
    -------
    float

    Examples
    --------
    >>> s = np.random.default_rng(0).exponential(1.0, size=100_000)
    >>> bool(abs(pot_threshold(s, q=1e-3) - np.log(1e3)) < 0.2)  # exact tail quantile: log(1e3)
    True
    """
    s = _scores(scores)
    if not 0 < q < 1 or not 0 < level < 1:
        raise DataValidationError(f"q and level must lie in (0, 1), got q={q}, level={level}.")
    t = float(np.quantile(s, level))
    peaks = s[s > t] - t
    fit = fit_gpd(peaks)
    return _tail_quantile(t, fit, q, len(s), len(peaks))


class SPOT:
    """Streaming POT (Siffer et al., KDD 2017): a threshold that adapts as scores arrive.

    ``fit`` calibrates on initial scores; ``update`` then flags every new score above the current
    threshold as an alarm (not added to the tail) and refits the tail whenever a new score falls
    between the initial threshold and the current one.

    Parameters
    ----------
    q : float
        Target exceedance probability.
    level : float
        Quantile of the calibration scores used as the initial threshold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> spot = SPOT(q=1e-3).fit(rng.exponential(size=5000))
    >>> alarms, thresholds = spot.update(np.r_[rng.exponential(size=100), 50.0])
    >>> bool(alarms[-1]), thresholds.shape
    (True, (101,))
    """

    def __init__(self, q: float = 1e-3, level: float = 0.98) -> None:
        self.q = q
        self.level = level

    def fit(self, scores: Any) -> SPOT:
        """Calibrate the initial threshold and the tail on ``scores``."""
        s = _scores(scores)
        self.threshold_ = pot_threshold(s, self.q, self.level)
        self.init_threshold_ = float(np.quantile(s, self.level))
        self.peaks_ = list(s[s > self.init_threshold_] - self.init_threshold_)
        self.n_ = len(s)
        return self

    def update(self, scores: Any) -> tuple[np.ndarray, np.ndarray]:
        """Process new scores in order; returns (alarms 0/1, threshold in force at each score)."""
        s = _scores(scores)
        alarms = np.zeros(len(s), np.int64)
        thresholds = np.empty(len(s))
        for i, value in enumerate(s):
            thresholds[i] = self.threshold_
            if value > self.threshold_:
                alarms[i] = 1
                continue
            self.n_ += 1
            if value > self.init_threshold_:
                self.peaks_.append(value - self.init_threshold_)
                fit = fit_gpd(self.peaks_)
                self.threshold_ = _tail_quantile(
                    self.init_threshold_, fit, self.q, self.n_, len(self.peaks_)
                )
        return alarms, thresholds


def best_f1_threshold(y_val: Any, scores_val: Any) -> float:
    """The threshold with the best F1 on labelled validation scores, for ``score > threshold``.

    Examples
    --------
    >>> z = best_f1_threshold([0, 0, 1, 1], [0.1, 0.3, 0.8, 0.9])
    >>> 0.3 <= z < 0.8
    True
    """
    best = best_f1(y_val, scores_val)["threshold"]  # best_f1 predicts score >= threshold
    return float(np.nextafter(best, -np.inf))


class Threshold(ABC):
    """A rule that turns a fitted detector's training scores into its ``threshold_``.

    Pass one as ``contamination=`` to any detector. Rules compare equal when their settings do,
    and describe themselves by :meth:`get_config` (saved with the model).
    """

    kind: ClassVar[str] = ""

    @abstractmethod
    def compute(self, detector: Any, train_scores: np.ndarray) -> float:
        """The threshold for ``detector`` (fitted) given its training scores."""

    @abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The rule's settings (arrays allowed); ``THRESHOLDS[kind](**config)`` rebuilds it."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        mine, theirs = self.get_config(), other.get_config()
        return mine.keys() == theirs.keys() and all(
            np.array_equal(np.asarray(mine[k]), np.asarray(theirs[k])) for k in mine
        )

    def __hash__(self) -> int:
        return hash(self.kind)

    def __repr__(self) -> str:
        items = ", ".join(
            f"{k}={v!r}" for k, v in self.get_config().items() if not isinstance(v, np.ndarray)
        )
        return f"{type(self).__name__}({items})"


class Quantile(Threshold):
    """The (1 - contamination) quantile of the training scores (what a float means).

    Examples
    --------
    >>> Quantile(0.1).compute(None, np.arange(101.0))
    90.0
    """

    kind = "quantile"

    def __init__(self, contamination: float = 0.1) -> None:
        self.contamination = check_fraction(contamination, name="contamination")

    def compute(self, detector: Any, train_scores: np.ndarray) -> float:
        return quantile_threshold(train_scores, self.contamination)

    def get_config(self) -> dict[str, Any]:
        return {"contamination": self.contamination}


class POT(Threshold):
    """Peaks over threshold on the training scores (:func:`pot_threshold`).

    Examples
    --------
    >>> s = np.random.default_rng(0).exponential(size=50_000)
    >>> bool(abs(POT(q=1e-3).compute(None, s) - np.log(1e3)) < 0.3)
    True
    """

    kind = "pot"

    def __init__(self, q: float = 1e-3, level: float = 0.98) -> None:
        self.q, self.level = float(q), float(level)

    def compute(self, detector: Any, train_scores: np.ndarray) -> float:
        return pot_threshold(train_scores, self.q, self.level)

    def get_config(self) -> dict[str, Any]:
        return {"q": self.q, "level": self.level}


class BestF1(Threshold):
    """The best-F1 threshold on labelled validation data, scored by the fitted detector.

    Examples
    --------
    >>> import dmad
    >>> rule = BestF1(X_val, y_val)  # doctest: +SKIP
    >>> dmad.create("dte_np", contamination=rule).fit(X_train).threshold_  # doctest: +SKIP
    """

    kind = "best_f1"

    def __init__(self, X_val: Any, y_val: Any) -> None:
        self.X_val = np.asarray(X_val)
        self.y_val = np.asarray(y_val)
        labels = np.unique(self.y_val)  # shapes are checked against the scores in compute
        if not set(labels.tolist()) <= {0, 1} or len(labels) < 2:
            raise DataValidationError(
                "BestF1 needs validation labels y_val with both classes (0 = normal, 1 = anomaly)."
            )

    def compute(self, detector: Any, train_scores: np.ndarray) -> float:
        scores = np.asarray(detector.decision_function(self.X_val), dtype=np.float64)
        if scores.shape != self.y_val.shape:
            raise DataValidationError(
                f"BestF1: the detector gives {scores.shape} scores for X_val but y_val has shape "
                f"{self.y_val.shape}; pass one label per score."
            )
        return best_f1_threshold(self.y_val, scores)

    def get_config(self) -> dict[str, Any]:
        return {"X_val": self.X_val, "y_val": self.y_val}


class Fixed(Threshold):
    """A fixed threshold value.

    Examples
    --------
    >>> Fixed(2.5).compute(None, np.zeros(3))
    2.5
    """

    kind = "fixed"

    def __init__(self, value: float) -> None:
        if not np.isfinite(value):
            raise DataValidationError(f"Fixed threshold must be finite, got {value!r}.")
        self.value = float(value)

    def compute(self, detector: Any, train_scores: np.ndarray) -> float:
        return self.value

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


#: every rule by its ``kind`` (how saved models name them)
THRESHOLDS: dict[str, type[Threshold]] = {cls.kind: cls for cls in (Quantile, POT, BestF1, Fixed)}


def threshold_rule(contamination: Any) -> Threshold:
    """The rule a ``contamination`` parameter stands for: a float in (0, 0.5] or a rule object.

    Examples
    --------
    >>> threshold_rule(0.05)
    Quantile(contamination=0.05)
    """
    if isinstance(contamination, Threshold):
        return contamination
    if isinstance(contamination, (bool, str)) or not isinstance(
        contamination, (int, float, np.floating)
    ):
        raise DataValidationError(
            f"contamination must be a number in (0, 0.5] or a rule from dmad.thresholds "
            f"(Quantile, POT, BestF1, Fixed), got {contamination!r}."
        )
    return Quantile(float(contamination))
