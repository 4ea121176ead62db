"""The one standardiser: per-feature (x - mean) / std fitted on the fit data, saved with a model.

DTE (Livernoche et al., ICLR 2024) stresses that standard scaling fitted on the training data is
crucial for diffusion detectors. Tables, series, patch features and images all go through this
class, so a saved model replays exactly its training-time scaling.
"""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["Standardizer"]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

#: a feature whose spread is below this is treated as constant: scaled by 1, not blown up
_MIN_STD = 1e-12


class Standardizer:
    """Per-feature standardisation along axis 1, NaN-aware; constant features get std 1.

    Statistics are taken over every axis except axis 1, so one class serves tables and series
    (n, d), windows (N, C, L), images (N, C, H, W) and patch features (P, D). Works on numpy
    arrays (returns float32) and torch tensors (on their device, keeping their dtype).

    Examples
    --------
    >>> s = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> s.transform(np.array([[2.0, 6.0]])).tolist()
    [[0.0, 1.0]]
    >>> s.inverse_transform(s.transform(np.array([[3.0, 5.0]]))).tolist()
    [[3.0, 5.0]]
    """

    def fit(self, X: np.ndarray | torch.Tensor) -> Standardizer:
        """Learn the mean and standard deviation of every feature (axis 1) of ``X``."""
        axes = tuple(i for i in range(X.ndim) if i != 1)
        if isinstance(X, torch.Tensor):  # on its device and in its dtype: patch sets are large
            x = X.detach()
            centre = torch.nanmean(x, dim=axes, keepdim=True)
            mean = centre.flatten().double().cpu().numpy()
            std = torch.nanmean((x - centre).square(), dim=axes).sqrt().double().cpu().numpy()
        else:
            arr = np.asarray(X, dtype=np.float64)
            with warnings.catch_warnings():  # an all-NaN feature (never observed) is expected
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(arr, axis=axes)
                std = np.nanstd(arr, axis=axes)
        self.mean_ = np.where(np.isfinite(mean), mean, 0.0)
        self.std_ = np.where(np.isfinite(std) & (std > _MIN_STD), std, 1.0)
        return self

    def transform(self, X: ArrayT) -> ArrayT:
        """``(X - mean) / std`` per feature."""
        mean, std = self._stats(X)
        out = (X - mean) / std
        return out if isinstance(out, torch.Tensor) else out.astype(np.float32)  # type: ignore[return-value]

    def inverse_transform(self, X: ArrayT) -> ArrayT:
        """``X * std + mean`` per feature: back to the original units."""
        mean, std = self._stats(X)
        return X * std + mean

    def _stats(self, X: Any) -> tuple[Any, Any]:
        shape = (1, -1) + (1,) * (X.ndim - 2)
        if isinstance(X, torch.Tensor):
            return (
                torch.as_tensor(self.mean_, dtype=X.dtype, device=X.device).reshape(shape),
                torch.as_tensor(self.std_, dtype=X.dtype, device=X.device).reshape(shape),
            )
        return self.mean_.reshape(shape), self.std_.reshape(shape)

    def get_state(self) -> dict[str, Any]:
        return {"mean": self.mean_, "std": self.std_}

    def set_state(self, state: dict[str, Any]) -> Standardizer:
        self.mean_ = np.asarray(state["mean"], dtype=np.float64)
        self.std_ = np.asarray(state["std"], dtype=np.float64)
        return self
