"""ReBoc at equal area on traces/block_circulant_fc.csv: expanded vs compressed vs compressed-in-budget.

The ISAAC organisation (hw_configs/reboc.toml) runs the trace as
- the expanded mapping (every circulant block stored densely: the ISAAC/PRIME baseline),
- the compressed mapping with idle freed crossbars (the issue's 5.4x slowdown),
- the compressed mapping filling a budget with block copies (equal area), with each ReBoc saving
  (input slice reusing, input tile sharing, intra-layer pipeline) switched off in turn,
at two budgets: the expanded mapping's crossbars (4 chips) and one chip. Engine runs (inter-layer
pipeline, one image). Next to ReBoc's headline (4.1x speedup, 2.6x energy vs ReRAM DNN accelerators,
DATE 2020 abstract). Prints the tables and writes benchmarks/results/bench_reram_reboc.json.

    python benchmarks/bench_reram_reboc.py
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

from sim.equal_area import compare_equal_area
from sim.hardware.load import load_hardware
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parents[1]
PAPER = {"speedup": 4.1, "energy_reduction": 2.6}


def main() -> None:
    trace = load_trace(ROOT / "traces" / "block_circulant_fc.csv")
    hw = load_hardware(ROOT / "hw_configs" / "reboc.toml")
    results = {}
    for budget in ("expanded", 1):
        start = time.perf_counter()
        report = compare_equal_area(trace, hw, budget=budget, model="engine")
        wall = time.perf_counter() - start
        expanded, best = report.row("expanded"), report.row("equal_area")
        # throughput per crossbar in steady state (images / cycle / crossbar), equal_area over expanded
        per_area = (expanded.interval_cycles * expanded.crossbars) / (best.interval_cycles * best.crossbars)
        print(f"\nbudget = {budget} ({'the expanded mapping' if budget == 'expanded' else 'chips'}), "
              f"engine, {wall:.2f} s for {len(report.rows)} runs")
        print(report.table())
        print(f"equal_area vs expanded: speedup {report.speedup('equal_area'):.3f}x, energy "
              f"{report.energy_ratio('equal_area'):.3f}x, throughput per crossbar {per_area:.2f}x; "
              f"vs compressed without budget: speedup {report.speedup('equal_area', 'compressed'):.2f}x; "
              f"paper: {PAPER['speedup']}x speedup, {PAPER['energy_reduction']}x energy")
        results[str(budget)] = {"rows": [asdict(r) for r in report.rows], "wall_s": wall,
                                "speedup_vs_expanded": report.speedup("equal_area"),
                                "energy_reduction_vs_expanded": report.energy_ratio("equal_area"),
                                "throughput_per_crossbar_vs_expanded": per_area,
                                "speedup_vs_compressed": report.speedup("equal_area", "compressed")}
    out = ROOT / "benchmarks" / "results" / "bench_reram_reboc.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "paper": PAPER, "budgets": results}, indent=1))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
