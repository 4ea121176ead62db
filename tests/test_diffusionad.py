"""DiffusionAD's segmentation head, trained on synthetic anomalies over the frozen denoiser.

The common API (scores, maps, persistence) is checked by test_common_api.py; the detector here
is the session-cached one (``test_params``, fitted on the striped images).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import dmad
from conftest import make
from dmad.exceptions import DataValidationError, NotFittedError

pytestmark = pytest.mark.slow  # the cached detector trains a U-Net and a head


def test_head_trains_on_synthetic_defects_and_round_trips(fitted_detector, modality_data, tmp_path):
    # Whether the head *helps* is measured on real defects in benchmarks/generation.py; a unit
    # test can only afford to check that it trains and persists.
    det, data = fitted_detector("diffusionad"), modality_data("image")
    loss = det.head_result_.train_loss
    assert len(loss) == det.head_epochs and loss[-1] < loss[0]
    maps = det.anomaly_map(data.test)
    assert ((maps >= 0) & (maps <= 1)).all()  # the head's probabilities, smoothed
    det.save(tmp_path / "m")
    loaded = dmad.load(tmp_path / "m")
    assert loaded.head_ is not None
    np.testing.assert_array_equal(loaded.anomaly_map(data.test), maps)


def test_without_synthetic_is_reconstruction_error(modality_data):
    train, test = modality_data("image")[:2]
    det = make("diffusionad", synthetic=None, epochs=1).fit(train[:16])
    assert det.head_ is None
    recon = det._reconstruct(torch.from_numpy(test[:2])).mean(dim=0)
    raw = det._raw_maps(torch.from_numpy(test[:2]))
    torch.testing.assert_close(raw, ((recon - torch.from_numpy(test[:2])) ** 2).mean(dim=1))
    with pytest.raises(DataValidationError, match="synthetic"):
        make("diffusionad", synthetic="blur").fit(train[:4])


def test_train_head_swaps_only_the_head(fitted_detector, modality_data):
    train = modality_data("image").train
    with pytest.raises(NotFittedError):
        make("diffusionad").train_head(train)
    det = copy.deepcopy(fitted_detector("diffusionad"))
    denoiser, perlin_head = det.net_, det.head_
    weights = {k: v.clone() for k, v in denoiser.state_dict().items()}
    det.set_params(synthetic="scar", head_epochs=2).train_head(train)
    assert det.net_ is denoiser and det.head_ is not perlin_head
    assert all(torch.equal(v, weights[k]) for k, v in det.net_.state_dict().items())
    assert len(det.head_result_.train_loss) == 2
    with pytest.raises(DataValidationError, match="channel"):
        det.train_head(np.repeat(train, 3, axis=1))
