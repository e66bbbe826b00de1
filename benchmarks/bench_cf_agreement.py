"""Closed form vs engine on the mappings the mapper validates: the distribution of engine / analytical.

For ResNet-18 on zigzag_tpu_like and zigzag_eyeriss_like (at ZigZag's 8-bit precision, as bench_mapper.py) and on
tpu_v1_256x256_ws and eyeriss_12x14 (the trace's precision), for the latency and the energy objective, the mapper
searches every layer with top-k 3 and runs the top-k, the best F = 1 candidate and the fitted os / ws / is records
through the engine. The table gives, per hardware and objective, the candidates validated and min / median / max of
engine / analytical for cycles and energy, and how many differ by more than 5 %; then the scoring rate of the
batched closed form on two layers (candidates per second).

    python benchmarks/bench_cf_agreement.py            # search + engine (minutes on 2 cores)
    python benchmarks/bench_cf_agreement.py --reuse    # re-price the mappings of the last run (engine numbers kept)

`--reuse` reads benchmarks/results/cf_agreement_mappings.pkl written by a full run: the engine's numbers of those
mappings do not depend on the closed form, so the closed form can be re-measured on the same set in seconds.
"""
from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import sim
from sim.analytical.systolic import estimate_systolic, estimate_systolic_mappings
from sim.mapper.search import search_layer
from sim.mapper.space import layer_space

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_mapper import ZIGZAG_PRECISION  # noqa: E402

CONFIGS = {"zigzag_tpu_like": ZIGZAG_PRECISION, "zigzag_eyeriss_like": ZIGZAG_PRECISION,
           "tpu_v1_256x256_ws": None, "eyeriss_12x14": None}
OBJECTIVES = ("latency", "energy")
AGREEMENT = 0.05


def layers_of(precision: dict | None):
    trace = sim.load_trace(ROOT / "traces" / "resnet18.csv")
    return [replace(layer, **precision) if precision else layer for layer in trace.layers]


def collect() -> list[dict]:
    """Every validated candidate: hardware, objective, layer, mapping, analytical and engine numbers."""
    rows = []
    for config, precision in CONFIGS.items():
        hw = sim.load_hardware(ROOT / "hw_configs" / f"{config}.toml")
        for objective in OBJECTIVES:
            for layer in layers_of(precision):
                search = search_layer(layer, hw, objective=objective, top_k=3)
                for item in search.validated:
                    rows.append({"hardware": config, "objective": objective, "layer": layer, "mapping": item.mapping,
                                 "engine_cycles": item.engine_cycles, "engine_energy_pj": item.engine_energy_pj,
                                 "search_cycles": item.cycles, "search_energy_pj": item.energy_pj})
    return rows


def reprice(rows: list[dict]) -> list[dict]:
    """The closed form's numbers of every row's mapping, now."""
    hws = {config: sim.load_hardware(ROOT / "hw_configs" / f"{config}.toml") for config in CONFIGS}
    out = []
    for row in rows:
        result = estimate_systolic(row["layer"], hws[row["hardware"]], row["mapping"])
        out.append({**row, "cycles": int(result.cycles), "energy_pj": float(result.energy.total_pj)})
    return out


def summary(rows: list[dict]) -> list[dict]:
    table = []
    for config in CONFIGS:
        for objective in OBJECTIVES:
            part = [r for r in rows if r["hardware"] == config and r["objective"] == objective]
            if not part:
                continue
            cycles = np.array([r["engine_cycles"] / max(r["cycles"], 1) for r in part])
            energy = np.array([r["engine_energy_pj"] / r["energy_pj"] for r in part])
            table.append({"hardware": config, "objective": objective, "candidates": len(part),
                          "cycles_min": float(cycles.min()), "cycles_median": float(np.median(cycles)),
                          "cycles_max": float(cycles.max()),
                          "cycles_off": int((np.abs(cycles - 1) > AGREEMENT).sum()),
                          "energy_min": float(energy.min()), "energy_median": float(np.median(energy)),
                          "energy_max": float(energy.max()),
                          "energy_off": int((np.abs(energy - 1) > AGREEMENT).sum())})
    return table


def print_summary(table: list[dict]) -> None:
    print("| hardware | objective | validated | cycles engine/analytical min / median / max | > 5 % "
          "| energy min / median / max | > 5 % |")
    print("|---|---|---|---|---|---|---|")
    for t in table:
        print(f"| {t['hardware']} | {t['objective']} | {t['candidates']} | {t['cycles_min']:.3f} / "
              f"{t['cycles_median']:.3f} / {t['cycles_max']:.3f} | {t['cycles_off']} | {t['energy_min']:.3f} / "
              f"{t['energy_median']:.3f} / {t['energy_max']:.3f} | {t['energy_off']} |")


def worst(rows: list[dict], count: int = 12) -> None:
    ranked = sorted(rows, key=lambda r: -abs(r["engine_cycles"] / max(r["cycles"], 1) - 1))
    for r in ranked[:count]:
        m = r["mapping"]
        print(f"  {r['hardware']:20s} {r['layer'].name:20s} {m.dataflow} chunks {m.chunks:5d} whole {m.whole} "
              f"{m.chunk_order} F={m.row_folds_per_fill}: analytical {r['cycles']:,} engine {r['engine_cycles']:,} "
              f"({r['engine_cycles'] / max(r['cycles'], 1):.3f}x)")


def scoring_rates() -> list[dict]:
    out = []
    layers = {layer.name: layer for layer in layers_of(ZIGZAG_PRECISION)}
    for config, name in (("zigzag_tpu_like", "layer3.0.conv2"), ("zigzag_eyeriss_like", "layer4.0.conv2")):
        hw = sim.load_hardware(ROOT / "hw_configs" / f"{config}.toml")
        layer = layers[name]
        batch = layer_space(layer, hw).all()
        whole = batch.whole_dict()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            estimate_systolic_mappings(layer, hw, batch.dataflow, batch.chunks, whole, chunks_outside=batch.outside,
                                       row_folds_per_fill=batch.fill)
            best = min(best, time.perf_counter() - start)
        out.append({"hardware": config, "layer": name, "candidates": len(batch), "seconds": best,
                    "candidates_per_s": len(batch) / best})
        print(f"scoring rate {config} {name}: {len(batch)} candidates in {best * 1e3:.1f} ms "
              f"({len(batch) / best:,.0f}/s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", action="store_true", help="re-price the mappings of the last full run")
    args = parser.parse_args()
    store = RESULTS / "cf_agreement_mappings.pkl"
    start = time.perf_counter()
    if args.reuse:
        with store.open("rb") as handle:
            rows = pickle.load(handle)
    else:
        rows = collect()
        RESULTS.mkdir(parents=True, exist_ok=True)
        with store.open("wb") as handle:
            pickle.dump(rows, handle)
    rows = reprice(rows)
    table = summary(rows)
    print_summary(table)
    print("largest cycle differences:")
    worst(rows)
    rates = scoring_rates()
    out = {"machine": platform.platform(), "python": platform.python_version(), "reuse": args.reuse,
           "seconds": time.perf_counter() - start, "summary": table, "scoring": rates}
    name = "cf_agreement_reuse.json" if args.reuse else "cf_agreement.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
