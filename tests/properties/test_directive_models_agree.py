"""The directive analytical model (native convention) prices the schedule the directive engine runs: for random
layers x random valid directive mappings x random bandwidths, latencies, L2 sizes and buffering, both count the
same MACs, words, accesses and energy exactly, and their cycles agree to within 5 % (the engine's SimPy event
order may serve a DRAM read and a write issued in the same cycle the other way round; in practice exactly)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.analytical.directives import estimate_directive
from sim.engine.directives import simulate_directive_layer
from sim.hardware.maestro_hw import load_maestro_hardware
from sim.workload.maestro import load_mapping_file
from sim.workload.trace_csv import load_trace_csv
from tests.properties.test_directive_engine_properties import SETTINGS, cases, hardware

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.05


def assert_agree(analytical, engine) -> None:
    assert analytical.model == "analytical" and engine.model == "engine"
    assert abs(analytical.cycles - engine.cycles) <= TOLERANCE * engine.cycles
    assert analytical.compute_cycles == engine.compute_cycles
    assert analytical.macs == engine.macs
    assert analytical.actions == engine.actions  # every count exactly: MACs, L1, L2, NoC, DRAM
    assert analytical.energy == engine.energy
    assert (analytical.sram_reads, analytical.sram_writes, analytical.dram_reads, analytical.dram_writes) == \
        (engine.sram_reads, engine.sram_writes, engine.dram_reads, engine.dram_writes)


@SETTINGS
@given(cases(), st.sampled_from([1, 2, 3, 8, float("inf")]), st.sampled_from([1, 2, 5, float("inf")]),
       st.integers(0, 3), st.sampled_from([16, 256, 1 << 20]), st.booleans())
def test_native_model_agrees_with_the_engine(case, noc, offchip, latency, l2_size_bytes, double_buffered):
    layer, dataflow, num_pes = case
    hw = hardware(num_pes, noc=noc, offchip=offchip, latency=latency, l2_size_bytes=l2_size_bytes,
                  double_buffered=double_buffered)
    assert_agree(estimate_directive(layer, hw, dataflow), simulate_directive_layer(layer, hw, dataflow))


@pytest.mark.parametrize("mapping", ["kcp_ws.m", "yr_p_rs.m", "x_p_os.m", "c_p.m"])
def test_shipped_mappings_agree_on_the_shipped_hardware(mapping):
    hw = load_maestro_hardware(ROOT / "hw_configs" / "maestro" / "accelerator_1.m")
    dataflow = load_mapping_file(ROOT / "mappings" / mapping)
    trace = load_trace_csv(ROOT / "traces" / "resnet18.csv")
    for layer in trace.layers[1:6]:  # the first 3x3 block and a 1x1 shortcut-free stage: fast, covers RS edges
        assert_agree(estimate_directive(layer, hw, dataflow), simulate_directive_layer(layer, hw, dataflow))


def test_maestro_convention_keeps_maestro_numbers():
    """Under the named "maestro" convention the model is MAESTRO's: the shipped row-stationary mapping on
    layer1.0.conv1 keeps its 2,293,760 cycles (native: the engine's 688,406)."""
    trace = load_trace_csv(ROOT / "traces" / "resnet18.csv")
    layer = next(layer for layer in trace.layers if layer.name == "layer1.0.conv1")
    dataflow = load_mapping_file(ROOT / "mappings" / "yr_p_rs.m")
    path = ROOT / "hw_configs" / "maestro" / "accelerator_1.m"
    assert estimate_directive(layer, load_maestro_hardware(path, convention="maestro"), dataflow).cycles == 2_293_760
    native = load_maestro_hardware(path)
    assert estimate_directive(layer, native, dataflow).cycles == simulate_directive_layer(layer, native, dataflow).cycles
