"""Diffusion core: schedules, forward process, noise, the pure step and its loop, guidance,
inpainting, the scoring rules and the training loop."""

from dmad.diffusion.guidance import Guided, keep_known, raise_energy, toward_input
from dmad.diffusion.inpainting import repaint, repaint_schedule
from dmad.diffusion.noise import make_noise
from dmad.diffusion.process import (
    PARAMETERISATIONS,
    call_model,
    prediction_target,
    q_posterior,
    q_sample,
    split_prediction,
)
from dmad.diffusion.samplers import (
    ddim_invert,
    ddim_sample,
    ddpm_sample,
    sample_loop,
    step,
    timestep_sequence,
)
from dmad.diffusion.schedules import BETA_SCHEDULES, NoiseSchedule, make_betas
from dmad.diffusion.scoring import (
    denoising_error,
    inverse_gamma_shape,
    prediction_errors,
    reconstruct,
    time_estimate,
)
from dmad.diffusion.train import (
    TrainConfig,
    TrainResult,
    denoising_loss,
    loss_timesteps,
    train_model,
)

__all__ = [
    "BETA_SCHEDULES",
    "PARAMETERISATIONS",
    "Guided",
    "NoiseSchedule",
    "TrainConfig",
    "TrainResult",
    "call_model",
    "ddim_invert",
    "ddim_sample",
    "ddpm_sample",
    "denoising_error",
    "denoising_loss",
    "inverse_gamma_shape",
    "loss_timesteps",
    "keep_known",
    "make_betas",
    "make_noise",
    "prediction_errors",
    "prediction_target",
    "q_posterior",
    "q_sample",
    "raise_energy",
    "reconstruct",
    "repaint",
    "repaint_schedule",
    "sample_loop",
    "split_prediction",
    "step",
    "time_estimate",
    "timestep_sequence",
    "toward_input",
    "train_model",
]
