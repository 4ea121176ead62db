"""Image benchmark: the feature nearest-neighbour baseline, the image task and its evaluation.

The protocol is MVTec AD's: fit on ``train/good``, score ``test/*``; report image AUROC, pixel
AUROC and AUPRO up to FPR 0.3 (``docs/protocols.md``), each also per defect type (that
type's images against the good test images), plus fit seconds and scoring seconds per image.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dmad.bench.tasks import TASKS
from dmad.data.image import ImageSet, load_image_folder
from dmad.exceptions import DataValidationError
from dmad.metrics import aupro, auroc, pixel_auroc
from dmad.validation import check_positive_int

__all__ = ["ImageTask", "evaluate_maps", "run_image_detector"]


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
    >>> det = dmad.create("feature_nn")  # doctest: +SKIP
    >>> metrics, scores, maps = run_image_detector(det, train, test)  # doctest: +SKIP
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


def _subset(data: ImageSet, index: np.ndarray) -> ImageSet:
    return ImageSet(
        data.images[index],
        None if data.masks is None else data.masks[index],
        data.labels[index],
        [data.defect_types[i] for i in index],
        [data.paths[i] for i in index],
    )


def stratified(data: ImageSet, per_type: int, seed: int) -> ImageSet:
    """At most ``per_type`` random images of every defect type (good included), in order.

    Examples
    --------
    >>> small = stratified(test, 15, seed=0)  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    types = np.asarray(data.defect_types)
    index = np.concatenate(
        [
            rng.permutation(np.flatnonzero(types == t))[:per_type]
            for t in sorted(set(data.defect_types))
        ]
    )
    return _subset(data, np.sort(index))


class ImageTask:
    """MVTec-layout image sets for the bench runner: fit on train/good, score and map test images.

    The runner asks each detector for anomaly maps (``uses_maps``), so every run reports image
    AUROC, pixel AUROC and AUPRO@0.3, overall and per defect type. Pixel-space diffusion
    detectors are slow on a CPU: ``max_train`` fits them on a seeded random subset of the
    training images and ``test_per_type`` scores a stratified subset of the test images.

    Parameters
    ----------
    image_size : int or None
        Resize on loading (None keeps the files' size).
    max_train : int or None
        Training images kept (a seeded random subset; None: all).
    test_per_type : int or None
        Test images kept per defect type, good included (None: all).

    Examples
    --------
    >>> ImageTask(image_size=256).options["image_size"]
    256
    """

    name: ClassVar[str] = "image"
    modality: ClassVar[str] = "image"
    metric_names: ClassVar[tuple[str, ...]] = ("image_auroc", "pixel_auroc", "aupro")
    headline: ClassVar[str] = "image_auroc"
    default_baselines: ClassVar[tuple[str, ...]] = ("feature_nn",)
    uses_maps: ClassVar[bool] = True

    def __init__(
        self,
        *,
        image_size: int | None = None,
        max_train: int | None = None,
        test_per_type: int | None = None,
    ) -> None:
        for key, value in (
            ("image_size", image_size),
            ("max_train", max_train),
            ("test_per_type", test_per_type),
        ):
            if value is not None:
                check_positive_int(value, name=key)
        self._options = {
            "image_size": image_size,
            "max_train": max_train,
            "test_per_type": test_per_type,
        }

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

    def load_splits(self, dataset_path: Path, seed: int) -> tuple[Any, Any, ImageSet]:
        """Training images, test images and the test set (labels, masks, defect types)."""
        size = self._options["image_size"]
        train = load_image_folder(dataset_path, split="train", image_size=size)
        test = load_image_folder(dataset_path, split="test", image_size=size)
        if self._options["max_train"] is not None:
            keep = np.random.default_rng(seed).permutation(len(train))[: self._options["max_train"]]
            train = _subset(train, np.sort(keep))
        if self._options["test_per_type"] is not None:
            test = stratified(test, self._options["test_per_type"], seed)
        return train.images, test.images, test

    def evaluate(
        self, truth: ImageSet, scores: np.ndarray, maps: np.ndarray | None = None
    ) -> dict[str, float]:
        """Image AUROC; with maps also pixel AUROC and AUPRO, overall and per defect type."""
        if maps is None:
            return {"image_auroc": auroc(truth.labels, scores)}
        return evaluate_maps(truth, scores, maps)


TASKS.setdefault("image", ImageTask)
