"""Run a :class:`~dmad.bench.spec.BenchSpec`: the grid detectors × datasets × seeds, serially.

Jobs already in the store are skipped, so an interrupted sweep resumes where it stopped; a job
that raises becomes a ``status="error"`` row (and is retried on the next run) instead of ending
the sweep. A task may give several named test sets (e.g. the real test split and generated
anomalies); each is scored and its metrics are stored as ``<set>/<metric>``. A test set may
also be a list of inputs (e.g. several copies of a series with anomalies injected): their scores
are concatenated and evaluated together against the concatenated truth. Image tasks get
anomaly maps as well as scores. With ``keep_scores`` the raw scores go to the store too, and an
``on_result`` callback sees every scored set (for plots) while the detector is at hand.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

import dmad
from dmad.bench.baselines import make_detector
from dmad.bench.spec import BenchSpec, DetectorConfig
from dmad.bench.store import ResultStore, dataset_fingerprint, job_hash
from dmad.bench.tasks import Task
from dmad.diffusion import TrainResult

__all__ = ["Job", "OnResult", "plan_jobs", "run_spec"]


@dataclass(frozen=True)
class Job:
    """One cell of the grid: a detector configuration on one dataset with one seed."""

    dataset: str
    path: Path
    detector: DetectorConfig
    seed: int
    job_hash: str


def plan_jobs(spec: BenchSpec, task: Task) -> list[Job]:
    """All jobs of a spec, dataset-major then seed then detector (so each split loads once)."""
    jobs = []
    for path in spec.dataset_paths:
        fingerprint = dataset_fingerprint(path)
        for seed in spec.seeds:
            for det in spec.detectors:
                key = job_hash(
                    task=spec.task,
                    task_options=task.options,
                    dataset=fingerprint,
                    detector=det.name,
                    params=det.params,
                    seed=seed,
                )
                jobs.append(Job(path.stem, path, det, seed, key))
    return jobs


@contextlib.contextmanager
def _thread_limit(threads: int) -> Iterator[None]:
    """Limit torch and BLAS/OpenMP threads for the duration, then restore the caller's."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: without it only torch is limited
            yield
        else:
            with threadpool_limits(limits=threads):
                yield
    finally:
        torch.set_num_threads(previous)


def _hardware(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} CPUs, {device}"


#: on_result(job, detector, set name, X, truth, scores, maps or None)
OnResult = Callable[[Job, Any, str, Any, Any, np.ndarray, "np.ndarray | None"], None]


def _fit_info(detector: Any) -> dict[str, Any]:
    """Epochs run (and why training stopped) of every network the detector trained."""
    return {
        name.rstrip("_"): {"epochs": len(result.train_loss), "stopped": result.stopped}
        for name, result in vars(detector).items()
        if isinstance(result, TrainResult)
    }


def _run_job(
    job: Job, task: Task, splits: tuple[Any, Any, Any], on_result: OnResult | None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    X_fit, X_test, truth = splits
    sets = X_test if isinstance(X_test, dict) else {"": X_test}
    truths = truth if isinstance(X_test, dict) else {"": truth}
    detector = make_detector(job.detector.name, job.detector.params, job.seed)
    start = time.perf_counter()
    detector.fit(X_fit)
    fit_seconds = time.perf_counter() - start
    metrics: dict[str, float] = {}
    kept: dict[str, np.ndarray] = {}
    score_seconds, n_test = 0.0, 0
    for name, X in sets.items():
        start = time.perf_counter()
        maps = None
        if isinstance(X, list):  # several inputs scored one by one, evaluated as one
            scores = np.concatenate([detector.decision_function(part) for part in X])
            n_test += sum(len(part) for part in X)
        elif task.uses_maps and hasattr(detector, "anomaly_map"):
            maps = detector.anomaly_map(X)
            scores = detector.map_to_score(maps)
            n_test += len(X)
        else:
            scores = detector.decision_function(X)
            n_test += len(X)
        score_seconds += time.perf_counter() - start
        found = task.evaluate(truths[name], scores, maps)
        metrics.update(found if not name else {f"{name}/{k}": v for k, v in found.items()})
        kept[name or "scores"] = np.asarray(scores)
        if on_result is not None:
            on_result(job, detector, name, X, truths[name], scores, maps)
    row = {
        "metrics": metrics,
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
        "n_fit": len(X_fit),
        "n_test": n_test,
        "fit_info": _fit_info(detector),
        "hardware": _hardware(str(getattr(detector, "device_", "cpu"))),
    }
    return row, kept


def run_spec(
    spec: BenchSpec,
    *,
    progress: bool = True,
    resume: bool = True,
    max_jobs: int | None = None,
    keep_scores: bool = False,
    on_result: OnResult | None = None,
) -> pd.DataFrame:
    """Run every job of ``spec`` not yet in its store and return all of the spec's rows.

    Parameters
    ----------
    spec : BenchSpec
        The grid; results go to ``spec.store``.
    progress : bool
        Show a progress bar over the jobs to run.
    resume : bool
        Skip jobs already stored with status "ok" (failed ones always rerun); False reruns all.
    max_jobs : int or None
        Run at most this many jobs now (the rest on a later call).
    keep_scores : bool
        Also store each job's raw scores (:meth:`~dmad.bench.store.ResultStore.scores`).
    on_result : callable or None
        Called for every scored test set of every job run now (e.g. to draw its plot).

    Returns
    -------
    DataFrame
        One row per job of this spec that is in the store (see
        :meth:`~dmad.bench.store.ResultStore.rows`), in grid order, with this spec's name and
        detector labels.

    Examples
    --------
    >>> df = run_spec(load_spec("benchmarks/specs/tabular_quick.yaml"))  # doctest: +SKIP
    >>> df.groupby("label")["auroc"].mean()  # doctest: +SKIP
    """
    task = spec.make_task()
    store = ResultStore(spec.store)
    jobs = plan_jobs(spec, task)
    pending = [j for j in jobs if not (resume and store.has(j.job_hash))]
    if max_jobs is not None:
        pending = pending[: max(0, max_jobs)]
    common = {
        "spec": spec.name,
        "task": spec.task,
        "task_options": task.options,
        "headline_metric": task.headline,
        "dmad_version": dmad.__version__,
        "torch_version": torch.__version__,
        "threads": spec.threads,
    }
    split_key, splits = None, None
    with (
        _thread_limit(spec.threads),
        tqdm(pending, desc=spec.name, unit="job", disable=not progress) as bar,
    ):
        for job in bar:
            bar.set_postfix(dataset=job.dataset, detector=job.detector.label)
            row: dict[str, Any] = {
                **common,
                "job_hash": job.job_hash,
                "dataset": job.dataset,
                "label": job.detector.label,
                "detector": job.detector.name,
                "params": job.detector.params,
                "seed": job.seed,
                "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            }
            try:
                # keep only the current split: jobs are ordered so it changes once per dataset×seed
                if splits is None or split_key != (job.path, job.seed):
                    splits = task.load_splits(job.path, job.seed)
                    split_key = (job.path, job.seed)
                result, scores = _run_job(job, task, splits, on_result)
                row.update(result, status="ok", error=None)
                row["headline"] = row["metrics"][task.headline]
                if keep_scores:
                    store.put_scores(job.job_hash, scores)
            except Exception as exc:  # one broken job must not end the sweep
                row.update(status="error", error=f"{type(exc).__name__}: {exc}")
                row.setdefault("hardware", _hardware("device n/a"))
            store.put(row)
    frame = store.rows(job_hashes=[j.job_hash for j in jobs])
    # stored spec/label are those of the run that computed the job; report this spec's names
    frame["spec"] = spec.name
    frame["label"] = frame["job_hash"].map({j.job_hash: j.detector.label for j in jobs})
    order = {j.job_hash: i for i, j in enumerate(jobs)}
    return frame.sort_values("job_hash", key=lambda h: h.map(order), ignore_index=True)
