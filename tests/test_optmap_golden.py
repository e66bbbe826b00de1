"""SCALE-Sim 3's OptimizedMapping inferred rules (sim/mapping/optmap.py) against real SCALE-Sim 3.0.0 runs."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from sim.mapping.optmap import column_n, optimized_mapping

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


@pytest.mark.xfail(strict=True, reason="OptimizedMapping is inferred (sim/mapping/optmap.py) but not yet wired into "
                   "the engine / analytical / functional models; the cfg switch is still refused")
def test_cfg_runs_with_optimized_mapping():
    from sim.hardware.scalesim_cfg import UNMODELLED_SWITCHES
    assert ("sparsity", "OptimizedMapping") not in UNMODELLED_SWITCHES
