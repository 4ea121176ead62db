"""Exact k-nearest-neighbour search in bounded memory, on the data's device.

One search serves every memory-based part of dmad (DTE-NP on rows and windows, patch banks of
image detectors, ensembles' density members): distances come from one matrix product per block
(``||r||^2 - 2 q.r``, the squared distance less ``||q||^2``, which does not change a query's
ranking), the best ``k + 8`` candidates of each query are kept, and their distances are then
recomputed exactly from differences. The matrix-product form alone has rounding noise (an exact
duplicate lands near 1e-6, not at 0) that depends on the block sizes; the result does not.

Blocks: when a whole reference set fits in the block budget next to a useful number of queries,
each block of queries is compared with all of it at once; otherwise the reference is walked in
chunks with a running top-k merge, so memory stays bounded for any size. The default budget
(2**22 floats, 16 MB) keeps a block in a CPU's last-level cache, which makes the matrix product
about three times faster than blocks of several hundred MB.

Selection: a full ``topk`` over every reference column costs as much as the matrix product. The
search first takes the minimum of each group of 64 columns, keeps the ``n`` groups with the
smallest minima and selects among their columns only. This is exact: the ``n``-th smallest group
minimum bounds the ``n``-th smallest distance from above, so no column of another group can be
among the ``n`` smallest.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from dmad.exceptions import DataValidationError

__all__ = ["Neighbors", "knn"]

#: extra candidates kept before the exact re-ranking: they absorb the matrix-product rounding
#: (about 1e-7 of ||q||^2 + ||r||^2), which can swap near-ties at rank k
_CANDIDATE_MARGIN = 8
#: below this many queries per block, walking the reference in chunks is cheaper
_MIN_QUERIES_PER_BLOCK = 128
#: columns per group of the two-stage selection (see the module docstring)
_GROUP = 64

#: (query positions (m,), reference positions (n,), radius): pairs closer than radius are excluded
ExclusionZone = tuple[torch.Tensor, torch.Tensor, int]


class Neighbors(NamedTuple):
    """``sq_distances`` (m, k) ascending squared Euclidean distances; ``indices`` (m, k) rows of
    the reference."""

    sq_distances: torch.Tensor
    indices: torch.Tensor


def knn(
    queries: torch.Tensor,
    reference: torch.Tensor,
    k: int,
    *,
    exclude_self: bool = False,
    exclusion_zone: ExclusionZone | None = None,
    block_size: int = 2**22,
) -> Neighbors:
    """The ``k`` nearest reference rows of every query row, exactly, in bounded memory.

    Parameters
    ----------
    queries : Tensor of shape (m, d)
    reference : Tensor of shape (n, d), on the same device
    k : int
        Number of neighbours (at most ``n``, or ``n - 1`` with ``exclude_self``).
    exclude_self : bool
        ``queries`` are ``reference`` itself: row i is not its own neighbour (leave-one-out).
    exclusion_zone : (query positions (m,), reference positions (n,), radius) or None
        Pairs whose positions differ by less than ``radius`` are not neighbours: the trivial
        matches of overlapping windows of one series (the exclusion zone of matrix-profile
        discord search). Every query must keep at least ``k`` reference rows.
    block_size : int
        Distances held at once (floats); the memory bound of the search.

    Returns
    -------
    Neighbors
        ``(sq_distances, indices)``, each (m, k), nearest first.

    Examples
    --------
    >>> ref = torch.tensor([[0.0], [1.0], [3.0]])
    >>> knn(torch.tensor([[0.9]]), ref, 2).indices.tolist()
    [[1, 0]]
    >>> knn(ref, ref, 1, exclude_self=True).sq_distances.flatten().tolist()
    [1.0, 1.0, 4.0]
    """
    n, m = reference.shape[0], queries.shape[0]
    if not 1 <= k <= n - int(exclude_self):
        raise DataValidationError(
            f"n_neighbors={k} needs at least {k + int(exclude_self)} reference rows, got {n}; "
            "pass fewer neighbours or more data."
        )
    if queries.ndim != 2 or reference.ndim != 2 or queries.shape[1] != reference.shape[1]:
        raise DataValidationError(
            f"queries {tuple(queries.shape)} and reference {tuple(reference.shape)} must be "
            "2-D with the same number of columns."
        )
    n_cand = min(k + _CANDIDATE_MARGIN, n - int(exclude_self))
    if n * _MIN_QUERIES_PER_BLOCK <= block_size:
        ref_chunk, query_chunk = n, max(1, block_size // n)
    else:
        query_chunk = _MIN_QUERIES_PER_BLOCK
        ref_chunk = max(n_cand, block_size // query_chunk)
    ref_sq = reference.square().sum(dim=1)
    out_d, out_i = [], []
    for qs in range(0, m, query_chunk):
        q = queries[qs : qs + query_chunk]
        cand_d, cand_i = _candidates(
            q, qs, reference, ref_sq, ref_chunk, n_cand, exclude_self, exclusion_zone
        )
        # exact distances of the candidates (memory: block x n_cand x d)
        exact = (q[:, None, :] - reference[cand_i]).square().sum(dim=2)
        exact[torch.isinf(cand_d)] = float("inf")  # excluded pairs stay excluded
        best_d, pos = exact.topk(k, dim=1, largest=False, sorted=True)
        if torch.isinf(best_d[:, -1]).any():
            raise DataValidationError(
                f"the exclusion zone leaves fewer than n_neighbors={k} reference rows for some "
                "queries; pass fewer neighbours, a smaller zone or more data."
            )
        out_d.append(best_d)
        out_i.append(cand_i.gather(1, pos))
    return Neighbors(torch.cat(out_d), torch.cat(out_i))


def _candidates(
    q: torch.Tensor,
    qs: int,
    reference: torch.Tensor,
    ref_sq: torch.Tensor,
    ref_chunk: int,
    n_cand: int,
    exclude_self: bool,
    zone: ExclusionZone | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``n_cand`` best reference rows of query block ``q`` (rows ``qs...``) by the fast
    matrix-product distance, merged over reference chunks."""
    cand_d = q.new_empty((q.shape[0], 0))
    cand_i = torch.empty((q.shape[0], 0), dtype=torch.long, device=q.device)
    for rs in range(0, reference.shape[0], ref_chunk):
        r = reference[rs : rs + ref_chunk]
        d2 = torch.addmm(ref_sq[rs : rs + r.shape[0]], q, r.T, alpha=-2)
        lo, hi = max(qs, rs), min(qs + q.shape[0], rs + r.shape[0])
        if exclude_self and lo < hi:  # this block holds some rows' own entries
            own = torch.arange(lo, hi, device=q.device)
            d2[own - qs, own - rs] = float("inf")
        if zone is not None:
            _exclude_zone(d2, zone, qs, rs)
        chunk_d, chunk_pos = _smallest(d2, min(n_cand, r.shape[0]))
        if rs == 0:
            cand_d, cand_i = chunk_d, chunk_pos
            continue
        merged_d = torch.cat([cand_d, chunk_d], dim=1)
        merged_i = torch.cat([cand_i, chunk_pos + rs], dim=1)
        cand_d, pos = merged_d.topk(n_cand, dim=1, largest=False)
        cand_i = merged_i.gather(1, pos)
    return cand_d, cand_i


def _smallest(d2: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``n`` smallest entries of each row of ``d2`` and their columns (two-stage, exact)."""
    rows, cols = d2.shape
    n_grouped = cols - cols % _GROUP
    if n_grouped < 4 * _GROUP * n:  # too few groups for the first stage to save anything
        return d2.topk(n, dim=1, largest=False)
    minima = d2[:, :n_grouped].reshape(rows, -1, _GROUP).amin(dim=2)
    groups = minima.topk(n, dim=1, largest=False).indices
    offsets = torch.arange(_GROUP, device=d2.device)
    candidates = (groups[:, :, None] * _GROUP + offsets).flatten(1)
    if n_grouped < cols:  # the last, partial group is always a candidate
        tail = torch.arange(n_grouped, cols, device=d2.device).expand(rows, -1)
        candidates = torch.cat([candidates, tail], dim=1)
    values, pos = d2.gather(1, candidates).topk(n, dim=1, largest=False)
    return values, candidates.gather(1, pos)


def _exclude_zone(d2: torch.Tensor, zone: ExclusionZone, qs: int, rs: int) -> None:
    """Set the block's pairs closer than the zone's radius (in position) to +inf, in place."""
    q_pos, r_pos, radius = zone
    q_pos, r_pos = q_pos[qs : qs + d2.shape[0]], r_pos[rs : rs + d2.shape[1]]
    if q_pos.min() - r_pos.max() >= radius or r_pos.min() - q_pos.max() >= radius:
        return  # no pair of this block is close (the common case for sorted positions)
    gap = (q_pos[:, None] - r_pos[None, :]).abs()
    d2[(gap < radius).to(d2.device)] = float("inf")
