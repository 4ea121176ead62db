"""Reverse-process sampling: a pure step and the explicit loop that calls the model.

Ho et al., NeurIPS 2020 (ancestral sampling); Song, Meng & Ermon, "Denoising Diffusion Implicit
Models", ICLR 2021 (generalised step, eta, inversion). As in diffusers, the step is maths only
(:func:`step`: model output in, x_{t_prev} out) and the loop (:func:`sample_loop`) is the one place
that runs the model; steering (guidance, inpainting) is a function over the loop
(:mod:`dmad.diffusion.guidance`, :mod:`dmad.diffusion.inpainting`), never a hook inside it.
Timesteps are per sample, so several start levels t* run together in one batch.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from dmad.diffusion.noise import make_noise
from dmad.diffusion.process import broadcast_to, call_model, split_prediction
from dmad.diffusion.schedules import NoiseSchedule
from dmad.exceptions import DataValidationError
from dmad.utils import progress_disabled

__all__ = ["ddim_invert", "ddim_sample", "ddpm_sample", "sample_loop", "step", "timestep_sequence"]


def timestep_sequence(t_start: int, sampling_steps: int) -> list[int]:
    """Descending timesteps from ``t_start`` with ``sampling_steps`` model calls, ending at -1.

    ``sampling_steps >= t_start + 1`` gives every step (DDPM); ``1`` jumps straight to x0.

    Examples
    --------
    >>> timestep_sequence(9, 4)
    [9, 6, 3, 0, -1]
    """
    if t_start < 0 or sampling_steps < 1:
        raise DataValidationError(
            f"need t_start >= 0 and sampling_steps >= 1, got {t_start}, {sampling_steps}."
        )
    if sampling_steps >= t_start + 1:
        steps = list(range(t_start, -1, -1))
    else:
        grid = np.linspace(t_start, 0, sampling_steps)
        steps = sorted({int(round(v)) for v in grid}, reverse=True)
    return steps + [-1]


def step(
    schedule: NoiseSchedule,
    model_output: torch.Tensor,
    t: torch.Tensor,
    t_prev: torch.Tensor,
    x_t: torch.Tensor,
    *,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    parameterisation: str = "eps",
    clip_x0: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One generalised DDIM step x_t -> x_{t_prev} from the model's output; returns
    ``(x_prev, x0_hat)``.

    eta = 0 is deterministic DDIM, eta = 1 with consecutive steps is DDPM ancestral sampling
    (``noise`` is then required). ``t`` and ``t_prev`` are per sample; samples with
    ``t == t_prev`` are left unchanged (padding when start levels differ within a batch).

    Examples
    --------
    >>> sched = NoiseSchedule.create("linear", 10)
    >>> x = torch.ones(2, 3)
    >>> x_prev, x0 = step(sched, torch.zeros(2, 3), torch.tensor([5, 5]), torch.tensor([-1, -1]), x)
    >>> torch.allclose(x_prev, x / sched.alpha_bar(torch.tensor(5)).sqrt())
    True
    """
    x0_hat, eps_hat = split_prediction(schedule, x_t, t, model_output, parameterisation)
    if clip_x0 is not None:
        x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
    ab_t = broadcast_to(schedule.alpha_bar(t), x_t)
    ab_prev = broadcast_to(schedule.alpha_bar(t_prev), x_t)
    sigma = (
        eta
        * ((1 - ab_prev) / (1 - ab_t).clamp(min=1e-12) * (1 - ab_t / ab_prev)).clamp(min=0).sqrt()
    )
    x_prev = ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps_hat
    if eta > 0:
        if noise is None:
            raise DataValidationError("a stochastic step (eta > 0) needs noise.")
        x_prev = x_prev + sigma * noise
    same = broadcast_to((t == t_prev).to(x_t.dtype), x_t)
    return same * x_t + (1 - same) * x_prev, x0_hat


@torch.no_grad()
def sample_loop(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    timesteps: torch.Tensor,
    *,
    eta: float = 0.0,
    parameterisation: str = "eps",
    noise_kind: str = "gaussian",
    generator: torch.Generator | None = None,
    cond: torch.Tensor | None = None,
    clip_x0: float | None = None,
    progress: bool | None = False,
) -> torch.Tensor:
    """Run the reverse process along ``timesteps``: shape (K+1,) or (K+1, B), descending to -1.

    The model is called as ``model(x, t)`` (or ``model(x, t, cond=cond)``); wrap it with
    :mod:`dmad.diffusion.guidance` to steer it.
    """
    if timesteps.ndim == 1:
        timesteps = timesteps[:, None].expand(-1, x_t.shape[0])
    timesteps = timesteps.to(x_t.device)
    x = x_t
    for k in tqdm(
        range(timesteps.shape[0] - 1),
        desc="denoising",
        leave=False,
        disable=progress_disabled(progress),
    ):
        t, t_prev = timesteps[k], timesteps[k + 1]
        noise = (
            make_noise(noise_kind, x.shape, generator=generator, device=x.device) if eta else None
        )
        output = call_model(model, x, t, cond)
        x, _ = step(
            schedule,
            output,
            t,
            t_prev,
            x,
            eta=eta,
            noise=noise,
            parameterisation=parameterisation,
            clip_x0=clip_x0,
        )
    return x


def ddpm_sample(
    model: torch.nn.Module, schedule: NoiseSchedule, x_t: torch.Tensor, t_start: int, **kwargs
) -> torch.Tensor:
    """Ancestral DDPM sampling from ``x_t`` at ``t_start`` down to clean data."""
    seq = torch.tensor(timestep_sequence(t_start, t_start + 1))
    return sample_loop(model, schedule, x_t, seq, eta=1.0, **kwargs)


def ddim_sample(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t_start: int,
    sampling_steps: int = 50,
    *,
    eta: float = 0.0,
    **kwargs,
) -> torch.Tensor:
    """DDIM sampling from ``x_t`` at ``t_start`` with ``sampling_steps`` evenly spaced steps."""
    seq = torch.tensor(timestep_sequence(t_start, sampling_steps))
    return sample_loop(model, schedule, x_t, seq, eta=eta, **kwargs)


@torch.no_grad()
def ddim_invert(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t_end: int,
    sampling_steps: int = 50,
    *,
    parameterisation: str = "eps",
    cond: torch.Tensor | None = None,
) -> torch.Tensor:
    """Deterministic DDIM inversion x_0 -> x_{t_end}: the eta = 0 step run forwards in time.

    Uses the usual approximation eps(x_{t_next}) ~ eps(x_t); with enough steps ``ddim_sample`` from
    the result returns close to ``x0``.
    """
    seq = timestep_sequence(t_end, sampling_steps)[::-1]
    x = x0
    for t_cur, t_next in zip(seq[:-1], seq[1:], strict=True):
        t = torch.full((x.shape[0],), t_cur, device=x.device, dtype=torch.long)
        x0_hat, eps_hat = split_prediction(
            schedule, x, t.clamp(min=0), call_model(model, x, t, cond), parameterisation
        )
        if t_cur < 0:  # the input is clean data: trust it over the prediction
            x0_hat = x
        ab_next = schedule.alpha_bar(torch.tensor(t_next)).to(x.dtype)
        x = ab_next.sqrt() * x0_hat + (1 - ab_next).sqrt() * eps_hat
    return x
