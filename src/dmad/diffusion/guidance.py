"""Guidance as functions over the sampling loop: each wraps a denoiser into a steered one.

A wrapped denoiser is called like any dmad net, ``guided(x_t, t, cond=...)``, and returns the
steered noise estimate ε̂ (so the loop runs it with ``parameterisation="eps"``). Its per-sample
side information — the input to stay close to, the known values, a mask — travels as ``cond``,
so the samplers and :func:`dmad.diffusion.scoring.reconstruct` repeat and chunk it with the batch
like any conditioning. The wrapped model itself is unconditional.

- :func:`toward_input`: the conditioning of DDAD (Mousakhan, Brox & Tayyub, 2023): every step is
  pulled toward a target image y, ε̂ ← ε̂ - w sqrt(1 - ᾱ_t) (y_t - x_t) with
  y_t = sqrt(ᾱ_t) y + sqrt(1 - ᾱ_t) ε̂.
- :func:`keep_known`: masked replacement, the DDIM form of RePaint's known-region step (Lugmayr
  et al., CVPR 2022): where the mask says "known", ε̂ becomes the noise that makes the x0
  estimate equal the known values.
- :func:`raise_energy`: classifier guidance on x0 (Dhariwal & Nichol, NeurIPS 2021): the x0
  estimate moves by a fixed RMS step along the gradient of a differentiable energy, inside a mask.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dmad.diffusion.process import broadcast_to, split_prediction
from dmad.diffusion.schedules import NoiseSchedule

__all__ = ["Energy", "Guided", "keep_known", "raise_energy", "toward_input"]

#: A differentiable score to *raise*: (B, ...) tensor -> (B,) tensor.
Energy = Callable[[torch.Tensor], torch.Tensor]
#: (x_t, t, x0_hat, eps_hat, cond) -> steered eps_hat
Steer = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor
]


class Guided(nn.Module):
    """A denoiser whose noise estimate is steered by ``steer`` (built by the functions below).

    Parameters
    ----------
    model : nn.Module
        The unconditional denoiser, called as ``model(x_t, t)``.
    schedule : NoiseSchedule
        Its noise schedule.
    steer : callable
        ``steer(x_t, t, x0_hat, eps_hat, cond) -> eps_hat``.
    parameterisation : {"eps", "x0", "v"}
        What ``model`` predicts; the wrapper always returns ε̂.
    """

    def __init__(
        self,
        model: nn.Module,
        schedule: NoiseSchedule,
        steer: Steer,
        parameterisation: str = "eps",
    ) -> None:
        super().__init__()
        self.model = model
        self.schedule = schedule
        self.steer = steer
        self.parameterisation = parameterisation

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        if cond is None:
            raise ValueError("a guided denoiser needs its target as cond=...")
        x0_hat, eps_hat = split_prediction(
            self.schedule, x, t, self.model(x, t), self.parameterisation
        )
        return self.steer(x, t, x0_hat, eps_hat, cond)


def toward_input(
    model: nn.Module, schedule: NoiseSchedule, weight: float, parameterisation: str = "eps"
) -> Guided:
    """DDAD's input conditioning: ``cond`` is the target the reconstruction is pulled toward.

    Examples
    --------
    >>> from dmad.nets import ResidualMLP
    >>> sched = NoiseSchedule.create("linear", 50)
    >>> guided = toward_input(ResidualMLP(3, hidden=8), sched, weight=2.0)
    >>> guided(torch.zeros(4, 3), torch.full((4,), 10), cond=torch.ones(4, 3)).shape
    torch.Size([4, 3])
    """

    def steer(x_t, t, x0_hat, eps_hat, target):
        ab = broadcast_to(schedule.alpha_bar(t), x_t)
        y_t = ab.sqrt() * target + (1 - ab).sqrt() * eps_hat
        return eps_hat - weight * (1 - ab).sqrt() * (y_t - x_t)

    return Guided(model, schedule, steer, parameterisation)


def keep_known(model: nn.Module, schedule: NoiseSchedule, parameterisation: str = "eps") -> Guided:
    """Masked replacement: ``cond`` is ``cat([values, hidden], dim=1)`` — the known values and a
    0/1 mask of the same shape (1 = to be generated, 0 = known); known entries follow the values.

    Examples
    --------
    >>> from dmad.nets import ResidualMLP
    >>> guided = keep_known(ResidualMLP(2, hidden=8), NoiseSchedule.create("linear", 50))
    >>> cond = torch.cat([torch.ones(1, 2), torch.tensor([[1.0, 0.0]])], dim=1)
    >>> guided(torch.zeros(1, 2), torch.tensor([10]), cond=cond).shape
    torch.Size([1, 2])
    """

    def steer(x_t, t, x0_hat, eps_hat, cond):
        values, hidden = cond.chunk(2, dim=1)
        ab = broadcast_to(schedule.alpha_bar(t), x_t)
        eps_known = (x_t - ab.sqrt() * values) / (1 - ab).clamp_min(1e-8).sqrt()
        return hidden * eps_hat + (1 - hidden) * eps_known

    return Guided(model, schedule, steer, parameterisation)


def raise_energy(
    model: nn.Module,
    schedule: NoiseSchedule,
    energy: Energy,
    scale: float,
    parameterisation: str = "eps",
) -> Guided:
    """Classifier guidance on x0: ``cond`` is the 0/1 mask (shaped like x) where the x0 estimate
    moves by ``scale`` (RMS over the mask) along the gradient of ``energy``.

    Examples
    --------
    >>> from dmad.nets import ResidualMLP
    >>> sched = NoiseSchedule.create("linear", 50)
    >>> guided = raise_energy(ResidualMLP(2, hidden=8), sched, lambda x: x.sum(1), scale=0.1)
    >>> guided(torch.zeros(3, 2), torch.full((3,), 5), cond=torch.ones(3, 2)).shape
    torch.Size([3, 2])
    """

    def steer(x_t, t, x0_hat, eps_hat, mask):
        area = mask.flatten(1).sum(dim=1).clamp(min=1)
        with torch.enable_grad():
            x = x0_hat.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(x).sum(), x)
        grad = grad * mask
        rms = (grad.flatten(1).square().sum(dim=1) / area).sqrt().clamp(min=1e-12)
        x0_new = x0_hat + scale * grad / broadcast_to(rms, grad)
        # the moved x0 as epsilon: the step rebuilds x0_hat from it
        ab = broadcast_to(schedule.alpha_bar(t), x_t)
        return (x_t - ab.sqrt() * x0_new) / (1 - ab).clamp(min=1e-12).sqrt()

    return Guided(model, schedule, steer, parameterisation)
