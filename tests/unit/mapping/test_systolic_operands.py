"""Operands: seeded random tensors, im2col and the filter matrix, and the direct numpy reference."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import MappingError
from sim.mapping.operands import (
    filter_matrix,
    ifmap_matrix,
    ofmap_from_matrix,
    operand_dtype,
    random_operands,
    reference_ofmap,
)
from sim.workload.layer import Layer


def _via_gemm(layer, ifmap, filters):
    a = ifmap_matrix(layer, ifmap).astype(np.int64)
    b = filter_matrix(layer, filters).astype(np.int64)
    return ofmap_from_matrix(layer, np.matmul(a, b))


def test_random_operands_are_seeded_and_span_the_signed_range():
    layer = Layer("c", ifmap_h=16, ifmap_w=16, in_channels=8, out_channels=8, filter_h=3, filter_w=3)
    x1, w1 = random_operands(layer, 7)
    x2, w2 = random_operands(layer, 7)
    x3, _ = random_operands(layer, 8)
    assert np.array_equal(x1, x2) and np.array_equal(w1, w2)
    assert not np.array_equal(x1, x3)
    assert x1.dtype == np.int8 and w1.dtype == np.int8
    assert x1.shape == (1, 16, 16, 8) and w1.shape == (8, 3, 3, 8)
    assert x1.min() == -128 and x1.max() == 127


@given(st.integers(1, 32), st.integers(1, 32))
def test_random_operands_respect_configured_bits(ifmap_bits, filter_bits):
    layer = Layer("c", ifmap_h=3, ifmap_w=3, in_channels=4, out_channels=5,
                  ifmap_bits=ifmap_bits, filter_bits=filter_bits)
    x, w = random_operands(layer, 0)
    assert x.dtype == operand_dtype(ifmap_bits) and w.dtype == operand_dtype(filter_bits)
    for array, bits in ((x, ifmap_bits), (w, filter_bits)):
        assert array.min() >= -(1 << (bits - 1)) and array.max() <= (1 << (bits - 1)) - 1


def test_conv_hand_example_with_padding_stride_and_dilation():
    layer = Layer("c", ifmap_h=1, ifmap_w=5, filter_h=1, filter_w=2, stride_w=2, dilation_w=2, pad_left=1)
    x = np.array([1, 2, 3, 4, 5], dtype=np.int8).reshape(1, 1, 5, 1)
    w = np.array([10, 100], dtype=np.int8).reshape(1, 1, 2, 1)
    # padded input [0 1 2 3 4 5]; windows start at 0, 2 (dilated taps at +0, +2): 0*10+2*100, 2*10+4*100
    expected = np.array([200, 420]).reshape(1, 1, 2, 1)
    assert np.array_equal(reference_ofmap(layer, x, w), expected)
    assert np.array_equal(_via_gemm(layer, x, w), expected)


def test_tconv_hand_example_scatters_each_input_over_the_filter():
    layer = Layer("t", kind="tconv", ifmap_h=1, ifmap_w=2, filter_h=1, filter_w=3, stride_w=2)
    x = np.array([1, 2], dtype=np.int8).reshape(1, 1, 2, 1)
    w = np.array([1, 10, 100], dtype=np.int8).reshape(1, 1, 3, 1)
    # out[2i + r] += x[i] * w[r]: [1, 10, 100 + 2, 20, 200]
    expected = np.array([1, 10, 102, 20, 200]).reshape(1, 1, 5, 1)
    assert layer.ofmap_hw == (1, 5)
    assert np.array_equal(reference_ofmap(layer, x.astype(np.int64), w.astype(np.int64)), expected)
    assert np.array_equal(_via_gemm(layer, x, w), expected)


def test_im2col_columns_are_channel_fastest_windows():
    layer = Layer("c", ifmap_h=3, ifmap_w=3, in_channels=2, filter_h=2, filter_w=2)
    x = np.arange(18, dtype=np.int64).reshape(1, 3, 3, 2)
    a = ifmap_matrix(layer, x)
    assert a.shape == (1, 4, 8)
    # pixel (0, 0): taps (0,0),(0,1),(1,0),(1,1), each with channels 0, 1
    assert a[0, 0].tolist() == [0, 1, 2, 3, 6, 7, 8, 9]


def test_depthwise_and_batch_lower_to_one_gemm_per_group():
    layer = Layer("dw", ifmap_h=4, ifmap_w=4, in_channels=3, out_channels=3, filter_h=3, filter_w=3,
                  groups=3, batch=2)
    x, w = random_operands(layer, 1)
    assert ifmap_matrix(layer, x).shape == (3, 2 * 2 * 2, 9)
    assert filter_matrix(layer, w).shape == (3, 9, 1)
    assert np.array_equal(_via_gemm(layer, x, w), reference_ofmap(layer, x, w))


def test_block_circulant_filters_have_circulant_blocks():
    layer = Layer("bc", ifmap_h=2, ifmap_w=2, in_channels=8, out_channels=4, block_size=4)
    _, w = random_operands(layer, 3)
    b = filter_matrix(layer, w)[0]
    for p in range(2):
        block = b[4 * p:4 * p + 4, :]
        for i in range(4):
            assert np.array_equal(block[i], np.roll(block[0], i))


def test_wide_operands_accumulate_exactly_in_int64():
    layer = Layer.gemm_layer("g", m=2, n=2, k=3, ifmap_bits=24, filter_bits=24)
    x, w = random_operands(layer, 5)
    expected = [[sum(int(x[0, i, 0, c]) * int(w[j, 0, 0, c]) for c in range(3)) for j in range(2)] for i in range(2)]
    assert reference_ofmap(layer, x, w)[0, :, 0, :].tolist() == expected


def test_wrong_operand_shapes_raise_mapping_errors():
    layer = Layer("c", ifmap_h=3, ifmap_w=3, in_channels=2, out_channels=2)
    x, w = random_operands(layer, 0)
    with pytest.raises(MappingError, match=r"ifmap tensor has the wrong shape.*\(1, 3, 3, 3\).*\(1, 3, 3, 2\)"):
        ifmap_matrix(layer, np.zeros((1, 3, 3, 3), dtype=np.int8))
    with pytest.raises(MappingError, match="filters tensor has the wrong shape"):
        reference_ofmap(layer, x, w[:1])


def test_operands_too_wide_for_exact_accumulation_are_refused():
    layer = Layer.gemm_layer("g", m=1, n=1, k=4, ifmap_bits=32, filter_bits=32)
    x = np.full((1, 1, 1, 4), -(2**31), dtype=np.int32)
    w = np.full((1, 1, 1, 4), -(2**31), dtype=np.int32)
    with pytest.raises(MappingError, match="too wide"):
        reference_ofmap(layer, x, w)
