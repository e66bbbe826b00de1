"""Issue 12's schedule options on ResNet-18 and TPU v1 (hw_configs/tpu_v1_256x256_ws.toml): totals (cycles, DRAM bytes,
energy) with every option off (the config before this change: the baseline, measured in the same run), then
adding keep_for_next_layer (outputs on chip for the next layer), double_buffered_stationary (the TPU's weight
double-buffering) and drain_finished (outputs drain block by block), which is the config as shipped. Engine and
closed form for each.

Prints a table and writes benchmarks/results/bench_schedule_options.json.

Usage: python benchmarks/bench_schedule_options.py [--trace traces/resnet18.csv] [--hw hw_configs/...toml]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import sim
from sim.hardware.load import load_hardware
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def variant(hw, keep: bool, double: bool, drain: bool):
    ofmap = hw.buffers.ofmap.model_copy(update={"keep_for_next_layer": keep, "drain_finished": drain})
    return hw.model_copy(update={
        "buffers": hw.buffers.model_copy(update={"ofmap": ofmap}),
        "pe_array": hw.pe_array.model_copy(update={"double_buffered_stationary": double})})


def totals(run) -> dict:
    return {"cycles": sum(r.cycles for r in run.layers),
            "dram_bytes": int(sum(r.actions.get("dram.read_byte", 0) + r.actions.get("dram.write_byte", 0)
                                  for r in run.layers)),
            "energy_uj": sum(r.energy.total_pj for r in run.layers) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trace", default=str(ROOT / "traces" / "resnet18.csv"))
    parser.add_argument("--hw", default=str(ROOT / "hw_configs" / "tpu_v1_256x256_ws.toml"))
    args = parser.parse_args()
    trace, shipped = load_trace(args.trace), load_hardware(args.hw)
    steps = [("all off (before)", False, False, False), ("+ keep_for_next_layer", True, False, False),
             ("+ double_buffered_stationary", True, True, False), ("+ drain_finished (as shipped)", True, True, True)]
    rows = []
    for label, keep, double, drain in steps:
        hw = variant(shipped, keep, double, drain)
        start = time.perf_counter()
        engine = sim.simulate(trace, hw)
        engine_s = time.perf_counter() - start
        start = time.perf_counter()
        model = sim.estimate(trace, hw)
        model_s = time.perf_counter() - start
        rows.append({"options": label, "engine": totals(engine), "analytical": totals(model),
                     "engine_wall_s": engine_s, "analytical_wall_s": model_s})
    shipped_run = totals(sim.simulate(trace, shipped))
    assert shipped_run == rows[-1]["engine"], "the last row is the config as shipped"
    base = rows[0]["engine"]
    table = Table(title=f"{trace.name} on {shipped.name}: schedule options (engine; closed form in brackets)")
    for column in ("options", "cycles", "vs before", "DRAM MB", "vs before", "energy uJ", "vs before"):
        table.add_column(column)
    for row in rows:
        e, a = row["engine"], row["analytical"]
        table.add_row(row["options"], f"{e['cycles']:,} ({a['cycles']:,})", f"{e['cycles'] / base['cycles'] - 1:+.1%}",
                      f"{e['dram_bytes'] / 1e6:.2f} ({a['dram_bytes'] / 1e6:.2f})",
                      f"{e['dram_bytes'] / base['dram_bytes'] - 1:+.1%}",
                      f"{e['energy_uj']:.1f} ({a['energy_uj']:.1f})", f"{e['energy_uj'] / base['energy_uj'] - 1:+.1%}")
    Console(width=160).print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_schedule_options.json"
    out.write_text(json.dumps({"trace": trace.name, "hardware": shipped.name, "rows": rows}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
