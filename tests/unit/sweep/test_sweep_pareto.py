"""Pareto front and top-k: the fast front equals the brute-force definition."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.sweep.pareto import _unique_rows, pareto_mask, top_k


def brute_force(values):
    n = len(values)
    mask = np.zeros(n, dtype=bool)
    for i in range(n):
        if np.isnan(values[i]).any():
            continue
        mask[i] = not any(
            not np.isnan(values[j]).any() and np.all(values[j] <= values[i]) and np.any(values[j] < values[i])
            for j in range(n))
    return mask


@settings(max_examples=60)
@given(st.integers(1, 4).flatmap(lambda d: arrays(np.float64, st.tuples(st.integers(0, 40), st.just(d)),
                                                   elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, np.nan]))))
def test_front_equals_brute_force(values):
    assert np.array_equal(pareto_mask(values), brute_force(values))


def test_identical_points_share_the_front():
    values = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [2.0, 2.0]])
    assert pareto_mask(values).tolist() == [True, True, True, False]


def test_top_k_skips_nan_and_keeps_order():
    assert top_k(np.array([3.0, np.nan, 1.0, 2.0, 1.0]), 3).tolist() == [2, 4, 3]
    assert top_k(np.array([np.nan]), 2).tolist() == []


@settings(max_examples=60)
@given(arrays(np.float64, st.tuples(st.integers(0, 60), st.integers(1, 4)),
              elements=st.sampled_from([-0.0, 0.0, 1.0, 2.0, 3.0, 5.0])))
def test_unique_rows_equal_numpy_unique(values):
    unique, inverse = _unique_rows(values)
    expected, expected_inverse = np.unique(values, axis=0, return_inverse=True)
    assert np.array_equal(unique, expected) and np.array_equal(inverse, expected_inverse.reshape(-1))


@settings(max_examples=60)
@given(arrays(np.float64, st.integers(0, 60), elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, np.nan])),
       st.integers(0, 70))
def test_top_k_equals_a_full_stable_sort(values, k):
    candidates = np.flatnonzero(~np.isnan(values))
    expected = candidates[np.argsort(values[candidates], kind="stable")][:k]
    assert top_k(values, k).tolist() == expected.tolist()
