"""Diffusion-based anomaly synthesis: RePaint inpainting steered away from the normal manifold.

A diffusion model trained on *normal* data re-generates a masked region of a normal sample, as in

- Lugmayr, Danelljan, Romero, Yu, Timofte, Van Gool, "RePaint: Inpainting using Denoising
  Diffusion Probabilistic Models", CVPR 2022: at each reverse step the known region is the
  original noised to the new level (``q_sample``), the unknown region comes from the model, and
  "resampling jumps" (re-noise ``jump_length`` steps, denoise again, ``n_resample`` times)
  harmonise the two;
- Hu, Chen, Yang, Wu, Xu, Li, "AnomalyDiffusion: Few-Shot Anomaly Image Generation with Diffusion
  Model", AAAI 2024, and Jin, Peng, Guo, Cai, Ji, Shen, Zhang, "DualAnoDiff: Dual-Interrelated
  Diffusion Model for Few-Shot Anomaly Image Generation", 2024: anomalies are generated *inside a
  given mask*, so the mask is the exact label, and a few real anomalies can steer their content.

Plain RePaint would inpaint a *normal* completion. To make the region anomalous, each step's x0
prediction in the mask is pushed along the gradient of an *energy* to be raised (classifier
guidance on x0, Dhariwal & Nichol, NeurIPS 2021): :func:`reconstruction_energy` (the model's own
denoising error, high off the normal manifold), :func:`example_energy` (closeness to a few real
anomaly examples) or any differentiable detector score. The push enters through the samplers'
``guidance`` hook of :func:`dmad.diffusion.samplers.denoise_step`, so no new sampler is written.

Departures, all deliberate: dmad trains no text/mask embeddings (AnomalyDiffusion) nor a dual
model (DualAnoDiff); steering by energy gradients replaces them and works with any unconditional
dmad denoiser, so the same code inpaints table columns (MLP), series windows (UNet1D) and images
(UNet2D). Jumps go up in one closed-form forward step ``q(x_{t+j} | x_t)`` rather than step by
step; the known region is copied from the original at the end, so it is preserved exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from dmad.diffusion.noise import make_noise
from dmad.diffusion.process import broadcast_to, q_sample, split_prediction
from dmad.diffusion.samplers import EpsGuidance, denoise_step, timestep_sequence
from dmad.diffusion.schedules import NoiseSchedule
from dmad.diffusion.train import TrainConfig, denoising_loss, train_model
from dmad.exceptions import DataValidationError
from dmad.generation._common import Injection
from dmad.nets import build_net
from dmad.ops import Standardizer
from dmad.utils import progress_disabled, resolve_device
from dmad.validation import check_array, check_is_fitted, check_positive_int

__all__ = [
    "AnomalyInpainter",
    "Energy",
    "example_energy",
    "inpaint",
    "reconstruction_energy",
    "repaint_schedule",
]

#: A differentiable score to *raise*: (B, ...) tensor -> (B,) tensor.
Energy = Callable[[torch.Tensor], torch.Tensor]


def repaint_schedule(
    t_start: int, n_steps: int, jump_length: int = 5, n_resample: int = 1
) -> list[int]:
    """Timesteps of RePaint's walk: down ``n_steps`` strided steps with jumps back up.

    After every ``jump_length`` steps down, the walk returns ``jump_length`` steps up and comes
    down again, ``n_resample - 1`` times; ``n_resample = 1`` is plain sampling. Ends at -1.

    Examples
    --------
    >>> repaint_schedule(9, 4, jump_length=2, n_resample=2)
    [9, 6, 3, 9, 6, 3, 0, -1]
    """
    seq = timestep_sequence(t_start, n_steps)
    jump_length = check_positive_int(jump_length, name="jump_length")
    n_resample = check_positive_int(n_resample, name="n_resample")
    last = len(seq) - 1  # index of -1: never jump from clean data
    remaining = {k: n_resample - 1 for k in range(jump_length, last, jump_length)}
    path, i = [0], 0
    while i < last:
        i += 1
        path.append(i)
        if remaining.get(i, 0) > 0:
            remaining[i] -= 1
            i -= jump_length
            path.append(i)
    return [seq[k] for k in path]


def _steering(
    schedule: NoiseSchedule, energy: Energy, scale: float, mask: torch.Tensor
) -> EpsGuidance:
    """Guidance that moves x0_hat inside ``mask`` by ``scale`` (RMS) along the energy gradient."""
    area = mask.flatten(1).sum(dim=1).clamp(min=1)

    def guide(x_t: torch.Tensor, t: torch.Tensor, x0_hat: torch.Tensor, eps_hat: torch.Tensor):
        with torch.enable_grad():
            x = x0_hat.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(x).sum(), x)
        grad = grad * mask
        rms = (grad.flatten(1).square().sum(dim=1) / area).sqrt().clamp(min=1e-12)
        x0_new = x0_hat + scale * grad / broadcast_to(rms, grad)
        # Re-express the moved x0 as epsilon: denoise_step rebuilds x0_hat from it.
        ab = broadcast_to(schedule.alpha_bar(t), x_t)
        return (x_t - ab.sqrt() * x0_new) / (1 - ab).clamp(min=1e-12).sqrt()

    return guide


@torch.no_grad()
def inpaint(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    mask: torch.Tensor,
    *,
    n_steps: int = 50,
    jump_length: int = 5,
    n_resample: int = 2,
    t_start: int | None = None,
    energy: Energy | None = None,
    guidance_scale: float = 0.0,
    parameterisation: str = "eps",
    cond: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    progress: bool | None = False,
) -> torch.Tensor:
    """RePaint: regenerate ``x0`` where ``mask`` is 1, keep it exactly where ``mask`` is 0.

    Parameters
    ----------
    model, schedule
        A denoiser trained on normal data (any dmad net) and its noise schedule.
    x0 : Tensor (B, ...)
        Samples in the model's (scaled) space.
    mask : Tensor broadcastable to ``x0``
        1 = region to generate, 0 = region to keep.
    n_steps : int
        Strided reverse steps from ``t_start`` (default the last timestep, pure noise).
    jump_length, n_resample : int
        RePaint's resampling: re-noise ``jump_length`` steps back, ``n_resample - 1`` times.
    energy : callable, optional
        Differentiable ``energy(x) -> (B,)`` to raise inside the mask (see module docstring).
    guidance_scale : float
        Per-step RMS displacement of the masked x0 prediction along the energy gradient, in
        units of the (scaled) data; 0 = unsteered (normal) inpainting.
    parameterisation : {"eps", "x0", "v"}
        What the model predicts.
    cond : Tensor, optional
        Conditioning passed to the model.
    generator : torch.Generator, optional
        Source of noise.

    Returns
    -------
    Tensor shaped like ``x0``; equal to ``x0`` wherever ``mask`` is 0.

    Examples
    --------
    >>> from dmad.nets import ResidualMLP
    >>> sched = NoiseSchedule.create("linear", 50)
    >>> x0, mask = torch.zeros(3, 4), torch.tensor([1.0, 0, 0, 0])
    >>> out = inpaint(ResidualMLP(4, hidden=8), sched, x0, mask, n_steps=5)
    >>> bool((out[:, 1:] == 0).all())
    True
    """
    mask = torch.broadcast_to(mask.to(x0.dtype), x0.shape)
    if energy is not None and guidance_scale != 0:
        guidance = _steering(schedule, energy, guidance_scale, mask)
    else:
        guidance = None
    t_start = schedule.n_steps - 1 if t_start is None else int(t_start)
    walk = repaint_schedule(t_start, n_steps, jump_length, n_resample)
    B = x0.shape[0]
    x = q_sample(
        schedule,
        x0,
        torch.full((B,), t_start, device=x0.device),
        make_noise("gaussian", x0.shape, generator=generator, device=x0.device),
    )
    pairs = list(zip(walk[:-1], walk[1:], strict=True))
    for t_now, t_next in tqdm(
        pairs, desc="inpainting", leave=False, disable=progress_disabled(progress)
    ):
        noise = make_noise("gaussian", x0.shape, generator=generator, device=x0.device)
        t = torch.full((B,), t_now, device=x0.device)
        t_to = torch.full((B,), t_next, device=x0.device)
        if t_next > t_now:  # resampling jump: forward-diffuse from t_now to t_next in one go
            ratio = broadcast_to(schedule.alpha_bar(t_to) / schedule.alpha_bar(t), x)
            x = ratio.sqrt() * x + (1 - ratio).sqrt() * noise
            continue
        unknown, _ = denoise_step(
            model,
            schedule,
            x,
            t,
            t_to,
            eta=1.0,
            parameterisation=parameterisation,
            noise=noise,
            cond=cond,
            guidance=guidance,
        )
        known = (
            x0
            if t_next < 0
            else q_sample(
                schedule,
                x0,
                t_to,
                make_noise("gaussian", x0.shape, generator=generator, device=x0.device),
            )
        )
        x = mask * unknown + (1 - mask) * known
    return torch.where(mask > 0, x, x0)


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
        noise = make_noise("gaussian", x.shape, generator=gen, device=x.device)
        t_vec = torch.full((x.shape[0],), level, device=x.device)
        x_t = q_sample(schedule, x, t_vec, noise)
        x0_hat, _ = split_prediction(schedule, x_t, t_vec, model(x_t, t_vec), parameterisation)
        return (x - x0_hat).square().flatten(1).mean(dim=1)

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
    n_train_steps : int
        Diffusion steps of the (linear) schedule.
    epochs, batch_size, lr, max_seconds
        Training settings (:class:`dmad.diffusion.TrainConfig`).
    random_state : int
        Seed of training and generation.
    device : str
        "auto", "cpu", "cuda", ...

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> gen = AnomalyInpainter(epochs=2, random_state=0).fit(X)
    >>> out = gen.generate(X[:5], n_steps=5)
    >>> out.data.shape, out.mask.shape
    ((5, 4), (5, 4))
    """

    def __init__(
        self,
        net: str | None = None,
        net_params: dict[str, Any] | None = None,
        n_train_steps: int = 1000,
        epochs: int = 100,
        batch_size: int = 64,
        lr: float = 1e-3,
        max_seconds: float | None = None,
        random_state: int = 0,
        device: str = "cpu",
    ) -> None:
        self.net = net
        self.net_params = net_params
        self.n_train_steps = n_train_steps
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
        self.schedule_ = NoiseSchedule.create("linear", self.n_train_steps, device=self.device_)
        with torch.random.fork_rng():
            torch.manual_seed(self.random_state)
            self.model_ = build_net(kind, **params).to(self.device_)
        config = TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, max_seconds=self.max_seconds
        )
        self.train_result_ = train_model(
            self.model_,
            lambda m, b, g: denoising_loss(m, self.schedule_, b[0], g),
            self._scale(x),
            config,
            seed=self.random_state,
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
        n_steps: int = 50,
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
            Strength of the steering (see :func:`inpaint`).
        examples : array-like, optional
            Real anomalous samples for ``steer="examples"``.
        n_steps, jump_length, n_resample : int
            Sampler settings (see :func:`inpaint`).
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
        seed = self.random_state if random_state is None else int(random_state)
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
        gen = torch.Generator(device=self.device_).manual_seed(seed)
        out = inpaint(
            self.model_,
            self.schedule_,
            self._scale(x),
            m,
            n_steps=n_steps,
            jump_length=jump_length,
            n_resample=n_resample,
            energy=energy,
            guidance_scale=guidance_scale,
            generator=gen,
        )
        element_mask = (m > 0).cpu().numpy()
        # Copy the kept region from the input itself (float64) so it survives bit for bit.
        data = np.where(element_mask, self.scaler_.inverse_transform(out).cpu().numpy(), original)
        if x.ndim == 4:
            element_mask = element_mask.any(axis=1)
        labels = element_mask.reshape(len(x), -1).any(axis=1).astype(np.int8)
        return Injection(data, labels, element_mask)

    def _energy(self, steer: str | Energy | None, examples: Any) -> Energy | None:
        if steer is None or callable(steer):
            return steer
        if steer == "reconstruction":
            return reconstruction_energy(self.model_, self.schedule_, seed=self.random_state)
        if steer == "examples":
            if examples is None:
                raise DataValidationError("steer='examples' needs examples= (real anomalies).")
            return example_energy(self._scale(self._to_tensor(examples, "examples")))
        raise DataValidationError(
            f"steer must be 'reconstruction', 'examples', a callable or None, got {steer!r}."
        )
