"""Diffusion inpainting of anomalies: kept region exact, masked region changed, steering works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dmad.diffusion import NoiseSchedule, raise_energy, repaint, repaint_schedule
from dmad.exceptions import DataValidationError
from dmad.generation.inpainting import AnomalyInpainter, example_energy
from dmad.nets import UNet1D, UNet2D


@pytest.fixture(scope="module")
def table_model() -> tuple[AnomalyInpainter, np.ndarray]:
    rng = np.random.default_rng(0)
    cov = np.array([[1, 0.9, 0, 0], [0.9, 1, 0, 0], [0, 0, 1, 0.8], [0, 0, 0.8, 1]])
    X = rng.multivariate_normal(np.zeros(4), cov, size=500)
    params = {"hidden": 64, "n_blocks": 2}
    gen = AnomalyInpainter(n_steps=200, epochs=30, net_params=params, random_state=0)
    return gen.fit(X), X


def mahalanobis(X_ref: np.ndarray, Z: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(np.cov(X_ref.T))
    centred = Z - X_ref.mean(axis=0)
    return np.einsum("ni,ij,nj->n", centred, inv, centred)


def test_repaint_schedule_walks_down_with_jumps():
    walk = repaint_schedule(99, 10, jump_length=3, n_resample=3)
    assert walk[0] == 99 and walk[-1] == -1
    ups = sum(b > a for a, b in zip(walk[:-1], walk[1:], strict=True))
    assert ups == 2 * len(range(3, 10, 3))  # two extra passes at every jump point
    assert repaint_schedule(99, 10, n_resample=1) == [99, 88, 77, 66, 55, 44, 33, 22, 11, 0, -1]


def test_table_columns_kept_exactly_and_masked_changed(table_model):
    gen, X = table_model
    mask = np.zeros((50, 4), bool)
    mask[:, [1, 3]] = True
    out = gen.generate(X[:50], mask, sampling_steps=10)
    np.testing.assert_array_equal(out.data[:, [0, 2]], X[:50, [0, 2]])
    assert (out.data[:, [1, 3]] != X[:50, [1, 3]]).all()
    np.testing.assert_array_equal(out.mask, mask)
    assert out.labels.tolist() == [1] * 50


def test_steering_raises_a_detector_score(table_model):
    gen, X = table_model
    mask = np.zeros((100, 4), bool)
    mask[:, [0, 2]] = True
    plain = gen.generate(X[:100], mask, steer=None, sampling_steps=20, random_state=1)
    steered = gen.generate(X[:100], mask, guidance_scale=0.3, sampling_steps=20, random_state=1)
    assert mahalanobis(X, steered.data).mean() > 2 * mahalanobis(X, plain.data).mean()


def test_example_steering_moves_toward_examples(table_model):
    gen, X = table_model
    examples = np.full((3, 4), 4.0)
    mask = np.ones((40, 4), bool)
    out = gen.generate(X[:40], mask, steer="examples", examples=examples, guidance_scale=0.3)
    plain = gen.generate(X[:40], mask, steer=None)
    assert np.abs(out.data - 4).mean() < np.abs(plain.data - 4).mean()
    with pytest.raises(DataValidationError, match="examples"):
        gen.generate(X[:4], steer="examples")


def test_default_masks_and_seed(table_model):
    gen, X = table_model
    a = gen.generate(X[:20], sampling_steps=5, random_state=3)
    b = gen.generate(X[:20], sampling_steps=5, random_state=3)
    np.testing.assert_array_equal(a.data, b.data)
    assert (a.mask.sum(axis=1) == 2).all()  # ceil(4 / 3) columns per row
    np.testing.assert_array_equal(a.data[~a.mask], X[:20][~a.mask])


@pytest.mark.parametrize("net", [UNet1D(2, base_channels=8), UNet2D(1, base_channels=8)])
def test_repaint_keeps_known_region_windows_and_images(net):
    shape = (3, 2, 24) if isinstance(net, UNet1D) else (3, 1, 16, 16)
    x0 = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(shape)
    mask[..., 4:10] = 1
    sched = NoiseSchedule.create("linear", 100)
    gen = torch.Generator().manual_seed(0)
    energy = example_energy(torch.ones(1, *shape[1:]))
    guided = raise_energy(net, sched, energy, scale=0.5)
    out = repaint(guided, sched, x0, mask, sampling_steps=6, cond=mask, generator=gen)
    assert torch.equal(out[mask == 0], x0[mask == 0])
    assert (out[mask == 1] != x0[mask == 1]).all()


def test_image_inpainter_default_perlin_mask():
    images = np.random.default_rng(0).uniform(size=(8, 1, 16, 16))
    gen = AnomalyInpainter(epochs=1, n_steps=50, net_params={"base_channels": 8}).fit(images)
    out = gen.generate(images[:2], sampling_steps=4)
    assert out.data.shape == (2, 1, 16, 16) and out.mask.shape == (2, 16, 16)
    assert out.mask.any(axis=(1, 2)).all()
    np.testing.assert_array_equal(out.data[:, 0][~out.mask], images[:2, 0][~out.mask])
    with pytest.raises(DataValidationError, match="sample shape"):
        gen.generate(np.zeros((1, 1, 8, 8)))
