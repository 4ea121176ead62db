"""Video anomaly-detection sets stored as folders of frames (UCSD Ped, CUHK Avenue, ShanghaiTech).

Layout: ``<root>/<video>/<frame>.jpg|png|...`` sorted naturally (``2.jpg`` before ``10.jpg``),
with optional per-frame labels ``<root>/<video>.npy`` or ``<root>/labels/<video>.npy`` (0/1).
Frames are read by the image loader's mechanism, so sizing and channels behave the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dmad.data._common import binary_labels, existing_dir, load_npy, natural_key
from dmad.data.image import IMAGE_SUFFIXES, Size, _read_images
from dmad.exceptions import DataValidationError

__all__ = ["load_video_frames"]


def load_video_frames(
    root: str | Path, *, image_size: Size = None, grayscale: bool | None = None
) -> tuple[list[np.ndarray], list[str], list[np.ndarray | None]]:
    """Load every video of a folder of frame folders.

    Folders named ``labels`` or ending in ``_gt`` (UCSD's pixel masks) are not videos.

    Parameters
    ----------
    root : path
        Folder of video folders.
    image_size : None, int or (height, width)
        Frame size; None requires all frames of all videos to share one size.
    grayscale : bool or None
        None: 1 channel if every frame is grayscale, else 3.

    Returns
    -------
    frames : list of ndarray of float32, shape (T, C, H, W), values in [0, 1]
    names : list of str
        Video folder names, in natural order.
    labels : list of (ndarray of int8, shape (T,)) or None
        Per-frame labels where a label file exists.

    Examples
    --------
    >>> frames, names, labels = load_video_frames("ped2/testing", image_size=128)  # doctest: +SKIP
    """
    base = existing_dir(root, "video folder")
    videos: list[list[Path]] = []
    names: list[str] = []
    for folder in sorted(base.iterdir(), key=lambda p: natural_key(p.name)):
        if not folder.is_dir() or folder.name == "labels" or folder.name.endswith("_gt"):
            continue
        files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if files:
            videos.append(sorted(files, key=lambda p: natural_key(p.name)))
            names.append(folder.name)
    if not videos:
        raise DataValidationError(
            f"{str(base)!r} holds no folders of frames; expected <root>/<video>/<frame>.png."
        )
    # One read for all videos: channels and (unresized) size are then consistent across videos.
    stacked = _read_images([p for files in videos for p in files], image_size, grayscale)
    frames = np.split(stacked, np.cumsum([len(v) for v in videos])[:-1])
    labels: list[np.ndarray | None] = []
    for name, clip in zip(names, frames, strict=True):
        found = [p for p in (base / f"{name}.npy", base / "labels" / f"{name}.npy") if p.is_file()]
        if not found:
            labels.append(None)
            continue
        label = binary_labels(load_npy(found[0]), str(found[0]))
        if len(label) != len(clip):
            raise DataValidationError(
                f"{str(found[0])!r} has {len(label)} labels for {len(clip)} frames of video "
                f"{name!r}; pass one label per frame."
            )
        labels.append(label)
    return frames, names, labels
