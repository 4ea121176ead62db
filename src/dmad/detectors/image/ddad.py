"""DDAD: denoising conditioned on the input, scored in pixel and feature space.

Mousakhan, Brox & Tayyub, "Anomaly Detection with Conditioned Denoising Diffusion Models",
arXiv:2305.15956, 2023 (DDAD). An unconditional DDPM trained on normal images reconstructs a test
image y from x_t (t* < T) while every reverse step is steered toward y: with the noised target
y_t = sqrt(ᾱ_t) y + sqrt(1 - ᾱ_t) ε̂, the noise estimate becomes
ε̂ ← ε̂ - w sqrt(1 - ᾱ_t) (y_t - x_t), so the reconstruction keeps y's normal details while
defects, which the model cannot produce, are still repaired. The map combines the pixel distance
|x0 - y| with the cosine distance of pretrained backbone features of x0 and y.

Departures, deliberate: the feature extractor is used frozen (DDAD fine-tunes it on reconstructions
to suppress domain shift); pixel and feature distances are added as ``pixel + feature_weight *
feature`` rather than rescaled by their maxima per image (which would make every image's map peak
at the same height and hide which images are anomalous); several t* run in one batch and are
averaged; the default resolution (64 px) and U-Net width suit a CPU.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from dmad.detectors.image._denoiser import ImageDenoiserDetector
from dmad.detectors.image._features import FeatureImageDetector
from dmad.diffusion import toward_input

__all__ = ["DDAD"]


class DDAD(ImageDenoiserDetector, FeatureImageDetector, name="ddad"):
    """Input-guided diffusion reconstruction with a pixel + feature distance map.

    Parameters
    ----------
    guidance_weight : float
        w, the strength of the pull toward the input in every reverse step (0 = plain DDIM).
    feature_weight : float
        Weight of the backbone feature distance in the map.
    backbone, layers : str, tuple of int
        Feature extractor and tapped blocks for the feature distance (input ``image_size``).
    noise, t_stars, sampling_steps, n_steps, beta_schedule, base_channels, channel_mults,
    epochs, batch_size, lr, weight_decay, patience, max_seconds :
        as for :class:`~dmad.detectors.image.AnoDDPM`.
    image_size, channels, sigma, image_sigma, top_fraction, score_batch_size : see
        :class:`~dmad.detectors.image.ImageDetector`.
    contamination, random_state, device, verbose : as for every detector.

    Examples
    --------
    >>> det = DDAD(epochs=2, random_state=0).fit(train_images)  # doctest: +SKIP
    >>> det.reconstruct(test_images[:2]).shape  # doctest: +SKIP
    (2, 1, 256, 256)
    """

    def __init__(
        self,
        guidance_weight: float = 3.0,
        feature_weight: float = 0.1,
        backbone: str = "efficientnet_lite0",
        layers: tuple[int, ...] = (2, 4),
        noise: str = "gaussian",
        t_stars: tuple[int, ...] = (150, 250),
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
        self.guidance_weight = guidance_weight
        self.feature_weight = feature_weight
        self.backbone = backbone
        self.layers = layers
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

    family: ClassVar[str] = "reconstruction (input-guided)"
    # the image score averages the top 5 % of the map (about the test defect's area): the single
    # hottest pixel of the feature-distance map is a speck of stripe texture on normal images
    test_params: ClassVar[dict[str, Any]] = {
        **ImageDenoiserDetector.test_params,
        "layers": (1,),
        "top_fraction": 0.05,
    }

    def _denoiser(self, y: torch.Tensor) -> tuple[torch.nn.Module, torch.Tensor]:
        return toward_input(self.net_, self.schedule_, float(self.guidance_weight)), y

    def _error(self, x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        pixel = (recon - x).abs().mean(dim=(0, 2))
        n_t = recon.shape[0]
        feats_x = self._extractor()(x)
        feats_r = self._extractor()(recon.flatten(0, 1))
        feature = torch.zeros_like(pixel)
        for fx, fr in zip(feats_x, feats_r, strict=True):
            cos = F.cosine_similarity(fx.repeat(n_t, 1, 1, 1), fr, dim=1)
            dist = (1 - cos).reshape(n_t, x.shape[0], *cos.shape[1:]).mean(dim=0)
            up = F.interpolate(dist[:, None], size=pixel.shape[-2:], mode="bilinear")[:, 0]
            feature += up / len(feats_x)
        return pixel + self.feature_weight * feature
