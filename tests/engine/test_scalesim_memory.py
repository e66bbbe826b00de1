"""SCALE-Sim's CALC-mode buffers (sim/engine/scalesim_memory.py): distinct words against a brute-force im2col,
conservation of ofmap writes, the fit regime's closed form, and the switch (pe_array.memory_convention). Agreement
with real SCALE-Sim runs column by column is tests/properties/test_scalesim_reports.py."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.engine.scalesim_memory import (
    ACTIVE_SETS,
    PREFETCH_WORDS_PER_CYCLE,
    SETS,
    distinct_ifmap_words,
    ofmap_writes_per_cycle,
    scalesim_memory,
)
from sim.hardware.spec import Hardware
from sim.report.scalesim_windows import sram_windows
from sim.report.writer import detailed_access_rows
from sim.workload.layer import Layer


def _im2col_addresses(layer: Layer) -> set[int]:
    """Every ifmap address SCALE-Sim's ifmap matrix holds (N:M: window elements k with k mod M < N)."""
    height, width = layer.padded_ifmap
    out_h, out_w = layer.ofmap_hw
    channels = layer.in_channels
    addresses = set()
    for k in range(layer.filter_h * layer.filter_w * channels):
        if k % layer.sparsity_m >= layer.sparsity_n:
            continue
        tap, c = divmod(k, channels)
        r, q = divmod(tap, layer.filter_w)
        for e in range(out_h):
            for f in range(out_w):
                addresses.add(((e * layer.stride_h + r) * width + f * layer.stride_w + q) * channels + c)
    return addresses


@st.composite
def conv_layers(draw):
    filter_h, filter_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.integers(1, 5))
    m = draw(st.integers(1, 4))
    n = draw(st.integers(1, m))
    return Layer(name="l", ifmap_h=filter_h + draw(st.integers(0, 9)), ifmap_w=filter_w + draw(st.integers(0, 9)),
                 in_channels=draw(st.integers(1, 6)), out_channels=draw(st.integers(1, 9)), filter_h=filter_h,
                 filter_w=filter_w, stride_h=stride, stride_w=stride, sparsity_n=n, sparsity_m=m)


@settings(max_examples=60, deadline=None)
@given(conv_layers())
def test_distinct_ifmap_words_equal_brute_force_im2col(layer):
    assert distinct_ifmap_words(layer) == len(_im2col_addresses(layer))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["os", "ws", "is"]), st.integers(1, 9), st.integers(1, 9), st.integers(1, 40),
       st.integers(1, 40), st.integers(1, 40))
def test_ofmap_write_schedule_conserves_every_write(dataflow, rows, cols, m, k, n):
    schedule = ofmap_writes_per_cycle(dataflow, rows, cols, m, k, n)
    writes = m * n if dataflow == "os" else math.ceil(k / rows) * m * n  # os: partial sums stay in the PEs
    assert schedule.min() >= 0 and int(schedule.sum()) == writes
    assert schedule.max() <= (min(rows, cols) if dataflow == "os" else cols)  # os: anti-diagonals; ws/is: columns
    start, stop = sram_windows(dataflow, rows, cols, m, k, n)["ofmap"]
    active = np.flatnonzero(schedule)
    assert (active[0], active[-1]) == (start, stop)  # SCALE-Sim's SRAM ofmap window, fitted independently


@settings(max_examples=40, deadline=None)
@given(conv_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(2, 9), st.integers(2, 9))
def test_operands_that_fit_are_fetched_once_before_compute_and_drained_after(layer, dataflow, rows, cols):
    words = {"ifmap": 65536, "filter": 65536, "ofmap": 65536}
    gemm = layer.gemm
    windows = sram_windows(dataflow, rows, cols, gemm.m, gemm.k, gemm.n)
    total = 1000
    memory = scalesim_memory(layer, dataflow, rows, cols, words, total, windows)
    set_words = 65536 // SETS
    for operand, distinct in (("ifmap", distinct_ifmap_words(layer)), ("filter", gemm.k * gemm.n)):
        window = getattr(memory, operand)
        assert window.words == distinct and window.stop == -1
        assert -window.start == math.ceil(math.ceil(distinct / set_words) * set_words / PREFETCH_WORDS_PER_CYCLE)
    writes = gemm.m * gemm.n * (1 if dataflow == "os" else math.ceil(gemm.k / rows))
    assert memory.ofmap.words == writes and memory.ofmap.start == total
    assert memory.ofmap.stop == total + math.ceil(writes / cols) - 1
    assert memory.total_cycles_incl_prefetch == memory.ofmap.stop - min(memory.ifmap.start, memory.filter.start)
    assert memory.ofmap.bandwidth == writes / (memory.ofmap.stop - memory.ofmap.start + 1)
    assert not memory.overflow


def test_overflowing_operands_are_refetched_per_column_fold_and_drained_during_compute():
    # 1x1 conv, 784 distinct ifmap words > the 500-word active half of a 1 KiB buffer: each of the 2 column
    # folds of a ws 8x8 array re-streams them (measured: 1568 DRAM ifmap reads, golden_small_sram.csv)
    layer = Layer(name="l", ifmap_h=7, ifmap_w=7, in_channels=16, out_channels=12)
    gemm = layer.gemm
    windows = sram_windows("ws", 8, 8, gemm.m, gemm.k, gemm.n)
    memory = scalesim_memory(layer, "ws", 8, 8, {"ifmap": 1024, "filter": 1024, "ofmap": 1024}, 283, windows)
    assert memory.overflow and memory.ifmap.words == 1568
    # the streamed operand prefetches R cycles' worth less than the active half (measured: -42, not -50)
    assert memory.ifmap.start == -ACTIVE_SETS * (1024 // SETS) // PREFETCH_WORDS_PER_CYCLE + 8 == -42
    assert memory.ofmap.words == 2 * 49 * 12 + 8 - 1  # measured: C - 1 more once drained mid-layer
    assert 0 < memory.ofmap.start < 283 < memory.ofmap.stop


def _toml(memory: str, cycles: str = "scalesim", bandwidth: float = math.inf) -> dict:
    return {"name": "t", "pe_array": {"rows": 4, "cols": 4, "dataflow": "ws", "cycle_convention": cycles,
                                      "memory_convention": memory},
            "buffers": {op: {"size_kb": 64, "word_bytes": 1} for op in ("ifmap", "filter", "ofmap")},
            "dram": {"bandwidth_bytes_per_cycle": bandwidth}}


def test_scalesim_memory_needs_scalesim_cycles_and_applies_in_calc_mode_only():
    with pytest.raises(ValueError, match="compute cycles"):
        Hardware.model_validate(_toml("scalesim", cycles="native"))
    layer = Layer(name="l", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=8, filter_h=3, filter_w=3)
    # a finite bandwidth (USER mode, a sweep point) keeps the native columns rather than failing
    user = sim.estimate([layer], Hardware.model_validate(_toml("scalesim", bandwidth=16.0)))
    assert not any(key.startswith("scalesim.dram") for key in dict(user.layers[0].extra))


def test_native_memory_keeps_its_report_columns_and_scalesim_adds_its_own():
    layer = Layer(name="l", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=8, filter_h=3, filter_w=3)
    native = sim.estimate([layer], Hardware.model_validate(_toml("native")))
    scalesim = sim.estimate([layer], Hardware.model_validate(_toml("scalesim")))
    assert not any(key.startswith("scalesim.dram") for key in dict(native.layers[0].extra))
    row = detailed_access_rows(native)[0]
    assert row[10:12] == (0, native.layers[0].cycles - 1)  # native: the whole layer
    # the LayerResult itself does not move: only the report columns follow SCALE-Sim's buffers
    assert native.layers[0].dram_reads == scalesim.layers[0].dram_reads
    assert native.layers[0].cycles == scalesim.layers[0].cycles
    row = detailed_access_rows(scalesim)[0]
    assert row[10:13] == (-66, -1, 256)  # golden conv3x3 row: 256 ifmap words in one 655-word set
