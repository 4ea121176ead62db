"""DiffusionAD (image detector trained with synthetic anomalies): API, learning, persistence."""

from __future__ import annotations

import numpy as np
import pytest

import dmad
import dmad.detectors.image.diffusionad  # noqa: F401  (registers "diffusionad")
from dmad.exceptions import DataValidationError, NotFittedError
from dmad.generation import inject_image

TINY = {
    "epochs": 3,
    "head_epochs": 4,
    "base_channels": 8,
    "head_channels": 8,
    "image_size": 16,
    "sigma": 1.0,
    "random_state": 0,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    train = rng.uniform(0.45, 0.55, size=(40, 1, 16, 16)).astype(np.float32)
    test = inject_image(rng.uniform(0.45, 0.55, size=(12, 1, 16, 16)), "perlin", random_state=1)
    return train, test


def test_head_trains_on_synthetic_defects_and_round_trips(data, tmp_path):
    # Whether the head *helps* is measured on real defects in benchmarks/generation.py; a unit
    # test can only afford to check that it trains and persists.
    train, test = data
    det = dmad.create("diffusionad", **TINY).fit(train)
    loss = det.head_result_.train_loss
    assert len(loss) == 4 and loss[-1] < loss[0]
    maps = det.anomaly_map(test.data)
    assert maps.shape == (12, 16, 16) and ((maps >= 0) & (maps <= 1)).all()
    det.save(tmp_path / "m")
    np.testing.assert_allclose(dmad.load(tmp_path / "m").anomaly_map(test.data), maps, atol=1e-6)


def test_without_synthetic_is_reconstruction_error(data):
    train, test = data
    det = dmad.create("diffusionad", **{**TINY, "synthetic": None, "epochs": 1}).fit(train)
    assert det.head_ is None
    assert det.decision_function(test.data).shape == (12,)
    with pytest.raises(DataValidationError, match="synthetic"):
        dmad.create("diffusionad", **{**TINY, "synthetic": "blur"}).fit(train)


def test_train_head_swaps_only_the_head(data):
    train, test = data
    with pytest.raises(NotFittedError):
        dmad.create("diffusionad", **TINY).train_head(train)
    det = dmad.create("diffusionad", **{**TINY, "epochs": 1}).fit(train)
    denoiser, perlin_head = det.net_, det.head_
    det.set_params(synthetic="scar").train_head(train)
    assert det.net_ is denoiser and det.head_ is not perlin_head
    assert len(det.head_result_.train_loss) == 4
    with pytest.raises(DataValidationError, match="channel"):
        det.train_head(np.repeat(train, 3, axis=1))
