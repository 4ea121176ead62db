"""Detector lookup for benchmark specs: names, parameters, modality, fresh instances.

Every name is a registered dmad detector, the classical baselines included (``iforest``, ``knn``,
``lof``, ``ecod``, ``ocsvm``, ``pca``: :mod:`dmad.detectors.tabular.pyod_baselines`), so the
benchmark fits, scores and saves exactly the objects a user gets from ``dmad.create``. Parameters
are JSON; a parameter that is itself a detector (an ensemble's members, a windowed detector's
vector detector) is written as in saved configs, ``{"__detector__": name, "params": {...}}``.
"""

from __future__ import annotations

from typing import Any

import dmad
from dmad.detectors.base import BaseDetector
from dmad.detectors.registry import get_detector_class
from dmad.exceptions import DataValidationError
from dmad.io import decode_params

__all__ = ["check_detector", "detector_modality", "make_detector"]


def _class(name: str) -> type[BaseDetector]:
    if name not in dmad.available_detectors():
        raise DataValidationError(
            f"unknown detector {name!r}; use a registered detector "
            f"({', '.join(dmad.available_detectors())})."
        )
    return get_detector_class(name)


def check_detector(name: str, params: dict[str, Any]) -> None:
    """Raise unless ``name`` is a registered detector that takes every key of ``params``.

    Only the parameter *names* are checked here; their values are validated when the detector
    fits, so a bad value fails that one job, not the whole sweep.

    Examples
    --------
    >>> check_detector("knn", {"n_neighbors": 10})
    """
    valid = sorted(_class(name)._get_param_names())
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise DataValidationError(
            f"detector {name!r} has no parameter(s) {unknown}; valid parameters: "
            f"{', '.join(valid)}."
        )


def detector_modality(name: str) -> str:
    """The modality ("tabular", "timeseries", "image") of a registered detector.

    Examples
    --------
    >>> detector_modality("iforest")
    'tabular'
    """
    return _class(name).modality


def make_detector(name: str, params: dict[str, Any] | None, seed: int) -> BaseDetector:
    """A fresh, unfitted detector: ``dmad.create(name, ...)``.

    Detectors get ``random_state=seed`` and ``verbose=False`` when they take those parameters
    (values in ``params`` win); YAML lists become tuples where the default is one; tagged
    nested detectors are built.

    Examples
    --------
    >>> det = make_detector("iforest", {"n_estimators": 50}, seed=0)
    >>> det.registry_name, det.n_estimators, det.random_state
    ('iforest', 50, 0)
    """
    params = dict(params or {})
    check_detector(name, params)
    cls = get_detector_class(name)
    valid = cls._get_param_names()
    defaults = {k: v for k, v in (("random_state", seed), ("verbose", False)) if k in valid}
    built = cls._params_from_json(decode_params(params))
    return dmad.create(name, **{**defaults, **built})
