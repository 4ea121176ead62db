"""The generate → detect loop: judge and tune detectors on data that has no labelled anomalies.

- :func:`estimate_auroc` injects labelled synthetic anomalies into held-out *normal* data and
  scores them with a fitted detector: an AUROC estimate and a calibrated threshold where no real
  anomaly is known. This is the model-selection use of synthetic anomalies studied by ADBench
  (Han et al., NeurIPS 2022, Section 4.3) and by Ma, Zhao, Akoglu, "The Need for Unsupervised
  Outlier Model Selection: A Review and Evaluation of Internal Evaluation Strategies", SIGKDD
  Explorations 2023.
- :func:`filter_generated` keeps generated anomalies that a detector ensemble still flags but
  finds hardest, the filtering idea of anomaly-synthesis pipelines (e.g. AnomalyDiffusion's and
  DualAnoDiff's curated sets): easy, far-away samples teach a supervised model little, and samples
  no detector flags may not be anomalies at all.

The supervised use of generated anomalies (a segmentation head trained on them, DiffusionAD) is
the image detector ``"diffusionad"`` (:mod:`dmad.detectors.image.diffusionad`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dmad.exceptions import DataValidationError
from dmad.generation._common import Injection, rng_from
from dmad.metrics import aupr, auroc
from dmad.metrics.f1 import best_f1
from dmad.thresholds import best_f1_threshold

__all__ = ["GeneratedEvaluation", "estimate_auroc", "filter_generated", "inject"]

Injector = Callable[[Any, np.random.Generator], Injection]


def inject(
    X: Any,
    modality: str,
    kind: str,
    random_state: int | np.random.Generator | None = None,
    **params: Any,
) -> Injection:
    """Dispatch to the injector of ``modality`` ("tabular", "timeseries", "image").

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> int(inject(X, "tabular", "global", n_anomalies=5, random_state=0).labels.sum())
    5
    """
    from dmad.generation.image import inject_image
    from dmad.generation.tabular import inject_tabular
    from dmad.generation.timeseries import inject_series

    injectors: dict[str, Callable[..., Injection]] = {
        "tabular": inject_tabular,
        "timeseries": inject_series,
        "image": inject_image,
    }
    if modality not in injectors:
        raise DataValidationError(f"modality must be one of {sorted(injectors)}, got {modality!r}.")
    return injectors[modality](X, kind, random_state=random_state, **params)


@dataclass
class GeneratedEvaluation:
    """A detector judged on synthetic anomalies.

    Attributes
    ----------
    auroc, aupr : float
        Ranking quality on the injected data (per row, time step or image).
    threshold : float
        The best-F1 score threshold on the injected data: pass it to
        ``detector.predict(X, threshold=...)``.
    f1 : float
        F1 at that threshold.
    scores : ndarray
        Detector scores of ``injection.data``.
    injection : Injection
        The generated data and labels.
    """

    auroc: float
    aupr: float
    threshold: float
    f1: float
    scores: np.ndarray
    injection: Injection


def estimate_auroc(
    detector: Any,
    X_normal_holdout: Any,
    injector: str | Injector = "mixed",
    *,
    random_state: int | np.random.Generator | None = None,
    **injector_params: Any,
) -> GeneratedEvaluation:
    """Estimate a fitted detector's AUROC and threshold from anomalies injected into normal data.

    Parameters
    ----------
    detector : fitted detector
        A fitted dmad (or PyOD-style) detector: anything whose ``decision_function`` returns
        one score per label of the injection (rows, time steps, images), with a ``modality``
        attribute when ``injector`` is a name.
    X_normal_holdout : array-like
        Normal data the detector was *not* fitted on (rows, a series, images).
    injector : str or callable
        An anomaly kind of the detector's modality ("mixed" or an ADBench type for tables, a
        :data:`~dmad.generation.timeseries.SERIES_KINDS` entry for series, "cutpaste", "scar"
        or "perlin" for images), or ``injector(X, rng) -> Injection``.
    random_state : int, numpy Generator or None
        Seed of the injection.
    **injector_params
        Passed to the injector (e.g. ``n_anomalies``, ``contamination``, ``length``).

    Returns
    -------
    GeneratedEvaluation

    Examples
    --------
    >>> import dmad
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> det = dmad.create("dte_np").fit(X[:200])  # doctest: +SKIP
    >>> estimate_auroc(det, X[200:], "mixed", random_state=0).auroc  # doctest: +SKIP
    0.97
    """
    rng = rng_from(random_state)
    if callable(injector):
        injection = injector(X_normal_holdout, rng)
    else:
        modality = getattr(detector, "modality", "tabular")
        if modality == "image":
            injector_params.setdefault("fraction", 0.5)
        injection = inject(X_normal_holdout, modality, injector, rng, **injector_params)
    labels = np.asarray(injection.labels)
    if labels.min() == labels.max():
        raise DataValidationError(
            "the injection produced only one class; inject fewer anomalies or pass fraction < 1."
        )
    scores = np.asarray(detector.decision_function(injection.data), dtype=np.float64)
    if scores.shape != labels.shape:
        raise DataValidationError(
            f"the detector returned {scores.shape} scores for {labels.shape} labels; the "
            "injector's labels must match the detector's output (rows, time steps or images)."
        )
    return GeneratedEvaluation(
        auroc(labels, scores),
        aupr(labels, scores),
        best_f1_threshold(labels, scores),
        best_f1(labels, scores)["f1"],
        scores,
        injection,
    )


def _normal_percentile(reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Fraction of the normal reference scores strictly below each score."""
    return np.searchsorted(np.sort(reference), scores, side="left") / len(reference)


def filter_generated(
    anomalies: Any,
    detectors: Sequence[Any],
    X_normal: Any,
    *,
    min_percentile: float = 0.9,
    keep_fraction: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the generated anomalies that an ensemble still flags but finds hardest.

    Each detector's score of a generated sample is turned into its percentile among the scores
    of normal data ``X_normal`` (so detectors on different scales can be averaged); the ensemble
    percentile is their mean. Samples below ``min_percentile`` are dropped as not recognisably
    anomalous; of the rest, the ``keep_fraction`` with the *lowest* ensemble percentile (the
    hardest) are kept.

    Parameters
    ----------
    anomalies : array-like
        Generated anomalous samples (rows or images), one score each per detector.
    detectors : sequence of fitted detectors
        The ensemble.
    X_normal : array-like
        Normal samples (not the detectors' training data, ideally) giving the reference scores.
    min_percentile : float
        Ensemble percentile a sample needs to count as anomalous, in (0, 1).
    keep_fraction : float
        Fraction of the recognised anomalies kept, in (0, 1].

    Returns
    -------
    keep : ndarray of int
        Indices of the kept samples, hardest first.
    percentile : ndarray of float
        Ensemble percentile of every generated sample.

    Examples
    --------
    >>> import dmad
    >>> keep, pct = filter_generated(gen_rows, [det_a, det_b], X_holdout)  # doctest: +SKIP
    """
    if not detectors:
        raise DataValidationError("detectors is empty; pass at least one fitted detector.")
    if not 0 < min_percentile < 1 or not 0 < keep_fraction <= 1:
        raise DataValidationError(
            f"need 0 < min_percentile < 1 and 0 < keep_fraction <= 1, got {min_percentile!r}, "
            f"{keep_fraction!r}."
        )
    percentile = np.mean(
        [
            _normal_percentile(
                np.asarray(d.decision_function(X_normal), dtype=np.float64),
                np.asarray(d.decision_function(anomalies), dtype=np.float64),
            )
            for d in detectors
        ],
        axis=0,
    )
    recognised = np.flatnonzero(percentile >= min_percentile)
    order = recognised[np.argsort(percentile[recognised], kind="stable")]
    n_keep = int(np.ceil(keep_fraction * len(order)))
    return order[:n_keep], percentile
