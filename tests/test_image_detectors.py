"""Image detectors: localisation of a pasted defect, common API, persistence, grayscale and RGB."""

from __future__ import annotations

import numpy as np
import pytest
from _image_data import striped_images
from sklearn.base import clone

import dmad
from dmad.exceptions import DataValidationError, NotFittedError
from dmad.metrics import pixel_auroc

# tiny but sufficient settings: 32 px, a narrow U-Net, few DDIM steps
_UNET = dict(
    image_size=32,
    base_channels=8,
    channel_mults=(1, 2),
    epochs=30,
    lr=2e-3,
    sampling_steps=3,
    t_stars=(300, 500),
)
FAST: dict[str, dict] = {
    "anoddpm": {**_UNET, "noise": "gaussian"},
    "ddad": {**_UNET, "layers": (1,)},
    "masked_diffusion": {**_UNET, "patch_size": 4},
    "diffusionad": {
        **{k: v for k, v in _UNET.items() if k != "sampling_steps"},
        "t_stars": (300,),
        "head_channels": 8,
        "head_epochs": 15,
    },
    "feature_diffusion": dict(image_size=64, bank_size=2000, max_train_patches=5000, epochs=2),
}
NAMES = dmad.available_detectors("image")


def _make(name: str, **extra) -> dmad.BaseDetector:
    params = {"sigma": 1.0, **FAST.get(name, {}), **extra}
    return dmad.create(name, random_state=0, device="cpu", verbose=False, **params)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    train, _ = striped_images(48)
    bad, masks = striped_images(6, defect=True, seed=1)
    good, _ = striped_images(4, seed=2)
    return {
        "train": train,
        "test": np.concatenate([bad, good]),
        "masks": np.concatenate([masks, np.zeros_like(masks[:4])]),
    }


class _Fitted(dict):
    """Detectors fitted on first use, so a selected subset of tests fits only what it needs."""

    def __init__(self, train: np.ndarray) -> None:
        super().__init__()
        self.train = train

    def __missing__(self, name: str) -> dmad.BaseDetector:
        self[name] = _make(name).fit(self.train)
        return self[name]


@pytest.fixture(scope="module")
def fitted(data) -> _Fitted:
    return _Fitted(data["train"])


def test_registry_lists_the_image_detectors():
    assert set(NAMES) >= set(FAST)


# DiffusionAD's head learns what its synthetic defects look like; on these striped toys a
# Perlin-trained head ranks the flat pasted patch *below* the stripes (pixel AUROC ~0, while
# synthetic=None gives 0.96). Its localisation is measured on real defects in
# benchmarks/generation.py instead.
LOCALISING = sorted(set(FAST) - {"diffusionad"})


@pytest.mark.parametrize("name", LOCALISING)
def test_localises_a_pasted_defect(name, data, fitted):
    maps = fitted[name].anomaly_map(data["test"])
    assert maps.shape == (10, 32, 32)
    assert pixel_auroc(data["masks"], maps) > 0.9


@pytest.mark.parametrize("name", NAMES)
def test_common_api(name, data, fitted):
    det = fitted[name]
    scores = det.decision_function(data["test"])
    assert scores.shape == (10,) and np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores, det.map_to_score(det.anomaly_map(data["test"])), rtol=1e-6)
    assert set(np.unique(det.predict(data["test"]))) <= {0, 1}
    assert det.decision_scores_.shape == (48,) and det.labels_.shape == (48,)
    twin = clone(det)
    assert twin.get_params() == det.get_params() and not hasattr(twin, "decision_scores_")
    with pytest.raises(NotFittedError):
        twin.decision_function(data["test"])
    # uint8 input is the same images divided by 255
    as_uint8 = np.round(data["test"] * 255).astype(np.uint8)
    assert det.decision_function(as_uint8).shape == (10,)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("transform", "match"),
    [
        (lambda x: x[:, 0, 0], "shape"),  # rank 2
        (lambda x: np.repeat(x, 3, axis=1), "channel"),  # RGB after a grayscale fit
        (lambda x: x[:, :, :16, :16], "fitted on 32x32"),
        (lambda x: x * 255, r"\[0, 1\]"),
        (lambda x: np.where(x > 0.6, np.nan, x), "NaN"),
        (lambda x: np.transpose(x, (0, 2, 3, 1)), "channels last"),
    ],
)
def test_bad_input_is_explained(name, data, fitted, transform, match):
    with pytest.raises(DataValidationError, match=match):
        fitted[name].decision_function(transform(data["test"]))


@pytest.mark.parametrize("name", NAMES)
def test_save_load_reproduces_scores(name, data, fitted, tmp_path):
    det = fitted[name]
    det.save(tmp_path / name)
    loaded = dmad.load(tmp_path / name)
    np.testing.assert_array_equal(
        loaded.decision_function(data["test"]), det.decision_function(data["test"])
    )


@pytest.mark.parametrize("name", ["anoddpm", "feature_diffusion"])
def test_rgb_and_channel_conversion(name):
    rgb, _ = striped_images(12, channels=3)
    det = _make(name, epochs=1).fit(rgb)
    assert det.anomaly_map(rgb[:2]).shape == (2, 32, 32)
    gray_model = _make(name, epochs=1, channels=1).fit(rgb)
    assert gray_model.channels_ == 1 and gray_model.decision_function(rgb[:2]).shape == (2,)


def test_simplex_anoddpm_runs_and_reconstructs(data):
    det = _make("anoddpm", noise="simplex", epochs=2).fit(data["train"][:12])
    recon = det.reconstruct(data["test"][:2])
    assert recon.shape == (2, 1, 32, 32) and recon.min() >= 0 and recon.max() <= 1


def test_top_fraction_score_is_the_mean_of_the_top_pixels(data, fitted):
    det = clone(fitted["feature_diffusion"]).set_params(top_fraction=0.1, image_sigma=0.0)
    maps = np.random.default_rng(0).random((2, 10, 10))
    expected = np.sort(maps.reshape(2, -1), axis=1)[:, -10:].mean(axis=1)
    np.testing.assert_allclose(det.map_to_score(maps), expected, rtol=1e-6)


def test_image_score_reads_the_map_smoothed_to_image_sigma(fitted):
    det = clone(fitted["feature_diffusion"]).set_params(sigma=3.0, image_sigma=5.0, top_fraction=0)
    maps = np.zeros((1, 64, 64), np.float32)
    maps[0, 10, 10] = 1.0  # one hot pixel: its blur peaks at 1 / (2 pi s^2) for a total s of 4
    score = det.map_to_score(maps)[0]
    np.testing.assert_allclose(score, 1 / (2 * np.pi * 4.0**2), rtol=0.02)
    wide = np.zeros_like(maps)
    wide[0, 20:40, 20:40] = 0.5  # a large, weaker region now outranks the speck
    assert det.map_to_score(wide)[0] > score


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"channels": 2}, "channels"),
        ({"image_size": 4}, "image_size"),
        ({"top_fraction": 1.0}, "top_fraction"),
        ({"sigma": -1.0}, "sigma"),
        ({"image_sigma": -1.0}, "image_sigma"),
    ],
)
def test_bad_parameters_fail_in_fit(params, match, data):
    with pytest.raises(DataValidationError, match=match):
        _make("feature_diffusion", **params).fit(data["train"][:4])
