"""The mapper's model runs (sim.mapper.runs): a whole engine run of a layer chain is, layer by layer, each layer run
alone with the residency it gets in the trace (ifmap on chip / ofmap kept), every field but the wall time; so the
mapper composes whole-trace contenders from cached per-layer runs. Likewise the closed form. On a DRAM that keeps
state between layers (bank_row, ddr) the mapper runs contenders whole instead."""
from dataclasses import fields
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.hardware.spec import Hardware
from sim.mapper.runs import LayerRuns, composes
from sim.mapper.space import layer_space
from sim.mapping.record import OPERANDS
from sim.mapping.residency import trace_residency
from sim.workload.layer import Layer
from sim.workload.trace import Trace
from tests.properties.test_keep_outputs_on_chip import chains

ROOT = Path(__file__).parents[2]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def small_hw(rows, cols, sizes, bandwidth, latency, drain, double) -> Hardware:
    buffers = {name: {"size_kb": size / 1024} for name, size in zip(OPERANDS, sizes)}
    buffers["ofmap"].update(keep_for_next_layer=True, drain_finished=drain)
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": "ws",
                                        "double_buffered_stationary": double},
                    buffers=buffers, dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency})


hardware = st.tuples(st.integers(1, 6), st.integers(1, 6),
                     st.lists(st.sampled_from([64, 256, 1024, 1 << 20]), min_size=3, max_size=3),
                     st.sampled_from([1.0, 3.0, 16.0, float("inf")]), st.sampled_from([0, 4, 30]), st.booleans(),
                     st.booleans())


def _same(alone, whole) -> None:
    for f in fields(whole):
        if f.name != "sim_wall_s":
            assert getattr(alone, f.name) == getattr(whole, f.name), f.name


@SETTINGS
@given(chains(), hardware, st.data())
def test_a_whole_run_is_each_layer_alone_with_its_residency(trace, point, data):
    hw = small_hw(*point)
    mappings = []
    for layer in trace.layers:
        space = layer_space(layer, hw)
        if not space.families:
            return
        batch = space.all()
        # Prefer records holding ifmap and ofmap whole, so layers do link on chip.
        linked = [i for i in range(len(batch)) if batch.whole[0][i] and batch.whole[2][i]]
        pool = linked if linked and data.draw(st.booleans()) else list(range(len(batch)))
        mappings.append(batch.record(layer, hw, data.draw(st.sampled_from(pool))))
    names = [layer.name for layer in trace.layers]
    try:
        whole = sim.simulate(trace, hw, mapping=dict(zip(names, mappings)))
    except sim.errors.MappingError:
        return
    analytical = sim.estimate(trace, hw, mapping=dict(zip(names, mappings)))
    assert composes(trace.layers, hw)
    runs = LayerRuns(hw, 0, {}, hw.model_dump_json())
    residencies = trace_residency(list(zip(trace.layers, mappings)), hw)
    for layer, mapping, residency, engine, model in zip(trace.layers, mappings, residencies, whole.layers,
                                                        analytical.layers):
        _same(runs.engine(layer, mapping, residency), engine)
        _same(runs.closed_form(layer, mapping, residency), model)
    # The composed trace is the same records again, served from the store.
    for alone, engine in zip(runs.engine_trace(trace, mappings), whole.layers):
        _same(alone, engine)


def test_dram_with_state_between_layers_runs_contenders_whole():
    layer = Layer(name="a", ifmap_h=6, ifmap_w=6, in_channels=4, out_channels=8, filter_h=3, filter_w=3)
    trace = Trace(name="t", layers=(layer, Layer(name="b", ifmap_h=4, ifmap_w=4, in_channels=8, out_channels=8,
                                                 filter_h=1, filter_w=1)))
    banked = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4.toml")
    assert composes(trace.layers, small_hw(2, 2, [1 << 20] * 3, 4.0, 4, False, False))
    assert not composes(trace.layers, banked)
    runs = LayerRuns(banked, 0, {}, banked.model_dump_json())
    mappings = [sim.map_layer(layer, banked) for layer in trace.layers]
    whole = sim.simulate(trace, banked)
    assert [r.cycles for r in runs.engine_trace(trace, mappings)] == [r.cycles for r in whole.layers]
    assert runs.engine_runs == 1 and any(key[0] == "engine_trace" for key in runs.store)
