"""The directive model on hand-computable cases, its LayerResult, and maestro.csv."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sim.analytical.directives import estimate_directive
from sim.errors import ConfigError, MappingError
from sim.hardware.spec import DirectiveArraySpec, Hardware, PeArraySpec
from sim.mapping.directives import map_layer_directives
from sim.report.maestro_csv import COLUMNS, MAESTRO_HEADER, write_maestro_csv
from sim.workload.layer import Layer
from sim.workload.maestro import load_mapping_file, parse_dataflow

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "data" / "maestro"


def hw(num_pes=4, noc=1000, offchip=1000, **kwargs) -> Hardware:
    return Hardware(name="t", directive_array=DirectiveArraySpec(cycle_convention="maestro", 
        num_pes=num_pes, l1_size_bytes=64, l2_size_bytes=4096, noc_bandwidth_words_per_cycle=noc,
        offchip_bandwidth_words_per_cycle=offchip, **kwargs))


def test_gemm_output_stationary_by_hand():
    """M=4 rows over 4 PEs, K streamed: each PE accumulates its output, filter rows are multicast."""
    layer = Layer.gemm_layer("g", m=4, n=2, k=3)
    dataflow = parse_dataflow("SpatialMap(1,1) M; TemporalMap(1,1) N; TemporalMap(1,1) K;")
    result = estimate_directive(layer, hw(), dataflow)
    extra = dict(result.extra)
    assert extra["Num MACs"] == layer.macs == 24
    assert extra["Top Level Steps"] == 2 * 3
    # First step: 4 input elements (one per PE) + 1 multicast filter element; then 4 + 1 new per K step,
    # and on an N step the input column is reloaded (K wraps around) with a new filter element.
    assert extra["input l2 read"] == 4 * 6 and extra["filter l2 read"] == 6
    # Outputs stay in the PEs while K runs (temporal reduction) and leave when N moves: 4 per N plus the first.
    assert extra["output l2 write"] == 4 * 2
    assert extra["L1 SRAM Size Req (Bytes)"] == 2 * (1 + 1 + 1)
    assert extra["L2 SRAM Size Req (Bytes)"] == 2 * (4 + 1) + 2 * 4
    # Each step: compute 1 cycle (one MAC per PE); the first adds the 1-cycle fill.
    assert result.cycles == 6 + 1
    assert extra["Avg number of utilized PEs"] == 4


def test_noc_bandwidth_bounds_latency():
    layer = Layer.gemm_layer("g", m=8, n=1, k=4)
    dataflow = parse_dataflow("SpatialMap(1,1) M; TemporalMap(1,1) K; TemporalMap(1,1) N;")
    fast = estimate_directive(layer, hw(num_pes=8, noc=1000), dataflow)
    slow = estimate_directive(layer, hw(num_pes=8, noc=2), dataflow)
    # 8 new inputs + 1 filter element per step over a 2-element/cycle NoC: 5 cycles, not 1.
    assert dict(slow.extra)["Ingress Delay (Max)"] == 5
    assert slow.cycles > fast.cycles and slow.stall_cycles > 0
    assert dict(fast.extra)["NoC BW Req (Elements/cycle)"] == 9


def test_vector_width_divides_compute():
    layer = Layer(name="c", ifmap_h=4, ifmap_w=4, in_channels=8, out_channels=4, filter_h=3, filter_w=3)
    dataflow = load_mapping_file(REPO / "mappings" / "x_p_os.m")
    one = dict(estimate_directive(layer, hw(num_pes=2), dataflow).extra)
    four = dict(estimate_directive(layer, hw(num_pes=2, vector_width=4), dataflow).extra)
    assert four["Compute Delay (Max)"] == -(-one["Compute Delay (Max)"] // 4)


@pytest.mark.parametrize("mapping", ["kcp_ws.m", "yr_p_rs.m", "x_p_os.m", "c_p.m"])
def test_shipped_mappings_cover_conv_layers_exactly(mapping):
    dataflow = load_mapping_file(REPO / "mappings" / mapping)
    for layer in (Layer(name="a", ifmap_h=9, ifmap_w=9, in_channels=5, out_channels=7, filter_h=3, filter_w=3),
                  Layer(name="b", ifmap_h=11, ifmap_w=11, in_channels=3, out_channels=4, filter_h=3, filter_w=3,
                        stride_h=2, stride_w=2),
                  Layer(name="c", ifmap_h=6, ifmap_w=6, in_channels=4, out_channels=6, batch=2)):
        result = estimate_directive(layer, hw(num_pes=64), dataflow)
        assert dict(result.extra)["MAC Coverage"] == 1.0, (mapping, layer.name)
        assert result.cycles > 0 and 0 < result.utilization <= 1


def test_layer_result_and_energy_conservation():
    layer = Layer(name="c", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=4, filter_h=3, filter_w=3)
    dataflow = load_mapping_file(REPO / "mappings" / "kcp_ws.m")
    hardware = Hardware(name="m", directive_array=DirectiveArraySpec(cycle_convention="maestro", 
        num_pes=256, l1_size_bytes=100, l2_size_bytes=3000, noc_bandwidth_words_per_cycle=1000,
        offchip_bandwidth_words_per_cycle=50),
        energy={"mac": {"pj": 1.0, "source": "t"}, "l1.read": {"pj": 1.68, "source": "t"},
                "l1.write": {"pj": 1.68, "source": "t"}, "l2.read": {"pj": 18.61, "source": "t"},
                "l2.write": {"pj": 18.61, "source": "t"}})
    result = estimate_directive(layer, hardware, dataflow)
    actions = result.actions.as_dict()
    expected = (actions["mac"] + 1.68 * (actions["l1.read"] + actions["l1.write"])
                + 18.61 * (actions["l2.read"] + actions["l2.write"]))
    assert result.energy.total_pj == pytest.approx(expected)
    # MAESTRO's column is the buffers' share (L1 + L2), without the MACs.
    assert dict(result.extra)["Activity count-based Energy (nJ)"] == pytest.approx((expected - actions["mac"]) / 1000)
    assert result.model == "analytical" and result.macs == layer.macs
    assert result.compute_cycles + result.stall_cycles == result.cycles
    assert result.to_dict()["extra"]["Runtime (Cycles)"] == result.cycles


def test_errors_for_unsupported_inputs():
    dataflow = parse_dataflow("SpatialMap(1,1) K;")
    layer = Layer(name="c", ifmap_h=4, ifmap_w=4, in_channels=4, out_channels=4)
    systolic = Hardware(name="s", pe_array=PeArraySpec(rows=2, cols=2),
                        buffers={"ifmap": {"size_kb": 1}, "filter": {"size_kb": 1}, "ofmap": {"size_kb": 1}},
                        dram={"bandwidth_bytes_per_cycle": 8})
    with pytest.raises(ConfigError, match="directive_array"):
        estimate_directive(layer, systolic, dataflow)
    grouped = Layer(name="g", ifmap_h=4, ifmap_w=4, in_channels=4, out_channels=4, groups=2)
    with pytest.raises(MappingError, match="dense and depthwise"):
        map_layer_directives(grouped, dataflow, 4)
    with pytest.raises(MappingError, match="does not have"):
        map_layer_directives(layer, parse_dataflow("SpatialMap(1,1) M;"), 256)  # M is a GEMM dimension


def test_a_conv_dataflow_maps_a_gemm_layer_as_its_1x1_convolution():
    gemm = Layer.gemm_layer("fc", m=3, n=10, k=64)
    mapping = map_layer_directives(gemm, load_mapping_file(REPO / "mappings" / "kcp_ws.m"), 256)
    assert mapping.layer_type == "CONV"
    assert mapping.sizes == {"N": 1, "C": 64, "R": 1, "S": 1, "Y": 3, "X": 1, "K": 10}


def test_maestro_csv_header_and_columns(tmp_path):
    from sim.hardware.maestro_hw import load_maestro_hardware
    from sim.workload.maestro import load_maestro_network, to_layer

    network = load_maestro_network(DATA / "mappings" / "example.m")
    hardware = load_maestro_hardware(DATA / "accelerator_1.m", convention="maestro")
    results = [estimate_directive(to_layer(layer), hardware, layer.dataflow) for layer in network.layers]
    path = write_maestro_csv(results, tmp_path / "maestro.csv", network=network.name)
    lines = path.read_text().splitlines()
    assert lines[0] == MAESTRO_HEADER == (DATA / "outputs" / "example.csv").read_text().splitlines()[0]
    row = next(csv.reader(lines[1:]))
    assert len(row) == len(COLUMNS) == 52
    ours = dict(zip(COLUMNS, row))
    reference = dict(zip(COLUMNS, next(csv.reader((DATA / "outputs" / "example.csv").read_text().splitlines()[1:]))))
    for column in ("Neural Network Name", "Layer Number", "NumPEs", "Runtime (Cycles)", "L2 SRAM Size Req (Bytes)",
                   "L1 SRAM Size Req (Bytes)", "Num MACs", "Avg number of utilized PEs"):
        assert float(ours[column]) == float(reference[column]) if column not in ("Neural Network Name", "Layer Number") \
            else ours[column] == reference[column].strip()
    assert ours["Area"] == "" and ours["Power"] == ""  # MAESTRO's cost tables are not modelled


def test_runtime_grid_rejects_bad_bandwidths():
    from sim.analytical.directives import runtime_grid

    layer = Layer.gemm_layer("g", m=4, n=2, k=3)
    dataflow = parse_dataflow("SpatialMap(1,1) M; TemporalMap(1,1) N; TemporalMap(1,1) K;")
    with pytest.raises(ConfigError, match=">= 1"):
        runtime_grid(layer, hw(), dataflow, [0, 4], [8])
    assert runtime_grid(layer, hw(), dataflow, [1000], [1000]).shape == (1, 1)
