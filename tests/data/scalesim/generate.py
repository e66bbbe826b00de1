"""Regenerate the SCALE-Sim 3.0.0 golden data in this folder by really running SCALE-Sim.

Run with any Python; it calls SCALE-Sim from its own virtual environment (numpy<2 there):
    python tests/data/scalesim/generate.py --scalesim-python scalesim-venv/bin/python
(or set SCALESIM_PYTHON; see docs/scalesim_compat.md for the install line).
It writes one cfg per (dataflow, array) under cfg/, the topologies under topology/, and golden.csv with
SCALE-Sim's COMPUTE_REPORT numbers per layer. CALC mode, header-only layout CSV, no sparsity.
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

CFG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : 64
FilterSramSzkB : 64
OfmapSramSzkB : 64
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : 10
Dataflow : {dataflow}
ReadRequestBuffer : 32
WriteRequestBuffer : 32
MemoryBanks : 1

[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 1
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 1
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""


def run_one(python: str, dataflow: str, rows: int, cols: int, form: str) -> list[dict[str, str]]:
    name = f"{dataflow}_{rows}x{cols}"
    cfg = HERE / "cfg" / f"{name}.cfg"
    topology = HERE / "topology" / TOPOLOGIES[form]
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "layout.csv"
        layout.write_text("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor,\n")
        subprocess.run([python, "-m", "scalesim.scale", "-c", str(cfg), "-t", str(topology), "-l", str(layout),
                        "-p", tmp, "-i", form], check=True, capture_output=True, cwd=tmp)
        report = Path(tmp) / name / "COMPUTE_REPORT.csv"
        lines = [line for line in report.read_text().splitlines() if line.strip()]
    rows_out = []
    for line in lines[1:]:
        fields = [x.strip() for x in line.split(",")]
        rows_out.append({
            "form": form, "dataflow": dataflow, "rows": str(rows), "cols": str(cols), "layer_id": fields[0],
            "total_cycles_incl_prefetch": fields[1], "total_cycles": fields[2], "stall_cycles": fields[3],
            "overall_util_pct": fields[4], "mapping_efficiency_pct": fields[5], "compute_util_pct": fields[6],
        })
    return rows_out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scalesim-python", default=os.environ.get("SCALESIM_PYTHON"),
                        help="the Python of a SCALE-Sim 3.0.0 virtual environment (default: $SCALESIM_PYTHON)")
    args = parser.parse_args()
    if not args.scalesim_python:
        parser.error("--scalesim-python (or SCALESIM_PYTHON) is required")
    (HERE / "cfg").mkdir(exist_ok=True)
    for dataflow in DATAFLOWS:
        for rows, cols in ARRAYS:
            name = f"{dataflow}_{rows}x{cols}"
            (HERE / "cfg" / f"{name}.cfg").write_text(CFG.format(name=name, rows=rows, cols=cols, dataflow=dataflow))
    jobs = [(d, r, c, form) for d in DATAFLOWS for r, c in ARRAYS for form in TOPOLOGIES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: run_one(args.scalesim_python, *job), jobs))
    with open(HERE / "golden.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(results[0][0]))
        writer.writeheader()
        for rows_out in results:
            writer.writerows(rows_out)


if __name__ == "__main__":
    main()
