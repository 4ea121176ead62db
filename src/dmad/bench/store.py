"""Benchmark results in SQLite, one row per job, keyed by a hash of everything that defines it.

The job hash covers the task and its options, the dataset's *content* (name, size and a digest of
its first MiB, so a replaced file reruns while a moved one does not), the detector and its
parameters, and the seed. The spec name and display label are not part of it: two specs that run
the same job share the result. A job's raw scores can be kept beside the table (one ``.npz`` per
job in ``<store>.scores/``), so plots and metrics added later need no rerun.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ResultStore", "dataset_fingerprint", "job_hash", "COLUMNS"]

#: column name → SQLite type
COLUMNS: dict[str, str] = {
    "job_hash": "TEXT PRIMARY KEY",
    "spec": "TEXT",
    "task": "TEXT",
    "task_options": "TEXT",
    "dataset": "TEXT",
    "label": "TEXT",
    "detector": "TEXT",
    "params": "TEXT",
    "seed": "INTEGER",
    "headline_metric": "TEXT",
    "headline": "REAL",
    "metrics": "TEXT",
    "fit_seconds": "REAL",
    "score_seconds": "REAL",
    "n_fit": "INTEGER",
    "n_test": "INTEGER",
    "fit_info": "TEXT",
    "status": "TEXT",
    "error": "TEXT",
    "dmad_version": "TEXT",
    "torch_version": "TEXT",
    "threads": "INTEGER",
    "hardware": "TEXT",
    "timestamp": "TEXT",
}
_JSON_COLUMNS = ("task_options", "params", "metrics", "fit_info")
_HEAD_BYTES = 1 << 20


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def dataset_fingerprint(path: str | Path) -> dict[str, Any]:
    """Name (file stem), size in bytes and sha256 of the first MiB of a dataset file; for a
    dataset folder (an image category), the sha256 of its sorted file list with their sizes."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        listing = "\n".join(f"{p.relative_to(path)}:{p.stat().st_size}" for p in files)
        digest = hashlib.sha256(listing.encode()).hexdigest()
        size = sum(p.stat().st_size for p in files)
        return {"name": path.name, "size": size, "sha256_head": digest}
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(_HEAD_BYTES)).hexdigest()
    return {"name": path.stem, "size": path.stat().st_size, "sha256_head": head}


def job_hash(
    *,
    task: str,
    task_options: dict[str, Any],
    dataset: dict[str, Any],
    detector: str,
    params: dict[str, Any],
    seed: int,
) -> str:
    """sha256 of the canonical JSON of a job's defining fields.

    Examples
    --------
    >>> h = job_hash(task="tabular", task_options={}, dataset={"name": "glass"},
    ...              detector="knn", params={}, seed=0)
    >>> len(h)
    64
    """
    key = {
        "task": task,
        "task_options": task_options,
        "dataset": dataset,
        "detector": detector,
        "params": params,
        "seed": seed,
    }
    return hashlib.sha256(_canonical(key).encode()).hexdigest()


class ResultStore:
    """A SQLite file of job rows (columns: :data:`COLUMNS`).

    Each call opens its own short connection and commits, so a sweep killed mid-way keeps every
    finished job.

    Examples
    --------
    >>> store = ResultStore("results/tabular.sqlite")  # doctest: +SKIP
    >>> store.rows("tabular-dev").groupby("label")["headline"].mean()  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        with self._connect() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS jobs ({columns})")
            present = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
            for name, kind in COLUMNS.items():  # a store written by an older dmad
                if name not in present:
                    conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")

    @property
    def scores_dir(self) -> Path:
        """Where the kept scores of each job live (``<store>.scores/<job hash>.npz``)."""
        return self.path.with_suffix(".scores")

    def put_scores(self, job_hash: str, scores: dict[str, Any]) -> Path:
        """Keep a job's score arrays (by test-set name), written atomically."""
        self.scores_dir.mkdir(parents=True, exist_ok=True)
        target = self.scores_dir / f"{job_hash}.npz"
        fd, tmp = tempfile.mkstemp(dir=self.scores_dir, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                arrays: dict[str, Any] = {k: np.asarray(v) for k, v in scores.items()}
                np.savez(handle, **arrays)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def scores(self, job_hash: str) -> dict[str, np.ndarray]:
        """The score arrays kept for a job (empty if none were kept)."""
        file = self.scores_dir / f"{job_hash}.npz"
        if not file.is_file():
            return {}
        with np.load(file, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def _connect(self) -> closing[sqlite3.Connection]:
        # closing() because sqlite3's own context manager commits but never closes
        return closing(sqlite3.connect(self.path, isolation_level=None))

    def has(self, job_hash: str, *, include_errors: bool = False) -> bool:
        """Whether a job is stored; failed jobs count only with ``include_errors``."""
        query = "SELECT 1 FROM jobs WHERE job_hash = ?" + (
            "" if include_errors else " AND status = 'ok'"
        )
        with self._connect() as conn:
            return conn.execute(query, (job_hash,)).fetchone() is not None

    def put(self, row: dict[str, Any]) -> None:
        """Insert or replace one job row; dict values of JSON columns are serialised."""
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            raise KeyError(f"unknown result column(s) {unknown}; valid: {', '.join(COLUMNS)}")
        values = {
            k: _canonical(v) if k in _JSON_COLUMNS and not isinstance(v, str) else v
            for k, v in row.items()
        }
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._connect() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO jobs ({names}) VALUES ({marks})", tuple(values.values())
            )

    def rows(
        self, spec_name: str | None = None, *, job_hashes: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Stored rows, optionally of one spec or of given job hashes, in insertion order.

        ``params``, ``task_options`` and ``metrics`` stay JSON strings; each metric also gets
        its own column (``auroc``, ``aupr``, ...), NaN for failed jobs.
        """
        query = "SELECT * FROM jobs"
        args: tuple[str, ...] = ()
        if spec_name is not None:
            query, args = query + " WHERE spec = ?", (spec_name,)
        with self._connect() as conn:
            frame = pd.read_sql_query(query + " ORDER BY rowid", conn, params=args)
        if job_hashes is not None:
            frame = frame[frame["job_hash"].isin(set(job_hashes))].reset_index(drop=True)
        metrics = pd.DataFrame(
            [json.loads(m) if isinstance(m, str) else {} for m in frame["metrics"]]
        )
        return pd.concat([frame, metrics.set_index(frame.index)], axis=1)
