"""The one detector API (PyOD / scikit-learn style) that every dmad detector implements.

Score semantics follow PyOD: ``decision_function`` is *higher = more anomalous* and ``predict``
returns 1 for anomalies, 0 for normal points. scikit-learn's outlier detectors use the opposite
sign (higher = more normal, labels -1/+1); dmad does not.

``contamination`` is the fraction of the *training* data assumed anomalous: after ``fit``,
``threshold_`` is the (1 - contamination) quantile of the training scores ``decision_scores_``.
It may also be a threshold rule from :mod:`dmad.thresholds` (peaks over threshold, best F1 on
labelled validation data, a fixed value). Pass ``threshold=`` to ``predict`` to override it.

Registration: a concrete detector names itself in its class statement,
``class MyDetector(TabularDetector, name="my_detector")``, which makes it available as
``dmad.create("my_detector")`` and is the name it is saved under; a base class that is not meant
to be used on its own says ``abstract=True``. A subclass that does neither is an error at class
creation, so a saved model always loads as the class that saved it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import torch
from sklearn.base import BaseEstimator

from dmad.detectors.registry import register_class
from dmad.diffusion import NoiseSchedule, TrainConfig, TrainResult, train_model
from dmad.exceptions import DataValidationError
from dmad.preprocessing import TabularEncoder
from dmad.thresholds import threshold_rule
from dmad.utils import draw_seed, resolve_device
from dmad.validation import check_array, check_is_fitted

__all__ = [
    "BaseDetector",
    "DenoiserMixin",
    "TabularDetector",
    "auto_batch_size",
    "load_net",
    "net_state",
]


class BaseDetector(BaseEstimator):
    """Common behaviour: validation, thresholding, persistence, seeding, device choice.

    Subclasses implement ``_prepare(X, fitting)`` (validate/encode input), ``_fit(data)``,
    ``_score(data)`` and, for persistence, ``_model_state()``/``_restore_model(state)``.
    Every subclass ``__init__`` only stores its arguments (scikit-learn convention).

    Class attributes: ``modality`` ("tabular", "timeseries", "image"), ``family`` (the method
    family, shown by ``dmad list``), ``composite`` (built around detectors given as parameters,
    so it has no usable defaults and default benchmark grids skip it) and ``test_params`` (fast
    settings the common test suite fits the detector with; every registered detector is tested
    with them).
    """

    modality: ClassVar[str] = "tabular"
    family: ClassVar[str] = ""
    composite: ClassVar[bool] = False
    registry_name: ClassVar[str] = ""
    test_params: ClassVar[dict[str, Any]] = {}
    __abstract__: ClassVar[bool] = True

    def __init_subclass__(
        cls, name: str | None = None, abstract: bool = False, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.__abstract__ = abstract
        if name is not None:
            register_class(name, cls)
        elif not abstract:
            raise TypeError(
                f"{cls.__name__} must be registered: write `class {cls.__name__}(..., "
                f"name='my_name')` (its name in dmad.create and in saved models), or "
                f"`abstract=True` for a base class that is never used on its own."
            )

    # ---- public API ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit on (mostly) normal data ``X``; ``y`` is ignored (unsupervised)."""
        rule = threshold_rule(self.contamination)
        data = self._prepare(X, fitting=True)
        self.seed_ = draw_seed(self.random_state)
        with self._seeded():
            self._fit(data)
        self.decision_scores_ = self._score_checked(data, training=True)
        self.threshold_ = float(rule.compute(self, self.decision_scores_))
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores, higher = more anomalous (one per sample / time step)."""
        check_is_fitted(self, "decision_scores_")
        return self._score_checked(self._prepare(X, fitting=False))

    def predict(self, X: Any, threshold: float | None = None) -> np.ndarray:
        """1 for anomalies, 0 for normal: scores above ``threshold`` (default ``threshold_``)."""
        scores = self.decision_function(X)
        cut = self.threshold_ if threshold is None else float(threshold)
        return (scores > cut).astype(np.int64)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit, then return ``labels_`` for the training data."""
        return self.fit(X).labels_

    @property
    def labels_(self) -> np.ndarray:
        """0/1 labels of the training data under ``threshold_``."""
        check_is_fitted(self, "decision_scores_")
        return (self.decision_scores_ > self.threshold_).astype(np.int64)

    def save(self, path: str | Path) -> Path:
        """Save to a directory (config.json + weights.safetensors + meta.json), atomically."""
        from dmad.io import save_detector

        return save_detector(self, path)

    @classmethod
    def load(cls, path: str | Path) -> BaseDetector:
        """Load a detector saved with :meth:`save`."""
        from dmad.io import load_detector

        detector = load_detector(path)
        if not isinstance(detector, cls):
            raise DataValidationError(
                f"{path} holds a {type(detector).__name__}, not a {cls.__name__}; "
                "use dmad.load(path) to load any detector."
            )
        return detector

    # ---- state protocol -----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything ``fit`` learnt, as nested dicts of tensors, arrays and JSON values.

        With the parameters (``get_params``) it rebuilds the fitted detector exactly
        (:meth:`set_state`); :func:`dmad.io.save_detector` writes it to safetensors + JSON.
        """
        check_is_fitted(self, "decision_scores_")
        return {
            "seed": self.seed_,
            "decision_scores": self.decision_scores_,
            "threshold": self.threshold_,
            "input": self._input_state(),
            "model": self._model_state(),
        }

    def set_state(self, state: dict[str, Any]) -> BaseDetector:
        """Restore a state from :meth:`get_state` into this (unfitted) detector."""
        self.seed_ = int(state["seed"])
        self._restore_input(state["input"])
        self._restore_model(state.get("model", {}))
        self.decision_scores_ = np.asarray(state["decision_scores"], dtype=np.float64)
        self.threshold_ = float(state["threshold"])
        return self

    # ---- helpers for subclasses ---------------------------------------------------------------
    @property
    def device_(self) -> torch.device:
        """The torch device resolved from the ``device`` parameter ("auto": cuda → mps → cpu)."""
        return resolve_device(getattr(self, "device", "auto"))

    @contextlib.contextmanager
    def _seeded(self, offset: int = 0) -> Iterator[None]:
        """Seed torch's global RNG (weight init, dropout) without disturbing the caller's."""
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed_ + offset)
            yield

    def _generator(self, offset: int = 0) -> torch.Generator:
        """A generator seeded from the fitted seed: scoring is repeatable call after call."""
        return torch.Generator(device=self.device_).manual_seed(self.seed_ + offset)

    def _training_scores(self, data: Any) -> np.ndarray:
        """Scores of the fit data itself (``decision_scores_``, hence ``threshold_``).

        A detector that memorises its fit data overrides this to leave each sample's own (and
        trivially matching) entries out; otherwise the training scores are optimistic and the
        threshold flags nearly everything new.
        """
        return self._score(data)

    def _score_checked(self, data: Any, training: bool = False) -> np.ndarray:
        raw = self._training_scores(data) if training else self._score(data)
        scores = np.asarray(raw, dtype=np.float64)
        if not np.all(np.isfinite(scores)):
            raise DataValidationError(
                f"{type(self).__name__} produced non-finite scores; the input is far outside "
                "the training range or the model diverged (try a smaller lr or more data)."
            )
        return scores

    def _check_fraction_param(self, name: str, low: float = 0.0, high: float = 1.0) -> float:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataValidationError(f"{name} must be a number in [{low}, {high}], got {value!r}.")
        if not low <= float(value) <= high:
            raise DataValidationError(f"{name} must be in [{low}, {high}], got {value!r}.")
        return float(value)

    @classmethod
    def _params_from_json(cls, params: dict[str, Any]) -> dict[str, Any]:
        """JSON turns tuples into lists; give tuple-valued defaults their type back."""
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
        return {
            k: tuple(v) if isinstance(defaults.get(k), tuple) and isinstance(v, list) else v
            for k, v in params.items()
        }

    # ---- to implement -------------------------------------------------------------------------
    def _prepare(self, X: Any, fitting: bool) -> Any:
        raise NotImplementedError

    def _fit(self, data: Any) -> None:
        raise NotImplementedError

    def _score(self, data: Any) -> np.ndarray:
        raise NotImplementedError

    def _input_state(self) -> dict[str, Any]:
        return {}

    def _restore_input(self, state: dict[str, Any]) -> None:
        return None

    def _model_state(self) -> dict[str, Any]:
        return {}

    def _restore_model(self, state: dict[str, Any]) -> None:
        return None


def net_state(net: torch.nn.Module) -> dict[str, Any]:
    """A network as saved state: its JSON config (``kind`` + constructor arguments) and weights."""
    config = cast(dict[str, Any], net.config)
    return {"config": {"kind": net.kind, **config}, "weights": net.state_dict()}


def load_net(state: dict[str, Any], device: torch.device) -> torch.nn.Module:
    """Rebuild a network saved with :func:`net_state` on ``device``, in eval mode."""
    from dmad.nets import build_net

    net = build_net(**state["config"]).to(device)
    net.load_state_dict({k: v.to(device) for k, v in state["weights"].items()})
    return net.eval()


class DenoiserMixin:
    """The lifecycle of a detector that trains a diffusion network (PyOD's ``build_model`` /
    training forward / evaluating forward, for dmad).

    The mixin builds the noise schedule once per fit (``schedule_``, from ``n_steps``,
    ``beta_schedule`` and :attr:`beta_range`, when ``fit`` prepares the data) and again on load;
    the detector's ``_fit`` calls :meth:`_train_net` with the net's config and a loss, and the mixin
    builds the network, trains it with the training parameters this detector declares
    (:meth:`_train_config`, an explicit mapping) and saves and restores it (``net_``) with the
    model. A detector with a second network (a head) uses :func:`net_state` / :func:`load_net`.
    """

    #: (beta_start, beta_end) of linear / sigmoid schedules
    beta_range: ClassVar[tuple[float, float]] = (1e-4, 0.02)

    # attributes the detector provides (its parameters) and the mixin creates
    hidden: int
    n_blocks: int
    base_channels: int
    channel_mults: Sequence[int]
    n_steps: int
    epochs: int
    batch_size: int | None
    lr: float
    weight_decay: float
    patience: int
    max_seconds: float | None
    verbose: bool | None
    registry_name: ClassVar[str]
    device_: torch.device
    seed_: int
    net_: torch.nn.Module
    schedule_: NoiseSchedule
    train_result_: TrainResult

    def _prepare(self, X: Any, fitting: bool) -> Any:
        data = super()._prepare(X, fitting)  # type: ignore[misc]
        if fitting:
            self._build_schedule()
        return data

    def _build_schedule(self) -> NoiseSchedule:
        self.schedule_ = NoiseSchedule.create(
            getattr(self, "beta_schedule", "linear"),
            self.n_steps,
            *self.beta_range,
            device=self.device_,
        )
        return self.schedule_

    def _train_config(self, n_rows: int) -> TrainConfig:
        """The training settings, read from this detector's own parameters (and nothing else).

        ``batch_size=None`` picks about 16 optimiser steps per epoch (:func:`auto_batch_size`).
        """
        batch = auto_batch_size(n_rows) if self.batch_size is None else self.batch_size
        return TrainConfig(
            epochs=self.epochs,
            batch_size=batch,
            lr=self.lr,
            weight_decay=self.weight_decay,
            patience=self.patience,
            max_seconds=self.max_seconds,
        )

    def _mlp_config(self, in_features: int, **extra: Any) -> dict[str, Any]:
        """A residual-MLP net config from this detector's ``hidden``, ``n_blocks``, ``dropout``."""
        return {
            "kind": "mlp",
            "in_features": in_features,
            "hidden": self.hidden,
            "n_blocks": self.n_blocks,
            "dropout": getattr(self, "dropout", 0.0),
            **extra,
        }

    def _unet_config(self, kind: str, in_channels: int, **extra: Any) -> dict[str, Any]:
        """A U-Net net config from this detector's ``base_channels`` and ``channel_mults``."""
        return {
            "kind": kind,
            "in_channels": in_channels,
            "base_channels": self.base_channels,
            "channel_mults": list(self.channel_mults),
            **extra,
        }

    def _train_net(
        self,
        config: dict[str, Any],
        loss_fn: Callable[[torch.nn.Module, tuple[torch.Tensor, ...], torch.Generator], Any],
        data: torch.Tensor | Sequence[torch.Tensor],
    ) -> torch.nn.Module:
        """Build ``net_`` from ``config`` and train it on ``data`` with ``loss_fn``."""
        from dmad.nets import build_net

        self.net_ = build_net(**config).to(self.device_)
        n_rows = (data if isinstance(data, torch.Tensor) else data[0]).shape[0]
        self.train_result_ = train_model(
            self.net_,
            loss_fn,
            data,
            self._train_config(n_rows),
            seed=self.seed_,
            progress=self.verbose,
            desc=f"{self.registry_name} training",
        )
        return self.net_

    def _model_state(self) -> dict[str, Any]:
        return {"net": net_state(self.net_)}

    def _restore_model(self, state: dict[str, Any]) -> None:
        self._build_schedule()
        self.net_ = load_net(state["net"], self.device_)


def auto_batch_size(n_rows: int, largest: int = 512, steps: int = 16, smallest: int = 32) -> int:
    """Rows per training step when ``batch_size=None``: about ``steps`` steps per epoch.

    Large batches are fast per row, but a small training set then gets one or two optimiser
    steps per epoch, and early stopping, which counts epochs, ends training after a few dozen
    steps. Aiming at ``steps`` steps per epoch, between ``smallest`` and ``largest`` rows per
    step, gives small sets enough updates and large sets large batches.

    Examples
    --------
    >>> auto_batch_size(500), auto_batch_size(5_000), auto_batch_size(1_000_000)
    (32, 312, 512)
    """
    return int(min(largest, max(smallest, n_rows // steps)))


class TabularDetector(BaseDetector, abstract=True):
    """Rows × features input: numpy arrays or pandas DataFrames (categoricals one-hot encoded).

    The encoder (standard scaling of numeric columns, fitted on the training data) is saved with
    the model, so ``decision_function`` applies exactly the training-time preprocessing.
    """

    modality: ClassVar[str] = "tabular"

    def _scale_features(self) -> bool:
        """Standardise numeric columns (every dmad detector does; a baseline may not)."""
        return True

    def _prepare(self, X: Any, fitting: bool) -> torch.Tensor:
        if fitting:
            self.encoder_ = TabularEncoder(scale=self._scale_features()).fit(X)
            self.n_features_in_ = len(self.encoder_.columns_)
        else:
            check_is_fitted(self, "encoder_")
        encoded = self.encoder_.transform(X)
        if hasattr(X, "columns"):  # DataFrame path skipped check_array on categoricals
            encoded = check_array(encoded, name="X")
        return torch.from_numpy(np.ascontiguousarray(encoded)).to(self.device_)

    def _input_state(self) -> dict[str, Any]:
        return self.encoder_.get_state()

    def _restore_input(self, state: dict[str, Any]) -> None:
        self.encoder_ = TabularEncoder().set_state(state)
        self.n_features_in_ = len(self.encoder_.columns_)
