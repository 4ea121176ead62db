"""Anomaly-map grids written to PNG: input | reconstruction | map overlay | ground truth."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dmad.exceptions import DataValidationError  # noqa: E402

__all__ = ["plot_anomaly_grid"]


def _display(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(C, H, W) in [0, 1] → what imshow wants, with a gray colormap for one channel."""
    if image.shape[0] == 1:
        return image[0], "gray"
    return np.transpose(image, (1, 2, 0)), None


def plot_anomaly_grid(
    images: np.ndarray,
    maps: np.ndarray,
    path: str | Path,
    *,
    masks: np.ndarray | None = None,
    reconstructions: np.ndarray | None = None,
    titles: list[str] | None = None,
    dpi: int = 60,
) -> Path:
    """One row per image: input, reconstruction (if given), map overlay, ground truth (if given).

    Maps are shown on one colour scale for all rows (the 1st to 99.9th percentile of all maps), so
    rows compare like the scores do.

    Parameters
    ----------
    images : ndarray (N, C, H, W) in [0, 1]
    maps : ndarray (N, H, W)
    path : path of the PNG to write
    masks : ndarray (N, H, W), optional
    reconstructions : ndarray (N, C, H, W), optional
    titles : list of str, optional
        One label per row (e.g. defect type and score).
    dpi : int
        Resolution; the default keeps a 4-row grid well under 300 KB.

    Examples
    --------
    >>> plot_anomaly_grid(x[:4], maps[:4], "grid.png", masks=m[:4])  # doctest: +SKIP
    PosixPath('grid.png')
    """
    images, maps = np.asarray(images), np.asarray(maps)
    if images.ndim != 4 or maps.shape != (images.shape[0], *images.shape[2:]):
        raise DataValidationError(
            f"need images (N, C, H, W) and maps (N, H, W) of the same N, H, W; got "
            f"{images.shape} and {maps.shape}."
        )
    columns = ["input"]
    if reconstructions is not None:
        columns.append("reconstruction")
    columns.append("anomaly map")
    if masks is not None:
        columns.append("ground truth")
    low, high = np.percentile(maps, [1, 99.9])
    n = images.shape[0]
    fig, axes = plt.subplots(n, len(columns), figsize=(2.2 * len(columns), 2.2 * n), squeeze=False)
    for i in range(n):
        # (image, colormap) per column; None marks the map overlay
        panels: list[tuple[np.ndarray, str | None] | None] = [_display(images[i])]
        if reconstructions is not None:
            panels.append(_display(np.clip(reconstructions[i], 0, 1)))
        panels.append(None)
        if masks is not None:
            panels.append((masks[i], "gray"))
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            if panel is None:  # overlay: the input in gray under a translucent map
                ax.imshow(images[i].mean(axis=0), cmap="gray", vmin=0, vmax=1)
                ax.imshow(maps[i], cmap="jet", alpha=0.45, vmin=low, vmax=high)
            else:
                ax.imshow(panel[0], cmap=panel[1], vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(columns[j], fontsize=9)
        if titles is not None:
            axes[i, 0].set_ylabel(titles[i], fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
