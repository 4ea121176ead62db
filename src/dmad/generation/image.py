"""Synthetic image anomalies with exact pixel masks: CutPaste, CutPaste-scar, Perlin blends.

- **cutpaste** / **scar**: Li, Sohn, Yoon, Pfister, "CutPaste: Self-Supervised Learning for Anomaly
  Detection and Localization", CVPR 2021. A rectangle (area 2–15 % of the image, aspect ratio
  0.3–3.3) or a thin rotated "scar" is cut from one place of the image, colour-jittered and
  pasted at another.
- **perlin**: Zavrtanik, Kristan, Skočaj, "DRAEM — A discriminatively trained reconstruction
  embedding for surface anomaly detection", ICCV 2021. A mask is obtained by thresholding
  low-frequency coherent noise and a texture is blended into the masked area with opacity
  ``beta``: ``out = (1 - M) * I + M * (beta * I + (1 - beta) * A)``.

Departures, all deliberate: the scar's width and length are fractions of the image side (the
paper's 2–16 × 10–25 px at 256 px), so that the same settings work at any resolution; the
Perlin mask is thresholded at a per-image quantile of dmad's simplex noise
(:func:`dmad.diffusion.noise.simplex_noise_2d`) so that its area is drawn from ``area`` rather
than left to chance (and is never empty); DRAEM's texture source is the DTD texture set, which
dmad does not ship: the texture is either given (``texture=`` array), coherent noise
(``"noise"``) or the image itself rotated by 180° (``"self"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dmad.diffusion.noise import simplex_noise_2d
from dmad.exceptions import DataValidationError
from dmad.generation._common import Injection, check_kind, check_range, rng_from
from dmad.validation import check_array

__all__ = ["IMAGE_KINDS", "inject_image"]

#: Anomaly kinds of :func:`inject_image`.
IMAGE_KINDS = ("cutpaste", "scar", "perlin")


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], size=n)


def _cut_paste(
    images: np.ndarray,
    rng: np.random.Generator,
    scar: bool,
    area: tuple[float, float],
    jitter: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a jittered (rotated, for scars) rectangle of each image elsewhere in the same image."""
    n, _, h, w = images.shape
    side = min(h, w)
    if scar:
        pw = np.maximum(1.0, _uniform(rng, (2 / 256, 16 / 256), n) * side)
        ph = np.maximum(2.0, _uniform(rng, (10 / 256, 25 / 256), n) * side)
        theta = np.deg2rad(_uniform(rng, (-45.0, 45.0), n))
    else:
        patch_area = _uniform(rng, area, n) * h * w
        aspect = np.exp(_uniform(rng, (np.log(0.3), np.log(1 / 0.3)), n))
        ph = np.clip(np.sqrt(patch_area * aspect), 1, h - 1)
        pw = np.clip(np.sqrt(patch_area / aspect), 1, w - 1)
        theta = np.zeros(n)
    cos, sin = np.cos(theta), np.sin(theta)
    # Half extents of the rotated (target) and upright (source) rectangles: both stay inside.
    ext_y, ext_x = (
        (np.abs(sin) * pw + np.abs(cos) * ph) / 2,
        (np.abs(cos) * pw + np.abs(sin) * ph) / 2,
    )

    def centre(ey: np.ndarray, ex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cy = np.round(rng.uniform(np.minimum(ey, h - 1), np.maximum(h - 1 - ey, ey)))
        cx = np.round(rng.uniform(np.minimum(ex, w - 1), np.maximum(w - 1 - ex, ex)))
        return cy, cx

    ty, tx = centre(ext_y, ext_x)
    sy, sx = centre(ph / 2, pw / 2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dy, dx = yy - ty[:, None, None], xx - tx[:, None, None]
    u = cos[:, None, None] * dx + sin[:, None, None] * dy
    v = -sin[:, None, None] * dx + cos[:, None, None] * dy
    mask = (np.abs(u) <= pw[:, None, None] / 2) & (np.abs(v) <= ph[:, None, None] / 2)
    src_y = np.clip(np.round(sy[:, None, None] + v), 0, h - 1).astype(np.int64)
    src_x = np.clip(np.round(sx[:, None, None] + u), 0, w - 1).astype(np.int64)
    patch = images[np.arange(n)[:, None, None], :, src_y, src_x].transpose(0, 3, 1, 2)
    # Colour jitter (brightness and contrast, as CutPaste's ColorJitter) about the image mean.
    mean = images.mean(axis=(2, 3), keepdims=True)
    contrast = _uniform(rng, (1 - jitter, 1 + jitter), n)[:, None, None, None]
    brightness = _uniform(rng, (-jitter, jitter), n)[:, None, None, None]
    patch = np.clip((patch - mean) * contrast + mean + brightness, 0.0, 1.0)
    return np.where(mask[:, None], patch, images), mask


def _perlin(
    images: np.ndarray,
    rng: np.random.Generator,
    texture: str | np.ndarray,
    area: tuple[float, float],
    opacity: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Blend a texture into a thresholded-coherent-noise mask (DRAEM's anomaly source)."""
    n, c, h, w = images.shape
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    # Lattice cells per image side 2..16 as DRAEM's Perlin scales; one noise call per scale.
    scale = 2 ** rng.integers(1, 5, size=n)
    field = np.empty((n, h, w))
    for s in np.unique(scale):
        chosen = np.flatnonzero(scale == s)
        noise = simplex_noise_2d(
            (chosen.size, 1, h, w), octaves=1, frequency=s / max(h, w), generator=gen
        )
        field[chosen] = noise[:, 0].double().numpy()
    flat = np.sort(field.reshape(n, -1), axis=1)
    rank = np.clip(np.round((1 - _uniform(rng, area, n)) * h * w), 0, h * w - 1).astype(np.int64)
    mask = field >= flat[np.arange(n), rank][:, None, None]
    if isinstance(texture, np.ndarray):
        source = texture[rng.integers(0, len(texture), size=n)]
    elif texture == "self":
        source = images[:, :, ::-1, ::-1]
    else:
        noise = simplex_noise_2d((n, 1, h, w), frequency=8 / max(h, w), generator=gen)
        tex = noise.double().numpy()
        lo, hi = tex.min(axis=(2, 3), keepdims=True), tex.max(axis=(2, 3), keepdims=True)
        source = np.repeat((tex - lo) / (hi - lo), c, axis=1)
    beta = _uniform(rng, opacity, n)[:, None, None, None]
    blended = beta * images + (1 - beta) * source
    return np.where(mask[:, None], blended, images), mask


def inject_image(
    images: Any,
    kind: str = "cutpaste",
    *,
    fraction: float = 1.0,
    area: float | tuple[float, float] | None = None,
    jitter: float = 0.1,
    texture: str | Any = "noise",
    opacity: float | tuple[float, float] = (0.0, 0.8),
    random_state: int | np.random.Generator | None = None,
) -> Injection:
    """Inject one synthetic defect of ``kind`` into (a ``fraction`` of) the images.

    Parameters
    ----------
    images : array-like of shape (N, C, H, W)
        Images with values in [0, 1] (as :class:`dmad.data.image.ImageSet` holds them).
    kind : {"cutpaste", "scar", "perlin"}
        Defect type (see the module docstring).
    fraction : float
        Fraction of the images (chosen at random) that receive a defect; the rest are returned
        unchanged with label 0.
    area : float or (min, max), optional
        Defect area as a fraction of the image: cutpaste (default (0.02, 0.15), the paper's) and
        perlin (default (0.02, 0.2)); unused by scar.
    jitter : float
        Brightness / contrast jitter of pasted patches (cutpaste, scar).
    texture : {"noise", "self"} or array of shape (M, C, H, W)
        Texture blended by perlin: coherent noise, the image rotated by 180°, or one of the given
        texture images (drawn at random per image).
    opacity : float or (min, max)
        DRAEM's ``beta``: the weight of the original image inside the mask (perlin).
    random_state : int, numpy Generator or None
        Seed.

    Returns
    -------
    Injection
        ``data`` (N, C, H, W) float32, ``labels`` (N,) int8, ``mask`` (N, H, W) bool.

    Examples
    --------
    >>> x = np.random.default_rng(0).uniform(size=(2, 1, 32, 32))
    >>> out = inject_image(x, "scar", random_state=0)
    >>> out.data.shape, out.mask.shape, out.labels.tolist()
    ((2, 1, 32, 32), (2, 32, 32), [1, 1])
    """
    arr = check_array(images, name="images", ndim=4, dtype=np.float64)
    check_kind(kind, IMAGE_KINDS, "image anomaly")
    if not 0.0 <= fraction <= 1.0:
        raise DataValidationError(f"fraction must be in [0, 1], got {fraction!r}.")
    if min(arr.shape[2:]) < 4:
        raise DataValidationError(f"images must be at least 4×4 pixels, got {arr.shape[2:]}.")
    rng = rng_from(random_state)
    default_area = (0.02, 0.15) if kind == "cutpaste" else (0.02, 0.2)
    bounds = check_range(default_area if area is None else area, "area", 1e-4, 0.9)
    if kind == "perlin":
        if not isinstance(texture, str):
            texture = check_array(texture, name="texture", ndim=4, dtype=np.float64)
            if texture.shape[1:] != arr.shape[1:]:
                raise DataValidationError(
                    f"texture images must be shaped like the images {arr.shape[1:]}, got "
                    f"{texture.shape[1:]}; resize them first."
                )
        elif texture not in ("noise", "self"):
            raise DataValidationError(
                f"texture must be 'noise', 'self' or an array, got {texture!r}."
            )
        out, mask = _perlin(arr, rng, texture, bounds, check_range(opacity, "opacity", 0.0, 1.0))
    else:
        out, mask = _cut_paste(arr, rng, kind == "scar", bounds, jitter)
    keep = np.zeros(len(arr), dtype=bool)
    keep[rng.permutation(len(arr))[: round(fraction * len(arr))]] = True
    mask &= keep[:, None, None]
    data = np.where(keep[:, None, None, None], out, arr).astype(np.float32)
    return Injection(data, keep.astype(np.int8), mask)
