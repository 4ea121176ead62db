"""All dmad detectors; importing this package registers them."""

from dmad.detectors.base import BaseDetector, DenoiserMixin, TabularDetector
from dmad.detectors.ensemble import Ensemble
from dmad.detectors.image import ImageDetector
from dmad.detectors.registry import available_detectors, create, get_detector_class
from dmad.detectors.tabular import (
    DDPM,
    DTECategorical,
    DTEInverseGamma,
    DTENonParametric,
    TabADM,
)
from dmad.detectors.timeseries import TimeSeriesDetector, Windowed

__all__ = [
    "BaseDetector",
    "DDPM",
    "DTECategorical",
    "DTEInverseGamma",
    "DTENonParametric",
    "DenoiserMixin",
    "Ensemble",
    "ImageDetector",
    "TabADM",
    "TabularDetector",
    "TimeSeriesDetector",
    "Windowed",
    "available_detectors",
    "create",
    "get_detector_class",
]
