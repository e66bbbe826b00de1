"""Layers per second of the analytical models, one at a time and vectorized, against the engine (same run).

Rows:
- systolic closed form (`estimate_systolic`) on every ResNet-50 layer, one at a time;
- the same closed form vectorized over a hardware grid (`estimate_systolic_grid`: rows x cols x dataflow x
  bandwidth) for one layer, as points per second; then over rows x cols x dataflow x buffer sizes x double
  buffering for a 3x3 conv layer and for conv1 (their ifmap footprints are counted once per distinct tiling);
- the directive model (`estimate_directive`) on ResNet-50 under mappings/kcp_ws.m on MAESTRO's accelerator_1;
- the crossbar closed form (`estimate_crossbar`) on ResNet-18 on the ISAAC config;
- the baselines: the discrete-event engine (`sim.simulate`) on the same layers and hardware.
Then a second table: microseconds per layer of `estimate_systolic` (mapping given, best of a few calls per layer)
on ResNet-50 (benchmarks/bench_engine.py's 54 layers) on its 128x128 ws array with 512 KiB buffers: median and max
over the layers, and `conv1` (7x7 stride 2 over 3 channels: the costliest ifmap footprints) on its own.
Prints the tables and writes benchmarks/results/bench_analytical.json.

    python benchmarks/bench_analytical.py [--quick]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_engine import hardware as resnet50_hardware
from bench_engine import resnet50 as resnet50_trace
from timing import best_time

import sim
from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid
from sim.mapping.systolic import map_systolic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def per_layer_us(repeat: int) -> dict[str, float]:
    """Median, max and conv1 microseconds per `estimate_systolic` call on ResNet-50 (128x128 ws, 512 KiB)."""
    hw = resnet50_hardware()
    layers = resnet50_trace().layers
    mappings = [map_systolic(layer, hw) for layer in layers]
    wall = {}
    for layer, mapping in zip(layers, mappings):
        estimate_systolic(layer, hw, mapping)
        wall[layer.name] = 1e6 * best_time(lambda layer=layer, mapping=mapping: estimate_systolic(layer, hw, mapping),
                                      repeat=repeat)
    times = np.array(list(wall.values()))
    return {"layers": len(layers), "median_us": float(np.median(times)), "max_us": float(times.max()),
            "slowest": max(wall, key=wall.get), "conv1_us": wall["conv1"], "total_ms": float(times.sum()) / 1e3}


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
    t_closed = best_time(closed_form, repeat=3)
    t_engine = best_time(lambda: sim.simulate(layers, systolic_hw))
    rows.append(("systolic closed form, one layer at a time", len(layers), t_closed, t_engine))

    layer = resnet50.layers[10]
    side = 16 if args.quick else 64
    grid = np.meshgrid(np.arange(1, side + 1), np.arange(1, side + 1), np.arange(3), np.geomspace(1, 128, 8),
                       indexing="ij")
    array_rows, array_cols, dataflow, bandwidth = (axis.ravel() for axis in grid)
    estimate_systolic_grid(layer, array_rows[:10], array_cols[:10], dataflow[:10])
    t_grid = best_time(lambda: estimate_systolic_grid(layer, array_rows, array_cols, dataflow,
                                                  bandwidth_bytes_per_cycle=bandwidth), repeat=3)
    one_point = best_time(lambda: estimate_systolic(layer, systolic_hw, map_systolic(layer, systolic_hw)), repeat=20)
    rows.append(("systolic closed form, vectorized grid (points)", array_rows.size, t_grid,
                 one_point * array_rows.size))
    # Conv layers: the grid counts ifmap footprints once per distinct tiling among the points.
    sides = [8, 16, 32, 64, 128, 256]
    kb = [16.0, 64.0, 512.0]
    conv_grid = np.meshgrid(sides, sides, np.arange(3), kb, kb, kb, [False, True], indexing="ij")
    conv_rows, conv_cols, conv_flow, ifmap_kb, filter_kb, ofmap_kb, double = (axis.ravel() for axis in conv_grid)
    conv_layers = (("3x3 conv, 64 channels", resnet50.layers[2]), ("conv1 7x7/2, 3 channels", resnet50.layers[0]))
    for name, conv_layer in conv_layers:
        def conv_sweep(layer=conv_layer):
            estimate_systolic_grid(layer, conv_rows, conv_cols, conv_flow, ifmap_kb=ifmap_kb, filter_kb=filter_kb,
                                   ofmap_kb=ofmap_kb, double_buffered=double, bandwidth_bytes_per_cycle=16.0)

        def conv_point(layer=conv_layer):
            estimate_systolic(layer, systolic_hw, map_systolic(layer, systolic_hw))
        t_conv = best_time(conv_sweep, repeat=1 if args.quick else 2)
        one_conv = best_time(conv_point, repeat=5)
        rows.append((f"grid on {name} (points)", conv_rows.size, t_conv, one_conv * conv_rows.size))

    maestro_hw = sim.load_hardware(ROOT / "hw_configs" / "maestro" / "accelerator_1.m")
    kcp_ws = sim.load_mapping(ROOT / "mappings" / "kcp_ws.m")
    sim.estimate(layers[:1], maestro_hw, mapping=kcp_ws)
    t_directive = best_time(lambda: sim.estimate(layers, maestro_hw, mapping=kcp_ws), repeat=3)
    try:
        t_directive_engine = best_time(lambda: sim.simulate(layers, maestro_hw, mapping=kcp_ws))
    except (ImportError, sim.SimError):
        t_directive_engine = float("nan")  # no directive engine in this build
    rows.append(("directive model (kcp_ws on accelerator_1)", len(layers), t_directive, t_directive_engine))

    resnet18 = sim.load_trace(ROOT / "traces" / "resnet18.csv")
    crossbar_layers = resnet18.layers[:6] if args.quick else resnet18.layers
    isaac = sim.load_hardware(ROOT / "hw_configs" / "isaac.toml")
    sim.estimate(crossbar_layers[:1], isaac)
    t_crossbar = best_time(lambda: sim.estimate(crossbar_layers, isaac), repeat=3)
    t_crossbar_engine = best_time(lambda: sim.simulate(crossbar_layers, isaac))
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

    per_layer = per_layer_us(repeat=3 if args.quick else 7)
    print()
    print(f"estimate_systolic per layer, ResNet-50 ({per_layer['layers']} layers) on 128x128 ws, 512 KiB buffers:")
    print(f"{'median us':>10} {'max us':>10} {'slowest':>12} {'conv1 us':>10} {'total ms':>10}")
    print(f"{per_layer['median_us']:>10.1f} {per_layer['max_us']:>10.1f} {per_layer['slowest']:>12} "
          f"{per_layer['conv1_us']:>10.1f} {per_layer['total_ms']:>10.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_analytical.json").write_text(json.dumps({"models": records, "per_layer": per_layer}, indent=1))


if __name__ == "__main__":
    main()
