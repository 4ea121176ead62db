"""Generation benchmark tasks: does a detector's AUROC on *generated* anomalies rank it as its
AUROC on *real* anomalies would?

Each task gives the runner two named test sets, so every job stores ``real/auroc`` (headline)
and ``generated/auroc``:

- ``"generation-tabular"``: the ADBench / DTE semi-supervised split (as
  :class:`~dmad.bench.tasks.TabularTask`); the detector is fitted on a seeded random 80 % of the
  training normals; *generated* = the other 20 % plus as many anomalies injected into them
  (:func:`dmad.generation.loop.inject`, the four ADBench types mixed by default, strength
  :data:`~dmad.generation.tabular.HARD_ALPHA` or ADBench's defaults), *real* = the test split.
- ``"generation-timeseries"``: the fit series of :class:`~dmad.bench.timeseries.TimeSeriesTask`
  (NAB: the test series itself); the detector is fitted on its first 80 % in time; *generated* =
  copies of the last 20 %, each with one round of mixed anomalies (:func:`series_injectors`),
  scored one by one and evaluated together; *real* = the labelled test series. A series whose
  held-out part is shorter than :data:`TS_MIN_SPACING` windows raises
  :class:`HeldOutTooShortError` from ``load_splits`` (an error row; :func:`is_skipped` tells
  these apart from failures).

The generated data are a function of the dataset and the seed only (the injector draws from
``numpy.random.default_rng(seed)``, as :func:`~dmad.generation.loop.estimate_auroc` does with
``random_state=seed``), so every detector of a dataset × seed is judged on the same anomalies.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dmad.bench.tasks import TASKS, TabularTask
from dmad.bench.timeseries import TimeSeriesTask
from dmad.data.timeseries import list_series
from dmad.data.windows import default_window
from dmad.exceptions import DataValidationError
from dmad.generation import MIXED_KINDS, TABULAR_KINDS, Injection, inject_mixed_series
from dmad.generation._common import rng_from
from dmad.generation.loop import Injector, inject
from dmad.generation.tabular import HARD_ALPHA
from dmad.metrics import auroc
from dmad.validation import check_positive_int

__all__ = [
    "GenerationSeriesTask",
    "GenerationTabularTask",
    "HeldOutTooShortError",
    "TS_MIN_SPACING",
    "TS_PER_KIND",
    "TS_SPACING",
    "is_skipped",
    "series_injectors",
]

#: generated anomalies of each :data:`~dmad.generation.MIXED_KINDS` kind per series
TS_PER_KIND = 4
#: room per injected anomaly, in windows (see :func:`series_injectors`): this many where the
#: held-out part has them, at least the minimum (shorter parts are skipped)
TS_SPACING, TS_MIN_SPACING = 8, 4
#: strength names → alpha of :func:`~dmad.generation.tabular.inject_tabular` (None: ADBench's)
STRENGTHS: dict[str, dict[str, float] | None] = {"hard": HARD_ALPHA, "default": None}


class HeldOutTooShortError(DataValidationError):
    """A series whose held-out part leaves no room for generated anomalies (skipped, not failed)."""


def is_skipped(error: Any) -> bool:
    """Whether a stored row's ``error`` is a :class:`HeldOutTooShortError` (the runner stores
    ``"<ExceptionName>: <message>"``).

    Examples
    --------
    >>> is_skipped("HeldOutTooShortError: ..."), is_skipped("ValueError: ..."), is_skipped(None)
    (True, False, False)
    """
    return isinstance(error, str) and error.startswith(f"{HeldOutTooShortError.__name__}:")


def _check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise DataValidationError(f"task option {name} must be a number in (0, 1), got {value!r}.")
    return float(value)


def _evaluate(truth: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    return {"auroc": auroc(truth, scores)}


class GenerationTabularTask:
    """Real vs generated AUROC on the tabular dev sets (test sets ``generated`` and ``real``).

    Parameters
    ----------
    holdout : float
        Fraction of the training normals held out (a seeded permutation) to inject into.
    kind : str
        Tabular anomaly kind injected ("mixed": the four ADBench types in equal numbers).
    strength : {"hard", "default"}
        :data:`~dmad.generation.tabular.HARD_ALPHA` (local 2, global 1.1, clustered 2) or
        ADBench's :data:`~dmad.generation.tabular.DEFAULT_ALPHA`.
    shuffle, train_fraction, resample_to, max_size
        The semi-supervised split, as :class:`~dmad.bench.tasks.TabularTask`.

    Examples
    --------
    >>> task = GenerationTabularTask()
    >>> task.headline, task.options["holdout"], task.options["strength"]
    ('real/auroc', 0.2, 'hard')
    """

    name: ClassVar[str] = "generation-tabular"
    modality: ClassVar[str] = "tabular"
    metric_names: ClassVar[tuple[str, ...]] = ("auroc",)
    headline: ClassVar[str] = "real/auroc"
    default_baselines: ClassVar[tuple[str, ...]] = TabularTask.default_baselines
    uses_maps: ClassVar[bool] = False

    def __init__(
        self,
        *,
        holdout: float = 0.2,
        kind: str = "mixed",
        strength: str = "hard",
        shuffle: bool = False,
        train_fraction: float = 0.5,
        resample_to: int | None = 1000,
        max_size: int | None = 50_000,
    ) -> None:
        if kind not in (*TABULAR_KINDS, "mixed"):
            raise DataValidationError(
                f"task option kind must be one of {[*TABULAR_KINDS, 'mixed']}, got {kind!r}."
            )
        if strength not in STRENGTHS:
            raise DataValidationError(
                f"task option strength must be one of {list(STRENGTHS)}, got {strength!r}."
            )
        self._split = TabularTask(
            shuffle=shuffle,
            train_fraction=train_fraction,
            resample_to=resample_to,
            max_size=max_size,
        )
        self._options: dict[str, Any] = {
            "holdout": _check_fraction(holdout, "holdout"),
            "kind": kind,
            "strength": strength,
            **self._split.options,
        }

    @property
    def options(self) -> dict[str, Any]:
        """All options with defaults filled in (part of the job hash)."""
        return dict(self._options)

    def list_datasets(self, folder: Path) -> list[Path]:
        """Tabular files of ``folder``, as :class:`~dmad.bench.tasks.TabularTask`."""
        return self._split.list_datasets(folder)

    def load_splits(
        self, dataset_path: Path, seed: int
    ) -> tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
        """80 % of the training normals; ``{"generated": ..., "real": ...}`` test sets.

        ``generated`` is the held-out 20 % with ``round(holdout * n_train)`` injected rows
        (shuffled in), ``real`` the semi-supervised test split.
        """
        X_train, X_test, y_test = self._split.load_splits(dataset_path, seed)
        X_train = np.asarray(X_train, dtype=np.float64)
        order = np.random.default_rng(seed).permutation(len(X_train))
        n_hold = round(self._options["holdout"] * len(X_train))
        if n_hold < 4 or len(X_train) - n_hold < 1:
            raise DataValidationError(
                f"dataset {str(dataset_path)!r}: a holdout of {self._options['holdout']} of its "
                f"{len(X_train)} training rows leaves {n_hold} rows to inject into (at least 4 "
                "needed) and the rest to fit on; change the holdout task option."
            )
        X_fit, X_hold = X_train[order[n_hold:]], X_train[order[:n_hold]]
        injection = inject(
            X_hold,
            "tabular",
            self._options["kind"],
            random_state=seed,
            n_anomalies=n_hold,
            alpha=STRENGTHS[self._options["strength"]],
        )
        # generated first: the order in which the old script scored the two sets
        return (
            X_fit,
            {"generated": injection.data, "real": X_test},
            {"generated": injection.labels, "real": y_test},
        )

    def evaluate(
        self, truth: np.ndarray, scores: np.ndarray, maps: np.ndarray | None = None
    ) -> dict[str, float]:
        """AUROC of one test set's scores."""
        return _evaluate(truth, scores)


def series_injectors(
    n_steps: int, window: int, seed: int, per_kind: int = TS_PER_KIND
) -> list[Injector]:
    """Rounds of :func:`~dmad.generation.inject_mixed_series` placing every kind ``per_kind``
    times, each anomaly on a few random channels and a quarter of its slot long.

    A window-scored step gets the mean score of the windows covering it, so an anomaly raises
    the scores a window to each side: packed anomalies merge into one raised stretch, and a
    long-window series with all its anomalies in one short held-out part then looks normal to
    every detector. Each round therefore holds only
    as many anomalies as have :data:`TS_SPACING` windows each (fewer, down to
    :data:`TS_MIN_SPACING`, where the part is shorter), and there are as many rounds as needed.
    ``n_steps`` must be at least ``TS_MIN_SPACING * window``.

    Examples
    --------
    >>> len(series_injectors(4000, 50, seed=0, per_kind=1)) >= 1
    True
    """
    kinds = list(np.random.default_rng(seed).permutation(np.repeat(MIXED_KINDS, per_kind)))
    spacing = min(TS_SPACING, n_steps // window)
    per_round = min(n_steps // (spacing * window), len(kinds))
    return [
        partial(_mixed_round, kinds=kinds[i : i + per_round], slot=n_steps // per_round)
        for i in range(0, len(kinds), per_round)
    ]


def _mixed_round(X: np.ndarray, rng: np.random.Generator, kinds: list[str], slot: int) -> Injection:
    """One round as an ``Injector`` (series and generator in, injection out)."""
    return inject_mixed_series(X, kinds, slot=slot, random_state=rng)


class GenerationSeriesTask:
    """Real vs generated AUROC on the time-series dev series (test sets ``generated``, ``real``).

    Parameters
    ----------
    holdout : float
        Fraction of the fit series, at its end, held out to inject into.
    per_kind : int
        Generated anomalies of each :data:`~dmad.generation.MIXED_KINDS` kind.

    Examples
    --------
    >>> task = GenerationSeriesTask()
    >>> task.headline, task.options
    ('real/auroc', {'holdout': 0.2, 'per_kind': 4})
    """

    name: ClassVar[str] = "generation-timeseries"
    modality: ClassVar[str] = "timeseries"
    metric_names: ClassVar[tuple[str, ...]] = ("auroc",)
    headline: ClassVar[str] = "real/auroc"
    default_baselines: ClassVar[tuple[str, ...]] = TimeSeriesTask.default_baselines
    uses_maps: ClassVar[bool] = False

    def __init__(self, *, holdout: float = 0.2, per_kind: int = TS_PER_KIND) -> None:
        self._options: dict[str, Any] = {
            "holdout": _check_fraction(holdout, "holdout"),
            "per_kind": check_positive_int(per_kind, name="per_kind"),
        }

    @property
    def options(self) -> dict[str, Any]:
        """All options with defaults filled in (part of the job hash)."""
        return dict(self._options)

    def list_datasets(self, folder: Path) -> list[Path]:
        """Every dev-format ``.npz`` series under ``folder`` (recursively)."""
        return list_series(folder)

    def load_splits(
        self, dataset_path: Path, seed: int
    ) -> tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
        """The fit part; ``{"generated": [copies of the held-out part], "real": test series}``.

        Raises
        ------
        HeldOutTooShortError
            The held-out part is shorter than :data:`TS_MIN_SPACING` windows of
            ``default_window(fit part)`` (what every detector's ``window="auto"`` resolves to):
            every step would lie within a window of an anomaly, no contrast left to rank by.
        """
        fit, test, labels = TimeSeriesTask().load_splits(dataset_path, seed)
        n_fit = round((1 - self._options["holdout"]) * len(fit))
        # in time, not shuffled: the held-out part continues the fit part like a test series
        fit_part, held_out = fit[:n_fit], fit[n_fit:]
        window = default_window(fit_part)
        if len(held_out) < TS_MIN_SPACING * window:
            raise HeldOutTooShortError(
                f"skipped {dataset_path.parent.name}/{dataset_path.stem}: its held-out part "
                f"({len(held_out)} steps) is shorter than {TS_MIN_SPACING} windows of {window} "
                "steps, no room for generated anomalies."
            )
        injectors = series_injectors(len(held_out), window, seed, self._options["per_kind"])
        # each round on a fresh generator of the seed, as estimate_auroc(random_state=seed) did
        rounds = [injector(held_out, rng_from(seed)) for injector in injectors]
        return (
            fit_part,
            {"generated": [r.data for r in rounds], "real": test},
            {"generated": np.concatenate([r.labels for r in rounds]), "real": labels},
        )

    def evaluate(
        self, truth: np.ndarray, scores: np.ndarray, maps: np.ndarray | None = None
    ) -> dict[str, float]:
        """Step-wise AUROC of one test set's scores (no point adjustment)."""
        return _evaluate(truth, scores)


TASKS["generation-tabular"] = GenerationTabularTask
TASKS["generation-timeseries"] = GenerationSeriesTask
