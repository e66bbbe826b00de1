"""Loop order as data (issue 12 item 4, partial sums on chip): a systolic record's chunks of T may sit outside its
row folds (`Mapping.chunk_order` "outside_row_folds", ws / is), so that a chunk's partial-sum block stays in the
ofmap buffer over the row folds, at the cost of reloading the stationary operand per chunk. Engine == closed form
under ideal memory for both orders (cycles, every count, bytes, energy), MACs conserved, DRAM reads >= unique data,
the order changes the order of work, never the result, and the record round-trips through mapping files."""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import (estimate_systolic, estimate_systolic_mappings, fold_sram_counts,
                                     layer_compute_cycles, step_cycles)
from sim.engine.simulate import layer_fold_cycles, simulate_layer
from sim.engine.tiling import plan_steps
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.mapping_file import mappings_text, parse_mappings
from sim.mapping.operands import filter_matrix, ifmap_matrix, random_operands
from sim.mapping.record import CHUNK_ORDERS, OPERANDS
from sim.mapping.systolic import DATAFLOW_NAMES, array_mapping, fit_mapping, operand_totals
from sim.workload.layer import Layer

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def systolic_hw(dataflow, rows, cols, sizes, convention="native", double=False, drain=False, bandwidth=np.inf,
                latency=0) -> Hardware:
    buffers = {name: {"size_kb": size / 1024} for name, size in zip(OPERANDS, sizes)}
    buffers["ofmap"]["drain_finished"] = drain
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                        "cycle_convention": convention, "double_buffered_stationary": double},
                    buffers=buffers, dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency})


@st.composite
def layers(draw):
    widths = {"ofmap_bits": draw(st.sampled_from([8, 16])), "psum_bits": draw(st.sampled_from([0, 16, 24]))}
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)), **widths)
    groups = draw(st.sampled_from([1, 2]))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
                 filter_h=f, filter_w=f, stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)),
                 groups=groups, **widths)


hardware = st.tuples(st.sampled_from(["ws", "is"]), st.integers(1, 6), st.integers(1, 6),
                     st.lists(st.sampled_from([64, 256, 1024, 1 << 20]), min_size=3, max_size=3),
                     st.sampled_from(["native", "scalesim"]), st.booleans(), st.booleans())


def strip(result):
    return replace(result, sim_wall_s=0.0)


def both_orders(layer, hw, data=None):
    """The fitted record in both chunk orders (more chunks and streamed operands drawn when `data` is given)."""
    pe = hw.pe_array
    fitted = fit_mapping(layer, pe.dataflow, pe.rows, pe.cols, hw.buffers)
    chunks, whole = fitted.chunks, fitted.whole
    if data is not None:
        chunks = min(chunks + data.draw(st.integers(0, 3)), fitted.temporal)
    return [array_mapping(layer, pe.dataflow, pe.rows, pe.cols, chunks=chunks, whole=whole, chunk_order=order)
            for order in CHUNK_ORDERS]


@SETTINGS
@given(layers(), hardware, st.data())
def test_engine_equals_closed_form_under_ideal_memory_for_both_orders(layer, point, data):
    hw = systolic_hw(*point)
    try:
        mappings = both_orders(layer, hw, data)
    except MappingError:
        return
    for mapping in mappings:
        engine, model = simulate_layer(layer, hw, mapping), estimate_systolic(layer, hw, mapping)
        assert engine.cycles == model.cycles and engine.compute_cycles == model.compute_cycles
        for counts in ("sram_reads", "sram_writes", "dram_reads", "dram_writes"):
            assert getattr(engine, counts) == getattr(model, counts)
        assert engine.actions == model.actions and engine.energy == model.energy
        assert model.compute_cycles == layer_compute_cycles(mapping, hw.pe_array.cycle_convention,
                                                            hw.pe_array.double_buffered_stationary)
        # A finite channel: the same counts; the closed form stays at most 5 % above the engine's timeline.
        slow = systolic_hw(*point, bandwidth=3.0, latency=4)
        engine, model = simulate_layer(layer, slow, mapping), estimate_systolic(layer, slow, mapping)
        moved = ("dram.read_byte", "dram.write_byte")
        assert (engine.dram_reads, engine.dram_writes, [engine.actions.get(key) for key in moved]) == (
            model.dram_reads, model.dram_writes, [model.actions.get(key) for key in moved])
        assert 1.05 * engine.cycles >= model.cycles


@SETTINGS
@given(layers(), hardware)
def test_macs_are_conserved_and_dram_reads_cover_the_unique_data(layer, point):
    hw = systolic_hw(*point)
    try:
        mappings = both_orders(layer, hw)
    except MappingError:
        return
    g = layer.gemm
    totals = operand_totals(layer)
    for mapping in mappings:
        _, _, blocks = plan_steps(mapping, layer_fold_cycles(mapping, "native"))
        volume = sum((m1 - m0) * (k1 - k0) * (n1 - n0) for _, m0, m1, k0, k1, n0, n1 in blocks)
        assert volume == g.groups * g.m * g.k * g.n
        result = estimate_systolic(layer, hw, mapping)
        assert result.macs == layer.gemm.macs
        assert result.dram_reads.ifmap >= totals["ifmap"] and result.dram_reads.filter >= totals["filter"]
        assert result.dram_writes.ofmap - result.dram_reads.ofmap == totals["ofmap"]
        # SRAM reads are the per-fold counts summed (the stationary block once per array pass).
        sums = fold_sram_counts(mapping).sum(axis=0)
        assert (result.sram_reads.ifmap, result.sram_reads.filter, result.sram_reads.ofmap) == tuple(sums[:3])
    innermost, outside = (estimate_systolic(layer, hw, mapping) for mapping in mappings)
    # Outside the row folds a ws / is partial-sum block never leaves the chip before it is finished.
    assert outside.dram_reads.ofmap == 0 and outside.dram_writes.ofmap == totals["ofmap"]
    assert outside.dram_writes.ofmap <= innermost.dram_writes.ofmap
    assert outside.macs == innermost.macs
    if mappings[0].row_folds == 1:  # one row fold: nothing to reorder, one schedule
        assert strip(outside) == strip(innermost)


@SETTINGS
@given(layers(), hardware, st.integers(0, 2**16))
def test_the_order_changes_the_order_of_work_never_the_result(layer, point, seed):
    hw = systolic_hw(*point)
    try:
        mappings = both_orders(layer, hw)
    except MappingError:
        return
    ifmap, filters = random_operands(replace(layer, ifmap_bits=4, filter_bits=4), seed)
    a, b = ifmap_matrix(layer, ifmap).astype(np.int64), filter_matrix(layer, filters).astype(np.int64)
    expected = np.einsum("gmk,gkn->gmn", a, b)
    for mapping in mappings:
        out = np.zeros_like(expected)
        _, _, blocks = plan_steps(mapping, layer_fold_cycles(mapping, "native"))
        for group, m0, m1, k0, k1, n0, n1 in blocks:  # accumulate the steps' blocks in execution order
            out[group, m0:m1, n0:n1] += a[group, m0:m1, k0:k1] @ b[group, k0:k1, n0:n1]
        np.testing.assert_array_equal(out, expected)
        check = simulate_layer(layer, hw, mapping, functional=True, seed=seed).functional
        assert check.max_abs_error == 0.0


@SETTINGS
@given(layers(), hardware)
def test_the_order_round_trips_through_mapping_files(layer, point):
    hw = systolic_hw(*point)
    try:
        mappings = both_orders(layer, hw)
    except MappingError:
        return
    for mapping in mappings:
        back = parse_mappings(mappings_text({layer.name: mapping}))[layer.name]
        assert back == mapping and back.chunk_order == mapping.chunk_order
        assert strip(estimate_systolic(layer, hw, back)) == strip(estimate_systolic(layer, hw, mapping))


@SETTINGS
@given(layers(), hardware)
def test_a_batch_of_candidates_in_both_orders_equals_the_one_record_model(layer, point):
    """The mapper's batched closed form takes the order per candidate (sim.mapper searches it as data)."""
    hw = systolic_hw(*point)
    try:
        mappings = both_orders(layer, hw)
    except MappingError:
        return
    code = DATAFLOW_NAMES.index(hw.pe_array.dataflow)
    held = {name: np.array([name in mappings[0].whole] * 2) for name in OPERANDS}
    values = estimate_systolic_mappings(layer, hw, np.array([code, code]), np.array([mappings[0].chunks] * 2), held,
                                        chunks_outside=np.array([False, True]))
    for j, mapping in enumerate(mappings):
        result = estimate_systolic(layer, hw, mapping)
        assert values["valid"][j]
        assert int(values["cycles"][j]) == result.cycles
        assert int(values["dram_read_bytes"][j]) == result.actions.get("dram.read_byte")
        assert int(values["sram_filter_reads"][j]) == result.sram_reads.filter
        assert values["energy_pj"][j] == pytest.approx(result.energy.total_pj, rel=1e-12)


def test_one_chunk_is_the_same_schedule_in_both_orders():
    layer = Layer.gemm_layer("g", m=40, n=8, k=20)
    hw = systolic_hw("ws", 8, 4, [1 << 20] * 3)
    innermost, outside = both_orders(layer, hw)
    assert innermost.chunks == 1 and innermost == outside and outside.chunk_order == "innermost"


def test_ws_partial_sums_stay_on_chip_when_chunks_are_outside_the_row_folds():
    # K = 64 over 16 rows: 4 row folds; 256 16-bit partial sums a slot: M in 32 chunks of 32 pixels x 8 filters.
    layer = Layer.gemm_layer("g", m=1024, n=8, k=64, ofmap_bits=8, psum_bits=16)
    hw = systolic_hw("ws", 16, 8, [1 << 20, 1 << 20, 1024])
    innermost, outside = both_orders(layer, hw)
    assert innermost.chunks == outside.chunks == 32
    today, chunked = estimate_systolic(layer, hw, innermost), estimate_systolic(layer, hw, outside)
    outputs = 1024 * 8
    assert today.dram_reads.ofmap == 3 * outputs and today.actions.get("dram.write_byte") == outputs + 3 * 2 * outputs
    assert chunked.dram_reads.ofmap == 0 and chunked.actions.get("dram.write_byte") == outputs
    # The cost: the 64 x 8 filter block of a row fold is read into the array once per chunk, and every pass pays
    # its preload and skew: 32 chunks x 4 row folds of (16 + 16 + 8 + 32 - 2) cycles.
    assert chunked.sram_reads.filter == 32 * today.sram_reads.filter
    assert chunked.compute_cycles == 32 * 4 * (16 + 16 + 8 + 32 - 2)
    assert today.compute_cycles == 4 * (16 + 16 + 8 + 1024 - 2)
    assert step_cycles(outside, "native").size == 32 * 4


def test_os_refuses_chunks_outside_its_row_folds():
    layer = Layer.gemm_layer("g", m=16, n=8, k=64)
    hw = systolic_hw("os", 4, 4, [64, 64, 1 << 20])
    fitted = fit_mapping(layer, "os", 4, 4, hw.buffers)
    assert fitted.chunks > 1
    mapping = array_mapping(layer, "os", 4, 4, chunks=fitted.chunks, whole=fitted.whole,
                            chunk_order="outside_row_folds")
    for model in (estimate_systolic, simulate_layer):
        with pytest.raises(MappingError, match="mapping.dram: os keeps its partial sums in the PEs"):
            model(layer, hw, mapping)


def test_an_unknown_chunk_order_and_a_misplaced_chunk_loop_are_refused():
    layer = Layer.gemm_layer("g", m=64, n=8, k=16)
    with pytest.raises(MappingError, match="mapping.chunk_order: unknown chunk order"):
        array_mapping(layer, "ws", 4, 4, chunks=2, chunk_order="outermost")
    hw = systolic_hw("ws", 4, 4, [1 << 20] * 3)
    mapping = array_mapping(layer, "ws", 4, 4, chunks=2)
    loops = mapping.levels[0].loops
    moved = replace(mapping, levels=(replace(mapping.levels[0], loops=(loops[0], loops[3], loops[1], loops[2])),
                                     mapping.levels[1]))
    with pytest.raises(MappingError, match="mapping.dram: the systolic models walk G, then column folds"):
        estimate_systolic(layer, hw, moved)
