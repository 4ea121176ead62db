"""The mechanism the diffusion time-series detectors share: a UNet1D denoiser on windows, partial
diffusion of a *target* (optionally conditioned), and a normalised, channel-robust error score.

A detector defines only its *views* of a window: ``(target, cond, weights)`` triples. The
denoiser is trained to denoise the target given the condition (loss restricted to ``weights``);
scoring noises the target to each t*, denoises it with a few DDIM steps
(:func:`dmad.diffusion.reconstruct`) and measures the squared error where ``weights`` is set.
Reconstruction (DiffusionAE / TimeADDM / DDTAD) has one view, the window itself; imputation
(DiffAD / ImDiffusion) has one view per mask, conditioned on the observed part; D3R's view is the
seasonal part, conditioned on the trend's shape.

Scoring choices shared by all (documented departures from the papers, same for every series):

- Common random numbers: every window is denoised from the *same* noise draws (one per t* and
  repeat, seeded from ``random_state``), so score differences come from the data, not the noise;
  this also makes streaming scores equal batch scores exactly. (The papers draw fresh noise per
  window.)
- Per-channel normalisation: each channel's error is divided by that channel's median error on
  calibration windows of the fit series (:class:`dmad.ops.Calibrator`), so a noisy channel does
  not drown a quiet one, and the window score is the log of the mean of the ``top_k`` largest
  ratios (``None``: all channels). A small ``top_k`` bets that a fault shows in few channels.

To add a density view (the DTE estimate of the same windows), combine a detector with
``dte_windows`` in an ``ensemble``: both scores are log-ratios to their typical normal value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from dmad.detectors.base import DenoiserMixin
from dmad.detectors.timeseries.base import TimeSeriesDetector
from dmad.diffusion import denoising_loss, reconstruct
from dmad.exceptions import DataValidationError
from dmad.ops import Calibrator, subsample
from dmad.validation import check_positive_int

__all__ = ["DIFFUSION_PARAMS_DOC", "View", "WindowDiffusionDetector"]

_TINY = 1e-12  # keeps log finite for a perfect reconstruction

#: (target (B, C, L), condition (B, C', L) or None, error/loss weights (B, C, L))
View = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]

#: calibration windows drawn from the fit series for the per-channel error statistics
N_CALIBRATION = 1024

DIFFUSION_PARAMS_DOC = """
    window : int or "auto"
        Window length ("auto": dominant period if univariate, 10 if multivariate).
    stride : int or "auto"
        Step between windows (fit and score; "auto": window // 10, at least 1).
    n_steps : int
        Length T of the noise schedule.
    beta_schedule : str
        "cosine", "linear" or "sigmoid".
    t_stars : tuple of int
        Noise levels (< ``n_steps``) each window is scored from; errors are summed over them.
    sampling_steps : int
        DDIM steps per reconstruction.
    n_repeats : int
        Noise draws per t*.
    top_k : int or None
        The window score is the log of the mean of the ``top_k`` largest per-channel error
        ratios (error / the channel's median error on the fit series); None: all channels.
    base_channels : int
        Width of the U-Net's first level.
    channel_mults : tuple of int
        Width multiplier per U-Net level.
    epochs, batch_size, lr, weight_decay, patience, max_seconds : training settings
        (AdamW, EMA, early stopping on a 10 % held-out slice; ``max_seconds`` is an optional
        wall-clock cap, off by default so that a seed gives the same model on any machine).
    max_fit_samples : int or None
        Fit windows randomly subsampled to at most this many for training.
    score_batch_size : int
        Windows per scoring batch (memory bound).
    contamination : float or threshold rule
        Fraction of the fit series assumed anomalous; sets ``threshold_``.
    random_state : int or None
        Seed of weights, training noise, subsampling and the scoring noise draws.
    device : str
        "auto" (cuda → mps → cpu), "cpu", "cuda", ...
    verbose : bool or None
        Progress bars (None: only on a terminal).
"""


class WindowDiffusionDetector(DenoiserMixin, TimeSeriesDetector, abstract=True):
    """Trains ``net_`` on the detector's views of fit windows and scores by denoising error.

    Subclasses set the parameters in ``__init__`` and implement ``_cond_channels``,
    ``_train_view`` and ``_score_views``; they may set ``_noise_bound`` (D3R).
    """

    test_params: ClassVar[dict[str, Any]] = {
        "epochs": 25,
        "batch_size": 64,
        "base_channels": 8,
        "max_fit_samples": 600,
        "patience": 25,
    }

    def _cond_channels(self, n_channels: int) -> int:
        raise NotImplementedError

    def _train_view(self, x: torch.Tensor, mask: torch.Tensor, gen: torch.Generator) -> View:
        """The view a training batch is denoised in (may draw random masks from ``gen``)."""
        raise NotImplementedError

    def _score_views(self, x: torch.Tensor, mask: torch.Tensor) -> Sequence[View]:
        """The fixed views a window is scored in; their weighted errors are summed."""
        raise NotImplementedError

    def _noise_bound(self) -> float | None:
        return None

    # ---- training ------------------------------------------------------------------------------
    def _to_tensor(self, windows: np.ndarray) -> torch.Tensor:
        # (n, L, C) windows → (n, C, L), the layout of the 1-D U-Net
        return torch.from_numpy(np.ascontiguousarray(windows.transpose(0, 2, 1))).to(self.device_)

    def _check_params(self) -> None:
        for name in ("n_steps", "sampling_steps", "n_repeats", "score_batch_size"):
            check_positive_int(getattr(self, name), name=name)
        if self.top_k is not None:
            check_positive_int(self.top_k, name="top_k")
        bad = [t for t in self.t_stars if not 0 <= int(t) < self.n_steps]
        if not len(self.t_stars) or bad:
            raise DataValidationError(
                f"t_stars must be a non-empty list of levels in 0..{self.n_steps - 1}, got "
                f"{self.t_stars!r}."
            )

    def _fit_windows(self, values: np.ndarray, mask: np.ndarray) -> None:
        self._check_params()
        keep = subsample(len(values), self.max_fit_samples, self.seed_)
        x, m = self._to_tensor(values[keep]), self._to_tensor(mask[keep])

        def loss_fn(model, batch, gen):
            target, cond, weights = self._train_view(batch[0], batch[1], gen)
            return denoising_loss(model, self.schedule_, target, gen, cond=cond, weights=weights)

        n_channels = x.shape[1]
        config = self._unet_config(
            "unet1d", n_channels, cond_channels=self._cond_channels(n_channels)
        )
        self._train_net(config, loss_fn, (x, m))
        calib = torch.from_numpy(subsample(len(x), N_CALIBRATION, self.seed_ + 1)).to(x.device)
        self.error_calibration_ = Calibrator("median_ratio").fit(
            self._channel_errors(x[calib], m[calib])
        )

    # ---- scoring -------------------------------------------------------------------------------
    def _noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        """The shared noise draws: (len(t_stars) * n_repeats, C, L), bounded if the method says."""
        n_draws = len(self.t_stars) * self.n_repeats
        gen = self._generator()
        noise = torch.randn((n_draws, *shape), generator=gen, device=self.device_)
        bound = self._noise_bound()
        return noise if bound is None else noise.clamp(-bound, bound)

    @torch.no_grad()
    def _channel_errors(self, x: torch.Tensor, m: torch.Tensor) -> np.ndarray:
        """Weighted squared denoising error per window and channel, (n, C), over all views."""
        levels = [int(t) for t in self.t_stars] * self.n_repeats
        out = []
        for start in range(0, len(x), self.score_batch_size):
            xb = x[start : start + self.score_batch_size]
            mb = m[start : start + self.score_batch_size]
            total = torch.zeros(xb.shape[:2], device=xb.device, dtype=torch.float64)
            norm = torch.zeros_like(total)
            for target, cond, weights in self._score_views(xb, mb):
                recon = reconstruct(
                    self.net_,
                    self.schedule_,
                    target,
                    levels,
                    self.sampling_steps,
                    noise=self._noise(tuple(target.shape[1:])),
                    cond=cond,
                    max_batch=self.score_batch_size,
                )
                total += (((recon - target) ** 2) * weights).sum(dim=(0, 3)).double()
                norm += len(levels) * weights.sum(dim=2).double()
            out.append((total / norm.clamp(min=1)).cpu().numpy())
        return np.concatenate(out)

    def _score_windows(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        errors = self._channel_errors(self._to_tensor(values), self._to_tensor(mask))
        ratio = self.error_calibration_.transform(errors)
        k = ratio.shape[1] if self.top_k is None else min(self.top_k, ratio.shape[1])
        return np.log(np.sort(ratio, axis=1)[:, -k:].mean(axis=1) + _TINY)

    # ---- persistence ---------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        return {**super()._model_state(), "error_calibration": self.error_calibration_.get_state()}

    def _restore_model(self, state: dict[str, Any]) -> None:
        super()._restore_model(state)
        self.error_calibration_ = Calibrator().set_state(state["error_calibration"])
