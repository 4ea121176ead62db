"""The diffusion core: schedules, forward process, parameterisations, samplers, training loop."""

from __future__ import annotations

import pytest
import torch

from dmad.diffusion import (
    NoiseSchedule,
    TrainConfig,
    ddim_invert,
    ddim_sample,
    ddpm_sample,
    denoising_loss,
    make_betas,
    prediction_target,
    q_posterior,
    q_sample,
    reconstruct,
    split_prediction,
    timestep_sequence,
    train_model,
)
from dmad.exceptions import DataValidationError

MU, S = 1.5, 0.5  # toy data distribution N(MU, S^2 I)


class OptimalEps(torch.nn.Module):
    """The exact minimiser of the ε-loss for Gaussian data: a perfectly 'trained' denoiser."""

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__()
        self.schedule = schedule

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.schedule.alpha_bar(t)[:, None]
        return (1 - ab).sqrt() * (x - ab.sqrt() * MU) / (ab * S**2 + 1 - ab)


@pytest.mark.parametrize("kind", ["linear", "cosine", "sigmoid"])
def test_schedules_are_valid(kind):
    betas = make_betas(kind, 200)
    assert betas.shape == (200,)
    assert torch.all(betas > 0) and torch.all(betas < 1)
    sched = NoiseSchedule.create(kind, 200)
    assert torch.all(sched.alpha_bars[1:] < sched.alpha_bars[:-1])
    assert float(sched.alpha_bar(torch.tensor([-1]))) == 1.0


def test_linear_schedule_endpoints_and_bad_name():
    betas = make_betas("linear", 1000, 1e-4, 0.02)
    assert float(betas[0]) == pytest.approx(1e-4) and float(betas[-1]) == pytest.approx(0.02)
    with pytest.raises(DataValidationError, match="unknown"):
        make_betas("quadratic", 10)


def test_q_sample_matches_closed_form_moments():
    sched = NoiseSchedule.create("linear", 1000)
    x0 = torch.full((200_000, 1), 2.0)
    t = torch.full((200_000,), 300)
    gen = torch.Generator().manual_seed(0)
    x_t = q_sample(sched, x0, t, torch.randn(x0.shape, generator=gen))
    ab = float(sched.alpha_bars[300])
    assert float(x_t.mean()) == pytest.approx(ab**0.5 * 2.0, abs=0.01)
    assert float(x_t.var()) == pytest.approx(1 - ab, rel=0.02)
    x_ve = q_sample(sched, x0, t, torch.randn(x0.shape, generator=gen), scale_signal=False)
    assert float(x_ve.mean()) == pytest.approx(2.0, abs=0.01)


def test_posterior_variance_is_beta_tilde_and_mean_is_bayes():
    sched = NoiseSchedule.create("linear", 100)
    t = torch.tensor([10, 50])
    x0, x_t = torch.randn(2, 3), torch.randn(2, 3)
    mean, var = q_posterior(sched, x0, x_t, t)
    ab, ab_prev, beta = sched.alpha_bars[t], sched.alpha_bars[t - 1], sched.betas[t]
    expected_var = (1 - ab_prev) / (1 - ab) * beta
    torch.testing.assert_close(var[:, 0], expected_var)
    # Bayes: precision-weighted combination of p(x_{t-1}|x0) and p(x_t|x_{t-1})
    prec = 1 / (1 - ab_prev) + (1 - beta) / beta
    expected_mean = (
        ab_prev.sqrt()[:, None] * x0 / (1 - ab_prev)[:, None]
        + (1 - beta).sqrt()[:, None] * x_t / beta[:, None]
    ) / prec[:, None]
    torch.testing.assert_close(mean, expected_mean, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("param", ["eps", "x0", "v"])
def test_parameterisations_convert_exactly(param):
    sched = NoiseSchedule.create("cosine", 100)
    x0, eps = torch.randn(5, 4), torch.randn(5, 4)
    t = torch.tensor([0, 10, 50, 90, 99])
    x_t = q_sample(sched, x0, t, eps)
    target = prediction_target(sched, x0, eps, t, param)
    x0_hat, eps_hat = split_prediction(sched, x_t, t, target, param)
    torch.testing.assert_close(x0_hat, x0, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(eps_hat, eps, rtol=1e-3, atol=1e-3)


def test_timestep_sequence():
    assert timestep_sequence(3, 10) == [3, 2, 1, 0, -1]
    assert timestep_sequence(100, 1) == [100, -1]
    assert timestep_sequence(9, 4) == [9, 6, 3, 0, -1]


def test_ddim_eta0_is_deterministic_and_inversion_round_trips():
    sched = NoiseSchedule.create("linear", 1000)
    model = OptimalEps(sched)
    x0 = MU + S * torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    x_T = ddim_invert(model, sched, x0, 999, 200)
    a = ddim_sample(model, sched, x_T, 999, 200, generator=torch.Generator().manual_seed(1))
    b = ddim_sample(model, sched, x_T, 999, 200, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)
    assert float((a - x0).abs().max()) < 0.05
    # the inverted latents look like the prior N(0, 1)
    assert abs(float(x_T.mean())) < 0.3 and 0.6 < float(x_T.std()) < 1.4


def test_ddpm_sampling_reproduces_data_distribution():
    sched = NoiseSchedule.create("linear", 200, beta_end=0.05)
    model = OptimalEps(sched)
    gen = torch.Generator().manual_seed(0)
    x_T = torch.randn(4000, 1, generator=gen)
    samples = ddpm_sample(model, sched, x_T, 199, generator=gen)
    assert float(samples.mean()) == pytest.approx(MU, abs=0.05)
    assert float(samples.std()) == pytest.approx(S, abs=0.05)


def test_reconstruct_batches_t_stars_like_separate_runs():
    sched = NoiseSchedule.create("linear", 1000)
    model = OptimalEps(sched)
    x0 = torch.randn(8, 2)
    out = reconstruct(model, sched, x0, [30, 200], 5, generator=torch.Generator().manual_seed(3))
    assert out.shape == (2, 8, 2)
    noise = torch.randn(2, 8, 2, generator=torch.Generator().manual_seed(3))
    for i, t_star in enumerate([30, 200]):
        x_t = q_sample(sched, x0, torch.full((8,), t_star), noise[i])
        torch.testing.assert_close(out[i], ddim_sample(model, sched, x_t, t_star, 5))
    with pytest.raises(DataValidationError, match="outside"):
        reconstruct(model, sched, x0, [1000])


def test_reconstruct_pulls_outliers_to_the_data():
    sched = NoiseSchedule.create("linear", 1000)
    model = OptimalEps(sched)
    # 200 noise draws of one typical point and one 6-sigma outlier
    x0 = torch.tensor([[MU, MU], [MU + 6 * S, MU - 6 * S]]).repeat(200, 1)
    gen = torch.Generator().manual_seed(0)
    recon = reconstruct(model, sched, x0, [400], 20, generator=gen)[0]
    err = ((recon - x0) ** 2).sum(dim=1).reshape(200, 2).mean(dim=0)
    assert float(err[1]) > 10 * float(err[0])


def test_train_model_learns_and_stops_early():
    torch.manual_seed(0)
    sched = NoiseSchedule.create("linear", 100)
    net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.SiLU(), torch.nn.Linear(64, 2))

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x, t):
            return self.net(x)

    model = Wrapped()
    data = MU + S * torch.randn(2000, 2)
    res = train_model(
        model,
        lambda m, b, g: denoising_loss(m, sched, b[0], g),
        data,
        TrainConfig(epochs=200, batch_size=128, lr=3e-3, patience=3),
        seed=0,
        progress=False,
    )
    assert res.train_loss[-1] < 0.7 * res.train_loss[0]
    assert res.stopped == "early_stopping" and len(res.train_loss) < 200
    assert len(res.val_loss) == len(res.train_loss)
    with pytest.raises(DataValidationError, match="empty"):
        train_model(model, lambda m, b, g: b[0].sum(), torch.zeros(0, 2), TrainConfig())
