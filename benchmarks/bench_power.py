"""Power over time and space (sim.engine.power) on a datacenter-size systolic array.

ResNet-50 (traces/resnet50.csv) on hw_configs/tpu_v1_256x256_ws.toml, engine, 1024-cycle windows, 4x4 PE regions:
the chip power trace's peak, mean and largest step between windows, the share of each region, and the wall
time of the plain engine run against the run with the power trace (alternating, best of 3, same process), so the
cost of the opt-in step log and of deriving the trace is measured against its baseline. Prints a table and
writes benchmarks/results/bench_power.json.

    python benchmarks/bench_power.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from sim.engine.power import dynamic_energy_pj, simulate_power
from sim.engine.simulate import simulate_trace
from sim.hardware.load import load_hardware
from sim.workload.load import load_trace
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the first 8 layers only")
    args = parser.parse_args()
    hw = load_hardware(ROOT / "hw_configs" / "tpu_v1_256x256_ws.toml")
    trace = load_trace(ROOT / "traces" / "resnet50.csv")
    if args.quick:
        trace = Trace(name=trace.name, layers=trace.layers[:8])
    plain_wall, power_wall = [], []
    for _ in range(3):
        start = time.perf_counter()
        simulate_trace(trace, hw)
        plain_wall.append(time.perf_counter() - start)
        start = time.perf_counter()
        run, power = simulate_power(trace, hw, grid=(4, 4), window_cycles=1024)
        power_wall.append(time.perf_counter() - start)
    regions = power.region_map_pj()
    share = (regions / regions.sum()).round(4).tolist() if regions.sum() else []
    result = {
        "hardware": "hw_configs/tpu_v1_256x256_ws.toml", "trace": trace.name, "layers": len(trace.layers),
        "python": platform.python_version(), "windows": power.windows, "window_cycles": power.window_cycles,
        "peak_mw": power.peak_mw, "mean_mw": float(power.chip_mw.mean()), "largest_step_mw": power.largest_step_mw,
        "array_peak_mw": float(power.region_mw.sum(axis=1).max()), "region_share": share,
        "dynamic_energy_pj": power.dynamic_energy_pj, "run_dynamic_energy_pj": dynamic_energy_pj(run),
        "plain_wall_s": min(plain_wall), "power_wall_s": min(power_wall),
    }
    print(f"{'trace':<10} {'windows':>8} {'peak mW':>10} {'mean mW':>10} {'largest step mW':>16} "
          f"{'array peak mW':>14} {'plain s':>8} {'with power s':>13}")
    print(f"{trace.name:<10} {power.windows:>8} {power.peak_mw:>10.1f} {result['mean_mw']:>10.1f} "
          f"{power.largest_step_mw:>16.1f} {result['array_peak_mw']:>14.1f} {result['plain_wall_s']:>8.3f} "
          f"{result['power_wall_s']:>13.3f}")
    print("region share of the array's energy (rows x cols):", share)
    print(f"trace integral {power.dynamic_energy_pj:.6e} pJ vs run dynamic energy {dynamic_energy_pj(run):.6e} pJ")
    out = ROOT / "benchmarks" / "results" / "bench_power.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
