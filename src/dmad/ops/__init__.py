"""Numerics that are neither diffusion nor one detector's: neighbours, subsampling, score
calibration, filters and standardisation. Detectors compose these; none re-implements them."""

from dmad.ops.calibration import CALIBRATIONS, Calibrator
from dmad.ops.filters import gaussian_blur, moving_average
from dmad.ops.neighbors import Neighbors, knn
from dmad.ops.sampling import subsample
from dmad.ops.scaling import Standardizer

__all__ = [
    "CALIBRATIONS",
    "Calibrator",
    "Neighbors",
    "Standardizer",
    "gaussian_blur",
    "knn",
    "moving_average",
    "subsample",
]
