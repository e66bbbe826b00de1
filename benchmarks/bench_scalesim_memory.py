"""Speed and agreement of the scalesim memory convention against SCALE-Sim 3.0.0 itself, on ResNet-18.

The case: the first 9 layers of traces/scalesim/resnet18.csv on SCALE-Sim's default 32x32 ws array (64 KiB per
operand, CALC mode; the cfg below, loaded by both tools). `sim` runs in-process (analytical model and engine, each
with the SCALE-Sim report columns of the scalesim cycle and memory conventions); SCALE-Sim runs in the same
benchmark through its Python API (traces off, import excluded from its time) when its virtual environment's Python
is given by --scalesim-python or $SCALESIM_PYTHON (docs/scalesim_compat.md has the install line); otherwise that
part is skipped with a message. Per report column it counts the layers equal to SCALE-Sim's (floats to 1e-5).
Prints a table and writes benchmarks/results/bench_scalesim_memory.json.

    python benchmarks/bench_scalesim_memory.py [--scalesim-python PY] [--layers 9] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sim
from sim.report.writer import (COMPUTE_HEADER, DETAILED_HEADER, bandwidth_header, bandwidth_report_rows,
                               compute_report_rows, detailed_access_rows)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_systolic import SCALESIM_CFG  # noqa: E402  (one copy of SCALE-Sim's default cfg text)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOPOLOGY = ROOT / "traces" / "scalesim" / "resnet18.csv"

# Runs inside SCALE-Sim's virtual environment: its run time and its three reports, as JSON.
SCALESIM_DRIVER = """
import json, sys, time
from pathlib import Path
from scalesim.scale_sim import scalesim
cfg, topology, layout, out = sys.argv[1:5]
run = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topology, layout=layout)
start = time.perf_counter()
run.run_scale(top_path=out)
wall = time.perf_counter() - start
reports = {}
for name in ("COMPUTE_REPORT", "BANDWIDTH_REPORT", "DETAILED_ACCESS_REPORT"):
    lines = [l for l in (Path(out) / "bench" / (name + ".csv")).read_text().splitlines() if l.strip()]
    reports[name] = [[cell.strip() for cell in line.split(",") if cell.strip()] for line in lines]
print(json.dumps({"wall_s": wall, "reports": reports}))
"""


def our_reports(run) -> dict[str, list[list[str]]]:
    """Our three SCALE-Sim reports as header + rows of strings."""
    out = {}
    for name, header, rows in (("COMPUTE_REPORT", COMPUTE_HEADER, compute_report_rows(run)),
                               ("BANDWIDTH_REPORT", bandwidth_header(run), bandwidth_report_rows(run)),
                               ("DETAILED_ACCESS_REPORT", DETAILED_HEADER, detailed_access_rows(run))):
        out[name] = [list(header)] + [[str(value) for value in row] for row in rows]
    return out


def column_matches(ours: dict, theirs: dict) -> dict[str, int]:
    matches = {}
    for name, table in theirs.items():
        header = table[0]
        for index, column in enumerate(header[1:], start=1):
            count = 0
            for mine, real in zip(ours[name][1:], table[1:]):
                try:
                    a, b = float(mine[index]), float(real[index])
                    count += abs(a - b) <= 1e-5 * max(abs(a), abs(b)) + 1e-9
                except ValueError:
                    count += mine[index] == real[index]
            matches[f"{name}:{column}"] = count
    return matches


def time_sim(model, trace, hw, repeat: int) -> tuple[float, object]:
    best, run = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        run = model(trace, hw)
        best = min(best, time.perf_counter() - start)
    return best, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scalesim-python", default=os.environ.get("SCALESIM_PYTHON"),
                        help="the Python of a SCALE-Sim 3.0.0 virtual environment (default: $SCALESIM_PYTHON)")
    parser.add_argument("--layers", type=int, default=9)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = folder / "bench.cfg"
        cfg.write_text(SCALESIM_CFG.format(rows=32, cols=32, dataflow="ws"))
        lines = TOPOLOGY.read_text().splitlines()
        topology = folder / "resnet18_head.csv"
        topology.write_text("\n".join(lines[:1 + args.layers]) + "\n")
        layout = folder / "layout.csv"
        layout.write_text("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor,\n")
        hw, trace = sim.load_hardware(cfg), sim.load_trace(topology)
        sim.estimate(trace, hw)  # warm-up: numba compilation and imports are not the model's time
        sim.simulate(trace, hw)
        results: dict = {"case": f"resnet18 first {args.layers} layers, 32x32 ws, 64 KiB SRAMs, CALC",
                         "layers": len(trace.layers)}
        for label, model in (("analytical", sim.estimate), ("engine", sim.simulate)):
            wall, run = time_sim(model, trace, hw, args.repeat)
            results[label] = {"wall_s": wall, "reports": our_reports(run)}
        python = args.scalesim_python
        if python and Path(python).exists():
            out = folder / "scalesim_out"
            done = subprocess.run([python, "-c", SCALESIM_DRIVER, str(cfg), str(topology), str(layout), str(out)],
                                  check=True, capture_output=True, text=True, cwd=folder)
            scalesim = json.loads(done.stdout.strip().splitlines()[-1])
            results["scalesim"] = {"wall_s": scalesim["wall_s"], "reports": scalesim["reports"]}
            for label in ("analytical", "engine"):
                results[label]["speedup_vs_scalesim"] = scalesim["wall_s"] / results[label]["wall_s"]
                results[label]["column_matches"] = column_matches(results[label]["reports"], scalesim["reports"])
        else:
            print("SCALE-Sim not run: give --scalesim-python or set SCALESIM_PYTHON (docs/scalesim_compat.md)")
    print(f"{'model':12s} {'wall s':>10s} {'speedup vs SCALE-Sim':>22s}")
    for label in ("scalesim", "analytical", "engine"):
        if label in results:
            speedup = results[label].get("speedup_vs_scalesim")
            print(f"{label:12s} {results[label]['wall_s']:10.4f} {'' if speedup is None else f'{speedup:,.0f}x':>22s}")
    if "scalesim" in results:
        print(f"\n{'column':60s} layers equal to SCALE-Sim (analytical / engine) of {results['layers']}")
        for column, count in results["analytical"]["column_matches"].items():
            print(f"{column:60s} {count:3d} / {results['engine']['column_matches'][column]:3d}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_scalesim_memory.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
