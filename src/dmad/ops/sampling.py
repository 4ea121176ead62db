"""The one seeded subsample of fit data (windows, rows, patches) used across dmad."""

from __future__ import annotations

import numpy as np

from dmad.validation import check_positive_int

__all__ = ["subsample"]


def subsample(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``limit`` of ``n`` items, drawn without replacement.

    Every detector that caps its fit data (``max_fit_samples``) draws through this function, so
    the same seed keeps the same items everywhere (e.g. a window detector and an ensemble member
    fitted on the same windows). ``limit=None`` or ``n <= limit`` keeps everything, in order.

    Examples
    --------
    >>> subsample(5, None, 0).tolist()
    [0, 1, 2, 3, 4]
    >>> len(subsample(1000, 10, 0)), bool((subsample(1000, 10, 0) == subsample(1000, 10, 0)).all())
    (10, True)
    """
    if limit is None or n <= check_positive_int(limit, name="max_fit_samples"):
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))
