"""Synthetic anomaly injectors: labels equal exactly the entries that changed; seeding; shapes."""

from __future__ import annotations

import numpy as np
import pytest

from dmad.exceptions import DataValidationError
from dmad.generation import (
    IMAGE_KINDS,
    MIXED_KINDS,
    SERIES_KINDS,
    TABULAR_KINDS,
    inject_image,
    inject_mixed_series,
    inject_series,
    inject_tabular,
    make_tabular_anomalies,
)


def changed(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Where ``new`` differs from ``old`` (NaN replacing a number counts as a change)."""
    same = (new == old) | (np.isnan(new) & np.isnan(old))
    return ~same


@pytest.fixture
def table() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.multivariate_normal([0, 0, 5], [[1, 0.9, 0], [0.9, 1, 0], [0, 0, 2]], size=300)


@pytest.fixture
def series() -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(800)
    return np.column_stack([np.sin(t / 8), np.cos(t / 13), t / 800]) + 0.1 * rng.normal(
        size=(800, 3)
    )


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(2).uniform(0.2, 0.8, size=(6, 3, 48, 40))


# ---- tabular ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [*TABULAR_KINDS, "mixed"])
def test_tabular_labels_are_exactly_the_new_rows(table, kind):
    out = inject_tabular(table, kind, n_anomalies=17, random_state=0)
    assert out.data.shape == (317, 3) and out.labels.sum() == 17
    is_original = (out.data[:, None, :] == table[None]).all(axis=2).any(axis=1)
    np.testing.assert_array_equal(out.labels, (~is_original).astype(np.int8))
    np.testing.assert_array_equal(out.mask, np.repeat(out.labels[:, None] == 1, 3, axis=1))


@pytest.mark.parametrize("kind", TABULAR_KINDS)
def test_tabular_seeded(table, kind):
    a = make_tabular_anomalies(table, 10, kind, random_state=3)
    b = make_tabular_anomalies(table, 10, kind, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make_tabular_anomalies(table, 10, kind, random_state=4))


def test_tabular_types_behave_as_described(table):
    from scipy.spatial.distance import mahalanobis

    inv = np.linalg.inv(np.cov(table.T))
    centre = table.mean(axis=0)

    def mean_distance(rows):
        return np.mean([mahalanobis(r, centre, inv) for r in rows])

    normal = mean_distance(table)
    for kind in ("local", "global", "clustered"):
        assert mean_distance(make_tabular_anomalies(table, 200, kind, random_state=0)) > normal
    dep = make_tabular_anomalies(table, 2000, "dependency", random_state=0)
    # marginals kept, the strong 0-1 correlation destroyed
    assert abs(np.corrcoef(dep[:, 0], dep[:, 1])[0, 1]) < 0.1
    assert abs(dep[:, 2].mean() - 5) < 0.2


def test_tabular_contamination_and_errors(table):
    out = inject_tabular(table, "global", contamination=0.2, shuffle=False, random_state=0)
    assert out.labels.mean() == pytest.approx(0.2, abs=0.01) and out.labels[-1] == 1
    with pytest.raises(DataValidationError, match="kind"):
        inject_tabular(table, "nonsense")
    with pytest.raises(DataValidationError, match="alpha"):
        make_tabular_anomalies(table, 3, "local", alpha=-1)


@pytest.mark.parametrize("kind", TABULAR_KINDS)
def test_tabular_constant_feature_stays_constant(table, kind):
    # a constant column given tiny noise looks infinitely anomalous to a standardising detector
    X = np.column_stack([table, np.full(len(table), 3.0)])
    assert (make_tabular_anomalies(X, 50, kind, random_state=0)[:, 3] == 3.0).all()


def test_tabular_alpha_per_kind(table):
    from dmad.generation.tabular import HARD_ALPHA

    hard = inject_tabular(table, "mixed", n_anomalies=40, alpha=HARD_ALPHA, random_state=0)
    same = inject_tabular(table, "mixed", n_anomalies=40, alpha=dict(HARD_ALPHA), random_state=0)
    np.testing.assert_array_equal(hard.data, same.data)
    default = inject_tabular(table, "mixed", n_anomalies=40, random_state=0)
    assert not np.array_equal(hard.data, default.data)


# ---- time series ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SERIES_KINDS)
def test_series_labels_match_changes_multivariate(series, kind):
    out = inject_series(series, kind, n_anomalies=3, channels=[0, 2], random_state=0)
    assert out.data.shape == series.shape and out.mask.shape == series.shape
    np.testing.assert_array_equal(changed(out.data, series), out.mask)
    np.testing.assert_array_equal(out.labels, out.mask.any(axis=1).astype(np.int8))
    assert not out.mask[:, 1].any()  # channel 1 was not selected
    expected_steps = 3 if kind in ("point", "contextual") else 3 * out.mask[:, 0].sum() // 3
    assert out.labels.sum() == expected_steps


@pytest.mark.parametrize("kind", SERIES_KINDS)
def test_series_univariate_positions_and_length(series, kind):
    x = series[:, 0]
    length = 1 if kind in ("point", "contextual") else 25
    out = inject_series(x, kind, n_anomalies=2, length=length, positions=[100, 400], random_state=1)
    expected = np.zeros(len(x), bool)
    expected[100 : 100 + length] = expected[400 : 400 + length] = True
    np.testing.assert_array_equal(out.mask, expected)
    np.testing.assert_array_equal(changed(out.data, x), expected)


def test_series_anomaly_at_series_start_still_changes(series):
    out = inject_series(series[:, 0], "flatline", length=10, positions=[0])
    np.testing.assert_array_equal(changed(out.data, series[:, 0]), out.mask)


def test_series_seeded_and_non_overlapping(series):
    a = inject_series(series, "trend", n_anomalies=5, length=40, random_state=7)
    b = inject_series(series, "trend", n_anomalies=5, length=40, random_state=7)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.labels.sum() == 200  # five disjoint segments


def test_series_random_channels_touch_a_few_varying_channels():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1200, 11))
    X[:, 4] = 2.0  # constant: nothing to perturb there
    out = inject_series(X, "trend", n_anomalies=6, length=30, channels="random", random_state=0)
    np.testing.assert_array_equal(changed(out.data, X), out.mask)
    assert not out.mask[:, 4].any()
    segments = out.mask[out.labels == 1].reshape(6, 30, 11)
    per_anomaly = segments.any(axis=1).sum(axis=1)  # channels touched by each anomaly
    assert per_anomaly.min() >= 1 and per_anomaly.max() <= 2  # 1 .. 10 // 5 channels
    assert len({tuple(np.flatnonzero(seg.any(axis=0))) for seg in segments}) > 1


def test_series_mixed_places_every_kind_in_its_slot(series):
    kinds = ["point", "trend", "flatline", "shapelet", "contextual", "variance"]
    out = inject_mixed_series(series, kinds, channels=None, random_state=0)
    np.testing.assert_array_equal(changed(out.data, series), out.mask)
    np.testing.assert_array_equal(out.labels, out.mask.any(axis=1).astype(np.int8))
    slot = len(series) // len(kinds)
    labelled = out.labels[: slot * len(kinds)].reshape(len(kinds), slot)
    # each slot holds its own anomaly: 1 step for the point kinds, a quarter slot for segments
    expected = [1 if kind in ("point", "contextual") else slot // 4 for kind in kinds]
    np.testing.assert_array_equal(labelled.sum(axis=1), expected)
    # and keeps away from its slot's edges, so neighbours stay apart
    assert not labelled[:, : (slot - slot // 4) // 4].any()


def test_series_mixed_kind_through_inject_series(series):
    a = inject_series(series, "mixed", n_anomalies=8, random_state=5)
    b = inject_series(series, "mixed", n_anomalies=8, random_state=5)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(changed(a.data, series), a.mask)
    assert 1 <= a.mask.any(axis=0).sum() <= 3
    univariate = inject_series(series[:, 0], "mixed", n_anomalies=8, random_state=5)
    assert univariate.data.shape == (len(series),) and univariate.labels.sum() > 8
    with pytest.raises(DataValidationError, match="places and sizes"):
        inject_series(series, "mixed", positions=[0])
    with pytest.raises(DataValidationError, match="do not fit"):
        inject_mixed_series(series, MIXED_KINDS, slot=200)
    with pytest.raises(DataValidationError, match="channels"):
        inject_series(series, "trend", channels="some")


def test_series_errors(series):
    with pytest.raises(DataValidationError, match="length"):
        inject_series(series, "point", length=5)
    with pytest.raises(DataValidationError, match="channels"):
        inject_series(series, "trend", channels=[5])
    with pytest.raises(DataValidationError, match="positions"):
        inject_series(series, "trend", length=10, positions=[795])
    with pytest.raises(DataValidationError, match="fit"):
        inject_series(series, "trend", n_anomalies=100, length=20)


# ---- images -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_image_masks_are_exactly_the_changed_pixels(images, kind):
    out = inject_image(images, kind, random_state=0)
    assert out.data.shape == images.shape and out.data.dtype == np.float32
    assert out.mask.shape == (6, 48, 40) and out.labels.tolist() == [1] * 6
    diff = changed(out.data, images.astype(np.float32)).any(axis=1)
    np.testing.assert_array_equal(diff, out.mask)
    assert out.mask.any(axis=(1, 2)).all()


@pytest.mark.parametrize("texture", ["self", "noise", "array"])
def test_perlin_textures_and_fraction(images, texture):
    tex = np.random.default_rng(5).uniform(size=(2, 3, 48, 40)) if texture == "array" else texture
    out = inject_image(images, "perlin", texture=tex, fraction=0.5, random_state=1)
    assert out.labels.sum() == 3
    np.testing.assert_array_equal(out.data[out.labels == 0], images[out.labels == 0].astype("f4"))
    assert not out.mask[out.labels == 0].any()
    diff = changed(out.data, images.astype(np.float32)).any(axis=1)
    np.testing.assert_array_equal(diff, out.mask)


def test_image_area_and_seed(images):
    out = inject_image(images, "cutpaste", area=0.1, random_state=3)
    assert np.allclose(out.mask.mean(axis=(1, 2)), 0.1, atol=0.03)
    again = inject_image(images, "cutpaste", area=0.1, random_state=3)
    np.testing.assert_array_equal(out.data, again.data)
    with pytest.raises(DataValidationError, match="texture"):
        inject_image(images, "perlin", texture=np.zeros((1, 1, 8, 8)))


# ---- plots ------------------------------------------------------------------------------------
def test_plots_write_pngs(tmp_path, images, series):
    from dmad.viz.generation import plot_generated_images, plot_injected_series

    img = inject_image(images, "perlin", fraction=0.5, random_state=0)
    assert plot_generated_images(img.data, img.mask, tmp_path / "g.png", n=4).stat().st_size > 0
    ser = inject_series(series, "seasonal", n_anomalies=2, channels=[1], random_state=0)
    path = plot_injected_series(ser.data, ser.mask, tmp_path / "s.png", original=series)
    assert path.stat().st_size > 0
    with pytest.raises(DataValidationError, match="mask"):
        plot_injected_series(series, np.zeros(5), tmp_path / "x.png")
