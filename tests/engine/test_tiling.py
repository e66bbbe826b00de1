"""Tile planning: footprints equal a brute-force im2col count; chunks fit their slots; cycles are conserved."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import fold_cycles
from sim.engine.tiling import ifmap_footprint, operand_capacity, plan_layer
from sim.errors import MappingError
from sim.hardware.spec import BuffersSpec
from sim.mapping.operands import ifmap_matrix
from sim.mapping.systolic import SystolicMapping
from sim.workload.layer import Layer


@st.composite
def conv_layers(draw):
    kind = draw(st.sampled_from(["conv", "tconv"]))
    f = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 2))
    pad = draw(st.integers(0, f - 1 if kind == "tconv" else f // 2))
    dilation = draw(st.integers(1, 2))
    size = draw(st.integers(dilation * (f - 1) + 1, 7))
    return Layer(name="x", kind=kind, ifmap_h=size, ifmap_w=size + 1, in_channels=draw(st.integers(1, 3)),
                 out_channels=2, filter_h=f, filter_w=f, stride_h=stride, stride_w=stride, pad_top=pad,
                 pad_bottom=pad, pad_left=pad, pad_right=pad, dilation_h=dilation, dilation_w=dilation,
                 batch=draw(st.integers(1, 2)))


@settings(max_examples=40)
@given(conv_layers(), st.data())
def test_ifmap_footprint_equals_distinct_pixels_of_the_im2col_block(layer, data):
    g = layer.gemm
    m0 = data.draw(st.integers(0, g.m - 1))
    m1 = data.draw(st.integers(m0 + 1, g.m))
    k0 = data.draw(st.integers(0, g.k - 1))
    k1 = data.draw(st.integers(k0 + 1, g.k))
    ids = np.arange(1, layer.ifmap_elements + 1, dtype=np.int64).reshape(
        layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels)
    block = ifmap_matrix(layer, ids)[0, m0:m1, k0:k1]
    expected = np.unique(block[block > 0]).size  # 0 marks padding / inserted zeros
    assert ifmap_footprint(layer, m0, m1, k0, k1) == expected


def buffers(kb):
    sram = {"size_kb": kb}
    return BuffersSpec(ifmap=sram, filter=sram, ofmap=sram)


@settings(max_examples=30)
@given(st.integers(1, 40), st.integers(1, 20), st.integers(1, 40), st.sampled_from(["os", "ws", "is"]),
       st.sampled_from([0.25, 1.0, 64.0]))
def test_steps_conserve_cycles_and_tiles_fit_their_slots(m, n, k, dataflow, kb):
    layer = Layer.gemm_layer("g", m=m, n=n, k=k)
    mapping = SystolicMapping(layer, dataflow, 4, 4)
    cycles = fold_cycles(mapping, "native")
    plan = plan_layer(layer, buffers(kb), mapping, cycles)
    assert plan.compute_cycles == int(cycles.sum())
    assert sorted(set(plan.steps[:, 0].tolist())) == list(range(mapping.folds))
    for name, tiles in plan.tiles.items():
        assert all(t.elements <= plan.slot_elements[name] for t in tiles)
        assert np.all(np.diff(plan.steps[:, 2 + ("ifmap", "filter", "ofmap").index(name)]) >= 0)


def test_a_stationary_block_larger_than_a_slot_is_a_mapping_error():
    layer = Layer.gemm_layer("g", m=64, n=64, k=64)
    mapping = SystolicMapping(layer, "ws", 32, 32)  # a 32x32 filter block = 1024 bytes > 512-byte slot
    with pytest.raises(MappingError, match="buffers.filter.size_kb: .*stationary filter block.*got 512"):
        plan_layer(layer, buffers(1.0), mapping, fold_cycles(mapping, "native"))


def test_double_buffering_halves_the_slot():
    layer = Layer.gemm_layer("g", m=4, n=4, k=4)
    slots, slot = operand_capacity(buffers(1.0), layer)
    assert slots["ifmap"] == 2 and slot["ifmap"] == 512 and slot["ofmap"] == 128  # 32-bit ofmap elements
    assert math.isclose(slot["filter"] * slots["filter"], 1024)
