"""The fold-level fast model: exact values by BLAS, overflow reporting, the functional check."""
import numpy as np
import pytest

from sim.errors import MappingError
from sim.kernels.systolic_fast import check_functional, gemm_exact, run_layer_functional, run_layer_timing
from sim.mapping.operands import random_operands
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer


@pytest.mark.parametrize("bits, k", [(8, 16), (8, 2000), (16, 300), (30, 3)])
def test_gemm_exact_in_every_precision_path(bits, k):
    rng = np.random.default_rng(bits)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    a = rng.integers(low, high, (1, 3, k), endpoint=True)
    b = rng.integers(low, high, (1, k, 2), endpoint=True)
    bound = (1 << (bits - 1)) ** 2 * k
    expected = [[sum(int(a[0, i, x]) * int(b[0, x, j]) for x in range(k)) for j in range(2)] for i in range(3)]
    assert gemm_exact(a, b, bound)[0].tolist() == expected


def test_functional_check_is_exact_for_int8():
    layer = Layer("c", ifmap_h=9, ifmap_w=9, in_channels=8, out_channels=16, filter_h=3, filter_w=3, stride_h=2,
                  stride_w=2, pad_top=1, pad_left=1, batch=2)
    check = check_functional(layer, array_mapping(layer, "ws", 8, 8), seed=3, accumulator_bits=32)
    assert check.max_abs_error == 0.0
    assert check.elements == layer.ofmap_elements
    assert not check.accumulator_overflow and check.seed == 3


def test_accumulator_overflow_is_reported_not_silent():
    layer = Layer.gemm_layer("g", m=4, n=4, k=64)
    mapping = array_mapping(layer, "os", 4, 4)
    check = check_functional(layer, mapping, seed=0, accumulator_bits=12)
    assert check.accumulator_overflow and check.max_abs_error > 0
    x, w = random_operands(layer, 0)
    ofmap, overflow = run_layer_functional(layer, mapping, x, w, 12)
    assert overflow and ofmap.min() >= -2048 and ofmap.max() <= 2047  # wrapped, as the hardware holds them


def test_bad_accumulator_width_and_foreign_mapping_are_rejected():
    layer = Layer.gemm_layer("g", m=2, n=2, k=2)
    x, w = random_operands(layer, 0)
    with pytest.raises(MappingError, match="accumulator width.*2..64"):
        run_layer_functional(layer, array_mapping(layer, "os", 2, 2), x, w, 1)
    # A mapping is for a problem (the layer's dimensions): another shape is refused, another name is not.
    other = array_mapping(Layer.gemm_layer("h", m=3, n=2, k=2), "os", 2, 2)
    with pytest.raises(MappingError, match="mapping 'os' is for another problem than layer 'g'"):
        run_layer_functional(layer, other, x, w, 32)


def test_timing_starts_folds_back_to_back():
    mapping = array_mapping(Layer.gemm_layer("g", m=5, n=7, k=9), "is", 4, 3)
    cycles, start, counts, macs = run_layer_timing(mapping)
    assert start[0] == 0 and np.array_equal(start[1:], np.cumsum(cycles)[:-1])
    assert macs == 5 * 7 * 9
    assert counts[:, 0].sum() == 5 * 9  # is: each ifmap element is loaded once
