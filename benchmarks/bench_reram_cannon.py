"""CANNON (communication-aware placement on a tile mesh) vs in-order and scattered placement on ISAAC.

For AlexNet, ResNet-18 and VGG-16 (traces/*.csv) on hw_configs/cannon.toml (ISAAC with its tile network
simulated, sim.engine.tile_noc), one image through the inter-layer pipeline, engine: per placement
(`sequential`: ISAAC's fill order, `random`: seeded scatter, `communication_aware`: ours, after CANNON) the
communication energy (flit-hops and chip-link bytes x the energy table), the communication latency (the
cycles the layers' send groups spend on the network, summed), contention (the part of it above an idle
network), the pipeline's cycles, and the same pipeline without the network (the baseline, same run).
Prints a table and writes benchmarks/results/bench_reram_cannon.json.

    python benchmarks/bench_reram_cannon.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from sim.engine.crossbar import simulate_crossbar_trace
from sim.hardware.load import load_hardware
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parents[1]
TRACES = ("alexnet", "resnet18", "vgg16")
PLACEMENTS = ("sequential", "random", "communication_aware")


def with_noc(hw, **update):
    noc = hw.reram.tile_noc.model_copy(update=update)
    return hw.model_copy(update={"reram": hw.reram.model_copy(update={"tile_noc": noc})})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="ResNet-18 only")
    args = parser.parse_args()
    hw = load_hardware(ROOT / "hw_configs" / "cannon.toml")
    results: dict = {"hardware": "hw_configs/cannon.toml", "python": platform.python_version(), "traces": {}}
    header = (f"{'trace':<10} {'placement':<20} {'mesh':<26} {'comm energy uJ':>15} {'comm latency':>14} "
              f"{'contention':>12} {'pipeline':>10} {'no NoC':>10} {'wall s':>7}")
    print(header)
    for name in TRACES[1:2] if args.quick else TRACES:
        trace = load_trace(ROOT / "traces" / f"{name}.csv")
        start = time.perf_counter()
        base = simulate_crossbar_trace(trace, with_noc(hw, enabled=False))
        base_wall = time.perf_counter() - start
        entry = {"no_noc": {"pipeline_cycles": dict(base.metadata)["pipeline_cycles"], "wall_s": base_wall}}
        for placement in PLACEMENTS:
            start = time.perf_counter()
            run = simulate_crossbar_trace(trace, with_noc(hw, placement=placement))
            wall = time.perf_counter() - start
            meta = dict(run.metadata)
            contention = sum(dict(layer.extra)["tile_noc.contention_cycles"] for layer in run.layers)
            row = {"energy_pj": meta["tile_noc.energy_pj"], "latency_cycles": meta["tile_noc.latency_cycles"],
                   "contention_cycles": contention, "pipeline_cycles": meta["pipeline_cycles"],
                   "bytes_sent": meta["tile_noc.bytes_sent"], "mesh": meta["tile_noc.mesh"], "wall_s": wall,
                   "chip_link_bytes": sum(dict(layer.extra)["tile_noc.chip_link_bytes"] for layer in run.layers),
                   "flit_hops": sum(dict(layer.extra)["tile_noc.flit_hops"] for layer in run.layers)}
            entry[placement] = row
            print(f"{name:<10} {placement:<20} {row['mesh']:<26} {row['energy_pj'] / 1e6:>15.2f} "
                  f"{row['latency_cycles']:>14,} {contention:>12,} {row['pipeline_cycles']:>10,} "
                  f"{entry['no_noc']['pipeline_cycles']:>10,} {wall:>7.2f}")
        aware = entry["communication_aware"]
        entry["ratios"] = {f"{other}_over_aware": {
            "energy": entry[other]["energy_pj"] / aware["energy_pj"] if aware["energy_pj"] else None,
            "latency": entry[other]["latency_cycles"] / aware["latency_cycles"] if aware["latency_cycles"] else None,
            "pipeline": entry[other]["pipeline_cycles"] / aware["pipeline_cycles"]}
            for other in ("sequential", "random")}
        for other, ratio in entry["ratios"].items():
            print(f"{'':<10} {other:<30} energy {ratio['energy']:.2f}x  latency {ratio['latency']:.2f}x  "
                  f"pipeline {ratio['pipeline']:.2f}x   (paper: up to 3.0x / 3.1x)")
        results["traces"][name] = entry
    out = ROOT / "benchmarks" / "results" / "bench_reram_cannon.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
