"""Layers per second of the analytical models, one at a time and vectorized, against the engine (same run).

Rows:
- systolic closed form (`estimate_systolic`) on every ResNet-50 layer, one at a time;
- the same closed form vectorized over a hardware grid (`estimate_systolic_grid`: rows x cols x dataflow x
  bandwidth) for one layer, as points per second;
- the directive model (`estimate_directive`) on ResNet-50 under mappings/kcp_ws.m on MAESTRO's accelerator_1;
- the crossbar closed form (`estimate_crossbar`) on ResNet-18 on the ISAAC config;
- the baselines: the discrete-event engine (`sim.simulate`) on the same layers and hardware.
Prints a table and writes benchmarks/results/bench_analytical.json.

    python benchmarks/bench_analytical.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import sim
from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid
from sim.mapping.systolic import map_systolic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def timed(function, repeat: int = 1) -> float:
    """Best wall time of `repeat` calls (the first call also pays numba's compile, so warm up first)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer layers and a smaller grid")
    args = parser.parse_args()

    rows = []
    resnet50 = sim.load_trace(ROOT / "traces" / "resnet50.csv")
    layers = resnet50.layers[:8] if args.quick else resnet50.layers
    systolic_hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4.toml")

    def closed_form() -> None:
        for layer in layers:
            estimate_systolic(layer, systolic_hw, map_systolic(layer, systolic_hw))

    closed_form()
    t_closed = timed(closed_form, repeat=3)
    t_engine = timed(lambda: sim.simulate(layers, systolic_hw))
    rows.append(("systolic closed form, one layer at a time", len(layers), t_closed, t_engine))

    layer = resnet50.layers[10]
    side = 16 if args.quick else 64
    grid = np.meshgrid(np.arange(1, side + 1), np.arange(1, side + 1), np.arange(3), np.geomspace(1, 128, 8),
                       indexing="ij")
    array_rows, array_cols, dataflow, bandwidth = (axis.ravel() for axis in grid)
    estimate_systolic_grid(layer, array_rows[:10], array_cols[:10], dataflow[:10])
    t_grid = timed(lambda: estimate_systolic_grid(layer, array_rows, array_cols, dataflow,
                                                  bandwidth_bytes_per_cycle=bandwidth), repeat=3)
    one_point = timed(lambda: estimate_systolic(layer, systolic_hw, map_systolic(layer, systolic_hw)), repeat=20)
    rows.append(("systolic closed form, vectorized grid (points)", array_rows.size, t_grid,
                 one_point * array_rows.size))

    maestro_hw = sim.load_hardware(ROOT / "hw_configs" / "maestro" / "accelerator_1.m")
    kcp_ws = sim.load_mapping(ROOT / "mappings" / "kcp_ws.m")
    sim.estimate(layers[:1], maestro_hw, mapping=kcp_ws)
    t_directive = timed(lambda: sim.estimate(layers, maestro_hw, mapping=kcp_ws), repeat=3)
    try:
        t_directive_engine = timed(lambda: sim.simulate(layers, maestro_hw, mapping=kcp_ws))
    except (ImportError, sim.SimError):
        t_directive_engine = float("nan")  # no directive engine in this build
    rows.append(("directive model (kcp_ws on accelerator_1)", len(layers), t_directive, t_directive_engine))

    resnet18 = sim.load_trace(ROOT / "traces" / "resnet18.csv")
    crossbar_layers = resnet18.layers[:6] if args.quick else resnet18.layers
    isaac = sim.load_hardware(ROOT / "hw_configs" / "isaac.toml")
    sim.estimate(crossbar_layers[:1], isaac)
    t_crossbar = timed(lambda: sim.estimate(crossbar_layers, isaac), repeat=3)
    t_crossbar_engine = timed(lambda: sim.simulate(crossbar_layers, isaac))
    rows.append(("crossbar closed form (ResNet-18 on ISAAC)", len(crossbar_layers), t_crossbar, t_crossbar_engine))

    header = f"{'model':<50} {'items':>8} {'wall s':>10} {'items/s':>12} {'baseline s':>11} {'speedup':>9}"
    print(header)
    print("-" * len(header))
    records = []
    for name, items, wall, baseline in rows:
        speedup = baseline / wall if wall > 0 else float("inf")
        print(f"{name:<50} {items:>8} {wall:>10.4f} {items / wall:>12.0f} {baseline:>11.4f} {speedup:>8.0f}x")
        records.append({"model": name, "items": items, "wall_s": wall, "items_per_s": items / wall,
                        "baseline_s": baseline, "speedup_vs_baseline": speedup})
    print("baseline: the engine on the same layers (grid row: one closed-form call per point)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_analytical.json").write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
