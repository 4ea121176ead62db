"""The ``dmad`` command line: list, fit, score, quickstart, bench.

Exit codes: 0 success, 2 bad usage (unknown option, missing argument), 1 any other error, reported
as a single ``error: ...`` line rather than a traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer
import yaml

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Anomaly detection with diffusion models. Scores: higher = more anomalous.",
)


def _parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["k=5", "t_stars=[50, 100]"]`` → ``{"k": 5, "t_stars": [50, 100]}`` (YAML values)."""
    params: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"{item!r} is not of the form key=value", param_hint="--param")
        key, value = item.split("=", 1)
        params[key.strip()] = yaml.safe_load(value)
    return params


def _load_rows(path: Path, label_column: str | None):
    from dmad.data.tabular import load_tabular

    return load_tabular(path, label_column=label_column)


@app.command("list")
def list_detectors(
    modality: str = typer.Option(None, help="tabular, timeseries or image"),
) -> None:
    """List the registered detectors."""
    import dmad

    names = dmad.available_detectors(modality)
    width = max((len(n) for n in names), default=0)
    family_width = max((len(dmad.get_detector_class(n).family) for n in names), default=0)
    for name in names:
        cls = dmad.get_detector_class(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        typer.echo(f"{name:<{width}}  {cls.modality:<10}  {cls.family:<{family_width}}  {summary}")


@app.command()
def fit(
    data: Path = typer.Argument(..., help="CSV, Parquet, .npy or .npz training data"),
    detector: str = typer.Option(..., "--detector", "-d", help="registry name, see `dmad list`"),
    output: Path = typer.Option(..., "--output", "-o", help="model directory to write"),
    param: list[str] = typer.Option(None, "--param", "-p", help="detector parameter key=value"),
    label_column: str = typer.Option(None, help="column to drop before fitting"),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N, mps"),
) -> None:
    """Fit a detector on DATA and save it to a model directory."""
    import dmad

    params = _parse_params(param)
    det = dmad.create(detector, **params)
    if "device" in det.get_params():
        det.set_params(device=device)
    if "verbose" in det.get_params() and "verbose" not in params:
        det.set_params(verbose=True)
    dataset = _load_rows(data, label_column)
    start = time.perf_counter()
    det.fit(dataset.X)
    det.save(output)
    typer.echo(
        f"fitted {detector} on {len(dataset.X)} rows in {time.perf_counter() - start:.1f}s "
        f"→ {output} (threshold {det.threshold_:.4g})"
    )


@app.command()
def score(
    model: Path = typer.Argument(..., help="model directory written by `dmad fit`"),
    data: Path = typer.Argument(..., help="CSV, Parquet, .npy or .npz data to score"),
    output: Path = typer.Option(..., "--output", "-o", help="CSV file for the scores"),
    label_column: str = typer.Option(None, help="label column: dropped, and used for AUROC"),
) -> None:
    """Score DATA with a saved model; writes score and 0/1 label per row."""
    import pandas as pd

    import dmad
    from dmad.metrics import aupr, auroc

    det = dmad.load(model)
    dataset = _load_rows(data, label_column)
    scores = det.decision_function(dataset.X)
    labels = (scores > det.threshold_).astype(int)
    pd.DataFrame({"score": scores, "label": labels}).to_csv(output, index_label="row")
    line = f"scored {len(scores)} rows → {output}; {labels.sum()} flagged anomalous"
    if dataset.y is not None and 0 < dataset.y.sum() < len(dataset.y):
        line += f"; AUROC {auroc(dataset.y, scores):.3f}, AUPR {aupr(dataset.y, scores):.3f}"
    typer.echo(line)


@app.command()
def quickstart(
    output: Path = typer.Option(Path("dmad_quickstart"), "--output", "-o", help="output folder"),
    seed: int = typer.Option(0, help="random seed"),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N, mps"),
) -> None:
    """Fit every diffusion detector and an IsolationForest on bundled data; table + plots."""
    from dmad.quickstart import run_quickstart

    run_quickstart(output, seed=seed, device=device, echo=typer.echo)


@app.command()
def bench(
    spec: str = typer.Argument(..., help="a YAML spec file, or a task name: tabular, ..."),
    data: Path = typer.Option(None, help="dataset folder (with a task name)"),
    seeds: str = typer.Option("0,1,2", help="comma-separated seeds (with a task name)"),
    threads: int = typer.Option(1, help="torch/BLAS threads per job (with a task name)"),
    update_md: Path = typer.Option(None, help="write the table into this BENCHMARKS.md"),
    no_resume: bool = typer.Option(False, help="re-run jobs already in the store"),
) -> None:
    """Run a benchmark grid (detectors × datasets × seeds) and print the markdown table.

    `dmad bench tabular --data DIR` runs every dmad detector of the task's modality and the task's
    classical baselines; `dmad bench SPEC.yaml` runs a custom grid.
    """
    from dmad.bench import default_spec, load_spec, render_markdown, run_spec, update_benchmarks_md
    from dmad.bench.tasks import TASKS

    if spec in TASKS and not Path(spec).is_file():
        if data is None:
            raise typer.BadParameter(f"--data is required with the task name {spec!r}")
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        bench_spec = default_spec(spec, data, seeds=seed_list, threads=threads)
    else:
        bench_spec = load_spec(spec)
    rows = run_spec(bench_spec, progress=True, resume=not no_resume)
    table = render_markdown(rows, metric=bench_spec.make_task().headline)
    typer.echo(table)
    if update_md is not None:
        update_benchmarks_md(update_md, bench_spec.name, table)
        typer.echo(f"updated {update_md}")


@app.command()
def generate(
    data: Path = typer.Argument(..., help="table or series file, or a folder of images"),
    kind: str = typer.Option(..., "--kind", "-k", help="anomaly kind; it picks the modality"),
    n: int = typer.Option(..., "-n", help="anomalies (tables, series) or images to write"),
    output: Path = typer.Option(..., "--output", "-o", help=".csv/.npz file or image folder"),
    seed: int = typer.Option(0, help="random seed"),
    param: list[str] = typer.Option(None, "--param", "-p", help="injector parameter key=value"),
    modality: str = typer.Option(
        None,
        help="tabular, timeseries or image (default: the modality of --kind; 'mixed' is "
        "tabular unless --modality timeseries)",
    ),
) -> None:
    """Inject N synthetic anomalies of KIND into DATA; write the data with exact labels/masks."""
    import numpy as np

    from dmad.generation import IMAGE_KINDS, SERIES_KINDS, TABULAR_KINDS
    from dmad.generation.io import read_images, write_injection
    from dmad.generation.loop import inject

    params = _parse_params(param)
    columns = None
    kinds_of = {
        "tabular": (*TABULAR_KINDS, "mixed"),
        "timeseries": (*SERIES_KINDS, "mixed"),
        "image": IMAGE_KINDS,
    }
    if modality is None:  # the first modality that has the kind
        modality = next((m for m, kinds in kinds_of.items() if kind in kinds), None)
    elif modality not in kinds_of:
        raise typer.BadParameter(
            f"{modality!r} is not one of {list(kinds_of)}", param_hint="--modality"
        )
    if modality == "tabular":
        table = _load_rows(data, None).X
        columns = [str(c) for c in getattr(table, "columns", [])] or None
        values, params["n_anomalies"] = np.asarray(table, dtype=np.float64), n
    elif modality == "timeseries":
        from dmad.data.timeseries import load_timeseries

        series = load_timeseries(data)
        # the training part is the normal data, where the file has one
        values = series.train if len(series.train) else series.test
        params["n_anomalies"] = n
    elif modality == "image":
        images = read_images(data)
        values = images[np.arange(n) % len(images)]
    else:
        kinds = list(dict.fromkeys(k for group in kinds_of.values() for k in group))
        raise typer.BadParameter(f"{kind!r} is not one of {kinds}", param_hint="--kind")
    injection = inject(values, modality, kind, seed, **params)
    write_injection(injection, output, modality, columns)
    typer.echo(
        f"wrote {len(injection.labels)} {modality} samples ({int(injection.labels.sum())} "
        f"labelled anomalous) → {output}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors exit 2 (printed by typer), dmad/user errors one line and exit 1."""
    from dmad.exceptions import DmadError

    try:
        app(args=argv, prog_name="dmad")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (DmadError, ValueError, TypeError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    return 0


def console_main() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
