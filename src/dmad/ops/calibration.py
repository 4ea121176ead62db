"""Fit-data score calibration: put scores on the scale of their typical value on normal data.

Scores of different kinds (per-channel errors, a density and a reconstruction error, two patch
scores) cannot be added as they are. Each is calibrated by statistics of its own scores on fit
data, then combined: this module is the one place that does it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch

from dmad.exceptions import DataValidationError

__all__ = ["CALIBRATIONS", "Calibrator"]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

#: ``median_ratio``: score / median (positive scores: "how many times the typical error");
#: ``log_ratio``: log(score / median) (positive scores on a log scale, so that several can be
#: averaged as a geometric mean); ``median``: score - median (log-domain scores);
#: ``zscore``: (score - mean) / std
CALIBRATIONS = ("median_ratio", "log_ratio", "median", "zscore")
#: keeps the log finite for a score of exactly 0 (an exact repeat of a fit sample)
_TINY = 1e-12


class Calibrator:
    """Calibrate scores column by column (axis 0 = samples) with fit-data statistics.

    Parameters
    ----------
    method : {"median_ratio", "log_ratio", "median", "zscore"}
        See :data:`CALIBRATIONS`. A median that is 0 (repeated fit samples, a flat stretch)
        is floored at 1e-6 of the mean median, so a ratio stays finite.

    Examples
    --------
    >>> c = Calibrator("median_ratio").fit(np.array([1.0, 2.0, 4.0]))
    >>> c.transform(np.array([2.0, 8.0])).tolist()
    [1.0, 4.0]
    >>> Calibrator("zscore").fit(np.array([1.0, 3.0])).transform(np.array([3.0])).tolist()
    [0.7071067811865475]
    >>> Calibrator("log_ratio").fit(np.array([1.0, 2.0, 4.0])).transform(np.array([4.0])).round(4)
    array([0.6931])
    """

    def __init__(self, method: str = "median") -> None:
        if method not in CALIBRATIONS:
            raise DataValidationError(f"calibration must be one of {CALIBRATIONS}, got {method!r}.")
        self.method = method

    def fit(self, scores: np.ndarray | torch.Tensor) -> Calibrator:
        """Learn the location (and scale) of each column of fit-data ``scores``."""
        if isinstance(scores, torch.Tensor):
            scores = scores.detach().double().cpu().numpy()
        arr = np.asarray(scores, dtype=np.float64)
        if arr.shape[0] == 0 or not np.isfinite(arr).all():
            raise DataValidationError("calibration needs finite scores of at least one sample.")
        if self.method in ("median_ratio", "log_ratio") and (arr < 0).any():
            raise DataValidationError(
                f"calibration={self.method!r} needs non-negative scores (a distance, an error, a "
                "variance); use 'zscore' or 'median' for scores of either sign."
            )
        if self.method == "zscore":
            self.location_ = arr.mean(axis=0)
            std = arr.std(axis=0, ddof=1) if arr.shape[0] > 1 else np.zeros_like(self.location_)
            self.scale_ = np.maximum(std, 1e-12)
        else:
            median = np.median(arr, axis=0)
            if self.method in ("median_ratio", "log_ratio"):
                floor = 1e-6 * max(float(np.mean(median)), 1e-12)
                self.location_, self.scale_ = np.zeros_like(median), np.maximum(median, floor)
            else:
                self.location_, self.scale_ = median, np.ones_like(median)
        return self

    def transform(self, scores: ArrayT) -> ArrayT:
        """Calibrated scores, same shape (and array type) as ``scores``."""
        location, scale = self.location_, self.scale_
        if isinstance(scores, torch.Tensor):
            location = torch.as_tensor(location, dtype=scores.dtype, device=scores.device)
            scale = torch.as_tensor(scale, dtype=scores.dtype, device=scores.device)
            if self.method == "log_ratio":
                return (scores.clamp_min(0) + _TINY).log() - scale.log()
        elif self.method == "log_ratio":
            return np.log(np.maximum(scores, 0) + _TINY) - np.log(scale)
        return (scores - location) / scale

    def get_state(self) -> dict[str, Any]:
        return {"method": self.method, "location": self.location_, "scale": self.scale_}

    def set_state(self, state: dict[str, Any]) -> Calibrator:
        self.method = str(state["method"])
        self.location_ = np.asarray(state["location"], dtype=np.float64)
        self.scale_ = np.asarray(state["scale"], dtype=np.float64)
        return self
