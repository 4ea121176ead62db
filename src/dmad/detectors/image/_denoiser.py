"""Shared part of the pixel-space diffusion detectors (AnoDDPM, DDAD, masked reconstruction).

A :class:`~dmad.nets.UNet2D` ε-denoiser is trained on the normal images (scaled to [-1, 1]) at the
working resolution ``image_size``. Scoring noises each image to every t* of ``t_stars`` in one
batch and denoises it back with ``sampling_steps`` DDIM steps (:func:`dmad.diffusion.reconstruct`).
The detectors differ only in where the reverse process starts (``_start``), which (possibly
guided) denoiser runs it and with what conditioning (``_denoiser``), and how an error map is read
off the reconstructions (``_error``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from dmad.detectors.base import DenoiserMixin
from dmad.detectors.image.base import ImageDetector
from dmad.diffusion import denoising_loss, reconstruct
from dmad.validation import check_is_fitted

__all__ = ["ImageDenoiserDetector"]


class ImageDenoiserDetector(DenoiserMixin, ImageDetector, abstract=True):
    """Trains ``self.net_`` (a UNet2D) on the images; subclasses define start, guidance, error."""

    family: ClassVar[str] = "reconstruction"
    #: tiny but sufficient settings for the common tests: 32 px, a narrow U-Net, few DDIM steps
    test_params: ClassVar[dict[str, Any]] = {
        "image_size": 32,
        "base_channels": 8,
        "channel_mults": (1, 2),
        "epochs": 30,
        "lr": 2e-3,
        "sampling_steps": 3,
        "t_stars": (300, 500),
        "noise": "gaussian",
    }

    # ---- training -----------------------------------------------------------------------------
    def _fit_images(self, x: torch.Tensor) -> None:
        def loss_fn(model, batch, gen):
            return denoising_loss(model, self.schedule_, batch[0], gen, noise_kind=self.noise)

        config = self._unet_config("unet2d", self.channels_)
        self._train_net(config, loss_fn, x.to(self.device_) * 2 - 1)

    # ---- scoring ------------------------------------------------------------------------------
    def _reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructions in [0, 1], shape (len(t_stars), B', C, h, w) (B' = B unless the
        detector expands the batch, e.g. one copy per mask)."""
        y = x * 2 - 1
        model, cond = self._denoiser(y)
        recon = reconstruct(
            model,
            self.schedule_,
            self._start(y),
            list(self.t_stars),
            self.sampling_steps,
            noise_kind=self.noise,
            generator=self._generator(),
            cond=cond,
            clip_x0=1.0,
        )
        return (recon.clamp(-1, 1) + 1) / 2

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self._error(x, self._reconstruct(x))

    def reconstruct(self, X: Any) -> np.ndarray:
        """Mean reconstruction over t* at input resolution, (N, C, H, W) in [0, 1] (for plots)."""
        check_is_fitted(self, "decision_scores_")
        data = self._prepare(X, fitting=False)
        out = []
        with torch.no_grad():
            for batch in self._batches(data.x):
                # mean over t*, then over the copies of each image (image-major, e.g. masks)
                recon = self._reconstruct(batch).mean(dim=0)
                recon = recon.reshape(batch.shape[0], -1, *recon.shape[1:]).mean(dim=1)
                out.append(F.interpolate(recon, size=data.size, mode="bilinear").cpu())
        return torch.cat(out).numpy()

    # ---- hooks with the AnoDDPM defaults --------------------------------------------------------
    def _start(self, y: torch.Tensor) -> torch.Tensor:
        """What the forward process noises (the input itself)."""
        return y

    def _denoiser(self, y: torch.Tensor) -> tuple[torch.nn.Module, torch.Tensor | None]:
        """The denoiser that runs the reverse process and its conditioning (the plain net)."""
        return self.net_, None

    def _error(self, x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        """(B, h, w) map: squared error averaged over channels and t*."""
        return ((recon - x) ** 2).mean(dim=(0, 2))
