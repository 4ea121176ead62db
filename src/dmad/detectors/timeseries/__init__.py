"""Time-series detectors: a (T,) or (T, D) series in, one anomaly score per time step out."""

from dmad.detectors.timeseries.base import TimeSeriesDetector
from dmad.detectors.timeseries.d3r import D3R
from dmad.detectors.timeseries.diffusion_recon import DiffusionRecon
from dmad.detectors.timeseries.dte_windows import DTEWindows
from dmad.detectors.timeseries.imputation import DiffusionImputation
from dmad.detectors.timeseries.window_baselines import (
    MovingZScore,
    WindowIForest,
    WindowKNN,
    WindowPCA,
)
from dmad.detectors.timeseries.windowed import Windowed

__all__ = [
    "D3R",
    "DTEWindows",
    "DiffusionImputation",
    "DiffusionRecon",
    "MovingZScore",
    "TimeSeriesDetector",
    "WindowIForest",
    "WindowKNN",
    "WindowPCA",
    "Windowed",
]
