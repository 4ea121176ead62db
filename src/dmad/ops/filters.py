"""Smoothing filters: Gaussian blur of maps and masked moving averages of series."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_blur", "moving_average"]


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian smoothing of (B, H, W) maps with reflected borders (truncated at 4σ).

    Examples
    --------
    >>> m = torch.zeros(1, 21, 21); m[0, 10, 10] = 1.0
    >>> out = gaussian_blur(m, 1.0)
    >>> round(float(out.sum()), 4), bool(out[0, 10, 10] < 1)
    (1.0, True)
    """
    if sigma <= 0:
        return maps
    radius = min(int(math.ceil(4 * sigma)), min(maps.shape[-2:]) - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.pad(maps[:, None], (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    x = F.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[:, 0]


def moving_average(x: torch.Tensor, mask: torch.Tensor, kernel: int) -> torch.Tensor:
    """Masked centred moving average over the last axis of (B, C, L), edges replicated.

    Masked-out entries (``mask`` 0) do not count: each output is the mean of the observed values
    in its neighbourhood.

    Examples
    --------
    >>> x = torch.arange(5.0).reshape(1, 1, 5)
    >>> [round(v, 4) for v in moving_average(x, torch.ones_like(x), 3).flatten().tolist()]
    [0.3333, 1.0, 2.0, 3.0, 3.6667]
    """
    half = kernel // 2
    pad = (half, kernel - 1 - half)

    def smooth(v: torch.Tensor) -> torch.Tensor:
        return F.avg_pool1d(F.pad(v, pad, mode="replicate"), kernel, stride=1)

    return smooth(x * mask) / smooth(mask).clamp(min=1e-6)
