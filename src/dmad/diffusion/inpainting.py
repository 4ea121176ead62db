"""RePaint inpainting: regenerate a masked region with a denoiser trained on complete samples.

Lugmayr, Danelljan, Romero, Yu, Timofte, Van Gool, "RePaint: Inpainting using Denoising Diffusion
Probabilistic Models", CVPR 2022. At each reverse step the known region is the original noised to
the new level (``q_sample``) and the unknown region comes from the model; "resampling jumps"
(re-noise ``jump_length`` steps, denoise again, ``n_resample - 1`` times) harmonise the two.
Steering the generated region (e.g. toward anomalies) is done by passing a wrapped denoiser from
:mod:`dmad.diffusion.guidance`.

Departures: jumps go up in one closed-form forward step q(x_{t+j} | x_t) rather than step by step;
the known region is copied from the original at the end, so it is preserved exactly.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from dmad.diffusion.noise import make_noise
from dmad.diffusion.process import broadcast_to, call_model, q_sample
from dmad.diffusion.samplers import step, timestep_sequence
from dmad.diffusion.schedules import NoiseSchedule
from dmad.utils import progress_disabled
from dmad.validation import check_positive_int

__all__ = ["repaint", "repaint_schedule"]


def repaint_schedule(
    t_start: int, sampling_steps: int, jump_length: int = 5, n_resample: int = 1
) -> list[int]:
    """Timesteps of RePaint's walk: down ``sampling_steps`` strided steps with jumps back up.

    After every ``jump_length`` steps down, the walk returns ``jump_length`` steps up and comes
    down again, ``n_resample - 1`` times; ``n_resample = 1`` is plain sampling. Ends at -1.

    Examples
    --------
    >>> repaint_schedule(9, 4, jump_length=2, n_resample=2)
    [9, 6, 3, 9, 6, 3, 0, -1]
    """
    seq = timestep_sequence(t_start, sampling_steps)
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


@torch.no_grad()
def repaint(
    model: nn.Module,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    mask: torch.Tensor,
    *,
    sampling_steps: int = 50,
    jump_length: int = 5,
    n_resample: int = 2,
    t_start: int | None = None,
    parameterisation: str = "eps",
    cond: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    progress: bool | None = False,
) -> torch.Tensor:
    """Regenerate ``x0`` where ``mask`` is 1, keep it exactly where ``mask`` is 0.

    Parameters
    ----------
    model, schedule
        A denoiser trained on normal data (any dmad net, or one wrapped by
        :mod:`dmad.diffusion.guidance`) and its noise schedule.
    x0 : Tensor (B, ...)
        Samples in the model's (scaled) space.
    mask : Tensor broadcastable to ``x0``
        1 = region to generate, 0 = region to keep.
    sampling_steps : int
        Strided reverse steps from ``t_start`` (default the last timestep, pure noise).
    jump_length, n_resample : int
        RePaint's resampling: re-noise ``jump_length`` steps back, ``n_resample - 1`` times.
    parameterisation : {"eps", "x0", "v"}
        What the model predicts.
    cond : Tensor, optional
        Passed to the model at every step (a guided model's mask or target).
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
    >>> out = repaint(ResidualMLP(4, hidden=8), sched, x0, mask, sampling_steps=5)
    >>> bool((out[:, 1:] == 0).all())
    True
    """
    mask = torch.broadcast_to(mask.to(x0.dtype), x0.shape)
    t_start = schedule.n_steps - 1 if t_start is None else int(t_start)
    walk = repaint_schedule(t_start, sampling_steps, jump_length, n_resample)
    batch = x0.shape[0]

    def noise() -> torch.Tensor:
        return make_noise("gaussian", x0.shape, generator=generator, device=x0.device)

    x = q_sample(schedule, x0, torch.full((batch,), t_start, device=x0.device), noise())
    pairs = list(zip(walk[:-1], walk[1:], strict=True))
    for t_now, t_next in tqdm(
        pairs, desc="inpainting", leave=False, disable=progress_disabled(progress)
    ):
        fresh = noise()
        t = torch.full((batch,), t_now, device=x0.device)
        t_to = torch.full((batch,), t_next, device=x0.device)
        if t_next > t_now:  # resampling jump: forward-diffuse from t_now to t_next in one go
            ratio = broadcast_to(schedule.alpha_bar(t_to) / schedule.alpha_bar(t), x)
            x = ratio.sqrt() * x + (1 - ratio).sqrt() * fresh
            continue
        unknown, _ = step(
            schedule,
            call_model(model, x, t, cond),
            t,
            t_to,
            x,
            eta=1.0,
            noise=fresh,
            parameterisation=parameterisation,
        )
        known = x0 if t_next < 0 else q_sample(schedule, x0, t_to, noise())
        x = mask * unknown + (1 - mask) * known
    return torch.where(mask > 0, x, x0)
