"""Benchmarks: a grid spec, a resumable serial runner, a SQLite results store and reports.

Examples
--------
>>> from dmad.bench import load_spec, render_markdown, run_spec  # doctest: +SKIP
>>> df = run_spec(load_spec("benchmarks/specs/tabular_quick.yaml"))  # doctest: +SKIP
>>> print(render_markdown(df))  # doctest: +SKIP
"""

from dmad.bench.baselines import make_detector
from dmad.bench.generation import GenerationSeriesTask, GenerationTabularTask  # noqa: F401
from dmad.bench.image import ImageTask  # registers the "image" task
from dmad.bench.report import render_markdown, update_benchmarks_md
from dmad.bench.runner import run_spec
from dmad.bench.spec import BenchSpec, default_spec, load_spec
from dmad.bench.store import ResultStore
from dmad.bench.timeseries import TimeSeriesTask  # registers the "timeseries" task

__all__ = [
    "BenchSpec",
    "ImageTask",
    "ResultStore",
    "TimeSeriesTask",
    "default_spec",
    "load_spec",
    "make_detector",
    "render_markdown",
    "run_spec",
    "update_benchmarks_md",
]
