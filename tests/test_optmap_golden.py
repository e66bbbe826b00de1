"""SCALE-Sim 3's OptimizedMapping (sim/mapping/optmap.py) against real SCALE-Sim 3.0.0 runs: the inferred counts,
every report column of the engine and analytical model, and functional values against numpy."""
from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import sim
from sim.hardware.spec import Hardware
from sim.kernels.systolic_fast import run_layer_functional
from sim.mapping.operands import filter_matrix, ifmap_matrix, ofmap_from_matrix, random_operands
from sim.mapping.optmap import column_n, optimized_mapping, prune_per_column
from sim.mapping.systolic import map_systolic
from sim.workload.layer import Layer

DATA = Path(__file__).parent / "data" / "scalesim"
# (K window, filters) of topology/conv_sparse.csv's layers: R*S*C and the filter count
SHAPES = [(3 * 3 * 4, 8), (1 * 1 * 16, 12), (2 * 5 * 6, 20), (3 * 3 * 3, 5), (1 * 1 * 32, 6)]
ROWS = list(csv.DictReader(open(DATA / "golden_optmap.csv")))


def _case(row: dict[str, str]):
    window, filters = SHAPES[int(row["layer_id"])]
    return window, filters, optimized_mapping(window, filters, int(row["block_size"]), int(row["seed"]))


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['cfg']}-L{r['layer_id']}")
def test_counts_match_scalesim(row):
    window, filters, opt = _case(row)
    height, width = int(row["rows"]), int(row["cols"])
    assert opt.stored == int(row["DETAILED_ACCESS_REPORT:DRAM Filter Reads"])
    assert window * filters == int(row["SPARSE_REPORT:Original Filter Storage"])
    assert opt.stored + window + 1 == int(row["SPARSE_REPORT:Filter Metadata Storage"])  # csr
    assert 2 * opt.stored + window + 1 == int(row["SPARSE_REPORT:New Storage (Filter+Metadata)"])
    assert opt.filter_rows * filters == int(row["DETAILED_ACCESS_REPORT:SRAM Filter Reads"])
    slots = math.ceil(opt.filter_rows / height) * math.ceil(filters / width) * height * width
    assert 100 * opt.stored / slots == pytest.approx(float(row["COMPUTE_REPORT:Mapping Efficiency %"]), rel=1e-12)


def test_cycles_are_seed_and_block_independent():
    """SCALE-Sim's cycles depend on the array and layer only: the array shape is fixed by ceil(K/M/2)*M rows."""
    cycles: dict[tuple[str, str, str], set[str]] = {}
    for row in ROWS:
        cycles.setdefault((row["rows"], row["cols"], row["layer_id"]), set()).add(row["COMPUTE_REPORT:Total Cycles"])
    assert all(len(values) == 1 for values in cycles.values())


@given(filters=st.integers(1, 64), block=st.sampled_from([2, 4, 8, 16]), seed=st.integers(0, 2**31 - 1),
       window=st.integers(1, 200))
def test_draw_bounds_and_conservation(filters, block, seed, window):
    opt = optimized_mapping(window, filters, block, seed)
    assert len(opt.column_n) == filters and all(1 <= n <= block // 2 for n in opt.column_n)
    assert opt.column_n == column_n(filters, block, seed)  # deterministic
    # pruning a dense matrix column by column keeps exactly `stored` weights, never more than the dense filter
    kept = np.zeros((window, filters), dtype=bool)
    for c, n in enumerate(opt.column_n):
        for start in range(0, window, block):
            kept[start:start + min(n, window - start), c] = True
    assert kept.sum() == opt.stored <= window * filters
    # the array's filter rows hold every column's kept weights: at most M/2 per block, two blocks per M rows
    assert kept.sum(axis=0).max() <= math.ceil(window / block) * (block // 2) <= opt.filter_rows


def test_cfg_switch_is_modelled():
    from sim.hardware.scalesim_cfg import UNMODELLED_SWITCHES
    assert ("sparsity", "OptimizedMapping") not in UNMODELLED_SWITCHES
    hw = sim.load_hardware(DATA / "cfg" / "ws_8x8_optmap_b8_s7.cfg")
    assert hw.sparsity.optimized_mapping and (hw.sparsity.block_size, hw.sparsity.seed) == (8, 7)


# every report column of the 40 golden rows, engine and analytical model, as SCALE-Sim's report tests do
KNOWN = {"DETAILED_ACCESS_REPORT:SRAM IFMAP Stop Cycle": "SCALE-Sim's last ifmap SRAM read under the optimized "
         "mapping comes 2 cycles earlier than ours (BlockSize 4, layers 0, 2, 3) or 4 (BlockSize 8, layer 0) on 16 of "
         "40 rows; its ifmap demand matrix is not yet inferred"}
_RUNS: dict = {}


def _ours(cfg: str, model: str) -> list[dict[str, str]]:
    if (cfg, model) not in _RUNS:
        from sim.report.writer import (COMPUTE_HEADER, DETAILED_HEADER, SPARSE_HEADER, bandwidth_header,
                                       bandwidth_report_rows, compute_report_rows, detailed_access_rows,
                                       sparse_report_rows)
        run = getattr(sim, model)(sim.load_trace(DATA / "topology" / "conv_sparse.csv"),
                                  sim.load_hardware(DATA / "cfg" / f"{cfg}.cfg"))
        out: list[dict[str, str]] = [{} for _ in run.layers]
        for report, header, rows in (("COMPUTE_REPORT", COMPUTE_HEADER, compute_report_rows(run)),
                                     ("BANDWIDTH_REPORT", bandwidth_header(run), bandwidth_report_rows(run)),
                                     ("DETAILED_ACCESS_REPORT", DETAILED_HEADER, detailed_access_rows(run)),
                                     ("SPARSE_REPORT", SPARSE_HEADER, sparse_report_rows(run))):
            for index, values in enumerate(rows):
                out[index].update({f"{report}:{c}": str(v) for c, v in zip(header[1:], values[1:])})
        _RUNS[(cfg, model)] = out
    return _RUNS[(cfg, model)]


def _equal(ours: str, theirs: str) -> bool:
    try:
        return bool(np.isclose(float(ours), float(theirs), rtol=1e-5, atol=1e-9))
    except ValueError:
        return ours == theirs


def _columns():
    for column in (c for c in ROWS[0] if ":" in c):
        for model in ("simulate", "estimate"):
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN[column])] if column in KNOWN else []
            yield pytest.param(model, column, marks=marks, id=f"{model}-{column}")


@pytest.mark.parametrize("model,column", list(_columns()))
def test_report_column_equals_scalesim(model: str, column: str):
    for row in ROWS:
        ours = _ours(row["cfg"], model)[int(row["layer_id"])]
        assert _equal(ours[column], row[column]), (row["cfg"], row["layer_id"], ours[column], row[column])


def _hw(dataflow: str = "ws", block: int = 4, seed: int = 40, optimized: bool = True) -> Hardware:
    return Hardware.model_validate({
        "name": "t", "pe_array": {"rows": 8, "cols": 8, "dataflow": dataflow},
        "buffers": {op: {"size_kb": 64} for op in ("ifmap", "filter", "ofmap")},
        "dram": {"bandwidth_bytes_per_cycle": 64},
        "sparsity": {"representation": "csr", "block_size": block, "seed": seed, "optimized_mapping": optimized}})


@st.composite
def _layers(draw: st.DrawFn) -> Layer:
    r = draw(st.integers(1, 3))
    return Layer("o", ifmap_h=draw(st.integers(r, 7)), ifmap_w=draw(st.integers(r, 7)), filter_h=r, filter_w=r,
                 in_channels=draw(st.integers(1, 9)), out_channels=draw(st.integers(1, 12)),
                 stride_h=draw(st.integers(1, 2)), stride_w=1, ofmap_bits=32)


@settings(max_examples=20, deadline=None)
@given(_layers(), st.sampled_from(["os", "ws", "is"]), st.sampled_from([2, 4, 8]), st.integers(0, 2**31 - 1))
def test_functional_values_equal_numpy_on_the_per_column_pruned_weights(layer, dataflow, block, seed):
    hw = _hw(dataflow, block, seed % 1000)
    opt_layer = replace(layer, optmap_block=block, optmap_seed=seed % 1000)
    ifmap, filters = random_operands(opt_layer, seed)
    b = filter_matrix(opt_layer, filters)[0]
    ns = column_n(b.shape[1], block, seed % 1000)
    for c, n in enumerate(ns):  # each column keeps at most its own N of every block
        for start in range(0, b.shape[0], block):
            assert np.count_nonzero(b[start:start + block, c]) <= n
    assert (prune_per_column(b, ns, block) == b).all()
    expected = ofmap_from_matrix(opt_layer, ifmap_matrix(opt_layer, ifmap).astype(np.int64) @ b.astype(np.int64))
    run = sim.simulate([layer], hw, functional=True, seed=seed)
    assert run.layers[0].functional.max_abs_error == 0
    ofmap, overflow = run_layer_functional(opt_layer, map_systolic(opt_layer, hw), ifmap, filters)
    assert not overflow and (ofmap == expected).all()
    # engine = analytical; the array runs ceil(ceil(K/M)/2) x M rows; the DRAM filter is the kept weights
    engine, model = run.layers[0], sim.estimate([layer], hw).layers[0]
    assert (engine.cycles, engine.macs, engine.sram_reads, engine.sram_writes) == \
           (model.cycles, model.macs, model.sram_reads, model.sram_writes)
    opt = opt_layer.optimized_mapping
    assert engine.macs == opt_layer.dense_gemm.m * opt.filter_rows * opt_layer.dense_gemm.n
    assert dict(engine.extra)["sparsity.stored_filter_words"] == opt.stored == opt_layer.filter_elements


def test_off_gives_todays_numbers():
    layer = Layer("d", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, in_channels=4, out_channels=8,
                  sparsity_n=2, sparsity_m=4)
    strip = lambda run: [{k: v for k, v in r.to_dict().items() if k != "sim_wall_s"} for r in run.layers]
    plain = _hw(optimized=False)
    assert strip(sim.simulate([layer], plain)) == strip(sim.simulate([layer], plain.model_copy(
        update={"sparsity": plain.sparsity.model_copy(update={"optimized_mapping": False})})))


def test_block_larger_than_the_array_is_refused():
    layer = Layer("d", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, in_channels=4, out_channels=8)
    with pytest.raises(sim.errors.ConfigError, match="block"):
        sim.estimate([layer], _hw(block=16))
