"""Generation benchmark: do synthetic anomalies tell us what real anomalies would?

1. Tabular (``--part tabular``): on every dev set, each detector is fitted on 80 % of the
   semi-supervised training normals; its AUROC on anomalies *generated* into the other 20 %
   (:func:`dmad.generation.loop.estimate_auroc`, the four ADBench types mixed) is compared with
   its AUROC on the *real* test anomalies. Reported: the Spearman rank correlation of the two
   rankings per data set, over the dmad detectors and over dmad + classical baselines.
2. Time series (``--part timeseries``): on every dev series, each detector is fitted on the
   first 80 % of the fit series (``TimeSeriesTask``; NAB: the test series itself); its step-wise
   AUROC on anomalies *generated* into the last 20 % (every ``MIXED_KINDS`` kind four times, on
   a few random channels, up to eight windows apart) is compared with its AUROC on the *real*
   labelled test series, as in 1.
3. Image (``--part image``): on MTD, DiffusionAD's segmentation head trained on generated
   (Perlin) anomalies versus the same fitted denoiser without the head (one-step reconstruction
   error): pixel AUPRO@0.3 and AUROC on the real defects.

Examples
--------
::

    python benchmarks/generation.py --part tabular --update-md BENCHMARKS.md
    python benchmarks/generation.py --part timeseries --update-md BENCHMARKS.md
    python benchmarks/generation.py --part image --image-size 64 --update-md BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from timeseries import DETECTORS  # benchmarks/timeseries.py (this folder is on sys.path)

import dmad
from dmad.bench import update_benchmarks_md
from dmad.bench.baselines import make_detector
from dmad.bench.timeseries import TS_BASELINES, TimeSeriesTask
from dmad.data.tabular import list_datasets, load_tabular, semi_supervised_split
from dmad.data.windows import default_window
from dmad.generation import MIXED_KINDS, Injection, inject_mixed_series
from dmad.generation.image import IMAGE_KINDS
from dmad.generation.loop import Injector, estimate_auroc
from dmad.generation.tabular import DEFAULT_ALPHA, HARD_ALPHA
from dmad.metrics import auroc

BASELINES = ["iforest", "knn", "lof", "ecod", "ocsvm"]
TS_PER_KIND = 4
#: room per injected anomaly, in windows (see series_injectors): this many where the held-out
#: part has them, at least the minimum (shorter parts are skipped)
TS_SPACING, TS_MIN_SPACING = 8, 4


def cached_rows(path: str | None, compute: Callable[[], list[dict]]) -> list[dict]:
    """The rows saved at ``path`` if any, else ``compute()`` (saved there): re-render for free."""
    cache = Path(path) if path else None
    if cache is not None and cache.exists():
        return json.loads(cache.read_text())
    rows = compute()
    if cache is not None:
        cache.write_text(json.dumps(rows))
    return rows


def seed_rows(path: str | None, seed: int, compute: Callable[[], list[dict]]) -> list[dict]:
    """Rows of every seed saved at ``path``, with ``compute()``'s added if ``seed`` is new."""
    cache = Path(path) if path else None
    rows = json.loads(cache.read_text()) if cache is not None and cache.exists() else []
    if all(r["seed"] != seed for r in rows):
        rows += compute()
        if cache is not None:
            cache.write_text(json.dumps(rows))
    return rows


#: real-AUROC gap below which two detectors count as tied: re-runs moved dte_windows' real AUROC
#: by up to ~0.01. The time-capped networks train for a load-dependent number of steps and can
#: move far more (diffusion_imputation on SMD machine-3-4: 0.96 in one run, 0.36 in the next),
#: which no gap absorbs: the real ranking itself is noisy.
TIE_GAP = 0.02


def concordant_pairs(rows: list[dict]) -> tuple[int, int]:
    """Detector pairs of one data set ordered alike by real and generated AUROC, out of the
    pairs whose real AUROCs differ by more than :data:`TIE_GAP`."""
    pairs = [
        (a["real"] - b["real"], a["generated"] - b["generated"])
        for i, a in enumerate(rows)
        for b in rows[i + 1 :]
        if abs(a["real"] - b["real"]) > TIE_GAP
    ]
    return sum(real * generated > 0 for real, generated in pairs), len(pairs)


def ranking_lines(rows: list[dict], unit: str, by_collection: bool = False) -> list[str]:
    """ρ of the real vs generated rankings per data set, its means, and every AUROC pair.

    One function for the tabular and the series part, so both report the same statistics.
    ``by_collection``: data sets are named ``collection/name``; add the mean ρ per collection.
    """
    detectors = list(dict.fromkeys(r["detector"] for r in rows))
    n_own = len({r["detector"] for r in rows if r["dmad"]})
    lines = [
        f"| dataset | ρ dmad ({n_own}) | ρ dmad + baselines ({len(detectors)}) | best real "
        "| best generated |",
        "|---|---:|---:|---|---|",
    ]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    rhos = {}
    concordance = np.zeros((2, 2), dtype=int)  # (dmad, all) x (alike, compared)
    for name in datasets:
        part = [r for r in rows if r["dataset"] == name]
        own = [r for r in part if r["dmad"]]
        concordance += [concordant_pairs(own), concordant_pairs(part)]
        rho_own = spearmanr([r["real"] for r in own], [r["generated"] for r in own]).statistic
        rho_all = spearmanr([r["real"] for r in part], [r["generated"] for r in part]).statistic
        rhos[name] = (rho_own, rho_all)
        best_real = max(part, key=lambda r: r["real"])
        best_gen = max(part, key=lambda r: r["generated"])
        lines.append(
            f"| {name} | {rho_own:.2f} | {rho_all:.2f} | {best_real['detector']} "
            f"({best_real['real']:.3f}) | {best_gen['detector']} ({best_gen['generated']:.3f}) |"
        )
    if by_collection:
        for collection in dict.fromkeys(name.split("/")[0] for name in datasets):
            members = [v for k, v in rhos.items() if k.split("/")[0] == collection]
            own, every = np.nanmean(members, axis=0)
            lines.append(
                f"| *mean {collection} ({len(members)})* | *{own:.2f}* | *{every:.2f}* | | |"
            )
    own, every = np.array(list(rhos.values())).T
    lines += [
        f"| **mean** | **{np.nanmean(own):.2f}** | **{np.nanmean(every):.2f}** | | |",
        "",
        f"ρ > 0 on {int((own > 0).sum())}/{len(own)} {unit} (dmad detectors) and "
        f"{int((every > 0).sum())}/{len(every)} (with baselines). Detector pairs whose real "
        f"AUROCs differ by more than {TIE_GAP} (closer ones count as ties) are "
        f"ordered alike by the generated AUROC in {concordance[0, 0]}/{concordance[0, 1]} "
        f"pairs of dmad detectors and {concordance[1, 0]}/{concordance[1, 1]} of all "
        "(0.5 = chance).",
        "",
        "| dataset | " + " | ".join(detectors) + " |",
        "|---|" + "---:|" * len(detectors),
    ]
    for name in datasets:
        pairs = {r["detector"]: r for r in rows if r["dataset"] == name}
        cells = [
            f"{pairs[d]['real']:.3f} / {pairs[d]['generated']:.3f}" if d in pairs else "–"
            for d in detectors
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, "", "Cells: real AUROC / generated AUROC."]


def tabular_rows(
    data: Path, seed: int, holdout: float, include: list[str] | None, kind: str, strength: str
) -> list[dict]:
    alpha = HARD_ALPHA if strength == "hard" else None
    rows = []
    for path in list_datasets(data):
        if include and path.stem not in include:
            continue
        ds = load_tabular(path)
        X_train, X_test, y_test = semi_supervised_split(ds.X, ds.y, seed=seed)
        X_train = np.asarray(X_train, dtype=np.float64)
        order = np.random.default_rng(seed).permutation(len(X_train))
        n_hold = round(holdout * len(X_train))
        X_fit, X_hold = X_train[order[n_hold:]], X_train[order[:n_hold]]
        for name in [*dmad.available_detectors("tabular"), *BASELINES]:
            start = time.perf_counter()
            det = make_detector(name, {}, seed).fit(X_fit)
            ev = estimate_auroc(
                det, X_hold, kind, n_anomalies=n_hold, alpha=alpha, random_state=seed
            )
            rows.append(
                {
                    "dataset": path.stem,
                    "detector": name,
                    "dmad": name not in BASELINES,
                    "real": auroc(y_test, det.decision_function(X_test)),
                    "generated": ev.auroc,
                    "seconds": time.perf_counter() - start,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def tabular_markdown(rows: list[dict], seed: int, kind: str, strength: str) -> str:
    alphas = HARD_ALPHA if strength == "hard" else DEFAULT_ALPHA
    what = "the four ADBench types mixed" if kind == "mixed" else f"ADBench type {kind!r}"
    setting = ", ".join(f"{k} {a:g}" for k, a in alphas.items() if k != "dependency")
    lines = [
        "### Generated-anomaly AUROC vs real AUROC (tabular dev sets)",
        "",
        "Detectors fitted on 80 % of the semi-supervised training normals (seed "
        f"{seed}); *generated* = AUROC on the other 20 % plus as many injected anomalies ({what}, "
        f"strength α: {setting}; `estimate_auroc(det, X_hold, {kind!r}, alpha=...)`, the "
        "generator fitted on the held-out normals); *real* = AUROC on the real test split. "
        "ρ = Spearman rank correlation of the two detector rankings (no real label is used to "
        "choose the generation setting per data set).",
        "",
    ]
    return "\n".join(lines + ranking_lines(rows, "sets"))


def series_injectors(
    n_steps: int, window: int, seed: int, per_kind: int = TS_PER_KIND
) -> list[Injector]:
    """Rounds of :func:`~dmad.generation.inject_mixed_series` placing every kind ``per_kind``
    times, each anomaly on a few random channels and a quarter of its slot long.

    A window-scored step gets the mean score of the windows covering it, so an anomaly raises
    the scores a window to each side: packed anomalies merge into one raised stretch (NAB
    nyc_taxi, 200-step windows, all 16 anomalies in its 2064 held-out steps: window-KNN's
    generated AUROC 0.48; in 8 rounds of 2: 0.87, real 0.96). Each round therefore holds only
    as many anomalies as have :data:`TS_SPACING` windows each (fewer, down to
    :data:`TS_MIN_SPACING`, where the part is shorter), and there are as many rounds as needed.
    ``n_steps`` must be at least ``TS_MIN_SPACING * window``.
    """
    kinds = list(np.random.default_rng(seed).permutation(np.repeat(MIXED_KINDS, per_kind)))
    spacing = min(TS_SPACING, n_steps // window)
    per_round = min(n_steps // (spacing * window), len(kinds))
    return [
        partial(_mixed_round, kinds=kinds[i : i + per_round], slot=n_steps // per_round)
        for i in range(0, len(kinds), per_round)
    ]


def _mixed_round(X: np.ndarray, rng: np.random.Generator, kinds: list[str], slot: int) -> Injection:
    """One round as an ``Injector`` (``estimate_auroc`` passes the series and a generator)."""
    return inject_mixed_series(X, kinds, slot=slot, random_state=rng)


def series_rows(
    data: Path,
    seed: int,
    holdout: float,
    include: list[str] | None,
    max_seconds: float,
    per_kind: int,
    detectors: Sequence[str],
) -> list[dict]:
    task = TimeSeriesTask()
    rows = []
    for path in task.list_datasets(data):
        if include and not {path.stem, path.parent.name} & set(include):
            continue
        name = f"{path.parent.name}/{path.stem}"
        fit, test, labels = task.load_splits(path, seed=seed)
        n_fit = round((1 - holdout) * len(fit))
        # in time, not shuffled: the held-out part continues the fit part like a test series
        fit_part, held_out = fit[:n_fit], fit[n_fit:]
        window = default_window(fit_part)  # what every detector's window="auto" resolves to
        if len(held_out) < TS_MIN_SPACING * window:
            # every step would lie within a window of the anomaly: no contrast left to rank by
            print(
                f"skip {name}: its held-out part ({len(held_out)} steps) is shorter than "
                f"{TS_MIN_SPACING} windows of {window} steps",
                flush=True,
            )
            continue
        # the same anomalies for every detector
        injectors = series_injectors(len(held_out), window, seed, per_kind)
        for detector in detectors:
            params = DETECTORS[detector][1]
            if "max_seconds" in params:
                params = {**params, "max_seconds": max_seconds}
            start = time.perf_counter()
            det = make_detector(detector, {**params, "device": "cpu"}, seed).fit(fit_part)
            evs = [estimate_auroc(det, held_out, inj, random_state=seed) for inj in injectors]
            generated = auroc(
                np.concatenate([ev.injection.labels for ev in evs]),
                np.concatenate([ev.scores for ev in evs]),
            )
            rows.append(
                {
                    "dataset": name,
                    "detector": detector,
                    "dmad": detector not in TS_BASELINES,
                    "real": auroc(labels, det.decision_function(test)),
                    "generated": generated,
                    "rounds": len(injectors),
                    "seconds": time.perf_counter() - start,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def series_markdown(
    rows: list[dict], seed: int, holdout: float, max_seconds: float, per_kind: int
) -> str:
    kinds = ", ".join(MIXED_KINDS)
    minutes = sum(r["seconds"] for r in rows) / 60
    lines = [
        "### Generated-anomaly AUROC vs real AUROC (time-series dev series)",
        "",
        f"Detectors fitted on the first {100 * (1 - holdout):g} % of each fit series "
        f"(`TimeSeriesTask`: `train`, NAB: the test series itself; seed {seed}) with the budget of "
        "`benchmarks/timeseries.py` (`CAPS` / `NET_CAPS`, network training capped at "
        f"{max_seconds:g} s); *generated* = step-wise AUROC on the last {100 * holdout:g} % of "
        f"the fit series with {per_kind} anomalies of each kind ({kinds}; default strengths), "
        "each on 1 to max(1, n // 5) of the n varying channels, in a slot of "
        f"{TS_SPACING} windows (`default_window`, what `window='auto'` resolves to; down to "
        f"{TS_MIN_SPACING} where the part is shorter) and a quarter of the slot long "
        "(`inject_mixed_series`), in as many copies of the part as that takes, scores pooled "
        "(`series_injectors`, `estimate_auroc` per copy); a series whose held-out part is "
        f"shorter than {TS_MIN_SPACING} windows is skipped (the script says which). "
        "*real* = AUROC on the labelled test series. "
        "NAB's held-out part is the end of its test series: it may hold real "
        "anomalies, unlabelled there (counted as normal), and the real AUROC includes the part "
        "the detector was fitted on (transductive, as in the time-series benchmark). "
        "ρ = Spearman rank correlation of the two detector rankings per series; collection rows "
        f"are means of their series' ρ. {minutes:.0f} min on 1 CPU thread.",
        "",
    ]
    return "\n".join(lines + ranking_lines(rows, "series", by_collection=True))


def image_rows(root: Path, size: int, seed: int, params: dict) -> list[dict]:
    """DiffusionAD on MTD with one seed: the denoiser alone, then one head per synthetic kind."""
    import dmad.detectors.image.diffusionad  # noqa: F401  (registers "diffusionad")
    from dmad.data.image import load_mvtec
    from dmad.metrics import aupro, pixel_auroc

    train = load_mvtec(root, "magnetic_tile", "train", image_size=size)
    test = load_mvtec(root, "magnetic_tile", "test", image_size=size)
    kinds = params["synthetic"]
    start = time.perf_counter()
    common = {"image_size": size, "random_state": seed, "device": "cpu"}
    det = dmad.create("diffusionad", **common, **{**params, "synthetic": kinds[0]})
    det.fit(train.images)
    fit_minutes = (time.perf_counter() - start) / 60
    without = copy.copy(det)
    without.head_ = None  # the same denoiser, scored by its one-step reconstruction error
    models = {"without generated anomalies": without, f"with {kinds[0]}": det}
    for kind in kinds[1:]:  # another head over the same frozen denoiser
        variant = copy.copy(det)
        variant.synthetic = kind
        variant.train_head(train.images)
        models[f"with {kind}"] = variant
    rows = []
    for label, model in models.items():
        maps = model.anomaly_map(test.images)
        rows.append(
            {
                "seed": seed,
                "model": label,
                "head_epochs": len(model.head_result_.train_loss) if model.head_ is not None else 0,
                "aupro": aupro(test.masks, maps),
                "pixel_auroc": pixel_auroc(test.masks, maps),
                "image_auroc": auroc(test.labels, model.map_to_score(maps)),
                "denoiser_epochs": len(det.train_result_.train_loss),
                "fit_minutes": fit_minutes,
                "n_train": len(train),
                "n_test": len(test),
                "base_channels": det.base_channels,
                "head_channels": det.head_channels,
                "max_seconds": det.max_seconds,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def image_markdown(rows: list[dict], size: int) -> str:
    """One line per seed and model, then each model's mean over the seeds."""
    first = rows[0]
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        f"### DiffusionAD on MTD with and without generated anomalies ({size}×{size} px, CPU)",
        "",
        f"Per seed: one UNet2D denoiser (base {first['base_channels']} channels) fitted on the "
        f"{first['n_train']} normal training images; a segmentation head (base "
        f"{first['head_channels']}) per kind of synthetic anomaly is trained over that frozen "
        "denoiser on anomalies generated on the fly (`inject_image(..., kind)`: Perlin-noise "
        "blends, CutPaste scars, ...). Without a head the map is the one-step reconstruction "
        f"error of the same denoiser. Evaluated on all {first['n_test']} real test images (masks "
        f"at {size} px); 1 CPU thread, each network capped at {first['max_seconds']:.0f} s. "
        f"Seeds: {', '.join(map(str, seeds))}.",
        "",
        "| seed | DiffusionAD | denoiser / head epochs | pixel AUPRO@0.3 | pixel AUROC | "
        "image AUROC |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    metrics = ("aupro", "pixel_auroc", "image_auroc")
    for r in rows:
        cells = " | ".join(f"{r[m]:.3f}" for m in metrics)
        epochs = f"{r['denoiser_epochs']} / {r['head_epochs']}"
        lines.append(f"| {r['seed']} | {r['model']} | {epochs} | {cells} |")
    if len(seeds) > 1:
        for model in dict.fromkeys(r["model"] for r in rows):
            values = np.array([[r[m] for m in metrics] for r in rows if r["model"] == model])
            cells = " | ".join(
                f"{m:.3f} ± {sd:.3f}"
                for m, sd in zip(values.mean(0), values.std(0, ddof=1), strict=True)
            )
            lines.append(f"| mean ± sd | {model} | | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["tabular", "timeseries", "image"], required=True)
    parser.add_argument("--tabular-data", default="../shared/data/tabular")
    parser.add_argument("--ts-data", default="../shared/data/timeseries")
    parser.add_argument("--image-data", default="../shared/data/image")
    parser.add_argument("--include", nargs="+", help="only these tabular data sets")
    parser.add_argument("--ts-include", nargs="+", help="only these series or collections")
    parser.add_argument(
        "--ts-max-seconds", type=float, default=15, help="training cap of the series networks"
    )
    parser.add_argument(
        "--ts-per-kind", type=int, default=TS_PER_KIND, help="generated anomalies of each kind"
    )
    parser.add_argument(
        "--ts-detectors",
        nargs="+",
        default=dmad.available_detectors("timeseries"),
        choices=dmad.available_detectors("timeseries"),
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--kind", default="mixed", help="tabular anomaly kind of the estimate")
    parser.add_argument("--strength", choices=["hard", "adbench"], default="hard")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument(
        "--synthetic",
        nargs="+",
        default=["perlin", "scar"],
        choices=IMAGE_KINDS,
        help="kinds of generated anomaly, one segmentation head each (one denoiser)",
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--head-epochs", type=int, default=30)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument(
        "--rows-json",
        help="reuse / save the rows here (image: rows of every seed run so far are kept)",
    )
    parser.add_argument("--update-md", help="write the section into this BENCHMARKS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.part == "tabular":
        rows = cached_rows(
            args.rows_json,
            lambda: tabular_rows(
                Path(args.tabular_data),
                args.seed,
                args.holdout,
                args.include,
                args.kind,
                args.strength,
            ),
        )
        md = tabular_markdown(rows, args.seed, args.kind, args.strength)
    elif args.part == "timeseries":
        rows = cached_rows(
            args.rows_json,
            lambda: series_rows(
                Path(args.ts_data),
                args.seed,
                args.holdout,
                args.ts_include,
                args.ts_max_seconds,
                args.ts_per_kind,
                args.ts_detectors,
            ),
        )
        md = series_markdown(rows, args.seed, args.holdout, args.ts_max_seconds, args.ts_per_kind)
    else:
        params = {
            "epochs": args.epochs,
            "head_epochs": args.head_epochs,
            "max_seconds": args.max_seconds,
            "synthetic": args.synthetic,
        }
        rows = seed_rows(
            args.rows_json,
            args.seed,
            lambda: image_rows(Path(args.image_data), args.image_size, args.seed, params),
        )
        md = image_markdown(rows, args.image_size)
    print(md)
    if args.update_md:
        update_benchmarks_md(args.update_md, f"generation-{args.part}", md)


if __name__ == "__main__":
    main()
