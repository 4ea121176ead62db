"""Image detectors: (N, C, H, W) images in, one anomaly map and one score per image out."""

from dmad.detectors.image.anoddpm import AnoDDPM
from dmad.detectors.image.base import ImageDetector
from dmad.detectors.image.ddad import DDAD
from dmad.detectors.image.diffusionad import DiffusionAD
from dmad.detectors.image.feature_diffusion import FeatureDiffusion
from dmad.detectors.image.feature_nn import FeatureNN
from dmad.detectors.image.masked import MaskedDiffusion

__all__ = [
    "AnoDDPM",
    "DDAD",
    "DiffusionAD",
    "FeatureDiffusion",
    "FeatureNN",
    "ImageDetector",
    "MaskedDiffusion",
]
