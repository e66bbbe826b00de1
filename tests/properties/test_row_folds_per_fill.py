"""Row folds per stationary fill (issue 12 item 4, docs/mapping.md): a ws / is record may hold F row folds'
stationary blocks in each PE's register file, cycling through them under each element of T while the partial sum
stays in the PE, so partial sums go back to the ofmap staging level only between fills. Engine == closed form under
ideal memory (cycles, every count, every level row, energy) for random layers x F x both chunk orders x both
conventions x both stationary options; MACs conserved; each level reads at least the unique data it delivers; the
steps' blocks accumulate to the exact GEMM; F = 1 is today's record; a fill the register cannot hold is refused."""
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.levels import max_row_folds_per_fill
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

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATIONARY = {"ws": "filter", "is": "ifmap"}


def fill_hw(dataflow, rows, cols, sizes, convention="native", double=False, register_double=False,
            register_bytes=64) -> Hardware:
    """Per-PE registers for the stationary operand (`register_bytes`, optionally double-buffered) and the partial
    sum, one buffer per operand, DRAM: ideal memory (unlimited bandwidth, no latency)."""
    levels = [{"name": "rf_s", "kind": "register_file", "operands": [STATIONARY[dataflow]],
               "size_bytes": register_bytes, "instances": rows * cols, "word_bytes": 1,
               "double_buffered": register_double},
              {"name": "rf_p", "kind": "register_file", "operands": ["ofmap"], "size_bytes": 4,
               "instances": rows * cols, "word_bytes": 1}]
    levels += [{"name": f"{name}_buf", "kind": "global_buffer", "operands": [name], "size_bytes": size,
                "word_bytes": 2} for name, size in zip(OPERANDS, sizes)]
    levels.append({"name": "dram", "kind": "dram", "operands": list(OPERANDS)})
    energy = {"mac": {"pj": 0.5, "source": "test"}, "dram.read_byte": {"pj": 100.0, "source": "test"},
              "dram.write_byte": {"pj": 110.0, "source": "test"}}
    for index, level in enumerate(levels[:-1]):
        for action in ("read", "write"):
            energy[f"{level['name']}.{action}"] = {"pj": 1.0 + index + (action == "write"), "source": "test"}
    return Hardware(name="f", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                        "cycle_convention": convention, "double_buffered_stationary": double},
                    dram={"bandwidth_bytes_per_cycle": math.inf, "latency_cycles": 0}, memory=levels, energy=energy)


@st.composite
def layers(draw):
    widths = {"ofmap_bits": 8, "psum_bits": draw(st.sampled_from([16, 24])), "ifmap_bits": 8, "filter_bits": 8}
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 40)), **widths)
    groups = draw(st.sampled_from([1, 2]))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=groups * draw(st.integers(1, 4)), out_channels=groups * draw(st.integers(1, 3)),
                 filter_h=f, filter_w=f, stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)),
                 groups=groups, **widths)


hardware = st.tuples(st.sampled_from(["ws", "is"]), st.integers(1, 5), st.integers(1, 5),
                     st.lists(st.sampled_from([64, 256, 1024, 1 << 20]), min_size=3, max_size=3),
                     st.sampled_from(["native", "scalesim"]), st.booleans(), st.booleans())


def records(layer, hw, data):
    """Records with a drawn F in [1, row folds] in both chunk orders (those whose tiles fit the buffers and whose F
    the stationary register holds)."""
    pe = hw.pe_array
    base = array_mapping(layer, pe.dataflow, pe.rows, pe.cols)
    fill = data.draw(st.integers(1, base.row_folds))
    if fill > max_row_folds_per_fill(layer, hw, STATIONARY[pe.dataflow])[0]:
        return []
    out = []
    for order in CHUNK_ORDERS:
        try:
            fitted = fit_mapping(layer, pe.dataflow, pe.rows * fill, pe.cols, hw.buffers)
        except MappingError:
            return []
        chunks = min(fitted.chunks + data.draw(st.integers(0, 2)), max(fitted.temporal, 1))
        out.append(array_mapping(layer, pe.dataflow, pe.rows, pe.cols, chunks=chunks, whole=fitted.whole,
                                 chunk_order=order, row_folds_per_fill=fill))
    return out


def strip(result):
    return replace(result, sim_wall_s=0.0)


@SETTINGS
@given(layers(), hardware, st.data())
def test_engine_equals_closed_form_under_ideal_memory(layer, point, data):
    hw = fill_hw(*point)
    for mapping in records(layer, hw, data):
        engine, model = simulate_layer(layer, hw, mapping), estimate_systolic(layer, hw, mapping)
        assert engine.cycles == model.cycles and engine.compute_cycles == model.compute_cycles
        for counts in ("sram_reads", "sram_writes", "dram_reads", "dram_writes"):
            assert getattr(engine, counts) == getattr(model, counts)
        assert engine.levels == model.levels
        assert engine.actions == model.actions and engine.energy == model.energy
        assert model.compute_cycles == layer_compute_cycles(mapping, hw.pe_array.cycle_convention,
                                                            hw.pe_array.double_buffered_stationary)
        passes = mapping.groups * mapping.col_folds * mapping.fills * mapping.steps_per_fold
        assert step_cycles(mapping, hw.pe_array.cycle_convention).size == passes


@SETTINGS
@given(layers(), hardware, st.data())
def test_macs_are_conserved_and_levels_read_the_unique_data(layer, point, data):
    hw = fill_hw(*point)
    totals = operand_totals(layer)
    g = layer.gemm
    for mapping in records(layer, hw, data):
        _, _, blocks = plan_steps(mapping, layer_fold_cycles(mapping, "native"))
        volume = sum((m1 - m0) * (k1 - k0) * (n1 - n0) for _, m0, m1, k0, k1, n0, n1 in blocks)
        assert volume == g.groups * g.m * g.k * g.n
        result = estimate_systolic(layer, hw, mapping)
        assert result.macs == layer.macs
        assert result.dram_reads.ifmap >= totals["ifmap"] and result.dram_reads.filter >= totals["filter"]
        assert result.dram_writes.ofmap - result.dram_reads.ofmap == totals["ofmap"]
        sums = fold_sram_counts(mapping).sum(axis=0)
        assert (result.sram_reads.ifmap, result.sram_reads.filter, result.sram_reads.ofmap,
                result.sram_writes.ofmap) == tuple(sums)
        # Partial sums leave the array once per fill: read back (fills - 1) times per output.
        outputs = g.groups * g.m * g.n
        assert result.sram_reads.ofmap == (mapping.fills - 1) * outputs
        for row in result.levels:
            if row.level.endswith("_buf") and row.operand != "ofmap":
                assert row.read_bytes >= totals[row.operand]


@SETTINGS
@given(layers(), hardware, st.data(), st.integers(0, 2**16))
def test_a_fill_changes_the_order_of_work_never_the_result(layer, point, data, seed):
    hw = fill_hw(*point)
    ifmap, filters = random_operands(replace(layer, ifmap_bits=4, filter_bits=4), seed)
    a, b = ifmap_matrix(layer, ifmap).astype(np.int64), filter_matrix(layer, filters).astype(np.int64)
    expected = np.einsum("gmk,gkn->gmn", a, b)
    for mapping in records(layer, hw, data):
        out = np.zeros_like(expected)
        _, _, blocks = plan_steps(mapping, layer_fold_cycles(mapping, "native"))
        for group, m0, m1, k0, k1, n0, n1 in blocks:
            out[group, m0:m1, n0:n1] += a[group, m0:m1, k0:k1] @ b[group, k0:k1, n0:n1]
        np.testing.assert_array_equal(out, expected)
        assert simulate_layer(layer, hw, mapping, functional=True, seed=seed).functional.max_abs_error == 0.0


@SETTINGS
@given(layers(), hardware, st.data())
def test_one_row_fold_per_fill_is_todays_record_and_files_round_trip(layer, point, data):
    hw = fill_hw(*point)
    pe = hw.pe_array
    assert array_mapping(layer, pe.dataflow, pe.rows, pe.cols, row_folds_per_fill=1) == array_mapping(
        layer, pe.dataflow, pe.rows, pe.cols)
    for mapping in records(layer, hw, data):
        back = parse_mappings(mappings_text({layer.name: mapping}))[layer.name]
        assert back == mapping and back.row_folds_per_fill == mapping.row_folds_per_fill
        assert strip(estimate_systolic(layer, hw, back)) == strip(estimate_systolic(layer, hw, mapping))


@SETTINGS
@given(layers(), hardware, st.data())
def test_a_batch_of_fills_equals_the_one_record_model(layer, point, data):
    hw = fill_hw(*point)
    mappings = records(layer, hw, data)
    if not mappings:
        return
    code = DATAFLOW_NAMES.index(hw.pe_array.dataflow)
    held = {name: np.array([name in m.whole for m in mappings]) for name in OPERANDS}
    values = estimate_systolic_mappings(layer, hw, np.array([code] * 2), np.array([m.chunks for m in mappings]),
                                        held, chunks_outside=np.array([False, True]),
                                        row_folds_per_fill=np.array([m.row_folds_per_fill for m in mappings]))
    for j, mapping in enumerate(mappings):
        result = estimate_systolic(layer, hw, mapping)
        assert values["valid"][j]
        assert int(values["cycles"][j]) == result.cycles
        assert int(values["compute_cycles"][j]) == result.compute_cycles
        assert int(values["sram_ofmap_reads"][j]) == result.sram_reads.ofmap
        assert values["energy_pj"][j] == pytest.approx(result.energy.total_pj, rel=1e-12)


def test_a_fill_needs_the_stationary_register_and_os_has_none():
    layer = Layer.gemm_layer("g", m=32, n=4, k=64)  # 16 row folds on 4 rows
    hw = fill_hw("ws", 4, 4, [1 << 20] * 3, register_double=True, register_bytes=8)
    fits = array_mapping(layer, "ws", 4, 4, whole=("ifmap", "filter", "ofmap"), row_folds_per_fill=4)
    assert estimate_systolic(layer, hw, fits).sram_reads.ofmap == 3 * 32 * 4
    big = array_mapping(layer, "ws", 4, 4, whole=("ifmap", "filter", "ofmap"), row_folds_per_fill=8)
    for model in (estimate_systolic, simulate_layer):
        with pytest.raises(MappingError, match=r"memory.0.size_bytes: level 'rf_s', operand filter: 8 row folds"):
            model(layer, hw, big)
    plain = Hardware(name="p", pe_array={"rows": 4, "cols": 4, "dataflow": "ws"},
                     buffers={name: {"size_kb": 1024} for name in OPERANDS}, dram={"bandwidth_bytes_per_cycle": 8})
    with pytest.raises(MappingError, match="mapping.pe: 4 row folds per stationary fill need a per-PE register"):
        estimate_systolic(layer, plain, fits)
    os_fill = replace(fits, name="os", levels=array_mapping(layer, "os", 4, 4, whole=("ifmap", "filter", "ofmap"),
                                                            row_folds_per_fill=2).levels)
    with pytest.raises(MappingError, match="mapping.pe: os keeps its partial sums stationary"):
        estimate_systolic(layer, hw, os_fill)


def test_a_fill_of_all_row_folds_removes_the_partial_sum_round_trips():
    # K = 64 on 8 rows: 8 row folds. One fill: the partial sums never return to the ofmap buffer; the preload is
    # 8 x 8 register rows, one skew (8 + 4), and 8 x M streaming cycles.
    layer = Layer.gemm_layer("g", m=100, n=4, k=64)
    hw = fill_hw("ws", 8, 4, [1 << 20] * 3)
    whole = ("ifmap", "filter", "ofmap")
    today = estimate_systolic(layer, hw, array_mapping(layer, "ws", 8, 4, whole=whole))
    filled = estimate_systolic(layer, hw, array_mapping(layer, "ws", 8, 4, whole=whole, row_folds_per_fill=8))
    assert today.compute_cycles == 8 * (8 + 8 + 4 + 100 - 2)
    assert filled.compute_cycles == 8 * 8 + 8 + 4 + 8 * 100 - 2
    assert (today.sram_reads.ofmap, filled.sram_reads.ofmap) == (7 * 400, 0)
    assert (today.sram_writes.ofmap, filled.sram_writes.ofmap) == (8 * 400, 400)
    assert filled.sram_reads.filter == today.sram_reads.filter and filled.macs == today.macs
