"""One layer with the user's tensors: integer operands give numpy's exact integer result on the systolic array,
the crossbars (lossless ADC) and the directive engine; float operands are quantized and their error is measured
against the float result; wrong shapes and unquantized floats are errors."""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.errors import MappingError
from sim.functional.layer import float_ofmap, hardware_ofmap
from sim.functional.quantize import QuantConfig
from sim.hardware.spec import AdcSpec, ReramSpec
from sim.mapping.operands import filter_shape, ifmap_shape, reference_ofmap
from sim.workload.layer import Layer

ROOT = Path(__file__).parents[3]
SYSTOLIC = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
ISAAC = sim.load_hardware(ROOT / "hw_configs" / "isaac.toml")


@st.composite
def layers(draw):
    kind = draw(st.sampled_from(["conv", "gemm"]))
    if kind == "gemm":
        return Layer.gemm_layer("g", m=draw(st.integers(1, 9)), n=draw(st.integers(1, 7)), k=draw(st.integers(1, 40)))
    groups = draw(st.sampled_from([1, 2]))
    filter_h, filter_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = draw(st.integers(0, 1))
    return Layer(name="c", ifmap_h=draw(st.integers(filter_h, 7)), ifmap_w=draw(st.integers(filter_w, 7)),
                 in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
                 filter_h=filter_h, filter_w=filter_w, stride_h=draw(st.integers(1, 2)), pad_top=pad,
                 pad_bottom=pad, pad_left=pad, pad_right=pad, groups=groups, batch=draw(st.integers(1, 2)))


def operands(layer, ifmap_bits, filter_bits, seed, signed=True):
    rng = np.random.default_rng(seed)
    low = -(1 << (ifmap_bits - 1)) if signed else 0
    high = (1 << (ifmap_bits - 1)) if signed else (1 << ifmap_bits)
    ifmap = rng.integers(low, high, size=ifmap_shape(layer))
    filters = rng.integers(-(1 << (filter_bits - 1)), 1 << (filter_bits - 1), size=filter_shape(layer))
    return ifmap, filters


@given(layers(), st.integers(2, 8), st.integers(2, 8), st.integers(0, 2**16))
def test_systolic_values_equal_numpys_integer_product(layer, ifmap_bits, filter_bits, seed):
    ifmap, filters = operands(layer, ifmap_bits, filter_bits, seed)
    assert np.array_equal(hardware_ofmap(layer, SYSTOLIC, ifmap, filters), reference_ofmap(layer, ifmap, filters))


@given(layers(), st.integers(2, 10), st.integers(2, 10), st.integers(1, 3), st.integers(1, 2), st.booleans(),
       st.sampled_from(["offset", "unit_column", "differential"]), st.integers(0, 2**16))
def test_crossbar_values_with_a_lossless_adc_equal_numpys_integer_product(layer, input_bits, weight_bits, cell_bits,
                                                                          dac_bits, signed, encoding, seed):
    reram = ReramSpec(crossbar_rows=16, crossbar_cols=64, cell_bits=cell_bits, weight_bits=weight_bits,
                      input_bits=input_bits, dac_bits=dac_bits, signed_inputs=signed, signed_weights=encoding,
                      adc=AdcSpec(bits="lossless"), tiles=4096)
    hw = ISAAC.model_copy(update={"reram": reram})
    ifmap, filters = operands(layer, input_bits, weight_bits, seed, signed)
    out = hardware_ofmap(layer, hw, ifmap, filters)
    assert np.array_equal(out, reference_ofmap(layer, ifmap, filters))


def test_directive_values_equal_numpys_integer_product():
    hw = sim.load_hardware(ROOT / "hw_configs" / "maestro" / "accelerator_1.m")
    dataflow = sim.load_mapping(ROOT / "mappings" / "kcp_ws.m")
    layer = Layer(name="conv", ifmap_h=6, ifmap_w=5, in_channels=3, out_channels=4, filter_h=3, filter_w=2, batch=2)
    ifmap, filters = operands(layer, 8, 8, 1)
    out = hardware_ofmap(layer, hw, ifmap, filters, dataflow=dataflow)
    assert np.array_equal(out, reference_ofmap(layer, ifmap, filters))


@pytest.mark.parametrize("hw, bound", [(SYSTOLIC, 0.05), (ISAAC, 1e-3)])
def test_float_tensors_are_quantized_and_the_error_is_against_the_float_result(hw, bound):
    layer = Layer(name="c", ifmap_h=6, ifmap_w=6, in_channels=3, out_channels=5, filter_h=3, filter_w=3, batch=2)
    rng = np.random.default_rng(0)
    ifmap, filters = rng.normal(size=ifmap_shape(layer)), rng.normal(size=filter_shape(layer))
    values = sim.layer_values(layer, hw, ifmap, filters)
    np.testing.assert_array_equal(values.reference, float_ofmap(layer, ifmap, filters))
    assert values.max_abs_error == float(np.max(np.abs(values.outputs - values.reference)))
    assert 0 < values.relative_rms_error < bound
    narrower = sim.layer_values(layer, hw, ifmap, filters, quantization=QuantConfig(weight_bits=4, input_bits=4))
    assert narrower.relative_rms_error > values.relative_rms_error


def test_asymmetric_activations_with_padding_are_corrected_exactly():
    layer = Layer(name="c", ifmap_h=5, ifmap_w=5, in_channels=2, out_channels=3, filter_h=3, filter_w=3,
                  pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    rng = np.random.default_rng(2)
    ifmap = rng.uniform(1.0, 2.0, size=ifmap_shape(layer))  # all positive: a zero point far from 0
    filters = rng.normal(size=filter_shape(layer))
    values = sim.layer_values(layer, SYSTOLIC, ifmap, filters, quantization=QuantConfig(input_scheme="asymmetric"))
    assert values.ifmap.params.zero_point.item() == -128
    assert values.relative_rms_error < 0.02


def test_tensors_from_npy_files(tmp_path):
    layer = Layer.gemm_layer("g", m=3, n=2, k=4)
    ifmap, filters = operands(layer, 8, 8, 0)
    np.save(tmp_path / "x.npy", ifmap)
    np.savez(tmp_path / "w.npz", w=filters)
    values = sim.layer_values(layer, SYSTOLIC, tmp_path / "x.npy", tmp_path / "w.npz")
    np.testing.assert_array_equal(values.outputs, reference_ofmap(layer, ifmap, filters))


def test_wrong_shape_is_a_mapping_error_naming_the_layer_and_the_expected_shape():
    layer = Layer.gemm_layer("fc1", m=3, n=2, k=4)
    with pytest.raises(MappingError, match=r"fc1.filters.*\(2, 1, 1, 4\)"):
        sim.layer_values(layer, SYSTOLIC, np.zeros((1, 3, 1, 4)), np.zeros((2, 1, 1, 5)))


def test_unquantized_floats_never_reach_the_kernels():
    layer = Layer.gemm_layer("g", m=1, n=1, k=2)
    with pytest.raises(MappingError, match="quantize float tensors first"):
        hardware_ofmap(layer, ISAAC, np.zeros((1, 1, 1, 2)), np.full((1, 1, 1, 2), 0.5))
