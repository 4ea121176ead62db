"""Generation benchmark: do synthetic anomalies tell us what real anomalies would?

Everything goes through ``dmad.bench``: a spec per part, the resumable runner (results in
``results/generation-*.sqlite``; an interrupted run continues where it stopped) and tables built
from the stored rows. Training length is in epochs (the detectors' defaults; the image part sets
them explicitly), never in seconds, so a seed gives the same model on any machine.

1. Tabular (``--part tabular``, task ``"generation-tabular"`` of :mod:`dmad.bench.generation`):
   on every dev set, each detector (every dmad tabular detector and five PyOD baselines) is
   fitted on 80 % of the semi-supervised training normals; its AUROC on anomalies *generated*
   into the other 20 % (the four ADBench types mixed) is compared with its AUROC on the *real*
   test anomalies. Reported: the Spearman rank correlation of the two rankings per data set, over
   the dmad detectors and over dmad + classical baselines.
2. Time series (``--part timeseries``, task ``"generation-timeseries"``): on every dev series,
   each detector (the dmad time-series detectors and the window baselines, with the settings
   :data:`dmad.bench.timeseries.TS_DETECTORS` of the time-series benchmark) is fitted on the first
   80 % of the fit series (NAB: the test series itself); its step-wise AUROC on anomalies
   *generated* into the last 20 % (every ``MIXED_KINDS`` kind four times, on a few random
   channels, up to eight windows apart) is compared with its AUROC on the *real* labelled test
   series, as in 1. Series whose held-out part is too short are reported as skipped.
3. Image (``--part image``, task ``"image"`` at 64 px): DiffusionAD on MTD with
   ``synthetic=None`` (the one-step reconstruction error of the denoiser), ``"perlin"`` and
   ``"scar"`` (a segmentation head trained on that kind of generated anomaly): pixel AUPRO@0.3,
   pixel AUROC and image AUROC on the real defects, per seed and mean ± sd. Each configuration is
   a job of its own and fits its own denoiser (same seed, same settings: the same denoiser up to
   floating-point non-determinism), so the part costs three denoiser fits per seed where the old
   script fitted one and trained the heads over it.

Examples
--------
::

    python benchmarks/generation.py --part tabular --update-md BENCHMARKS.md
    python benchmarks/generation.py --part timeseries --update-md BENCHMARKS.md
    python benchmarks/generation.py --part image --seeds 0 1 2 --update-md BENCHMARKS.md

Smoke run::

    python benchmarks/generation.py --part tabular --include glass --detectors dte_np knn
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

import dmad
from dmad.bench import BenchSpec, run_spec, update_benchmarks_md
from dmad.bench.generation import (
    STRENGTHS,
    TS_MIN_SPACING,
    TS_PER_KIND,
    TS_SPACING,
    GenerationSeriesTask,
    GenerationTabularTask,
    is_skipped,
)
from dmad.bench.timeseries import TS_BASELINES, TS_DETECTORS
from dmad.generation import MIXED_KINDS
from dmad.generation.tabular import DEFAULT_ALPHA, HARD_ALPHA

#: real-AUROC gap below which two detectors count as tied: re-runs moved dte_windows' real AUROC
#: by up to ~0.01. Networks trained on a different machine or thread count can move far more
#: (diffusion_imputation on SMD machine-3-4: 0.96 in one run, 0.36 in another, when training was
#: time-capped), which no gap absorbs: the real ranking itself is noisy.
TIE_GAP = 0.02
#: DiffusionAD settings of the image part: the epochs the old 480 s caps allowed (~16 denoiser,
#: ~24 head epochs), now explicit
IMAGE_PARAMS: dict[str, Any] = {"epochs": 16, "head_epochs": 24}
#: label → ``synthetic`` of the image part's DiffusionAD configurations
IMAGE_CONFIGS: dict[str, str | None] = {
    "without generated anomalies": None,
    "with perlin": "perlin",
    "with scar": "scar",
}


def is_baseline(name: str) -> bool:
    """Whether a detector is a classical baseline (its registry family says so, or it is one of
    the tasks' default baselines)."""
    if name in (*GenerationTabularTask.default_baselines, *TS_BASELINES):
        return True
    return name in dmad.available_detectors() and dmad.get_detector_class(name).family.startswith(
        "baseline"
    )


def _own(modality: str) -> list[str]:
    """The dmad detectors of a modality: registered, not composite, not a baseline."""
    return [
        n
        for n in dmad.available_detectors(modality)
        if not dmad.get_detector_class(n).composite and not is_baseline(n)
    ]


def tabular_detectors() -> list[str]:
    """Every dmad tabular detector, then the five PyOD baselines (as before)."""
    return [*_own("tabular"), *GenerationTabularTask.default_baselines]


def series_detectors() -> list[str]:
    """Every registered, non-composite time-series detector: dmad's and the window baselines."""
    return [
        n
        for n in dmad.available_detectors("timeseries")
        if not dmad.get_detector_class(n).composite
    ]


def series_files(folder: str | Path, include: list[str] | None) -> list[Path]:
    """Dev series under ``folder``; ``include`` names series or whole collections."""
    paths = GenerationSeriesTask().list_datasets(Path(folder))
    if include:
        paths = [p for p in paths if {p.stem, p.parent.name} & set(include)]
    return paths


def tabular_spec(args: argparse.Namespace) -> BenchSpec:
    """The tabular part's grid: ``args.detectors`` (default: all) on the tabular dev sets."""
    return BenchSpec(
        name="generation-tabular",
        task="generation-tabular",
        datasets={"folder": args.tabular_data, "include": args.include},
        detectors=[{"name": n} for n in args.detectors or tabular_detectors()],
        seeds=[args.seed],
        threads=args.threads,
        store=Path(args.store_dir) / "generation-tabular.sqlite",
        task_options={"holdout": args.holdout, "kind": args.kind, "strength": args.strength},
    )


def series_spec(args: argparse.Namespace) -> BenchSpec:
    """The series part's grid, with the time-series benchmark's settings per detector."""
    return BenchSpec(
        name="generation-timeseries",
        task="generation-timeseries",
        datasets={"files": [str(p) for p in series_files(args.ts_data, args.ts_include)]},
        detectors=[
            {"name": n, "params": TS_DETECTORS.get(n, (n, {}))[1], "label": n}
            for n in args.ts_detectors or series_detectors()
        ],
        seeds=[args.seed],
        threads=args.threads,
        store=Path(args.store_dir) / "generation-timeseries.sqlite",
        task_options={"holdout": args.holdout, "per_kind": args.ts_per_kind},
    )


def image_spec(args: argparse.Namespace, seeds: list[int] | None = None) -> BenchSpec:
    """The image part's grid: one DiffusionAD job per ``synthetic`` setting and seed."""
    params = {**IMAGE_PARAMS, "image_size": args.image_size}
    return BenchSpec(
        name="generation-image",
        task="image",
        datasets={"folder": args.image_data, "include": [args.image_category]},
        detectors=[
            {"name": "diffusionad", "params": {**params, "synthetic": kind}, "label": label}
            for label, kind in IMAGE_CONFIGS.items()
        ],
        seeds=seeds or args.seeds,
        threads=args.threads,
        store=Path(args.store_dir) / "generation-image.sqlite",
        task_options={"image_size": args.image_size},
    )


# ---- tables from the stored rows -------------------------------------------------------------
def ranking_rows(df: pd.DataFrame, collection: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per finished job: dataset, detector (label), dmad (not a baseline), real and
    generated AUROC, seconds (fit + scoring).

    ``collection`` (dataset → collection) names series ``collection/name``.
    """
    ok = df[df["status"] == "ok"]
    name = (
        ok["dataset"] if collection is None else ok["dataset"].map(collection) + "/" + ok["dataset"]
    )
    return pd.DataFrame(
        {
            "dataset": name.to_numpy(),
            "detector": ok["label"].to_numpy(),
            "dmad": [not is_baseline(n) for n in ok["detector"]],
            "real": ok["real/auroc"].to_numpy(dtype=float),
            "generated": ok["generated/auroc"].to_numpy(dtype=float),
            "seconds": (ok["fit_seconds"] + ok["score_seconds"]).to_numpy(dtype=float),
        }
    )


def concordant_pairs(rows: pd.DataFrame) -> tuple[int, int]:
    """Detector pairs of one data set ordered alike by real and generated AUROC, out of the
    pairs whose real AUROCs differ by more than :data:`TIE_GAP`."""
    real, generated = rows["real"].to_numpy(), rows["generated"].to_numpy()
    pairs = [
        (real[i] - real[j], generated[i] - generated[j])
        for i in range(len(rows))
        for j in range(i + 1, len(rows))
        if abs(real[i] - real[j]) > TIE_GAP
    ]
    return sum(r * g > 0 for r, g in pairs), len(pairs)


def _rho(rows: pd.DataFrame) -> float:
    return float(spearmanr(rows["real"], rows["generated"]).statistic)


def ranking_lines(rows: pd.DataFrame, unit: str, by_collection: bool = False) -> list[str]:
    """ρ of the real vs generated rankings per data set, its means, and every AUROC pair.

    One function for the tabular and the series part, so both report the same statistics.
    ``by_collection``: data sets are named ``collection/name``; add the mean ρ per collection.
    """
    detectors = list(dict.fromkeys(rows["detector"]))
    n_own = rows.loc[rows["dmad"], "detector"].nunique()
    lines = [
        f"| dataset | ρ dmad ({n_own}) | ρ dmad + baselines ({len(detectors)}) | best real "
        "| best generated |",
        "|---|---:|---:|---|---|",
    ]
    datasets = list(dict.fromkeys(rows["dataset"]))
    rhos = {}
    concordance = np.zeros((2, 2), dtype=int)  # (dmad, all) x (alike, compared)
    for name in datasets:
        part = rows[rows["dataset"] == name]
        own = part[part["dmad"]]
        concordance += [concordant_pairs(own), concordant_pairs(part)]
        rhos[name] = (_rho(own), _rho(part))
        best_real = part.loc[part["real"].idxmax()]
        best_gen = part.loc[part["generated"].idxmax()]
        lines.append(
            f"| {name} | {rhos[name][0]:.2f} | {rhos[name][1]:.2f} | {best_real['detector']} "
            f"({best_real['real']:.3f}) | {best_gen['detector']} ({best_gen['generated']:.3f}) |"
        )
    if by_collection:
        for collection in dict.fromkeys(name.split("/")[0] for name in datasets):
            members = [v for k, v in rhos.items() if k.split("/")[0] == collection]
            own_mean, every_mean = np.nanmean(members, axis=0)
            lines.append(
                f"| *mean {collection} ({len(members)})* | *{own_mean:.2f}* | *{every_mean:.2f}* "
                "| | |"
            )
    own_rho, every_rho = np.array(list(rhos.values())).T
    lines += [
        f"| **mean** | **{np.nanmean(own_rho):.2f}** | **{np.nanmean(every_rho):.2f}** | | |",
        "",
        f"ρ > 0 on {int((own_rho > 0).sum())}/{len(own_rho)} {unit} (dmad detectors) and "
        f"{int((every_rho > 0).sum())}/{len(every_rho)} (with baselines). Detector pairs whose "
        f"real AUROCs differ by more than {TIE_GAP} (closer ones count as ties) are "
        f"ordered alike by the generated AUROC in {concordance[0, 0]}/{concordance[0, 1]} "
        f"pairs of dmad detectors and {concordance[1, 0]}/{concordance[1, 1]} of all "
        "(0.5 = chance).",
        "",
        "| dataset | " + " | ".join(detectors) + " |",
        "|---|" + "---:|" * len(detectors),
    ]
    for name in datasets:
        pairs = {r.detector: r for r in rows[rows["dataset"] == name].itertuples()}
        cells = [
            f"{pairs[d].real:.3f} / {pairs[d].generated:.3f}" if d in pairs else "–"
            for d in detectors
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, "", "Cells: real AUROC / generated AUROC."]


def _failures(df: pd.DataFrame) -> list[str]:
    """Lines naming the failed jobs (not the skipped series), for the end of a section."""
    failed = df[(df["status"] != "ok") & ~df["error"].map(is_skipped)]
    if failed.empty:
        return []
    return [
        "",
        f"Failed jobs, left out of the tables ({len(failed)}):",
        "",
        *(f"- {r.label} on {r.dataset}, seed {r.seed}: {r.error}" for r in failed.itertuples()),
    ]


def tabular_markdown(rows: pd.DataFrame, seed: int, kind: str, strength: str) -> str:
    """The tabular section: setting, ρ table, concordance and the cell table."""
    alphas = HARD_ALPHA if STRENGTHS[strength] is not None else DEFAULT_ALPHA
    what = "the four ADBench types mixed" if kind == "mixed" else f"ADBench type {kind!r}"
    setting = ", ".join(f"{k} {a:g}" for k, a in alphas.items() if k != "dependency")
    lines = [
        "### Generated-anomaly AUROC vs real AUROC (tabular dev sets)",
        "",
        "Detectors fitted on 80 % of the semi-supervised training normals (seed "
        f"{seed}; training ran the detectors' default epochs); *generated* = AUROC on the other "
        f"20 % plus as many injected anomalies ({what}, strength α: {setting}; task "
        "`generation-tabular` of `dmad.bench.generation`, the generator fitted on the held-out "
        "normals, the same generated rows for every detector); *real* = AUROC on the real test "
        "split. ρ = Spearman rank correlation of the two detector rankings (no real label is "
        "used to choose the generation setting per data set).",
        "",
    ]
    return "\n".join(lines + ranking_lines(rows, "sets"))


def series_markdown(
    rows: pd.DataFrame, seed: int, holdout: float, per_kind: int, threads: int
) -> str:
    """The series section: setting, ρ table with collection means, concordance and cells."""
    kinds = ", ".join(MIXED_KINDS)
    minutes = rows["seconds"].sum() / 60
    lines = [
        "### Generated-anomaly AUROC vs real AUROC (time-series dev series)",
        "",
        f"Detectors fitted on the first {100 * (1 - holdout):g} % of each fit series "
        f"(`TimeSeriesTask`: `train`, NAB: the test series itself; seed {seed}) with the settings "
        "of the time-series benchmark (`TS_DETECTORS` of `dmad.bench.timeseries`: fit windows "
        "subsampled to 3000, network stride 'auto'; training ran the detectors' default epochs, "
        "no wall-clock cap); *generated* = step-wise AUROC on the last "
        f"{100 * holdout:g} % of the fit series with {per_kind} anomalies of each kind ({kinds}; "
        "default strengths), each on 1 to max(1, n // 5) of the n varying channels, in a slot of "
        f"{TS_SPACING} windows (`default_window`, what `window='auto'` resolves to; down to "
        f"{TS_MIN_SPACING} where the part is shorter) and a quarter of the slot long "
        "(`inject_mixed_series`), in as many copies of the part as that takes, scores pooled "
        "(`series_injectors` of `dmad.bench.generation`); a series whose held-out part is "
        f"shorter than {TS_MIN_SPACING} windows is skipped (the script says which). "
        "*real* = AUROC on the labelled test series. "
        "NAB's held-out part is the end of its test series: it may hold real "
        "anomalies, unlabelled there (counted as normal), and the real AUROC includes the part "
        "the detector was fitted on (transductive, as in the time-series benchmark). "
        "ρ = Spearman rank correlation of the two detector rankings per series; collection rows "
        f"are means of their series' ρ. {minutes:.0f} min on {threads} CPU "
        f"thread{'s' if threads > 1 else ''}.",
        "",
    ]
    return "\n".join(lines + ranking_lines(rows, "series", by_collection=True))


def image_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per finished image job: seed, model, epochs run, the three metrics."""
    ok = df[df["status"] == "ok"]

    def epochs(info: Any, net: str) -> int:
        info = json.loads(info) if isinstance(info, str) else (info or {})
        return int(info.get(net, {}).get("epochs", 0))

    return pd.DataFrame(
        {
            "seed": ok["seed"].to_numpy(),
            "model": ok["label"].to_numpy(),
            "denoiser_epochs": [epochs(i, "train_result") for i in ok["fit_info"]],
            "head_epochs": [epochs(i, "head_result") for i in ok["fit_info"]],
            "aupro": ok["aupro"].to_numpy(dtype=float),
            "pixel_auroc": ok["pixel_auroc"].to_numpy(dtype=float),
            "image_auroc": ok["image_auroc"].to_numpy(dtype=float),
            "n_train": ok["n_fit"].to_numpy(),
            "n_test": ok["n_test"].to_numpy(),
            "threads": ok["threads"].to_numpy(),
            "hardware": ok["hardware"].to_numpy(),
        }
    ).sort_values(["seed"], kind="stable", ignore_index=True)


def image_markdown(rows: pd.DataFrame, size: int, params: dict[str, Any]) -> str:
    """One line per seed and model, then each model's mean ± sd over the seeds."""
    defaults = dmad.get_detector_class("diffusionad")()
    base = params.get("base_channels", defaults.base_channels)
    head = params.get("head_channels", defaults.head_channels)
    seeds = sorted(set(rows["seed"]))
    threads = ", ".join(str(t) for t in pd.unique(rows["threads"]))
    hardware = "; ".join(str(h) for h in pd.unique(rows["hardware"]))
    lines = [
        f"### DiffusionAD on MTD with and without generated anomalies ({size}×{size} px)",
        "",
        f"Per seed and configuration: a UNet2D denoiser (base {base} channels, "
        f"{params['epochs']} epochs) fitted on the {rows['n_train'].iloc[0]} normal training "
        f"images; with generated anomalies, a segmentation head (base {head}, "
        f"{params['head_epochs']} epochs) is trained over that frozen denoiser on anomalies "
        "generated on the fly (`inject_image(..., kind)`: Perlin-noise blends, CutPaste scars, "
        "...). Without a head the map is the one-step reconstruction error of the denoiser. "
        "Each configuration is a job of its own and fits its own denoiser with the seed. "
        f"Evaluated on all {rows['n_test'].iloc[0]} real test images (masks at {size} px); "
        f"training length in epochs (early stopping may end the denoiser sooner: the column "
        f"gives the epochs run), {threads} thread(s), {hardware}. "
        f"Seeds: {', '.join(map(str, seeds))}.",
        "",
        "| seed | DiffusionAD | denoiser / head epochs | pixel AUPRO@0.3 | pixel AUROC | "
        "image AUROC |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    metrics = ("aupro", "pixel_auroc", "image_auroc")
    for r in rows.itertuples():
        cells = " | ".join(f"{getattr(r, m):.3f}" for m in metrics)
        epochs = f"{r.denoiser_epochs} / {r.head_epochs}"
        lines.append(f"| {r.seed} | {r.model} | {epochs} | {cells} |")
    if len(seeds) > 1:
        for model in dict.fromkeys(rows["model"]):
            values = rows.loc[rows["model"] == model, list(metrics)].to_numpy()
            cells = " | ".join(
                f"{m:.3f} ± {sd:.3f}"
                for m, sd in zip(values.mean(0), values.std(0, ddof=1), strict=True)
            )
            lines.append(f"| mean ± sd | {model} | | {cells} |")
    return "\n".join(lines)


def _finished(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        raise SystemExit("no finished job to report (every job failed or was skipped).")
    return rows


def _report_skips(df: pd.DataFrame) -> list[str]:
    skipped = df[(df["status"] != "ok") & df["error"].map(is_skipped)]
    for error in pd.unique(skipped["error"]):
        print(error.split(": ", 1)[1], file=sys.stderr, flush=True)
    return list(pd.unique(skipped["dataset"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["tabular", "timeseries", "image"], required=True)
    parser.add_argument("--tabular-data", default="../shared/data/tabular")
    parser.add_argument("--ts-data", default="../shared/data/timeseries")
    parser.add_argument("--image-data", default="../shared/data/image")
    parser.add_argument("--image-category", default="magnetic_tile")
    parser.add_argument("--store-dir", default="results", help="folder of the results stores")
    parser.add_argument("--include", nargs="+", help="only these tabular data sets")
    parser.add_argument("--detectors", nargs="+", help="tabular detectors (default: all)")
    parser.add_argument("--ts-include", nargs="+", help="only these series or collections")
    parser.add_argument(
        "--ts-per-kind", type=int, default=TS_PER_KIND, help="generated anomalies of each kind"
    )
    parser.add_argument(
        "--ts-detectors",
        nargs="+",
        choices=series_detectors(),
        help="time-series detectors (default: all registered ones but composites)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the tabular / series part")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="image part's seeds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--kind", default="mixed", help="tabular anomaly kind of the estimate")
    parser.add_argument("--strength", choices=list(STRENGTHS), default="hard")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--update-md", help="write the section into this BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.part == "tabular":
        df = run_spec(tabular_spec(args))
        rows = _finished(ranking_rows(df))
        md = tabular_markdown(rows, args.seed, args.kind, args.strength)
    elif args.part == "timeseries":
        spec = series_spec(args)
        df = run_spec(spec)
        skipped = _report_skips(df)
        print(f"skipped {len(skipped)} series: {', '.join(skipped) or 'none'}", flush=True)
        collection = {p.stem: p.parent.name for p in spec.dataset_paths}
        rows = _finished(ranking_rows(df, collection))
        md = series_markdown(rows, args.seed, args.holdout, args.ts_per_kind, args.threads)
    else:
        run_spec(image_spec(args))
        # the table shows every stored seed, not only this call's
        df = run_spec(image_spec(args, seeds=list(range(10))), max_jobs=0, progress=False)
        md = image_markdown(_finished(image_rows(df)), args.image_size, IMAGE_PARAMS)
    md = "\n".join([md, *_failures(df)])
    print(md)
    if args.update_md:
        update_benchmarks_md(args.update_md, f"generation-{args.part}", md)


if __name__ == "__main__":
    main()
