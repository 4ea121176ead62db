"""Time-series benchmark: every dmad time-series detector and the four baselines of the notes.

Protocol: :class:`dmad.bench.timeseries.TimeSeriesTask` (fit on train, NAB on test; VUS-PR in
TSB-AD's convention is the headline; point-adjusted F1 reported separately). Same
hyper-parameters on every series, labels never reach a detector. Everything goes through
``dmad.bench``: one spec, the resumable runner (an interrupted run continues where it stopped;
the raw scores are kept in the store) and tables built from the stored rows. A PNG per series
(signal, scores, labelled ranges) is drawn from the stored scores.

Training length is set in epochs (the detectors' defaults), never in seconds, so a seed gives the
same model on any machine.

Examples
--------
Full run, single-threaded, tables written into BENCHMARKS.md::

    python benchmarks/timeseries.py --update-md BENCHMARKS.md

More seeds of the cheap detectors for the spread table::

    python benchmarks/timeseries.py --seeds 1 2 --detectors dte_windows window_knn

Smoke run::

    python benchmarks/timeseries.py --include C-1 --detectors window_knn diffusion_recon
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dmad.bench import BenchSpec, ResultStore, run_spec, update_benchmarks_md
from dmad.bench.timeseries import TS_DETECTORS as DETECTORS  # label → (name, params)
from dmad.bench.timeseries import TimeSeriesTask
from dmad.detectors.timeseries.windowed import AUTO_SCALES

METRICS = ["vus_pr", "vus_pr_dmad", "vus_roc", "auroc", "aupr", "best_f1", "pa_f1"]
#: table titles that need a word of explanation
NOTES = {
    "vus_pr": " (TSB-AD's VUS convention, the default: comparable with the notes' and TSB-AD's "
    "figures)",
    "vus_pr_dmad": " (dmad's earlier VUS convention: comparable with earlier dmad tables only)",
    "pa_f1": " (point-adjusted, do not rank by it)",
}


def make_spec(args: argparse.Namespace) -> BenchSpec:
    return BenchSpec(
        name="timeseries",
        task="timeseries",
        datasets={"folder": args.data, "include": args.include},
        detectors=[
            {"name": DETECTORS[label][0], "params": DETECTORS[label][1], "label": label}
            for label in args.detectors
        ],
        seeds=args.seeds,
        threads=args.threads,
        store=args.store,
    )


def plot_series(path: Path, test: np.ndarray, labels: np.ndarray, scores: dict) -> None:
    """Signal (first channels), each detector's min-max scaled scores, labelled ranges shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(12, 5), sharex=True, dpi=70)
    axes[0].plot(test[:, :5], lw=0.5)
    axes[0].set_ylabel("signal (≤5 ch.)")
    for label, s in scores.items():
        span = np.ptp(s) or 1.0
        axes[1].plot((s - s.min()) / span, lw=0.6, label=label)
    axes[1].set_ylabel("scores (scaled)")
    axes[1].legend(fontsize=6, ncol=3, loc="upper left")
    edges = np.flatnonzero(np.diff(np.r_[0, labels, 0]))
    for ax in axes:
        for begin, end in zip(edges[::2], edges[1::2], strict=True):
            ax.axvspan(begin, end - 1, color="red", alpha=0.2, lw=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plots(df: pd.DataFrame, spec: BenchSpec, out: Path) -> None:
    """One PNG per series from the stored scores of the first seed."""
    store, task = ResultStore(spec.store), TimeSeriesTask()
    out.mkdir(parents=True, exist_ok=True)
    first = df[(df["status"] == "ok") & (df["seed"] == min(df["seed"]))]
    for path in spec.dataset_paths:
        rows = first[first["dataset"] == path.stem]
        scores = {r.label: store.scores(r.job_hash).get("scores") for r in rows.itertuples()}
        scores = {k: v for k, v in scores.items() if v is not None}
        if scores:
            _, test, labels = task.load_splits(path, seed=0)
            plot_series(out / f"{path.parent.name}__{path.stem}.png", test, labels, scores)


def _cell(value: float, best: float, k: int, n: int) -> str:
    """A table cell: bold if best, ``(k/n)`` if the detector ran on k of the n series."""
    if k == 0 or pd.isna(value):
        return "–"
    text = f"**{value:.3f}**" if value == best else f"{value:.3f}"
    return text if k == n else f"{text} ({k}/{n})"


def _multiples(scales: tuple[float, ...]) -> str:
    return "(" + ", ".join("½" if s == 0.5 else f"{s:g}" for s in scales) + ")"


def render(df: pd.DataFrame, labels: list[str], seed: int) -> str:
    """Mean per collection of each metric (one table per metric) for one seed, then timings."""
    df = df[(df["status"] == "ok") & (df["seed"] == seed) & df["label"].isin(labels)]
    labels = [lb for lb in labels if lb in set(df["label"])]
    collections = list(pd.unique(df["collection"]))
    counts = df.groupby(["collection", "label"])["dataset"].nunique()
    lines = [
        "Time-series anomaly detection on the 22 dev series (`shared/data/timeseries`), fit on "
        f"`train` (NAB: on `test`, transductive), seed {seed}, 1 CPU thread, the same "
        "hyper-parameters on every series; training length in epochs (the defaults), no "
        "wall-clock cap; fit windows subsampled to 3000 (`TS_CAPS` / `TS_NET_CAPS` of "
        "`dmad.bench.timeseries`). Mean per collection; best per row in bold; `(k/n)`: the "
        "detector ran on k of the collection's n series only. VUS-PR is the headline; PA-F1 "
        "(point-adjusted, inflated: random scores reach ~0.8) is shown separately and should not "
        "be used to rank detectors. `vus_pr` and `vus_roc` follow `dmad.metrics.vus`'s default, "
        "TSB-AD's code (the convention of published leaderboards and of the notes' baseline "
        "figures, under which a perfect detector scores ~1; max buffer 100 as in the notes); "
        "`vus_pr_dmad` is dmad's earlier reading of the paper (a perfect detector ~0.7), "
        "comparable with earlier dmad tables only. `recon + dte (ensemble)` is the registered "
        "`ensemble` of `diffusion_recon` and single-length `dte_windows` on the same windows "
        "(median-calibrated log scores summed): what `diffusion_recon` computed by default before "
        "the engine redesign. dte_windows runs at window lengths "
        f"{_multiples(AUTO_SCALES['univariate'])} × the period (univariate) or "
        f"{_multiples(AUTO_SCALES['multivariate'])} × 10 (multivariate). Per-series plots: "
        "`results/timeseries/*.png` (not committed: derived from the data).",
        "",
    ]
    for metric in METRICS:
        table = df.groupby(["collection", "label"])[metric].mean().unstack()
        table = table.reindex(collections, columns=labels)
        lines += [f"**{metric}**" + NOTES.get(metric, ""), ""]
        lines.append("| collection | " + " | ".join(labels) + " |")
        lines.append("| --- |" + " ---: |" * len(labels))
        for collection, row in table.iterrows():
            n = df[df["collection"] == collection]["dataset"].nunique()
            cells = [
                _cell(v, row.max(), counts.get((collection, lb), 0), n) for lb, v in row.items()
            ]
            lines.append(f"| {collection} ({n}) | " + " | ".join(cells) + " |")
        means = table.mean()
        cells = [f"**{v:.3f}**" if v == means.max() else f"{v:.3f}" for v in means]
        lines += ["| mean of collections | " + " | ".join(cells) + " |", ""]
    timing = df.groupby(["collection", "label"])[["fit_seconds", "score_seconds"]].mean()
    lines += ["Mean seconds per series (fit / score):", ""]
    lines.append("| collection | " + " | ".join(labels) + " |")
    lines.append("| --- |" + " ---: |" * len(labels))
    for collection in collections:
        cells = [
            f"{timing.loc[(collection, lb), 'fit_seconds']:.1f} / "
            f"{timing.loc[(collection, lb), 'score_seconds']:.1f}"
            if (collection, lb) in timing.index
            else "–"
            for lb in labels
        ]
        lines.append(f"| {collection} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def seed_spread(df: pd.DataFrame, labels: list[str], metric: str = "vus_pr") -> str:
    """Mean ± standard deviation over seeds of each collection's mean ``metric``.

    A detector is summarised over the seeds the store has for it (its column says how many;
    detectors run with one seed are left out). The fit-window subsample and the networks'
    initialisation change with the seed, so a gap smaller than the spread is not a ranking.
    """
    ok = df[df["status"] == "ok"]
    per_seed = ok.groupby(["collection", "label", "seed"])[metric].mean().unstack("seed")
    mean, std = per_seed.mean(axis=1).unstack(), per_seed.std(axis=1, ddof=1).unstack()
    n_seeds = per_seed.notna().sum(axis=1).unstack().min()
    labels = [lb for lb in labels if n_seeds.get(lb, 0) > 1]
    if not labels:
        return ""
    lines = [
        f"**{metric}, mean ± sd over seeds** (number of seeds in the header)",
        "",
        "| collection | " + " | ".join(f"{lb} ({n_seeds[lb]})" for lb in labels) + " |",
        "| --- |" + " ---: |" * len(labels),
    ]
    for collection in mean.index:
        cells = [f"{mean.loc[collection, lb]:.3f} ± {std.loc[collection, lb]:.3f}" for lb in labels]
        lines.append(f"| {collection} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/timeseries")
    parser.add_argument("--store", default="results/timeseries.sqlite")
    parser.add_argument("--plots", default="results/timeseries", help="folder of per-series PNGs")
    parser.add_argument("--include", nargs="+", help="only these series names")
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=DETECTORS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--update-md", help="write the tables into this BENCHMARKS.md")
    args = parser.parse_args(argv)
    spec = make_spec(args)
    run_spec(spec, keep_scores=True)
    # the tables use every stored seed of every detector, not only this call's
    every = argparse.Namespace(**{**vars(args), "detectors": list(DETECTORS), "seeds": [0, 1, 2]})
    df = run_spec(make_spec(every), max_jobs=0, progress=False)
    collection = {p.stem: p.parent.name for p in spec.dataset_paths}
    df["collection"] = df["dataset"].map(collection)
    plots(df, spec, Path(args.plots))
    markdown = render(df, list(DETECTORS), seed=0) + "\n" + seed_spread(df, list(DETECTORS))
    print(markdown)
    if args.update_md:
        update_benchmarks_md(args.update_md, "timeseries", markdown)


if __name__ == "__main__":
    main()
