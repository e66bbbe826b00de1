"""The per-cycle reference on hand-checked folds: when the first operand enters and the last result leaves."""
import numpy as np
import pytest

from sim.kernels.systolic_reference import os_fold, reference_layer, stationary_fold, wrap


def test_wrap_is_twos_complement():
    assert wrap(np.int64(127), np.int64(8)) == 127
    assert wrap(np.int64(128), np.int64(8)) == -128
    assert wrap(np.int64(-129), np.int64(8)) == 127
    assert wrap(np.int64(2**40), np.int64(64)) == 2**40


def test_os_fold_hand_example_and_drain():
    a = np.array([[1, 2], [3, 4]], dtype=np.int64)  # r = 2 rows of the ifmap, T = 2
    b = np.array([[5, 6, 7], [8, 9, 10]], dtype=np.int64)  # c = 3 columns of filters
    out = np.zeros((2, 3), dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    cycles, macs, consistent = os_fold(a, b, 4, 3, 32, out, counts)
    assert np.array_equal(out, a @ b)
    # last MAC at (r-1)+(c-1)+(T-1) = 4, then R = 4 shifts: row 0 leaves at cycle 8
    assert cycles == 4 + 2 + 3 + 2 - 2 == 9
    assert macs == 12 and consistent
    assert counts.tolist() == [4, 6, 0, 6]


def test_ws_fold_loads_r_rows_then_streams_through_all_rows():
    weights = np.array([[1, 2], [3, 4]], dtype=np.int64)  # r = 2, c = 2
    stream = np.arange(10, dtype=np.int64).reshape(5, 2)  # T = 5
    out = np.zeros((5, 2), dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    cycles, macs, consistent = stationary_fold(weights, stream, 4, 3, 32, out, False, counts)
    assert np.array_equal(out, stream @ weights)
    # load 2 cycles; last sum leaves the bottom of row R-1 = 3 at 2 + (T-1) + (R-1) + (c-1) = 10
    assert cycles == 11 == 4 + 2 + 2 + 5 - 2
    assert macs == 20 and consistent
    assert counts.tolist() == [4, 10, 0, 10]


def test_stationary_fold_accumulates_onto_stored_partial_sums():
    weights = np.array([[2]], dtype=np.int64)
    stream = np.array([[1], [2]], dtype=np.int64)
    out = np.array([[100], [200]], dtype=np.int64)
    counts = np.zeros(4, dtype=np.int64)
    stationary_fold(weights, stream, 1, 1, 32, out, True, counts)
    assert out[:, 0].tolist() == [102, 204]
    assert counts[2] == 2  # the two partial sums were read back


@pytest.mark.parametrize("dataflow", [0, 1, 2])
def test_one_pe_array_computes_a_dot_product(dataflow):
    a = np.array([[[1, 2, 3]]], dtype=np.int64)  # M = 1, K = 3
    b = np.array([[[4], [5], [6]]], dtype=np.int64)  # N = 1
    bounds = np.array([[0, 0, 1, k, k + 1, 0, 1] for k in range(3)], dtype=np.int64) if dataflow else \
        np.array([[0, 0, 1, 0, 3, 0, 1]], dtype=np.int64)
    row_index = np.arange(len(bounds), dtype=np.int64)
    out, cycles, counts, macs, consistent = reference_layer(a, b, bounds, row_index, dataflow, 1, 1, 32)
    assert out[0, 0, 0] == 32 and macs == 3 and consistent
    # 1x1 array: os takes 1 + 1 + 1 + 3 - 2 = 4 cycles; ws/is 3 folds of 1 + 1 + 1 + 1 - 2 = 2
    assert cycles.tolist() == ([4] if dataflow == 0 else [2, 2, 2])
