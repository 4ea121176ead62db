"""An explicit ensemble: several detectors of one modality, each calibrated on its own fit scores.

Scores of different detectors live on different scales (a log error ratio, a noise variance, a
distance), so they are not added raw: each member's scores are calibrated by the statistics of
its own training scores (``calibration``, :class:`dmad.ops.Calibrator`) and the ensemble score
is their weighted sum. With log-domain members and ``calibration="median"`` the sum is a weighted
geometric ensemble of "how many times more unusual than normal" — e.g. a diffusion
reconstruction error and the DTE density of the same windows (the combination that
``diffusion_recon`` used to add silently; now it is written down).

Examples
--------
>>> import dmad
>>> ens = dmad.create(
...     "ensemble",
...     members=[dmad.create("dte_np"), dmad.create("ddpm", epochs=5)],
... )  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone

from dmad.detectors.base import BaseDetector
from dmad.exceptions import DataValidationError
from dmad.ops import CALIBRATIONS, Calibrator
from dmad.validation import check_is_fitted

__all__ = ["Ensemble"]


class Ensemble(BaseDetector, name="ensemble"):
    """Weighted sum of the calibrated scores of several detectors fitted on the same data.

    Parameters
    ----------
    members : sequence of detectors
        Unfitted dmad detectors of one modality; each is cloned and fitted on ``X``.
    weights : sequence of float or None
        One weight per member (None: all 1).
    calibration : str
        How each member's scores are put on one scale (see :data:`dmad.ops.CALIBRATIONS`):
        "median" for log-domain scores, "zscore" for any, "log_ratio" for positive ones.
    contamination : float or threshold rule
        Fraction of the fit data assumed anomalous; sets ``threshold_``.
    random_state : int or None
        Seed given to every member that takes one (so members fitted on the same windows draw
        the same subsample).
    device, verbose
        Unused (each member has its own); kept for a uniform API.

    Examples
    --------
    >>> import dmad
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> ens = Ensemble([dmad.create("dte_np"), dmad.create("dte_np", n_neighbors=20)])
    >>> ens.fit(X).decision_function(X[:2]).shape
    (2,)
    """

    modality: ClassVar[str] = "any"
    family: ClassVar[str] = "meta (ensemble)"
    composite: ClassVar[bool] = True
    test_params: ClassVar[dict[str, Any]] = {
        "members": [
            {"__detector__": "dte_np", "params": {"device": "cpu"}},
            {"__detector__": "dte_c", "params": {"epochs": 30, "hidden": 64, "n_blocks": 1}},
        ]
    }

    def __init__(
        self,
        members: Sequence[Any] = (),
        weights: Sequence[float] | None = None,
        calibration: str = "median",
        contamination: Any = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool | None = None,
    ) -> None:
        self.members = members
        self.weights = weights
        self.calibration = calibration
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ---- checks ---------------------------------------------------------------------------------
    def _checked_members(self) -> list[BaseDetector]:
        members = list(self.members)
        if not members or not all(isinstance(m, BaseDetector) for m in members):
            raise DataValidationError(
                "members must be a non-empty list of dmad detectors, e.g. "
                "[dmad.create('dte_np'), dmad.create('ddpm')]."
            )
        modalities = {m.modality for m in members}
        if len(modalities) > 1:
            raise DataValidationError(
                f"members must share one modality, got {sorted(modalities)}; an ensemble scores "
                "one kind of input."
            )
        return members

    def _weights(self, n: int) -> np.ndarray:
        weights = np.ones(n) if self.weights is None else np.asarray(self.weights, dtype=float)
        if weights.shape != (n,) or not np.isfinite(weights).all():
            raise DataValidationError(
                f"weights must be {n} finite numbers (one per member), got {self.weights!r}."
            )
        return weights

    # ---- BaseDetector hooks --------------------------------------------------------------------
    def _prepare(self, X: Any, fitting: bool) -> Any:
        if fitting:
            self._weights(len(self._checked_members()))
            if self.calibration not in CALIBRATIONS:
                raise DataValidationError(
                    f"calibration must be one of {CALIBRATIONS}, got {self.calibration!r}."
                )
        else:
            check_is_fitted(self, "members_")
        return X  # each member validates and prepares the input itself

    def _member(self, template: BaseDetector) -> BaseDetector:
        member = clone(template)
        if "random_state" in member.get_params():
            member.set_params(random_state=self.seed_)
        return member

    def _fit(self, X: Any) -> None:
        self.members_ = [self._member(m).fit(X) for m in self._checked_members()]
        self._copy_input_attributes()
        self.calibrators_ = [
            Calibrator(self.calibration).fit(m.decision_scores_) for m in self.members_
        ]

    def _copy_input_attributes(self) -> None:
        """The input facts the members learnt (``n_features_in_``), as every detector has them."""
        if hasattr(self.members_[0], "n_features_in_"):
            self.n_features_in_ = self.members_[0].n_features_in_

    def _combine(self, member_scores: list[np.ndarray]) -> np.ndarray:
        weights = self._weights(len(member_scores))
        calibrated = [c.transform(s) for c, s in zip(self.calibrators_, member_scores, strict=True)]
        return np.sum([w * s for w, s in zip(weights, calibrated, strict=True)], axis=0)

    def _training_scores(self, X: Any) -> np.ndarray:
        return self._combine([m.decision_scores_ for m in self.members_])

    def _score(self, X: Any) -> np.ndarray:
        return self._combine([m.decision_function(X) for m in self.members_])

    def score_stream(self, x_new: Any) -> np.ndarray:
        """Streaming scores of time-series members, combined (see ``TimeSeriesDetector``)."""
        check_is_fitted(self, "members_")
        if not all(hasattr(m, "score_stream") for m in self.members_):
            raise DataValidationError("score_stream needs time-series members only.")
        return self._combine([m.score_stream(x_new) for m in self.members_])

    # ---- persistence ---------------------------------------------------------------------------
    def _model_state(self) -> dict[str, Any]:
        return {
            f"member_{i}": {"detector": m.get_state(), "calibration": c.get_state()}
            for i, (m, c) in enumerate(zip(self.members_, self.calibrators_, strict=True))
        }

    def _restore_model(self, state: dict[str, Any]) -> None:
        templates = self._checked_members()
        self.members_ = [
            self._member(t).set_state(state[f"member_{i}"]["detector"])
            for i, t in enumerate(templates)
        ]
        self.calibrators_ = [
            Calibrator().set_state(state[f"member_{i}"]["calibration"])
            for i in range(len(templates))
        ]
        self._copy_input_attributes()
