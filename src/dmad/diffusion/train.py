"""The one training loop every dmad network uses.

AdamW, an exponential moving average (EMA) of the weights, gradient-norm clipping, a seeded data
order, early stopping on a held-out slice of the training data, an optional wall-clock budget and a
progress bar. Detectors supply only ``loss_fn(model, batch, generator)``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from dmad.diffusion.noise import make_noise
from dmad.diffusion.schedules import NoiseSchedule
from dmad.diffusion.scoring import prediction_errors
from dmad.exceptions import DataValidationError
from dmad.utils import progress_disabled

__all__ = ["TrainConfig", "TrainResult", "denoising_loss", "loss_timesteps", "train_model"]

LossFn = Callable[[torch.nn.Module, tuple[torch.Tensor, ...], torch.Generator], torch.Tensor]


@dataclass
class TrainConfig:
    """Optimisation settings shared by all detectors.

    ``patience`` counts epochs without a relative improvement of ``min_delta`` in the held-out loss
    (``val_fraction`` of the rows; 0 disables early stopping). ``max_seconds`` caps training time.
    """

    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.99
    grad_clip: float | None = 1.0
    val_fraction: float = 0.1
    patience: int = 10
    min_delta: float = 1e-3
    max_seconds: float | None = None


@dataclass
class TrainResult:
    """What training produced: per-epoch losses and why it stopped."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped: str = "epochs"
    seconds: float = 0.0


def _split(n: int, val_fraction: float, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    perm = torch.randperm(n, generator=generator)
    n_val = int(round(n * val_fraction))
    if n_val < 8 or n - n_val < 8:  # too few rows for a meaningful held-out loss
        return perm, perm[:0]
    return perm[n_val:], perm[:n_val]


@torch.no_grad()
def _mean_loss(
    model: torch.nn.Module,
    loss_fn: LossFn,
    tensors: Sequence[torch.Tensor],
    index: torch.Tensor,
    batch_size: int,
    seed: int,
) -> float:
    """Held-out loss with a fixed noise draw so that epochs are comparable."""
    gen = torch.Generator(device=tensors[0].device).manual_seed(seed)
    total, count = 0.0, 0
    for start in range(0, len(index), batch_size):
        idx = index[start : start + batch_size]
        batch = tuple(t[idx.to(t.device)] for t in tensors)
        total += float(loss_fn(model, batch, gen)) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def train_model(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: torch.Tensor | Sequence[torch.Tensor],
    config: TrainConfig,
    *,
    seed: int | None = 0,
    progress: bool | None = None,
    desc: str = "training",
) -> TrainResult:
    """Train ``model`` in place on ``data``; on return it holds the best EMA weights.

    Parameters
    ----------
    model : nn.Module
        Network already on the training device.
    loss_fn : callable
        ``loss_fn(model, batch, generator) -> scalar`` where ``batch`` is a tuple of tensors.
    data : Tensor or sequence of Tensors
        Training tensors sharing the first dimension, on the model's device.
    config : TrainConfig
        Optimisation settings.
    seed : int or None
        Seeds data order, held-out split and noise draws.
    progress : bool or None
        Show a progress bar (None: only on a terminal).

    Examples
    --------
    >>> net = torch.nn.Linear(2, 2)
    >>> x = torch.randn(64, 2)
    >>> res = train_model(net, lambda m, b, g: ((m(b[0]) - b[0]) ** 2).mean(), x,
    ...                   TrainConfig(epochs=2, batch_size=16), progress=False)
    >>> len(res.train_loss)
    2
    """
    tensors = (data,) if isinstance(data, torch.Tensor) else tuple(data)
    n = tensors[0].shape[0]
    if n == 0:
        raise DataValidationError("training data is empty.")
    if config.epochs < 1 or config.batch_size < 1:
        raise DataValidationError("epochs and batch_size must be >= 1.")
    device = tensors[0].device
    seed = 0 if seed is None else int(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    cpu_gen = torch.Generator().manual_seed(seed)
    train_idx, val_idx = _split(n, config.val_fraction, cpu_gen)
    # cap the batch so that small data sets still get several optimiser steps per epoch
    batch_size = max(1, min(config.batch_size, len(train_idx) // 4))

    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    best_state = copy.deepcopy(ema.state_dict())
    best_val, stale = float("inf"), 0
    result = TrainResult()
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc=desc, leave=False, disable=progress_disabled(progress))
    for epoch in bar:
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=cpu_gen)]
        running, seen = 0.0, 0
        for s in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[s : s + batch_size].to(device)
            loss = loss_fn(model, tuple(t[idx] for t in tensors), gen)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimiser.step()
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
                    p_ema.lerp_(p, 1 - config.ema_decay)
                for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
                    b_ema.copy_(b)
            running += float(loss.detach()) * len(idx)
            seen += len(idx)
        result.train_loss.append(running / max(seen, 1))
        postfix = {"loss": f"{result.train_loss[-1]:.4f}"}
        if len(val_idx):
            val = _mean_loss(ema, loss_fn, tensors, val_idx, 4 * batch_size, seed + 1)
            result.val_loss.append(val)
            postfix["val"] = f"{val:.4f}"
            if val < best_val * (1 - config.min_delta):
                best_val, stale, result.best_epoch = val, 0, epoch
                best_state = copy.deepcopy(ema.state_dict())
            else:
                stale += 1
        else:
            best_state, result.best_epoch = copy.deepcopy(ema.state_dict()), epoch
        bar.set_postfix(postfix)
        if len(val_idx) and stale >= config.patience:
            result.stopped = "early_stopping"
            break
        if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
            result.stopped = "max_seconds"
            break
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


def loss_timesteps(
    x0: torch.Tensor, n_steps: int, generator: torch.Generator, *, training: bool, grid: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows and diffusion timesteps for one evaluation of a training loss.

    In training every row gets its own t ~ U{0, ..., T-1}. For the held-out loss that early
    stopping watches (``training=False``), every row is taken at ``grid`` evenly spaced t
    instead: with a small held-out slice, random t make that loss so noisy that a lucky early
    epoch (even the untrained network) can look best and stop training.

    Examples
    --------
    >>> rows, t = loss_timesteps(torch.zeros(2, 3), 100, torch.Generator(), training=False, grid=4)
    >>> rows.shape, t.tolist()
    (torch.Size([8, 3]), [0, 33, 66, 99, 0, 33, 66, 99])
    """
    if training:
        t = torch.randint(0, n_steps, (x0.shape[0],), generator=generator, device=x0.device)
        return x0, t
    steps = torch.linspace(0, n_steps - 1, min(grid, n_steps), device=x0.device).long()
    return x0.repeat_interleave(len(steps), dim=0), steps.repeat(x0.shape[0])


def denoising_loss(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    generator: torch.Generator,
    *,
    parameterisation: str = "eps",
    noise_kind: str = "gaussian",
    cond: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The standard diffusion objective: MSE to the parameterisation's target at uniform t.

    ``weights`` (same shape as ``x0``) restricts the loss, e.g. to observed entries of a series
    with missing values or to the masked part in imputation training.
    """
    t = torch.randint(0, schedule.n_steps, (x0.shape[0],), generator=generator, device=x0.device)
    noise = make_noise(noise_kind, x0.shape, generator=generator, device=x0.device)
    err = prediction_errors(
        model,
        schedule,
        x0,
        t,
        noise,
        space=parameterisation,
        parameterisation=parameterisation,
        cond=cond,
    )
    if weights is None:
        return err.mean()
    return (err * weights).sum() / weights.sum().clamp(min=1)
