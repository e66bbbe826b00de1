"""Across layers (issue 12 item 5): with `buffers.ofmap.keep_for_next_layer`, a conv layer's output stays on chip
for the next layer of the trace when it reads that tensor and both fit (sim.mapping.residency). The engine and the
closed form agree layer by layer; the traffic saved is exactly the next layer's ifmap read and, where no later
layer could read the tensor, this layer's ofmap write; SCALE-Sim-compatible hardware keeps today's numbers."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.engine.simulate import simulate_trace
from sim.errors import ConfigError
from sim.hardware.spec import Hardware
from sim.mapping.record import OPERANDS
from sim.mapping.residency import IN_DRAM, Residency, keeps_outputs_on_chip, trace_residency
from sim.mapping.systolic import map_systolic, operand_totals
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).parents[2]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def systolic_hw(dataflow, rows, cols, sizes, keep=None, convention="native", bandwidth=np.inf, latency=0,
                drain=False) -> Hardware:
    buffers = {name: {"size_kb": size / 1024} for name, size in zip(OPERANDS, sizes)}
    buffers["ofmap"].update(keep_for_next_layer=keep, drain_finished=drain)
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                        "cycle_convention": convention},
                    buffers=buffers, dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency})


@st.composite
def chains(draw):
    """A trace of 2-4 conv layers, each reading the previous one's output (same padding keeps sizes)."""
    size, channels = draw(st.integers(2, 6)), draw(st.integers(1, 3))
    layers = []
    for i in range(draw(st.integers(2, 4))):
        f = draw(st.sampled_from([1, 3]))
        stride = draw(st.sampled_from([1, 1, 2]))
        out = draw(st.integers(1, 4))
        layer = Layer(name=f"c{i}", ifmap_h=size, ifmap_w=size, in_channels=channels, out_channels=out, filter_h=f,
                      filter_w=f, stride_h=stride, stride_w=stride, pad_top=f // 2, pad_bottom=f // 2,
                      pad_left=f // 2, pad_right=f // 2, ofmap_bits=draw(st.sampled_from([8, 32])))
        layers.append(layer)
        size, channels = layer.ofmap_hw[0], out
    return Trace(name="chain", layers=tuple(layers))


hardware = st.tuples(st.sampled_from(["os", "ws", "is"]), st.integers(1, 6), st.integers(1, 6),
                     st.lists(st.sampled_from([64, 256, 1024, 1 << 20]), min_size=3, max_size=3), st.booleans())


def strip(result):
    return replace(result, sim_wall_s=0.0)


@SETTINGS
@given(chains(), hardware)
def test_engine_equals_closed_form_layer_by_layer_with_outputs_kept_on_chip(trace, point):
    dataflow, rows, cols, sizes, drain = point
    hw = systolic_hw(dataflow, rows, cols, sizes, drain=drain)
    try:
        engine, model = sim.simulate(trace, hw), sim.estimate(trace, hw)
    except sim.errors.MappingError:
        return
    for e, a in zip(engine.layers, model.layers):
        assert e.cycles == a.cycles and e.compute_cycles == a.compute_cycles
        for counts in ("sram_reads", "sram_writes", "dram_reads", "dram_writes"):
            assert getattr(e, counts) == getattr(a, counts)
        assert e.actions == a.actions and e.energy == a.energy
    # A finite channel: the same traffic, layer by layer.
    slow = systolic_hw(dataflow, rows, cols, sizes, bandwidth=3.0, latency=4, drain=drain)
    engine, model = sim.simulate(trace, slow), sim.estimate(trace, slow)
    for e, a in zip(engine.layers, model.layers):
        assert (e.dram_reads, e.dram_writes) == (a.dram_reads, a.dram_writes)
        assert e.actions.get("dram.write_byte") == a.actions.get("dram.write_byte")


@SETTINGS
@given(chains(), hardware)
def test_the_traffic_saved_is_exactly_the_next_ifmap_read_and_the_unread_ofmap_write(trace, point):
    dataflow, rows, cols, sizes, _ = point
    hw = systolic_hw(dataflow, rows, cols, sizes)
    try:
        mappings = [map_systolic(layer, hw) for layer in trace.layers]
    except sim.errors.MappingError:
        return
    residency = trace_residency(list(zip(trace.layers, mappings)), hw)
    kept, alone = simulate_trace(trace, hw), simulate_trace(trace, hw, keep_outputs_on_chip=False)
    off = simulate_trace(trace, systolic_hw(dataflow, rows, cols, sizes, keep=False))
    assert [strip(r) for r in off.layers] == [strip(r) for r in alone.layers]
    for layer, where, on, today in zip(trace.layers, residency, kept.layers, alone.layers):
        totals = operand_totals(layer)
        assert on.dram_reads.ifmap == (0 if where.ifmap_on_chip else today.dram_reads.ifmap)
        assert on.dram_writes.ofmap == (0 if where.ofmap_kept else today.dram_writes.ofmap)
        assert (on.dram_reads.filter, on.dram_reads.ofmap) == (today.dram_reads.filter, today.dram_reads.ofmap)
        if not where.ofmap_kept:  # every output reaches DRAM once
            assert on.dram_writes.ofmap - on.dram_reads.ofmap == totals["ofmap"]
        assert on.macs == today.macs and on.compute_cycles == today.compute_cycles
        assert on.energy.total_pj <= today.energy.total_pj + 1e-6
    assert residency[0].ifmap_on_chip is False and residency[-1].ofmap_kept is False  # the trace's input and output
    for i, where in enumerate(residency[:-1]):  # a kept output is read on chip by the next layer
        assert not where.ofmap_kept or residency[i + 1].ifmap_on_chip


def test_a_chain_that_fits_skips_the_inner_traffic_and_a_possible_second_reader_keeps_the_write():
    a = Layer(name="a", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=8, filter_h=3, filter_w=3, pad_top=1,
              pad_bottom=1, pad_left=1, pad_right=1)
    b = replace(a, name="b", in_channels=8)
    c = replace(b, name="c")  # reads an 8x8x8 tensor as b does: it could be a's output again (a shortcut)
    hw = systolic_hw("ws", 8, 8, [1 << 20] * 3)
    mappings = [map_systolic(layer, hw) for layer in (a, b, c)]
    # a's output goes on chip to b, and to DRAM too (c might read it); b's goes to c only; c's is the trace's output.
    assert trace_residency(list(zip((a, b, c), mappings)), hw) == (
        IN_DRAM, Residency(ifmap_on_chip=True, ofmap_kept=True), Residency(ifmap_on_chip=True))
    assert trace_residency(list(zip((a, b), mappings)), hw) == (Residency(ofmap_kept=True),
                                                                Residency(ifmap_on_chip=True))
    run = simulate_trace(Trace(name="ab", layers=(a, b)), hw)
    assert run.layers[0].dram_writes.ofmap == 0 and run.layers[1].dram_reads.ifmap == 0
    assert run.layers[1].dram_writes.ofmap == b.ofmap_elements  # the trace's output reaches DRAM


def test_the_rule_is_conservative():
    a = Layer(name="a", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=8, filter_h=1, filter_w=1)
    b = replace(a, name="b", in_channels=8)
    big = systolic_hw("ws", 8, 8, [1 << 20] * 3)

    def link(layers, hw):
        return trace_residency([(layer, map_systolic(layer, hw)) for layer in layers], hw)

    assert link((a, b), big)[1].ifmap_on_chip
    assert link((a, replace(b, in_channels=4)), big) == (IN_DRAM, IN_DRAM)  # another tensor
    gemm_a, gemm_b = Layer.gemm_layer("p", m=16, n=8, k=8), Layer.gemm_layer("q", m=16, n=8, k=8)
    assert link((gemm_a, gemm_b), big) == (IN_DRAM, IN_DRAM)  # projections of one input look alike
    small_ofmap = systolic_hw("ws", 8, 8, [1 << 20, 1 << 20, 512])  # a's ofmap is not held whole
    assert link((a, b), small_ofmap) == (IN_DRAM, IN_DRAM)
    # A stride-2 b reads 128 of a's 512 outputs: its read set fits a 256 B ifmap slot (held whole), the tensor not.
    strided = replace(b, stride_h=2, stride_w=2)
    tight_ifmap = systolic_hw("ws", 8, 8, [512, 1 << 20, 1 << 20])
    assert "ifmap" in map_systolic(strided, tight_ifmap).whole
    assert link((a, strided), tight_ifmap) == (IN_DRAM, IN_DRAM)
    assert link((a, strided), big)[1].ifmap_on_chip
    # SCALE-Sim's convention leaves it off unless set; set, it applies.
    assert not keeps_outputs_on_chip(systolic_hw("ws", 8, 8, [1 << 20] * 3, convention="scalesim"))
    assert link((a, b), systolic_hw("ws", 8, 8, [1 << 20] * 3, keep=True, convention="scalesim"))[1].ifmap_on_chip


def test_scalesim_configs_and_cfg_inputs_keep_every_tensor_in_dram():
    for path in sorted((ROOT / "hw_configs").glob("scalesim*.toml")) + sorted((ROOT / "hw_configs" / "scalesim").glob(
            "*.cfg")):
        assert not keeps_outputs_on_chip(sim.load_hardware(path)), path.name
    assert keeps_outputs_on_chip(sim.load_hardware(ROOT / "hw_configs" / "tpu_v1_256x256_ws.toml"))


def test_only_the_ofmap_buffer_keeps_outputs(tmp_path):
    config = tmp_path / "hw.toml"
    config.write_text('name = "t"\n[pe_array]\nrows = 2\ncols = 2\n[buffers.ifmap]\nsize_kb = 1\n'
                      'keep_for_next_layer = true\n[buffers.filter]\nsize_kb = 1\n[buffers.ofmap]\nsize_kb = 1\n'
                      '[dram]\nbandwidth_bytes_per_cycle = 4.0\n')
    with pytest.raises(ConfigError, match="ifmap.keep_for_next_layer.*only the ofmap buffer keeps a layer's output"):
        sim.load_hardware(config)
