"""k-NN search speed: dmad's exact search (:func:`dmad.ops.knn`) against scikit-learn's brute force.

The search behind DTE-NP, the window detectors and the patch banks. Both sides run in the same
process on the same arrays and thread count; each case is repeated and the fastest run kept
(machine load only ever adds time). Indices are checked to agree.

Examples
--------
::

    python benchmarks/neighbors.py --update-md BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from dmad.bench import update_benchmarks_md
from dmad.ops import knn

#: (label, queries, reference rows, dimensions, k): DTE-NP on a large table, windows, a patch bank
CASES = [
    ("200k x 20 queries, 20k bank, k=5 (issue case)", 200_000, 20_000, 20, 5),
    ("50k x 100 windows, 3k bank, k=5", 50_000, 3_000, 100, 5),
    ("12.5k x 272 patches, 30k bank, k=1", 12_544, 30_000, 272, 1),
]


def fastest(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--update-md", help="write the table into this BENCHMARKS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for label, m, n, d, k in CASES:
        rng = np.random.default_rng(0)
        queries = rng.normal(size=(m, d)).astype(np.float32)
        reference = rng.normal(size=(n, d)).astype(np.float32)
        q, r = torch.from_numpy(queries), torch.from_numpy(reference)
        with threadpool_limits(args.threads):
            index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(reference)
            t_sklearn = fastest(lambda i=index, x=queries: i.kneighbors(x), args.repeats)
            _, want = index.kneighbors(queries)
        t_dmad = fastest(lambda q=q, r=r, k=k: knn(q, r, k), args.repeats)
        agree = float((knn(q, r, k).indices.numpy() == want).mean())
        rows.append((label, t_sklearn, t_dmad, agree))
        print(f"{label}: sklearn {t_sklearn:.2f} s, dmad {t_dmad:.2f} s, indices agree {agree}")
    lines = [
        "### k-NN search: `dmad.ops.knn` vs scikit-learn brute force",
        "",
        f"float32, {args.threads} threads, fastest of {args.repeats} runs each, same process; "
        "`NearestNeighbors(algorithm='brute').kneighbors` against `dmad.ops.knn` (exact, "
        "CPU). Speed-up = sklearn seconds / dmad seconds.",
        "",
        "| case | sklearn s | dmad s | speed-up | same indices |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {label} | {a:.2f} | {b:.2f} | **{a / b:.2f}×** | {agree:.4f} |"
        for label, a, b, agree in rows
    ]
    if args.update_md:
        update_benchmarks_md(args.update_md, "neighbors", "\n".join(lines))


if __name__ == "__main__":
    main()
