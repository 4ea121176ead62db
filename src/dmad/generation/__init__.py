"""Anomaly generation: synthetic injectors per modality with exact labels, diffusion inpainting of
anomalies, and the generate → detect loop (estimate a detector's AUROC where no labels exist).

Every injector returns an :class:`Injection` ``(data, labels, mask)``; the same seed gives the same
anomalies.
"""

from dmad.generation._common import Injection
from dmad.generation.image import IMAGE_KINDS, inject_image
from dmad.generation.inpainting import AnomalyInpainter
from dmad.generation.loop import GeneratedEvaluation, estimate_auroc, filter_generated, inject
from dmad.generation.tabular import TABULAR_KINDS, inject_tabular, make_tabular_anomalies
from dmad.generation.timeseries import (
    MIXED_KINDS,
    SERIES_KINDS,
    inject_mixed_series,
    inject_series,
)

__all__ = [
    "AnomalyInpainter",
    "GeneratedEvaluation",
    "IMAGE_KINDS",
    "Injection",
    "MIXED_KINDS",
    "SERIES_KINDS",
    "TABULAR_KINDS",
    "estimate_auroc",
    "filter_generated",
    "inject",
    "inject_image",
    "inject_mixed_series",
    "inject_series",
    "inject_tabular",
    "make_tabular_anomalies",
]
