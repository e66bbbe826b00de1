"""Schedule realism (issue 12 item 4): with `buffers.ofmap.drain_finished`, a whole-held ofmap writes each block
of finished outputs to DRAM as it completes, while compute goes on, instead of the whole ofmap after the layer's
last step. Engine and closed form agree on every count and energy, on cycles under ideal memory, and the closed
form stays at most 5 % above the engine's timeline; the option off (the default) is today's behaviour."""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid
from sim.engine.simulate import simulate_layer
from sim.errors import ConfigError, MappingError
from sim.hardware.load import load_hardware
from sim.hardware.spec import Hardware
from sim.mapping.record import OPERANDS
from sim.mapping.systolic import fit_mapping
from sim.workload.layer import Layer

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def systolic_hw(dataflow: str, rows: int, cols: int, sizes: list[int], drain: bool, bandwidth: float = np.inf,
                latency: int = 0) -> Hardware:
    buffers = {name: {"size_kb": size / 1024} for name, size in zip(OPERANDS, sizes)}
    buffers["ofmap"]["drain_finished"] = drain
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow}, buffers=buffers,
                    dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency})


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)), ofmap_bits=draw(st.sampled_from([8, 32])))
    groups = draw(st.sampled_from([1, 2]))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
                 filter_h=f, filter_w=f, stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)),
                 groups=groups)


hardware = st.tuples(st.sampled_from(["os", "ws", "is"]), st.integers(1, 6), st.integers(1, 6),
                     st.lists(st.sampled_from([64, 256, 1024, 1 << 20]), min_size=3, max_size=3))


def strip(result):
    return replace(result, sim_wall_s=0.0)


@SETTINGS
@given(layers(), hardware, st.sampled_from([(np.inf, 0), (2.0, 7), (16.0, 1)]))
def test_engine_and_closed_form_agree_when_finished_outputs_drain_as_they_go(layer, point, memory):
    hw = systolic_hw(*point, drain=True, bandwidth=memory[0], latency=memory[1])
    try:
        mapping = fit_mapping(layer, point[0], point[1], point[2], hw.buffers)
    except MappingError:
        return
    engine, model = simulate_layer(layer, hw, mapping), estimate_systolic(layer, hw, mapping)
    for counts in ("sram_reads", "sram_writes", "dram_reads", "dram_writes"):
        assert getattr(engine, counts) == getattr(model, counts)
    assert engine.actions.get("dram.write_byte") == model.actions.get("dram.write_byte")
    assert engine.macs == model.macs == layer.macs
    if memory[0] == np.inf:
        assert engine.cycles == model.cycles and engine.energy.total_pj == model.energy.total_pj
    assert 1.05 * engine.cycles >= model.cycles
    # Every output is written exactly once when the ofmap is held whole, block by block or not.
    if "ofmap" in mapping.whole:
        assert engine.dram_writes.ofmap == layer.ofmap_elements and engine.dram_reads.ofmap == 0
    else:  # a tiled ofmap already drains tile by tile: the option changes nothing
        off = systolic_hw(*point, drain=False, bandwidth=memory[0], latency=memory[1])
        assert strip(simulate_layer(layer, off, mapping)) == strip(engine)
        assert strip(estimate_systolic(layer, off, mapping)) == strip(model)
    grid = estimate_systolic_grid(layer, np.array([point[1]]), np.array([point[2]]), point[0],
                                  ifmap_kb=point[3][0] / 1024, filter_kb=point[3][1] / 1024,
                                  ofmap_kb=point[3][2] / 1024, bandwidth_bytes_per_cycle=memory[0],
                                  latency_cycles=memory[1], drain_finished=True)
    assert int(grid["cycles"][0]) == model.cycles


def test_a_whole_ofmap_no_longer_waits_for_the_layer_end_write_back():
    # 3x3 conv, 16 -> 16 channels on an 8x8 os array, everything held whole: the 1600 outputs (32-bit, 6400 B at
    # 4 B/cycle) were written after the last fold; drained per fold, only the last fold's block remains: 100
    # pixels over 8 rows leave 4 in the last row fold, times 8 filters.
    layer = Layer(name="c", ifmap_h=12, ifmap_w=12, in_channels=16, out_channels=16, filter_h=3, filter_w=3)
    at_end = systolic_hw("os", 8, 8, [65536] * 3, drain=False, bandwidth=4.0, latency=10)
    as_finished = systolic_hw("os", 8, 8, [65536] * 3, drain=True, bandwidth=4.0, latency=10)
    before, after = simulate_layer(layer, at_end), simulate_layer(layer, as_finished)
    assert before.compute_cycles == after.compute_cycles
    assert before.cycles - after.cycles == (1600 - 4 * 8) * 4 // 4  # the write-back of all but the last block
    assert after.cycles == estimate_systolic(layer, as_finished).cycles
    assert before.dram_writes == after.dram_writes


def test_drain_finished_is_an_ofmap_buffer_option(tmp_path):
    config = tmp_path / "hw.toml"
    config.write_text('name = "t"\n[pe_array]\nrows = 2\ncols = 2\n[buffers.ifmap]\nsize_kb = 1\n'
                      'drain_finished = true\n[buffers.filter]\nsize_kb = 1\n[buffers.ofmap]\nsize_kb = 1\n'
                      '[dram]\nbandwidth_bytes_per_cycle = 4.0\n')
    with pytest.raises(ConfigError, match="ifmap.drain_finished.*only the ofmap buffer drains outputs"):
        load_hardware(config)
