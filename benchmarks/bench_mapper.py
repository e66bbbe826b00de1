"""The mapper: per-layer best mappings vs fixed dataflows, search time and candidates scored per second.

Rows:
- ResNet-18 on the TPU-like (hw_configs/tpu_v1_256x256_ws.toml) and Eyeriss-like (hw_configs/eyeriss_12x14.toml)
  configs, for latency and for energy: the config's dataflow, the best single named dataflow for the whole network,
  the best named dataflow per layer (the issue's hand-written loop), and the mapper (top-1 validated by the engine;
  its engine numbers). Baselines are measured in the same run, by the engine.
- ResNet-50, MobileNetV2, BERT-base (seq 128) on the same configs, latency, analytical only: the mapper's gain over
  the best fixed dataflow per network.
- Scoring rate: candidates per second of the batched analytical model on a GEMM layer (closed form) and a conv
  layer (ifmap footprints counted per distinct tiling); and over every distinct conv shape of ResNet-18, ResNet-50
  and MobileNetV2 on eyeriss_12x14, zigzag_tpu_like and zigzag_eyeriss_like (min / median / max per hardware), next
  to the per-tiling footprint count on a seeded sample of each space, with the scores checked identical.
- Directive hardware (hw_configs/maestro/accelerator_1.m, 256 PEs): the mapper on ResNet-18's layer1.0.conv1 and
  layer4.0.conv2 next to the shipped directive mappings (row stationary yr_p_rs.m among them), engine cycles.
- ZigZag: when benchmarks/results/zigzag_resnet18.json (ZigZag's per-layer results on matched configs, written by
  a separate run of ZigZag) and the configs it names exist, sim's mapper runs ResNet-18 on each matched config, for
  latency and for energy, and the table gives per layer sim's best (engine numbers) next to ZigZag's, the totals,
  the layers better / worse, and sim's search time next to zigzag_seconds. Without the file it says so and skips.
  Then, per layer where the energy pick spends more than ZigZag, the per-level, per-operand difference table and the
  numbers that tell the causes apart (zigzag_energy_gaps; docs/zigzag.md, "The mapper against ZigZag, per layer").

- Search time: that ZigZag search on both matched configs, top-k 1 and 3, with the mapper's reuse (one cache for
  the latency and the energy call, engine runs that cannot win skipped, the engine's quiet-step fast path) and
  without it, in the same run, each mode three times alternating (the least CPU seconds counts; every run's is
  listed): CPU and wall seconds, seconds per phase, engine runs, and whether the answers are identical across modes
  and runs.

    python benchmarks/bench_mapper.py [--quick] [--scoring-only] [--search-time]
"""
from __future__ import annotations

import argparse
import importlib.util
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
from sim.mapping import footprint as footprint_module
from sim.mapping.footprint import FootprintCounter, footprint_counter, is_plain_matrix
from sim.mapper import search as mapper_search
from sim.mapper.search import BOUND_RUNS, MapperCache, objective_of
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
    out = {"zigzag_version": data.get("zigzag_version", ""), "accelerators": {}}
    for name, acc, hw, zz, layers, skipped in zigzag_matches(data, sim.load_trace(trace_path), root, precision):
        if skipped:
            out["accelerators"][name] = {"skipped": skipped}
            continue
        first_call_s = warm_up(layers, hw)  # ZigZag's time is its search's, after its imports
        _cold_caches()
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
            "warm_up_cpu_s": first_call_s,
            "phases_s": {phase: sum(map_phases(result)[phase] for result in (latency, energy))
                         for phase in ("scoring", "validation", "across_layers")},
            "engine_runs": latency.engine_runs + energy.engine_runs,
        }
    return out


def zigzag_matches(data: dict, trace, root: Path, precision: dict | None):
    """Per accelerator of ZigZag's results `data`: (name, its entry, sim's hardware, ZigZag's layers by sim's layer
    name, the trace's layers ZigZag ran at `precision`, ""), or with None for the last three and why it is skipped."""
    for name, acc in data["accelerators"].items():
        config = root / acc["sim_config"]
        if not config.is_file():
            yield name, acc, None, None, None, f"config {acc['sim_config']} not found"
            continue
        zz = {trace_name(layer["name"]): layer for layer in acc["layers"]}
        layers = [replace(layer, **(precision or {})) for layer in trace.layers if layer.name in zz]
        if not layers:
            yield name, acc, None, None, None, "no layer of the trace matches ZigZag's layer names"
            continue
        yield name, acc, sim.load_hardware(config), zz, layers, ""


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
              f"{acc['engine_runs']} engine runs; before it, a two-layer warm-up {acc['warm_up_cpu_s']:.2f} s of CPU")


# ZigZag's operand letters, and the loop dimensions each operand does not depend on (the loops it is reused over).
ZIGZAG_OPERANDS = {"I": "ifmap", "W": "filter", "O": "ofmap"}
IRRELEVANT = {"I": {"K"}, "W": {"OX", "OY", "B"}, "O": {"C", "FX", "FY"}}


def register_reuse(loops: list, operand: str) -> int:
    """MACs per read of `operand`'s innermost memory in ZigZag's nest: the product of the innermost consecutive
    temporal loops of its lowest level (`loops`, innermost first) that the operand does not depend on. ZigZag counts
    a level's reads per change of the data it sends down, so an operand stays at the MAC's input across them."""
    reuse = 1.0
    for dim, size in loops:
        if dim not in IRRELEVANT[operand]:
            break
        reuse *= size
    return int(round(reuse))


def zigzag_recounted_pj(row: dict, hw, macs: int, bits: dict) -> tuple[float, dict]:
    """ZigZag's layer energy with its innermost-register reads of the inputs counted as sim counts them, one per MAC
    (sim.analytical.levels; Eyeriss's per-MAC register accesses), the rest of its nest unchanged; and the reuse
    factors used, per operand with a per-PE register innermost."""
    extra, reuse = 0.0, {}
    levels = {level.name: level for level in hw.hierarchy}
    for letter, name in (("I", "ifmap"), ("W", "filter")):
        innermost = row["zigzag_operands"][letter]["levels"][0].lower()
        level = levels.get(innermost)
        if level is None or level.kind != "register_file":
            continue
        factor = register_reuse(row["zigzag_loops"][letter][0], letter)
        accesses = -(-(-(-bits[name] // 8)) // level.word_bytes)  # words per element read
        reuse[name] = factor
        extra += macs * accesses * hw.energy[f"{innermost}.read"].pj * (1 - 1 / factor)
    return row["zigzag_energy_pj"] + extra, reuse


def zigzag_energy_gaps(path: Path = ZIGZAG_RESULTS, trace_path: Path = ROOT / "traces" / "resnet18.csv",
                       root: Path = ROOT, top_k: int = 1, precision: dict | None = None) -> dict | None:
    """Every layer where sim's mapper (energy objective, the whole trace) spends more energy than ZigZag: the
    per-level, per-operand difference, the level carrying it, and the numbers that tell the cause apart (docs/zigzag.md,
    "The mapper against ZigZag, per layer"): the same mapping run alone (a residency trade when lower), the best
    mapping of the layer alone among those the search validated (a search miss when below ZigZag), bench_zigzag's
    record nearest ZigZag's nest, and ZigZag's energy recounted with one register read per MAC (sim's convention:
    when it is not below sim's, the gap is the counting convention). None without the results file."""
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("bench_zigzag", ROOT / "benchmarks" / "bench_zigzag.py")
    bench_zigzag = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_zigzag)  # its nearest record (not a package: loaded by path)
    data = json.loads(path.read_text())
    trace = sim.load_trace(trace_path)
    out = {"zigzag_version": data.get("zigzag_version", ""), "accelerators": {}}
    for name, acc, hw, zz, layers, skipped in zigzag_matches(data, trace, root, precision):
        if skipped:
            continue
        found = sim.map(layers, hw, objective="energy", top_k=top_k)
        run = sim.simulate(replace(trace, layers=tuple(layers)), hw, mapping=found.mappings())
        # Whether the next layer reads this one's ofmap on chip (it may still be written for a later reader:
        # LayerSearch.residency's ofmap flag says only whether the DRAM write is skipped).
        linked = [search.residency[0] for search in found.layers[1:]] + [False]
        rows = []
        for index, (search, result) in enumerate(zip(found.layers, run.layers)):
            ref = zz[search.layer]
            if result.energy.total_pj <= ref["zigzag_energy_pj"]:
                continue
            layer = layers[index]
            alone = sim.simulate(layer, hw, mapping=search.best.mapping).layers[0]
            options = [o.engine_energy_pj for o in search.options if o.engine_energy_pj is not None]
            ws = bench_zigzag.with_dataflow(hw, "ws")
            nearest = sim.simulate(layer, ws, mapping=bench_zigzag.nearest_mapping(layer, ws)).layers[0]
            ours = {f"{c.level}.{c.operand}": c.energy_pj for c in result.levels}
            ours["mac"] = result.energy.as_dict().get("mac", 0.0)
            theirs = {"mac": ref["zigzag_mac_energy_pj"]}
            for letter, levels in ref["zigzag_operands"].items():
                for level, energy in zip(levels["levels"], levels["energy_pj"]):
                    theirs[f"{level.lower()}.{ZIGZAG_OPERANDS[letter]}"] = energy
            levels = sorted(({"level": key, "zigzag_pj": theirs.get(key, 0.0), "sim_pj": ours.get(key, 0.0),
                              "difference_pj": ours.get(key, 0.0) - theirs.get(key, 0.0)}
                             for key in sorted(set(ours) | set(theirs))), key=lambda r: -abs(r["difference_pj"]))
            recounted, reuse = zigzag_recounted_pj(ref, hw, layer.macs, {"ifmap": layer.ifmap_bits,
                                                                          "filter": layer.filter_bits})
            mapping = search.best.mapping
            rows.append({
                "name": search.layer, "zigzag_pj": ref["zigzag_energy_pj"], "sim_pj": result.energy.total_pj,
                "sim_alone_pj": alone.energy.total_pj, "best_alone_pj": min(options, default=alone.energy.total_pj),
                "nearest_pj": nearest.energy.total_pj, "zigzag_recounted_pj": recounted,
                "zigzag_register_reuse": reuse,
                "mapping": f"{mapping.dataflow}, {mapping.chunks} chunks, F {mapping.row_folds_per_fill}, "
                           f"u {mapping.streamed_per_stationary_read}, "
                           f"whole {'+'.join(mapping.whole) or '-'}",
                "ifmap_on_chip": search.residency[0], "ofmap_read_on_chip_next": linked[index],
                "carrier": levels[0]["level"], "levels": levels})
        out["accelerators"][name] = {"sim_config": acc["sim_config"], "layers": len(layers), "worse": rows,
                                     "sim_energy_pj": float(sum(layer.energy.total_pj for layer in run.layers)),
                                     "zigzag_energy_pj": float(sum(zz[layer.name]["zigzag_energy_pj"]
                                                                   for layer in layers))}
    return out


def print_energy_gaps(section: dict | None) -> None:
    if section is None:
        print(f"ZigZag energy gaps: {ZIGZAG_RESULTS.relative_to(ROOT)} not found: skipped")
        return
    for name, acc in section["accelerators"].items():
        total = acc["sim_energy_pj"] / acc["zigzag_energy_pj"] - 1
        print(f"\nZigZag {section['zigzag_version']} vs sim's mapper, energy, {name}: {len(acc['worse'])} of "
              f"{acc['layers']} layers worse; total {total:+.1%}")
        for r in acc["worse"]:
            reuse = ", ".join(f"{k} x{v}" for k, v in r["zigzag_register_reuse"].items())
            print(f"{r['name']}: sim {r['sim_pj'] / 1e6:.2f} uJ ({r['mapping']}; ifmap on chip {r['ifmap_on_chip']}, "
                  f"ofmap read on chip next {r['ofmap_read_on_chip_next']}) vs ZigZag {r['zigzag_pj'] / 1e6:.2f} "
                  f"(+{r['sim_pj'] / r['zigzag_pj'] - 1:.1%})")
            print(f"  alone {r['sim_alone_pj'] / 1e6:.2f}, best validated alone {r['best_alone_pj'] / 1e6:.2f}, "
                  f"nearest {r['nearest_pj'] / 1e6:.2f}; ZigZag at one register read per MAC "
                  f"{r['zigzag_recounted_pj'] / 1e6:.2f} (its register reuse: {reuse or 'none'}); "
                  f"carried by {r['carrier']}")
            print(f"  {'level.operand':20}{'ZigZag uJ':>11}{'sim uJ':>11}{'sim - ZigZag':>14}")
            for level in r["levels"]:
                if abs(level["difference_pj"]) >= 0.01e6 or level["level"] == r["carrier"]:
                    print(f"  {level['level']:20}{level['zigzag_pj'] / 1e6:11.3f}{level['sim_pj'] / 1e6:11.3f}"
                          f"{level['difference_pj'] / 1e6:+14.3f}")


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

    def is_one_by_one(m_edges, k, steps):
        sums = [counter(m_edges, np.append(np.arange(0, k, s, dtype=np.int64), k)) for s in np.asarray(steps).tolist()]
        return (np.array([int(s.sum()) for s in sums], dtype=np.int64),
                np.array([int(s[0, 0]) for s in sums], dtype=np.int64))

    return FootprintCounter(counter.count, one_by_one, none_at_once, is_one_by_one)


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


def scoring_rate(hw, layer: Layer, repeat: int = 3, baseline_sample: int | None = None, seed: int = 0) -> dict:
    """Candidates scored per second over the layer's whole space: batched footprints (best of `repeat` or more) and the
    per-tiling baseline, measured in the same run (once: it is slow), over the whole space or, with
    `baseline_sample`, over that many candidates drawn with `seed` (its cost is per distinct tiling, so a sample's
    rate stands for the space's)."""
    batch = layer_space(layer, hw).all()

    footprint_s = [0.0]
    ifmap_blocks = systolic._ifmap_blocks

    def counted_ifmap_blocks(*args):
        start = time.perf_counter()
        try:
            return ifmap_blocks(*args)
        finally:
            footprint_s[0] += time.perf_counter() - start

    def timed(runs: int, picks: np.ndarray | None = None, at_least_s: float = 0.0) -> tuple[float, float, dict]:
        chosen = batch if picks is None else batch.take(picks)
        best, best_footprint, values = float("inf"), float("inf"), {}
        systolic._ifmap_blocks = counted_ifmap_blocks
        try:
            spent, run = 0.0, 0
            # At least `runs`, and a small space rerun for `at_least_s` (up to 50 runs): other jobs' noise dwarfs
            # a millisecond.
            while run < runs or (spent < at_least_s and run < 50):
                run += 1
                footprint_s[0] = 0.0
                _cold_caches()  # each run counts its tilings afresh (a layer's counter keeps them)
                start = time.perf_counter()
                values = chosen.estimate(layer, hw)
                elapsed = time.perf_counter() - start
                spent += elapsed
                best = min(best, elapsed)
                best_footprint = min(best_footprint, footprint_s[0])
        finally:
            systolic._ifmap_blocks = ifmap_blocks
        return best, best_footprint, values

    after, footprint_after, batched = timed(repeat, at_least_s=0.25)
    picks = None
    if baseline_sample is not None and baseline_sample < len(batch):
        picks = np.sort(np.random.default_rng(seed).choice(len(batch), size=baseline_sample, replace=False))
    original = systolic.footprint_counter
    systolic.footprint_counter = _per_tiling_counter
    try:
        before, _, reference = timed(1, picks)
    finally:
        systolic.footprint_counter = original
    chosen = slice(None) if picks is None else picks
    identical = all(np.array_equal(np.asarray(value)[chosen], reference[key]) for key, value in batched.items())
    measured = len(batch) if picks is None else picks.size
    return {"layer": layer.name, "hardware": hw.name, "candidates": len(batch), "seconds": after,
            "candidates_per_s": len(batch) / after, "footprint_seconds": footprint_after,
            "plain_matrix": is_plain_matrix(layer), "per_tiling_candidates": measured, "per_tiling_seconds": before,
            "per_tiling_candidates_per_s": measured / before, "identical_scores": bool(identical)}


SCORED_NETWORKS = ("resnet18", "resnet50", "mobilenet_v2")
SCORED_CONFIGS = ("eyeriss_12x14.toml", "zigzag_tpu_like.toml", "zigzag_eyeriss_like.toml")
BASELINE_SAMPLE = 300  # candidates the per-tiling baseline scores per shape (all of a smaller space)


def conv_shapes(traces: dict) -> list[tuple[str, Layer]]:
    """The distinct conv layer shapes of the traces (first network and layer name of each); plain-matrix (1x1
    stride-1) ones included, their footprints closed form."""
    shapes: dict[Layer, str] = {}
    for network, trace in traces.items():
        for layer in trace.layers:
            if layer.kind == "gemm":
                continue
            shapes.setdefault(replace(layer, name="shape"), f"{network}/{layer.name}")
    return [(name, replace(shape, name=name)) for shape, name in shapes.items()]


def conv_scoring(baseline_sample: int = BASELINE_SAMPLE) -> dict:
    """scoring_rate of every distinct conv shape of SCORED_NETWORKS on each SCORED_CONFIGS hardware, with the
    min / median / max over the shapes per hardware."""
    traces = {network: sim.load_trace(ROOT / "traces" / f"{network}.csv") for network in SCORED_NETWORKS}
    shapes = conv_shapes(traces)
    out = {}
    for config in SCORED_CONFIGS:
        hw = sim.load_hardware(ROOT / "hw_configs" / config)
        rows = [scoring_rate(hw, layer, repeat=5, baseline_sample=baseline_sample) for _, layer in shapes]
        rates = np.array([r["candidates_per_s"] for r in rows])
        before = np.array([r["per_tiling_candidates_per_s"] for r in rows])
        out[config] = {"shapes": len(rows), "rows": rows,
                       "min": float(rates.min()), "median": float(np.median(rates)), "max": float(rates.max()),
                       "per_tiling_min": float(before.min()), "per_tiling_median": float(np.median(before)),
                       "per_tiling_max": float(before.max()),
                       "below_1e5": [r["layer"] for r in rows if r["candidates_per_s"] < 1e5],
                       # Scoring rate with the footprints alone timed, on the shapes that count footprints.
                       "footprint_min": float(min(r["candidates"] / max(r["footprint_seconds"], 1e-9)
                                                  for r in rows if not r["plain_matrix"])),
                       "all_identical": all(r["identical_scores"] for r in rows)}
    return out


def print_conv_scoring(section: dict) -> None:
    print(f"{'scoring conv shapes on':<28}{'shapes':>7}{'min /s':>12}{'median /s':>12}{'max /s':>12}"
          f"{'per-tiling min':>16}{'median':>10}{'max':>12}{'identical':>10}")
    for config, r in section.items():
        print(f"{config:<28}{r['shapes']:>7}{r['min']:>12,.0f}{r['median']:>12,.0f}{r['max']:>12,.0f}"
              f"{r['per_tiling_min']:>16,.0f}{r['per_tiling_median']:>10,.0f}{r['per_tiling_max']:>12,.0f}"
              f"{str(r['all_identical']):>10}")
        print(f"    footprints alone (non-plain shapes): min {r['footprint_min']:,.0f} candidates/s")
        for row in sorted(r["rows"], key=lambda row: row["candidates_per_s"])[:5]:
            print(f"    slowest: {row['layer']:<34}{row['candidates']:>9,} candidates {row['seconds']:>8.4f} s "
                  f"(footprints {row['footprint_seconds']:.4f} s) {row['candidates_per_s']:>12,.0f} /s "
                  f"(per-tiling {row['per_tiling_candidates_per_s']:,.0f} /s)")


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


def warm_up(layers, hw) -> float:
    """A two-layer search before timing: the process's one-time start (numba's kernels compiled or loaded from its
    cache, the lazy imports) is not the search's. Returns its CPU seconds."""
    start = time.process_time()
    sim.map(layers[:2], hw, objective="latency", top_k=1)
    return time.process_time() - start


def _cold_caches() -> None:
    """Empty the per-process memos of pure functions (a layer's tiling counts and footprint counter, its read set, the
    ladders), so that every timed search starts as the first one in a process does: no mode inherits another's
    work."""
    footprint_module._layer_counter.cache_clear()
    footprint_module.ifmap_read_elements.cache_clear()
    mapper_search._geometric_ladder.cache_clear()


SEARCH_REPEATS = 3  # timed runs per mode: the cores are shared, and their speed moves by tens of percent


def search_time(trace_path: Path = ROOT / "traces" / "resnet18.csv", top_ks=(1, 3),
                repeats: int = SEARCH_REPEATS) -> list[dict]:
    """The ZigZag comparison's search (ResNet-18 at 8 bits, latency then energy) on both matched configs, per top-k:
    with the reuse (one cache for both calls, engine runs that cannot win skipped, the engine's fast path) and
    without it, measured in the same run, each `repeats` times alternating (the least CPU seconds counts, as timeit
    takes the least: the machine is shared; every run's CPU seconds listed), wall seconds by phase, engine runs.
    The answers must be identical across modes and repeats."""
    layers = [replace(layer, **ZIGZAG_PRECISION) for layer in sim.load_trace(trace_path).layers]
    out = []
    for name in ("tpu_like", "eyeriss_like"):
        hw = sim.load_hardware(ROOT / "hw_configs" / f"zigzag_{name}.toml")
        warm_up(layers, hw)
        for top_k in top_ks:
            answers: dict[str, set] = {}
            timed: dict[str, list[dict]] = {"without reuse": [], "with reuse": []}
            for _ in range(repeats):
                for mode, runs in timed.items():
                    stack = _without_reuse() if mode == "without reuse" else None
                    cache = MapperCache()
                    _cold_caches()
                    start, cpu = time.perf_counter(), time.process_time()
                    with stack if stack is not None else nullcontext():
                        results = [sim.map(layers, hw, objective=objective, top_k=top_k,
                                           cache=MapperCache() if stack is not None else cache)
                                   for objective in ("latency", "energy")]
                    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                    answers.setdefault(mode, set()).add(repr([(s.best.mapping, s.best.engine_cycles,
                                                               s.best.engine_energy_pj)
                                                              for result in results for s in result.layers]))
                    runs.append({"hardware": name, "top_k": top_k, "mode": mode, "cpu_s": cpu, "wall_s": wall,
                                 "phases_s": {phase: sum(map_phases(r)[phase] for r in results)
                                              for phase in ("scoring", "validation", "across_layers")},
                                 "engine_runs": sum(r.engine_runs for r in results)})
            for runs in timed.values():
                out.append({**min(runs, key=lambda run: run["cpu_s"]), "cpu_s_runs": [run["cpu_s"] for run in runs]})
            out[-1]["same_answers"] = len(answers["with reuse"] | answers["without reuse"]) == 1
    return out


def print_search_time(rows: list[dict]) -> None:
    print(f"{'search time':<14}{'top-k':>6}  {'mode':<15}{'CPU s':>8}{'wall s':>8}{'scoring':>9}{'valid.':>8}"
          f"{'across':>8}{'engine runs':>12}  every run's CPU s")
    for r in rows:
        p = r["phases_s"]
        same = "" if "same_answers" not in r else ("  same answers" if r["same_answers"] else "  ANSWERS DIFFER")
        print(f"{r['hardware']:<14}{r['top_k']:>6}  {r['mode']:<15}{r['cpu_s']:>8.2f}{r['wall_s']:>8.2f}"
              f"{p['scoring']:>9.2f}{p['validation']:>8.2f}{p['across_layers']:>8.2f}{r['engine_runs']:>12}  "
              + " ".join(f"{c:.2f}" for c in r["cpu_s_runs"]) + same)


def bound_runs_cost(trace_path: Path = ROOT / "traces" / "resnet18.csv", repeats: int = 3) -> list[dict]:
    """What the runs below the best engine number (sim.mapper.search.BOUND_RUNS) cost and gain: the ZigZag
    comparison's search (ResNet-18 at 8 bits, latency then energy, one cache) with them off and on, alternated
    `repeats` times in the same run (min CPU seconds: the cores are shared), and the total latency of the picks."""
    layers = [replace(layer, **ZIGZAG_PRECISION) for layer in sim.load_trace(trace_path).layers]
    rows = []
    for name in ("tpu_like", "eyeriss_like"):
        hw = sim.load_hardware(ROOT / "hw_configs" / f"zigzag_{name}.toml")
        warm_up(layers, hw)
        for top_k in (1, 3):
            seen: dict[int, dict] = {}
            for _ in range(repeats):
                for runs in (0, BOUND_RUNS):
                    with mock.patch("sim.mapper.search.BOUND_RUNS", runs):
                        cache, cpu = MapperCache(), time.process_time()
                        latency, energy = (sim.map(layers, hw, objective=objective, top_k=top_k, cache=cache)
                                           for objective in ("latency", "energy"))
                        cpu = time.process_time() - cpu
                    row = seen.setdefault(runs, {"hardware": name, "top_k": top_k, "bound_runs": runs, "cpu_s": [],
                                                 "engine_runs": latency.engine_runs + energy.engine_runs,
                                                 "cycles": sum(s.best.engine_cycles for s in latency.layers),
                                                 "energy_pj": sum(s.best.engine_energy_pj for s in energy.layers)})
                    row["cpu_s"].append(cpu)
            rows += list(seen.values())
    return rows


def print_bound_runs(rows: list[dict]) -> None:
    print(f"{'bound runs':<14}{'top-k':>6}{'runs':>6}{'min CPU s':>11}{'engine runs':>13}{'cycles':>14}{'pJ':>18}")
    for r in rows:
        print(f"{r['hardware']:<14}{r['top_k']:>6}{r['bound_runs']:>6}{min(r['cpu_s']):>11.2f}{r['engine_runs']:>13}"
              f"{r['cycles']:>14,}{r['energy_pj']:>18,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="ResNet-18 on the Eyeriss-like config only")
    parser.add_argument("--scoring-only", action="store_true", help="only the scoring rates (no search, no engine)")
    parser.add_argument("--search-time", action="store_true",
                        help="only the search time of the ZigZag comparison, with and without reuse")
    parser.add_argument("--bound-runs", action="store_true",
                        help="only the cost and gain of the runs below the best engine number (off vs on)")
    args = parser.parse_args()
    if args.bound_runs:
        rows = bound_runs_cost()
        print_bound_runs(rows)
        write_results("bench_mapper_bound_runs.json", rows=rows)
        return
    if args.scoring_only:
        conv = conv_scoring()
        print_conv_scoring(conv)
        write_results("bench_mapper_scoring.json", conv_scoring=conv)
        return
    if args.search_time:
        rows = search_time()
        print_search_time(rows)
        write_results("bench_mapper_search_time.json", rows=rows)
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
    conv = conv_scoring()
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
    print_conv_scoring(conv)
    directive = directive_rows(resnet18)
    for r in directive:
        shipped = ", ".join(f"{name} {cycles:,.0f}" for name, cycles in r["shipped_cycles"].items())
        print(f"directive {r['layer']} on {r['hardware']}: mapper {r['mapper_cycles']:,} ({r['mapper_mapping']}; "
              f"compute bound {r['compute_bound_cycles']:,}); shipped: {shipped}; {r['candidates']} candidates of "
              f"{r['space']:,} in {r['search_s']:.1f} s")
    zigzag = zigzag_comparison(precision=ZIGZAG_PRECISION)
    print_zigzag(zigzag)
    gaps = zigzag_energy_gaps(precision=ZIGZAG_PRECISION)
    print_energy_gaps(gaps)
    timing = search_time()
    print_search_time(timing)
    missing = f"skipped: {ZIGZAG_RESULTS.name} not found"
    write_results("bench_mapper.json", quick=args.quick, networks=rows, scoring=rates, conv_scoring=conv,
                  directive=directive, search_time=timing, zigzag=zigzag if zigzag is not None else missing,
                  zigzag_energy_gaps=gaps if gaps is not None else missing)


def write_results(name: str, **sections) -> None:
    """benchmarks/results/`name`: the machine and Python version, then `sections`."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"machine": platform.platform(), "python": platform.python_version(), **sections}
    (RESULTS / name).write_text(json.dumps(out, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
