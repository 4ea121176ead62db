"""Plots of generated anomalies: image grids with their masks, series with injected segments.

Both write a PNG (matplotlib's Agg backend, no display needed) and take an
:class:`~dmad.generation.Injection`'s parts, so ``plot_generated_images(*inj[::2], path)``-style
calls stay short.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dmad.exceptions import DataValidationError  # noqa: E402

__all__ = ["plot_generated_images", "plot_injected_series"]


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_generated_images(
    images: np.ndarray, masks: np.ndarray, path: str | Path, n: int = 8, title: str = ""
) -> Path:
    """Grid of the first ``n`` generated images (top row) and the same with the mask outlined.

    Parameters
    ----------
    images : ndarray (N, C, H, W) or (N, H, W), values in [0, 1]
    masks : ndarray (N, H, W)
        Ground-truth masks (nonzero = anomalous).
    path : str or Path
        PNG file to write.
    n : int
        Number of images shown.

    Examples
    --------
    >>> plot_generated_images(inj.data, inj.mask, "grid.png")  # doctest: +SKIP
    """
    images = np.asarray(images)
    images = images[:, None] if images.ndim == 3 else images
    masks = np.asarray(masks)
    if images.ndim != 4 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise DataValidationError(
            f"images (N, C, H, W) and masks (N, H, W) must match, got {images.shape} and "
            f"{masks.shape}."
        )
    k = min(n, len(images))
    fig, axes = plt.subplots(2, k, figsize=(1.8 * k, 3.8), squeeze=False)
    for j in range(k):
        img = images[j].transpose(1, 2, 0)
        cmap = "gray" if img.shape[2] == 1 else None
        for row in (0, 1):
            axes[row, j].imshow(img.squeeze(2) if cmap else img, cmap=cmap, vmin=0, vmax=1)
            axes[row, j].axis("off")
        if masks[j].any():
            axes[1, j].contour(masks[j] > 0, levels=[0.5], colors="red", linewidths=0.8)
    axes[0, 0].set_title("generated", fontsize=8, loc="left")
    axes[1, 0].set_title("mask", fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _segments(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of nonzero entries."""
    padded = np.r_[0, flags.astype(np.int8), 0]
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def plot_injected_series(
    series: np.ndarray,
    mask: np.ndarray,
    path: str | Path,
    original: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """One panel per channel with the injected segments shaded (per-channel mask).

    Parameters
    ----------
    series : ndarray (T,) or (T, D)
        The series with injected anomalies.
    mask : ndarray shaped like ``series`` (or (T,) labels)
        Where anomalies were injected.
    path : str or Path
        PNG file to write.
    original : ndarray, optional
        The series before injection, drawn underneath in grey.

    Examples
    --------
    >>> plot_injected_series(inj.data, inj.mask, "series.png", original=x)  # doctest: +SKIP
    """
    x = np.asarray(series, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    m = np.asarray(mask).astype(bool)
    m = np.repeat(m[:, None], x.shape[1], axis=1) if m.ndim == 1 else m.reshape(x.shape)
    if m.shape != x.shape:
        raise DataValidationError(f"mask {m.shape} must match the series {x.shape}.")
    fig, grid = plt.subplots(
        x.shape[1], 1, figsize=(11, 1.6 * x.shape[1] + 0.6), sharex=True, squeeze=False
    )
    axes = grid[:, 0]
    steps = np.arange(len(x))
    for d, ax in enumerate(axes):
        if original is not None:
            ref = np.asarray(original, dtype=float).reshape(x.shape)[:, d]
            ax.plot(steps, ref, color="0.7", lw=0.8, label="original")
        ax.plot(steps, x[:, d], lw=0.8, label="with anomalies")
        for start, end in _segments(m[:, d]):
            ax.axvspan(start - 0.5, end - 0.5, color="red", alpha=0.25, lw=0)
        ax.set_ylabel(f"ch {d}", fontsize=8)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
