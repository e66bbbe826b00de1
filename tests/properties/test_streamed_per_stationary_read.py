"""The loop order at the PE level (issue 13, docs/mapping.md): a ws / is record may run u consecutive elements of
the streamed dimension T under each stationary element (Mapping.streamed_per_stationary_read), holding u partial sums
in the PE's psum register, so the stationary register is read once per run instead of once per MAC. u = 1 is
today's record; engine == closed form under ideal memory (cycles, every level row, energy) for random u x F x chunk
order x convention; the stationary register's reads follow the ceil-sum formula; MACs are conserved; the functional
outputs are exact; batched scores equal the one-record model; a u the psum register cannot hold is refused."""
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.levels import max_row_folds_per_fill, max_streamed_per_stationary_read
from sim.analytical.systolic import estimate_systolic, estimate_systolic_mappings
from sim.engine.simulate import simulate_layer
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.mapping_file import mappings_text, parse_mappings
from sim.mapping.record import CHUNK_ORDERS, OPERANDS
from sim.mapping.systolic import DATAFLOW_NAMES, array_mapping, fit_mapping
from sim.workload.layer import Layer

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATIONARY = {"ws": "filter", "is": "ifmap"}


def run_hw(dataflow, rows, cols, sizes, convention="native", psum_bytes=8, psum_double=False,
           register_bytes=16) -> Hardware:
    """Per-PE registers for the stationary operand and the partial sums (`psum_bytes`, optionally double-buffered),
    one buffer per operand, DRAM: ideal memory (unlimited bandwidth, no latency)."""
    levels = [{"name": "rf_s", "kind": "register_file", "operands": [STATIONARY[dataflow]],
               "size_bytes": register_bytes, "instances": rows * cols, "word_bytes": 1},
              {"name": "rf_p", "kind": "register_file", "operands": ["ofmap"], "size_bytes": psum_bytes,
               "instances": rows * cols, "word_bytes": 2, "double_buffered": psum_double}]
    levels += [{"name": f"{name}_buf", "kind": "global_buffer", "operands": [name], "size_bytes": size,
                "word_bytes": 2} for name, size in zip(OPERANDS, sizes)]
    levels.append({"name": "dram", "kind": "dram", "operands": list(OPERANDS)})
    energy = {"mac": {"pj": 0.5, "source": "test"}, "dram.read_byte": {"pj": 100.0, "source": "test"},
              "dram.write_byte": {"pj": 110.0, "source": "test"}}
    for index, level in enumerate(levels[:-1]):
        for action in ("read", "write"):
            energy[f"{level['name']}.{action}"] = {"pj": 1.0 + index + (action == "write"), "source": "test"}
    return Hardware(name="u", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                        "cycle_convention": convention},
                    dram={"bandwidth_bytes_per_cycle": math.inf, "latency_cycles": 0}, memory=levels, energy=energy)


@st.composite
def layers(draw):
    widths = {"ofmap_bits": 16, "psum_bits": 16, "ifmap_bits": 8, "filter_bits": 8}
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 30)), **widths)
    groups = draw(st.sampled_from([1, 2]))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=groups * draw(st.integers(1, 4)), out_channels=groups * draw(st.integers(1, 3)),
                 filter_h=f, filter_w=f, stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)),
                 groups=groups, **widths)


hardware = st.tuples(st.sampled_from(["ws", "is"]), st.integers(1, 4), st.integers(1, 4),
                     st.lists(st.sampled_from([64, 256, 1 << 20]), min_size=3, max_size=3),
                     st.sampled_from(["native", "scalesim"]), st.sampled_from([2, 4, 8, 16]),
                     st.sampled_from([False, True, "auto"]))  # "auto": ZigZag's rule sizes it by u (docs/mapper.md)


def records(layer, hw, data):
    """Records with a drawn u (1..what the psum register holds, up to the longest chunk), a drawn F and both chunk
    orders (those whose tiles fit the buffers)."""
    pe = hw.pe_array
    base = array_mapping(layer, pe.dataflow, pe.rows, pe.cols)
    fill = data.draw(st.integers(1, base.row_folds))
    if fill > max_row_folds_per_fill(layer, hw, STATIONARY[pe.dataflow])[0]:
        fill = 1
    try:
        fitted = fit_mapping(layer, pe.dataflow, pe.rows * fill, pe.cols, hw.buffers)
    except MappingError:
        return []
    chunks = min(fitted.chunks + data.draw(st.integers(0, 2)), max(fitted.temporal, 1))
    most = min(max_streamed_per_stationary_read(layer, hw)[0], -(-fitted.temporal // chunks))
    run = data.draw(st.integers(1, most))
    return [array_mapping(layer, pe.dataflow, pe.rows, pe.cols, chunks=chunks, whole=fitted.whole, chunk_order=order,
                          row_folds_per_fill=fill, streamed_per_stationary_read=run) for order in CHUNK_ORDERS]


def strip(result):
    return replace(result, sim_wall_s=0.0)


def register_reads(result, level):
    return next(row.reads for row in result.levels if row.level == level)


@SETTINGS
@given(layers(), hardware, st.data())
def test_engine_equals_closed_form_and_only_the_stationary_reads_change(layer, point, data):
    hw = run_hw(*point)
    for mapping in records(layer, hw, data):
        engine, model = simulate_layer(layer, hw, mapping), estimate_systolic(layer, hw, mapping)
        assert engine.cycles == model.cycles and engine.compute_cycles == model.compute_cycles
        assert engine.levels == model.levels
        assert engine.actions == model.actions and engine.energy == model.energy
        # Against the same record at u = 1: the same timing and counts, fewer stationary register reads.
        today = estimate_systolic(layer, hw, replace(mapping, levels=array_mapping(
            layer, mapping.dataflow, mapping.rows, mapping.cols, chunks=mapping.chunks, whole=mapping.whole,
            chunk_order=mapping.chunk_order, row_folds_per_fill=mapping.row_folds_per_fill).levels))
        assert (model.cycles, model.sram_reads, model.sram_writes, model.dram_reads) == (
            today.cycles, today.sram_reads, today.sram_writes, today.dram_reads)
        for row, old in zip(model.levels, today.levels):
            assert (row.level, row.operand) == (old.level, old.operand)
            if row.level != "rf_s":
                assert row == old
        assert model.macs == layer.macs == today.macs
        assert model.energy.total_pj <= today.energy.total_pj


@SETTINGS
@given(layers(), hardware, st.data())
def test_stationary_register_reads_are_one_per_run_of_each_chunk(layer, point, data):
    hw = run_hw(*point)
    for mapping in records(layer, hw, data):
        run, chunks, temporal = mapping.streamed_per_stationary_read, mapping.chunks, mapping.temporal
        edges = [temporal * i // chunks for i in range(chunks + 1)]
        runs = sum(math.ceil((hi - lo) / run) for lo, hi in zip(edges, edges[1:]))
        stationary = mapping.groups * mapping.spatial_rows * mapping.spatial_cols
        assert register_reads(estimate_systolic(layer, hw, mapping), "rf_s") == stationary * runs
        assert stationary * temporal == layer.macs


@SETTINGS
@given(layers(), hardware, st.data(), st.integers(0, 2**16))
def test_a_run_regroups_the_accumulation_never_the_result(layer, point, data, seed):
    hw = run_hw(*point)
    for mapping in records(layer, hw, data)[:1]:
        assert simulate_layer(layer, hw, mapping, functional=True, seed=seed).functional.max_abs_error == 0.0


@SETTINGS
@given(layers(), hardware, st.data())
def test_u_one_is_todays_record_and_files_round_trip(layer, point, data):
    hw = run_hw(*point)
    pe = hw.pe_array
    assert array_mapping(layer, pe.dataflow, pe.rows, pe.cols, streamed_per_stationary_read=1) == array_mapping(
        layer, pe.dataflow, pe.rows, pe.cols)
    assert array_mapping(layer, pe.dataflow, pe.rows, pe.cols).streamed_per_stationary_read == 1
    for mapping in records(layer, hw, data):
        back = parse_mappings(mappings_text({layer.name: mapping}))[layer.name]
        assert back == mapping and back.streamed_per_stationary_read == mapping.streamed_per_stationary_read
        assert strip(estimate_systolic(layer, hw, back)) == strip(estimate_systolic(layer, hw, mapping))


@SETTINGS
@given(layers(), hardware, st.data())
def test_a_batch_of_runs_equals_the_one_record_model(layer, point, data):
    hw = run_hw(*point)
    mappings = records(layer, hw, data)
    if not mappings:
        return
    code = DATAFLOW_NAMES.index(hw.pe_array.dataflow)
    held = {name: np.array([name in m.whole for m in mappings] + [False]) for name in OPERANDS}
    too_many = max_streamed_per_stationary_read(layer, hw)[0] + 1  # the last candidate: a u the register refuses
    values = estimate_systolic_mappings(
        layer, hw, np.array([code] * 3), np.array([m.chunks for m in mappings] + [1]), held,
        chunks_outside=np.array([False, True, False]),
        row_folds_per_fill=np.array([m.row_folds_per_fill for m in mappings] + [1]),
        streamed_per_stationary_read=np.array([m.streamed_per_stationary_read for m in mappings] + [too_many]))
    for j, mapping in enumerate(mappings):
        result = estimate_systolic(layer, hw, mapping)
        assert values["valid"][j]
        assert int(values["cycles"][j]) == result.cycles
        assert values["energy_pj"][j] == pytest.approx(result.energy.total_pj, rel=1e-12)
    assert not values["valid"][2]


def test_a_run_needs_the_psum_register_and_a_stationary_operand():
    layer = Layer.gemm_layer("g", m=40, n=4, k=8, ofmap_bits=16, psum_bits=16)
    hw = run_hw("ws", 4, 4, [1 << 20] * 3, psum_bytes=8, psum_double=True)  # one half: 2 partial sums
    whole = ("ifmap", "filter", "ofmap")
    fits = array_mapping(layer, "ws", 4, 4, whole=whole, streamed_per_stationary_read=2)
    today = estimate_systolic(layer, hw, array_mapping(layer, "ws", 4, 4, whole=whole))
    assert register_reads(estimate_systolic(layer, hw, fits), "rf_s") == register_reads(today, "rf_s") // 2
    big = array_mapping(layer, "ws", 4, 4, whole=whole, streamed_per_stationary_read=3)
    for model in (estimate_systolic, simulate_layer):
        with pytest.raises(MappingError, match=r"memory.1.size_bytes: level 'rf_p': 3 streamed elements per "
                                               r"stationary read hold 3 partial sums .* \(one half: double-buffered\)"):
            model(layer, hw, big)
    plain = Hardware(name="p", pe_array={"rows": 4, "cols": 4, "dataflow": "ws"},
                     buffers={name: {"size_kb": 1024} for name in OPERANDS}, dram={"bandwidth_bytes_per_cycle": 8})
    with pytest.raises(MappingError, match="mapping.pe: 2 streamed elements per stationary read need a per-PE"):
        estimate_systolic(layer, plain, fits)
    os_run = replace(fits, name="os", levels=array_mapping(layer, "os", 4, 4, whole=whole,
                                                           streamed_per_stationary_read=2).levels)
    with pytest.raises(MappingError, match="mapping.pe: os keeps its partial sums stationary"):
        estimate_systolic(layer, hw, os_run)
    long = array_mapping(layer, "ws", 4, 4, chunks=20, whole=whole, streamed_per_stationary_read=3)
    with pytest.raises(MappingError, match=r"mapping.pe: streamed elements per stationary read beyond a chunk's T"):
        estimate_systolic(layer, run_hw("ws", 4, 4, [1 << 20] * 3, psum_bytes=16), long)
    with pytest.raises(MappingError, match="mapping.pe"):
        array_mapping(layer, "ws", 4, 4, streamed_per_stationary_read=0)
