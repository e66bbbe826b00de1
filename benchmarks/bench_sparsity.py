"""Unstructured weight sparsity and activation zero-skipping (docs/scalesim_compat.md, "Beyond SCALE-Sim") on
ResNet-18: what they change (effective MACs, MAC energy; cycles stay the dense ones) and what the sparsity
post-processing costs in wall time against the dense run measured in the same process.

The case: traces/resnet18.csv on hw_configs/scalesim_32x32_ws.toml (Horowitz 45 nm energy table), every layer
given weight_density 0.3 and ifmap_density 0.5; hardware with and without `skip_zero_activations`.
The metadata reads and zero checks are not priced by that table (docs/hardware.md), so the totals leave them out.
Prints a table and writes benchmarks/results/bench_sparsity.json.

    python benchmarks/bench_sparsity.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import sim
from sim.hardware.spec import SparsitySpec
from sim.workload.trace import Trace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _totals(run) -> dict[str, float]:
    extras = [dict(layer.extra) for layer in run.layers]
    return {"cycles": sum(layer.cycles for layer in run.layers), "macs": sum(layer.macs for layer in run.layers),
            "effective_macs": sum(e.get("effective_macs", layer.macs) for e, layer in zip(extras, run.layers)),
            "mac_energy_pj": sum(layer.energy.as_dict().get("mac", 0.0) for layer in run.layers),
            "energy_pj": sum(layer.energy.total_pj for layer in run.layers)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dense = sim.load_trace(ROOT / "traces" / "resnet18.csv")
    sparse = Trace(name=dense.name, layers=tuple(replace(layer, weight_density=0.3, ifmap_density=0.5)
                                                 for layer in dense.layers))
    hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
    skipping = hw.model_copy(update={"sparsity": SparsitySpec(skip_zero_activations=True)})
    cases = (("dense (baseline)", dense, hw), ("weights 0.3", sparse, hw),
             ("weights 0.3 + ifmap 0.5, skip zeros", sparse, skipping))
    sim.estimate(dense, hw)  # warm-up (imports, caches)
    rows = []
    for name, trace, hardware in cases:
        wall, run = best_of(lambda: sim.estimate(trace, hardware), args.repeat)
        engine = sim.simulate(Trace(name="head", layers=trace.layers[:3]), hardware)
        model = sim.estimate(Trace(name="head", layers=trace.layers[:3]), hardware)
        agree = all((e.cycles, e.actions, e.energy) == (m.cycles, m.actions, m.energy)
                    for e, m in zip(engine.layers, model.layers))
        rows.append({"case": name, "analytical_wall_s": wall, "engine_equals_analytical_first_3": agree,
                     **_totals(run)})
    base = rows[0]
    print(f"{'case':38s} {'cycles':>12s} {'eff. MACs':>14s} {'MAC pJ':>14s} {'total pJ':>14s} {'wall ms':>9s}")
    for row in rows:
        print(f"{row['case']:38s} {row['cycles']:12d} {row['effective_macs']:14.4g} {row['mac_energy_pj']:14.4g} "
              f"{row['energy_pj']:14.4g} {1e3 * row['analytical_wall_s']:9.2f}")
        row["effective_macs_vs_dense"] = row["effective_macs"] / base["macs"]
        row["wall_vs_dense"] = row["analytical_wall_s"] / base["analytical_wall_s"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_sparsity.json").write_text(json.dumps({"trace": "traces/resnet18.csv",
                                                             "hw": "hw_configs/scalesim_32x32_ws.toml",
                                                             "repeat": args.repeat, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
