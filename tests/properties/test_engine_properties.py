"""Laws of the discrete-event engine: ideal memory == the systolic closed form, monotone in bandwidth,
DRAM traffic bounded below by the unique operand data, energy conserved, runs deterministic."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import estimate_systolic
from sim.engine.simulate import simulate_layer, simulate_trace
from sim.engine.tiling import ifmap_footprint
from sim.hardware.spec import Hardware
from sim.report.writer import report_dict
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ENERGY = {
    "mac": {"pj": 0.2, "source": "test"},
    "ifmap_sram.read": {"pj": 1.0, "source": "test"},
    "filter_sram.read": {"pj": 1.0, "source": "test"},
    "ofmap_sram.write": {"pj": 1.5, "source": "test"},
    "dram.read_byte": {"pj": 20.0, "source": "test"},
    "dram.write_byte": {"pj": 20.0, "source": "test"},
    "leakage.cycle": {"pj": 3.0, "source": "test"},
}


def make_hw(rows=4, cols=4, dataflow="ws", bandwidth=math.inf, size_kb=64.0, latency=0, model="bandwidth",
            convention="native", double_buffered=True):
    dram = {"model": model, "bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency}
    if model == "bank_row":
        dram["preset"] = "DDR4-2400"
    sram = {"size_kb": size_kb, "double_buffered": double_buffered}
    return Hardware(name="test", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                           "cycle_convention": convention},
                    buffers={"ifmap": sram, "filter": sram, "ofmap": sram}, dram=dram, energy=ENERGY)


@st.composite
def layers(draw):
    kind = draw(st.sampled_from(["conv", "gemm"]))
    if kind == "gemm":
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)))
    filter_hw = draw(st.integers(1, 3))
    pad = draw(st.integers(0, filter_hw // 2))
    size = draw(st.integers(filter_hw, 9))
    groups = draw(st.sampled_from([1, 2]))
    return Layer(name="c", ifmap_h=size, ifmap_w=size, in_channels=2 * draw(st.integers(1, 3)),
                 out_channels=2 * draw(st.integers(1, 4)), filter_h=filter_hw, filter_w=filter_hw,
                 stride_h=draw(st.integers(1, 2)), stride_w=1, pad_top=pad, pad_bottom=pad, pad_left=pad,
                 pad_right=pad, groups=groups)


arrays = st.tuples(st.integers(2, 6), st.integers(2, 6))
dataflows = st.sampled_from(["os", "ws", "is"])
# Buffer sizes from "everything fits" down to a few hundred bytes (tiling, partial-sum spills).
sizes = st.sampled_from([64.0, 2.0, 0.5])


def fits(layer, hw):
    try:
        return simulate_layer(layer, hw)
    except Exception as err:  # a tile that cannot fit is a MappingError: skip those draws
        from sim.errors import MappingError
        if isinstance(err, MappingError):
            return None
        raise


@settings(max_examples=30)
@given(layers(), arrays, dataflows, sizes, st.sampled_from(["native", "scalesim"]))
def test_unlimited_bandwidth_has_no_stalls_and_matches_the_closed_form(layer, array, dataflow, size_kb, convention):
    hw = make_hw(*array, dataflow, size_kb=size_kb, convention=convention)
    result = fits(layer, hw)
    if result is None:
        return
    closed = estimate_systolic(layer, hw)
    assert result.stall_cycles == 0
    assert result.cycles == result.compute_cycles == closed.compute_cycles
    assert result.sram_reads == closed.sram_reads
    assert result.sram_writes.ofmap == closed.sram_writes.ofmap


@settings(max_examples=25)
@given(layers(), arrays, dataflows)
def test_ideal_memory_counts_equal_the_closed_form(layer, array, dataflow):
    hw = make_hw(*array, dataflow, size_kb=64.0)
    result = simulate_layer(layer, hw)
    closed = estimate_systolic(layer, hw)
    for name in ("cycles", "compute_cycles", "stall_cycles", "folds", "sram_reads", "sram_writes", "dram_reads",
                 "dram_writes", "actions", "macs"):
        assert getattr(result, name) == getattr(closed, name), name
    assert math.isclose(result.energy.total_pj, closed.energy.total_pj)


@settings(max_examples=25)
@given(layers(), arrays, dataflows, sizes, st.sampled_from([1.0, 3.0, 16.0]),
       st.sampled_from(["bandwidth", "bank_row"]), st.integers(0, 20))
def test_halving_bandwidth_never_reduces_cycles(layer, array, dataflow, size_kb, bandwidth, model, latency):
    fast = fits(layer, make_hw(*array, dataflow, bandwidth, size_kb, latency, model))
    if fast is None:
        return
    slow = simulate_layer(layer, make_hw(*array, dataflow, bandwidth / 2, size_kb, latency, model))
    assert slow.cycles >= fast.cycles >= fast.compute_cycles
    assert slow.stall_cycles == slow.cycles - slow.compute_cycles


@settings(max_examples=30)
@given(layers(), arrays, dataflows, sizes, st.sampled_from([math.inf, 4.0]))
def test_dram_reads_cover_the_unique_data_and_equal_it_when_everything_fits(layer, array, dataflow, size_kb, bw):
    hw = make_hw(*array, dataflow, bw, size_kb)
    result = fits(layer, hw)
    if result is None:
        return
    g = layer.gemm
    touched = g.groups * ifmap_footprint(layer, 0, g.m, 0, g.k)
    assert result.dram_reads.ifmap >= touched
    assert result.dram_reads.filter >= g.groups * g.k * g.n
    assert result.dram_writes.ofmap >= layer.ofmap_elements
    if size_kb == 64.0:
        assert result.dram_reads.ifmap == layer.ifmap_elements
        assert result.dram_reads.filter == g.groups * g.k * g.n
        assert result.dram_reads.ofmap == 0
        assert result.dram_writes.ofmap == layer.ofmap_elements


@settings(max_examples=20)
@given(layers(), arrays, dataflows, sizes, st.sampled_from([math.inf, 2.0]))
def test_energy_total_is_the_sum_of_its_parts(layer, array, dataflow, size_kb, bw):
    result = fits(layer, make_hw(*array, dataflow, bw, size_kb))
    if result is None:
        return
    parts = result.energy.as_dict()
    assert math.isclose(result.energy.total_pj, sum(parts.values()))
    priced = sum(count * ENERGY[key]["pj"] for key, count in result.actions.items if key in ENERGY)
    assert math.isclose(result.energy.total_pj, priced)


def _without_wall_time(report):
    for layer in report["layers"]:
        layer.pop("sim_wall_s")
    report["totals"].pop("sim_wall_s")
    return report


@settings(max_examples=10)
@given(st.lists(layers(), min_size=1, max_size=3), arrays, dataflows, st.booleans())
def test_same_inputs_give_identical_reports(layer_list, array, dataflow, overlap):
    trace = Trace(name="t", layers=tuple(layer_list))
    hw = make_hw(*array, dataflow, 2.0, 2.0, 5, "bank_row")
    try:
        first = simulate_trace(trace, hw, overlap_weight_prefetch=overlap)
    except Exception as err:
        from sim.errors import MappingError
        if isinstance(err, MappingError):
            return
        raise
    second = simulate_trace(trace, hw, overlap_weight_prefetch=overlap)
    assert _without_wall_time(report_dict(first)) == _without_wall_time(report_dict(second))
    assert dict(first.metadata)["bandwidth_windows"] == dict(second.metadata)["bandwidth_windows"]


def test_weight_prefetch_overlap_never_slows_a_run_and_hides_weight_loads():
    # Weight-heavy layers (big filters, small ifmaps): overlapping the next layer's weights helps.
    layer = Layer.gemm_layer("fc", m=4, n=64, k=64)
    trace = Trace(name="fc3", layers=(layer, layer, layer))
    hw = make_hw(8, 8, "ws", 4.0, 16.0)
    plain = simulate_trace(trace, hw)
    overlapped = simulate_trace(trace, hw, overlap_weight_prefetch=True)
    assert sum(r.cycles for r in overlapped.layers) < sum(r.cycles for r in plain.layers)
    assert [r.dram_reads for r in overlapped.layers] == [r.dram_reads for r in plain.layers]
    assert np.all([r.cycles >= r.compute_cycles for r in overlapped.layers])


@pytest.mark.slow
@settings(max_examples=200)
@given(layers(), arrays, dataflows, sizes, st.sampled_from([1.0, 3.0, 16.0]),
       st.sampled_from(["bandwidth", "bank_row"]), st.integers(0, 20), st.booleans())
def test_slow_bandwidth_monotonicity_and_conservation(layer, array, dataflow, size_kb, bandwidth, model, latency,
                                                       double_buffered):
    hw = make_hw(*array, dataflow, bandwidth, size_kb, latency, model, double_buffered=double_buffered)
    fast = fits(layer, hw)
    if fast is None:
        return
    slow = simulate_layer(layer, make_hw(*array, dataflow, bandwidth / 2, size_kb, latency, model,
                                         double_buffered=double_buffered))
    assert slow.cycles >= fast.cycles >= fast.compute_cycles
    extra = dict(fast.extra)
    assert extra["dram.read_bytes"] + extra["dram.write_bytes"] == fast.actions.get("dram.read_byte") + \
        fast.actions.get("dram.write_byte")
    assert extra["pe_array.busy_cycles"] + extra["pe_array.idle_cycles"] == fast.cycles


@pytest.mark.slow
def test_slow_large_layers_on_ddr4_keep_the_invariants():
    trace = Trace(name="big", layers=(
        Layer(name="conv", ifmap_h=58, ifmap_w=58, in_channels=64, out_channels=64, filter_h=3, filter_w=3),
        Layer(name="pw", ifmap_h=56, ifmap_w=56, in_channels=64, out_channels=256),
        Layer.gemm_layer("fc", m=1, n=1000, k=2048),
    ))
    for dataflow in ("os", "ws", "is"):
        hw = make_hw(32, 32, dataflow, 19.2, 64.0, 0, "bank_row")
        run = simulate_trace(trace, hw, overlap_weight_prefetch=True)
        for result, layer in zip(run.layers, trace.layers):
            assert result.cycles >= result.compute_cycles == estimate_systolic(layer, hw).compute_cycles
            assert result.dram_writes.ofmap >= layer.ofmap_elements
