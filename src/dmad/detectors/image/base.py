"""The image detector frame: images in, one anomaly map and one score per image out.

Images are (N, C, H, W) or (N, H, W) arrays (or tensors) with C = 1 (grayscale) or 3 (RGB),
float in [0, 1] or uint8 (divided by 255). Inside, they are converted to ``channels`` and resized
to ``image_size`` (the working resolution of the method); every map is brought back to the input
resolution, Gaussian-smoothed (``sigma``), and the image score is the maximum, or the mean of the
top ``top_fraction`` of pixels, of that map smoothed further to ``image_sigma``. Why two scales: a
pixel map should be sharp to localise, but an image verdict read from single pixels is decided by
the hottest speck of texture in a normal image; smoothing over a region weighs how much anomalous
evidence there is rather than where the noise peaks (BENCHMARKS.md shows the effect on MTD). The
default ``image_sigma=0`` reads the score off the anomaly map itself.

Subclasses implement two hooks on working-resolution images (B, C, h, w): ``_fit_images(x)`` gets
all training images on the CPU (iterate with ``self._batches``), ``_raw_maps(x) -> (B, h', w')``
one batch of ``score_batch_size`` images already on the device (any map grid; it is upsampled).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from dmad.detectors.base import BaseDetector
from dmad.exceptions import DataValidationError
from dmad.ops import gaussian_blur
from dmad.validation import check_is_fitted, check_positive_int

__all__ = ["ImageDetector", "Images", "to_channels"]

# ITU-R BT.601 luma: what PIL's convert("L") uses, so RGB→gray matches the data loaders.
_LUMA = torch.tensor([0.299, 0.587, 0.114])


class Images(NamedTuple):
    """Prepared input: working-resolution images (CPU) and the input's (H, W)."""

    x: torch.Tensor
    size: tuple[int, int]


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert (B, 1 or 3, H, W) to ``channels`` (1: luma of RGB, 3: gray repeated)."""
    if x.shape[1] == channels:
        return x
    if channels == 1:
        return torch.einsum("bchw,c->bhw", x, _LUMA.to(x))[:, None]
    return x.expand(-1, 3, -1, -1)


class ImageDetector(BaseDetector, abstract=True):
    """Base of all image detectors: validation, channels, resizing, maps and image scores.

    Subclasses store these parameters: ``image_size`` (int or None: keep the input size),
    ``channels`` (1, 3 or None: as the training images), ``sigma`` (smoothing of the map in
    input pixels), ``image_sigma`` (total smoothing of the map the image score is read from; at
    most ``sigma``: the anomaly map itself), ``top_fraction`` (0: image score = that map's maximum;
    else the mean of that fraction of its highest pixels) and ``score_batch_size`` (images per
    scoring pass).
    """

    modality: ClassVar[str] = "image"

    # ---- public API ---------------------------------------------------------------------------
    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel anomaly maps at input resolution, shape (N, H, W), higher = more anomalous."""
        check_is_fitted(self, "decision_scores_")
        return self._maps(self._prepare(X, fitting=False)).numpy()

    def map_to_score(self, maps: Any) -> np.ndarray:
        """Image scores from maps returned by :meth:`anomaly_map` (what ``decision_function``
        computes), so a caller needing both runs the model once."""
        return self._reduce(torch.as_tensor(np.asarray(maps, dtype=np.float32))).double().numpy()

    # ---- BaseDetector hooks -------------------------------------------------------------------
    def _prepare(self, X: Any, fitting: bool) -> Images:
        x = self._as_tensor(X)
        if fitting:
            self._check_params()
            self.n_channels_in_ = int(x.shape[1])
            self.input_size_ = (int(x.shape[2]), int(x.shape[3]))
        else:
            check_is_fitted(self, "input_size_")
            if x.shape[1] != self.n_channels_in_:
                raise DataValidationError(
                    f"X has {x.shape[1]} channel(s) but the detector was fitted on "
                    f"{self.n_channels_in_}; convert the images to that many channels."
                )
            if tuple(x.shape[2:]) != self.input_size_:
                h, w = self.input_size_
                raise DataValidationError(
                    f"X has images of {x.shape[2]}x{x.shape[3]} pixels but the detector was "
                    f"fitted on {h}x{w}; resize them to {h}x{w} (height x width)."
                )
        x = to_channels(x, self.channels_)
        if self.image_size is not None and tuple(x.shape[2:]) != (self.image_size,) * 2:
            x = F.interpolate(
                x, size=(self.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False
            ).clamp_(0, 1)
        return Images(x.contiguous(), self.input_size_)

    def _fit(self, data: Images) -> None:
        self._fit_images(data.x)

    def _score(self, data: Images) -> np.ndarray:
        return self._reduce(self._maps(data)).double().numpy()

    def _input_state(self) -> dict[str, Any]:
        return {"n_channels_in": self.n_channels_in_, "input_size": list(self.input_size_)}

    def _restore_input(self, state: dict[str, Any]) -> None:
        self.n_channels_in_ = int(state["n_channels_in"])
        height, width = (int(v) for v in state["input_size"])
        self.input_size_ = (height, width)

    # ---- helpers ------------------------------------------------------------------------------
    @property
    def channels_(self) -> int:
        """Channels the method works on: ``channels`` or those of the training images."""
        return self.n_channels_in_ if self.channels is None else int(self.channels)

    def _check_params(self) -> None:
        if self.image_size is not None:
            check_positive_int(self.image_size, name="image_size")
            if self.image_size < 8:
                raise DataValidationError(f"image_size must be >= 8, got {self.image_size}.")
        if self.channels not in (None, 1, 3):
            raise DataValidationError(f"channels must be None, 1 or 3, got {self.channels!r}.")
        for name in ("sigma", "image_sigma"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0):
                raise DataValidationError(f"{name} must be a number >= 0, got {value!r}.")
        if not (isinstance(self.top_fraction, (int, float)) and 0 <= self.top_fraction < 1):
            raise DataValidationError(
                f"top_fraction must be in [0, 1) (0 = map maximum), got {self.top_fraction!r}."
            )
        check_positive_int(self.score_batch_size, name="score_batch_size")

    @staticmethod
    def _as_tensor(X: Any) -> torch.Tensor:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(f"X must be an array of images ({exc}).") from exc
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif arr.dtype.kind in "fiu" and arr.dtype != np.bool_:
            arr = arr.astype(np.float32)
        else:
            raise DataValidationError(
                f"X must hold numbers (float in [0, 1] or uint8), got dtype {arr.dtype}."
            )
        if arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim != 4:
            raise DataValidationError(
                f"X must have shape (N, C, H, W) or (N, H, W), got {arr.ndim} dimension(s) "
                f"{arr.shape}; add a leading axis for a single image."
            )
        if arr.shape[1] not in (1, 3):
            hint = (
                " (channels last? use X.transpose(0, 3, 1, 2))" if arr.shape[-1] in (1, 3) else ""
            )
            raise DataValidationError(
                f"X must have 1 (grayscale) or 3 (RGB) channels on axis 1, got shape "
                f"{arr.shape}{hint}."
            )
        if arr.shape[0] == 0 or min(arr.shape[2:]) < 8:
            raise DataValidationError(
                f"X needs at least one image of at least 8x8 pixels, got shape {arr.shape}."
            )
        if not np.all(np.isfinite(arr)):
            raise DataValidationError("X contains NaN or inf; clean or drop those images.")
        if arr.min() < 0 or arr.max() > 1:
            raise DataValidationError(
                f"X values must lie in [0, 1] (or be uint8), got [{arr.min():.3g}, "
                f"{arr.max():.3g}]; divide by 255 or rescale."
            )
        return torch.from_numpy(np.ascontiguousarray(arr))

    def _batches(self, x: torch.Tensor) -> Iterator[torch.Tensor]:
        """Batches of ``score_batch_size`` images, moved to the device once each."""
        for i in range(0, x.shape[0], self.score_batch_size):
            yield x[i : i + self.score_batch_size].to(self.device_)

    def _maps(
        self,
        data: Images,
        raw_maps: Callable[[torch.Tensor, slice], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Smoothed maps at input resolution, float32 on the CPU.

        ``raw_maps(batch, rows)`` replaces ``_raw_maps`` when it must know which images of
        ``data`` a batch holds (a detector scoring its own fit images leaves them out).
        """
        out = []
        with torch.no_grad():
            for start, batch in zip(
                range(0, len(data.x), self.score_batch_size), self._batches(data.x), strict=True
            ):
                rows = slice(start, start + len(batch))
                raw = (self._raw_maps(batch) if raw_maps is None else raw_maps(batch, rows)).float()
                up = F.interpolate(raw[:, None], size=data.size, mode="bilinear")[:, 0]
                out.append(gaussian_blur(up, float(self.sigma)).cpu())
        return torch.cat(out)

    def _reduce(self, maps: torch.Tensor) -> torch.Tensor:
        # Gaussians compose: blurring the sigma-smoothed map by sqrt(image² - sigma²) gives the
        # map smoothed by image_sigma, computed from the returned anomaly maps alone
        extra = math.sqrt(max(float(self.image_sigma) ** 2 - float(self.sigma) ** 2, 0.0))
        if extra > 0:
            maps = torch.cat([gaussian_blur(m, extra) for m in maps.split(64)])
        flat = maps.reshape(maps.shape[0], -1)
        if self.top_fraction == 0:
            return flat.amax(dim=1)
        k = max(1, int(round(self.top_fraction * flat.shape[1])))
        return flat.topk(k, dim=1).values.mean(dim=1)

    # ---- to implement -------------------------------------------------------------------------
    def _fit_images(self, x: torch.Tensor) -> None:
        raise NotImplementedError

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
