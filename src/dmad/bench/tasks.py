"""Benchmark tasks: how a dataset file becomes (fit, test) splits and scores become metrics.

A task is the one modality-specific piece of a benchmark; the runner, store and report are shared.
The time-series and image tasks plug in by implementing :class:`Task` and adding themselves to
:data:`TASKS`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from dmad.data.tabular import list_datasets, load_tabular, semi_supervised_split
from dmad.exceptions import DataValidationError
from dmad.metrics import evaluate_scores

__all__ = ["Task", "TabularTask", "TASKS", "make_task"]


class Task(Protocol):
    """What the runner needs from a modality.

    ``__init__`` takes the spec's ``task_options`` as keyword arguments and validates them.
    """

    name: ClassVar[str]
    #: detector modality this task feeds (dmad detectors of another modality are rejected)
    modality: ClassVar[str]
    metric_names: ClassVar[tuple[str, ...]]
    #: the metric the report tables show by default
    headline: ClassVar[str]
    #: classical baselines a default benchmark of this task runs beside the dmad detectors
    default_baselines: ClassVar[tuple[str, ...]]
    #: whether the runner computes anomaly maps (image tasks) and passes them to ``evaluate``
    uses_maps: ClassVar[bool]

    @property
    def options(self) -> dict[str, Any]:
        """All options with defaults filled in (part of the job hash)."""
        ...

    def list_datasets(self, folder: Path) -> list[Path]:
        """The dataset files of a folder; each dataset's name is its path's stem."""
        ...

    def load_splits(self, dataset_path: Path, seed: int) -> tuple[Any, Any, Any]:
        """``(X_fit, X_test, truth)`` of one dataset for one seed.

        ``truth`` is what ``evaluate`` needs (labels; for images the test set with its masks).
        Several test sets: ``X_test`` and ``truth`` are dicts keyed by set name.
        """
        ...

    def evaluate(
        self, truth: Any, scores: np.ndarray, maps: np.ndarray | None = None
    ) -> dict[str, float]:
        """Every metric of ``metric_names`` for one test set's scores (and anomaly maps)."""
        ...


class TabularTask:
    """Semi-supervised tabular protocol of ADBench / DTE: fit on normal rows, test on the rest.

    Parameters
    ----------
    shuffle : bool
        Permute the normal rows before splitting (the published numbers use file order).
    train_fraction : float
        Fraction of the normal rows used for fitting.
    resample_to : int or None
        Sets with fewer rows are resampled with replacement to this many rows.
    max_size : int or None
        Sets with more rows are subsampled to this many rows.

    Examples
    --------
    >>> task = TabularTask(shuffle=True)
    >>> task.headline, task.options["train_fraction"]
    ('auroc', 0.5)
    """

    name: ClassVar[str] = "tabular"
    modality: ClassVar[str] = "tabular"
    metric_names: ClassVar[tuple[str, ...]] = ("auroc", "aupr", "best_f1")
    headline: ClassVar[str] = "auroc"
    default_baselines: ClassVar[tuple[str, ...]] = ("iforest", "knn", "lof", "ecod", "ocsvm")
    uses_maps: ClassVar[bool] = False

    def __init__(
        self,
        *,
        shuffle: bool = False,
        train_fraction: float = 0.5,
        resample_to: int | None = 1000,
        max_size: int | None = 50_000,
    ) -> None:
        if not isinstance(shuffle, bool):
            raise DataValidationError(f"task option shuffle must be true/false, got {shuffle!r}.")
        if isinstance(train_fraction, bool) or not isinstance(train_fraction, (int, float)):
            raise DataValidationError(
                f"task option train_fraction must be a number in (0, 1), got {train_fraction!r}."
            )
        if not 0.0 < train_fraction < 1.0:
            raise DataValidationError(
                f"task option train_fraction must be in (0, 1), got {train_fraction!r}."
            )
        for key, value in (("resample_to", resample_to), ("max_size", max_size)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise DataValidationError(
                    f"task option {key} must be a positive integer or null, got {value!r}."
                )
        self._options: dict[str, Any] = {
            "shuffle": shuffle,
            "train_fraction": float(train_fraction),
            "resample_to": resample_to,
            "max_size": max_size,
        }

    @property
    def options(self) -> dict[str, Any]:
        """All options with defaults filled in (part of the job hash)."""
        return dict(self._options)

    def list_datasets(self, folder: Path) -> list[Path]:
        """Tabular files of ``folder`` (.npz, .mat, .csv, .parquet, .pq)."""
        return list_datasets(folder)

    def load_splits(self, dataset_path: Path, seed: int) -> tuple[Any, Any, np.ndarray]:
        """Load a labelled dataset and split it with :func:`semi_supervised_split`."""
        dataset = load_tabular(dataset_path)
        if dataset.y is None:
            raise DataValidationError(
                f"dataset {str(dataset_path)!r} has no labels; the tabular benchmark needs "
                "y (0 = normal, 1 = anomaly)."
            )
        return semi_supervised_split(dataset.X, dataset.y, seed=seed, **self._options)

    def evaluate(
        self, truth: np.ndarray, scores: np.ndarray, maps: np.ndarray | None = None
    ) -> dict[str, float]:
        """AUROC, AUPR and best F1 (oracle threshold) of the scores."""
        return evaluate_scores(truth, scores, kind="tabular")


TASKS: dict[str, type[Task]] = {"tabular": TabularTask}


def make_task(name: str, options: dict[str, Any] | None = None) -> Task:
    """Instantiate a task from :data:`TASKS`, turning unknown names or options into clear errors.

    Examples
    --------
    >>> make_task("tabular", {"shuffle": True}).options["shuffle"]
    True
    """
    if name not in TASKS:
        raise DataValidationError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}.")
    cls = TASKS[name]
    options = dict(options or {})
    try:
        return cls(**options)
    except TypeError as exc:
        valid = ", ".join(p for p in inspect.signature(cls).parameters)
        raise DataValidationError(
            f"bad task_options for task {name!r}: {exc}; valid options: {valid}."
        ) from exc
