"""Time-series loaders: dmad's dev ``.npz``, SMD, SMAP/MSL, UCR, NAB, PSM and plain CSV/Parquet.

Every loader returns a :class:`TimeSeries` whose ``labels`` mark anomalous steps of ``test``
(1 = anomaly). Ranges are converted as the public conventions of each collection: UCR,
SMAP/MSL and NAB ranges are inclusive at both ends (``docs/protocols.md``).

Missing values stay NaN: nothing is interpolated here, because filling changes the series that
the labels describe; detectors handle NaN with a missing-value mask.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dmad.data._common import (
    TABLE_SUFFIXES,
    binary_labels,
    existing_dir,
    existing_path,
    load_npy,
    missing_file,
    read_npz,
    read_table,
    require_columns,
)
from dmad.exceptions import DataValidationError

__all__ = [
    "TimeSeries",
    "list_series",
    "load_csv_series",
    "load_dmad_npz",
    "load_nab",
    "load_psm",
    "load_smap_msl",
    "load_smd",
    "load_timeseries",
    "load_ucr",
]

# UCR archive name NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>;
# KDD Cup 2021 competition name NNN_UCR_Anomaly_<trainEnd>
_UCR_ARCHIVE = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)$")
_UCR_KDD = re.compile(r"^(\d+)_UCR_Anomaly_(\d+)$")
_PSM_TIMESTAMP = "timestamp_(min)"


def _as_matrix(values: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise DataValidationError(f"{what} must be numeric: {err}") from err
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataValidationError(f"{what} must have shape (T, D), got {arr.shape}.")
    return arr


@dataclass(frozen=True)
class TimeSeries:
    """One series with its optional training part and per-step test labels.

    Attributes
    ----------
    train : ndarray of float32, shape (T_train, D)
        Anomaly-free (or unlabelled) fit data; 0 rows when the benchmark has no training split
        (NAB, a user's CSV): fit on ``test`` itself then.
    test : ndarray of float32, shape (T, D)
        The series to score. May contain NaN (missing values are never filled in here).
    labels : ndarray of int8, shape (T,), or None
        1 = anomalous step of ``test``; None when the source has no labels.
    name, collection : str
        Series name and the collection it belongs to (e.g. ``"SMD"``).

    Examples
    --------
    >>> ts = TimeSeries(np.zeros((0, 1)), np.zeros((5, 1)), np.zeros(5), "toy")
    >>> ts.train.shape, ts.labels.dtype
    ((0, 1), dtype('int8'))
    """

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray | None
    name: str
    collection: str = ""

    def __post_init__(self) -> None:
        # Coerce here so every loader and hand-built series obey the same shapes and dtypes.
        test = _as_matrix(self.test, f"test of {self.name!r}")
        train = np.asarray(self.train)
        train = (
            np.empty((0, test.shape[1]), np.float32)
            if train.size == 0
            else _as_matrix(train, f"train of {self.name!r}")
        )
        if len(test) == 0:
            raise DataValidationError(f"series {self.name!r}: test has no time steps.")
        if train.shape[1] != test.shape[1]:
            raise DataValidationError(
                f"series {self.name!r}: train has {train.shape[1]} channels but test has "
                f"{test.shape[1]}; both parts must have the same columns."
            )
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)
        if self.labels is not None:
            labels = binary_labels(self.labels, f"labels of series {self.name!r}")
            if len(labels) != len(test):
                raise DataValidationError(
                    f"series {self.name!r}: {len(labels)} labels for {len(test)} test steps; "
                    "pass one label per test step."
                )
            object.__setattr__(self, "labels", labels)


def _ranges_to_labels(ranges: list[tuple[int, int]], length: int, source: str) -> np.ndarray:
    """Per-step labels from inclusive ``[begin, end]`` index ranges."""
    labels = np.zeros(length, np.int8)
    for begin, end in ranges:
        if not 0 <= begin <= end < length:
            raise DataValidationError(
                f"{source}: anomaly range [{begin}, {end}] is not inside the {length} test steps "
                "(inclusive, 0-based); check the labels belong to this series."
            )
        labels[begin : end + 1] = 1
    return labels


def load_dmad_npz(path: str | Path) -> TimeSeries:
    """Load dmad's dev format: an ``.npz`` with ``train``, ``test`` and ``labels``.

    The collection is the name of the parent folder.

    Examples
    --------
    >>> ts = load_dmad_npz("data/timeseries/SMD/machine-1-2.npz")  # doctest: +SKIP
    >>> ts.test.shape, ts.collection  # doctest: +SKIP
    ((23694, 38), 'SMD')
    """
    p = Path(path)
    arrays = read_npz(p, ("train", "test", "labels"))
    return TimeSeries(arrays["train"], arrays["test"], arrays["labels"], p.stem, p.parent.name)


def _loadtxt(path: Path, *, ndmin: Literal[1, 2]) -> np.ndarray:
    try:
        return np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=ndmin)
    except ValueError as err:
        raise DataValidationError(
            f"cannot parse {str(path)!r} as comma-separated numbers: {err}"
        ) from err


def load_smd(root: str | Path, machine: str) -> TimeSeries:
    """Load one Server Machine Dataset machine in the OmniAnomaly layout.

    ``root/train/<machine>.txt``, ``root/test/<machine>.txt`` and ``root/test_label/<machine>.txt``
    (comma-separated; one label per test step).

    Examples
    --------
    >>> ts = load_smd("ServerMachineDataset", "machine-1-1")  # doctest: +SKIP
    """
    base = existing_dir(root)
    paths = {part: base / part / f"{machine}.txt" for part in ("train", "test", "test_label")}
    for p in paths.values():
        if not p.is_file():
            choices = (q.stem for q in (base / "train").glob("*.txt"))
            raise missing_file(p, choices, f"SMD machine {machine!r}:")
    labels = _loadtxt(paths["test_label"], ndmin=1)
    return TimeSeries(
        _loadtxt(paths["train"], ndmin=2), _loadtxt(paths["test"], ndmin=2), labels, machine, "SMD"
    )


def _parse_sequences(text: Any, source: str) -> list[tuple[int, int]]:
    try:
        value = ast.literal_eval(str(text))  # a literal parser: never eval() file content
        ranges = [(int(begin), int(end)) for begin, end in value]
    except (ValueError, SyntaxError, TypeError) as err:
        raise DataValidationError(
            f"{source}: anomaly_sequences must look like [[1899, 2099], [4286, 4594]], got "
            f"{text!r}."
        ) from err
    return ranges


def load_smap_msl(
    root: str | Path, channel: str, labels_csv: str | Path | None = None
) -> TimeSeries:
    """Load one SMAP or MSL channel in the telemanom layout.

    ``root/train/<channel>.npy``, ``root/test/<channel>.npy`` and ``labeled_anomalies.csv``
    (columns ``chan_id``, ``spacecraft``, ``anomaly_sequences``) whose ``[start, end]`` pairs are
    inclusive 0-based test indices.

    Parameters
    ----------
    root : path
        Folder holding ``train/``, ``test/`` and (by default) ``labeled_anomalies.csv``.
    channel : str
        Channel id, e.g. ``"P-1"``.
    labels_csv : path, optional
        Label file when it is not ``root/labeled_anomalies.csv``.

    Examples
    --------
    >>> ts = load_smap_msl("SMAP_MSL", "P-1")  # doctest: +SKIP
    >>> ts.collection  # doctest: +SKIP
    'SMAP'
    """
    base = existing_dir(root)
    arrays = []
    for part in ("train", "test"):
        p = base / part / f"{channel}.npy"
        if not p.is_file():
            choices = (q.stem for q in (base / part).glob("*.npy"))
            raise missing_file(p, choices, f"SMAP/MSL channel {channel!r}:")
        arrays.append(load_npy(p))
    csv = Path(labels_csv) if labels_csv is not None else base / "labeled_anomalies.csv"
    table = read_table(csv)
    require_columns(table, ["chan_id", "anomaly_sequences"], f"label file {str(csv)!r}")
    rows = table[table["chan_id"] == channel]
    if rows.empty:
        raise DataValidationError(
            f"channel {channel!r} has no row in {str(csv)!r}; pass a chan_id listed there."
        )
    source = f"{str(csv)!r}, channel {channel!r}"
    ranges = [r for text in rows["anomaly_sequences"] for r in _parse_sequences(text, source)]
    test = _as_matrix(arrays[1], f"test of channel {channel!r}")
    labels = _ranges_to_labels(ranges, len(test), source)
    collection = str(rows["spacecraft"].iloc[0]) if "spacecraft" in rows else "SMAP_MSL"
    return TimeSeries(arrays[0], test, labels, channel, collection)


def load_ucr(path: str | Path, anomaly_range: tuple[int, int] | None = None) -> TimeSeries:
    """Load a UCR anomaly archive (KDD Cup 2021) series.

    File names ``NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt`` carry everything:
    ``series[:trainEnd]`` trains, the rest is the test part, and the absolute 0-based indices
    ``begin..end`` (inclusive) are anomalous. The competition's ``NNN_UCR_Anomaly_<trainEnd>.txt``
    files need the range passed as ``anomaly_range=(begin, end)`` in the same convention. Values
    may be one per line or whitespace-separated on one line.

    Examples
    --------
    >>> ts = load_ucr("115_UCR_Anomaly_CIMIS44AirTemperature3_4000_6520_6544.txt")  # doctest: +SKIP
    >>> int(ts.labels.sum())  # doctest: +SKIP
    25
    """
    p = existing_path(path)
    archive, kdd = _UCR_ARCHIVE.match(p.stem), _UCR_KDD.match(p.stem)
    if archive:
        number, title, train_end, begin, end = archive.groups()
        name, named_range = f"{number}_{title}", (int(begin), int(end))
        if anomaly_range is not None and tuple(anomaly_range) != named_range:
            raise DataValidationError(
                f"anomaly_range={anomaly_range} contradicts the range {named_range} in the file "
                f"name {p.name!r}; drop anomaly_range."
            )
        anomaly_range = named_range
    elif kdd:
        name, train_end = kdd.groups()
        if anomaly_range is None:
            raise DataValidationError(
                f"{p.name!r} does not carry its anomaly range; pass anomaly_range=(begin, end) "
                "as absolute 0-based inclusive indices."
            )
    else:
        raise DataValidationError(
            f"{p.name!r} is not a UCR anomaly file name; expected "
            "NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt or NNN_UCR_Anomaly_<trainEnd>.txt."
        )
    try:
        series = np.array(p.read_text().split(), dtype=np.float32)
    except ValueError as err:
        raise DataValidationError(f"cannot parse {str(p)!r} as numbers: {err}") from err
    split = int(train_end)
    if not 0 < split < len(series):
        raise DataValidationError(
            f"{p.name!r}: trainEnd {split} is outside the series of {len(series)} values."
        )
    begin, end = anomaly_range
    labels = _ranges_to_labels([(begin - split, end - split)], len(series) - split, repr(p.name))
    return TimeSeries(series[:split], series[split:], labels, name, "UCR")


def load_nab(
    data_root: str | Path, relative_csv: str, windows_json: str | Path | None = None
) -> TimeSeries:
    """Load one Numenta Anomaly Benchmark series with its labelled windows.

    Every timestamp inside a window of ``combined_windows.json`` (inclusive at both ends) is
    labelled 1. NAB has no training split, so ``train`` has 0 rows.

    Parameters
    ----------
    data_root : path
        NAB's ``data/`` folder.
    relative_csv : str
        Series path relative to ``data_root``, as keyed in the windows file, e.g.
        ``"realKnownCause/nyc_taxi.csv"``.
    windows_json : path, optional
        Defaults to ``<data_root>/../labels/combined_windows.json`` (NAB's repository layout).

    Examples
    --------
    >>> ts = load_nab("NAB/data", "realKnownCause/nyc_taxi.csv")  # doctest: +SKIP
    >>> ts.name  # doctest: +SKIP
    'realKnownCause__nyc_taxi'
    """
    root = existing_dir(data_root)
    csv = root / relative_csv
    frame = read_table(csv)
    require_columns(frame, ["timestamp", "value"], f"NAB file {str(csv)!r}")
    wpath = existing_path(
        windows_json
        if windows_json is not None
        else root.parent / "labels" / "combined_windows.json"
    )
    try:
        windows = json.loads(wpath.read_text())
    except json.JSONDecodeError as err:
        raise DataValidationError(f"cannot parse {str(wpath)!r} as JSON: {err}") from err
    key = Path(relative_csv).as_posix()
    if key not in windows:
        raise DataValidationError(
            f"{key!r} is not a key of {str(wpath)!r}; keys look like {next(iter(windows), '')!r}."
        )
    labels = np.zeros(len(frame), np.int8)
    try:
        stamps = pd.to_datetime(frame["timestamp"])
        for begin, end in windows[key]:
            inside = (stamps >= pd.Timestamp(begin)) & (stamps <= pd.Timestamp(end))
            labels[inside.to_numpy()] = 1
    except (ValueError, TypeError) as err:
        raise DataValidationError(
            f"{str(csv)!r} / {str(wpath)!r}: timestamps must be dates and windows pairs of dates "
            f"[begin, end]: {err}"
        ) from err
    name = Path(key).with_suffix("").as_posix().replace("/", "__")
    return TimeSeries(np.empty((0, 1)), frame["value"].to_numpy(), labels, name, "NAB")


def _read_series(
    path: str | Path,
    timestamp_column: str | None,
    label_column: str | None,
    value_columns: list[str] | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Values (T, D), labels and timestamps of a table, sorted by timestamp when given."""
    frame = read_table(path)
    source = f"table {str(path)!r}"
    named = [c for c in (timestamp_column, label_column) if c is not None]
    require_columns(frame, [*named, *(value_columns or [])], source)
    stamps: np.ndarray | None = None
    if timestamp_column is not None:
        column = frame[timestamp_column]
        if not pd.api.types.is_numeric_dtype(column):
            try:
                column = pd.to_datetime(column)
            except (ValueError, TypeError) as err:
                raise DataValidationError(
                    f"{source}: column {timestamp_column!r} is neither numeric nor dates: {err}"
                ) from err
        order = np.argsort(column.to_numpy(), kind="stable")
        frame, stamps = frame.iloc[order], column.to_numpy()[order]
    if value_columns is None:
        value_columns = [c for c in frame.columns if c not in named]
    text = [c for c in value_columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise DataValidationError(
            f"{source}: value column(s) {text} are not numeric; pass value_columns=[...] with "
            "the numeric channels only."
        )
    values = frame[value_columns].to_numpy(np.float32)
    labels = (
        None
        if label_column is None
        else binary_labels(frame[label_column].to_numpy(), f"column {label_column!r} of {source}")
    )
    return values, labels, stamps


def load_psm(root: str | Path) -> TimeSeries:
    """Load the Pooled Server Metrics set (eBay): ``train.csv``, ``test.csv``, ``test_label.csv``.

    All three are keyed by ``timestamp_(min)``; the labels are matched to the test rows by
    timestamp. PSM's training part contains NaN, kept as NaN.

    Examples
    --------
    >>> ts = load_psm("PSM")  # doctest: +SKIP
    >>> ts.test.shape[1]  # doctest: +SKIP
    25
    """
    base = existing_dir(root)
    train, _, _ = _read_series(base / "train.csv", _PSM_TIMESTAMP, None, None)
    test, _, test_stamps = _read_series(base / "test.csv", _PSM_TIMESTAMP, None, None)
    _, labels, label_stamps = _read_series(base / "test_label.csv", _PSM_TIMESTAMP, "label", [])
    # never None here (both reads name a timestamp column); the checks narrow the type
    if test_stamps is None or label_stamps is None or not np.array_equal(test_stamps, label_stamps):
        raise DataValidationError(
            f"{str(base / 'test_label.csv')!r} does not list the same timestamps as test.csv; "
            "use the label file released with this test file."
        )
    return TimeSeries(train, test, labels, "PSM", "PSM")


def load_csv_series(
    path: str | Path,
    timestamp_column: str | None = None,
    label_column: str | None = None,
    value_columns: list[str] | None = None,
) -> TimeSeries:
    """Load your own series from a CSV or Parquet file (one row per time step).

    Rows are sorted by ``timestamp_column`` when given (numbers or dates). Every other column
    except ``label_column`` is a channel unless ``value_columns`` names them. NaN stays NaN (never
    interpolated); detectors handle missing values with a mask. The whole series is ``test`` and
    ``train`` has 0 rows: fit on it directly or slice a training part yourself.

    Examples
    --------
    >>> ts = load_csv_series("sensors.csv", "time", label_column="alarm")  # doctest: +SKIP
    """
    values, labels, _ = _read_series(path, timestamp_column, label_column, value_columns)
    return TimeSeries(np.empty((0, values.shape[1])), values, labels, Path(path).stem)


def load_timeseries(path: str | Path, **kwargs: Any) -> TimeSeries:
    """Load a series, choosing the reader from the file extension or folder layout.

    ``.npz`` → :func:`load_dmad_npz`; ``NNN_UCR_Anomaly_*.txt`` → :func:`load_ucr`;
    ``.csv``/``.parquet``/``.pq`` → :func:`load_csv_series`; a folder with
    ``labeled_anomalies.csv`` → :func:`load_smap_msl` (needs ``channel=``), with ``test_label/`` →
    :func:`load_smd` (needs ``machine=``), with ``test_label.csv`` → :func:`load_psm`. NAB needs
    its windows file: call :func:`load_nab`. ``kwargs`` go to the chosen loader.

    Examples
    --------
    >>> ts = load_timeseries("SMAP_MSL", channel="P-1")  # doctest: +SKIP
    """
    p = existing_path(path)
    if p.is_dir():
        if (p / "labeled_anomalies.csv").is_file():
            return load_smap_msl(p, **kwargs)
        if (p / "test_label").is_dir():
            return load_smd(p, **kwargs)
        if (p / "test_label.csv").is_file():
            return load_psm(p, **kwargs)
        raise DataValidationError(
            f"folder {str(p)!r} is not a known series layout (telemanom SMAP/MSL, OmniAnomaly "
            "SMD, PSM); pass a file or call the specific loader."
        )
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return load_dmad_npz(p, **kwargs)
    if suffix == ".txt" and p.stem.split("_")[1:3] == ["UCR", "Anomaly"]:
        return load_ucr(p, **kwargs)
    if suffix in TABLE_SUFFIXES:
        return load_csv_series(p, **kwargs)
    raise DataValidationError(
        f"{str(p)!r}: unknown series format {suffix!r}; use .npz (dmad), UCR .txt, .csv, "
        ".parquet or .pq, or a dataset folder."
    )


def list_series(folder: str | Path) -> list[Path]:
    """All dev-format ``.npz`` series under ``folder`` (recursively), sorted by path.

    :func:`load_dmad_npz` names each series after its file and its collection after the folder.

    Examples
    --------
    >>> [p.parent.name + "/" + p.stem for p in list_series("data/timeseries")][:1]  # doctest: +SKIP
    ['MSL/C-1']
    """
    return sorted(existing_dir(folder).rglob("*.npz"))
