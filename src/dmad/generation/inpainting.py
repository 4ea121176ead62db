"""Diffusion-based anomaly synthesis: RePaint inpainting steered away from the normal manifold.

A diffusion model trained on *normal* data re-generates a masked region of a normal sample, as in
RePaint (Lugmayr et al., CVPR 2022; :func:`dmad.diffusion.repaint`) and, for anomalies,
AnomalyDiffusion (Hu et al., AAAI 2024) and DualAnoDiff (Jin et al., 2024): anomalies are
generated *inside a given mask*, so the mask is the exact label, and a few real anomalies can
steer their content.

Plain RePaint would inpaint a *normal* completion. To make the region anomalous, each step's x0
prediction in the mask is pushed along the gradient of an *energy* to be raised (classifier
guidance on x0, :func:`dmad.diffusion.raise_energy`): :func:`reconstruction_energy` (the model's
own denoising error, high off the normal manifold), :func:`example_energy` (closeness to a few
real anomaly examples) or any differentiable detector score.

Departures, all deliberate: dmad trains no text/mask embeddings (AnomalyDiffusion) nor a dual
model (DualAnoDiff); steering by energy gradients replaces them and works with any unconditional
dmad denoiser, so the same code inpaints table columns (MLP), series windows (UNet1D) and images
(UNet2D).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from dmad.diffusion import (
    NoiseSchedule,
    TrainConfig,
    denoising_error,
    denoising_loss,
    raise_energy,
    repaint,
    train_model,
)
from dmad.diffusion.guidance import Energy
from dmad.exceptions import DataValidationError
from dmad.generation._common import Injection
from dmad.nets import build_net
from dmad.ops import Standardizer
from dmad.utils import draw_seed, resolve_device
from dmad.validation import check_array, check_is_fitted

__all__ = ["AnomalyInpainter", "Energy", "example_energy", "reconstruction_energy"]


def reconstruction_energy(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    t: int | None = None,
    *,
    parameterisation: str = "eps",
    seed: int = 0,
) -> Energy:
    """The model's one-step denoising error at level ``t``: high away from the normal manifold.

    Raising it steers inpainting toward content the normal model cannot reconstruct (the score of
    reconstruction detectors such as AnoDDPM / DiffusionAD). The probe noise is fixed by ``seed``.

    Examples
    --------
    >>> from dmad.nets import ResidualMLP
    >>> e = reconstruction_energy(ResidualMLP(3, hidden=8), NoiseSchedule.create("linear", 50))
    >>> e(torch.zeros(2, 3)).shape
    torch.Size([2])
    """
    level = schedule.n_steps // 4 if t is None else int(t)

    def energy(x: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator(device=x.device).manual_seed(seed)
        return denoising_error(
            model,
            schedule,
            x,
            [level],
            space="x0",
            parameterisation=parameterisation,
            generator=gen,
        )[0]

    return energy


def example_energy(examples: torch.Tensor) -> Energy:
    """Minus the mean squared distance to the nearest of a few real anomaly ``examples``.

    Raising it pulls the inpainted region toward the content of real anomalies (few-shot
    conditioning, as AnomalyDiffusion's few real defects); only the masked part moves.

    Examples
    --------
    >>> e = example_energy(torch.ones(2, 3))
    >>> e(torch.zeros(4, 3)).tolist()
    [-1.0, -1.0, -1.0, -1.0]
    """

    def energy(x: torch.Tensor) -> torch.Tensor:
        d = (x[:, None] - examples[None].to(x)).square().flatten(2).mean(dim=2)
        return -d.min(dim=1).values

    return energy


def _default_net(shape: tuple[int, ...]) -> tuple[str, dict[str, Any]]:
    if len(shape) == 2:
        return "mlp", {"in_features": shape[1], "hidden": 128, "n_blocks": 3}
    if len(shape) == 3:
        return "unet1d", {"in_channels": shape[1], "base_channels": 32}
    return "unet2d", {"in_channels": shape[1], "base_channels": 32, "channel_mults": (1, 2, 2)}


class AnomalyInpainter:
    """Train a denoiser on normal data, then inpaint anomalies into masked regions.

    One class for every modality, chosen by the rank of ``X``: a table (n, d) gets a residual
    MLP and masks select *columns* of rows; series windows (N, C, L) a 1-D U-Net; images
    (N, C, H, W) a 2-D U-Net. Each channel / column is standardised with the fit data's
    statistics.

    Parameters
    ----------
    net : str or None
        "mlp", "unet1d" or "unet2d"; None picks by the rank of ``X``.
    net_params : dict, optional
        Keyword arguments of the net (override the defaults).
    n_steps : int
        Length of the (linear) noise schedule.
    epochs, batch_size, lr, max_seconds
        Training settings (:class:`dmad.diffusion.TrainConfig`).
    random_state : int or None
        Seed of training and generation (None: drawn once at ``fit``, kept as ``seed_``).
    device : str
        "auto", "cpu", "cuda", ...

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> gen = AnomalyInpainter(epochs=2, random_state=0).fit(X)
    >>> out = gen.generate(X[:5], sampling_steps=5)
    >>> out.data.shape, out.mask.shape
    ((5, 4), (5, 4))
    """

    def __init__(
        self,
        net: str | None = None,
        net_params: dict[str, Any] | None = None,
        n_steps: int = 1000,
        epochs: int = 100,
        batch_size: int = 64,
        lr: float = 1e-3,
        max_seconds: float | None = None,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.net = net
        self.net_params = net_params
        self.n_steps = n_steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_seconds = max_seconds
        self.random_state = random_state
        self.device = device

    def _to_tensor(self, X: Any, name: str) -> torch.Tensor:
        arr = check_array(X, name=name, ndim=(2, 3, 4))
        return torch.from_numpy(np.ascontiguousarray(arr)).to(self.device_)

    @staticmethod
    def _original(X: Any) -> np.ndarray:
        return check_array(X, name="X", ndim=(2, 3, 4), dtype=np.float64)

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaler_.transform(x)

    def fit(self, X: Any) -> AnomalyInpainter:
        """Train the denoiser on normal samples ``X``: (n, d), (N, C, L) or (N, C, H, W)."""
        self.device_ = resolve_device(self.device)
        x = self._to_tensor(X, "X")
        self.data_shape_ = tuple(x.shape[1:])
        self.scaler_ = Standardizer().fit(x)  # statistics per column / channel
        kind, params = _default_net(tuple(x.shape))
        kind = self.net or kind
        params.update(self.net_params or {})
        self.seed_ = draw_seed(self.random_state)
        self.schedule_ = NoiseSchedule.create("linear", self.n_steps, device=self.device_)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed_)
            self.model_ = build_net(kind, **params).to(self.device_)
        config = TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, max_seconds=self.max_seconds
        )
        self.train_result_ = train_model(
            self.model_,
            lambda m, b, g: denoising_loss(m, self.schedule_, b[0], g),
            self._scale(x),
            config,
            seed=self.seed_,
            progress=False,
            desc="inpainter",
        )
        return self

    def default_mask(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Random masks for ``n`` samples: a third of the columns (tables), a quarter-length
        segment on all channels (series), a Perlin blob covering 2-20 % (images)."""
        shape = self.data_shape_
        if len(shape) == 1:
            k = max(1, math.ceil(shape[0] / 3))
            cols = np.argsort(rng.random((n, shape[0])), axis=1)[:, :k]
            mask = np.zeros((n, shape[0]), bool)
            np.put_along_axis(mask, cols, True, axis=1)
            return mask
        if len(shape) == 2:
            length = max(1, shape[1] // 4)
            start = rng.integers(0, shape[1] - length + 1, size=(n, 1))
            steps = np.arange(shape[1])
            inside = (steps >= start) & (steps < start + length)
            return np.repeat(inside[:, None, :], shape[0], axis=1)
        from dmad.generation.image import inject_image

        blank = np.full((n, 1, *shape[1:]), 0.5)
        return inject_image(blank, "perlin", random_state=rng).mask[:, None]

    def generate(
        self,
        X: Any,
        mask: Any = None,
        *,
        steer: str | Energy | None = "reconstruction",
        guidance_scale: float = 0.2,
        examples: Any = None,
        sampling_steps: int = 50,
        jump_length: int = 5,
        n_resample: int = 2,
        random_state: int | None = None,
    ) -> Injection:
        """Inpaint anomalies into the normal samples ``X`` where ``mask`` is 1.

        Parameters
        ----------
        X : array-like
            Normal samples shaped like the fit data.
        mask : array-like, optional
            Region to regenerate, broadcastable to ``X`` (images: (N, 1, H, W) or (N, H, W));
            default :meth:`default_mask`.
        steer : {"reconstruction", "examples"}, callable or None
            Energy raised inside the mask: the model's denoising error, closeness to
            ``examples`` (real anomalies, shaped like ``X``), a differentiable callable on the
            *scaled* data, or None for plain (normal) RePaint inpainting.
        guidance_scale : float
            Per-step RMS displacement of the masked x0 prediction along the energy gradient, in
            units of the (scaled) data; 0 = unsteered (normal) inpainting.
        examples : array-like, optional
            Real anomalous samples for ``steer="examples"``.
        sampling_steps, jump_length, n_resample : int
            Sampler settings (see :func:`dmad.diffusion.repaint`).
        random_state : int, optional
            Seed of the generation (default: the fit seed).

        Returns
        -------
        Injection
            ``data`` (float64) shaped like ``X`` (unchanged outside the mask), ``labels``
            (1 per sample with a non-empty mask), ``mask`` shaped like ``X`` (images: (N, H, W)).
        """
        check_is_fitted(self, "model_")
        original = self._original(X)
        x = self._to_tensor(original, "X")
        if tuple(x.shape[1:]) != self.data_shape_:
            raise DataValidationError(
                f"X must have sample shape {self.data_shape_} like the fit data, got "
                f"{tuple(x.shape[1:])}."
            )
        seed = self.seed_ if random_state is None else int(random_state)
        if mask is None:
            mask = self.default_mask(len(x), np.random.default_rng(seed))
        m = torch.as_tensor(np.asarray(mask), dtype=x.dtype, device=x.device)
        if x.ndim == 4 and m.ndim == 3:
            m = m[:, None]
        try:
            m = torch.broadcast_to(m, x.shape)
        except RuntimeError as exc:
            raise DataValidationError(
                f"mask of shape {tuple(m.shape)} does not broadcast to X {tuple(x.shape)}."
            ) from exc
        energy = self._energy(steer, examples)
        model = self.model_
        if energy is not None and guidance_scale != 0:
            model = raise_energy(self.model_, self.schedule_, energy, guidance_scale)
        out = repaint(
            model,
            self.schedule_,
            self._scale(x),
            m,
            sampling_steps=sampling_steps,
            jump_length=jump_length,
            n_resample=n_resample,
            cond=None if model is self.model_ else m,
            generator=torch.Generator(device=self.device_).manual_seed(seed),
        )
        element_mask: np.ndarray = (m > 0).cpu().numpy()
        # Copy the kept region from the input itself (float64) so it survives bit for bit.
        data = np.where(element_mask, self.scaler_.inverse_transform(out).cpu().numpy(), original)
        if x.ndim == 4:
            element_mask = np.asarray(element_mask.any(axis=1))
        labels = np.asarray(element_mask.reshape(len(x), -1).any(axis=1), dtype=np.int8)
        return Injection(data, labels, element_mask)

    def _energy(self, steer: str | Energy | None, examples: Any) -> Energy | None:
        if steer is None or callable(steer):
            return steer
        if steer == "reconstruction":
            return reconstruction_energy(self.model_, self.schedule_, seed=self.seed_)
        if steer == "examples":
            if examples is None:
                raise DataValidationError("steer='examples' needs examples= (real anomalies).")
            return example_energy(self._scale(self._to_tensor(examples, "examples")))
        raise DataValidationError(
            f"steer must be 'reconstruction', 'examples', a callable or None, got {steer!r}."
        )
