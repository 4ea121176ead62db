"""Benchmark specification: which detectors run on which datasets with which seeds.

A spec is built in Python (:class:`BenchSpec`) or read from YAML (:func:`load_spec`) and is
validated completely on construction, so a typo fails before hours of computing, not after.

YAML format (relative paths resolve against the current working directory)::

    name: tabular-dev                # letters, digits, - _ . ; also the BENCHMARKS.md section
    task: tabular                    # a key of dmad.bench.tasks.TASKS
    datasets:                        # a folder, a list of files, or a mapping:
      folder: data/tabular           #   every dataset file in the folder
      files: [extra/my_set.npz]      #   and/or explicit files
      include: [cardio, glass]       #   optional: keep only these names (file stems)
      exclude: []                    #   optional: drop these names
    detectors:                       # registry names (baselines too: iforest, knn, ...)
      - {name: ddpm, params: {epochs: 50}, label: DDPM-50}
      - knn                          # shorthand for {name: knn}
    seeds: [0, 1, 2]
    threads: 1                       # torch and BLAS threads during the run
    store: results/tabular.sqlite    # default: results/<name>.sqlite
    task_options: {shuffle: false}   # passed to the task (TabularTask: shuffle, train_fraction,
                                     # resample_to, max_size)
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from dmad.bench.baselines import check_detector, detector_modality
from dmad.bench.tasks import Task, make_task
from dmad.exceptions import DataValidationError

__all__ = ["BenchSpec", "DatasetSelection", "DetectorConfig", "load_spec"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _from_mapping(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, naming any unknown key and the valid ones."""
    if not isinstance(data, dict):
        raise DataValidationError(f"{where} must be a mapping, got {data!r}.")
    valid = [f.name for f in fields(cls) if f.init]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise DataValidationError(
            f"unknown key(s) {unknown} in {where}; valid keys: {', '.join(valid)}."
        )
    return cls(**data)


def _name_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise DataValidationError(f"{where} must be a list of dataset names, got {value!r}.")
    return list(value)


@dataclass
class DetectorConfig:
    """One detector of the grid.

    Parameters
    ----------
    name : str
        A dmad registry name (``dmad.available_detectors()``; the classical baselines are
        registered detectors too).
    params : dict
        Constructor parameters (JSON-compatible values).
    label : str or None
        Display name in reports; defaults to ``name``. Needed to tell apart two configurations
        of the same detector.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DataValidationError(f"detector name must be a non-empty string: {self.name!r}.")
        if self.params is None:
            self.params = {}
        if not isinstance(self.params, dict):
            raise DataValidationError(
                f"params of detector {self.name!r} must be a mapping, got {self.params!r}."
            )
        try:
            json.dumps(self.params, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(
                f"params of detector {self.name!r} must be JSON-compatible (numbers, strings, "
                f"booleans, lists, mappings): {exc}."
            ) from exc
        if self.label is None:
            self.label = self.name
        elif not isinstance(self.label, str) or not self.label:
            raise DataValidationError(
                f"label of detector {self.name!r} must be a non-empty string: {self.label!r}."
            )


@dataclass
class DatasetSelection:
    """Which dataset files a spec runs on: a folder and/or files, filtered by name (file stem).

    Parameters
    ----------
    folder : str or Path or None
        Every dataset file of this folder (the task decides which suffixes count).
    files : list of str or Path
        Explicit dataset files.
    include : list of str or None
        Keep only these names.
    exclude : list of str
        Drop these names.
    """

    folder: str | Path | None = None
    files: list[str | Path] = field(default_factory=list)
    include: list[str] | None = None
    exclude: list[str] = field(default_factory=list)

    def resolve(self, task: Task) -> list[Path]:
        """Absolute dataset paths in folder order, then file order; raises on any mismatch."""
        if not isinstance(self.files, (list, tuple)):
            raise DataValidationError(f"datasets.files must be a list of paths: {self.files!r}.")
        paths: list[Path] = []
        if self.folder is not None:
            folder = Path(self.folder).expanduser()
            if not folder.is_dir():
                raise DataValidationError(
                    f"dataset folder {str(folder)!r} not found (relative paths resolve against "
                    f"the working directory {str(Path.cwd())!r}); fix datasets.folder."
                )
            paths += task.list_datasets(folder)
        for file in self.files:
            path = Path(file).expanduser()
            if not path.is_file():
                raise DataValidationError(
                    f"dataset file {str(path)!r} not found (relative paths resolve against "
                    f"{str(Path.cwd())!r}); fix datasets.files."
                )
            paths.append(path)
        by_name: dict[str, Path] = {}
        for path in paths:
            if path.stem in by_name and by_name[path.stem].resolve() != path.resolve():
                raise DataValidationError(
                    f"two datasets are named {path.stem!r} ({by_name[path.stem]} and {path}); "
                    "rename one file, results are keyed by name."
                )
            by_name[path.stem] = path
        for key in ("include", "exclude"):
            value = getattr(self, key)
            if value is None:
                continue
            missing = sorted(set(_name_list(value, f"datasets.{key}")) - set(by_name))
            if missing:
                raise DataValidationError(
                    f"datasets.{key} names {missing}, which are not among the datasets found: "
                    f"{', '.join(by_name) or 'none'}."
                )
        keep = [
            path.resolve()
            for name, path in by_name.items()
            if (self.include is None or name in self.include) and name not in self.exclude
        ]
        if not keep:
            raise DataValidationError(
                "the spec selects no dataset; set datasets.folder or datasets.files (and check "
                "include/exclude)."
            )
        return keep


@dataclass(init=False)
class BenchSpec:
    """A benchmark: detectors × datasets × seeds under one task, stored in one results file.

    Parameters
    ----------
    name : str
        Identifier (letters, digits, ``-``, ``_``, ``.``); also the BENCHMARKS.md section name.
    datasets : DatasetSelection, mapping, list of paths or folder path
        Which datasets to run on (see :class:`DatasetSelection`).
    detectors : list of DetectorConfig, mappings or names
        ``{"name": ..., "params": {...}, "label": ...}``; labels must be unique.
    task : str
        A key of :data:`dmad.bench.tasks.TASKS`.
    seeds : list of int
        One job per seed per detector per dataset.
    threads : int
        Torch and BLAS threads during the run.
    store : str or Path or None
        SQLite results file; default ``results/<name>.sqlite``.
    task_options : dict
        Keyword arguments of the task (e.g. ``{"shuffle": True}`` for tabular).

    Examples
    --------
    >>> spec = BenchSpec(  # doctest: +SKIP
    ...     name="quick",
    ...     datasets={"folder": "data/tabular", "include": ["glass"]},
    ...     detectors=[{"name": "ddpm", "params": {"epochs": 5}}, "knn"],
    ...     seeds=[0, 1],
    ... )
    """

    # The fields hold the validated values; __init__ takes the looser inputs listed above.
    name: str
    datasets: DatasetSelection
    detectors: list[DetectorConfig]
    task: str
    seeds: list[int]
    threads: int
    store: Path
    task_options: dict[str, Any]
    #: absolute dataset paths, resolved from ``datasets`` on construction
    dataset_paths: list[Path] = field(init=False, repr=False)

    def __init__(
        self,
        name: str,
        datasets: DatasetSelection | dict[str, Any] | Sequence[str | Path] | str | Path,
        detectors: Sequence[DetectorConfig | dict[str, Any] | str],
        task: str = "tabular",
        seeds: Sequence[int] | int = (0,),
        threads: int = 1,
        store: str | Path | None = None,
        task_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise DataValidationError(
                f"spec name must use letters, digits, '-', '_' or '.', got {name!r}."
            )
        if not isinstance(task_options or {}, dict):
            raise DataValidationError(f"task_options must be a mapping, got {task_options!r}.")
        self.name, self.task = name, task
        self.task_options = dict(task_options or {})
        task_obj = make_task(task, self.task_options)
        self.datasets = self._coerce_datasets(datasets)
        self.dataset_paths = self.datasets.resolve(task_obj)
        self.detectors = self._coerce_detectors(detectors, task_obj)
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = [seeds]
        if (
            not isinstance(seeds, (list, tuple))
            or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
            or len(set(seeds)) != len(seeds)
        ):
            raise DataValidationError(
                f"seeds must be a non-empty list of distinct integers, got {seeds!r}."
            )
        self.seeds = list(seeds)
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise DataValidationError(f"threads must be a positive integer, got {threads!r}.")
        self.threads = threads
        self.store = Path(f"results/{name}.sqlite" if store is None else store)

    @classmethod
    def from_dict(cls, data: Any) -> BenchSpec:
        """Build from a mapping (parsed YAML/JSON), naming any unknown or missing key."""
        if not isinstance(data, dict):
            raise DataValidationError(f"a spec must be a mapping of keys, got {type(data)}.")
        missing = [k for k in ("name", "datasets", "detectors") if k not in data]
        if missing:
            raise DataValidationError(f"the spec lacks the required key(s) {missing}.")
        return _from_mapping(cls, data, "the spec")

    def make_task(self) -> Task:
        """A fresh task object with this spec's options."""
        return make_task(self.task, self.task_options)

    @staticmethod
    def _coerce_datasets(value: Any) -> DatasetSelection:
        if isinstance(value, DatasetSelection):
            return value
        if isinstance(value, (str, Path)):
            return DatasetSelection(folder=value)
        if isinstance(value, (list, tuple)):
            return DatasetSelection(files=list(value))
        return _from_mapping(DatasetSelection, value, "datasets")

    @staticmethod
    def _coerce_detectors(value: Any, task: Task) -> list[DetectorConfig]:
        if not isinstance(value, (list, tuple)) or not value:
            raise DataValidationError(
                "detectors must be a non-empty list of {name: ..., params: {...}} entries."
            )
        configs = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                item = DetectorConfig(item)
            elif not isinstance(item, DetectorConfig):
                item = _from_mapping(DetectorConfig, item, f"detectors[{i}]")
            check_detector(item.name, item.params)
            modality = detector_modality(item.name)
            if modality not in (task.modality, "any"):
                raise DataValidationError(
                    f"detectors[{i}] {item.name!r} is a {modality} detector, but task "
                    f"{task.name!r} needs {task.modality} detectors."
                )
            configs.append(item)
        setups = [(c.name, json.dumps(c.params, sort_keys=True)) for c in configs]
        repeated = sorted({name for name, params in setups if setups.count((name, params)) > 1})
        if repeated:
            raise DataValidationError(
                f"detector(s) {repeated} appear more than once with the same params; "
                "drop the copies (a label does not make a different job)."
            )
        labels = [c.label for c in configs]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise DataValidationError(
                f"detector label(s) {duplicates} appear more than once; give each configuration "
                "its own label: {name: ..., params: {...}, label: ...}."
            )
        return configs


def load_spec(path: str | Path) -> BenchSpec:
    """Read and validate a YAML spec (format in this module's docstring).

    Examples
    --------
    >>> spec = load_spec("benchmarks/specs/tabular_quick.yaml")  # doctest: +SKIP
    >>> spec.seeds  # doctest: +SKIP
    [0]
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"spec file {str(path)!r} not found; check the path.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataValidationError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return BenchSpec.from_dict(data)
    except DataValidationError as exc:
        raise DataValidationError(f"{path}: {exc}") from exc


def default_spec(
    task: str,
    data: str | Path,
    *,
    seeds: list[int] | None = None,
    threads: int = 1,
    store: str | Path | None = None,
    name: str | None = None,
) -> BenchSpec:
    """The standard grid of a task: every dmad detector of its modality (but composites, which
    need their members as parameters) + its default baselines.

    Examples
    --------
    >>> spec = default_spec("tabular", "data/tabular")  # doctest: +SKIP
    """
    import dmad
    from dmad.bench.tasks import TASKS

    if task not in TASKS:
        raise DataValidationError(f"unknown task {task!r}; available: {', '.join(sorted(TASKS))}.")
    task_cls = TASKS[task]
    own = [
        n
        for n in dmad.available_detectors(task_cls.modality)
        if not dmad.get_detector_class(n).composite
    ]
    names = [*own, *(b for b in task_cls.default_baselines if b not in own)]
    return BenchSpec(
        name=name or task,
        task=task,
        datasets={"folder": str(data)},
        detectors=[{"name": n} for n in names],
        seeds=[0, 1, 2] if seeds is None else list(seeds),
        threads=threads,
        store=store,
    )
