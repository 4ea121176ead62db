"""Windowing as one meta-detector: any vector detector becomes a time-series detector.

After PyOD's ``TimeSeriesOD`` wrapper (and the sub-sequence detectors of TSB-AD, Paparrizos et al.,
VLDB 2022): the series is standardised per channel with the fit series' statistics, cut into
sliding windows, each window flattened into a row (window × D values), and the vector detector
fits the (subsampled) fit windows and scores any windows; window scores go back to time steps by
averaging over the windows covering each step, and streaming scores each arriving point by the
window that ends at it (:mod:`dmad.detectors.timeseries.base`).

Several window lengths (``scales``): the "auto" window is a guess (the autocorrelation's dominant
period), and the right length depends on the anomaly — a spike stands out in a short window, a
distorted cycle only in one that spans it. One clone of the detector is fitted per length
``round(scale * window)``; each length's window scores are calibrated against their fit-data
values (``calibration``, :class:`dmad.ops.Calibrator`; "log_ratio" makes the combination a
geometric mean of "how many times the typical fit window") and the per-step scores are averaged
over lengths.

The exclusion zone: a detector that memorises its fit rows (a nearest-neighbour density such as
``dte_np``) would find every fit window's trivial matches — the overlapping windows next to it —
when the fit series itself is scored (``decision_scores_``, hence ``threshold_``). With
``exclusion_zone=True`` those pairs are left out (the exclusion zone of matrix-profile discord
search); the zone shrinks only if the series is too short to leave enough windows outside it.

Presets are registered subclasses that fix the vector detector and these settings:
``dte_windows`` and the window baselines (``window_knn``, ``window_iforest``, ``window_pca``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import clone

from dmad.data.windows import sliding_windows, window_starts, windows_to_points
from dmad.detectors.base import BaseDetector
from dmad.detectors.timeseries.base import Series, TimeSeriesDetector
from dmad.exceptions import DataValidationError
from dmad.ops import CALIBRATIONS, Calibrator, subsample

__all__ = ["AUTO_SCALES", "Windowed"]

#: window multiples of ``scales="auto"``: univariate (around the period), multivariate (events in
#: telemetry last tens to hundreds of steps, so the 10-step window is also taken 2, 3 and 5 times)
AUTO_SCALES = {"univariate": (0.5, 1.0, 2.0, 3.0), "multivariate": (1.0, 2.0, 3.0, 5.0)}


class Windowed(TimeSeriesDetector, name="windowed"):
    """A vector detector on sliding windows of a series, at one or several window lengths.

    Parameters
    ----------
    detector : detector
        An unfitted tabular (vector) dmad detector, e.g. ``dmad.create("dte_np")``; a clone is
        fitted per window length.
    window : int or "auto"
        Base window length ("auto": dominant period if univariate, 10 if multivariate).
    stride : int or "auto"
        Step between windows (fit and score; "auto": window // 10, at least 1).
    scales : tuple of float or "auto"
        Window lengths as multiples of ``window`` (each at least 2 steps). "auto": (0.5, 1, 2, 3)
        for a univariate series, (1, 2, 3, 5) for a multivariate one.
    max_fit_samples : int or None
        Fit windows randomly subsampled to at most this many (per length).
    exclusion_zone : bool
        Leave overlapping windows out of each fit window's neighbours when scoring the fit series
        (needs a detector with ``score_excluding``, such as ``dte_np``).
    calibration : str or None
        How each length's window scores are put on one scale before averaging (see
        :data:`dmad.ops.CALIBRATIONS`); None keeps the raw scores (one length only).
    contamination : float or threshold rule
        Fraction of the fit series assumed anomalous; sets ``threshold_``.
    random_state : int or None
        Seed of the fit-window subsample and of the detector's clones.
    device : str
        Unused (the vector detector has its own); kept for a uniform API.
    verbose : bool or None
        Unused; kept for a uniform API.

    Examples
    --------
    >>> import dmad
    >>> x = np.sin(np.arange(600) / 4.0)
    >>> det = Windowed(dmad.create("dte_np", device="cpu"), window=25).fit(x)
    >>> det.decision_function(x).shape
    (600,)
    """

    family: ClassVar[str] = "meta (sliding windows)"
    composite: ClassVar[bool] = True
    # what a preset does not take as a parameter: one window length, raw scores, no zone
    scales: tuple[float, ...] | str = (1.0,)
    exclusion_zone: bool = False
    calibration: str | None = None
    #: nested detectors in the tagged form of saved configs (the test suite builds them); the
    #: exclusion zone, without which dte_np's fit scores match overlapping windows and
    #: threshold_ flags nearly every new step
    test_params: ClassVar[dict[str, Any]] = {
        "detector": {"__detector__": "dte_np", "params": {"device": "cpu"}},
        "exclusion_zone": True,
    }

    def __init__(
        self,
        detector: Any = None,
        window: int | str = "auto",
        stride: int | str = 1,
        scales: tuple[float, ...] | str = (1.0,),
        max_fit_samples: int | None = None,
        exclusion_zone: bool = False,
        calibration: str | None = None,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.detector = detector
        self.window = window
        self.stride = stride
        self.scales = scales
        self.max_fit_samples = max_fit_samples
        self.exclusion_zone = exclusion_zone
        self.calibration = calibration
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ---- what presets fix -----------------------------------------------------------------------
    def _vector_detector(self) -> BaseDetector:
        """The unfitted vector detector every window length clones."""
        if not isinstance(self.detector, BaseDetector) or self.detector.modality != "tabular":
            raise DataValidationError(
                f"detector must be an unfitted tabular dmad detector (e.g. dmad.create('dte_np')),"
                f" got {self.detector!r}."
            )
        return self.detector

    def _window_lengths(self) -> tuple[int, ...]:
        scales = self.scales
        if scales == "auto":
            scales = AUTO_SCALES["univariate" if self.n_features_in_ == 1 else "multivariate"]
        elif isinstance(scales, str) or not len(scales) or min(scales) <= 0:
            raise DataValidationError(
                f"scales must be 'auto' or a non-empty sequence of positive numbers, got "
                f"{self.scales!r}."
            )
        return tuple(sorted({max(2, round(float(s) * self.window_)) for s in scales}))

    def _check_settings(self) -> None:
        if self.calibration is not None and self.calibration not in CALIBRATIONS:
            raise DataValidationError(
                f"calibration must be None or one of {CALIBRATIONS}, got {self.calibration!r}."
            )
        if self.calibration is None and len(self._window_lengths()) > 1:
            raise DataValidationError(
                "several window lengths need a calibration to be averaged; pass "
                "calibration='log_ratio' (positive scores) or 'zscore'."
            )

    # ---- fitting and scoring --------------------------------------------------------------------
    def _clone(self) -> BaseDetector:
        template = self._vector_detector()
        fresh = clone(template)
        if "random_state" in fresh.get_params():
            fresh.set_params(random_state=self.seed_)
        return fresh

    def _fit(self, series: Series) -> None:
        self._check_settings()
        if self.exclusion_zone and not hasattr(self._vector_detector(), "score_excluding"):
            raise DataValidationError(
                f"exclusion_zone=True needs a detector that memorises its fit rows and can "
                f"leave pairs out (e.g. dte_np); {self._vector_detector().registry_name} cannot."
            )
        self.detectors_: list[BaseDetector] = []
        self.calibrators_: list[Calibrator | None] = []
        for length in self._window_lengths():
            windows = sliding_windows(series.values, length, self.stride_)
            kept = subsample(len(windows), self.max_fit_samples, self.seed_)
            detector = self._clone().fit(windows[kept].reshape(len(kept), -1))
            self.detectors_.append(detector)
            self.calibrators_.append(
                None
                if self.calibration is None
                else Calibrator(self.calibration).fit(detector.decision_scores_)
            )

    def _window_scores(
        self, index: int, windows: np.ndarray, zone: tuple[Any, ...] | None = None
    ) -> np.ndarray:
        detector, calibrator = self.detectors_[index], self.calibrators_[index]
        flat = windows.reshape(len(windows), -1)
        scores = (
            detector.decision_function(flat)
            if zone is None
            else detector.score_excluding(flat, zone)
        )
        return scores if calibrator is None else calibrator.transform(scores)

    def _per_step(self, series: Series, leave_out_overlaps: bool) -> np.ndarray:
        """Per step: the mean over window lengths of the scores of the covering windows."""
        T = len(series.values)
        total = np.zeros(T)
        for i, length in enumerate(self._window_lengths()):
            windows = sliding_windows(series.values, length, self.stride_)
            starts = window_starts(T, length, self.stride_)
            zone = None
            if leave_out_overlaps:
                bank = starts[subsample(len(windows), self.max_fit_samples, self.seed_)]
                k = int(getattr(self.detectors_[i], "n_neighbors", 1))
                radius = min(length, max(1, (len(bank) - k) // 2))
                zone = (torch.from_numpy(starts), torch.from_numpy(bank), radius)
            total += windows_to_points(self._window_scores(i, windows, zone), starts, length, T)
        return total / len(self.detectors_)

    def _score(self, series: Series) -> np.ndarray:
        return self._per_step(series, leave_out_overlaps=False)

    def _training_scores(self, series: Series) -> np.ndarray:
        return self._per_step(series, leave_out_overlaps=bool(self.exclusion_zone))

    def _stream_scores(self, series: Series, n_new: int) -> np.ndarray:
        # the windows of every length that end at each new point
        total = np.zeros(n_new)
        for i, length in enumerate(self._window_lengths()):
            tail = series.values[len(series.values) - n_new - length + 1 :]
            total += self._window_scores(i, sliding_windows(tail, length, 1))
        return total / len(self.detectors_)

    # ---- persistence ----------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for i, (detector, calibrator) in enumerate(
            zip(self.detectors_, self.calibrators_, strict=True)
        ):
            state[f"detector_{i}"] = detector.get_state()
            if calibrator is not None:
                state[f"calibration_{i}"] = calibrator.get_state()
        return state

    def _restore_model(self, state: dict[str, Any]) -> None:
        self.detectors_, self.calibrators_ = [], []
        for i in range(len(self._window_lengths())):
            self.detectors_.append(self._clone().set_state(state[f"detector_{i}"]))
            cal = state.get(f"calibration_{i}")
            self.calibrators_.append(None if cal is None else Calibrator().set_state(cal))
