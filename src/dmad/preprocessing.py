"""Tabular feature encoding fitted on training data and saved with every model: numeric columns
standardised (:class:`dmad.ops.Standardizer`), categorical columns of a DataFrame one-hot encoded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dmad.exceptions import DataValidationError
from dmad.ops.scaling import Standardizer
from dmad.validation import check_array, check_n_features

__all__ = ["TabularEncoder"]


def _is_categorical(series: Any) -> bool:
    kind = series.dtype.kind
    return kind in "OUSb" or str(series.dtype) in ("category", "string", "str")


class TabularEncoder:
    """Numeric columns standardised, categorical/boolean columns one-hot encoded.

    Accepts numpy arrays (all numeric) or pandas DataFrames. Categories unseen in training encode
    as all-zero one-hot rows, which a detector then sees as unusual.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "c": ["x", "y", "x"]})
    >>> TabularEncoder().fit(df).transform(df).shape
    (3, 3)
    """

    def __init__(self, scale: bool = True) -> None:
        self.scale = scale

    def fit(self, X: Any) -> TabularEncoder:
        if hasattr(X, "columns"):
            if len(X) == 0:
                raise DataValidationError("X is empty: the DataFrame has no rows.")
            self.columns_ = [str(c) for c in X.columns]
            self.categories_ = {
                str(c): sorted(map(str, X[c].dropna().unique()))
                for c in X.columns
                if _is_categorical(X[c])
            }
        else:
            arr = check_array(X, name="X")
            self.columns_ = [str(i) for i in range(arr.shape[1])]
            self.categories_ = {}
        numeric = self._numeric(X, fitting=True)
        self.scaler_ = Standardizer().fit(numeric) if self.scale else None
        return self

    @property
    def numeric_columns(self) -> list[str]:
        return [c for c in self.columns_ if c not in self.categories_]

    @property
    def n_output_features(self) -> int:
        return len(self.numeric_columns) + sum(len(v) for v in self.categories_.values())

    def _numeric(self, X: Any, fitting: bool = False) -> np.ndarray:
        if hasattr(X, "columns"):
            missing = [c for c in self.columns_ if c not in map(str, X.columns)]
            if missing:
                raise DataValidationError(
                    f"X lacks columns {missing[:5]} seen in fit; pass the same columns."
                )
            X = X.rename(columns=str)
            return (
                check_array(X[self.numeric_columns].to_numpy(dtype=np.float64), name="X", ndim=2)
                if self.numeric_columns
                else np.zeros((len(X), 0), np.float32)
            )
        if self.categories_:
            raise DataValidationError(
                "the detector was fitted on a DataFrame with categorical columns; pass a DataFrame."
            )
        arr = check_array(X, name="X")
        if not fitting:
            check_n_features(len(self.columns_), arr.shape[1])
        return arr

    def transform(self, X: Any) -> np.ndarray:
        numeric = self._numeric(X)
        if self.scaler_ is not None:
            numeric = self.scaler_.transform(numeric)
        parts = [numeric.astype(np.float32)]
        for col, cats in self.categories_.items():
            values = X.rename(columns=str)[col].astype(str).to_numpy()
            parts.append((values[:, None] == np.asarray(cats)[None, :]).astype(np.float32))
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "columns": self.columns_,
            "categories": self.categories_,
            "scale": self.scale,
        }
        if self.scaler_ is not None:
            state.update({f"scaler_{k}": v for k, v in self.scaler_.get_state().items()})
        return state

    def set_state(self, state: dict[str, Any]) -> TabularEncoder:
        self.scale = bool(state["scale"])
        self.columns_ = list(state["columns"])
        self.categories_ = {k: list(v) for k, v in state["categories"].items()}
        self.scaler_ = (
            Standardizer().set_state({"mean": state["scaler_mean"], "std": state["scaler_std"]})
            if self.scale
            else None
        )
        return self
