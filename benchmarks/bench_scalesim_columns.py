"""Column-by-column agreement with real SCALE-Sim 3.0.0 reports (tests/data/scalesim/golden*.csv).

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
from sim.report.writer import (COMPUTE_HEADER, DETAILED_HEADER, SPARSE_HEADER, bandwidth_header,
                               bandwidth_report_rows, compute_report_rows, detailed_access_rows, is_sparse_run,
                               sparse_report_rows)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "scalesim"
RESULTS = ROOT / "benchmarks" / "results"
TOPOLOGIES = {"conv": "conv_small.csv", "gemm": "gemm_small.csv", "resnet18": "resnet18_head.csv"}
REPORTS = (("COMPUTE_REPORT", lambda run: COMPUTE_HEADER, compute_report_rows),
           ("BANDWIDTH_REPORT", bandwidth_header, bandwidth_report_rows),
           ("DETAILED_ACCESS_REPORT", lambda run: DETAILED_HEADER, detailed_access_rows),
           ("SPARSE_REPORT", lambda run: SPARSE_HEADER if is_sparse_run(run) else (), sparse_report_rows))
GOLDEN_FILES = {"dense": "golden_reports.csv", "sparse": "golden_sparse.csv", "small_sram": "golden_small_sram.csv",
                "resnet18": "golden_resnet18.csv", "user": "golden_user.csv", "user_small_sram": "golden_user.csv"}
# USER-mode rows (golden_user.csv) split by SRAM size: 64 KiB (operands fit) and 1 KiB (re-fetches and stalls)
SRAM_KB = {"user": "64", "user_small_sram": "1"}


def golden_runs(kind: str = "dense") -> dict[tuple[str, ...], list[dict[str, str]]]:
    """Golden rows grouped by run: (cfg stem, topology file), in layer order."""
    runs: dict[tuple, list] = defaultdict(list)
    with open(DATA / GOLDEN_FILES[kind], newline="") as handle:
        for row in csv.DictReader(handle):
            if kind in SRAM_KB and row["sram_kb"] != SRAM_KB[kind]:
                continue
            stem = f"{row['dataflow']}_{row['rows']}x{row['cols']}"
            if row.get("cfg"):  # USER-mode runs name their cfg
                stem = row["cfg"]
            elif row.get("sram_kb"):
                stem += f"_sram{row['sram_kb']}k"
            if row.get("sparse_rep"):
                runs[(f"{stem}_sparse_{row['sparse_rep']}", "conv_sparse.csv")].append(row)
            else:
                runs[(stem, TOPOLOGIES[row["form"]])].append(row)
    return runs


def our_rows(cfg: str, topology: str, model: str) -> list[dict[str, str]]:
    """Our SCALE-Sim report values per SCALE-Sim layer row (a depthwise layer, which SCALE-Sim expands into one
    row per channel, is left empty: never a match)."""
    hw = sim.load_hardware(DATA / "cfg" / f"{cfg}.cfg")
    trace = sim.load_trace(DATA / "topology" / topology)
    try:
        run = sim.simulate(trace, hw) if model == "engine" else sim.estimate(trace, hw)
    except sim.errors.MappingError:  # SCALE-Sim runs it, our buffers refuse it: every column a miss
        return []
    out: list[dict[str, str]] = [{} for _ in run.layers]
    for report, header_of, make in REPORTS:
        header = header_of(run)
        if not header:
            continue
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


def measure(model: str, kind: str = "dense") -> dict[str, dict[str, int]]:
    matches: dict[str, int] = defaultdict(int)
    total = 0
    runs = golden_runs(kind)
    for (cfg, topology), golden in runs.items():
        ours = our_rows(cfg, topology, model)
        for theirs, mine in zip(golden, ours):
            total += 1
            for column, value in theirs.items():
                if ":" in column:
                    matches[column] += equal(mine.get(column), value)
    columns = [c for c in next(iter(runs.values()))[0] if ":" in c]
    return {"layers": total, "matches": {column: matches[column] for column in columns}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="current")
    parser.add_argument("--model", choices=("engine", "analytical"), default="engine")
    args = parser.parse_args()
    results = {kind: measure(args.model, kind) for kind in GOLDEN_FILES}
    for kind, result in results.items():
        print(f"{kind + ' column':70s} exact matches / {result['layers']} ({args.model}, {args.label})")
        for column, count in result["matches"].items():
            print(f"{column:70s} {count:4d}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_scalesim_columns_{args.model}_{args.label}.json"
    path.write_text(json.dumps({"label": args.label, "model": args.model, **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
