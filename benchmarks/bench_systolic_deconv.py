"""Zero-skipping transposed convolutions on a systolic array vs the zero-inserted convolution.

For traces/dcgan_generator.csv and traces/fcn8s_decoder.csv on hw_configs/scalesim_32x32_ws_ddr4.toml (a 32x32
ws array, DDR4 bank/row DRAM) with `pe_array.deconv` = "zero_insertion" (today's lowering, SCALE-Sim's) and
"zero_skipping" (each tconv as its stride-phase convolutions, sim.mapping.deconv): MACs, SRAM reads, DRAM bytes,
cycles and energy, engine, totals over the tconv layers and (in brackets) the whole trace. Also the output values
of one tconv per trace both ways (fast systolic model), compared, with the wall time of each. Prints a table
and writes benchmarks/results/bench_systolic_deconv.json.

    python benchmarks/bench_systolic_deconv.py
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from sim.engine.deconv import zero_skipping_ofmap
from sim.engine.simulate import simulate_trace
from sim.hardware.load import load_hardware
from sim.kernels.systolic_fast import run_layer_functional
from sim.mapping.operands import random_operands
from sim.mapping.systolic import map_systolic
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parents[1]
TRACES = {"dcgan_generator": "tconv4", "fcn8s_decoder": "upscore2"}
MODES = ("zero_insertion", "zero_skipping")
KEYS = ("macs", "sram_reads", "dram_bytes", "cycles", "energy_pj")


def with_deconv(hw, mode: str):
    return hw.model_copy(update={"pe_array": hw.pe_array.model_copy(update={"deconv": mode})})


def totals(layers) -> dict[str, float]:
    return {"macs": sum(r.macs for r in layers), "sram_reads": sum(r.sram_reads.total for r in layers),
            "dram_bytes": sum(r.actions.get("dram.read_byte") + r.actions.get("dram.write_byte") for r in layers),
            "cycles": sum(r.cycles for r in layers), "energy_pj": sum(r.energy.total_pj for r in layers)}


def main() -> None:
    hw = load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4.toml")
    results: dict = {"hardware": "hw_configs/scalesim_32x32_ws_ddr4.toml", "python": platform.python_version(),
                     "traces": {}}
    print(f"{'trace':<16} {'mode':<15} " + " ".join(f"{k:>16}" for k in KEYS) + f" {'wall s':>7}")
    for name, check in TRACES.items():
        trace = load_trace(ROOT / "traces" / f"{name}.csv")
        entry: dict = {}
        for mode in MODES:
            start = time.perf_counter()
            run = simulate_trace(trace, with_deconv(hw, mode))
            wall = time.perf_counter() - start
            tconv = totals([r for r in run.layers if r.kind == "tconv"])
            whole = totals(run.layers)
            entry[mode] = {"tconv": tconv, "all": whole, "wall_s": wall}
            print(f"{name:<16} {mode:<15} " + " ".join(f"{tconv[k]:>16,.0f}" for k in KEYS) + f" {wall:>7.2f}")
        ratio = {k: entry["zero_insertion"]["tconv"][k] / entry["zero_skipping"]["tconv"][k] for k in KEYS}
        whole = {k: entry["zero_insertion"]["all"][k] / entry["zero_skipping"]["all"][k] for k in KEYS}
        entry["ratio_tconv"], entry["ratio_all"] = ratio, whole
        print(f"{'':<16} {'ratio (all)':<15} " + " ".join(f"{f'{ratio[k]:.2f}x ({whole[k]:.2f}x)':>16}" for k in KEYS))
        layer = next(l for l in trace.layers if l.name == check)
        ifmap, filters = random_operands(layer, 0)
        start = time.perf_counter()
        inserted, _ = run_layer_functional(layer, map_systolic(layer, hw), ifmap, filters)
        inserted_wall = time.perf_counter() - start
        start = time.perf_counter()
        skipped, _ = zero_skipping_ofmap(layer, with_deconv(hw, "zero_skipping"), ifmap, filters)
        skipped_wall = time.perf_counter() - start
        entry["functional"] = {"layer": check, "identical": bool(np.array_equal(inserted, skipped)),
                               "zero_insertion_wall_s": inserted_wall, "zero_skipping_wall_s": skipped_wall}
        print(f"{'':<16} functional {check}: identical={entry['functional']['identical']} "
              f"(zero insertion {inserted_wall:.3f} s, zero skipping {skipped_wall:.3f} s)")
        results["traces"][name] = entry
    out = ROOT / "benchmarks" / "results" / "bench_systolic_deconv.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
