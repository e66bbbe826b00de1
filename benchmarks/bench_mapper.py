"""The mapper: per-layer best mappings vs fixed dataflows, search time and candidates scored per second.

Rows:
- ResNet-18 on the TPU-like (hw_configs/tpu_v1_256x256_ws.toml) and Eyeriss-like (hw_configs/eyeriss_12x14.toml)
  configs, for latency and for energy: the config's dataflow, the best single named dataflow for the whole network,
  the best named dataflow per layer (the issue's hand-written loop), and the mapper (top-1 validated by the engine;
  its engine numbers). Baselines are measured in the same run, by the engine.
- ResNet-50, MobileNetV2, BERT-base (seq 128) on the same configs, latency, analytical only: the mapper's gain over
  the best fixed dataflow per network.
- Scoring rate: candidates per second of the batched analytical model on a GEMM layer (closed form) and a conv
  layer (ifmap footprints counted per distinct tiling).
ZigZag is not measured here (see the closing note in docs/mapper.md: it needs the configs re-expressed in its
own accelerator format, which this benchmark does not yet have).

    python benchmarks/bench_mapper.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

import sim
from sim.analytical.systolic import estimate_systolic_mappings
from sim.mapper.search import objective_of
from sim.mapper.space import layer_space
from sim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = {"tpu-like": "hw_configs/tpu_v1_256x256_ws.toml", "eyeriss-like": "hw_configs/eyeriss_12x14.toml"}


def totals(run) -> tuple[int, float]:
    return sum(layer.cycles for layer in run.layers), sum(layer.energy.total_pj for layer in run.layers)


def fixed_baselines(trace, hw, objective: str, engine: bool) -> dict:
    """Per named dataflow: the whole network on it; and the best named dataflow per layer."""
    model = sim.simulate if engine else sim.estimate
    runs = {}
    for flow in ("os", "ws", "is"):
        try:
            runs[flow] = model(trace, hw, mapping={layer.name: sim.map_layer(layer, hw, dataflow=flow)
                                                    for layer in trace.layers})
        except sim.MappingError:
            continue
    per_layer = []
    for index in range(len(trace.layers)):
        best = min((objective_of(objective, run.layers[index].cycles, run.layers[index].energy.total_pj), flow)
                   for flow, run in runs.items())
        per_layer.append(best[1])
    return {flow: totals(run) for flow, run in runs.items()}, per_layer, runs


def network_row(name: str, trace, hw, objective: str, top_k: int) -> dict:
    engine = top_k > 0
    fixed, per_layer_flow, runs = fixed_baselines(trace, hw, objective, engine)
    start = time.perf_counter()
    result = sim.map(trace, hw, objective=objective, top_k=top_k)
    search_s = time.perf_counter() - start
    cycles = [s.best.engine_cycles if engine else s.best.cycles for s in result.layers]
    energy = [s.best.engine_energy_pj if engine else s.best.energy_pj for s in result.layers]
    per_layer_cycles = sum(runs[f].layers[i].cycles for i, f in enumerate(per_layer_flow))
    per_layer_energy = sum(runs[f].layers[i].energy.total_pj for i, f in enumerate(per_layer_flow))
    best_fixed = min(fixed.items(), key=lambda kv: float(objective_of(objective, *kv[1])))
    # Per layer: is the mapper at least as good as the best named dataflow of that layer?
    wins = 0
    for i, flow in enumerate(per_layer_flow):
        ref = runs[flow].layers[i]
        wins += objective_of(objective, cycles[i], energy[i]) <= objective_of(objective, ref.cycles,
                                                                              ref.energy.total_pj)
    # Only the chosen mappings' disagreements (every validated candidate's are in map_report.json).
    disagreements = [f"{s.layer}: {s.best.disagreement}" for s in result.layers if s.best.disagreement]
    return {
        "network": name, "hardware": hw.name, "objective": objective, "model": "engine" if engine else "analytical",
        "config_dataflow": hw.pe_array.dataflow, "config_cycles": fixed.get(hw.pe_array.dataflow, (None,))[0],
        "config_energy_pj": fixed.get(hw.pe_array.dataflow, (None, None))[1],
        "best_fixed": best_fixed[0], "best_fixed_cycles": best_fixed[1][0], "best_fixed_energy_pj": best_fixed[1][1],
        "best_named_per_layer_cycles": per_layer_cycles, "best_named_per_layer_energy_pj": per_layer_energy,
        "mapper_cycles": int(sum(cycles)), "mapper_energy_pj": float(sum(energy)),
        "layers": len(trace.layers), "layers_at_least_as_good_as_best_named": int(wins),
        "candidates": result.evaluated, "search_s": search_s,
        "candidates_per_s": result.evaluated / max(sum(s.search_s for s in result.layers if not s.cached), 1e-9),
        "disagreements_over_5pct": disagreements,
    }


def scoring_rate(hw, layer: Layer, repeat: int = 3) -> dict:
    batch = layer_space(layer, hw).all()
    whole = batch.whole_dict()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        estimate_systolic_mappings(layer, hw, batch.dataflow, batch.chunks, whole)
        best = min(best, time.perf_counter() - start)
    return {"layer": layer.name, "hardware": hw.name, "candidates": len(batch), "seconds": best,
            "candidates_per_s": len(batch) / best}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="ResNet-18 on the Eyeriss-like config only")
    args = parser.parse_args()
    hws = {name: sim.load_hardware(ROOT / path) for name, path in CONFIGS.items()}
    if args.quick:
        hws = {"eyeriss-like": hws["eyeriss-like"]}
    rows = []
    resnet18 = sim.load_trace(ROOT / "traces" / "resnet18.csv")
    for hw in hws.values():
        for objective in ("latency", "energy"):
            rows.append(network_row("resnet18", resnet18, hw, objective, top_k=1))
    if not args.quick:
        for network in ("resnet50", "mobilenet_v2", "bert_base_seq128"):
            trace = sim.load_trace(ROOT / "traces" / f"{network}.csv")
            for hw in hws.values():
                rows.append(network_row(network, trace, hw, "latency", top_k=0))
    rates = [scoring_rate(hws["eyeriss-like"], Layer.gemm_layer("gemm", m=512, n=768, k=3072)),
             scoring_rate(hws["eyeriss-like"], resnet18.layers[16])]
    # Energy rows in pJ, cycles rows in cycles.
    print(f"{'network':<18}{'hardware':<18}{'objective':<10}{'model':<11}{'config':>16}{'best fixed':>20}"
          f"{'named/layer':>16}{'mapper':>16}{'gain':>8}{'wins':>8}{'search s':>9}")
    for r in rows:
        key = "cycles" if r["objective"] == "latency" else "energy_pj"
        config = r[f"config_{key}"] or float("nan")
        fixed = r[f"best_fixed_{key}"]
        per_layer = r[f"best_named_per_layer_{key}"]
        mapper = r[f"mapper_{key}"]
        print(f"{r['network']:<18}{r['hardware']:<18}{r['objective']:<10}{r['model']:<11}{config:>16,.0f}"
              f"{fixed:>16,.0f} {r['best_fixed']:<3}{per_layer:>16,.0f}{mapper:>16,.0f}{1 - mapper / fixed:>8.1%}"
              f"{r['layers_at_least_as_good_as_best_named']:>5}/{r['layers']:<3}{r['search_s']:>8.1f}")
        for line in r["disagreements_over_5pct"]:
            print("    > 5 %:", line)
    for r in rates:
        print(f"scoring {r['layer']} on {r['hardware']}: {r['candidates']:,} candidates in {r['seconds']:.3f} s = "
              f"{r['candidates_per_s']:,.0f} /s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"machine": platform.platform(), "python": platform.python_version(), "quick": args.quick,
           "networks": rows, "scoring": rates, "zigzag": "not measured (see docs/mapper.md)"}
    (RESULTS / "bench_mapper.json").write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
