"""Image anomaly-detection sets: a generic folder loader and thin MVTec/VisA/BTAD/MPDD wrappers.

One mechanism for all of them: a dataset layout is turned into records (image, mask, defect
type, label) and :func:`_load_records` reads, resizes and stacks them. Datasets differ only in
how records are listed (folder names, VisA's split CSV), never in how pixels are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from PIL import Image

from dmad.data._common import existing_dir, existing_path, read_table, require_columns
from dmad.exceptions import DataValidationError

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageSet",
    "load_btad",
    "load_image_folder",
    "load_mpdd",
    "load_mvtec",
    "load_visa",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
Size = int | tuple[int, int] | None
MissingMask = Literal["error", "zeros"]
Split = Literal["train", "test"]


@dataclass(frozen=True)
class ImageSet:
    """Images of one split with labels and (test split) pixel masks.

    Attributes
    ----------
    images : ndarray of float32, shape (N, C, H, W), values in [0, 1]
        C = 1 for grayscale, 3 for RGB.
    masks : ndarray of uint8, shape (N, H, W), values 0/1, or None
        Ground-truth masks (all zeros for good images); None for the train split.
    labels : ndarray of int8, shape (N,)
        0 = good, 1 = defective.
    defect_types : list of str
        Folder (or CSV) defect name of each image, e.g. ``"good"``, ``"crack"``.
    paths : list of str
        Source file of each image.

    Examples
    --------
    >>> images, labels = np.zeros((1, 1, 2, 2), np.float32), np.zeros(1, np.int8)
    >>> len(ImageSet(images, None, labels, ["good"], ["a.png"]))
    1
    """

    images: np.ndarray
    masks: np.ndarray | None
    labels: np.ndarray
    defect_types: list[str]
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)


class _Record(NamedTuple):
    image: Path
    mask: Path | None
    defect: str
    label: int


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _open(path: Path, *, decode: bool = True) -> Image.Image:
    """Open (and by default decode) an image; ``decode=False`` reads only the header."""
    try:
        image = Image.open(path)
        if decode:
            image.load()
    except (OSError, SyntaxError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
        raise DataValidationError(
            f"cannot read image {str(path)!r} ({err}); replace or remove the file."
        ) from err
    return image


def _target_size(image_size: Size) -> tuple[int, int] | None:
    if image_size is None:
        return None
    value: Any = image_size  # checked element by element below, whatever the caller passed
    size: tuple[Any, ...] = (value, value) if np.isscalar(value) else tuple(value)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise DataValidationError(
            f"image_size must be None, a positive int or (height, width), got {image_size!r}."
        )
    return int(size[0]), int(size[1])


def _read_image(path: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    image = _open(path)
    if image.mode in _SIXTEEN_BIT:
        # PIL's convert("L") clips 16-bit values at 255; rescale to [0, 1] as 32-bit float instead
        image = Image.fromarray(np.asarray(image, dtype=np.float32) / 65535.0)
    elif image.mode != "F":
        image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(image, dtype=np.float32)
    if image.mode != "F":
        arr = arr / 255.0
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return np.repeat(arr, channels, axis=0) if arr.shape[0] != channels else arr


def _read_mask(path: Path, size: tuple[int, int], resize: bool) -> np.ndarray:
    mask = _open(path)
    if len(mask.getbands()) > 1:  # RGB(A)/LA masks; palette masks keep their indices
        mask = mask.convert("L")
    if mask.size != (size[1], size[0]):
        if not resize:
            raise DataValidationError(
                f"mask {str(path)!r} is {mask.size[0]}x{mask.size[1]} but its image is "
                f"{size[1]}x{size[0]}; fix the mask or pass image_size to resize both."
            )
        mask = mask.resize((size[1], size[0]), Image.Resampling.NEAREST)
    return np.asarray(mask) > 0


def _read_images(paths: list[Path], image_size: Size, grayscale: bool | None) -> np.ndarray:
    """Stack images as float32 (N, C, H, W) in [0, 1] with one channel count and size."""
    size = _target_size(image_size)
    modes: list[str] = []
    sizes: dict[tuple[int, int], Path] = {}
    for p in paths:  # headers only: decide channels and check sizes before decoding anything
        with _open(p, decode=False) as image:
            modes.append(image.mode)
            sizes.setdefault(image.size, p)
    if size is None:
        if len(sizes) > 1:
            (s1, p1), (s2, p2) = list(sizes.items())[:2]
            raise DataValidationError(
                f"images have different sizes ({s1[0]}x{s1[1]} in {str(p1)!r}, {s2[0]}x{s2[1]} "
                f"in {str(p2)!r}); pass image_size=(height, width) or an int to resize them."
            )
        width, height = next(iter(sizes))
        size = (height, width)
    if grayscale is None:
        grayscale = all(m in _GRAY_MODES for m in modes)
    channels = 1 if grayscale else 3
    images = np.empty((len(paths), channels, *size), np.float32)
    for i, p in enumerate(paths):
        images[i] = _read_image(p, channels, size)
    return images


def _load_records(
    records: list[_Record], image_size: Size, grayscale: bool | None, with_masks: bool, where: str
) -> ImageSet:
    if not records:
        raise DataValidationError(f"no images found in {where}; check the path and split.")
    images = _read_images([r.image for r in records], image_size, grayscale)
    masks = None
    if with_masks:
        masks = np.zeros((len(records), *images.shape[2:]), np.uint8)
        for i, r in enumerate(records):
            if r.mask is not None:
                masks[i] = _read_mask(r.mask, images.shape[2:], resize=image_size is not None)
    return ImageSet(
        images=images,
        masks=masks,
        labels=np.array([r.label for r in records], np.int8),
        defect_types=[r.defect for r in records],
        paths=[str(r.image) for r in records],
    )


def _checked_mask(image: Path, mask: Path | None, missing_mask: MissingMask, hint: str) -> None:
    if mask is None and missing_mask == "error":
        raise DataValidationError(
            f"defect image {str(image)!r} has no ground-truth mask ({hint}); add it, or pass "
            "missing_mask='zeros' to use the image for image-level scores only."
        )


def _check_options(split: str, missing_mask: str) -> None:
    if split not in ("train", "test"):
        raise DataValidationError(f"split must be 'train' or 'test', got {split!r}.")
    if missing_mask not in ("error", "zeros"):
        raise DataValidationError(f"missing_mask must be 'error' or 'zeros', got {missing_mask!r}.")


def load_image_folder(
    root: str | Path,
    category: str | None = None,
    *,
    split: Split = "train",
    image_size: Size = None,
    grayscale: bool | None = None,
    missing_mask: MissingMask = "error",
    normal_dir: str = "good",
) -> ImageSet:
    """Load one split of an image set in the MVTec-style folder layout.

    ``<root>/<category>/train/<normal_dir>/*``, ``test/<defect>/*`` (``test/<normal_dir>`` for
    good test images) and ``ground_truth/<defect>/<stem>_mask.png`` or ``<stem>.png`` (any image
    extension). Images are resized bilinearly, masks by nearest neighbour and binarised (> 0).

    Parameters
    ----------
    root : path
        Dataset folder; ``category`` (optional) is a subfolder of it.
    split : {"train", "test"}
        Train reads only the normal folder and returns ``masks=None``.
    image_size : None, int or (height, width)
        None keeps the original size, which must then be the same for all images.
    grayscale : bool or None
        None keeps grayscale sets 1-channel and RGB sets 3-channel; True/False force 1/3 channels.
    missing_mask : {"error", "zeros"}
        What a defect image without a mask file does: raise, or get an all-zero mask (image-level
        evaluation only).
    normal_dir : str
        Name of the folder of good images (``"ok"`` for BTAD).

    Examples
    --------
    >>> test = load_image_folder("mvtec", "bottle", split="test", image_size=256)  # doctest: +SKIP
    >>> test.images.shape, test.masks.shape  # doctest: +SKIP
    ((83, 3, 256, 256), (83, 256, 256))
    """
    _check_options(split, missing_mask)
    base = existing_dir(Path(root) / category if category else root, "dataset folder")
    split_dir = base / split
    if not split_dir.is_dir() or (split == "train" and not (split_dir / normal_dir).is_dir()):
        raise DataValidationError(
            f"{str(base)!r} has no {split}/{normal_dir if split == 'train' else ''} folder; "
            f"expected the layout train/{normal_dir}, test/<defect>, ground_truth/<defect> (pass "
            "normal_dir= if good images live in another folder)."
        )
    if split == "train":
        folders = [split_dir / normal_dir]
    else:  # normal folder first, then defects by name
        folders = sorted(
            (d for d in split_dir.iterdir() if d.is_dir()),
            key=lambda d: (d.name != normal_dir, d.name),
        )
    records = []
    for folder in folders:
        normal = folder.name == normal_dir
        gt_dir = base / "ground_truth" / folder.name
        masks = {} if normal or not gt_dir.is_dir() else {m.stem: m for m in _image_files(gt_dir)}
        for image in _image_files(folder):
            mask = masks.get(f"{image.stem}_mask", masks.get(image.stem))
            if not normal:
                _checked_mask(
                    image,
                    mask,
                    missing_mask,
                    f"looked for {image.stem}_mask.png or {image.stem}.png in {str(gt_dir)!r}",
                )
            records.append(_Record(image, mask, folder.name, int(not normal)))
    return _load_records(records, image_size, grayscale, split == "test", repr(str(split_dir)))


def load_mvtec(root: str | Path, category: str, split: Split = "train", **kwargs: Any) -> ImageSet:
    """Load an MVTec AD category; keyword arguments as in :func:`load_image_folder`.

    Examples
    --------
    >>> train = load_mvtec("mvtec_anomaly_detection", "bottle", image_size=256)  # doctest: +SKIP
    """
    return load_image_folder(root, category, split=split, **kwargs)


def load_mpdd(root: str | Path, category: str, split: Split = "train", **kwargs: Any) -> ImageSet:
    """Load an MPDD category (MVTec layout); keyword arguments as in :func:`load_image_folder`.

    Examples
    --------
    >>> test = load_mpdd("MPDD", "bracket_black", split="test", image_size=256)  # doctest: +SKIP
    """
    return load_image_folder(root, category, split=split, **kwargs)


def load_btad(root: str | Path, category: str, split: Split = "train", **kwargs: Any) -> ImageSet:
    """Load a BTAD product (``"01"``, ``"02"``, ``"03"``): good images in ``ok/``, defects in
    ``ko/``, masks ``ground_truth/ko/<stem>.png``; keyword arguments as in
    :func:`load_image_folder`.

    Examples
    --------
    >>> test = load_btad("BTech_Dataset_transformed", "01", split="test")  # doctest: +SKIP
    """
    return load_image_folder(root, category, split=split, normal_dir="ok", **kwargs)


def load_visa(
    root: str | Path,
    category: str,
    split: Split = "train",
    *,
    split_csv: str | Path | None = None,
    image_size: Size = None,
    grayscale: bool | None = None,
    missing_mask: MissingMask = "error",
) -> ImageSet:
    """Load a VisA category from its split file (``split_csv/1cls.csv`` by default).

    The CSV has columns ``object, split, label, image, mask`` with ``label`` ``normal`` or
    ``anomaly`` and paths relative to ``root``. VisA gives no defect names in this file, so
    ``defect_types`` are ``"good"`` and ``"anomaly"``. Other arguments as in
    :func:`load_image_folder`.

    Examples
    --------
    >>> test = load_visa("VisA", "candle", split="test", image_size=256)  # doctest: +SKIP
    """
    _check_options(split, missing_mask)
    base = existing_dir(root, "VisA folder")
    csv = existing_path(split_csv if split_csv is not None else base / "split_csv" / "1cls.csv")
    table = read_table(csv)
    require_columns(table, ["object", "split", "label", "image", "mask"], f"{str(csv)!r}")
    rows = table[(table["object"] == category) & (table["split"] == split)]
    if rows.empty:
        raise DataValidationError(
            f"{str(csv)!r} lists no {split} images of {category!r}; its objects are "
            f"{sorted(table['object'].unique().tolist())}."
        )
    unknown = set(rows["label"]) - {"normal", "anomaly"}
    if unknown:
        raise DataValidationError(
            f"{str(csv)!r}: label must be 'normal' or 'anomaly', found {sorted(unknown)}."
        )
    records = []
    for image, label, mask in rows[["image", "label", "mask"]].itertuples(index=False):
        anomalous = label == "anomaly"
        mask_path = base / mask if isinstance(mask, str) and mask else None
        if mask_path is not None and not mask_path.is_file():
            mask_path = None
        if anomalous:
            _checked_mask(base / image, mask_path, missing_mask, f"mask column of {str(csv)!r}")
        records.append(
            _Record(base / image, mask_path, "anomaly" if anomalous else "good", int(anomalous))
        )
    return _load_records(records, image_size, grayscale, split == "test", repr(str(csv)))
