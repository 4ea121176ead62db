"""Time-series benchmark: every dmad time-series detector and the four baselines of the notes.

Protocol: :class:`dmad.bench.timeseries.TimeSeriesTask` (fit on train, NAB on test; VUS-PR in
TSB-AD's convention is the headline, ``vus_pr_dmad`` the same in dmad's earlier convention;
point-adjusted F1 reported separately). Same hyper-parameters on every series, labels
never reach a detector. Results are appended to a CSV in the output folder, so an interrupted run
resumes; a PNG per series (signal, scores, labelled ranges) is written there too.

Examples
--------
Full run, single-threaded, tables written into BENCHMARKS.md::

    python benchmarks/timeseries.py --out results/timeseries --update-md BENCHMARKS.md

Smoke run::

    python benchmarks/timeseries.py --include C-1 --detectors window_knn diffusion_recon
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dmad.bench import make_detector, update_benchmarks_md
from dmad.bench.timeseries import TimeSeriesTask
from dmad.detectors.timeseries.dte_windows import AUTO_SCALES

#: the benchmark's budget for dmad's detectors, the same on every series: fit windows subsampled to
#: 3000 (as window-KNN's; the networks' default), training capped at 60 s, and for the networks
#: stride "auto" (window // 10), so that a 200-step univariate window costs about what a 10-step
#: one does
CAPS = {"max_fit_windows": 3000}
NET_CAPS = {**CAPS, "max_seconds": 60.0, "stride": "auto"}

#: label → (registry name, params); the same settings on every series
DETECTORS: dict[str, tuple[str, dict]] = {
    "diffusion_recon": ("diffusion_recon", NET_CAPS),  # default: reconstruction + DTE density
    "diffusion_recon_pure": ("diffusion_recon", {**NET_CAPS, "density_weight": 0.0}),
    "diffusion_imputation": ("diffusion_imputation", NET_CAPS),
    "d3r": ("d3r", NET_CAPS),
    "dte_windows": ("dte_windows", CAPS),
    "window_knn": ("window_knn", {}),
    "window_iforest": ("window_iforest", {}),
    "window_pca": ("window_pca", {}),
    "moving_zscore": ("moving_zscore", {}),
}
METRICS = ["vus_pr", "vus_pr_dmad", "vus_roc", "auroc", "aupr", "best_f1", "pa_f1"]
#: table titles that need a word of explanation
NOTES = {
    "vus_pr": " (TSB-AD's VUS convention: comparable with the notes' and TSB-AD's figures)",
    "vus_pr_dmad": " (dmad's earlier VUS convention: comparable with earlier dmad tables only)",
    "vus_roc": " (TSB-AD's VUS convention)",
    "pa_f1": " (point-adjusted, do not rank by it)",
}
#: renames that bring a results.csv written while dmad's VUS convention was the default (it has
#: ``vus_pr_tsb`` and no ``vus_pr_dmad``) to the current columns
OLD_VUS_COLUMNS = {"vus_pr": "vus_pr_dmad", "vus_pr_tsb": "vus_pr"}


def read_results(csv: Path) -> pd.DataFrame:
    """A ``results.csv`` with the current metric columns.

    A file written while dmad's VUS convention was the default holds dmad's VUS-PR under
    ``vus_pr``, TSB-AD's under ``vus_pr_tsb`` and dmad's VUS-ROC under ``vus_roc``: the first two
    are renamed (:data:`OLD_VUS_COLUMNS`) and the last dropped, so that no column mixes the two
    conventions and :func:`complete_metrics` recomputes the missing values from the saved scores.
    """
    df = pd.read_csv(csv)
    if "vus_pr" in df.columns and "vus_pr_dmad" not in df.columns:
        df = df.drop(columns="vus_roc", errors="ignore").rename(columns=OLD_VUS_COLUMNS)
    return df


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


def run(args: argparse.Namespace) -> pd.DataFrame:
    torch.set_num_threads(args.threads)
    task = TimeSeriesTask()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "results.csv"
    done = read_results(csv) if csv.exists() else pd.DataFrame(columns=["series", "label"])
    finished = set(zip(done["series"], done["label"], strict=True))
    for path in task.list_datasets(Path(args.data)):
        if args.include and path.stem not in args.include:
            continue
        fit, test, labels = task.load_splits(path, seed=0)
        scores = {}
        for label in args.detectors:
            name, params = DETECTORS[label]
            score_file = out / "scores" / f"{path.parent.name}__{path.stem}__{label}.npy"
            if (path.stem, label) in finished and score_file.exists():
                scores[label] = np.load(score_file)
                continue
            detector = make_detector(name, {**params, "device": "cpu"}, seed=args.seed)
            start = time.perf_counter()
            detector.fit(fit)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            s = detector.decision_function(test)
            score_s = time.perf_counter() - start
            score_file.parent.mkdir(exist_ok=True)
            np.save(score_file, s)
            scores[label] = s
            row = {
                "collection": path.parent.name,
                "series": path.stem,
                "label": label,
                **task.evaluate(labels, s),
                "fit_seconds": fit_s,
                "score_seconds": score_s,
                "n_fit": len(fit),
                "n_test": len(test),
                "channels": test.shape[1],
            }
            # rewrite rather than append: the file's columns may predate a metric
            table = read_results(csv) if csv.exists() else pd.DataFrame()
            pd.concat([table, pd.DataFrame([row])], ignore_index=True).to_csv(csv, index=False)
            print(
                f"{path.stem:45s} {label:22s} vus_pr={row['vus_pr']:.3f} "
                f"fit={fit_s:.1f}s score={score_s:.1f}s",
                flush=True,
            )
        plot_series(out / f"{path.parent.name}__{path.stem}.png", test, labels, scores)
    return complete_metrics(csv, task, Path(args.data))


def complete_metrics(csv: Path, task: TimeSeriesTask, data: Path) -> pd.DataFrame:
    """Fill metrics added (or redefined) since a row was written from its saved scores (and save
    the CSV)."""
    df = read_results(csv)
    stale = df.reindex(columns=METRICS).isna().any(axis=1)
    if not stale.any():
        return df
    paths = {(p.parent.name, p.stem): p for p in task.list_datasets(data)}
    for (collection, series), rows in df[stale].groupby(["collection", "series"]):
        _, _, labels = task.load_splits(paths[(collection, series)], seed=0)
        for i, row in rows.iterrows():
            scores = np.load(csv.parent / "scores" / f"{collection}__{series}__{row['label']}.npy")
            for metric, value in task.evaluate(labels, scores).items():
                df.loc[i, metric] = value
    print(f"recomputed missing metrics of {int(stale.sum())} rows", flush=True)
    df.to_csv(csv, index=False)
    return df


def _cell(value: float, best: float, k: int, n: int) -> str:
    """A table cell: bold if best, ``(k/n)`` if the detector ran on k of the n series."""
    if k == 0:
        return "–"
    text = f"**{value:.3f}**" if value == best else f"{value:.3f}"
    return text if k == n else f"{text} ({k}/{n})"


def _multiples(scales: tuple[float, ...]) -> str:
    return "(" + ", ".join("½" if s == 0.5 else f"{s:g}" for s in scales) + ")"


def render(df: pd.DataFrame, labels: list[str]) -> str:
    """Mean per collection of each metric (one table per metric), then timings.

    A detector that ran on only some of a collection's series shows ``(k/n)`` after its mean.
    """
    df = df[df["label"].isin(labels)]
    labels = [lb for lb in labels if lb in set(df["label"])]
    collections = list(pd.unique(df["collection"]))
    counts = df.groupby(["collection", "label"])["series"].nunique()
    lines = [
        "Time-series anomaly detection on the 22 dev series (`shared/data/timeseries`), fit on "
        "`train` (NAB: on `test`, transductive), one seed, 1 CPU thread, the same "
        "hyper-parameters on every series (dmad detectors under the budget caps `CAPS` / "
        "`NET_CAPS` of `benchmarks/timeseries.py`). Mean per collection; best per row in bold; "
        "`(k/n)`: the detector ran on k of the collection's n series only. "
        "VUS-PR is the headline; PA-F1 (point-adjusted, inflated: random scores reach ~0.8) is "
        "shown separately and should not be used to rank detectors. `vus_pr` and `vus_roc` follow "
        "`dmad.metrics.vus`'s default, TSB-AD's code (the convention of published leaderboards "
        "and of the notes' baseline figures, under which a perfect detector scores ~1: recall "
        "normalised by P + half the predicted border weight, summed borders, grouped events, "
        "step-wise PR sum; max buffer 100 as in the notes); `vus_pr_dmad` is the same scores "
        'under `convention="dmad"`, dmad\'s earlier reading of the paper (borders fading to 0, '
        "recall over the whole soft border, trapezoid PR area; a perfect detector ~0.7), "
        "comparable with earlier dmad tables only. dte_windows runs at window lengths "
        f"{_multiples(AUTO_SCALES[1])} × the period (univariate) or "
        f"{_multiples(AUTO_SCALES['multi'])} × 10 (multivariate). Per-series plots: "
        "`results/timeseries/*.png` (not committed: derived from the data).",
        "",
    ]
    for metric in METRICS:
        table = df.groupby(["collection", "label"])[metric].mean().unstack()
        table = table.reindex(collections, columns=labels)
        lines += [
            f"**{metric}**" + NOTES.get(metric, ""),
            "",
        ]
        lines.append("| collection | " + " | ".join(labels) + " |")
        lines.append("| --- |" + " ---: |" * len(labels))
        for collection, row in table.iterrows():
            n = df[df["collection"] == collection]["series"].nunique()
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


def seed_spread(folders: list[str], labels: list[str], metric: str = "vus_pr") -> str:
    """Mean ± standard deviation over seeds of each collection's mean ``metric``.

    Each folder holds the ``results.csv`` of one ``--seed``; a detector is summarised over the
    runs that have it (its column says how many; detectors run once are left out). The fit-window
    subsample and the networks' initialisation and load-dependent training length change with
    the run, so a gap smaller than the spread is not a ranking.
    """
    # a run written before the VUS default changed, and not refreshed since, lacks some columns:
    # it counts only for the metrics it has
    runs = [
        read_results(Path(folder) / "results.csv").reindex(columns=["collection", "label", metric])
        for folder in folders
    ]
    per_seed = pd.concat(
        [
            run.groupby(["collection", "label"])[metric].mean().rename(i)
            for i, run in enumerate(runs)
        ],
        axis=1,
    )
    mean, std = per_seed.mean(axis=1).unstack(), per_seed.std(axis=1, ddof=1).unstack()
    n_runs = per_seed.notna().sum(axis=1).unstack().max()
    labels = [lb for lb in labels if n_runs.get(lb, 0) > 1]
    lines = [
        f"**{metric}, mean ± sd over seeds** ({', '.join(folders)})",
        "",
        "| collection | " + " | ".join(f"{lb} ({n_runs[lb]})" for lb in labels) + " |",
        "| --- |" + " ---: |" * len(labels),
    ]
    for collection in mean.index:
        cells = [f"{mean.loc[collection, lb]:.3f} ± {std.loc[collection, lb]:.3f}" for lb in labels]
        lines.append(f"| {collection} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/timeseries")
    parser.add_argument("--out", default="results/timeseries")
    parser.add_argument("--include", nargs="+", help="only these series names")
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=DETECTORS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--update-md", help="write the tables into this BENCHMARKS.md")
    parser.add_argument(
        "--seed-runs", nargs="+", help="result folders of other seeds: add a mean ± sd table"
    )
    args = parser.parse_args()
    markdown = render(run(args), args.detectors)
    if args.seed_runs:
        markdown += "\n" + seed_spread([args.out, *args.seed_runs], args.detectors)
    print(markdown)
    if args.update_md:
        update_benchmarks_md(args.update_md, "timeseries", markdown)


if __name__ == "__main__":
    main()
