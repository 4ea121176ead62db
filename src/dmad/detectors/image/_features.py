"""Shared part of the detectors that score frozen backbone patch features."""

from __future__ import annotations

import torch

from dmad.detectors.image.base import ImageDetector
from dmad.nets.backbones import FeatureExtractor, patch_embedding


class FeatureImageDetector(ImageDetector, abstract=True):
    """Adds ``backbone``, ``layers`` and ``pool`` parameters and patch-feature helpers.

    The backbone is pretrained and frozen, so it is rebuilt from the parameters (never saved);
    its input size is the working resolution ``image_size``.
    """

    def _extractor(self) -> FeatureExtractor:
        if getattr(self, "extractor_", None) is None:
            self.extractor_ = FeatureExtractor(
                self.backbone, self.layers, input_size=self.image_size or max(self.input_size_)
            ).to(self.device_)
        return self.extractor_

    def _patch_features(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) locally aggregated features of a device batch."""
        return patch_embedding(self._extractor()(batch), self.pool)

    def _all_patch_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D, h, w) features of all images, batch by batch."""
        return torch.cat([self._patch_features(b) for b in self._batches(x)])
