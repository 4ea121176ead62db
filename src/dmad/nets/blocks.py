"""Building blocks shared by the 1-D and 2-D U-Nets, and the dimension-generic U-Net itself.

The U-Net follows the DDPM denoiser (Ho et al., NeurIPS 2020) as refined by Dhariwal & Nichol
("Diffusion Models Beat GANs on Image Synthesis", NeurIPS 2021): GroupNorm-SiLU-conv residual
blocks with an additive timestep embedding, strided-conv downsampling, nearest-neighbour
upsampling, skip connections after every block and optional self-attention. Everything is written
once and parametrised by ``dims`` (1: ``Conv1d`` over series windows, 2: ``Conv2d`` over images).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from dmad.nets.embeddings import TimeEmbedding, as_timesteps

__all__ = [
    "conv_nd",
    "norm_groups",
    "check_cond",
    "ResBlock",
    "SelfAttention",
    "Downsample",
    "Upsample",
    "UNetND",
]


def conv_nd(dims: int, *args: Any, **kwargs: Any) -> nn.Module:
    """``nn.Conv1d`` (``dims=1``) or ``nn.Conv2d`` (``dims=2``) built with ``args``/``kwargs``."""
    if dims == 1:
        return nn.Conv1d(*args, **kwargs)
    if dims == 2:
        return nn.Conv2d(*args, **kwargs)
    raise ValueError(f"dims must be 1 or 2, got {dims}.")


def norm_groups(channels: int, max_groups: int = 32) -> int:
    """Largest divisor of ``channels`` not above ``max_groups`` (GroupNorm needs a divisor).

    Examples
    --------
    >>> norm_groups(64), norm_groups(48), norm_groups(55)
    (32, 24, 11)
    """
    return max(g for g in range(1, min(channels, max_groups) + 1) if channels % g == 0)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(norm_groups(channels), channels)


def check_cond(cond: torch.Tensor | None, expected: tuple[int, ...] | None) -> None:
    """Raise a clear ``ValueError`` unless ``cond`` matches the net's conditioning.

    ``expected`` is the required shape, or None for a net built without conditioning.
    """
    if expected is None:
        if cond is not None:
            raise ValueError(
                "cond was given but the net was built without conditioning; "
                "rebuild it with cond_features / cond_channels > 0."
            )
        return
    if cond is None or tuple(cond.shape) != expected:
        got = None if cond is None else tuple(cond.shape)
        raise ValueError(f"cond must have shape {expected} for this net, got {got}.")


class ResBlock(nn.Module):
    """Residual block: norm-SiLU-conv, + timestep embedding, norm-SiLU-dropout-conv, + skip.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts; a 1x1 conv matches the skip path when they differ.
    emb_dim : int
        Size of the timestep embedding, projected to ``out_channels`` and added per channel.
    dims : int
        1 for (B, C, L) inputs, 2 for (B, C, H, W).
    dropout : float
        Dropout before the second convolution.
    """

    def __init__(
        self, in_channels: int, out_channels: int, emb_dim: int, dims: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = conv_nd(dims, in_channels, out_channels, 3, padding=1)
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))
        self.norm2 = _norm(out_channels)
        self.drop = nn.Dropout(dropout)
        self.conv2 = conv_nd(dims, out_channels, out_channels, 3, padding=1)
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else conv_nd(dims, in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb).reshape(*h.shape[:2], *([1] * (h.ndim - 2)))
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over all positions (any number of spatial dims), residual.

    Heads have 32 channels each (at least one head).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        heads = max(1, channels // 32)
        # Heads must split the channels evenly; odd widths fall back to a single head.
        self.heads = heads if channels % heads == 0 else 1
        self.norm = _norm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        h = self.norm(x).reshape(b, c, -1).transpose(1, 2)  # (B, N, C)
        q, k, v = self.qkv(h).reshape(b, -1, 3, self.heads, c // self.heads).unbind(dim=2)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        out = self.proj(out.transpose(1, 2).reshape(b, -1, c))
        return x + out.transpose(1, 2).reshape(x.shape)


class Downsample(nn.Module):
    """Halve every spatial size with a stride-2 3-wide convolution (sizes must be even)."""

    def __init__(self, channels: int, dims: int) -> None:
        super().__init__()
        self.conv = conv_nd(dims, channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double every spatial size: nearest-neighbour interpolation, then a 3-wide convolution."""

    def __init__(self, channels: int, dims: int) -> None:
        super().__init__()
        self.conv = conv_nd(dims, channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNetND(nn.Module):
    """Time-conditioned U-Net over (B, C, *spatial) with ``dims`` spatial axes of any size.

    Inputs are padded (edge replication) to a multiple of ``2 ** (len(channel_mults) - 1)`` and the
    output is cropped back, so every size round-trips. Prefer :class:`~dmad.nets.UNet1D` and
    :class:`~dmad.nets.UNet2D`, which fix ``dims`` and pick defaults for their data.

    Parameters
    ----------
    dims : int
        Number of spatial axes, 1 or 2.
    in_channels : int
        Channels of ``x``.
    out_channels : int, optional
        Channels of the output; defaults to ``in_channels``.
    base_channels : int
        Width of the first level; level ``i`` has ``base_channels * channel_mults[i]``.
    channel_mults : sequence of int
        One multiplier per resolution level; each level after the first halves the resolution.
    n_res_blocks : int
        Residual blocks per level on the way down (one more on the way up).
    time_dim : int
        Size of the sinusoidal timestep encoding; the embedding MLP is ``4 * base_channels`` wide.
    attention_levels : sequence of int
        Levels (0 = full resolution) that get self-attention after each residual block; the
        middle block gets attention too when the deepest level is listed.
    cond_channels : int
        Channels of an optional ``cond`` tensor with the spatial shape of ``x``, concatenated to
        the input; 0 disables.
    dropout : float
        Dropout inside residual blocks.
    """

    def __init__(
        self,
        dims: int,
        in_channels: int,
        out_channels: int | None = None,
        base_channels: int = 32,
        channel_mults: Sequence[int] = (1, 2),
        n_res_blocks: int = 1,
        time_dim: int = 64,
        attention_levels: Sequence[int] = (),
        cond_channels: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        channel_mults, attention_levels = tuple(channel_mults), tuple(attention_levels)
        if not channel_mults:
            raise ValueError("channel_mults must list at least one level, e.g. (1, 2).")
        bad = [lvl for lvl in attention_levels if not 0 <= lvl < len(channel_mults)]
        if bad:
            raise ValueError(
                f"attention_levels {bad} out of range; levels are 0..{len(channel_mults) - 1}."
            )
        #: Constructor arguments (JSON-serialisable) so that ``build_net(net.kind, **net.config)``
        #: rebuilds the architecture before loading a state dict.
        self.config: dict[str, Any] = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "base_channels": base_channels,
            "channel_mults": list(channel_mults),
            "n_res_blocks": n_res_blocks,
            "time_dim": time_dim,
            "attention_levels": list(attention_levels),
            "cond_channels": cond_channels,
            "dropout": dropout,
        }
        self.dims = dims
        self.in_channels = in_channels
        self.cond_channels = cond_channels
        self.multiple = 2 ** (len(channel_mults) - 1)
        emb_dim = 4 * base_channels
        self.time_embed = TimeEmbedding(time_dim, emb_dim)
        self.inp = conv_nd(dims, in_channels + cond_channels, base_channels, 3, padding=1)

        def stage(c_in: int, c_out: int, level: int) -> nn.ModuleList:
            layers: list[nn.Module] = [ResBlock(c_in, c_out, emb_dim, dims, dropout)]
            if level in attention_levels:
                layers.append(SelfAttention(c_out))
            return nn.ModuleList(layers)

        # Down path: every block's output (and the input conv's) is kept as a skip.
        self.down = nn.ModuleList()
        skips, ch = [base_channels], base_channels
        for level, mult in enumerate(channel_mults):
            for _ in range(n_res_blocks):
                self.down.append(stage(ch, base_channels * mult, level))
                ch = base_channels * mult
                skips.append(ch)
            if level < len(channel_mults) - 1:
                self.down.append(nn.ModuleList([Downsample(ch, dims)]))
                skips.append(ch)

        deepest = len(channel_mults) - 1
        self.mid = nn.ModuleList(
            [*stage(ch, ch, deepest), ResBlock(ch, ch, emb_dim, dims, dropout)]
        )

        # Up path: one block more per level than on the way down, each eating one skip.
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mults))):
            for _ in range(n_res_blocks + 1):
                self.up.append(stage(ch + skips.pop(), base_channels * mult, level))
                ch = base_channels * mult
            if level > 0:
                self.up.append(nn.ModuleList([Upsample(ch, dims)]))

        self.out = nn.Sequential(
            _norm(ch), nn.SiLU(), conv_nd(dims, ch, out_channels, 3, padding=1)
        )

    @staticmethod
    def _run(layers: Iterable[nn.Module], h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        return h

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict from noisy ``x`` (B, C, *spatial) at timesteps ``t`` (B,)."""
        if x.ndim != self.dims + 2 or x.shape[1] != self.in_channels:
            axes = "L" if self.dims == 1 else "H, W"
            raise ValueError(
                f"x must have shape (batch, {self.in_channels}, {axes}), got {tuple(x.shape)}."
            )
        spatial = x.shape[2:]
        check_cond(cond, (x.shape[0], self.cond_channels, *spatial) if self.cond_channels else None)
        if cond is not None:
            x = torch.cat([x, cond], dim=1)
        # Pad at the end of every spatial axis so each downsampling halves an even size.
        pad = [(-s) % self.multiple for s in spatial]
        if any(pad):
            x = F.pad(x, [p for amount in reversed(pad) for p in (0, amount)], mode="replicate")

        emb = self.time_embed(as_timesteps(t, x.shape[0], x.device))
        h = self.inp(x)
        skips = [h]
        # every entry of down/up is one stage's ModuleList (built by ``stage`` in __init__)
        for layers in cast("Iterable[nn.ModuleList]", self.down):
            h = self._run(layers, h, emb)
            skips.append(h)
        h = self._run(self.mid, h, emb)
        for layers in cast("Iterable[nn.ModuleList]", self.up):
            if isinstance(layers[0], ResBlock):
                h = torch.cat([h, skips.pop()], dim=1)
            h = self._run(layers, h, emb)
        out = self.out(h)
        # crop the padding (a named index: mypy misreads an inline ``out[(..., *s)]`` as 3.11-only)
        crop = (..., *(slice(0, s) for s in spatial))
        return out[crop]
