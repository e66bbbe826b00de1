"""The analytical systolic model's DRAM traffic == the engine's tile plan, exactly; its cycles are at least the
compute and at most 5 % above the engine's (roofline + first tiles + latency + last drain + the tile changes a
single-buffered operand serializes, whose per-step averages may slightly exceed the engine's timeline); the
vectorized grid == the scalar estimate."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid
from sim.engine.simulate import simulate_layer
from sim.engine.tiling import ifmap_footprint
from sim.errors import MappingError, TraceError
from sim.hardware.spec import Hardware
from sim.mapping.footprint import block_footprints
from sim.mapping.systolic import DATAFLOW_NAMES
from sim.workload.layer import Layer


@st.composite
def layers(draw):
    kind = draw(st.sampled_from(["conv", "conv", "depthwise", "tconv", "gemm"]))
    if kind == "gemm":
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)), batch=draw(st.integers(1, 2)))
    filter_h, filter_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    in_channels = groups * draw(st.integers(1, 3))
    out_channels = groups * draw(st.integers(1, 3))
    if kind == "depthwise":
        groups = in_channels = out_channels = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 2))
    stride_h, stride_w = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    pads = [draw(st.integers(0, size - 1)) for size in (filter_h, filter_h, filter_w, filter_w)]
    size = draw(st.integers(dilation * (max(filter_h, filter_w) - 1) + 1, 8))
    try:
        return Layer(name="c", kind="tconv" if kind == "tconv" else "conv", ifmap_h=size, ifmap_w=size + 1,
                     in_channels=in_channels, out_channels=out_channels, filter_h=filter_h, filter_w=filter_w,
                     stride_h=stride_h, stride_w=stride_w, pad_top=pads[0], pad_bottom=pads[1], pad_left=pads[2],
                     pad_right=pads[3], dilation_h=dilation, dilation_w=1, groups=groups,
                     batch=draw(st.integers(1, 2)))
    except TraceError:
        assume(False)


def make_hw(rows, cols, dataflow, sizes_kb, double_buffered, bandwidth=math.inf, latency=0, filter_port=None):
    dram = {"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency}
    if filter_port is not None:
        dram["filter_bandwidth_bytes_per_cycle"] = filter_port
    buffers = {name: {"size_kb": kb, "double_buffered": double_buffered}
               for name, kb in zip(("ifmap", "filter", "ofmap"), sizes_kb)}
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow}, buffers=buffers,
                    dram=dram)


arrays = st.tuples(st.integers(1, 6), st.integers(1, 6))
dataflows = st.sampled_from(["os", "ws", "is"])
# From "everything fits" down to tens of bytes (tiles chunked over T, partial sums drained and read back).
sizes = st.tuples(*[st.sampled_from([64.0, 1.0, 0.25, 0.0625])] * 3)


def both(layer, hw):
    """(analytical, engine), or None when the engine refuses the mapping (then the model must refuse alike)."""
    try:
        engine = simulate_layer(layer, hw)
    except MappingError as engine_error:
        with pytest.raises(MappingError) as model_error:
            estimate_systolic(layer, hw)
        assert str(model_error.value) == str(engine_error)
        return None
    return estimate_systolic(layer, hw), engine


@settings(max_examples=120, deadline=None)
@given(layers(), arrays, dataflows, sizes, st.booleans())
def test_dram_traffic_per_operand_equals_the_engines_tile_plan(layer, array, dataflow, sizes_kb, double_buffered):
    pair = both(layer, make_hw(*array, dataflow, sizes_kb, double_buffered))
    if pair is None:
        return
    model, engine = pair
    assert model.dram_reads == engine.dram_reads
    assert model.dram_writes == engine.dram_writes
    assert model.sram_reads == engine.sram_reads and model.sram_writes == engine.sram_writes
    # Unlimited bandwidth, no latency: no stalls on either side, so everything equals exactly.
    assert model.cycles == model.compute_cycles == engine.cycles
    assert model.actions.as_dict() == engine.actions.as_dict()


@settings(max_examples=80, deadline=None)
@given(layers(), arrays, dataflows, sizes, st.booleans(), st.sampled_from([0.5, 2.0, 16.0]),
       st.sampled_from([0, 7, 100]), st.sampled_from([None, 0.25, 1.0]))
def test_cycles_are_at_most_5_percent_above_the_engines(layer, array, dataflow, sizes_kb, double_buffered, bandwidth,
                                                 latency, filter_port):
    pair = both(layer, make_hw(*array, dataflow, sizes_kb, double_buffered, bandwidth, latency, filter_port))
    if pair is None:
        return
    model, engine = pair
    assert model.dram_reads == engine.dram_reads and model.dram_writes == engine.dram_writes
    assert model.compute_cycles == engine.compute_cycles
    assert model.compute_cycles <= model.cycles <= 1.05 * engine.cycles
    assert model.stall_cycles == model.cycles - model.compute_cycles


@settings(max_examples=60, deadline=None)
@given(layers(), st.data())
def test_block_footprints_equal_the_engines_per_block_count(layer, data):
    m_total, k_total = layer.gemm.m, layer.gemm.k
    m_cuts = data.draw(st.lists(st.integers(1, max(m_total - 1, 1)), max_size=3))
    k_cuts = data.draw(st.lists(st.integers(1, max(k_total - 1, 1)), max_size=3))
    m_edges = np.array(sorted({0, m_total, *(c for c in m_cuts if c < m_total)}))
    k_edges = np.array(sorted({0, k_total, *(c for c in k_cuts if c < k_total)}))
    blocks = block_footprints(layer, m_edges, k_edges)
    for i in range(m_edges.size - 1):
        for j in range(k_edges.size - 1):
            assert blocks[i, j] == ifmap_footprint(layer, m_edges[i], m_edges[i + 1], k_edges[j], k_edges[j + 1])


@settings(max_examples=60, deadline=None)
@given(layers(), st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6), dataflows), min_size=1, max_size=4),
       sizes, st.booleans(), st.sampled_from([math.inf, 3.0]), st.sampled_from([0, 9]))
def test_grid_equals_the_scalar_estimate_point_by_point(layer, points, sizes_kb, double_buffered, bandwidth, latency):
    rows = np.array([p[0] for p in points])
    cols = np.array([p[1] for p in points])
    codes = np.array([DATAFLOW_NAMES.index(p[2]) for p in points])
    grid = estimate_systolic_grid(layer, rows, cols, codes, ifmap_kb=sizes_kb[0], filter_kb=sizes_kb[1],
                                  ofmap_kb=sizes_kb[2], bandwidth_bytes_per_cycle=bandwidth,
                                  double_buffered=double_buffered, latency_cycles=latency)
    for i, (r, c, flow) in enumerate(points):
        hw = make_hw(r, c, flow, sizes_kb, double_buffered, bandwidth, latency)
        try:
            result = estimate_systolic(layer, hw)
        except MappingError:
            assert not grid["fits"][i]
            continue
        assert grid["fits"][i]
        assert (grid["dram_ifmap_reads"][i], grid["dram_filter_reads"][i], grid["dram_ofmap_reads"][i]) == (
            result.dram_reads.ifmap, result.dram_reads.filter, result.dram_reads.ofmap)
        assert grid["dram_ofmap_writes"][i] == result.dram_writes.ofmap
        assert grid["cycles"][i] == result.cycles and grid["stall_cycles"][i] == result.stall_cycles


@pytest.mark.slow
@pytest.mark.parametrize("config", ["scalesim_32x32_ws_ddr4", "eyeriss_12x14", "tpu_v1_256x256_ws"])
def test_slow_resnet18_traffic_equals_and_cycles_bound_the_engine_on_shipped_configs(config):
    from pathlib import Path

    from sim import estimate, load_hardware, load_trace
    from sim.engine.simulate import simulate_trace

    root = Path(__file__).resolve().parents[2]
    hw = load_hardware(root / "hw_configs" / f"{config}.toml")
    trace = load_trace(root / "traces" / "resnet18.csv")
    engine = simulate_trace(trace, hw)
    # Both models of the whole trace: a tensor kept on chip between layers (TPU v1's outputs) is in neither's DRAM.
    for layer, model, simulated in zip(trace.layers, estimate(trace, hw).layers, engine.layers):
        assert (model.dram_reads, model.dram_writes) == (simulated.dram_reads, simulated.dram_writes), layer.name
        assert model.compute_cycles <= model.cycles <= 1.05 * simulated.cycles, layer.name
