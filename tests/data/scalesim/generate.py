"""Regenerate the SCALE-Sim 3.0.0 golden data in this folder by really running SCALE-Sim.

Run with any Python; it calls SCALE-Sim from its own virtual environment (numpy<2 there):
    python tests/data/scalesim/generate.py --scalesim-python scalesim-venv/bin/python
(or set SCALESIM_PYTHON; see docs/scalesim_compat.md for the install line).
It writes one cfg per (dataflow, array) under cfg/, the topologies under topology/, golden.csv with
SCALE-Sim's COMPUTE_REPORT numbers per layer, and golden_reports.csv with every column of its three reports
(COMPUTE, BANDWIDTH, DETAILED_ACCESS) per layer. CALC mode, header-only layout CSV.
Sparse runs (ws arrays, `SparsitySupport: true`, an N:M topology column, each SparseRep) add
golden_sparse.csv: the three reports plus SPARSE_REPORT, per layer. Runs with 1 KiB SRAMs (every dataflow, both
topologies) add golden_small_sram.csv, the regime where SCALE-Sim's buffers re-fetch and drain during compute.
`--resnet18` instead writes golden_resnet18.csv: real layers, whose operands overflow 64 KiB SRAMs (4-13 min).
`--user` instead writes golden_user.csv: USER mode (`InterfaceBandwidth: USER`, finite DRAM bandwidths: the
ifmap / filter fills at the [layout] bank bandwidths, the ofmap drain at `Bandwidth`), every dataflow on
USER_ARRAYS x USER_BANDWIDTHS x USER_SRAM_KB, both small topologies (a few minutes).
`--optmap` instead writes golden_optmap.csv: `OptimizedMapping : true` sparse ws runs (csr) of the sparse topology on
OPTMAP_ARRAYS x OPTMAP_BLOCKS x OPTMAP_SEEDS (about a minute).
"""
from __future__ import annotations

import argparse
import os
import csv
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARRAYS = ((4, 4), (8, 8), (8, 4), (3, 5), (16, 16))
DATAFLOWS = ("os", "ws", "is")
TOPOLOGIES = {"conv": "conv_small.csv", "gemm": "gemm_small.csv"}
SPARSE_TOPOLOGY = "conv_sparse.csv"
SPARSE_ARRAYS = ((8, 8), (4, 4), (8, 4))
SPARSE_REPS = ("ellpack_block", "csr", "csc")
# 1 KiB SRAMs: operands overflow the active half, so SCALE-Sim re-fetches and drains during compute
SMALL_SRAM_KB = 1
SMALL_SRAM_ARRAYS = ((8, 8), (4, 4))
# --resnet18: the first 9 layers of traces/scalesim/resnet18.csv on 32x32 ws, 64 KiB (minutes of SCALE-Sim time)
RESNET_TOPOLOGY = "resnet18_head.csv"
RESNET_LAYERS = 9
# --user: USER-mode runs; the same words/cycle for the ifmap and filter fills and the ofmap drain
USER_ARRAYS = ((8, 8), (32, 32))
USER_BANDWIDTHS = (2, 10)
USER_SRAM_KB = (64, 1)
# --optmap: `OptimizedMapping : true` (SCALE-Sim's random per-column N), ws, csr, a few block sizes and seeds
OPTMAP_ARRAYS = ((8, 8), (8, 4))  # SCALE-Sim asserts BlockSize <= ArrayHeight
OPTMAP_BLOCKS = (4, 8)
OPTMAP_SEEDS = (40, 7)
SPARSE_TEXT = """Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides, Sparsity,
conv3x3_24, 8, 8, 3, 3, 4, 8, 1, 2:4,
conv1x1_14, 7, 7, 1, 1, 16, 12, 1, 1:4,
conv_wide_48, 6, 10, 2, 5, 6, 20, 1, 4:8,
conv3x3_s2_11, 9, 9, 3, 3, 3, 5, 2, 1:1,
conv1x1_28, 5, 5, 1, 1, 32, 6, 1, 2:8,
"""

CFG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {sram_kb}
FilterSramSzkB : {sram_kb}
OfmapSramSzkB : {sram_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : {bw}
Dataflow : {dataflow}
ReadRequestBuffer : 32
WriteRequestBuffer : 32
MemoryBanks : 1

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
SparsitySupport : {sparse}
SparseRep : {rep}
OptimizedMapping : {optmap}
BlockSize : {block}
RandomNumberGeneratorSeed : {seed}

[run_presets]
InterfaceBandwidth : {mode}
UseRamulatorTrace : False
"""


def _report(path: Path) -> list[list[str]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    table = [[x.strip() for x in line.split(",")] for line in lines]
    return [row[:-1] if row and row[-1] == "" else row for row in table]


def run_scalesim(python: str, cfg: Path, topology: Path, name: str, form: str) -> dict[str, list[list[str]]]:
    """SCALE-Sim's reports (header row first) for one cfg and topology."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "layout.csv"
        layout.write_text("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor,\n")
        subprocess.run([python, "-m", "scalesim.scale", "-c", str(cfg), "-t", str(topology), "-l", str(layout),
                        "-p", tmp, "-i", form], check=True, capture_output=True, cwd=tmp)
        return {path.stem: _report(path) for path in sorted((Path(tmp) / name).glob("*_REPORT.csv"))}


def _all_columns(reports: dict[str, list[list[str]]], key: dict[str, str]) -> list[dict[str, str]]:
    """One dict per layer: `key` plus `<REPORT>:<column>` for every column of every report."""
    rows = [dict(key) for _ in reports["COMPUTE_REPORT"][1:]]
    for report, table in reports.items():
        header = table[0]
        for row, values in zip(rows, table[1:]):
            for column, value in zip(header, values):
                row["layer_id" if column == "LayerID" else f"{report}:{column}"] = value
    return rows


def _cfg(**fields) -> str:
    """A cfg's text; CALC mode at 10 words/cycle unless `mode` / `bw` say otherwise."""
    return CFG.format(**{"mode": "CALC", "bw": 10, "optmap": "false", "block": 8, "seed": 40, **fields})


def user_name(dataflow: str, rows: int, cols: int, bw: int, sram_kb: int) -> str:
    return f"{dataflow}_{rows}x{cols}_user_bw{bw}_sram{sram_kb}k"


def run_user(python: str, dataflow: str, rows: int, cols: int, bw: int, sram_kb: int, form: str) -> list:
    name = user_name(dataflow, rows, cols, bw, sram_kb)
    reports = run_scalesim(python, HERE / "cfg" / f"{name}.cfg", HERE / "topology" / TOPOLOGIES[form], name, form)
    key = {"cfg": name, "form": form, "dataflow": dataflow, "rows": str(rows), "cols": str(cols), "bw": str(bw),
           "sram_kb": str(sram_kb)}
    return _all_columns(reports, key)


def run_one(python: str, dataflow: str, rows: int, cols: int, form: str, suffix: str = "") -> tuple[list, list]:
    name = f"{dataflow}_{rows}x{cols}{suffix}"
    reports = run_scalesim(python, HERE / "cfg" / f"{name}.cfg", HERE / "topology" / TOPOLOGIES[form], name, form)
    rows_out = []
    for fields in reports["COMPUTE_REPORT"][1:]:
        rows_out.append({
            "form": form, "dataflow": dataflow, "rows": str(rows), "cols": str(cols), "layer_id": fields[0],
            "total_cycles_incl_prefetch": fields[1], "total_cycles": fields[2], "stall_cycles": fields[3],
            "overall_util_pct": fields[4], "mapping_efficiency_pct": fields[5], "compute_util_pct": fields[6],
        })
    key = {"form": form, "dataflow": dataflow, "rows": str(rows), "cols": str(cols)}
    return rows_out, _all_columns(reports, key)


def run_sparse(python: str, rows: int, cols: int, rep: str) -> list[dict[str, str]]:
    name = f"ws_{rows}x{cols}_sparse_{rep}"
    cfg = HERE / "cfg" / f"{name}.cfg"
    reports = run_scalesim(python, cfg, HERE / "topology" / SPARSE_TOPOLOGY, name, "conv")
    key = {"form": "conv", "dataflow": "ws", "rows": str(rows), "cols": str(cols), "sparse_rep": rep}
    return _all_columns(reports, key)


def optmap_name(rows: int, cols: int, block: int, seed: int) -> str:
    return f"ws_{rows}x{cols}_optmap_b{block}_s{seed}"


def run_optmap(python: str, rows: int, cols: int, block: int, seed: int) -> list[dict[str, str]]:
    name = optmap_name(rows, cols, block, seed)
    reports = run_scalesim(python, HERE / "cfg" / f"{name}.cfg", HERE / "topology" / SPARSE_TOPOLOGY, name, "conv")
    key = {"cfg": name, "form": "conv", "dataflow": "ws", "rows": str(rows), "cols": str(cols), "sparse_rep": "csr",
           "block_size": str(block), "seed": str(seed)}
    return _all_columns(reports, key)


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scalesim-python", default=os.environ.get("SCALESIM_PYTHON"),
                        help="the Python of a SCALE-Sim 3.0.0 virtual environment (default: $SCALESIM_PYTHON)")
    parser.add_argument("--resnet18", action="store_true", help="only the ResNet-18 golden (slow)")
    parser.add_argument("--user", action="store_true", help="only the USER-mode golden (golden_user.csv)")
    parser.add_argument("--optmap", action="store_true", help="only the OptimizedMapping golden (golden_optmap.csv)")
    args = parser.parse_args()
    if not args.scalesim_python:
        parser.error("--scalesim-python (or SCALESIM_PYTHON) is required")
    if args.optmap:
        jobs = [(r, c, b, seed) for r, c in OPTMAP_ARRAYS for b in OPTMAP_BLOCKS for seed in OPTMAP_SEEDS]
        for rows, cols, block, seed in jobs:
            (HERE / "cfg" / f"{optmap_name(rows, cols, block, seed)}.cfg").write_text(_cfg(
                name=optmap_name(rows, cols, block, seed), rows=rows, cols=cols, dataflow="ws", sparse="true",
                rep="csr", sram_kb=64, optmap="true", block=block, seed=seed))
        with ThreadPoolExecutor(max_workers=2) as pool:
            optmap = list(pool.map(lambda job: run_optmap(args.scalesim_python, *job), jobs))
        _write(HERE / "golden_optmap.csv", [row for rows_out in optmap for row in rows_out])
        return
    if args.user:
        jobs = [(d, r, c, bw, kb, form) for d in DATAFLOWS for r, c in USER_ARRAYS for bw in USER_BANDWIDTHS
                for kb in USER_SRAM_KB for form in TOPOLOGIES]
        for dataflow, rows, cols, bw, kb, _ in jobs:
            (HERE / "cfg" / f"{user_name(dataflow, rows, cols, bw, kb)}.cfg").write_text(_cfg(
                name=user_name(dataflow, rows, cols, bw, kb), rows=rows, cols=cols, dataflow=dataflow,
                sparse="false", rep="ellpack_block", sram_kb=kb, mode="USER", bw=bw))
        with ThreadPoolExecutor(max_workers=2) as pool:
            user = list(pool.map(lambda job: run_user(args.scalesim_python, *job), jobs))
        _write(HERE / "golden_user.csv", [row for rows_out in user for row in rows_out])
        return
    if args.resnet18:
        lines = (HERE.parents[2] / "traces" / "scalesim" / "resnet18.csv").read_text().splitlines()
        (HERE / "topology" / RESNET_TOPOLOGY).write_text("\n".join(lines[:1 + RESNET_LAYERS]) + "\n")
        (HERE / "cfg" / "ws_32x32.cfg").write_text(_cfg(name="ws_32x32", rows=32, cols=32, dataflow="ws",
                                                               sparse="false", rep="ellpack_block", sram_kb=64))
        reports = run_scalesim(args.scalesim_python, HERE / "cfg" / "ws_32x32.cfg", HERE / "topology" / RESNET_TOPOLOGY,
                               "ws_32x32", "conv")
        key = {"form": "resnet18", "dataflow": "ws", "rows": "32", "cols": "32"}
        _write(HERE / "golden_resnet18.csv", _all_columns(reports, key))
        return
    (HERE / "cfg").mkdir(exist_ok=True)
    for dataflow in DATAFLOWS:
        for rows, cols in ARRAYS:
            name = f"{dataflow}_{rows}x{cols}"
            (HERE / "cfg" / f"{name}.cfg").write_text(_cfg(name=name, rows=rows, cols=cols, dataflow=dataflow,
                                                                 sparse="false", rep="ellpack_block", sram_kb=64))
        for rows, cols in SMALL_SRAM_ARRAYS:
            name = f"{dataflow}_{rows}x{cols}_sram{SMALL_SRAM_KB}k"
            (HERE / "cfg" / f"{name}.cfg").write_text(_cfg(name=name, rows=rows, cols=cols, dataflow=dataflow,
                                                                 sparse="false", rep="ellpack_block",
                                                                 sram_kb=SMALL_SRAM_KB))
    for rows, cols in SPARSE_ARRAYS:
        for rep in SPARSE_REPS:
            name = f"ws_{rows}x{cols}_sparse_{rep}"
            (HERE / "cfg" / f"{name}.cfg").write_text(_cfg(name=name, rows=rows, cols=cols, dataflow="ws",
                                                                 sparse="true", rep=rep, sram_kb=64))
    (HERE / "topology" / SPARSE_TOPOLOGY).write_text(SPARSE_TEXT)
    jobs = [(d, r, c, form) for d in DATAFLOWS for r, c in ARRAYS for form in TOPOLOGIES]
    sparse_jobs = [(r, c, rep) for r, c in SPARSE_ARRAYS for rep in SPARSE_REPS]
    small_jobs = [(d, r, c, form, f"_sram{SMALL_SRAM_KB}k") for d in DATAFLOWS for r, c in SMALL_SRAM_ARRAYS
                  for form in TOPOLOGIES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: run_one(args.scalesim_python, *job), jobs))
        sparse = list(pool.map(lambda job: run_sparse(args.scalesim_python, *job), sparse_jobs))
        small = list(pool.map(lambda job: run_one(args.scalesim_python, *job), small_jobs))
    _write(HERE / "golden.csv", [row for compute, _ in results for row in compute])
    _write(HERE / "golden_reports.csv", [row for _, every in results for row in every])
    _write(HERE / "golden_sparse.csv", [row for rows_out in sparse for row in rows_out])
    _write(HERE / "golden_small_sram.csv", [dict(row, sram_kb=str(SMALL_SRAM_KB)) for _, every in small
                                            for row in every])

if __name__ == "__main__":
    main()
