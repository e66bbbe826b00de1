"""Chunk order (issue 12, partial sums on chip): ResNet-18's conv1 with its streamed dimension's chunks innermost
(today's order, the baseline, measured in the same run) vs outside the row folds (Mapping.chunk_order
"outside_row_folds"), on the shipped ws arrays, at the trace's precision (32-bit outputs) and at 8-bit outputs with
16-bit partial sums (the issue's case). Both orders use the fewest chunks that fit the buffers (map_systolic's).

Prints a table (DRAM bytes, cycles, energy; engine and closed form) and writes
benchmarks/results/bench_chunk_order.json.

Usage: python benchmarks/bench_chunk_order.py
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sim.analytical.systolic import estimate_systolic
from sim.engine.simulate import simulate_layer
from sim.hardware.load import load_hardware
from sim.mapping.systolic import array_mapping, map_systolic
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = ("tpu_v1_256x256_ws.toml", "scalesim_32x32_ws.toml", "eyeriss_12x14.toml")
PRECISIONS = {"trace (ofmap 32, psum 32)": {}, "ofmap 8, psum 16": {"ofmap_bits": 8, "psum_bits": 16}}


def dram_bytes(result) -> int:
    return int(result.actions.get("dram.read_byte", 0) + result.actions.get("dram.write_byte", 0))


def main() -> None:
    conv1 = load_trace(ROOT / "traces" / "resnet18.csv").layers[0]
    rows = []
    for config in CONFIGS:
        hw = load_hardware(ROOT / "hw_configs" / config)
        for label, widths in PRECISIONS.items():
            layer = replace(conv1, **widths)
            fitted = map_systolic(layer, hw)
            for order in ("innermost", "outside_row_folds"):
                mapping = array_mapping(layer, fitted.dataflow, fitted.rows, fitted.cols, chunks=fitted.chunks,
                                        whole=fitted.whole, chunk_order=order)
                model, engine = estimate_systolic(layer, hw, mapping), simulate_layer(layer, hw, mapping)
                rows.append({"hardware": hw.name, "precision": label, "chunk_order": order, "chunks": mapping.chunks,
                             "row_folds": mapping.row_folds, "whole": list(mapping.whole),
                             "dram_bytes": dram_bytes(engine), "dram_bytes_analytical": dram_bytes(model),
                             "dram_ofmap_reads": engine.dram_reads.ofmap, "cycles": engine.cycles,
                             "cycles_analytical": model.cycles, "compute_cycles": engine.compute_cycles,
                             "energy_uj": engine.energy.total_pj / 1e6,
                             "energy_uj_analytical": model.energy.total_pj / 1e6})
    table = Table(title="ResNet-18 conv1: chunks of T innermost (today) vs outside the row folds")
    for column in ("hardware", "precision", "order", "chunks x row folds", "DRAM MB", "ofmap reads", "cycles",
                   "energy uJ", "closed form =="):
        table.add_column(column)
    for row in rows:
        same = (row["dram_bytes"] == row["dram_bytes_analytical"]
                and abs(row["energy_uj"] - row["energy_uj_analytical"]) < 1e-9 * max(row["energy_uj"], 1))
        table.add_row(row["hardware"], row["precision"], row["chunk_order"], f"{row['chunks']} x {row['row_folds']}",
                      f"{row['dram_bytes'] / 1e6:.2f}", f"{row['dram_ofmap_reads']}", f"{row['cycles']}",
                      f"{row['energy_uj']:.1f}", "bytes, energy" if same else "NO")
    Console(width=150).print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_chunk_order.json"
    out.write_text(json.dumps({"layer": conv1.name, "rows": rows}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
