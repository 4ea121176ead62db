"""dmad.ops: the k-NN search, subsampling, filters, standardisation and calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dmad.exceptions import DataValidationError
from dmad.ops import (
    Calibrator,
    Standardizer,
    gaussian_blur,
    knn,
    moving_average,
    neighbors,
    subsample,
)


def _brute(queries, reference, k, exclude_self=False, zone=None):
    full = ((queries[:, None, :] - reference[None, :, :]) ** 2).sum(-1)
    if exclude_self:
        full.fill_diagonal_(float("inf"))
    if zone is not None:
        q_pos, r_pos, radius = zone
        full[(q_pos[:, None] - r_pos[None, :]).abs() < radius] = float("inf")
    return full.topk(k, dim=1, largest=False, sorted=True)


@pytest.mark.parametrize("exclude_self", [False, True])
@pytest.mark.parametrize("block_size", [1, 200, 5000, 2**22])
def test_knn_equals_brute_force_for_any_block(block_size, exclude_self):
    gen = torch.Generator().manual_seed(0)
    reference = torch.randn(53, 6, generator=gen)
    queries = reference if exclude_self else torch.randn(29, 6, generator=gen)
    want_d, want_i = _brute(queries, reference, 5, exclude_self)
    got = knn(queries, reference, 5, exclude_self=exclude_self, block_size=block_size)
    torch.testing.assert_close(got.sq_distances, want_d, rtol=0, atol=0)
    assert torch.equal(got.indices, want_i)


def test_two_stage_selection_is_exact_on_wide_blocks():
    # enough reference rows for the grouped first stage, and a partial last group
    gen = torch.Generator().manual_seed(4)
    reference = torch.randn(64 * 60 + 17, 3, generator=gen)
    queries = torch.randn(40, 3, generator=gen)
    want_d, want_i = _brute(queries, reference, 7)
    got = knn(queries, reference, 7)
    torch.testing.assert_close(got.sq_distances, want_d, rtol=0, atol=0)
    assert torch.equal(got.indices, want_i)
    d2 = torch.rand(5, 64 * 40 + 3, generator=gen)
    values, cols = neighbors._smallest(d2, 9)
    ref_v, ref_c = d2.topk(9, dim=1, largest=False)
    assert torch.equal(values, ref_v) and torch.equal(cols, ref_c)


@pytest.mark.parametrize("block_size", [1, 300, 2**22])
def test_exclusion_zone_equals_brute_force(block_size):
    gen = torch.Generator().manual_seed(2)
    reference, queries = torch.randn(40, 4, generator=gen), torch.randn(30, 4, generator=gen)
    zone = (torch.arange(30) * 2, torch.arange(40) * 3, 7)  # e.g. window starts
    want_d, want_i = _brute(queries, reference, 3, zone=zone)
    got = knn(queries, reference, 3, exclusion_zone=zone, block_size=block_size)
    torch.testing.assert_close(got.sq_distances, want_d, rtol=0, atol=0)
    assert torch.equal(got.indices, want_i)
    with pytest.raises(DataValidationError, match="exclusion zone"):
        knn(queries, reference, 3, exclusion_zone=(zone[0], zone[1], 100))


def test_knn_is_exact_for_duplicates_and_wide_rows():
    gen = torch.Generator().manual_seed(1)
    reference = torch.randn(40, 300, generator=gen) * 10 + 50  # far from 0: cancellation-prone
    reference = torch.cat([reference, reference[:10]])
    got = knn(reference[:10], reference, 2, block_size=7 * 128)
    assert torch.all(got.sq_distances == 0)  # each row and its copy, at exactly 0
    assert sorted(got.indices[3].tolist()) == [3, 43]
    d2 = knn(reference[:10], reference, 1, exclude_self=True).sq_distances
    assert torch.all(d2 == 0)  # the copy, not the row itself


def test_knn_errors_name_the_problem():
    with pytest.raises(DataValidationError, match="n_neighbors"):
        knn(torch.zeros(2, 3), torch.zeros(4, 3), 4, exclude_self=True)
    with pytest.raises(DataValidationError, match="same number of columns"):
        knn(torch.zeros(2, 3), torch.zeros(4, 2), 1)


def test_knn_matches_scikit_learn():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    reference, queries = rng.normal(size=(3000, 8)), rng.normal(size=(500, 8))
    d, i = NearestNeighbors(n_neighbors=4, algorithm="brute").fit(reference).kneighbors(queries)
    got = knn(torch.from_numpy(queries), torch.from_numpy(reference), 4)
    np.testing.assert_array_equal(got.indices.numpy(), i)
    np.testing.assert_allclose(got.sq_distances.numpy(), d**2, rtol=1e-9)


def test_subsample_is_seeded_sorted_and_bounded():
    a, b = subsample(1000, 50, 3), subsample(1000, 50, 3)
    assert np.array_equal(a, b) and len(np.unique(a)) == 50 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, subsample(1000, 50, 4))
    assert np.array_equal(subsample(10, 50, 0), np.arange(10))
    with pytest.raises(DataValidationError, match="max_fit_samples"):
        subsample(10, 0, 0)


def test_gaussian_blur_preserves_mass_and_sigma_zero_is_identity():
    maps = torch.zeros(2, 21, 21)
    maps[:, 10, 10] = 1.0
    out = gaussian_blur(maps, 2.0)
    torch.testing.assert_close(out.sum(dim=(1, 2)), torch.ones(2))
    # the separable kernel at the centre: (1 / sum_k exp(-k^2 / 8))^2
    k = torch.exp(-0.5 * (torch.arange(-8, 9.0) / 2.0) ** 2)
    assert out[0, 10, 10].item() == pytest.approx(float(1 / k.sum() ** 2), rel=1e-5)
    assert gaussian_blur(maps, 0) is maps


def test_moving_average_skips_masked_entries():
    x = torch.tensor([[[1.0, 100.0, 3.0]]])
    mask = torch.tensor([[[1.0, 0.0, 1.0]]])
    # the middle value is masked out: its neighbourhood mean is (1 + 3) / 2
    assert moving_average(x, mask, 3)[0, 0, 1].item() == pytest.approx(2.0)


def test_standardizer_numpy_and_torch_agree_and_round_trip():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1.0, 10.0, 0.0] + [0.0, 5.0, 7.0]
    a, b = Standardizer().fit(X), Standardizer().fit(torch.tensor(X))
    np.testing.assert_allclose(a.mean_, X.mean(axis=0))
    np.testing.assert_allclose(a.std_, [X[:, 0].std(), X[:, 1].std(), 1.0])  # constant → 1
    np.testing.assert_allclose(a.mean_, b.mean_) and np.testing.assert_allclose(a.std_, b.std_)
    z = a.transform(X)
    assert z.dtype == np.float32
    np.testing.assert_allclose(a.inverse_transform(z), X, atol=1e-5)
    images = torch.rand(4, 3, 5, 5)  # per channel over (N, H, W)
    s = Standardizer().fit(images)
    torch.testing.assert_close(
        torch.as_tensor(s.mean_, dtype=torch.float32), images.mean(dim=(0, 2, 3))
    )
    restored = Standardizer().set_state(s.get_state())
    torch.testing.assert_close(restored.transform(images), s.transform(images))


def test_calibrators_match_hand_computed_values():
    scores = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]])
    np.testing.assert_allclose(
        Calibrator("median_ratio").fit(scores).transform(scores), [[0.5, 0.5], [1, 1], [2, 2]]
    )
    np.testing.assert_allclose(
        Calibrator("median").fit(scores[:, 0]).transform(np.array([5.0])), [3.0]
    )
    z = Calibrator("zscore").fit(scores[:, 0]).transform(torch.tensor([4.0]))
    assert z.item() == pytest.approx((4 - 7 / 3) / np.std([1, 2, 4], ddof=1))
    zero = Calibrator("median_ratio").fit(np.zeros(5))  # a flat stretch: floored, finite
    assert np.isfinite(zero.transform(np.ones(2))).all()
    with pytest.raises(DataValidationError, match="calibration"):
        Calibrator("nope")


def test_log_ratio_calibration_is_the_log_of_the_median_ratio():
    scores = np.array([1.0, 2.0, 4.0, 8.0])
    log_ratio = Calibrator("log_ratio").fit(scores)
    ratio = Calibrator("median_ratio").fit(scores)
    np.testing.assert_allclose(log_ratio.transform(scores), np.log(ratio.transform(scores)))
    torch.testing.assert_close(  # the same on tensors
        log_ratio.transform(torch.tensor(scores)), torch.tensor(log_ratio.transform(scores))
    )
    assert np.isfinite(log_ratio.transform(np.zeros(1))).all()  # an exact repeat: finite
    for method in ("log_ratio", "median_ratio"):  # ratios need scores of one sign
        with pytest.raises(DataValidationError, match="non-negative"):
            Calibrator(method).fit(np.array([-1.0, 1.0]))
