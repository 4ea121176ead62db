"""Diffusion reconstruction of windows: noise a window to t*, denoise it, score the error.

Pintilie, Manolache & Brad, "Time Series Anomaly Detection using Diffusion-based Models" (the
DiffusionAE family), ICDM Workshops 2023; Hu et al., "TimeADDM", ICASSP 2024; Sui et al.,
"DDTAD", IEEE Sensors Journal 2024. A denoiser trained on normal windows pulls a noised window
back toward the normal manifold: a normal window returns close to itself, an anomalous one does
not, and the reconstruction error is the anomaly score.

Departures (see :mod:`dmad.detectors.timeseries._diffusion` for the shared scoring): dmad's 1-D
U-Net instead of the papers' transformers / autoencoder backbones; several noise levels t* with
a few DDIM steps each instead of one level with all ancestral steps; errors normalised per
channel by their fit-series distribution and combined by a top-k mean over channels; window
scores averaged over the windows covering a step. Missing entries are excluded from the loss and
the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from dmad.detectors.timeseries._diffusion import (
    DIFFUSION_PARAMS_DOC,
    View,
    WindowDiffusionDetector,
)

__all__ = ["DiffusionRecon"]


class DiffusionRecon(WindowDiffusionDetector, name="diffusion_recon"):
    __doc__ = (
        """Partial-diffusion reconstruction error of windows under a 1-D U-Net denoiser.

    The reconstruction detector of the papers. Combined with the DTE density of the same windows
    (``dmad.create("ensemble", members=[DiffusionRecon(...), DTEWindows(scales=(1,), ...)])``) it
    was the strongest configuration on some of the dev series (see BENCHMARKS.md).

    Parameters
    ----------"""
        + DIFFUSION_PARAMS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(600) / 4.0)
    >>> det = DiffusionRecon(epochs=2, base_channels=8, random_state=0, device="cpu").fit(x)
    >>> det.decision_function(x).shape
    (600,)
    """
    )

    family: ClassVar[str] = "reconstruction"

    def __init__(
        self,
        window: int | str = "auto",
        stride: int | str = 1,
        n_steps: int = 100,
        beta_schedule: str = "cosine",
        t_stars: tuple[int, ...] = (10, 25, 50),
        sampling_steps: int = 3,
        n_repeats: int = 1,
        top_k: int | None = None,
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2),
        epochs: int = 30,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        patience: int = 5,
        max_seconds: float | None = None,
        max_fit_samples: int | None = 3000,
        score_batch_size: int = 1024,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.window = window
        self.stride = stride
        self.n_steps = n_steps
        self.beta_schedule = beta_schedule
        self.t_stars = t_stars
        self.sampling_steps = sampling_steps
        self.n_repeats = n_repeats
        self.top_k = top_k
        self.base_channels = base_channels
        self.channel_mults = channel_mults
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.max_seconds = max_seconds
        self.max_fit_samples = max_fit_samples
        self.score_batch_size = score_batch_size
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _cond_channels(self, n_channels: int) -> int:
        return 0

    def _train_view(self, x: torch.Tensor, mask: torch.Tensor, gen: torch.Generator) -> View:
        return x, None, mask

    def _score_views(self, x: torch.Tensor, mask: torch.Tensor) -> Sequence[View]:
        return [(x, None, mask)]
