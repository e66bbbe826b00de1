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
- Directive hardware (hw_configs/maestro/accelerator_1.m, 256 PEs): the mapper on ResNet-18's layer1.0.conv1 and
  layer4.0.conv2 next to the shipped directive mappings (row stationary yr_p_rs.m among them), engine cycles.
- ZigZag: when benchmarks/results/zigzag_resnet18.json (ZigZag's per-layer results on matched configs, written by
  a separate run of ZigZag) and the configs it names exist, sim's mapper runs ResNet-18 on each matched config, for
  latency and for energy, and the table gives per layer sim's best (engine numbers) next to ZigZag's, the totals,
  the layers better / worse, and sim's search time next to zigzag_seconds. Without the file it says so and skips.

- Search time: that ZigZag search on both matched configs, top-k 1 and 3, with the mapper's reuse (one cache for
  the latency and the energy call, engine runs that cannot win skipped, the engine's quiet-step fast path) and
  without it, in the same run: CPU and wall seconds, seconds per phase, engine runs, and whether the answers are
  identical.

    python benchmarks/bench_mapper.py [--quick] [--search-time]
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import time
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from unittest import mock
from pathlib import Path

import numpy as np

import sim
from sim.analytical import systolic
from sim.analytical.systolic import estimate_systolic_mappings
from sim.mapping.footprint import FootprintCounter, footprint_counter
from sim.mapper.search import MapperCache, objective_of
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


ZIGZAG_RESULTS = RESULTS / "zigzag_resnet18.json"
SCORED_CONV = ("conv1", "layer1.0.conv1", "layer4.0.conv2")  # conv layers whose scoring rate is measured


# ZigZag's ONNX parser's precisions (docs/zigzag.md); the systolic models run partial sums at the output width.
ZIGZAG_PRECISION = {"ifmap_bits": 8, "filter_bits": 8, "ofmap_bits": 8, "psum_bits": 0}


def trace_name(onnx_name: str) -> str:
    """The trace's layer name of an ONNX node name ("/layer2/layer2.0/downsample/downsample.0/Conv" ->
    "layer2.0.downsample"); a name without "/" is returned as it is."""
    if "/" not in onnx_name:
        return onnx_name
    parts = [p for p in onnx_name.split("/") if p][:-1]  # the last part is the op ("Conv", "Gemm")
    kept = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    return re.sub(r"\.downsample\.0$", ".downsample", ".".join(kept))


def zigzag_comparison(path: Path = ZIGZAG_RESULTS, trace_path: Path = ROOT / "traces" / "resnet18.csv",
                      root: Path = ROOT, top_k: int = 1, precision: dict | None = None) -> dict | None:
    """sim's mapper vs ZigZag per matched accelerator and layer (layers matched by name); None without the file.

    The file: {"zigzag_version", "accelerators": {name: {"sim_config", "zigzag_seconds", "layers": [{"name",
    "zigzag_cycles", "zigzag_energy_pj", ...}]}}}; `sim_config` is relative to the repository root."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    trace = sim.load_trace(trace_path)
    out = {"zigzag_version": data.get("zigzag_version", ""), "accelerators": {}}
    for name, acc in data["accelerators"].items():
        config = root / acc["sim_config"]
        if not config.is_file():
            out["accelerators"][name] = {"skipped": f"config {acc['sim_config']} not found"}
            continue
        hw = sim.load_hardware(config)
        zz = {trace_name(layer["name"]): layer for layer in acc["layers"]}
        layers = [replace(layer, **(precision or {})) for layer in trace.layers if layer.name in zz]
        if not layers:
            out["accelerators"][name] = {"skipped": "no layer of the trace matches ZigZag's layer names"}
            continue
        start, cpu = time.perf_counter(), time.process_time()
        cache = MapperCache()  # one per accelerator, as `sim sweep` per worker: the energy search reuses runs
        latency = sim.map(layers, hw, objective="latency", top_k=top_k, cache=cache)
        energy = sim.map(layers, hw, objective="energy", top_k=top_k, cache=cache)
        search_s, search_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        rows = []
        for by_latency, by_energy in zip(latency.layers, energy.layers):
            ref = zz[by_latency.layer]
            cycles = by_latency.best.engine_cycles if top_k else by_latency.best.cycles
            pj = by_energy.best.engine_energy_pj if top_k else by_energy.best.energy_pj
            rows.append({"name": by_latency.layer, "sim_cycles": int(cycles), "zigzag_cycles": ref["zigzag_cycles"],
                         "sim_energy_pj": float(pj), "zigzag_energy_pj": ref["zigzag_energy_pj"]})
        out["accelerators"][name] = {
            "sim_config": acc["sim_config"], "layers": rows,
            "sim_cycles": sum(r["sim_cycles"] for r in rows), "zigzag_cycles": sum(r["zigzag_cycles"] for r in rows),
            "sim_energy_pj": sum(r["sim_energy_pj"] for r in rows),
            "zigzag_energy_pj": sum(r["zigzag_energy_pj"] for r in rows),
            "latency_better_or_equal": sum(r["sim_cycles"] <= r["zigzag_cycles"] for r in rows),
            "energy_better_or_equal": sum(r["sim_energy_pj"] <= r["zigzag_energy_pj"] for r in rows),
            "unmatched": sorted(set(zz) - {layer.name for layer in layers}),
            "sim_search_s": search_s, "sim_search_cpu_s": search_cpu_s, "zigzag_seconds": acc.get("zigzag_seconds"),
            "phases_s": {phase: sum(map_phases(result)[phase] for result in (latency, energy))
                         for phase in ("scoring", "validation", "across_layers")},
            "engine_runs": latency.engine_runs + energy.engine_runs,
        }
    return out


def map_phases(result) -> dict[str, float]:
    """Wall seconds of one sim.map call by phase: scoring (space, batched closed form, picking), the engine validation
    of the layers, the cross-layer check (layers served from the cache count nowhere)."""
    searched = [s for s in result.layers if not s.cached]
    return {"scoring": sum(s.search_s - s.validate_s for s in searched),
            "validation": sum(s.validate_s for s in searched), "across_layers": result.across_s}


def print_zigzag(section: dict | None) -> None:
    if section is None:
        print(f"ZigZag: {ZIGZAG_RESULTS.relative_to(ROOT)} not found: comparison skipped")
        return
    for name, acc in section["accelerators"].items():
        if "skipped" in acc:
            print(f"ZigZag {name}: skipped ({acc['skipped']})")
            continue
        print(f"ZigZag {section['zigzag_version']} vs sim's mapper on {name} ({acc['sim_config']})")
        print(f"{'layer':<20}{'sim cycles':>14}{'zigzag cycles':>15}{'sim pJ':>16}{'zigzag pJ':>16}")
        for r in acc["layers"]:
            print(f"{r['name']:<20}{r['sim_cycles']:>14,}{r['zigzag_cycles']:>15,.0f}{r['sim_energy_pj']:>16,.0f}"
                  f"{r['zigzag_energy_pj']:>16,.0f}")
        n = len(acc["layers"])
        print(f"{'total':<20}{acc['sim_cycles']:>14,}{acc['zigzag_cycles']:>15,.0f}{acc['sim_energy_pj']:>16,.0f}"
              f"{acc['zigzag_energy_pj']:>16,.0f}")
        zz_s = acc["zigzag_seconds"]
        share = f" = {acc['sim_search_s'] / zz_s:.1%} of ZigZag's {zz_s:,.1f} s" if zz_s else ""
        print(f"  layers at least as good: latency {acc['latency_better_or_equal']}/{n}, energy "
              f"{acc['energy_better_or_equal']}/{n}; sim search {acc['sim_search_s']:.1f} s{share}"
              + (f"; unmatched: {', '.join(acc['unmatched'])}" if acc["unmatched"] else ""))
        phases = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in acc["phases_s"].items())
        print(f"  search (latency + energy): {acc['sim_search_cpu_s']:.2f} s of CPU; {phases} (wall); "
              f"{acc['engine_runs']} engine runs")


def _per_tiling_counter(layer: Layer) -> FootprintCounter:
    """The baseline: a footprint counter whose chunkings of K and M are counted one tiling at a time (as before
    FootprintCounter.k_chunkings / m_chunkings batched them)."""
    counter = footprint_counter(layer)

    def one_by_one(m_edges, k, chunks):
        sums = [counter(m_edges, (k * np.arange(c + 1, dtype=np.int64)) // c) for c in np.asarray(chunks).tolist()]
        return (np.array([int(s.sum()) for s in sums], dtype=np.int64),
                np.array([int(s[0, 0]) for s in sums], dtype=np.int64))

    def none_at_once(*_args, **_options):
        return None  # ws chunkings: one tiling at a time too

    return FootprintCounter(counter.count, one_by_one, none_at_once)


DIRECTIVE_LAYERS = ("layer1.0.conv1", "layer4.0.conv2")


def directive_rows(trace) -> list[dict]:
    """The mapper on the directive array vs the shipped directive mappings (engine cycles, latency objective)."""
    hw = sim.load_hardware(ROOT / "hw_configs" / "maestro" / "accelerator_1.m")
    rows = []
    for layer in trace.layers:
        if layer.name not in DIRECTIVE_LAYERS:
            continue
        start = time.perf_counter()
        search = sim.map([layer], hw, objective="latency", top_k=1).layers[0]
        rows.append({"layer": layer.name, "hardware": hw.name, "mapper_mapping": search.best.mapping.name,
                     "mapper_cycles": search.best.engine_cycles, "shipped_cycles": dict(search.baselines),
                     "compute_bound_cycles": -(-layer.macs // hw.directive_array.num_pes),
                     "candidates": search.evaluated, "space": search.space_size, "search_s": time.perf_counter() - start})
    return rows


def scoring_rate(hw, layer: Layer, repeat: int = 3) -> dict:
    """Candidates scored per second over the layer's whole space: batched footprints and the per-tiling baseline,
    measured in the same run (the baseline once: it is slow)."""
    batch = layer_space(layer, hw).all()
    whole = batch.whole_dict()

    def timed(runs: int) -> float:
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            estimate_systolic_mappings(layer, hw, batch.dataflow, batch.chunks, whole, chunks_outside=batch.outside,
                                       row_folds_per_fill=batch.fill)
            best = min(best, time.perf_counter() - start)
        return best

    after = timed(repeat)
    original = systolic.footprint_counter
    systolic.footprint_counter = _per_tiling_counter
    try:
        before = timed(1)
    finally:
        systolic.footprint_counter = original
    return {"layer": layer.name, "hardware": hw.name, "candidates": len(batch), "seconds": after,
            "candidates_per_s": len(batch) / after, "per_tiling_seconds": before,
            "per_tiling_candidates_per_s": len(batch) / before}


def _without_reuse():
    """The baseline of `search_time`: the mapper with every engine run done (no skipping) and the engine without its
    quiet-step fast path (each step a clock entry); the caller passes a fresh cache to every call."""
    from sim.engine import pe_array
    from sim.mapper import search

    def computed(steps, _call):  # a step's end as a clock entry, then the readiness check (no fast path)
        if steps._end_step():
            steps._run()

    stack = ExitStack()
    stack.enter_context(mock.patch.object(search, "skip_margin", lambda objective: float("inf")))
    stack.enter_context(mock.patch.object(pe_array._LayerSteps, "_computed", computed))
    return stack


def search_time(trace_path: Path = ROOT / "traces" / "resnet18.csv", top_ks=(1, 3)) -> list[dict]:
    """The ZigZag comparison's search (ResNet-18 at 8 bits, latency then energy) on both matched configs, per top-k:
    with the reuse (one cache for both calls, engine runs that cannot win skipped, the engine's fast path) and
    without it, measured in the same run; CPU seconds (the machine is shared), wall seconds by phase, engine runs.
    The answers must be identical."""
    layers = [replace(layer, **ZIGZAG_PRECISION) for layer in sim.load_trace(trace_path).layers]
    out = []
    for name in ("tpu_like", "eyeriss_like"):
        hw = sim.load_hardware(ROOT / "hw_configs" / f"zigzag_{name}.toml")
        sim.map(layers[:2], hw, objective="latency", top_k=1)  # numba compiled before timing
        for top_k in top_ks:
            answers = {}
            for mode in ("without reuse", "with reuse"):
                stack = _without_reuse() if mode == "without reuse" else None
                cache = MapperCache()
                start, cpu = time.perf_counter(), time.process_time()
                with stack if stack is not None else nullcontext():
                    results = [sim.map(layers, hw, objective=objective, top_k=top_k,
                                       cache=MapperCache() if stack is not None else cache)
                               for objective in ("latency", "energy")]
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                answers[mode] = [(s.best.mapping, s.best.engine_cycles, s.best.engine_energy_pj)
                                 for result in results for s in result.layers]
                out.append({"hardware": name, "top_k": top_k, "mode": mode, "cpu_s": cpu, "wall_s": wall,
                            "phases_s": {phase: sum(map_phases(r)[phase] for r in results)
                                         for phase in ("scoring", "validation", "across_layers")},
                            "engine_runs": sum(r.engine_runs for r in results)})
            out[-1]["same_answers"] = answers["with reuse"] == answers["without reuse"]
    return out


def print_search_time(rows: list[dict]) -> None:
    print(f"{'search time':<14}{'top-k':>6}  {'mode':<15}{'CPU s':>8}{'wall s':>8}{'scoring':>9}{'valid.':>8}"
          f"{'across':>8}{'engine runs':>12}")
    for r in rows:
        p = r["phases_s"]
        same = "" if "same_answers" not in r else ("  same answers" if r["same_answers"] else "  ANSWERS DIFFER")
        print(f"{r['hardware']:<14}{r['top_k']:>6}  {r['mode']:<15}{r['cpu_s']:>8.2f}{r['wall_s']:>8.2f}"
              f"{p['scoring']:>9.2f}{p['validation']:>8.2f}{p['across_layers']:>8.2f}{r['engine_runs']:>12}{same}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="ResNet-18 on the Eyeriss-like config only")
    parser.add_argument("--search-time", action="store_true",
                        help="only the search time of the ZigZag comparison, with and without reuse")
    args = parser.parse_args()
    if args.search_time:
        rows = search_time()
        print_search_time(rows)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_mapper_search_time.json").write_text(json.dumps(
            {"machine": platform.platform(), "python": platform.python_version(), "rows": rows}, indent=2) + "\n")
        return
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
    eyeriss = sim.load_hardware(ROOT / CONFIGS["eyeriss-like"])
    rates = [scoring_rate(eyeriss, Layer.gemm_layer("gemm", m=512, n=768, k=3072))]
    rates += [scoring_rate(eyeriss, layer) for layer in resnet18.layers if layer.name in SCORED_CONV]
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
              f"{r['candidates_per_s']:,.0f} /s (per-tiling footprints: {r['per_tiling_seconds']:.3f} s = "
              f"{r['per_tiling_candidates_per_s']:,.0f} /s)")
    directive = directive_rows(resnet18)
    for r in directive:
        shipped = ", ".join(f"{name} {cycles:,.0f}" for name, cycles in r["shipped_cycles"].items())
        print(f"directive {r['layer']} on {r['hardware']}: mapper {r['mapper_cycles']:,} ({r['mapper_mapping']}; "
              f"compute bound {r['compute_bound_cycles']:,}); shipped: {shipped}; {r['candidates']} candidates of "
              f"{r['space']:,} in {r['search_s']:.1f} s")
    zigzag = zigzag_comparison(precision=ZIGZAG_PRECISION)
    print_zigzag(zigzag)
    timing = search_time()
    print_search_time(timing)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"machine": platform.platform(), "python": platform.python_version(), "quick": args.quick,
           "networks": rows, "scoring": rates, "directive": directive, "search_time": timing,
           "zigzag": zigzag if zigzag is not None else f"skipped: {ZIGZAG_RESULTS.name} not found"}
    (RESULTS / "bench_mapper.json").write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
