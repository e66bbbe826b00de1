"""Layers per second of the directive engine (sim.engine.directives) vs the directive analytical model
(estimate_directive), both measured in this run, one layer at a time over MAESTRO's reference networks on
MAESTRO's accelerator_1 (256 PEs). Also the slowest engine layer (the engine must stay in seconds per layer).

Prints a table and writes benchmarks/results/bench_directive_engine.json. Usage:
    python benchmarks/bench_directive_engine.py [--layers N]   (N layers per network; all by default)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sim.analytical.directives import estimate_directive
from sim.engine.directives import simulate_directive_layer
from sim.errors import MappingError
from sim.hardware.maestro_hw import load_maestro_hardware
from sim.workload.maestro import load_maestro_trace

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "maestro"
RESULTS = REPO / "benchmarks" / "results"
NETWORKS = ("Resnet50_kcp_ws", "Resnet50_xp_ws", "Resnet50_yxp_os", "Resnet50_rs", "vgg16_rs", "MobileNetV2_kcp_ws")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=0, help="layers per network (0: all)")
    args = parser.parse_args()
    hw = load_maestro_hardware(DATA / "accelerator_1.m")
    rows = []
    for name in NETWORKS:
        trace = load_maestro_trace(DATA / "mappings" / f"{name}.m")
        count = len(trace.layers) if args.layers <= 0 else min(args.layers, len(trace.layers))
        engine_s = model_s = slowest = 0.0
        done = 0
        ratio_sum = 0.0
        for index in range(count):
            layer, dataflow = trace.layers[index], trace.dataflow_of(index)
            try:
                start = time.perf_counter()
                engine = simulate_directive_layer(layer, hw, dataflow)
                middle = time.perf_counter()
                model = estimate_directive(layer, hw, dataflow)
                end = time.perf_counter()
            except MappingError:
                continue
            engine_s += middle - start
            model_s += end - middle
            slowest = max(slowest, middle - start)
            ratio_sum += engine.cycles / model.cycles if model.cycles else 0.0
            done += 1
        rows.append({
            "network": name, "layers": done,
            "engine_layers_per_s": done / engine_s if engine_s else 0.0,
            "analytical_layers_per_s": done / model_s if model_s else 0.0,
            "engine_vs_analytical_time": engine_s / model_s if model_s else 0.0,
            "slowest_engine_layer_s": slowest,
            "mean_cycles_engine_over_analytical": ratio_sum / done if done else 0.0,
        })
    header = f"{'network':22} {'layers':>6} {'engine l/s':>11} {'model l/s':>10} {'time x':>7} {'slowest s':>9} " \
             f"{'cycles e/a':>10}"
    print(header)
    for r in rows:
        print(f"{r['network']:22} {r['layers']:6d} {r['engine_layers_per_s']:11.1f} {r['analytical_layers_per_s']:10.1f} "
              f"{r['engine_vs_analytical_time']:7.1f} {r['slowest_engine_layer_s']:9.3f} "
              f"{r['mean_cycles_engine_over_analytical']:10.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_directive_engine.json").write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
