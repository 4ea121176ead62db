"""Diffusion imputation of masked window parts: a point is anomalous if it cannot be imputed.

Xiao et al., "Imputation-based Time-Series Anomaly Detection with Conditional Weight-Incremental
Diffusion Models" (DiffAD), KDD 2023; Chen et al., "ImDiffusion: Imputed Diffusion Models for
Multivariate Time Series Anomaly Detection", VLDB 2024. A conditional denoiser learns to fill in
masked parts of normal windows from the observed rest (condition = observed values × mask, and
the mask). At test time each window is imputed under a *grating* mask (alternate blocks of
``grating_period`` steps hidden) and under its complement, so every point is imputed exactly once
from its neighbourhood; the imputation error is the score. Unlike reconstruction, the anomalous
values never enter their own prediction, so they cannot leak into it.

Training masks: the grating with a random phase and period in [1, 2 * grating_period], and
for half of the windows a random point mask (hide each entry with probability 1/2), as DiffAD
mixes its masks. The loss covers the hidden, observed entries only.

Departures: dmad's 1-D U-Net over time with the condition concatenated (ImDiffusion uses a
spatial-temporal transformer); the "ensemble over denoising steps" of ImDiffusion becomes an
ensemble over start levels ``t_stars`` with a few DDIM steps each. The levels stop at half the
schedule: from pure noise (t* = T - 1) a 3-step DDIM imputation is one random draw of the
conditional distribution, whose spread swamps the anomaly (from (50, 99) the ranking on a test
sine varied widely from seed to seed, from (25, 50) it did not); DiffAD's weight-incremental
conditioning and ImDiffusion's unconditional-imputation variant are not implemented. The shared
scoring (common noise draws, per-channel normalisation, top-k over channels) is described in
:mod:`dmad.detectors.timeseries._diffusion`. Missing entries count as hidden in the condition
and are never scored.
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
from dmad.validation import check_positive_int

__all__ = ["DiffusionImputation", "grating_mask"]


def grating_mask(length: int, period: int | torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """1 (visible) / 0 (hidden) over time: blocks of ``period`` steps alternate, shape (n, length).

    ``phase`` (n,) shifts each row; ``period`` is one int or a per-row tensor of shape (n, 1).

    Examples
    --------
    >>> grating_mask(6, 2, torch.tensor([0, 2])).tolist()
    [[1.0, 1.0, 0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]]
    """
    steps = torch.arange(length, device=phase.device)
    return (((steps[None, :] + phase[:, None]) // period) % 2 == 0).float()


class DiffusionImputation(WindowDiffusionDetector, name="diffusion_imputation"):
    __doc__ = (
        """Conditional-diffusion imputation error under a grating mask and its complement.

    Parameters
    ----------
    grating_period : int
        Length of the hidden / visible blocks of the scoring mask."""
        + DIFFUSION_PARAMS_DOC
        + """
    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(600) / 4.0)
    >>> det = DiffusionImputation(epochs=2, base_channels=8, random_state=0, device="cpu").fit(x)
    >>> det.decision_function(x).shape
    (600,)
    """
    )

    family: ClassVar[str] = "imputation"

    def __init__(
        self,
        grating_period: int = 2,
        window: int | str = "auto",
        stride: int | str = 1,
        n_steps: int = 100,
        beta_schedule: str = "cosine",
        t_stars: tuple[int, ...] = (25, 50),
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
        self.grating_period = grating_period
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
        return 2 * n_channels

    def _view(self, x: torch.Tensor, mask: torch.Tensor, visible: torch.Tensor) -> View:
        """Condition on what is visible *and* observed; score the hidden observed entries."""
        seen = visible * mask
        return x, torch.cat([x * seen, seen], dim=1), (1 - visible) * mask

    def _train_view(self, x: torch.Tensor, mask: torch.Tensor, gen: torch.Generator) -> View:
        period = check_positive_int(self.grating_period, name="grating_period")
        n, channels, length = x.shape
        periods = torch.randint(1, 2 * period + 1, (n, 1), generator=gen, device=x.device)
        phase = torch.randint(0, 4 * period, (n,), generator=gen, device=x.device)
        grating = grating_mask(length, periods, phase)[:, None, :]
        points = (torch.rand(x.shape, generator=gen, device=x.device) < 0.5).float()
        use_points = torch.rand((n, 1, 1), generator=gen, device=x.device) < 0.5
        visible = torch.where(use_points, points, grating.expand(n, channels, length))
        return self._view(x, mask, visible)

    def _score_views(self, x: torch.Tensor, mask: torch.Tensor) -> Sequence[View]:
        period = check_positive_int(self.grating_period, name="grating_period")
        n, _, length = x.shape
        grating = grating_mask(length, period, torch.zeros(1, dtype=torch.long, device=x.device))
        grating = grating[:, None, :].expand_as(x)
        return [self._view(x, mask, grating), self._view(x, mask, 1 - grating)]
