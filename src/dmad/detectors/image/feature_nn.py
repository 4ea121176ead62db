"""Feature nearest neighbour: the image baseline, PatchCore without coreset.

Roth, Pemula, Zepeda, Schölkopf, Brox & Gehler, "Towards Total Recall in Industrial Anomaly
Detection", CVPR 2022, without the greedy coreset: exactly the image baseline of
``docs/protocols.md``. EfficientNet-Lite0 features after blocks 4 and 10 at 224 px, 3×3
average-pooled and concatenated on the block-4 grid; a memory bank of ``max_fit_samples`` random
training patch features; patch score = L2 distance to the nearest bank feature
(:func:`dmad.ops.knn`); map upsampled to the image and smoothed (σ = 4); image score = maximum.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from dmad.detectors.image._features import FeatureImageDetector
from dmad.ops import subsample
from dmad.validation import check_positive_int

__all__ = ["FeatureNN"]


class FeatureNN(FeatureImageDetector, name="feature_nn"):
    """Distance of each patch feature to its nearest neighbour in a bank of training patches.

    Parameters
    ----------
    max_fit_samples : int
        Training patch features (a seeded random subsample) kept as the memory bank.
    backbone, layers, pool : str, tuple of int, int
        Feature extractor, tapped blocks (shallow to deep) and local average-pooling size.
    image_size, channels, sigma, image_sigma, top_fraction, score_batch_size
        See :class:`~dmad.detectors.image.ImageDetector`.
    contamination, random_state, device, verbose : as for every detector.

    Examples
    --------
    >>> det = FeatureNN(max_fit_samples=500).fit(train_images)  # doctest: +SKIP
    >>> det.anomaly_map(test_images).shape  # doctest: +SKIP
    (10, 256, 256)
    """

    family: ClassVar[str] = "baseline (feature nearest neighbour)"
    test_params: ClassVar[dict[str, Any]] = {"image_size": 64, "max_fit_samples": 2000}

    def __init__(
        self,
        max_fit_samples: int = 30_000,
        backbone: str = "efficientnet_lite0",
        layers: tuple[int, ...] = (4, 10),
        pool: int = 3,
        image_size: int | None = 224,
        channels: int | None = None,
        sigma: float = 4.0,
        image_sigma: float = 0.0,
        top_fraction: float = 0.0,
        score_batch_size: int = 16,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.max_fit_samples = max_fit_samples
        self.backbone = backbone
        self.layers = layers
        self.pool = pool
        self.image_size = image_size
        self.channels = channels
        self.sigma = sigma
        self.image_sigma = image_sigma
        self.top_fraction = top_fraction
        self.score_batch_size = score_batch_size
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _fit_images(self, x: torch.Tensor) -> None:
        check_positive_int(self.max_fit_samples, name="max_fit_samples")
        feats = self._all_patch_features(x)
        rows = feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1])
        keep = torch.from_numpy(subsample(rows.shape[0], self.max_fit_samples, self.seed_))
        self.bank_ = rows[keep.to(rows.device)]
        self.bank_images_ = self._bank_images(keep, feats.shape[2] * feats.shape[3])

    def _raw_maps(self, x: torch.Tensor, own: slice | None = None) -> torch.Tensor:
        feats = self._patch_features(x)
        b, d, h, w = feats.shape
        d2 = self._bank_distances(feats.permute(0, 2, 3, 1).reshape(-1, d), 1, own)
        return d2[:, 0].sqrt().reshape(b, h, w)

    def _raw_maps_leaving_out(self, x: torch.Tensor, own: slice) -> torch.Tensor:
        return self._raw_maps(x, own)

    def _model_state(self) -> dict[str, Any]:
        return {"bank": self.bank_}

    def _restore_model(self, state: dict[str, Any]) -> None:
        self.bank_ = state["bank"].to(self.device_)
