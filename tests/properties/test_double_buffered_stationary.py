"""Schedule realism (issue 12 item 4): `pe_array.double_buffered_stationary` (ws / is) preloads the next fold's
stationary operand while the current fold computes. The per-fold cycles (engine) and the closed form (point and
grid) agree exactly; a fold hides at most R cycles and never more than its predecessor's own compute; os and the
option off are today's numbers."""
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid, fold_cycles, layer_compute_cycles
from sim.engine.simulate import simulate_layer
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.record import OPERANDS
from sim.mapping.systolic import fit_mapping
from sim.workload.layer import Layer

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def systolic_hw(dataflow, rows, cols, sizes, convention, double, bandwidth=np.inf, latency=0) -> Hardware:
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                        "cycle_convention": convention, "double_buffered_stationary": double},
                    buffers={name: {"size_kb": size / 1024} for name, size in zip(OPERANDS, sizes)},
                    dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency})


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)))
    groups = draw(st.sampled_from([1, 2]))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
                 filter_h=f, filter_w=f, stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)),
                 groups=groups)


hardware = st.tuples(st.sampled_from(["os", "ws", "is"]), st.integers(1, 6), st.integers(1, 6),
                     st.lists(st.sampled_from([64, 256, 1024, 1 << 20]), min_size=3, max_size=3),
                     st.sampled_from(["native", "scalesim"]))


def strip(result):
    return replace(result, sim_wall_s=0.0)


@SETTINGS
@given(layers(), hardware)
def test_engine_and_closed_forms_agree_with_double_buffered_stationary_registers(layer, point):
    dataflow, rows, cols, sizes, convention = point
    hw = systolic_hw(*point, double=True)
    try:
        mapping = fit_mapping(layer, dataflow, rows, cols, hw.buffers)
    except MappingError:
        return
    engine, model = simulate_layer(layer, hw, mapping), estimate_systolic(layer, hw, mapping)
    assert engine.cycles == model.cycles and engine.compute_cycles == model.compute_cycles
    assert model.compute_cycles == layer_compute_cycles(mapping, convention, True)
    for counts in ("sram_reads", "sram_writes", "dram_reads", "dram_writes"):
        assert getattr(engine, counts) == getattr(model, counts)
    assert engine.energy.total_pj == model.energy.total_pj
    grid = estimate_systolic_grid(layer, np.array([rows]), np.array([cols]), dataflow, ifmap_kb=sizes[0] / 1024,
                                  filter_kb=sizes[1] / 1024, ofmap_kb=sizes[2] / 1024, convention=convention,
                                  double_buffered_stationary=True)
    assert int(grid["compute_cycles"][0]) == model.compute_cycles
    # Each fold after the first hides at most R cycles, and at most what its predecessor computes after its preload.
    plain, double = fold_cycles(mapping, convention), fold_cycles(mapping, convention, True)
    hidden = plain - double
    assert hidden[0] == 0 and (hidden >= 0).all() and (hidden <= rows).all()
    assert (hidden[1:] <= plain[:-1] - rows).all()
    off = systolic_hw(*point, double=False)
    if dataflow == "os":
        assert (hidden == 0).all()
        assert strip(estimate_systolic(layer, off, mapping)) == strip(model)
        assert strip(simulate_layer(layer, off, mapping)) == strip(engine)
    # A finite channel: same counts, the closed form at most 5 % above the engine (docs/systolic.md, "Cycles").
    slow = systolic_hw(*point, double=True, bandwidth=2.0, latency=4)
    engine, model = simulate_layer(layer, slow, mapping), estimate_systolic(layer, slow, mapping)
    assert (engine.dram_reads, engine.dram_writes) == (model.dram_reads, model.dram_writes)
    assert 1.05 * engine.cycles >= model.cycles


def test_a_ws_fold_hides_its_weight_preload_under_the_previous_fold():
    # K = 64 on 16 rows (4 row folds), N = 8 on 8 cols, M = 100 streamed: native folds of 16 + 16 + 8 + 100 - 2.
    layer = Layer.gemm_layer("g", m=100, n=8, k=64)
    hw = systolic_hw("ws", 16, 8, [1 << 20] * 3, "native", double=True)
    off = systolic_hw("ws", 16, 8, [1 << 20] * 3, "native", double=False)
    assert estimate_systolic(layer, off).compute_cycles == 4 * 138
    assert estimate_systolic(layer, hw).compute_cycles == simulate_layer(layer, hw).compute_cycles == 4 * 138 - 3 * 16


@SETTINGS
@given(layers(), hardware, st.sampled_from([8, 16]), st.sampled_from([0, 16, 24]), st.booleans())
def test_all_schedule_options_together_keep_engine_equal_to_the_closed_form(layer, point, out_bits, psum_bits, drain):
    """psum precision, finished-output drains and double-buffered stationary registers at once, ideal memory."""
    layer = replace(layer, ofmap_bits=out_bits, psum_bits=psum_bits)
    dataflow, rows, cols, sizes, convention = point
    hw = systolic_hw(*point, double=True)
    hw = hw.model_copy(update={"buffers": hw.buffers.model_copy(update={
        "ofmap": hw.buffers.ofmap.model_copy(update={"drain_finished": drain})})})
    try:
        mapping = fit_mapping(layer, dataflow, rows, cols, hw.buffers)
    except MappingError:
        return
    engine, model = simulate_layer(layer, hw, mapping), estimate_systolic(layer, hw, mapping)
    assert (engine.cycles, engine.dram_reads, engine.dram_writes, engine.actions) == (
        model.cycles, model.dram_reads, model.dram_writes, model.actions)
    assert engine.energy.total_pj == model.energy.total_pj
