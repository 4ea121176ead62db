"""AnoDDPM: partial diffusion with simplex noise and a reconstruction-error map.

Wyatt, Leach, Schmon & Willcocks, "AnoDDPM: Anomaly Detection with Denoising Diffusion
Probabilistic Models using Simplex Noise", CVPR Workshops 2022. A DDPM is trained on normal images
with multi-octave simplex noise in place of Gaussian ε; a test image is noised only to t* < T
(partial diffusion), denoised back, and the smoothed per-pixel squared error is the anomaly map.
The low frequencies of simplex noise let the reverse process repair large defects that Gaussian
noise of the same level would leave in place. ``noise="gaussian"`` gives the Gaussian variant.

Departures, deliberate: several t* are reconstructed in one batch and their errors averaged (the
paper uses one t*, 250 of 1000); each reconstruction uses ``sampling_steps`` DDIM steps instead of
all t* ancestral steps; the default resolution (64 px) and U-Net width suit a CPU (the paper works
at 256 px with a 128-channel U-Net); the noise is dmad's standardised simplex noise
(:mod:`dmad.diffusion.noise`).
"""

from __future__ import annotations

from typing import Any

from dmad.detectors.image._denoiser import ImageDenoiserDetector

__all__ = ["AnoDDPM"]


class AnoDDPM(ImageDenoiserDetector, name="anoddpm"):
    """Partial-diffusion reconstruction error of a (simplex-noise) DDPM trained on normal images.

    Parameters
    ----------
    noise : {"simplex", "gaussian"}
        Forward-process noise in training and scoring.
    t_stars : tuple of int
        Noise levels reconstructed from (each < ``n_steps``); the map averages over them.
    sampling_steps : int
        DDIM steps per reconstruction.
    n_steps, beta_schedule : int, str
        Length and kind of the noise schedule.
    base_channels, channel_mults : U-Net width and levels.
    epochs, batch_size, lr, weight_decay, patience, max_seconds : training settings
        (``batch_size`` images per optimiser step; ``max_seconds``: optional wall-clock cap).
    image_size : int or None
        Working resolution (images are resized to it; maps come back at input size).
    channels, sigma, image_sigma, top_fraction, score_batch_size
        See :class:`~dmad.detectors.image.ImageDetector`.
    contamination, random_state, device, verbose : as for every detector.

    Examples
    --------
    >>> det = AnoDDPM(epochs=2, random_state=0).fit(train_images)  # doctest: +SKIP
    >>> det.anomaly_map(test_images).shape  # doctest: +SKIP
    (10, 256, 256)
    """

    def __init__(
        self,
        noise: str = "simplex",
        t_stars: tuple[int, ...] = (100, 250),
        sampling_steps: int = 5,
        n_steps: int = 1000,
        beta_schedule: str = "linear",
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        epochs: int = 50,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 10,
        max_seconds: float | None = None,
        image_size: int | None = 64,
        channels: int | None = None,
        sigma: float = 4.0,
        image_sigma: float = 0.0,
        top_fraction: float = 0.0,
        score_batch_size: int = 32,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.noise = noise
        self.t_stars = t_stars
        self.sampling_steps = sampling_steps
        self.n_steps = n_steps
        self.beta_schedule = beta_schedule
        self.base_channels = base_channels
        self.channel_mults = channel_mults
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.max_seconds = max_seconds
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
