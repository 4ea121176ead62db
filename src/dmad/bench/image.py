"""Image benchmark: the feature nearest-neighbour baseline, the image task and its evaluation.

The protocol is MVTec AD's: fit on ``train/good``, score ``test/*``; report image AUROC, pixel
AUROC and AUPRO up to FPR 0.3 (``shared/notes/baselines.md``), each also per defect type (that
type's images against the good test images), plus fit seconds and scoring seconds per image.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from dmad.bench.tasks import TASKS
from dmad.data.image import ImageSet, load_image_folder
from dmad.detectors.image._features import FeatureImageDetector
from dmad.exceptions import DataValidationError
from dmad.metrics import aupro, auroc, pixel_auroc
from dmad.ops import knn, subsample
from dmad.validation import check_positive_int

__all__ = ["FeatureNN", "ImageTask", "evaluate_maps", "run_image_detector"]


class FeatureNN(FeatureImageDetector):
    """PatchCore-style feature nearest neighbour without coreset (Roth et al., CVPR 2022).

    Exactly the baseline of ``shared/notes/baselines.md``: EfficientNet-Lite0 features after
    blocks 4 and 10 at 224 px, 3×3 average-pooled and concatenated on the block-4 grid; a memory
    bank of ``bank_size`` random training patch features; patch score = L2 distance to the
    nearest bank feature; map upsampled to the image and smoothed (σ = 4); image score = maximum.

    Examples
    --------
    >>> det = FeatureNN(bank_size=500).fit(train_images)  # doctest: +SKIP
    >>> det.anomaly_map(test_images).shape  # doctest: +SKIP
    (10, 256, 256)
    """

    def __init__(
        self,
        bank_size: int = 30_000,
        backbone: str = "efficientnet_lite0",
        layers: tuple[int, ...] = (4, 10),
        pool: int = 3,
        image_size: int | None = 224,
        channels: int | None = None,
        sigma: float = 4.0,
        image_sigma: float = 0.0,
        top_fraction: float = 0.0,
        batch_size: int = 16,
        contamination: float = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.bank_size = bank_size
        self.backbone = backbone
        self.layers = layers
        self.pool = pool
        self.image_size = image_size
        self.channels = channels
        self.sigma = sigma
        self.image_sigma = image_sigma
        self.top_fraction = top_fraction
        self.batch_size = batch_size
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _fit_images(self, x: torch.Tensor) -> None:
        check_positive_int(self.bank_size, name="bank_size")
        feats = self._all_patch_features(x)
        rows = feats.permute(0, 2, 3, 1).reshape(-1, feats.shape[1])
        keep = torch.from_numpy(subsample(rows.shape[0], self.bank_size, self.seed_))
        self.bank_ = rows[keep.to(rows.device)]

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        feats = self._patch_features(x)
        b, d, h, w = feats.shape
        d2 = knn(feats.permute(0, 2, 3, 1).reshape(-1, d), self.bank_, 1).sq_distances
        return d2[:, 0].sqrt().reshape(b, h, w)

    def _model_state(self) -> dict[str, Any]:
        return {"bank": self.bank_}

    def _restore_model(self, state: dict[str, Any]) -> None:
        self.bank_ = state["bank"].to(self.device_)


def evaluate_maps(
    test: ImageSet, scores: np.ndarray, maps: np.ndarray, max_fpr: float = 0.3
) -> dict[str, float]:
    """Image AUROC, pixel AUROC and AUPRO, overall and per defect type.

    Per-type metrics (keys ``"<metric>/<type>"``) use that type's images and the good test images.

    Examples
    --------
    >>> evaluate_maps(test, det.map_to_score(maps), maps)["image_auroc"]  # doctest: +SKIP
    0.94
    """
    if test.masks is None:
        raise DataValidationError("evaluate_maps needs a test split with masks.")
    labels = np.asarray(test.labels)
    types = np.asarray(test.defect_types)
    result = {
        "image_auroc": auroc(labels, scores),
        "pixel_auroc": pixel_auroc(test.masks, maps),
        "aupro": aupro(test.masks, maps, max_fpr=max_fpr),
    }
    good = labels == 0
    for kind in sorted(set(types[~good])):
        sel = good | (types == kind)
        result[f"image_auroc/{kind}"] = auroc(labels[sel], scores[sel])
        result[f"pixel_auroc/{kind}"] = pixel_auroc(test.masks[sel], maps[sel])
        result[f"aupro/{kind}"] = aupro(test.masks[sel], maps[sel], max_fpr=max_fpr)
    return result


def run_image_detector(
    detector: Any, train: ImageSet, test: ImageSet
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Fit on ``train``, map ``test``; returns (metrics with timings, scores, maps).

    Examples
    --------
    >>> metrics, scores, maps = run_image_detector(FeatureNN(), train, test)  # doctest: +SKIP
    """
    start = time.perf_counter()
    detector.fit(train.images)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    maps = detector.anomaly_map(test.images)
    scores = detector.map_to_score(maps)
    per_image = (time.perf_counter() - start) / len(test)
    metrics = evaluate_maps(test, scores, maps)
    metrics.update(fit_seconds=fit_seconds, seconds_per_image=per_image)
    return metrics, scores, maps


class ImageTask:
    """MVTec-layout image sets for the bench runner: fit on train/good, score test images.

    The runner passes only image scores to :meth:`evaluate`, so a spec run reports image AUROC;
    the pixel metrics need maps and come from :func:`run_image_detector` (as in
    ``benchmarks/image.py``).

    Parameters
    ----------
    image_size : int or None
        Resize on loading (None keeps the files' size).

    Examples
    --------
    >>> ImageTask(image_size=256).options
    {'image_size': 256}
    """

    name: ClassVar[str] = "image"
    modality: ClassVar[str] = "image"
    metric_names: ClassVar[tuple[str, ...]] = ("image_auroc",)
    headline: ClassVar[str] = "image_auroc"
    #: the feature-NN baseline needs maps; it runs from benchmarks/image.py, not the runner
    default_baselines: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, image_size: int | None = None) -> None:
        if image_size is not None:
            check_positive_int(image_size, name="image_size")
        self._options = {"image_size": image_size}

    @property
    def options(self) -> dict[str, Any]:
        """All options with defaults filled in (part of the job hash)."""
        return dict(self._options)

    def list_datasets(self, folder: Path) -> list[Path]:
        """Category folders: ``folder`` itself or its subfolders that hold ``train/good``."""
        folder = Path(folder)
        if (folder / "train" / "good").is_dir():
            return [folder]
        return sorted(p for p in folder.iterdir() if (p / "train" / "good").is_dir())

    def load_splits(self, dataset_path: Path, seed: int) -> tuple[Any, Any, np.ndarray]:
        """Training images, test images and test labels (the split is fixed; seed unused)."""
        size = self._options["image_size"]
        train = load_image_folder(dataset_path, split="train", image_size=size)
        test = load_image_folder(dataset_path, split="test", image_size=size)
        return train.images, test.images, test.labels.astype(np.int64)

    def evaluate(self, y_test: np.ndarray, scores: np.ndarray) -> dict[str, float]:
        """Image AUROC of the scores."""
        return {"image_auroc": auroc(y_test, scores)}


TASKS.setdefault("image", ImageTask)
