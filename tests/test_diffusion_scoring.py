"""The scoring core and guidance: reconstruct, denoising_error, noise modes, chunking, steering."""

from __future__ import annotations

import pytest
import torch

from dmad.diffusion import (
    NoiseSchedule,
    denoising_error,
    keep_known,
    prediction_errors,
    q_sample,
    reconstruct,
    split_prediction,
    step,
    toward_input,
)
from dmad.diffusion.process import q_posterior
from dmad.exceptions import DataValidationError
from dmad.nets import ResidualMLP


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    return ResidualMLP(3, hidden=16, n_blocks=1).eval(), NoiseSchedule.create("linear", 200)


def test_step_with_eta_one_is_the_ddpm_posterior(setup):
    _, sched = setup
    x_t, eps = torch.randn(4, 3), torch.randn(4, 3)
    t, t_prev = torch.full((4,), 50), torch.full((4,), 49)
    noise = torch.randn(4, 3)
    x_prev, x0_hat = step(sched, eps, t, t_prev, x_t, eta=1.0, noise=noise)
    mean, var = q_posterior(sched, x0_hat, x_t, t)
    torch.testing.assert_close(x_prev, mean + var.sqrt() * noise, rtol=1e-4, atol=1e-5)
    with pytest.raises(DataValidationError, match="noise"):
        step(sched, eps, t, t_prev, x_t, eta=1.0)


def test_shared_noise_makes_scores_independent_of_the_batch(setup):
    model, sched = setup
    x = torch.randn(10, 3)
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    full = reconstruct(model, sched, x, [20, 60], 3, noise="shared", generator=gen())
    part = reconstruct(model, sched, x[4:7], [20, 60], 3, noise="shared", generator=gen())
    torch.testing.assert_close(full[:, 4:7], part)
    # chunking (max_batch) gives the same reconstructions
    chunked = reconstruct(
        model, sched, x, [20, 60], 3, noise="shared", generator=gen(), max_batch=4
    )
    torch.testing.assert_close(full, chunked)


def test_explicit_noise_tensor_equals_manual_partial_diffusion(setup):
    model, sched = setup
    x, noise = torch.randn(5, 3), torch.randn(2, 5, 3)
    out = reconstruct(model, sched, x, [30, 30], 1, noise=noise)
    for k in range(2):
        t = torch.full((5,), 30)
        x_t = q_sample(sched, x, t, noise[k])
        with torch.no_grad():
            x0_hat, _ = split_prediction(sched, x_t, t, model(x_t, t))
        torch.testing.assert_close(out[k], x0_hat)
    with pytest.raises(DataValidationError, match="noise must be"):
        reconstruct(model, sched, x, [30], noise="other")


def test_denoising_error_is_the_mean_squared_error_per_sample(setup):
    model, sched = setup
    x, noise = torch.randn(6, 3), torch.randn(3, 3)
    errors = denoising_error(model, sched, x, [0, 50, 199], noise=noise, max_batch=5)
    assert errors.shape == (3, 6)
    with torch.no_grad():
        for k, level in enumerate([0, 50, 199]):
            t = torch.full((6,), level)
            eps_hat = model(q_sample(sched, x, t, noise[k].expand(6, 3)), t)
            torch.testing.assert_close(errors[k], ((eps_hat - noise[k]) ** 2).mean(dim=1))
    x0_err = denoising_error(model, sched, x, [50], space="x0", noise=noise[1:2])
    with torch.no_grad():
        direct = prediction_errors(
            model, sched, x, torch.full((6,), 50), noise[1].expand(6, 3), space="x0"
        ).mean(dim=1)
    torch.testing.assert_close(x0_err[0], direct)


def test_keep_known_preserves_the_known_part(setup):
    model, sched = setup
    x = torch.randn(4, 3)
    hidden = torch.tensor([[1.0, 0.0, 0.0]]).expand(4, 3)
    recon = reconstruct(
        keep_known(model, sched),
        sched,
        x * (1 - hidden),
        [150],
        10,
        cond=torch.cat([x, hidden], dim=1),
        generator=torch.Generator().manual_seed(0),
    )[0]
    torch.testing.assert_close(recon[:, 1:], x[:, 1:], rtol=1e-3, atol=1e-3)


def test_input_guidance_pulls_toward_the_target(setup):
    model, sched = setup
    x = torch.randn(64, 3) * 3
    gen = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    plain = reconstruct(model, sched, x, [150], 5, generator=gen())
    pulled = reconstruct(
        toward_input(model, sched, 5.0), sched, x, [150], 5, cond=x, generator=gen()
    )
    assert ((pulled - x) ** 2).mean() < ((plain - x) ** 2).mean()
    zero = reconstruct(toward_input(model, sched, 0.0), sched, x, [150], 5, cond=x, generator=gen())
    torch.testing.assert_close(zero, plain)
