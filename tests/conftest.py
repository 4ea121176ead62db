"""Shared fixtures and the one way tests build detectors: ``make(name, **overrides)``.

A detector's fast test settings live on its class (``test_params``); the tests add only the
defaults below (CPU, a seed, quiet, and per modality the window of the sine fixture or sharp
image maps) and whatever a test itself is about (``overrides``). Nested detectors in test_params
are written as in saved configs, ``{"__detector__": name, "params": {...}}``, and are built the
same way, recursively (lists included).

The modality fixtures (``modality_data``) and the session cache of detectors fitted on them
(``fitted_detector``) serve the common-API suite and the modality-specific tests alike, so each
detector is fitted once per test session on its modality's data.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from _image_data import striped_images

import dmad
from dmad.thresholds import Quantile

# one thread: the test models are tiny, and thread start-up costs more than it saves
torch.set_num_threads(1)

#: settings every test detector gets where its signature has the parameter
DEFAULTS: dict[str, Any] = {"random_state": 0, "device": "cpu", "verbose": False}
#: and per modality: the sine fixture's period as window, sharp image maps
MODALITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "tabular": {},
    "timeseries": {"window": 20},
    "image": {"sigma": 1.0},
    "any": {},
}
#: the rule the cached detectors are fitted with: what contamination=0.1 means (a float is
#: Quantile, tested in test_thresholds), so every check also runs the rule path and its saving
CONTAMINATION = Quantile(0.1)


def signature_params(cls: type) -> dict[str, inspect.Parameter]:
    """The constructor parameters of a detector class (without ``self``)."""
    params = dict(inspect.signature(cls.__init__).parameters)
    params.pop("self", None)
    return params


def build(value: Any) -> Any:
    """Build tagged detectors (``{"__detector__": name, "params": {...}}``) inside ``value``."""
    if isinstance(value, list):
        return [build(v) for v in value]
    if isinstance(value, dict):
        if "__detector__" in value:
            return make(value["__detector__"], **value.get("params", {}))
        return {k: build(v) for k, v in value.items()}
    return value


def params_for(name: str, **overrides: Any) -> dict[str, Any]:
    """Defaults where the signature has them, then the class's test_params, then overrides."""
    cls = dmad.get_detector_class(name)
    accepted = signature_params(cls)
    defaults = {**DEFAULTS, **MODALITY_DEFAULTS[cls.modality]}
    params = {k: v for k, v in defaults.items() if k in accepted}
    params.update(cls.test_params)
    params.update(overrides)
    return {k: build(v) for k, v in params.items()}


def make(name: str, **overrides: Any) -> dmad.BaseDetector:
    """A detector with its class's fast test settings (plus ``overrides``), unfitted."""
    return dmad.create(name, **params_for(name, **overrides))


def assert_same_params(a: Any, b: Any, where: str = "") -> None:
    """Equal parameters, comparing nested detectors by class and parameters, recursively.

    Lists and tuples compare alike: a saved list loads as a tuple where the default is one.
    """
    if isinstance(a, dmad.BaseDetector) or isinstance(b, dmad.BaseDetector):
        assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
        pa, pb = a.get_params(deep=False), b.get_params(deep=False)
        assert pa.keys() == pb.keys(), where
        for key in pa:
            assert_same_params(pa[key], pb[key], f"{where}.{key}" if where else key)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_params(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
        assert (numbers or type(a) is type(b)) and a == b, f"{where}: {a!r} != {b!r}"


def modality_of(detector: dmad.BaseDetector) -> str:
    """The kind of input a detector takes; an ensemble takes its members'."""
    if detector.modality == "any":
        (modality,) = {m.modality for m in detector.members}
        return modality
    return detector.modality


def is_slow(name: str) -> bool:
    """Detectors that train a U-Net denoiser take seconds to fit even with their test_params."""
    from dmad.detectors.image._denoiser import ImageDenoiserDetector
    from dmad.detectors.timeseries._diffusion import WindowDiffusionDetector

    unet = ImageDenoiserDetector | WindowDiffusionDetector
    return issubclass(dmad.get_detector_class(name), unet)


# ---- modality data -----------------------------------------------------------------------------
class Data(NamedTuple):
    """Normal fit data; test data with 0/1 ``labels`` (rows, steps or images); fresh ``normal``
    data only; pixel ``masks`` of the test images."""

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    normal: np.ndarray
    masks: np.ndarray | None = None


def tabular_data() -> Data:
    """Correlated Gaussian rows; test = held-out normals + a far-away cluster off the diagonal."""
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])
    train = rng.multivariate_normal(np.zeros(3), cov, size=300).astype(np.float32)
    normal = rng.multivariate_normal(np.zeros(3), cov, size=60)
    anomalies = rng.normal(size=(20, 3)) * 0.5 + np.array([3.0, -3.0, 0.0])
    test = np.vstack([normal, anomalies]).astype(np.float32)
    return Data(train, test, np.r_[np.zeros(60), np.ones(20)].astype(int), test[:60])


def sine(n: int, seed: int) -> np.ndarray:
    """A 2-channel sine/cosine of period 20 with a little noise, (n, 2) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    clean = np.c_[np.sin(2 * np.pi * t / 20), np.cos(2 * np.pi * t / 20)]
    return (clean + 0.05 * rng.normal(size=(n, 2))).astype(np.float32)


def series_data() -> Data:
    """Fit on 600 steps of the sine; test 400 steps with two level faults of 6 steps."""
    test = sine(400, 1)
    labels = np.zeros(len(test), int)
    for start in (100, 250):
        test[start : start + 6, 0] += 1.5
        labels[start : start + 6] = 1
    return Data(sine(600, 0), test, labels, sine(400, 2))


def image_data() -> Data:
    """48 striped 32 px images; test = 12 with a pasted bright square + 12 normal."""
    train, _ = striped_images(48)
    bad, masks = striped_images(12, defect=True, seed=1)
    good, _ = striped_images(12, seed=2)
    return Data(
        train,
        np.concatenate([bad, good]),
        np.r_[np.ones(12), np.zeros(12)].astype(int),
        good,
        np.concatenate([masks, np.zeros_like(masks)]),
    )


_DATA: dict[str, Callable[[], Data]] = {
    "tabular": tabular_data,
    "timeseries": series_data,
    "image": image_data,
}


@pytest.fixture(scope="session")
def modality_data() -> Callable[[str], Data]:
    """``modality_data("tabular" | "timeseries" | "image")``: that modality's fixture data."""
    cache: dict[str, Data] = {}

    def get(modality: str) -> Data:
        if modality not in cache:
            cache[modality] = _DATA[modality]()
        return cache[modality]

    return get


@pytest.fixture(scope="session")
def fitted_detector(modality_data) -> Callable[[str], dmad.BaseDetector]:
    """``fitted_detector(name)``: ``make(name, contamination=CONTAMINATION)`` fitted on its
    modality's ``train`` data, once per session. Shared: a test that changes it (set_params,
    score_stream) works on a copy."""
    cache: dict[str, dmad.BaseDetector] = {}

    def get(name: str) -> dmad.BaseDetector:
        if name not in cache:
            detector = make(name, contamination=CONTAMINATION)
            cache[name] = detector.fit(modality_data(modality_of(detector)).train)
        return cache[name]

    return get


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normal rows from a correlated Gaussian; test = held-out normals + far-away anomalies."""
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.8, 0.0, 0.0], [0.8, 1.0, 0.0, 0.0], [0, 0, 1.0, 0.5], [0, 0, 0.5, 1.0]])
    X_train = rng.multivariate_normal(np.zeros(4), cov, size=400)
    normal = rng.multivariate_normal(np.zeros(4), cov, size=100)
    anomalies = rng.uniform(-5, 5, size=(30, 4))
    anomalies[:, :2] = np.column_stack([anomalies[:, 0], -anomalies[:, 0]])  # break correlation
    X_test = np.vstack([normal, anomalies])
    y_test = np.r_[np.zeros(100), np.ones(30)].astype(int)
    return X_train.astype(np.float32), X_test.astype(np.float32), y_test
