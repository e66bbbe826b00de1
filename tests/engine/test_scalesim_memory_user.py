"""SCALE-Sim's USER-mode buffers (sim/engine/scalesim_memory.py, `scalesim_memory_user`): the fit regime's closed
form (prefetch matrix in whole bandwidth lines before cycle 0, ofmap drained after the last compute cycle, no stalls),
the re-fetch regime's invariants (whole half-buffer chunks, #130's doubled stalls), and the switch from the .cfg.
Agreement with real SCALE-Sim USER-mode runs column by column is tests/properties/test_scalesim_reports.py
(golden_user.csv)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.engine.scalesim_memory import STALL_COUNT, ofmap_writes_per_cycle, prefetch_matrix_words, scalesim_memory_user
from sim.hardware.spec import Hardware
from sim.report.writer import compute_report_rows, detailed_access_rows
from sim.workload.layer import Layer

BIG = {operand: 1 << 20 for operand in ("ifmap", "filter", "ofmap")}


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


layers = st.builds(lambda h, w, fh, fw, c, n, s: Layer(name="l", ifmap_h=max(h, fh), ifmap_w=max(w, fw),
                                                       filter_h=fh, filter_w=fw, in_channels=c, out_channels=n,
                                                       stride_h=s, stride_w=s),
                   st.integers(1, 12), st.integers(1, 12), st.integers(1, 3), st.integers(1, 3), st.integers(1, 8),
                   st.integers(1, 12), st.integers(1, 2))


@settings(max_examples=60, deadline=None)
@given(layer=layers, dataflow=st.sampled_from(["os", "ws", "is"]), rows=st.integers(1, 9), cols=st.integers(1, 9),
       bandwidths=st.tuples(st.integers(1, 16), st.integers(1, 16), st.integers(1, 16)),
       compute=st.integers(1, 5000))
def test_fit_regime_is_closed_form(layer, dataflow, rows, cols, bandwidths, compute):
    bw = dict(zip(("ifmap", "filter", "ofmap"), bandwidths))
    memory, stall = scalesim_memory_user(layer, dataflow, rows, cols, BIG, bw, compute)
    gemm = layer.gemm
    prefetch = dict(zip(("ifmap", "filter"), prefetch_matrix_words(dataflow, rows, cols, gemm.m, gemm.k, gemm.n)))
    assert stall == 0 and not memory.overflow
    for operand in ("ifmap", "filter"):
        window = getattr(memory, operand)
        lines = _ceil(prefetch[operand], bw[operand])
        # the whole prefetch matrix, in whole lines of `bandwidth` words, one line per cycle before cycle 0
        assert (window.start, window.stop, window.words) == (-lines, -1, lines * bw[operand])
        assert prefetch[operand] >= {"ifmap": gemm.m * gemm.k, "filter": gemm.k * gemm.n}[operand]
    writes = int(ofmap_writes_per_cycle(dataflow, rows, cols, gemm.m, gemm.k, gemm.n).sum())
    lines = _ceil(writes, bw["ofmap"])
    assert (memory.ofmap.start, memory.ofmap.stop, memory.ofmap.words) == (compute, compute + lines - 1, writes)
    assert memory.total_cycles_incl_prefetch == memory.ofmap.stop + max(
        _ceil(prefetch["ifmap"], bw["ifmap"]), _ceil(prefetch["filter"], bw["filter"]))


@settings(max_examples=60, deadline=None)
@given(layer=layers, dataflow=st.sampled_from(["os", "ws", "is"]), rows=st.integers(1, 9), cols=st.integers(1, 9),
       bw=st.integers(1, 12), buffer=st.sampled_from([64, 128, 256]))
def test_refetch_regime_reads_whole_chunks_and_counts_stalls_twice(layer, dataflow, rows, cols, bw, buffer):
    words = {operand: buffer for operand in ("ifmap", "filter", "ofmap")}
    ports = {operand: bw for operand in words}
    gemm = layer.gemm
    compute = 1000
    memory, stall = scalesim_memory_user(layer, dataflow, rows, cols, words, ports, compute)
    assert stall >= 0 and stall % STALL_COUNT == 0  # SCALE-Sim #130: every positive stall is added twice
    prefetch = dict(zip(("ifmap", "filter"), prefetch_matrix_words(dataflow, rows, cols, gemm.m, gemm.k, gemm.n)))
    half_lines = _ceil(buffer // 2, bw)
    for operand in ("ifmap", "filter"):
        window = getattr(memory, operand)
        if prefetch[operand] > buffer // 2:  # the active half first, then whole half-buffer chunks
            assert window.start == -half_lines and window.words % (half_lines * bw) == 0
        assert window.stop >= -1 and window.words >= min(prefetch[operand], buffer // 2)
    assert memory.ofmap.stop >= compute + stall - 1  # the last write drains after the last compute cycle


def _user_cfg(bw: int, sram_kb: int) -> str:
    return f"""[general]
run_name = t
[architecture_presets]
ArrayHeight : 8
ArrayWidth : 8
IfmapSramSzkB : {sram_kb}
FilterSramSzkB : {sram_kb}
OfmapSramSzkB : {sram_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : {bw}
Dataflow : ws
ReadRequestBuffer : 32
WriteRequestBuffer : 32
[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : {bw}
IfmapSRAMBankNum : 1
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : {bw}
FilterSRAMBankNum : 1
FilterSRAMBankPort : 2
[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth : USER
UseRamulatorTrace : False
"""


def test_user_cfg_reports_scalesim_columns_and_keeps_the_layer_result(tmp_path):
    # golden_user.csv, ws_8x8_user_bw2_sram64k, conv3x3: no stall, 1440 ifmap words in 720 lines of 2 before cycle 0
    layer = Layer(name="conv3x3", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=8, filter_h=3, filter_w=3)
    path = tmp_path / "user.cfg"
    path.write_text(_user_cfg(2, 64))
    hw = sim.load_hardware(path)
    assert hw.pe_array.memory_convention == "scalesim"
    run = sim.estimate([layer], hw)
    index, incl, total, stall, *_ = compute_report_rows(run)[0]
    assert (incl, total, stall) == (1728, 289, 0)
    assert detailed_access_rows(run)[0][10:] == (-720, -1, 1440, -144, -1, 288, 289, 1008, 1440)
    # the LayerResult keeps our own memory model (its stalls at 2 words/cycle), the same as the native convention
    native = Hardware.model_validate({**hw.model_dump(), "pe_array": {**hw.pe_array.model_dump(),
                                                                     "memory_convention": "native"}})
    assert sim.estimate([layer], native).layers[0].cycles == run.layers[0].cycles > 289
    assert math.isfinite(run.layers[0].cycles)
