"""DiffusionAD: one-step denoising plus a segmentation head trained on synthetic anomalies.

Zhang, Wang, Ding, Wang, Zou, Zhang, Zhou, "DiffusionAD: Norm-guided One-step Denoising Diffusion
for Anomaly Detection", 2023 (arXiv:2303.08730). A diffusion denoiser maps a noised image back to
a normal-looking image in *one* step (the x0 prediction at a moderate t), and a segmentation
network that sees the input next to that reconstruction is trained, with focal + smooth-L1 loss,
to output the mask of synthetic anomalies (DRAEM-style Perlin-noise blends). The segmentation
output is the anomaly map. This is dmad's supervised use of generated anomalies: with
``synthetic=None`` the same detector scores by the one-step reconstruction error alone, so the
two settings measure what the generated anomalies add.

Departures, all deliberate: the denoiser is trained on normal images only and then frozen, and the
head is trained afterwards on frozen reconstructions (the paper trains both jointly, the denoiser
on anomalous inputs with normal targets); norm-guided one-step denoising (two noise levels
combined) is replaced by averaging the one-step x0 predictions of the ``t_stars`` levels; the
synthetic anomalies come from :func:`dmad.generation.inject_image` (coherent-noise or self
textures instead of the DTD texture set), drawn afresh for half of each batch; the
segmentation net is a small dmad :class:`~dmad.nets.UNet2D` run at t = 0.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from dmad.detectors.base import load_net, net_state
from dmad.detectors.image._denoiser import ImageDenoiserDetector
from dmad.diffusion import TrainConfig, reconstruct, train_model
from dmad.exceptions import DataValidationError
from dmad.generation.image import IMAGE_KINDS, inject_image
from dmad.nets import build_net

__all__ = ["DiffusionAD"]


def _focal_smooth_l1(logits: torch.Tensor, mask: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """DiffusionAD's segmentation loss: focal loss plus smooth L1 on the probabilities."""
    prob = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, mask, reduction="none")
    p_true = prob * mask + (1 - prob) * (1 - mask)
    focal = ((1 - p_true) ** gamma * bce).mean()
    return focal + F.smooth_l1_loss(prob, mask)


class DiffusionAD(ImageDenoiserDetector, name="diffusionad"):
    """One-step diffusion reconstruction + a segmentation head trained on synthetic anomalies.

    Parameters
    ----------
    synthetic : {"perlin", "cutpaste", "scar"} or None
        Kind of synthetic anomaly the head is trained on; None: no head, the map is the one-step
        reconstruction error.
    t_stars : tuple of int
        Noise levels of the one-step reconstruction (x0 predictions are averaged).
    head_channels : int
        Width of the segmentation U-Net.
    head_epochs : int
        Training epochs of the head (each pass draws new synthetic anomalies for half of the
        training images).
    n_steps, beta_schedule, noise : the denoiser's schedule and training noise.
    base_channels, channel_mults : denoiser U-Net width and levels.
    epochs, batch_size, lr, weight_decay, patience, max_seconds : denoiser training
        (``max_seconds`` also caps the head's training).
    image_size, channels, sigma, image_sigma, top_fraction, score_batch_size : see
        :class:`~dmad.detectors.image.ImageDetector`.
    contamination, random_state, device, verbose : as for every detector.

    Examples
    --------
    >>> det = DiffusionAD(epochs=2, head_epochs=2, random_state=0).fit(train)  # doctest: +SKIP
    >>> det.anomaly_map(test).shape  # doctest: +SKIP
    (10, 256, 256)
    """

    def __init__(
        self,
        synthetic: str | None = "perlin",
        t_stars: tuple[int, ...] = (250,),
        head_channels: int = 16,
        head_epochs: int = 30,
        n_steps: int = 1000,
        beta_schedule: str = "linear",
        noise: str = "gaussian",
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        epochs: int = 50,
        batch_size: int = 32,
        lr: float = 2e-4,
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
        self.synthetic = synthetic
        self.t_stars = t_stars
        self.head_channels = head_channels
        self.head_epochs = head_epochs
        self.n_steps = n_steps
        self.beta_schedule = beta_schedule
        self.noise = noise
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

    family: ClassVar[str] = "reconstruction + head on generated anomalies"
    test_params: ClassVar[dict[str, Any]] = {
        **{k: v for k, v in ImageDenoiserDetector.test_params.items() if k != "sampling_steps"},
        "t_stars": (300,),
        "head_channels": 8,
        "head_epochs": 15,
        # the image score averages the top 5 % of the map (about the test defect's area)
        "top_fraction": 0.05,
    }

    # ---- training -----------------------------------------------------------------------------
    def _fit_images(self, x: torch.Tensor) -> None:
        self._check_synthetic()
        super()._fit_images(x)
        self._train_head(x)

    def train_head(self, X: Any) -> DiffusionAD:
        """(Re)train only the segmentation head, on ``synthetic`` anomalies over the fitted
        denoiser, so that kinds of synthetic anomaly can be compared over one denoiser.

        ``X`` are normal training images, as for ``fit``.
        """
        self._check_synthetic()
        self._train_head(self._prepare(X, fitting=False).x)
        return self

    def _check_synthetic(self) -> None:
        if self.synthetic not in (None, *IMAGE_KINDS):
            raise DataValidationError(
                f"synthetic must be None or one of {IMAGE_KINDS}, got {self.synthetic!r}."
            )

    def _train_head(self, x: torch.Tensor) -> None:
        self.head_ = None
        if self.synthetic is None:
            return
        self.head_ = build_net(
            "unet2d",
            in_channels=2 * self.channels_,
            out_channels=1,
            base_channels=self.head_channels,
            channel_mults=[1, 2, 2],
        ).to(self.device_)

        def loss_fn(model, batch, gen):
            # Fresh anomalies at every step (as DRAEM): a fixed synthetic set is memorised.
            seed = int(torch.randint(2**31, (1,), generator=gen, device=gen.device))
            injected = inject_image(
                batch[0].cpu().numpy(), self.synthetic, fraction=0.5, random_state=seed
            )
            images = torch.from_numpy(injected.data).to(self.device_)
            masks = torch.from_numpy(injected.mask).float()[:, None].to(self.device_)
            with torch.no_grad():
                recon = self._reconstruct(images).mean(dim=0)
            return _focal_smooth_l1(self._head_logits(model, images, recon), masks)

        config = TrainConfig(
            epochs=self.head_epochs,
            batch_size=self._train_config(len(x)).batch_size,
            lr=1e-3,
            max_seconds=self.max_seconds,
            val_fraction=0.0,
            # a short EMA: the head sees few steps per epoch and is judged on its final weights
            ema_decay=0.9,
        )
        self.head_result_ = train_model(
            self.head_,
            loss_fn,
            x.to(self.device_),
            config,
            seed=self.seed_ + 1,
            progress=self.verbose,
            desc="diffusionad head",
        )

    @staticmethod
    def _head_logits(head: torch.nn.Module, x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        t = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        return head(torch.cat([x, recon], dim=1) * 2 - 1, t)

    # ---- scoring ------------------------------------------------------------------------------
    def _reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """One-step x0 predictions in [0, 1], shape (len(t_stars), B, C, h, w)."""
        recon = reconstruct(
            self.net_,
            self.schedule_,
            x * 2 - 1,
            list(self.t_stars),
            sampling_steps=1,
            noise_kind=self.noise,
            generator=self._generator(),
            clip_x0=1.0,
        )
        return (recon + 1) / 2

    def _raw_maps(self, x: torch.Tensor) -> torch.Tensor:
        recon = self._reconstruct(x).mean(dim=0)
        if self.head_ is None:
            return ((recon - x) ** 2).mean(dim=1)
        return torch.sigmoid(self._head_logits(self.head_, x, recon))[:, 0]

    # ---- persistence --------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        state = super()._model_state()
        if self.head_ is not None:
            state["head"] = net_state(self.head_)
        return state

    def _restore_model(self, state: dict[str, Any]) -> None:
        super()._restore_model(state)
        self.head_ = load_net(state["head"], self.device_) if "head" in state else None
