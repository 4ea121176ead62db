"""D3R: decompose each window into trend and seasonal parts, reconstruct the seasonal part only.

Wang et al., "Drift doesn't Matter: Dynamic Decomposition with Diffusion Reconstruction for
Unstable Multivariate Time Series Anomaly Detection", NeurIPS 2023. Real series drift: their level
and trend move away from anything seen in training, and a plain reconstruction model reads that
as an anomaly. D3R separates a trend from a stable (seasonal + residual) part and reconstructs the
stable part with a diffusion model whose noise is *bounded*, so the reconstruction neither copies
its input (too little noise) nor forgets it (an unbounded bottleneck).

dmad's version: the trend of a window is its masked moving average (kernel ``trend_kernel``,
edges replicated); the denoiser reconstructs ``window - trend`` from t* conditioned on the trend's
*shape* (the trend minus its window mean), and the score is the error on that stable part. A level
shift or slow drift changes the trend's level, which the model never sees, not the stable part,
so it does not read as an anomaly. Noise draws are clipped to ``[-noise_bound, noise_bound]``.

Departures: a fixed moving-average decomposition instead of D3R's learned data-time mix-attention
decomposition with its external time-stamp information; bounded noise by clipping Gaussian draws
rather than D3R's noise-level schedule; dmad's 1-D U-Net. The shared scoring (common noise draws,
per-channel normalisation, top-k over channels) is in :mod:`dmad.detectors.timeseries._diffusion`.
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
from dmad.exceptions import DataValidationError
from dmad.ops import moving_average

__all__ = ["D3R"]


class D3R(WindowDiffusionDetector, name="d3r"):
    __doc__ = (
        """Diffusion reconstruction of the de-trended window, conditioned on the trend's shape.

    Parameters
    ----------
    trend_kernel : int or None
        Moving-average length of the trend (None: half the window, at least 3).
    noise_bound : float
        Scoring noise draws are clipped to this many standard deviations."""
        + DIFFUSION_PARAMS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(600) / 4.0)
    >>> det = D3R(epochs=2, base_channels=8, random_state=0, device="cpu").fit(x)
    >>> det.decision_function(x + 0.01 * np.arange(600)).shape  # a drifting test series
    (600,)
    """
    )

    family: ClassVar[str] = "reconstruction (decomposition)"

    def __init__(
        self,
        trend_kernel: int | None = None,
        noise_bound: float = 2.0,
        window: int | str = "auto",
        stride: int | str = 1,
        n_steps: int = 100,
        beta_schedule: str = "cosine",
        t_stars: tuple[int, ...] = (10, 25, 50),
        sampling_steps: int = 3,
        n_repeats: int = 1,
        top_k: int | None = 3,
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
        self.trend_kernel = trend_kernel
        self.noise_bound = noise_bound
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
        return n_channels

    def _noise_bound(self) -> float | None:
        if not self.noise_bound > 0:
            raise DataValidationError(f"noise_bound must be > 0, got {self.noise_bound!r}.")
        return float(self.noise_bound)

    def _decompose(self, x: torch.Tensor, mask: torch.Tensor) -> View:
        kernel = self.trend_kernel or max(3, self.window_ // 2)
        if not isinstance(kernel, int) or not 1 <= kernel <= self.window_:
            raise DataValidationError(
                f"trend_kernel must be an int in 1..window ({self.window_}), got {kernel!r}."
            )
        trend = moving_average(x, mask, kernel)
        shape = trend - trend.mean(dim=2, keepdim=True)
        return (x - trend) * mask, shape, mask

    def _train_view(self, x: torch.Tensor, mask: torch.Tensor, gen: torch.Generator) -> View:
        return self._decompose(x, mask)

    def _score_views(self, x: torch.Tensor, mask: torch.Tensor) -> Sequence[View]:
        return [self._decompose(x, mask)]
