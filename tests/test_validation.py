"""Input validation and preprocessing: clear errors, exact encodings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmad.exceptions import DataValidationError
from dmad.ops import Standardizer
from dmad.preprocessing import TabularEncoder
from dmad.utils import resolve_device
from dmad.validation import check_array, check_fraction, check_positive_int


def test_check_array_accepts_lists_and_tensors():
    import torch

    assert check_array([[1, 2], [3, 4]]).dtype == np.float32
    assert check_array(torch.ones(3, 2)).shape == (3, 2)
    assert check_array(np.ones(5), ndim=(1, 2)).shape == (5,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is None"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, np.inf]]), "inf"),
        (np.zeros((0, 3)), "empty"),
        (np.ones(3), "dimensions"),
        (np.array([["a", "b"]]), "non-numeric"),
        ([[1, 2], [3]], "could not be converted|non-numeric"),
    ],
)
def test_check_array_rejects_bad_input(value, message):
    with pytest.raises(DataValidationError, match=message):
        check_array(value)


def test_scalar_checks():
    assert check_fraction(0.1, name="contamination") == 0.1
    with pytest.raises(DataValidationError, match="contamination"):
        check_fraction(0.7, name="contamination")
    with pytest.raises(DataValidationError, match="k must"):
        check_positive_int(0, name="k")
    with pytest.raises(DataValidationError, match="device"):
        resolve_device("tpu-9000")
    assert resolve_device("cpu").type == "cpu"


def test_standardizer_uses_fit_statistics_and_survives_constant_columns():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    scaler = Standardizer().fit(X)
    np.testing.assert_allclose(scaler.transform(X), [[-1, 0], [1, 0]])
    np.testing.assert_allclose(scaler.transform(np.array([[5.0, 6.0]])), [[3, 1]])


def test_tabular_encoder_one_hot_and_state_round_trip():
    df = pd.DataFrame({"amount": [1.0, 2.0, 3.0, 4.0], "country": ["fr", "de", "fr", "it"]})
    enc = TabularEncoder().fit(df)
    out = enc.transform(df)
    assert out.shape == (4, 4)  # 1 numeric + 3 categories (de, fr, it)
    np.testing.assert_array_equal(out[:, 1:], [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    unseen = enc.transform(pd.DataFrame({"amount": [2.5], "country": ["es"]}))
    np.testing.assert_array_equal(unseen[0, 1:], [0, 0, 0])
    clone = TabularEncoder().set_state(enc.get_state())
    np.testing.assert_array_equal(clone.transform(df), out)
    with pytest.raises(DataValidationError, match="lacks columns"):
        enc.transform(df[["amount"]])
    with pytest.raises(DataValidationError, match="DataFrame"):
        enc.transform(np.ones((2, 2)))
