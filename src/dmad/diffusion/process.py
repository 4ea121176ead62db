"""The forward process q(x_t | x_0), its posterior, and the three output parameterisations.

Ho et al., "Denoising Diffusion Probabilistic Models", NeurIPS 2020 (forward process, posterior,
epsilon-prediction); Salimans & Ho, ICLR 2022 (v-prediction). All functions broadcast per-sample
timesteps over the trailing data dimensions, so one call handles a batch of mixed t.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dmad.diffusion.schedules import NoiseSchedule
from dmad.exceptions import DataValidationError

__all__ = [
    "PARAMETERISATIONS",
    "broadcast_to",
    "call_model",
    "q_sample",
    "q_posterior",
    "split_prediction",
    "prediction_target",
]

PARAMETERISATIONS = ("eps", "x0", "v")


def broadcast_to(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape per-sample ``values`` (B,) so they broadcast against ``x`` (B, ...)."""
    return values.reshape(values.shape[0], *([1] * (x.ndim - 1))).to(x.dtype)


def call_model(
    model: Callable[..., torch.Tensor],
    x: torch.Tensor,
    t: torch.Tensor,
    cond: torch.Tensor | None = None,
) -> torch.Tensor:
    """``model(x, t)`` or ``model(x, t, cond=cond)``; t = -1 (clean data) is fed as 0."""
    t_in = t.clamp(min=0)
    return model(x, t_in) if cond is None else model(x, t_in, cond=cond)


def q_sample(
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    *,
    scale_signal: bool = True,
) -> torch.Tensor:
    """Sample x_t ~ q(x_t | x_0) = N(sqrt(ab_t) x_0, (1 - ab_t) I) with the given ``noise``.

    ``scale_signal=False`` gives the variance-exploding form x_0 + sqrt(1 - ab_t) * noise used by
    DTE (Livernoche et al., ICLR 2024), where the signal is not shrunk.
    """
    ab = broadcast_to(schedule.alpha_bar(t), x0)
    signal = ab.sqrt() * x0 if scale_signal else x0
    return signal + (1 - ab).sqrt() * noise


def q_posterior(
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    t_prev: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t_prev} | x_t, x_0) for ``t_prev < t`` (default t - 1).

    With consecutive steps this is the DDPM posterior with variance
    beta-tilde = (1 - ab_{t-1}) / (1 - ab_t) * beta_t; for strided steps it is the same Gaussian
    conditioning applied to the jump from ``t`` to ``t_prev``.
    """
    t_prev = t - 1 if t_prev is None else t_prev
    ab_t = broadcast_to(schedule.alpha_bar(t), x0)
    ab_prev = broadcast_to(schedule.alpha_bar(t_prev), x0)
    alpha_step = ab_t / ab_prev  # product of (1 - beta) over the jump
    beta_step = 1 - alpha_step
    denom = (1 - ab_t).clamp(min=1e-12)
    mean = (ab_prev.sqrt() * beta_step / denom) * x0 + (
        alpha_step.sqrt() * (1 - ab_prev) / denom
    ) * x_t
    variance = beta_step * (1 - ab_prev) / denom
    return mean, variance


def split_prediction(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t: torch.Tensor,
    output: torch.Tensor,
    parameterisation: str = "eps",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Convert a network output into the pair (x0_hat, eps_hat) for any parameterisation."""
    ab = broadcast_to(schedule.alpha_bar(t), x_t)
    a, s = ab.sqrt(), (1 - ab).clamp(min=0).sqrt()
    if parameterisation == "eps":
        return (x_t - s * output) / a, output
    if parameterisation == "x0":
        return output, (x_t - a * output) / s.clamp(min=1e-12)
    if parameterisation == "v":
        return a * x_t - s * output, s * x_t + a * output
    raise DataValidationError(
        f"parameterisation {parameterisation!r} unknown; choose one of {PARAMETERISATIONS}."
    )


def prediction_target(
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    noise: torch.Tensor,
    t: torch.Tensor,
    parameterisation: str = "eps",
) -> torch.Tensor:
    """The regression target of a denoiser trained in ``parameterisation``."""
    if parameterisation == "eps":
        return noise
    if parameterisation == "x0":
        return x0
    if parameterisation == "v":
        ab = broadcast_to(schedule.alpha_bar(t), x0)
        return ab.sqrt() * noise - (1 - ab).sqrt() * x0
    raise DataValidationError(
        f"parameterisation {parameterisation!r} unknown; choose one of {PARAMETERISATIONS}."
    )
