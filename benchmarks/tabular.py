"""Tabular benchmark: every dmad tabular detector and the classical baselines on ADBench sets.

Protocol: ADBench / DTE semi-supervised split (see ``dmad.bench.tasks.TabularTask``). Results are
kept in a SQLite store, so rerunning after an interruption only computes the missing jobs.

Examples
--------
Full run, written into BENCHMARKS.md (slow: hours on a laptop CPU)::

    python benchmarks/tabular.py --update-md BENCHMARKS.md

Smoke run::

    python benchmarks/tabular.py --include glass --seeds 0 --detectors ddpm knn \\
        --detector-params ddpm:epochs=5
"""

from __future__ import annotations

import argparse
import shlex
import sys

import yaml

import dmad
from dmad.bench import BenchSpec, render_markdown, run_spec, update_benchmarks_md

BASELINES = ["iforest", "knn", "lof", "ecod", "ocsvm"]


def default_detectors() -> list[str]:
    """Every dmad tabular detector (not the composites, not the baselines) + the baselines."""
    own = [
        n
        for n in dmad.available_detectors("tabular")
        if not dmad.get_detector_class(n).composite
        and not dmad.get_detector_class(n).family.startswith("baseline")
    ]
    return [*own, *BASELINES]


def parse_detector_params(items: list[str]) -> dict[str, dict[str, object]]:
    """``["ddpm:epochs=5,hidden=64"]`` → ``{"ddpm": {"epochs": 5, "hidden": 64}}``.

    Values are parsed as YAML scalars, so ``5`` is an int, ``1e-3`` a float, ``true`` a bool and
    ``[50,100]`` a list.
    """
    overrides: dict[str, dict[str, object]] = {}
    for item in items:
        name, sep, assignments = item.partition(":")
        pairs = [a.partition("=") for a in assignments.split(",")] if sep else []
        if not sep or not name or any(not key or not eq for key, eq, _ in pairs):
            raise argparse.ArgumentTypeError(
                f"--detector-params {item!r}: use NAME:KEY=VALUE[,KEY=VALUE...], "
                "e.g. ddpm:epochs=5,hidden=64"
            )
        overrides.setdefault(name, {}).update(
            {key: yaml.safe_load(value) for key, _, value in pairs}
        )
    return overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/tabular", help="dataset folder")
    parser.add_argument("--include", nargs="+", help="only these dataset names")
    parser.add_argument("--exclude", nargs="+", default=[], help="skip these dataset names")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--detectors",
        nargs="+",
        help="dmad detector or baseline names (default: every dmad tabular detector + "
        + ", ".join(BASELINES)
        + ")",
    )
    parser.add_argument(
        "--detector-params",
        nargs="+",
        default=[],
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="parameter overrides, e.g. ddpm:epochs=5",
    )
    parser.add_argument("--shuffle", action="store_true", help="shuffle normals before splitting")
    parser.add_argument("--name", default="tabular", help="spec name and BENCHMARKS.md section")
    parser.add_argument("--store", default="results/tabular.sqlite")
    parser.add_argument("--max-jobs", type=int, help="run at most this many jobs now")
    parser.add_argument("--update-md", metavar="PATH", help="write the tables into this file")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    names = args.detectors or default_detectors()
    try:
        overrides = parse_detector_params(args.detector_params)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    unused = sorted(set(overrides) - set(names))
    if unused:
        parser.error(f"--detector-params names {unused}, which are not among --detectors")
    spec = BenchSpec(
        name=args.name,
        task="tabular",
        datasets={"folder": args.data, "include": args.include, "exclude": args.exclude},
        detectors=[{"name": n, "params": overrides.get(n, {})} for n in names],
        seeds=args.seeds,
        threads=args.threads,
        store=args.store,
        task_options={"shuffle": args.shuffle},
    )
    results = run_spec(spec, progress=not args.no_progress, max_jobs=args.max_jobs)
    markdown = (
        f"### Tabular benchmark `{spec.name}` (ADBench/DTE semi-supervised split)\n\n"
        f"`python benchmarks/tabular.py {shlex.join(argv)}`\n\n{render_markdown(results)}"
    )
    print(markdown)
    if args.update_md:
        update_benchmarks_md(args.update_md, spec.name, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
