"""The classical tabular baselines (PyOD) as registered dmad detectors.

- ``iforest``: isolation forest, Liu, Ting & Zhou, "Isolation Forest", ICDM 2008 (PyOD ``IForest``).
- ``knn``: distance to the k-th nearest training row, Ramaswamy, Rastogi & Shim, "Efficient
  Algorithms for Mining Outliers from Large Data Sets", SIGMOD 2000 (PyOD ``KNN``).
- ``lof``: local outlier factor, Breunig, Kriegel, Ng & Sander, "LOF: Identifying Density-Based
  Local Outliers", SIGMOD 2000 (PyOD ``LOF``).
- ``ecod``: empirical-CDF outlier detection, Li, Zhao, Hu, Botta, Ionescu & Chen, "ECOD:
  Unsupervised Outlier Detection Using Empirical Cumulative Distribution Functions", TKDE 2022
  (PyOD ``ECOD``).
- ``ocsvm``: one-class SVM, Schölkopf, Platt, Shawe-Taylor, Smola & Williamson, "Estimating the
  Support of a High-Dimensional Distribution", Neural Computation 2001 (PyOD ``OCSVM``).
- ``pca``: weighted distance to the principal axes, Shyu, Chen, Sarinnapakorn & Chang, "A Novel
  Anomaly Detection Scheme Based on Principal Component Classifier", ICDM workshop 2003 (PyOD
  ``PCA``).

They follow the ADBench / DTE protocol: numeric columns standard-scaled with the fit rows'
statistics (``standardize=True``; dmad's encoder, saved with the model), then PyOD's detector
with its default parameters unless given. They fit, score, threshold, save and load like every
dmad detector, so the benchmark runner and the user use the same objects, and ``dmad.load``
rebuilds the fitted PyOD model from its saved arrays without refitting
(:mod:`dmad.sklearn_state`; no pickle). PyOD runs on the CPU; it is an optional dependency,
a dependency of dmad, imported only when a baseline fits.

Where dmad departs from plain PyOD, deliberately:

- ``threshold_`` / ``labels_`` / ``predict`` come from dmad's ``contamination`` (or threshold
  rule) on ``decision_scores_``; PyOD's own ``contamination`` is fixed at 0.1, which changes
  nothing in its ``decision_function``.
- ``decision_scores_`` are PyOD's own training scores: for ``knn`` and ``lof`` each training row
  is left out of its own neighbours.
- ``pca`` also accepts ``n_components="rank"``: the matrix rank of the fit rows after PyOD's own
  per-column standardisation. PyOD's weighted score divides by each component's explained
  variance, so a component of variance 0 (a constant column, columns moving together) gives
  non-finite scores; keeping only ``rank`` components avoids that.
- ``ecod`` scores a batch of rows together with the training rows (PyOD's ECDFs are taken over
  both), so a row's score depends slightly on the rest of its batch, as in PyOD.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any, ClassVar

import numpy as np
import torch

from dmad.detectors.base import TabularDetector
from dmad.exceptions import DataValidationError, ModelFileError
from dmad.sklearn_state import estimator_state, restore_estimator

__all__ = [
    "ECODBaseline",
    "IForestBaseline",
    "KNNBaseline",
    "LOFBaseline",
    "OCSVMBaseline",
    "PCABaseline",
    "PyODBaseline",
]

#: what PyOD itself is told; it only sets PyOD's own threshold, which dmad does not use
PYOD_CONTAMINATION = 0.1

_COMMON_DOC = """
    standardize : bool
        Standard-scale the numeric columns with the fit rows' statistics before PyOD (the
        ADBench / DTE protocol); False feeds the values as given (already scaled data).
    contamination : float or threshold rule
        Fraction of the training data assumed anomalous (sets ``threshold_``), or a rule from
        :mod:`dmad.thresholds`.
    random_state : int or None
        Seed of the PyOD model, where it is random.
    device : str
        Unused: PyOD runs on the CPU; kept for a uniform API.
    verbose : bool or None
        Unused; kept for a uniform API.
"""


def _pyod_class(module: str, name: str) -> type:
    """A PyOD class, or a :class:`DataValidationError` that names the install command."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise DataValidationError(
            f"the PyOD baselines need PyOD, which is not installed; install it with "
            f"`pip install pyod` (needed for {module}.{name})."
        ) from exc


class PyODBaseline(TabularDetector, abstract=True):
    """A PyOD detector on dmad's encoded rows (float64, on the CPU), saved without pickle.

    A preset names its PyOD class (``_pyod``) and maps its own parameters to PyOD's
    (``_model_params``); this class fits the PyOD model, scores with its ``decision_function``,
    takes its ``decision_scores_`` as the training scores and saves / restores its fitted
    attributes (:func:`dmad.sklearn_state.estimator_state`).

    Examples
    --------
    >>> import numpy as np
    >>> import dmad
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> det = dmad.create("knn").fit(X)
    >>> bool(det.decision_function([[5.0, 5.0, 5.0]])[0] > det.threshold_)
    True
    """

    family: ClassVar[str] = "baseline (PyOD)"
    #: (module, class) of the PyOD detector
    _pyod: ClassVar[tuple[str, str]]
    #: attributes PyOD recomputes in every decision_function call (not saved)
    _scratch: ClassVar[tuple[str, ...]] = ()

    standardize: bool
    contamination: Any
    random_state: int | None

    @property
    def device_(self) -> torch.device:
        """Always the CPU: PyOD is numpy code, whatever ``device`` says."""
        return torch.device("cpu")

    def _scale_features(self) -> bool:
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise DataValidationError(
                f"standardize must be True or False, got {self.standardize!r}."
            )
        return bool(self.standardize)

    def _prepare(self, X: Any, fitting: bool) -> np.ndarray:  # type: ignore[override]
        # the encoder yields float32; PyOD (and sklearn's tree thresholds) work in float64
        return super()._prepare(X, fitting).numpy().astype(np.float64)

    def _model_params(self, X: np.ndarray) -> dict[str, Any]:
        """The PyOD class's keyword arguments (``X``: the fit rows, for data-dependent ones)."""
        raise NotImplementedError

    def _fit(self, X: np.ndarray) -> None:
        cls = _pyod_class(*self._pyod)
        params = {**self._model_params(X), "contamination": PYOD_CONTAMINATION}
        if "random_state" in inspect.signature(cls).parameters:
            params["random_state"] = self.seed_
        try:
            with warnings.catch_warnings():
                # PyOD's KNN warns that `algorithm` is deprecated, yet passes it on and uses it
                warnings.filterwarnings("ignore", "algorithm parameter is deprecated")
                self.model_ = cls(**params).fit(X)
        except ValueError as exc:
            raise DataValidationError(
                f"{self.registry_name}: PyOD's {cls.__name__} rejected the parameters or the data "
                f"({exc}); check the parameters {sorted(self._model_params_names())}."
            ) from exc

    def _model_params_names(self) -> list[str]:
        return [n for n in self._get_param_names() if n not in _COMMON_PARAMS]

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self.model_.decision_function(X)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        return self.model_.decision_scores_

    def _model_state(self) -> dict[str, Any]:
        return {"pyod": estimator_state(self.model_, skip=self._scratch)}

    def _restore_model(self, state: dict[str, Any]) -> None:
        model = restore_estimator(state["pyod"])
        cls = _pyod_class(*self._pyod)
        if type(model) is not cls:
            raise ModelFileError(
                f"{self.registry_name} model file holds a {type(model).__qualname__}, "
                f"not PyOD's {cls.__name__}."
            )
        self.model_ = model


_COMMON_PARAMS = ("standardize", "contamination", "random_state", "device", "verbose")


class IForestBaseline(PyODBaseline, name="iforest"):
    __doc__ = (
        """Isolation forest (PyOD ``IForest``): short average path length = anomalous.

    Parameters
    ----------
    n_estimators : int
        Number of trees.
    max_samples : int, float or "auto"
        Rows drawn to grow each tree ("auto": min(256, n_rows)).
    max_features : int or float
        Features drawn to grow each tree (a float: that fraction)."""
        + _COMMON_DOC
    )

    _pyod: ClassVar[tuple[str, str]] = ("pyod.models.iforest", "IForest")
    test_params: ClassVar[dict[str, Any]] = {"n_estimators": 50}

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        max_features: int | float = 1.0,
        standardize: bool = True,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.standardize = standardize
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _model_params(self, X: np.ndarray) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "max_samples": self.max_samples,
            "max_features": self.max_features,
        }


class KNNBaseline(PyODBaseline, name="knn"):
    __doc__ = (
        """k-NN distance (PyOD ``KNN``): distance to the k-th nearest training row.

    Parameters
    ----------
    n_neighbors : int
        k.
    method : str
        "largest" (k-th distance), "mean" or "median" of the k distances.
    algorithm : str
        Neighbour search of scikit-learn: "auto", "ball_tree", "kd_tree" or "brute"."""
        + _COMMON_DOC
    )

    _pyod: ClassVar[tuple[str, str]] = ("pyod.models.knn", "KNN")
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        n_neighbors: int = 5,
        method: str = "largest",
        algorithm: str = "auto",
        standardize: bool = True,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.method = method
        self.algorithm = algorithm
        self.standardize = standardize
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _model_params(self, X: np.ndarray) -> dict[str, Any]:
        return {"n_neighbors": self.n_neighbors, "method": self.method, "algorithm": self.algorithm}


class LOFBaseline(PyODBaseline, name="lof"):
    __doc__ = (
        """Local outlier factor (PyOD ``LOF``): local density relative to the neighbours'.

    Parameters
    ----------
    n_neighbors : int
        Neighbourhood size."""
        + _COMMON_DOC
    )

    _pyod: ClassVar[tuple[str, str]] = ("pyod.models.lof", "LOF")
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        n_neighbors: int = 20,
        standardize: bool = True,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.standardize = standardize
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _model_params(self, X: np.ndarray) -> dict[str, Any]:
        return {"n_neighbors": self.n_neighbors}


class ECODBaseline(PyODBaseline, name="ecod"):
    __doc__ = (
        """ECOD (PyOD ``ECOD``): tail probabilities of each feature's empirical CDF, summed.

    Parameter-free. A batch is scored together with the training rows (PyOD's ECDFs span both).

    Parameters
    ----------"""
        + _COMMON_DOC
    )

    _pyod: ClassVar[tuple[str, str]] = ("pyod.models.ecod", "ECOD")
    _scratch: ClassVar[tuple[str, ...]] = ("U_l", "U_r", "U_skew", "O")
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        standardize: bool = True,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.standardize = standardize
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _model_params(self, X: np.ndarray) -> dict[str, Any]:
        return {}


class OCSVMBaseline(PyODBaseline, name="ocsvm"):
    __doc__ = (
        """One-class SVM (PyOD ``OCSVM``): signed distance outside the learnt support.

    Parameters
    ----------
    kernel : str
        "rbf", "linear", "poly" or "sigmoid".
    nu : float
        Upper bound on the fraction of training errors, in (0, 1].
    gamma : float, "auto" or "scale"
        Kernel coefficient ("auto": 1 / n_features)."""
        + _COMMON_DOC
    )

    _pyod: ClassVar[tuple[str, str]] = ("pyod.models.ocsvm", "OCSVM")
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        kernel: str = "rbf",
        nu: float = 0.5,
        gamma: float | str = "auto",
        standardize: bool = True,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.kernel = kernel
        self.nu = nu
        self.gamma = gamma
        self.standardize = standardize
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _model_params(self, X: np.ndarray) -> dict[str, Any]:
        return {"kernel": self.kernel, "nu": self.nu, "gamma": self.gamma}


def _standardized_rank(X: np.ndarray) -> int:
    """Matrix rank of ``X`` after PyOD's per-column standardisation (at least 1).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> _standardized_rank(np.column_stack([X, X[:, 0] + X[:, 1], np.ones(50)]))
    3
    """
    from sklearn.preprocessing import StandardScaler  # PyOD's standardizer is this scaler

    return max(1, int(np.linalg.matrix_rank(StandardScaler().fit_transform(X))))


class PCABaseline(PyODBaseline, name="pca"):
    __doc__ = (
        """PCA (PyOD ``PCA``): distances to the principal axes, weighted by their variance.

    Parameters
    ----------
    n_components : int, float, "mle", "rank" or None
        Components kept (None: all). "rank": as many as the standardised fit rows have rank,
        so no component has variance 0 (whose weight would make the score non-finite)."""
        + _COMMON_DOC
    )

    _pyod: ClassVar[tuple[str, str]] = ("pyod.models.pca", "PCA")
    test_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        n_components: int | float | str | None = None,
        standardize: bool = True,
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.n_components = n_components
        self.standardize = standardize
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _model_params(self, X: np.ndarray) -> dict[str, Any]:
        n = _standardized_rank(X) if self.n_components == "rank" else self.n_components
        return {"n_components": n}
