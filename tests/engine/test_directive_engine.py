"""The directive engine on the shipped mappings: exact functional execution, the report fields `sim compare`
lines up with the directive model, the trace driver and the errors users see."""
from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.analytical.directives import estimate_directive
from sim.engine.directives import simulate_directive_layer, simulate_directive_trace
from sim.errors import ConfigError, MappingError
from sim.hardware.load import load_hardware
from sim.hardware.spec import DirectiveArraySpec, Hardware, PeArraySpec
from sim.workload.layer import Layer
from sim.workload.maestro import load_mapping_file, parse_dataflow
from sim.workload.trace import Trace

ROOT = Path(__file__).parents[2]
MAESTRO_HW = ROOT / "hw_configs" / "maestro" / "accelerator_1.m"
SHIPPED = sorted((ROOT / "mappings").glob("*.m"))
LAYERS = [
    Layer(name="conv", ifmap_h=7, ifmap_w=6, in_channels=5, out_channels=3, filter_h=3, filter_w=2, batch=2),
    Layer(name="strided", ifmap_h=9, ifmap_w=8, in_channels=3, out_channels=4, filter_h=3, filter_w=3, stride_h=2,
          stride_w=2, pad_top=1, pad_left=1),
    Layer(name="fc", kind="gemm", ifmap_h=5, in_channels=7, out_channels=6),
    Layer(name="dw", ifmap_h=6, ifmap_w=6, in_channels=4, out_channels=4, filter_h=3, filter_w=3, groups=4),
    Layer(name="up", kind="tconv", ifmap_h=3, ifmap_w=3, in_channels=2, out_channels=3, filter_h=3, filter_w=3,
          stride_h=2, stride_w=2),
]


def array(num_pes: int = 128, **changes) -> Hardware:
    maestro = load_hardware(MAESTRO_HW)
    spec = maestro.directive_array.model_copy(update={"num_pes": num_pes, **changes})
    return maestro.model_copy(update={"directive_array": spec})


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_shipped_mappings_execute_every_mac_exactly_once(path, layer):
    dataflow = load_mapping_file(path)
    if path.stem.startswith("systolic") and layer.kind != "gemm":
        pytest.skip("the systolic files name GEMM dimensions (M, N, K)")
    try:
        result = simulate_directive_layer(layer, array(), dataflow, seed=3, functional=True)
    except MappingError as err:
        pytest.skip(f"not a legal mapping of this layer: {err}")
    assert result.macs == layer.macs
    assert result.functional.max_abs_error == 0.0 and result.functional.elements == layer.ofmap_elements


def test_gemm_dimensions_with_two_levels_execute_exactly():
    dataflow = parse_dataflow("""Dataflow { TemporalMap(3,3) N; SpatialMap(2,2) M; TemporalMap(4,4) K;
        Cluster(4, P); TemporalMap(3,3) N; TemporalMap(2,2) M; SpatialMap(1,1) K; }""")
    layer = Layer(name="g", kind="gemm", ifmap_h=7, in_channels=9, out_channels=5)
    result = simulate_directive_layer(layer, array(16), dataflow, functional=True)
    assert result.macs == layer.macs and result.functional.max_abs_error == 0.0


def test_result_carries_the_directive_models_statistics_under_the_same_names():
    dataflow = load_mapping_file(ROOT / "mappings" / "kcp_ws.m")
    layer = LAYERS[0]
    engine = dict(simulate_directive_layer(layer, array(), dataflow).extra)
    model = dict(estimate_directive(layer, array(), dataflow).extra)
    for key in ("Runtime (Cycles)", "NoC BW Req (Elements/cycle)", "L1 SRAM Size Req (Bytes)",
                "L2 SRAM Size Req (Bytes)", "Num MACs", "Avg number of utilized PEs", "input l2 read",
                "filter l2 read", "output l2 write", "NoC Traffic (Elements)"):
        assert key in engine and key in model
    assert engine["Num MACs"] == model["Num MACs"] == layer.macs


def test_layer_not_fitting_l2_moves_every_noc_word_through_dram():
    dataflow = load_mapping_file(ROOT / "mappings" / "x_p_os.m")
    layer = LAYERS[0]
    roomy = simulate_directive_layer(layer, array(l2_size_bytes=1 << 20), dataflow)
    tight = simulate_directive_layer(layer, array(l2_size_bytes=16), dataflow)
    extra = dict(tight.extra)
    assert dict(roomy.extra)["Fits L2"] == 1 and extra["Fits L2"] == 0
    assert roomy.actions.get("dram.read_byte") == layer.ifmap_elements + layer.filter_elements
    assert tight.actions.get("dram.read_byte") >= extra["input l2 read"] + extra["filter l2 read"]
    assert tight.cycles >= roomy.cycles


def test_trace_driver_and_api_dispatch():
    dataflow = load_mapping_file(ROOT / "mappings" / "c_p.m")
    trace = Trace(name="t", layers=(LAYERS[0], LAYERS[1]), dataflows=(dataflow, dataflow))
    run = simulate_directive_trace(trace, array(), seed=1)
    assert [layer.model for layer in run.layers] == ["engine", "engine"]
    assert run.totals()["macs"] == LAYERS[0].macs + LAYERS[1].macs
    assert sim.simulate(trace, array(), seed=1).layers[0].cycles == run.layers[0].cycles


def test_same_seed_same_numbers():
    dataflow = load_mapping_file(ROOT / "mappings" / "yr_p_rs.m")
    a = simulate_directive_layer(LAYERS[0], array(), dataflow, seed=5, functional=True)
    b = simulate_directive_layer(LAYERS[0], array(), dataflow, seed=5, functional=True)
    assert (a.cycles, a.actions, a.functional) == (b.cycles, b.actions, b.functional)


def test_missing_dataflow_is_a_mapping_error_naming_the_layer():
    trace = Trace(name="t", layers=(LAYERS[0],))
    with pytest.raises(MappingError, match="'conv' has no Dataflow"):
        simulate_directive_trace(trace, array())


def test_hardware_without_a_directive_array_is_a_config_error():
    hw = Hardware(name="sys", pe_array=PeArraySpec(rows=2, cols=2), buffers=load_hardware(
        ROOT / "hw_configs" / "scalesim_32x32_ws.toml").buffers, dram=load_hardware(
        ROOT / "hw_configs" / "scalesim_32x32_ws.toml").dram)
    with pytest.raises(ConfigError, match="directive_array"):
        simulate_directive_trace(Trace(name="t", layers=(LAYERS[0],)), hw)


def test_functional_on_a_huge_layer_is_refused_with_the_limit():
    big = Layer(name="big", ifmap_h=230, ifmap_w=230, in_channels=64, out_channels=64, filter_h=3, filter_w=3)
    with pytest.raises(MappingError, match=r"big\.functional.*tiles"):
        simulate_directive_layer(big, array(256), load_mapping_file(ROOT / "mappings" / "c_p.m"), functional=True)


def test_directive_array_spec_is_what_the_engine_reads():
    assert isinstance(array().directive_array, DirectiveArraySpec)
