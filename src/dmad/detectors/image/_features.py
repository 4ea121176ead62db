"""Shared part of the detectors that score frozen backbone patch features."""

from __future__ import annotations

import numpy as np
import torch

from dmad.detectors.image.base import ImageDetector, Images
from dmad.nets.backbones import FeatureExtractor, patch_embedding
from dmad.ops import knn


class FeatureImageDetector(ImageDetector, abstract=True):
    """Adds ``backbone``, ``layers`` and ``pool`` parameters and patch-feature helpers.

    The backbone is pretrained and frozen, so it is rebuilt from the parameters (never saved);
    its input size is the working resolution ``image_size``. A detector with a memory bank of
    fit patches (``bank_``, with ``bank_images_``: the fit image each bank patch came from) scores
    its own fit images with their own patches left out of the bank (otherwise every fit patch
    finds itself at distance 0, ``decision_scores_`` are too low and ``threshold_`` flags every
    new image).
    """

    def _bank_distances(self, rows: torch.Tensor, k: int, own: slice | None = None) -> torch.Tensor:
        """Squared distances (P, k) of patch rows to their nearest bank patches; ``own``: the
        rows come from these fit images, whose patches are left out of the bank."""
        zone = None
        if own is not None:
            per_image = rows.shape[0] // (own.stop - own.start)
            images = torch.arange(own.start, own.stop).repeat_interleave(per_image)
            zone = (images, self.bank_images_, 1)
        return knn(rows, self.bank_, k, exclusion_zone=zone).sq_distances

    def _bank_images(self, kept: torch.Tensor, patches_per_image: int) -> torch.Tensor:
        """The fit image of each kept patch row (rows are image-major)."""
        return torch.div(kept, patches_per_image, rounding_mode="floor").cpu()

    def _training_scores(self, data: Images) -> np.ndarray:
        if getattr(self, "bank_images_", None) is None:
            return self._score(data)
        return self._reduce(self._maps(data, raw_maps=self._raw_maps_leaving_out)).double().numpy()

    def _raw_maps_leaving_out(self, x: torch.Tensor, own: slice) -> torch.Tensor:
        raise NotImplementedError

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
