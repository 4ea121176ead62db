"""Tabular detectors (rows × features)."""

from dmad.detectors.tabular.ddpm import DDPM
from dmad.detectors.tabular.dte import DTECategorical, DTEInverseGamma, DTENonParametric
from dmad.detectors.tabular.pyod_baselines import (
    ECODBaseline,
    IForestBaseline,
    KNNBaseline,
    LOFBaseline,
    OCSVMBaseline,
    PCABaseline,
    PyODBaseline,
)
from dmad.detectors.tabular.tabadm import TabADM

__all__ = [
    "DDPM",
    "DTECategorical",
    "DTEInverseGamma",
    "DTENonParametric",
    "ECODBaseline",
    "IForestBaseline",
    "KNNBaseline",
    "LOFBaseline",
    "OCSVMBaseline",
    "PCABaseline",
    "PyODBaseline",
    "TabADM",
]
