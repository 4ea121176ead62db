"""The one detector API (PyOD / scikit-learn style) that every dmad detector implements.

Score semantics follow PyOD: ``decision_function`` is *higher = more anomalous* and ``predict``
returns 1 for anomalies, 0 for normal points. scikit-learn's outlier detectors use the opposite
sign (higher = more normal, labels -1/+1); dmad does not.

``contamination`` is the fraction of the *training* data assumed anomalous: after ``fit``,
``threshold_`` is the (1 - contamination) quantile of the training scores ``decision_scores_``.
Pass ``threshold=`` to ``predict`` to override it (e.g. one calibrated on validation data).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator

from dmad.diffusion.train import TrainConfig
from dmad.exceptions import DataValidationError
from dmad.preprocessing import TabularEncoder
from dmad.utils import resolve_device
from dmad.validation import check_array, check_fraction, check_is_fitted

__all__ = ["BaseDetector", "TabularDetector"]


class BaseDetector(BaseEstimator):
    """Common behaviour: validation, thresholding, persistence, seeding, device choice.

    Subclasses implement ``_prepare(X, fitting)`` (validate/encode input), ``_fit(data)``,
    ``_score(data)`` and, for persistence, ``_model_state()``/``_restore_model(state)``.
    Every subclass ``__init__`` only stores its arguments (scikit-learn convention).
    """

    modality: ClassVar[str] = "tabular"
    registry_name: ClassVar[str] = ""

    # ---- public API ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit on (mostly) normal data ``X``; ``y`` is ignored (unsupervised)."""
        check_fraction(self.contamination, name="contamination")
        data = self._prepare(X, fitting=True)
        self.seed_ = (
            int(np.random.SeedSequence().entropy % 2**31)
            if self.random_state is None
            else int(self.random_state)
        )
        with self._seeded():
            self._fit(data)
        self.decision_scores_ = self._score_checked(data, training=True)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
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
        """Save to a directory (config.json + weights.safetensors + meta.json)."""
        from dmad.io import save_detector

        check_is_fitted(self, "decision_scores_")
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

    # ---- helpers for subclasses ---------------------------------------------------------------
    @property
    def device_(self) -> torch.device:
        """The torch device resolved from the ``device`` parameter ("auto": cuda → mps → cpu)."""
        return resolve_device(getattr(self, "device", "cpu"))

    @contextlib.contextmanager
    def _seeded(self, offset: int = 0) -> Iterator[None]:
        """Seed torch's global RNG (weight init, dropout) without disturbing the caller's."""
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed_ + offset)
            yield

    def _train_config(self) -> TrainConfig:
        """Training settings from whichever of TrainConfig's fields this detector exposes."""
        return TrainConfig(
            **{f.name: getattr(self, f.name) for f in fields(TrainConfig) if hasattr(self, f.name)}
        )

    def _load_net(
        self, config: dict[str, Any], weights: dict[str, torch.Tensor]
    ) -> torch.nn.Module:
        """Rebuild a saved network from its JSON config and weights, on this detector's device."""
        from dmad.nets import build_net

        net = build_net(**config).to(self.device_)
        net.load_state_dict({k: v.to(self.device_) for k, v in weights.items()})
        return net.eval()

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
        scores = np.asarray(
            self._training_scores(data) if training else self._score(data), dtype=np.float64
        )
        if not np.all(np.isfinite(scores)):
            raise DataValidationError(
                f"{type(self).__name__} produced non-finite scores; the input is far outside "
                "the training range or the model diverged (try a smaller lr or more data)."
            )
        return scores

    # ---- persistence hooks --------------------------------------------------------------------
    def _get_state(self) -> dict[str, Any]:
        return {
            "seed": self.seed_,
            "decision_scores": self.decision_scores_,
            "threshold": self.threshold_,
            "input": self._input_state(),
            "model": self._model_state(),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.seed_ = int(state["seed"])
        self._restore_input(state["input"])
        self._restore_model(state.get("model", {}))
        self.decision_scores_ = np.asarray(state["decision_scores"], dtype=np.float64)
        self.threshold_ = float(state["threshold"])

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


class TabularDetector(BaseDetector):
    """Rows × features input: numpy arrays or pandas DataFrames (categoricals one-hot encoded).

    The encoder (standard scaling of numeric columns, fitted on the training data) is saved with
    the model, so ``decision_function`` applies exactly the training-time preprocessing.
    """

    modality: ClassVar[str] = "tabular"
    #: set False in detectors that must see raw features
    _scale_features: ClassVar[bool] = True

    def _prepare(self, X: Any, fitting: bool) -> torch.Tensor:
        if fitting:
            self.encoder_ = TabularEncoder(scale=self._scale_features).fit(X)
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
