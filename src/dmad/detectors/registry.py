"""Name → detector class registry behind ``dmad.create`` and ``dmad.available_detectors``.

Classes register themselves in their class statement (``class X(BaseDetector, name="x")``, see
:mod:`dmad.detectors.base`); this module only keeps the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dmad.exceptions import DataValidationError

if TYPE_CHECKING:
    from dmad.detectors.base import BaseDetector

__all__ = ["available_detectors", "create", "get_detector_class", "register_class"]

_REGISTRY: dict[str, type[BaseDetector]] = {}


def register_class(name: str, cls: type[BaseDetector]) -> None:
    """Record ``cls`` under ``name`` (called by ``BaseDetector.__init_subclass__``)."""
    if not name.isidentifier():
        raise ValueError(f"detector name {name!r} must be a Python identifier, e.g. 'my_ddpm'.")
    known = _REGISTRY.get(name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(
            f"detector name {name!r} is taken by {known.__module__}.{known.__qualname__}; "
            "choose another name."
        )
    cls.registry_name = name
    _REGISTRY[name] = cls


def _load_all() -> None:
    import dmad.detectors  # noqa: F401  (importing the package registers every detector)


def available_detectors(modality: str | None = None) -> list[str]:
    """Sorted registry names, optionally only those of one modality.

    Examples
    --------
    >>> "ddpm" in available_detectors("tabular")
    True
    """
    _load_all()
    return sorted(n for n, c in _REGISTRY.items() if modality in (None, c.modality))


def get_detector_class(name: str) -> type[BaseDetector]:
    """The class registered under ``name``."""
    _load_all()
    if name not in _REGISTRY:
        raise DataValidationError(
            f"unknown detector {name!r}; available: {', '.join(available_detectors())}."
        )
    return _REGISTRY[name]


def create(name: str, **params: Any) -> BaseDetector:
    """Instantiate a registered detector, e.g. ``dmad.create("dte_np", n_neighbors=5)``."""
    cls = get_detector_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        valid = sorted(cls._get_param_names())
        raise DataValidationError(
            f"bad parameter for {name!r}: {exc}; valid parameters: {', '.join(valid)}."
        ) from exc
