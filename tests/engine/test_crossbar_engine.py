"""The crossbar engine: the (who, when) sequence of a tiny layer, ADC and eDRAM contention, the pipelines."""
import numpy as np
import pytest

from sim.analytical.crossbar import estimate_crossbar, timing
from sim.engine.crossbar import (
    pipeline_schedule,
    simulate_crossbar_layer,
    simulate_crossbar_trace,
    simulate_tile,
)
from sim.errors import MappingError
from sim.hardware.spec import AdcSpec, Hardware, ReramSpec
from sim.mapping.crossbar import map_crossbar
from sim.workload.layer import Layer
from sim.workload.trace import Trace

TINY = {"crossbar_rows": 16, "crossbar_cols": 16, "weight_bits": 4, "input_bits": 4, "clock_mhz": 1000,
        "read_latency_ns": 10, "adc": AdcSpec(sample_rate_gsps=1.0, cols_per_adc=16), "edram_port_bits": 16,
        "bus_bits": 32, "noc_flit_bits": 16}


def tiny_hw(**fields) -> Hardware:
    return Hardware(name="tiny", reram=ReramSpec(**{**TINY, **fields}))


def gemm(m=3, n=4, k=8, **kw) -> Layer:
    return Layer.gemm_layer("fc", m=m, n=n, k=k, ifmap_bits=4, filter_bits=4, **kw)


def test_tiny_layer_event_sequence_is_exact():
    mapping = map_crossbar(gemm(), tiny_hw())
    run = simulate_tile(mapping, timing(mapping), log=True)
    # fetch: 2 eDRAM accesses + 1 bus transfer per vector; crossbar: fill read 10, then 4 reads x 10 per vector
    # (reads bound the 8-cycle conversions); writeback: 1 eDRAM write + 1 flit; drain: one more stage
    assert run.log == [
        ("fetch", "batch 0 ready", 3), ("fetch", "batch 1 ready", 5),  # the bus overlaps the next eDRAM read
        ("crossbar0", "batch 0 converted", 53), ("writeback", "batch 0 written", 55),
        ("fetch", "batch 2 ready", 57),  # waited for the writeback on the shared eDRAM port
        ("crossbar0", "batch 1 converted", 93), ("writeback", "batch 1 written", 95),
        ("crossbar0", "batch 2 converted", 133), ("writeback", "batch 2 written", 135),
    ]
    assert run.finish == 145 and run.edram_wait_cycles == 1


def test_shared_adcs_make_crossbars_wait():
    layer = gemm(m=4, n=16, k=16)  # 16 outputs x 2 slices = 2 crossbars of 16 columns in one IMA
    plenty = simulate_crossbar_layer(layer, tiny_hw(adcs_per_ima=8))
    scarce = simulate_crossbar_layer(layer, tiny_hw(adcs_per_ima=1, read_latency_ns=1))
    assert dict(plenty.extra)["adc_wait_cycles"] == 0
    assert dict(scarce.extra)["adc_wait_cycles"] > 0
    assert dict(scarce.extra)["adc_stage_cycles"] == 2 * 16  # 2 waves of 16 conversions per read round
    assert scarce.cycles >= 4 * 4 * 2 * 16  # 4 vectors x 4 reads x 2 waves x 16 conversions


def test_narrow_edram_port_stalls_the_crossbars():
    layer = gemm(m=64, n=4, k=16)
    fast = simulate_crossbar_layer(layer, tiny_hw())
    slow = simulate_crossbar_layer(layer, tiny_hw(edram_port_bits=1, bus_bits=1))
    assert slow.compute_cycles == fast.compute_cycles
    assert slow.stall_cycles > fast.stall_cycles and dict(slow.extra)["input_wait_cycles"] > 0
    analytical = estimate_crossbar(layer, tiny_hw(edram_port_bits=1, bus_bits=1))
    assert analytical.stall_cycles > 0
    # the closed form is the bandwidth bound; the engine adds the input registers' double-buffer coupling
    assert analytical.cycles <= slow.cycles <= 1.3 * analytical.cycles


def test_engine_matches_analytical_with_ideal_memory_on_isaac_like_timing():
    hw = Hardware(name="isaac-like", reram=ReramSpec())
    layer = Layer(name="c", ifmap_h=10, ifmap_w=10, in_channels=32, out_channels=32, filter_h=3, filter_w=3)
    engine, analytical = simulate_crossbar_layer(layer, hw), estimate_crossbar(layer, hw)
    assert engine.compute_cycles == analytical.compute_cycles
    assert engine.cycles == pytest.approx(analytical.cycles, rel=0.01)


def test_functional_run_reports_zero_error_when_lossless_and_error_when_starved():
    layer = Layer(name="c", ifmap_h=4, ifmap_w=4, in_channels=8, out_channels=4, filter_h=3, filter_w=3)
    good = simulate_crossbar_layer(layer, Hardware(name="h", reram=ReramSpec(adc=AdcSpec(column_flip=True))),
                                   functional=True, seed=1)
    assert good.crossbar.output_error == 0.0 and good.functional.elements == 4 * 4
    assert good.crossbar.adc_bits_required <= 8
    starved = simulate_crossbar_layer(layer, Hardware(name="h", reram=ReramSpec(adc=AdcSpec(bits=4))),
                                      functional=True, seed=1)
    assert starved.crossbar.output_error > 0
    again = simulate_crossbar_layer(layer, Hardware(name="h", reram=ReramSpec(adc=AdcSpec(bits=4))),
                                    functional=True, seed=1)
    assert again.crossbar.output_error == starved.crossbar.output_error
    assert simulate_crossbar_layer(layer, Hardware(name="h", reram=ReramSpec())).crossbar.output_error is None


def test_functional_compressed_circulant_layer_is_exact():
    layer = Layer.gemm_layer("bc", m=2, n=32, k=64, block_size=8)
    hw = Hardware(name="h", reram=ReramSpec(block_circulant="compressed", duplication="auto",
                                            adc=AdcSpec(bits="lossless")))
    result = simulate_crossbar_layer(layer, hw, functional=True)
    assert result.crossbar.output_error == 0.0 and dict(result.extra)["rounds"] < 8


def test_inter_layer_pipeline_overlaps_layers():
    hw = Hardware(name="isaac-like", reram=ReramSpec(tiles=4, replicate_layers=False))
    trace = Trace("t", (Layer(name="c1", ifmap_h=10, ifmap_w=10, in_channels=8, out_channels=16, filter_h=3, filter_w=3),
                        Layer(name="c2", ifmap_h=8, ifmap_w=8, in_channels=16, out_channels=16, filter_h=3, filter_w=3),
                        Layer.gemm_layer("fc", m=1, n=10, k=1024)))
    run = simulate_crossbar_trace(trace, hw)
    meta = dict(run.metadata)
    cycles = [layer.cycles for layer in run.layers]
    assert max(cycles) <= meta["pipeline_cycles"] < sum(cycles)
    starts = [dict(layer.extra)["pipeline_start"] for layer in run.layers]
    assert starts[1] < dict(run.layers[0].extra)["pipeline_finish"]  # c2 starts before c1 ends
    assert starts[2] >= dict(run.layers[1].extra)["pipeline_finish"]  # fc needs all of c2


def test_pipeline_schedule_of_equal_stages_is_one_stage_plus_fill():
    layer = simulate_crossbar_layer(gemm(), tiny_hw())
    makespan, spans = pipeline_schedule((layer, layer), (0.0, 0.0))
    assert spans[0] == (0, layer.cycles)
    assert layer.cycles < makespan <= layer.cycles + layer.cycles // 64 + 2


def test_a_mapping_of_another_layer_is_rejected():
    hw = tiny_hw()
    with pytest.raises(MappingError, match="another layer"):
        simulate_crossbar_layer(gemm(), hw, map_crossbar(gemm(m=5), hw))
    assert np.isfinite(simulate_crossbar_layer(gemm(), hw).utilization)


def test_trace_runs_of_engine_and_analytical_share_the_placement():
    from sim.analytical.crossbar import estimate_crossbar_trace

    hw = Hardware(name="isaac-like", reram=ReramSpec(tiles=2))
    trace = Trace("t", (Layer(name="c1", ifmap_h=10, ifmap_w=10, in_channels=8, out_channels=16, filter_h=3, filter_w=3),
                        Layer.gemm_layer("fc", m=1, n=10, k=1024)))
    engine, analytical = simulate_crossbar_trace(trace, hw), estimate_crossbar_trace(trace, hw)
    for e, a in zip(engine.layers, analytical.layers):
        assert dict(e.extra)["replication"] == dict(a.extra)["replication"]
        assert e.compute_cycles == a.compute_cycles and e.crossbar == a.crossbar
    assert dict(engine.layers[0].extra)["replication"] > 1
