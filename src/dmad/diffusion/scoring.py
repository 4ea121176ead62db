"""The scoring rules of the reconstruction and loss families, in one place.

- :func:`reconstruct`: noise a sample to each level t* and denoise it back with a few DDIM steps
  (partial diffusion, Wyatt et al., "AnoDDPM", CVPR-W 2022); normal samples return close to
  themselves, anomalies are pulled toward the normal data and move.
- :func:`denoising_error`: the denoiser's own error at a grid of levels, in noise space (the
  training objective; TabADM) or in x0 space (one-jump reconstruction error).
- :func:`time_estimate`: Diffusion Time Estimation (Livernoche et al., ICLR 2024): the noise
  variance under which a sample is most likely a noised copy of its nearest normal neighbours.
- :func:`prediction_errors`: the elementwise error of one noising at given levels, which both of
  the above and the training loss (:func:`dmad.diffusion.train.denoising_loss`) are built on.

All levels of a call run in one batch (samples are repeated level-major: row ``k * B + i`` is
sample ``i`` at level ``k``), chunked over samples so that at most ``max_batch`` rows meet the
network at once. ``noise`` says how the forward noise is drawn:

- ``"fresh"``: an independent draw for every sample and level (the papers' choice);
- ``"shared"``: one draw per level, shared by every sample (common random numbers: a sample's
  score then does not depend on which other samples are scored with it, and differences between
  samples come from the data, not from the noise);
- a Tensor: the draws themselves, ``(levels, *sample_shape)`` (shared) or
  ``(levels, B, *sample_shape)`` (per sample), e.g. bounded or seeded per position.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dmad.diffusion.noise import make_noise
from dmad.diffusion.process import call_model, prediction_target, q_sample, split_prediction
from dmad.diffusion.samplers import sample_loop, timestep_sequence
from dmad.diffusion.schedules import NoiseSchedule
from dmad.exceptions import DataValidationError

__all__ = [
    "MIN_SHAPE",
    "NoiseSpec",
    "denoising_error",
    "inverse_gamma_shape",
    "prediction_errors",
    "reconstruct",
    "time_estimate",
]

#: "fresh", "shared" or the noise draws themselves (see the module docstring)
NoiseSpec = str | torch.Tensor
#: what an error is measured in: the noise, the clean sample, or the model's own target
SPACES = ("eps", "x0", "v")
#: smallest inverse-gamma shape: d/2 - 1 at d = 3; keeps the DTE posterior proper for d <= 2
MIN_SHAPE = 0.5


def inverse_gamma_shape(n_features: int) -> float:
    """Shape ``d/2 - 1`` of DTE's posterior over the noise variance, clamped at :data:`MIN_SHAPE`.

    Examples
    --------
    >>> inverse_gamma_shape(10), inverse_gamma_shape(2)
    (4.0, 0.5)
    """
    return max(n_features / 2.0 - 1.0, MIN_SHAPE)


def time_estimate(sq_distances: torch.Tensor, n_features: int) -> torch.Tensor:
    """DTE's non-parametric diffusion-time estimate from squared distances to k neighbours.

    With the k nearest normal samples as candidate clean points, the likelihood
    N(x; x_i, s^2 I) as a function of the variance s^2 is an inverse-gamma density of shape
    d/2 - 1 and scale ||x - x_i||^2 / 2; averaged over the k neighbours, the posterior mode of
    the noise variance is ``mean_k ||x - x_i||^2 / (2 (shape + 1))``: continuous and uncapped,
    so far-away points keep their order.

    Parameters
    ----------
    sq_distances : Tensor of shape (m, k)
        Squared distances to the k nearest fit samples (:func:`dmad.ops.knn`).
    n_features : int
        Dimension d of the samples.

    Examples
    --------
    >>> time_estimate(torch.tensor([[4.0, 8.0]]), n_features=4).tolist()
    [1.5]
    """
    return sq_distances.mean(dim=1) / (2 * (inverse_gamma_shape(n_features) + 1))


def prediction_errors(
    model: nn.Module,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    *,
    space: str = "eps",
    parameterisation: str = "eps",
    cond: torch.Tensor | None = None,
) -> torch.Tensor:
    """Elementwise squared error of the model on ``x0`` noised at per-sample levels ``t``.

    ``space`` is what is compared: ``"eps"`` (ε̂ against the noise), ``"x0"`` (x̂0 against
    ``x0``) or ``"v"``; in the model's own ``parameterisation`` the raw output is compared with
    its regression target (the training loss). Differentiable: wrap in ``torch.no_grad()`` to
    score.
    """
    if space not in SPACES:
        raise DataValidationError(f"space must be one of {SPACES}, got {space!r}.")
    x_t = q_sample(schedule, x0, t, noise)
    output = call_model(model, x_t, t, cond)
    if space == parameterisation:
        return (output - prediction_target(schedule, x0, noise, t, space)) ** 2
    if space == "v":
        raise DataValidationError("space='v' needs a v-parameterised model.")
    x0_hat, eps_hat = split_prediction(schedule, x_t, t, output, parameterisation)
    return (x0_hat - x0) ** 2 if space == "x0" else (eps_hat - noise) ** 2


def _levels(schedule: NoiseSchedule, levels: Sequence[int], name: str) -> list[int]:
    values = [int(t) for t in levels]
    if not values:
        raise DataValidationError(f"{name} is empty; pass at least one noise level.")
    bad = [t for t in values if not 0 <= t < schedule.n_steps]
    if bad:
        raise DataValidationError(f"{name} {bad} outside 0..{schedule.n_steps - 1}.")
    return values


def _chunks(batch: int, n_levels: int, max_batch: int | None) -> list[slice]:
    """Sample ranges such that ``n_levels * len(range) <= max_batch`` (at least one sample)."""
    size = batch if max_batch is None else max(1, int(max_batch) // n_levels)
    return [slice(i, min(i + size, batch)) for i in range(0, batch, size)]


def _noise_for(
    spec: NoiseSpec,
    shape: tuple[int, ...],
    n_levels: int,
    kind: str,
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor | None:
    """Shared draws (levels, 1, *sample) for "shared" or a shared tensor, else None."""
    if isinstance(spec, torch.Tensor):
        if spec.ndim == len(shape):  # (levels, *sample): shared by every sample
            return spec.to(device)[:, None]
        return None
    if spec == "shared":
        return make_noise(kind, (n_levels, *shape[1:]), generator=generator, device=device)[:, None]
    if spec != "fresh":
        raise DataValidationError(f"noise must be 'fresh', 'shared' or a Tensor, got {spec!r}.")
    return None


def _chunk_noise(
    spec: NoiseSpec,
    shared: torch.Tensor | None,
    rows: slice,
    chunk_shape: tuple[int, ...],
    n_levels: int,
    kind: str,
    generator: torch.Generator | None,
    device: torch.device,
) -> torch.Tensor:
    """Noise (levels * rows, *sample) for one chunk of samples, level-major."""
    flat = (n_levels * chunk_shape[0], *chunk_shape[1:])
    if shared is not None:
        return shared.expand(n_levels, *chunk_shape).reshape(flat)
    if isinstance(spec, torch.Tensor):  # (levels, B, *sample)
        return spec[:, rows].to(device).reshape(flat)
    return make_noise(kind, flat, generator=generator, device=device)


def _repeat(x: torch.Tensor, n: int) -> torch.Tensor:
    return x.repeat(n, *([1] * (x.ndim - 1)))


@torch.no_grad()
def reconstruct(
    model: nn.Module,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t_stars: Sequence[int],
    sampling_steps: int = 10,
    *,
    noise: NoiseSpec = "fresh",
    eta: float = 0.0,
    parameterisation: str = "eps",
    noise_kind: str = "gaussian",
    generator: torch.Generator | None = None,
    cond: torch.Tensor | None = None,
    clip_x0: float | None = None,
    max_batch: int | None = None,
    progress: bool | None = False,
) -> torch.Tensor:
    """Noise ``x0`` to each t* and denoise it back; reconstructions of shape (len(t_stars), B, ...).

    Each t* gets its own step sequence of at most ``sampling_steps`` model calls (shorter
    sequences are padded with no-op steps), and all t* run in one batch.

    Parameters
    ----------
    model, schedule
        The denoiser (plain, or wrapped by :mod:`dmad.diffusion.guidance`) and its schedule.
    x0 : Tensor (B, ...)
        What is noised (the input, or e.g. a masked copy of it).
    t_stars : sequence of int
        Start levels (each < ``schedule.n_steps``); repeat a level for several noise draws.
    sampling_steps : int
        DDIM steps per reconstruction (1: the one-jump x0 prediction).
    noise : "fresh", "shared" or Tensor
        The forward noise (see the module docstring).
    eta, parameterisation, noise_kind, generator, cond, clip_x0
        As for :func:`dmad.diffusion.samplers.sample_loop`; ``cond`` (B, ...) follows the batch.
    max_batch : int or None
        Most rows (samples × levels) per forward pass; None: one pass.

    Examples
    --------
    >>> from dmad.nets import ResidualMLP
    >>> sched = NoiseSchedule.create("linear", 100)
    >>> reconstruct(ResidualMLP(3, hidden=8), sched, torch.zeros(5, 3), [10, 50], 2).shape
    torch.Size([2, 5, 3])
    """
    levels = _levels(schedule, t_stars, "t_stars")
    seqs = [timestep_sequence(t, sampling_steps) for t in levels]
    length = max(len(s) for s in seqs)
    padded = torch.tensor([[s[0]] * (length - len(s)) + s for s in seqs], device=x0.device)
    shape, n = tuple(x0.shape), len(levels)
    shared = _noise_for(noise, shape, n, noise_kind, generator, x0.device)
    out = []
    for rows in _chunks(shape[0], n, max_batch):
        x = x0[rows]
        eps = _chunk_noise(noise, shared, rows, tuple(x.shape), n, noise_kind, generator, x.device)
        timesteps = padded.T.repeat_interleave(x.shape[0], dim=1)  # (steps, n * rows)
        x_t = q_sample(schedule, _repeat(x, n), timesteps[0], eps)
        recon = sample_loop(
            model,
            schedule,
            x_t,
            timesteps,
            eta=eta,
            parameterisation=parameterisation,
            noise_kind=noise_kind,
            generator=generator,
            cond=None if cond is None else _repeat(cond[rows], n),
            clip_x0=clip_x0,
            progress=progress,
        )
        out.append(recon.reshape(n, *x.shape))
    return torch.cat(out, dim=1)


def denoising_error(
    model: nn.Module,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t_grid: Sequence[int],
    *,
    space: str = "eps",
    noise: NoiseSpec = "fresh",
    parameterisation: str = "eps",
    noise_kind: str = "gaussian",
    generator: torch.Generator | None = None,
    cond: torch.Tensor | None = None,
    max_batch: int | None = None,
) -> torch.Tensor:
    """Mean squared denoising error per sample at each level: shape (len(t_grid), B).

    One noising and one model call per level (see :func:`prediction_errors` for ``space``).
    Differentiable (an energy for guided generation); wrap in ``torch.no_grad()`` to score.

    Examples
    --------
    >>> from dmad.nets import ResidualMLP
    >>> sched = NoiseSchedule.create("linear", 100)
    >>> denoising_error(ResidualMLP(3, hidden=8), sched, torch.zeros(5, 3), [0, 50, 99]).shape
    torch.Size([3, 5])
    """
    levels = _levels(schedule, t_grid, "t_grid")
    shape, n = tuple(x0.shape), len(levels)
    shared = _noise_for(noise, shape, n, noise_kind, generator, x0.device)
    level_t = torch.tensor(levels, device=x0.device)
    out = []
    for rows in _chunks(shape[0], n, max_batch):
        x = x0[rows]
        eps = _chunk_noise(noise, shared, rows, tuple(x.shape), n, noise_kind, generator, x.device)
        t = level_t.repeat_interleave(x.shape[0])
        errors = prediction_errors(
            model,
            schedule,
            _repeat(x, n),
            t,
            eps,
            space=space,
            parameterisation=parameterisation,
            cond=None if cond is None else _repeat(cond[rows], n),
        )
        out.append(errors.flatten(1).mean(dim=1).reshape(n, x.shape[0]))
    return torch.cat(out, dim=1)
