"""RED: the pixel-wise mapping of a transposed conv gives the zero-insertion path's outputs, and its reads
and conversions are the non-zero work only."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.analytical.crossbar import estimate_crossbar
from sim.engine.crossbar import simulate_crossbar_layer
from sim.errors import MappingError, TraceError
from sim.hardware.spec import AdcSpec, Hardware, ReramSpec
from sim.kernels.deconv import tconv_pixel_wise, tconv_reference, tconv_zero_insertion, zero_inserted
from sim.mapping.crossbar import BitSlicing, map_crossbar
from sim.workload.layer import Layer


@st.composite
def tconv_layers(draw):
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride_h, stride_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dil_h, dil_w = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    fields = dict(name="t", kind="tconv", ifmap_h=draw(st.integers(1, 5)), ifmap_w=draw(st.integers(1, 5)),
                 in_channels=draw(st.integers(1, 6)), out_channels=draw(st.integers(1, 5)), filter_h=r, filter_w=s,
                 stride_h=stride_h, stride_w=stride_w, dilation_h=dil_h, dilation_w=dil_w,
                 pad_top=draw(st.integers(0, dil_h * (r - 1))), pad_bottom=draw(st.integers(0, dil_h * (r - 1))),
                 pad_left=draw(st.integers(0, dil_w * (s - 1))), pad_right=draw(st.integers(0, dil_w * (s - 1))),
                 output_padding_h=draw(st.integers(0, stride_h - 1)),
                 output_padding_w=draw(st.integers(0, stride_w - 1)), batch=draw(st.integers(1, 2)))
    try:
        return Layer(**fields)
    except TraceError:  # a filter wider than the cropped, zero-inserted input
        assume(False)


def slicing(rows=16, **fields):
    return BitSlicing(**{"crossbar_rows": rows, "rows_per_partition": rows, "cell_bits": 2, "weight_bits": 8,
                         "input_bits": 8, "dac_bits": 1, "signed_inputs": True, "signed_weights": "offset",
                         "adc_bits": None, **fields})


def direct_conv(z, weights, layer):
    """The lowered stride-1 convolution over the zero-inserted input, loop by loop (the definition)."""
    e, f = layer.ofmap_hw
    out = np.zeros((z.shape[0], e, f, layer.out_channels), dtype=np.int64)
    for r in range(layer.filter_h):
        for s in range(layer.filter_w):
            window = z[:, r * layer.dilation_h:r * layer.dilation_h + e, s * layer.dilation_w:s * layer.dilation_w + f]
            out += np.einsum("befc,cn->befn", window.astype(np.int64), weights[r, s].astype(np.int64))
    return out


@settings(max_examples=50, deadline=None)
@given(layer=tconv_layers(), seed=st.integers(0, 2**16), lossless=st.booleans())
def test_pixel_wise_and_zero_insertion_give_identical_outputs(layer, seed, lossless):
    rng = np.random.default_rng(seed)
    ifmap = rng.integers(-128, 128, size=(layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels))
    weights = rng.integers(-128, 128, size=(layer.filter_h, layer.filter_w, layer.in_channels, layer.out_channels))
    exact = direct_conv(zero_inserted(ifmap, layer), weights, layer)
    assert np.array_equal(tconv_reference(ifmap, weights, layer), exact)
    # ideal ADC or ISAAC's lossless 8-bit ADC with the column flip on 128-row crossbars
    cfg = slicing() if not lossless else slicing(rows=128, adc_bits=8, column_flip=True)
    red, red_run = tconv_pixel_wise(ifmap, weights, layer, cfg)
    zeros, zero_run = tconv_zero_insertion(ifmap, weights, layer, cfg)
    assert np.array_equal(red, exact) and np.array_equal(zeros, exact)
    assert red_run.output_error == zero_run.output_error == 0.0
    # RED drives only real pixels: its crossbar rows see B*H*W vectors instead of B*E*F windows
    assert red_run.exact.shape[0] == layer.batch * layer.ifmap_h * layer.ifmap_w


@settings(max_examples=50, deadline=None)
@given(layer=tconv_layers())
def test_pixel_wise_reads_and_conversions_are_the_non_zero_work(layer):
    red = map_crossbar(layer, Hardware(name="h", reram=ReramSpec(deconv="pixel_wise", chips="auto")))
    zeros = map_crossbar(layer, Hardware(name="h", reram=ReramSpec(chips="auto")))
    assert red.pixel_wise and not zeros.pixel_wise
    assert red.crossbar_gemm.macs == layer.effective_macs  # every product has a real input
    assert zeros.crossbar_gemm.macs == layer.macs
    # the zero-insertion path's products with a real input are at most RED's (RED also computes the partial
    # products that padding crops away, then drops them in the overlap-add)
    ones = np.ones((layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels), dtype=np.int64)
    kernel = np.ones((layer.filter_h, layer.filter_w, layer.in_channels, layer.out_channels), dtype=np.int64)
    real_products = int(direct_conv(zero_inserted(ones, layer), kernel, layer).sum())
    assert real_products <= red.crossbar_gemm.macs
    if layer.pad_top == layer.pad_left == layer.pad_bottom == layer.pad_right == 0:
        assert real_products == red.crossbar_gemm.macs
    t, slices = red.input_slices, red.weight_slices
    real_pixels = layer.batch * layer.ifmap_h * layer.ifmap_w
    # one read per real pixel and input slice on every crossbar; each driven row carries a real input
    assert red.crossbar_reads == real_pixels * t * red.row_partitions * red.col_partitions
    assert red.dac_conversions == t * layer.ifmap_elements * red.col_partitions
    # one conversion per (real pixel, kernel position, filter, weight slice): the non-zero partial products
    assert red.adc_conversions == t * slices * real_pixels * layer.filter_h * layer.filter_w \
        * layer.out_channels * red.row_partitions
    assert red.overlap_adds == real_pixels * layer.filter_h * layer.filter_w * layer.out_channels


def test_engine_runs_a_pixel_wise_layer_exactly_and_the_option_off_changes_nothing():
    layer = Layer(name="t", kind="tconv", ifmap_h=4, ifmap_w=4, in_channels=32, out_channels=16, filter_h=5,
                  filter_w=5, stride_h=2, stride_w=2, pad_top=2, pad_bottom=2, pad_left=2, pad_right=2,
                  output_padding_h=1, output_padding_w=1)
    hw = Hardware(name="h", reram=ReramSpec(deconv="pixel_wise", adc=AdcSpec(column_flip=True)))
    result = simulate_crossbar_layer(layer, hw, functional=True, seed=5)
    assert result.crossbar.output_error == 0.0 and dict(result.extra)["deconv_pixel_wise"] == 1.0
    analytical = estimate_crossbar(layer, hw)
    assert result.crossbar == analytical.crossbar.__class__(**{**analytical.crossbar.__dict__,
                                                                "output_error": 0.0,
                                                                "adc_bits_required": result.crossbar.adc_bits_required})
    assert result.sram_writes.ofmap == layer.ofmap_elements
    plain = Hardware(name="h", reram=ReramSpec())
    assert map_crossbar(layer, plain).crossbar_gemm == layer.gemm


def test_functional_deconvolution_refuses_other_layers():
    conv = Layer(name="c", ifmap_h=3, ifmap_w=3, in_channels=2, out_channels=2, filter_h=3, filter_w=3)
    with pytest.raises(MappingError, match="tconv"):
        tconv_pixel_wise(np.zeros((1, 3, 3, 2), dtype=np.int64), np.zeros((3, 3, 2, 2), dtype=np.int64), conv,
                         slicing())
    layer = Layer(name="t", kind="tconv", ifmap_h=2, ifmap_w=2, in_channels=2, out_channels=2, filter_h=3,
                  filter_w=3, stride_h=2, stride_w=2)
    with pytest.raises(MappingError, match="do not match"):
        tconv_zero_insertion(np.zeros((1, 3, 3, 2), dtype=np.int64), np.zeros((3, 3, 2, 2), dtype=np.int64), layer,
                             slicing())


def test_a_block_circulant_tconv_is_refused_pixel_wise():
    layer = Layer(name="bt", kind="tconv", ifmap_h=2, ifmap_w=2, in_channels=8, out_channels=8, filter_h=1,
                  filter_w=1, stride_h=2, stride_w=2, block_size=8)
    with pytest.raises(MappingError, match="zero_insertion"):
        map_crossbar(layer, Hardware(name="h", reram=ReramSpec(deconv="pixel_wise")))
    assert map_crossbar(layer, Hardware(name="h", reram=ReramSpec())).block_size == 8
