"""Residual MLP denoiser for feature vectors (tabular data, flattened windows).

A time-conditioned residual MLP in the style of the tabular diffusion denoisers of TabDDPM
(Kotelnikov et al., ICML 2023) and DTE (Livernoche et al., ICLR 2024); ``out_features`` lets the
same body serve as a classifier over timesteps (DTE-Categorical), and ``time_dim=0`` as a plain
network that must read the timestep off its input (DTE's estimators).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dmad.nets.blocks import check_cond
from dmad.nets.embeddings import TimeEmbedding, as_timesteps

__all__ = ["ResidualMLP"]


class _MLPBlock(nn.Module):
    """Pre-norm residual block: LayerNorm -> Linear (+ embedding) -> SiLU -> Dropout -> Linear."""

    def __init__(self, hidden: int, dropout: float, norm: bool, conditioned: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden) if norm else nn.Identity()
        self.fc1 = nn.Linear(hidden, hidden)
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden)) if conditioned else None
        self.act = nn.SiLU()
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, emb: torch.Tensor | None) -> torch.Tensor:
        z = self.fc1(self.norm(h))
        if self.emb is not None and emb is not None:
            z = z + self.emb(emb)
        return h + self.fc2(self.drop(self.act(z)))


class ResidualMLP(nn.Module):
    """Time-conditioned residual MLP mapping (B, in_features) to (B, out_features).

    Parameters
    ----------
    in_features : int
        Input size d.
    hidden : int
        Width of the residual stream.
    n_blocks : int
        Number of residual blocks.
    time_dim : int
        Size of the sinusoidal timestep encoding; 0: no time conditioning (``t`` is ignored and
        may be omitted).
    dropout : float
        Dropout inside each block.
    out_features : int, optional
        Output size; defaults to ``in_features`` (a denoiser). Set it to K for a K-way classifier.
    cond_features : int
        Size of an optional conditioning vector passed as ``forward(x, t, cond=...)``; 0 disables.
    norm : bool
        LayerNorm inside blocks and before the output. Off by default: normalising the hidden
        state discards the input's magnitude, so a point far outside the training data would be
        denoised like a near one and its anomaly score would collapse.

    Examples
    --------
    >>> net = ResidualMLP(5, hidden=32, n_blocks=2)
    >>> net(torch.randn(4, 5), torch.tensor([0, 10, 100, 999])).shape
    torch.Size([4, 5])
    """

    kind = "mlp"

    def __init__(
        self,
        in_features: int,
        hidden: int = 256,
        n_blocks: int = 3,
        time_dim: int = 64,
        dropout: float = 0.0,
        out_features: int | None = None,
        cond_features: int = 0,
        norm: bool = False,
    ) -> None:
        super().__init__()
        out_features = in_features if out_features is None else out_features
        #: Constructor arguments (JSON-serialisable), so ``build_net(net.kind, **net.config)``
        #: rebuilds the architecture before loading a state dict.
        self.config: dict[str, Any] = {
            "in_features": in_features,
            "hidden": hidden,
            "n_blocks": n_blocks,
            "time_dim": time_dim,
            "dropout": dropout,
            "out_features": out_features,
            "cond_features": cond_features,
            "norm": norm,
        }
        self.in_features = in_features
        self.cond_features = cond_features
        self.time_embed = TimeEmbedding(time_dim, hidden) if time_dim > 0 else None
        self.cond_embed = nn.Linear(cond_features, hidden) if cond_features > 0 else None
        self.inp = nn.Linear(in_features, hidden)
        conditioned = time_dim > 0 or cond_features > 0
        self.blocks = nn.ModuleList(
            _MLPBlock(hidden, dropout, norm, conditioned) for _ in range(n_blocks)
        )
        self.out = nn.Sequential(
            nn.LayerNorm(hidden) if norm else nn.Identity(),
            nn.SiLU(),
            nn.Linear(hidden, out_features),
        )

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | None = None, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict from noisy ``x`` (B, in_features) at timesteps ``t`` (B,)."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"x must have shape (batch, {self.in_features}), got {tuple(x.shape)}."
            )
        emb: torch.Tensor | None = None
        if self.time_embed is not None:
            if t is None:
                raise ValueError("this net is time-conditioned: pass the timesteps t.")
            emb = self.time_embed(as_timesteps(t, x.shape[0], x.device))
        check_cond(cond, (x.shape[0], self.cond_features) if self.cond_embed is not None else None)
        if cond is not None and self.cond_embed is not None:
            cond_emb = self.cond_embed(cond)
            emb = cond_emb if emb is None else emb + cond_emb
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)
