"""Column-by-column agreement with real SCALE-Sim 3.0.0 reports (tests/data/scalesim/golden_reports.csv).

For every golden layer, `sim` runs the same .cfg and topology (the engine and the analytical model) and writes
SCALE-Sim's three reports; each column counts the layers whose value equals SCALE-Sim's (floats to 1e-5
relative, since reports print 6 significant digits). Prints a table and writes
benchmarks/results/bench_scalesim_columns.json; `--label` names the run (e.g. before / after a change).

    python benchmarks/bench_scalesim_columns.py [--label after] [--model engine|analytical]
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import sim
from sim.report.writer import (BANDWIDTH_HEADER, COMPUTE_HEADER, DETAILED_HEADER, bandwidth_report_rows,
                               compute_report_rows, detailed_access_rows)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "scalesim"
RESULTS = ROOT / "benchmarks" / "results"
TOPOLOGIES = {"conv": "conv_small.csv", "gemm": "gemm_small.csv"}
REPORTS = (("COMPUTE_REPORT", COMPUTE_HEADER, compute_report_rows),
           ("BANDWIDTH_REPORT", BANDWIDTH_HEADER, bandwidth_report_rows),
           ("DETAILED_ACCESS_REPORT", DETAILED_HEADER, detailed_access_rows))


def golden_runs() -> dict[tuple[str, str, str, str], list[dict[str, str]]]:
    """Golden rows grouped by (form, dataflow, rows, cols), in layer order."""
    runs: dict[tuple, list] = defaultdict(list)
    with open(DATA / "golden_reports.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            runs[(row["form"], row["dataflow"], row["rows"], row["cols"])].append(row)
    return runs


def our_rows(form: str, dataflow: str, rows: str, cols: str, model: str) -> list[dict[str, str]]:
    """Our SCALE-Sim report values per SCALE-Sim layer row (depthwise layers: the per-channel rows they stand
    for are compared with our one layer only when SCALE-Sim has one row)."""
    hw = sim.load_hardware(DATA / "cfg" / f"{dataflow}_{rows}x{cols}.cfg")
    trace = sim.load_trace(DATA / "topology" / TOPOLOGIES[form])
    run = sim.simulate(trace, hw) if model == "engine" else sim.estimate(trace, hw)
    out: list[dict[str, str]] = [{} for _ in run.layers]
    for report, header, make in REPORTS:
        for index, values in enumerate(make(run)):
            for column, value in zip(header[1:], values[1:]):
                out[index][f"{report}:{column}"] = str(value)
    # SCALE-Sim expands a DP layer into one row per channel: align our layers with its rows by name
    expanded = []
    for layer, values in zip(trace.layers, out):
        copies = layer.groups if "DP" in layer.name else 1
        expanded.extend([values if copies == 1 else {}] * copies)
    return expanded


def equal(ours: str | None, theirs: str) -> bool:
    if ours is None:
        return False
    try:
        a, b = float(ours), float(theirs)
    except ValueError:
        return ours == theirs
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9)


def measure(model: str) -> dict[str, dict[str, int]]:
    matches: dict[str, int] = defaultdict(int)
    total = 0
    for (form, dataflow, rows, cols), golden in golden_runs().items():
        ours = our_rows(form, dataflow, rows, cols, model)
        for theirs, mine in zip(golden, ours):
            total += 1
            for column, value in theirs.items():
                if ":" in column:
                    matches[column] += equal(mine.get(column), value)
    columns = [c for c in next(iter(golden_runs().values()))[0] if ":" in c]
    return {"layers": total, "matches": {column: matches[column] for column in columns}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="current")
    parser.add_argument("--model", choices=("engine", "analytical"), default="engine")
    args = parser.parse_args()
    result = measure(args.model)
    print(f"{'column':70s} exact matches / {result['layers']} ({args.model}, {args.label})")
    for column, count in result["matches"].items():
        print(f"{column:70s} {count:4d}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_scalesim_columns_{args.model}_{args.label}.json"
    path.write_text(json.dumps({"label": args.label, "model": args.model, **result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
