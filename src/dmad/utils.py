"""Small runtime helpers: device selection and progress bars."""

from __future__ import annotations

import torch

from dmad.exceptions import DataValidationError

__all__ = ["draw_seed", "progress_disabled", "resolve_device"]


def draw_seed(random_state: int | None) -> int:
    """``random_state`` as an int, or a fresh seed from the OS when it is None (kept by the caller
    as ``seed_``, so a fitted object knows the seed it used).

    Examples
    --------
    >>> draw_seed(7)
    7
    """
    if random_state is not None:
        return int(random_state)
    import numpy as np

    return int(np.random.SeedSequence().generate_state(1)[0] % 2**31)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Map ``"auto"`` to cuda, then mps, then cpu; validate explicit names.

    Examples
    --------
    >>> resolve_device("cpu").type
    'cpu'
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DataValidationError(
            f"device={device!r} is not a valid device; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DataValidationError(f"device={device!r} requested but CUDA is not available.")
    return dev


def progress_disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a progress flag: None shows bars only on a terminal."""
    return None if progress is None else not progress
