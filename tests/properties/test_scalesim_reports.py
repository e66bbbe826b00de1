"""Every column of SCALE-Sim 3.0.0's reports (COMPUTE, BANDWIDTH, DETAILED_ACCESS and, for sparse runs,
SPARSE_REPORT) against real runs: tests/data/scalesim/golden_reports.csv (dense, 15 cfgs) and golden_sparse.csv
(ws, N:M topology, csr / csc / ellpack_block), golden_user.csv (USER mode: finite DRAM bandwidths, 64 KiB and
1 KiB SRAMs), golden_small_sram.csv (1 KiB SRAMs: operands re-fetched, the ofmap
drained during compute) and golden_resnet18.csv (ResNet-18's first 9 layers on 32x32 ws, 64 KiB: real layers that
overflow the buffers). The memory columns (DRAM counts, start / stop cycles and bandwidths, Total Cycles incl.
prefetch) come from the scalesim memory convention (sim/engine/scalesim_memory.py). A column either equals
SCALE-Sim's on every layer, engine and analytical model, or is a strict xfail naming the reason. Depthwise `DP` layers (SCALE-Sim runs one layer per
channel) are compared in tests/properties/test_systolic_scalesim.py."""
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.report.writer import (COMPUTE_HEADER, DETAILED_HEADER, SPARSE_HEADER, bandwidth_header,
                               bandwidth_report_rows, compute_report_rows, detailed_access_rows, is_sparse_run,
                               sparse_report_rows)

DATA = Path(__file__).resolve().parents[1] / "data" / "scalesim"
TOPOLOGIES = {"conv": "conv_small.csv", "gemm": "gemm_small.csv", "resnet18": "resnet18_head.csv"}


def _golden(file: str, sram_kb: str | None = None) -> dict[tuple[str, str], list[dict[str, str]]]:
    runs: dict[tuple, list] = defaultdict(list)
    with open(DATA / file, newline="") as handle:
        for row in csv.DictReader(handle):
            if sram_kb is not None and row["sram_kb"] != sram_kb:
                continue
            stem = f"{row['dataflow']}_{row['rows']}x{row['cols']}"
            if row.get("cfg"):  # USER-mode runs name their cfg
                stem = row["cfg"]
            elif row.get("sram_kb"):
                stem += f"_sram{row['sram_kb']}k"
            key = (f"{stem}_sparse_{row['sparse_rep']}", "conv_sparse.csv") if row.get("sparse_rep") else \
                (stem, TOPOLOGIES[row["form"]])
            runs[key].append(row)
    return runs


def _ours(cfg: str, topology: str, model) -> list[dict[str, str] | None]:
    """Our report cells per SCALE-Sim row; None for the rows of a depthwise layer."""
    trace = sim.load_trace(DATA / "topology" / topology)
    run = model(trace, sim.load_hardware(DATA / "cfg" / f"{cfg}.cfg"))
    out: list[dict[str, str]] = [{} for _ in run.layers]
    reports = [("COMPUTE_REPORT", COMPUTE_HEADER, compute_report_rows(run)),
               ("BANDWIDTH_REPORT", bandwidth_header(run), bandwidth_report_rows(run)),
               ("DETAILED_ACCESS_REPORT", DETAILED_HEADER, detailed_access_rows(run))]
    if is_sparse_run(run):
        reports.append(("SPARSE_REPORT", SPARSE_HEADER, sparse_report_rows(run)))
    for report, header, rows in reports:
        for index, values in enumerate(rows):
            out[index].update({f"{report}:{c}": str(v) for c, v in zip(header[1:], values[1:])})
    expanded: list[dict[str, str] | None] = []
    for layer, cells in zip(trace.layers, out):
        expanded += [None] * layer.groups if "DP" in layer.name else [cells]
    return expanded


def _equal(ours: str, theirs: str) -> bool:
    try:
        return bool(np.isclose(float(ours), float(theirs), rtol=1e-5, atol=1e-9))
    except ValueError:
        return ours == theirs


# SCALE-Sim runs these, sim refuses them (MappingError): our array keeps a fold's whole stationary block in one
# half of its SRAM (os: conv_wide's 30 x 20 outputs, ws: a 20 x 32 filter block, on 32x32 exceed half of 1 KiB);
# SCALE-Sim streams the block through its buffer instead
REFUSED = {(f"{flow}_32x32_user_bw{bw}_sram1k", "conv_small.csv") for flow in ("os", "ws") for bw in (2, 10)}


def _ours_or_refused(cfg: str, topology: str, model) -> list[dict[str, str] | None]:
    return [] if (cfg, topology) in REFUSED else _ours(cfg, topology, model)


@pytest.mark.parametrize("cfg,topology", sorted(REFUSED))
def test_refused_runs_say_why(cfg: str, topology: str) -> None:
    with pytest.raises(sim.errors.MappingError, match="does not fit"):
        _ours(cfg, topology, sim.estimate)


GOLDEN = {"dense": _golden("golden_reports.csv"), "sparse": _golden("golden_sparse.csv"),
          "small_sram": _golden("golden_small_sram.csv"), "resnet18": _golden("golden_resnet18.csv"),
          "user": _golden("golden_user.csv", sram_kb="64"), "user_small_sram": _golden("golden_user.csv", sram_kb="1")}
OURS = {(kind, name): {key: _ours_or_refused(*key, model) for key in GOLDEN[kind]}
        for kind in GOLDEN for name, model in (("engine", sim.simulate), ("analytical", sim.estimate))}

# Columns that differ, each with the reason (strict: a fix must remove the entry). Under the scalesim cycle and
# memory conventions (on for every SCALE-Sim CALC-mode .cfg) none differ where the operands fit their buffers'
# active halves (all dense and sparse golden runs); where they overflow (1 KiB SRAMs, ResNet-18) some DRAM windows
# are approximated.
_REFILL = ("re-fetching operands: the last refill's timing is approximated by a uniform demand rate (a few to a few "
           "hundred cycles off)")
_STREAMED = ("ws conv1 (3 channels, 7x7 taps, stride 2): every fold's distinct words re-fetched gives 1376916 ifmap "
             "reads; SCALE-Sim re-fetches some words within a fold too (1382899)")
_OS_FILTER = ("os filter re-reads across row folds: SCALE-Sim fetches a little more than the distinct K x N words "
              "(1240 for 1200) where a column fold's filter block fills the active half; we count 1200")
_DRAIN = ("an ofmap that drains during compute: drain start / stop from SCALE-Sim's write schedule and one half "
          "drained at a time at C words/cycle; the last drain ends a few to ~500 cycles off")
# USER mode with 1 KiB SRAMs: the read buffers re-fetch and stall; 55 of 68 comparable rows match exactly (the rows
# whose prefetch matrices fit, or overflow with padding only), the rest are approximated (docs/scalesim_compat.md)
_USER_STALL = ("USER-mode stalls of re-fetching read buffers: a chunk-level replay (half-buffer chunks, demanded "
               "uniformly within each fold, #130's doubling) is 2-30 % off on ws / os, and misses most is stalls")
_USER_REFETCH = ("USER-mode re-fetches: SCALE-Sim re-reads stationary operands (ws filter, is ifmap) and os / is "
                 "column-fold operands 2-6x more than the half-buffer chunks of their demanded words that we count")
_USER_DRAIN = ("USER-mode ofmap drained during compute: its timing follows our approximate stalls, and SCALE-Sim "
               "writes 1 word more at 2 words/cycle but none more at 10 (we add bandwidth - 1)")
KNOWN: dict[str, dict[str, str]] = {"dense": {}, "sparse": {}, "user": {}, "user_small_sram": {
    **{column: _USER_STALL for column in (
        "COMPUTE_REPORT:Total Cycles", "COMPUTE_REPORT:Stall Cycles", "COMPUTE_REPORT:Overall Util %",
        "BANDWIDTH_REPORT:Avg IFMAP SRAM BW", "BANDWIDTH_REPORT:Avg FILTER SRAM BW",
        "BANDWIDTH_REPORT:Avg OFMAP SRAM BW",
        *(f"DETAILED_ACCESS_REPORT:SRAM {operand} {end} Cycle" for operand in ("IFMAP", "Filter", "OFMAP")
          for end in ("Start", "Stop")))},
    **{column: _USER_REFETCH for column in (
        "DETAILED_ACCESS_REPORT:DRAM IFMAP Reads", "DETAILED_ACCESS_REPORT:DRAM IFMAP Stop Cycle",
        "BANDWIDTH_REPORT:Avg IFMAP DRAM BW", "DETAILED_ACCESS_REPORT:DRAM Filter Reads",
        "DETAILED_ACCESS_REPORT:DRAM Filter Stop Cycle", "BANDWIDTH_REPORT:Avg FILTER DRAM BW")},
    **{column: _USER_DRAIN for column in (
        "DETAILED_ACCESS_REPORT:DRAM OFMAP Writes", "DETAILED_ACCESS_REPORT:DRAM OFMAP Start Cycle",
        "DETAILED_ACCESS_REPORT:DRAM OFMAP Stop Cycle", "BANDWIDTH_REPORT:Avg OFMAP DRAM BW",
        "COMPUTE_REPORT:Total Cycles (incl. prefetch)")},
}, "small_sram": {
    "DETAILED_ACCESS_REPORT:DRAM IFMAP Stop Cycle": _REFILL,
    "DETAILED_ACCESS_REPORT:DRAM Filter Stop Cycle": _REFILL,
    "DETAILED_ACCESS_REPORT:DRAM Filter Reads": _OS_FILTER,
    "BANDWIDTH_REPORT:Avg IFMAP DRAM BW": _REFILL,
    "BANDWIDTH_REPORT:Avg FILTER DRAM BW": _REFILL,
    "DETAILED_ACCESS_REPORT:DRAM OFMAP Start Cycle": _DRAIN,
    "DETAILED_ACCESS_REPORT:DRAM OFMAP Stop Cycle": _DRAIN,
    "BANDWIDTH_REPORT:Avg OFMAP DRAM BW": _DRAIN,
    "COMPUTE_REPORT:Total Cycles (incl. prefetch)": _DRAIN,
}, "resnet18": {
    "DETAILED_ACCESS_REPORT:DRAM IFMAP Stop Cycle": _REFILL,
    "DETAILED_ACCESS_REPORT:DRAM IFMAP Reads": _STREAMED,
    "DETAILED_ACCESS_REPORT:DRAM Filter Stop Cycle": _REFILL,
    "BANDWIDTH_REPORT:Avg IFMAP DRAM BW": _REFILL,
    "BANDWIDTH_REPORT:Avg FILTER DRAM BW": _REFILL,
    "DETAILED_ACCESS_REPORT:DRAM OFMAP Stop Cycle": _DRAIN,
    "BANDWIDTH_REPORT:Avg OFMAP DRAM BW": _DRAIN,
    "COMPUTE_REPORT:Total Cycles (incl. prefetch)": _DRAIN,
}}


def _cases():
    for kind, runs in GOLDEN.items():
        for column in (c for c in next(iter(runs.values()))[0] if ":" in c):
            for model in ("engine", "analytical"):
                marks = [pytest.mark.xfail(strict=True, reason=KNOWN[kind][column])] if column in KNOWN[kind] else []
                yield pytest.param(kind, model, column, marks=marks, id=f"{kind}-{model}-{column}")


@pytest.mark.parametrize("kind,model,column", list(_cases()))
def test_report_column_equals_scalesim(kind: str, model: str, column: str) -> None:
    for key, golden in GOLDEN[kind].items():
        for layer, (theirs, ours) in enumerate(zip(golden, OURS[(kind, model)][key])):
            if ours is not None:
                assert _equal(ours[column], theirs[column]), (key, layer, ours[column], theirs[column])
