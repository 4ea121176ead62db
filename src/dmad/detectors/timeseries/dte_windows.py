"""DTE on windows: the diffusion time a window looks noised by, as its anomaly score.

Livernoche, Jain, Hezaveh & Ravanbakhsh, "On Diffusion Modeling for Anomaly Detection", ICLR
2024 (``dte_np``, :mod:`dmad.detectors.tabular.dte`), applied to flattened sliding windows: each
window (window × D values) is a row, and the non-parametric estimator gives the posterior mode of
the noise variance under which the window is a noised copy of one of its ``n_neighbors`` nearest
fit windows. It needs no training, so it is the fast, density-style member of dmad's time-series
family. This preset of :class:`~dmad.detectors.timeseries.windowed.Windowed` fixes: ``dte_np`` as
the vector detector, the multi-scale windows (``scales="auto"``), their geometric mean
(``calibration="log_ratio"``; DTE-NP's estimate is a variance per value, so the lengths are on
one scale) and the exclusion zone for the fit series' own scores.

Departures from the paper: DTE was published for tabular rows; windows as rows, the fit windows
randomly subsampled to ``max_fit_samples`` (exact search otherwise grows as T²), and the
multi-scale geometric mean are dmad's use. The automatic scales were chosen on the dev series
(see BENCHMARKS.md), so figures on those series are optimistic for new data.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dmad.detectors.base import BaseDetector
from dmad.detectors.registry import create
from dmad.detectors.timeseries.windowed import Windowed

__all__ = ["DTEWindows"]


class DTEWindows(Windowed, name="dte_windows"):
    """DTE-NP on flattened windows, at one or several window lengths.

    Parameters
    ----------
    n_neighbors : int
        Nearest fit windows averaged by the estimator.
    max_fit_samples : int or None
        Fit windows randomly subsampled to at most this many.
    window : int or "auto"
        Base window length ("auto": dominant period if univariate, 10 if multivariate).
    scales : tuple of float or "auto"
        Window lengths as multiples of ``window`` (each at least 2 steps); the score is the mean
        log estimate over them. "auto": (0.5, 1, 2, 3) for a univariate series, (1, 2, 3, 5) for a
        multivariate one; ``(1,)``: the single window.
    stride : int or "auto"
        Step between windows (fit and score; "auto": window // 10, at least 1).
    contamination : float or threshold rule
        Fraction of the fit series assumed anomalous; sets ``threshold_``.
    random_state : int or None
        Seed of the fit-window subsample.
    device : str
        "auto" (cuda → mps → cpu), "cpu", "cuda", ... (the neighbour search runs there).
    verbose : bool or None
        Unused; kept for a uniform API.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(600) / 4.0)
    >>> det = DTEWindows(device="cpu").fit(x)
    >>> det.decision_function(x).shape
    (600,)
    """

    family: ClassVar[str] = "density / time estimation"
    composite: ClassVar[bool] = False
    test_params: ClassVar[dict[str, Any]] = {}
    exclusion_zone = True
    calibration = "log_ratio"

    def __init__(
        self,
        n_neighbors: int = 5,
        max_fit_samples: int | None = 10_000,
        window: int | str = "auto",
        scales: tuple[float, ...] | str = "auto",
        stride: int | str = 1,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.max_fit_samples = max_fit_samples
        self.window = window
        self.scales = scales
        self.stride = stride
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _vector_detector(self) -> BaseDetector:
        return create("dte_np", n_neighbors=self.n_neighbors, device=self.device)
