"""Per-cycle reference == fold-level fast model == closed form == numpy, for random layers, arrays and dataflows."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim.analytical.systolic import fold_cycles, fold_sram_counts, layer_compute_cycles
from sim.errors import TraceError
from sim.kernels.systolic_fast import run_layer_functional, run_layer_timing
from sim.kernels.systolic_reference import reference_layer
from sim.mapping.operands import filter_matrix, ifmap_matrix, ofmap_from_matrix, random_operands, reference_ofmap
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer


@st.composite
def small_layers(draw):
    """Valid small layers of every kind: 1x1, strided, dilated, padded, grouped/depthwise, batched, tconv, gemm."""
    kind = draw(st.sampled_from(["conv", "conv", "tconv", "gemm"]))
    batch = draw(st.integers(1, 2))
    bits = draw(st.sampled_from([8, 8, 4, 12]))
    if kind == "gemm":
        return Layer.gemm_layer("g", m=draw(st.integers(1, 12)), n=draw(st.integers(1, 9)), k=draw(st.integers(1, 12)),
                                batch=batch, ifmap_bits=bits, filter_bits=bits)
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    depthwise = draw(st.booleans())
    in_channels = groups if depthwise else groups * draw(st.integers(1, 3))
    out_channels = groups * draw(st.integers(1, 3))
    filter_h, filter_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    stride_h, stride_w = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    span_h, span_w = dilation * (filter_h - 1), dilation * (filter_w - 1)
    if kind == "tconv":  # padding of a transposed conv is at most the filter span
        pads = [draw(st.integers(0, span)) for span in (span_h, span_h, span_w, span_w)]
        output_padding = draw(st.integers(0, max(stride_h, dilation) - 1))
        min_h = min_w = 1
    else:
        pads = [draw(st.integers(0, 2)) for _ in range(4)]
        output_padding = 0
        min_h = max(1, span_h + 1 - pads[0] - pads[1])
        min_w = max(1, span_w + 1 - pads[2] - pads[3])
    try:
        return Layer("l", kind=kind, ifmap_h=draw(st.integers(min_h, min_h + 5)),
                     ifmap_w=draw(st.integers(min_w, min_w + 5)),
                     in_channels=in_channels, out_channels=out_channels, filter_h=filter_h, filter_w=filter_w,
                     stride_h=stride_h, stride_w=stride_w, pad_top=pads[0], pad_bottom=pads[1], pad_left=pads[2],
                     pad_right=pads[3], dilation_h=dilation, dilation_w=dilation, groups=groups, batch=batch,
                     output_padding_h=output_padding, ifmap_bits=bits, filter_bits=bits)
    except TraceError:
        return Layer("fallback", ifmap_h=4, ifmap_w=4, in_channels=2, out_channels=3, filter_h=3, filter_w=3,
                     batch=batch, stride_h=stride_h)


arrays = st.tuples(st.integers(1, 6), st.integers(1, 6))
dataflows = st.sampled_from(["os", "ws", "is"])


@given(small_layers(), arrays, dataflows, st.integers(0, 2**16))
@settings(max_examples=60)
def test_reference_equals_fast_model_equals_numpy(layer, array, dataflow, seed):
    _check_equivalence(layer, array, dataflow, seed)


@pytest.mark.slow
@given(small_layers(), st.tuples(st.integers(1, 16), st.integers(1, 16)), dataflows, st.integers(0, 2**16))
@settings(max_examples=400)
def test_reference_equals_fast_model_on_larger_arrays(layer, array, dataflow, seed):
    _check_equivalence(layer, array, dataflow, seed)


def _check_equivalence(layer, array, dataflow, seed):
    mapping = array_mapping(layer, dataflow, *array)
    ifmap, filters = random_operands(layer, seed)
    a = ifmap_matrix(layer, ifmap).astype(np.int64)
    b = filter_matrix(layer, filters).astype(np.int64)
    out, ref_cycles, ref_counts, ref_macs, consistent = reference_layer(
        a, b, mapping.fold_bounds, mapping.fold_row_index, mapping.dataflow_code, mapping.rows, mapping.cols, 32)
    fast_cycles, fast_start, fast_counts, fast_macs = run_layer_timing(mapping)
    fast_ofmap, overflow = run_layer_functional(layer, mapping, ifmap, filters, 32)
    expected = reference_ofmap(layer, ifmap, filters)

    assert consistent  # every PE met operands of the same index
    assert not overflow
    np.testing.assert_array_equal(ofmap_from_matrix(layer, out), expected)
    np.testing.assert_array_equal(fast_ofmap, expected)
    np.testing.assert_array_equal(ref_cycles, fast_cycles)
    np.testing.assert_array_equal(ref_counts, fast_counts)
    np.testing.assert_array_equal(fast_start, np.concatenate([[0], np.cumsum(fast_cycles)[:-1]]))
    assert ref_macs == fast_macs == layer.macs
    # The closed forms agree with the fold-level model.
    np.testing.assert_array_equal(fold_cycles(mapping, "native"), fast_cycles)
    np.testing.assert_array_equal(fold_sram_counts(mapping), fast_counts)
    assert layer_compute_cycles(mapping, "native") == int(fast_cycles.sum())


@given(small_layers(), arrays, dataflows, st.integers(0, 2**16), st.integers(6, 16))
@settings(max_examples=25)
def test_narrow_accumulator_wraps_like_the_reference_and_is_reported(layer, array, dataflow, seed, accumulator_bits):
    mapping = array_mapping(layer, dataflow, *array)
    ifmap, filters = random_operands(layer, seed)
    a = ifmap_matrix(layer, ifmap).astype(np.int64)
    b = filter_matrix(layer, filters).astype(np.int64)
    out = reference_layer(a, b, mapping.fold_bounds, mapping.fold_row_index, mapping.dataflow_code, mapping.rows,
                          mapping.cols, accumulator_bits)[0]
    fast_ofmap, overflow = run_layer_functional(layer, mapping, ifmap, filters, accumulator_bits)
    expected = reference_ofmap(layer, ifmap, filters)
    np.testing.assert_array_equal(fast_ofmap, ofmap_from_matrix(layer, out))
    limit = 1 << (accumulator_bits - 1)
    assert overflow == bool(np.any((expected < -limit) | (expected >= limit)))
    assert overflow == (not np.array_equal(fast_ofmap, expected))
