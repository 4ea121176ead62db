"""Shared part of the pixel-space diffusion detectors (AnoDDPM, DDAD, masked reconstruction).

A :class:`~dmad.nets.UNet2D` ε-denoiser is trained on the normal images (scaled to [-1, 1]) at the
working resolution ``image_size``. Scoring noises each image to every t* of ``t_stars`` in one
batch and denoises it back with ``sampling_steps`` DDIM steps (:func:`dmad.diffusion.reconstruct`).
The detectors differ only in where the reverse process starts (``_start``), which (possibly
guided) denoiser runs it and with what conditioning (``_denoiser``), and how an error map is read
off the reconstructions (``_error``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dmad.detectors.image.base import ImageDetector
from dmad.diffusion import NoiseSchedule, denoising_loss, reconstruct, train_model
from dmad.nets import build_net
from dmad.validation import check_is_fitted


class ImageDenoiserDetector(ImageDetector):
    """Trains ``self.net_`` (a UNet2D) on the images; subclasses define start, guidance, error."""

    # ---- training -----------------------------------------------------------------------------
    def _schedule(self) -> NoiseSchedule:
        return NoiseSchedule.create(self.beta_schedule, self.n_steps, device=self.device_)

    def _fit_images(self, x: torch.Tensor) -> None:
        self.net_config_ = {
            "kind": "unet2d",
            "in_channels": self.channels_,
            "base_channels": self.base_channels,
            "channel_mults": list(self.channel_mults),
        }
        self.net_ = build_net(**self.net_config_).to(self.device_)
        schedule = self._schedule()

        def loss_fn(model, batch, gen):
            return denoising_loss(model, schedule, batch[0], gen, noise_kind=self.noise)

        config = self._train_config()
        config.batch_size = self.batch_size_train
        self.train_result_ = train_model(
            self.net_,
            loss_fn,
            x.to(self.device_) * 2 - 1,
            config,
            seed=self.seed_,
            progress=self.verbose,
            desc=f"{self.registry_name} training",
        )

    # ---- scoring ------------------------------------------------------------------------------
    def _reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructions in [0, 1], shape (len(t_stars), B', C, h, w) (B' = B unless the
        detector expands the batch, e.g. one copy per mask)."""
        y = x * 2 - 1
        model, cond = self._denoiser(y)
        recon = reconstruct(
            model,
            self._schedule(),
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

    # ---- persistence --------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        return {"net": self.net_.state_dict(), "net_config": self.net_config_}

    def _restore_model(self, state: dict[str, Any]) -> None:
        self.net_config_ = dict(state["net_config"])
        self.net_ = self._load_net(self.net_config_, state["net"])
