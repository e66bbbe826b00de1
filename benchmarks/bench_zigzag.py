"""sim vs ZigZag 3.9.1 on ResNet-18, per layer, on ZigZag's tpu_like and eyeriss_like and sim's matched configs.

ZigZag runs in a virtual environment of its own (never the project's): `python3 -m venv zigzag-venv &&
zigzag-venv/bin/pip install zigzag-dse six`, then name its Python by $ZIGZAG_PYTHON or --zigzag-python. Its
per-layer results are cached in benchmarks/results/zigzag_resnet18.json (ZigZag takes minutes: ~80 s tpu_like,
~240 s eyeriss_like on 2 cores); --rerun-zigzag runs it again. sim loads the same resnet18.onnx from ZigZag's
package, with ZigZag's ONNX precisions (8-bit activations and weights, 16-bit partial sums, 8-bit outputs), and
runs each layer alone (ZigZag reads every layer's input from DRAM and writes its output there, so sim's outputs kept
on chip for the next layer stay out of the comparison) on the record nearest ZigZag's loop nest: ws (ZigZag's
spatial unrolling, output channels on the columns and the reduction on the rows, weights stationary in the PE
registers) with its chunks of T outside the row folds, so partial sums stay on chip across the whole reduction as
in ZigZag's nest, and F row folds' weights per PE register fill, so the partial sum accumulates in the PE over a fill
(ZigZag's innermost loops; F as the register allows, balanced); ws with the default chunk order and os are run and
written too (docs/zigzag.md).

    python benchmarks/bench_zigzag.py [--zigzag-python PATH] [--rerun-zigzag] [--explain]

--explain also prints, per layer outside 10 % of ZigZag, the terms docs/zigzag.md's "Per layer outside 10 %" compares:
ZigZag's ideal, onload, offload and stall cycles; sim's compute cycles, per-operand stalls and the DRAM port's bound.

Prints per-layer cycles and energy of both tools and their ratio, and writes the JSON (docs/zigzag.md).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import sim
from sim.mapping.record import Mapping
from sim.analytical.levels import max_row_folds_per_fill
from sim.errors import MappingError
from sim.mapping.buffering import auto_decision
from sim.mapping.systolic import array_mapping, fit_mapping, map_systolic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "zigzag_resnet18.json"
RUNNER = ROOT / "benchmarks" / "zigzag_runner.py"
ACCELERATORS = {"tpu_like": "hw_configs/zigzag_tpu_like.toml", "eyeriss_like": "hw_configs/zigzag_eyeriss_like.toml"}
# ZigZag's ONNX parser: activations and weights at the model's 8 bits, partial sums 16, final outputs 8.
PRECISION = {"ifmap_bits": 8, "filter_bits": 8, "ofmap_bits": 8, "psum_bits": 16}


def zigzag_python(flag: str | None) -> Path | None:
    path = Path(flag or os.environ.get("ZIGZAG_PYTHON", "zigzag-venv/bin/python"))
    return path if path.exists() else None


def zigzag_onnx(python: Path) -> Path:
    """resnet18.onnx as shipped in the zigzag-dse package (a shapes-only model)."""
    code = "import os, zigzag; print(os.path.join(os.path.dirname(zigzag.__file__), 'inputs', 'workload', 'resnet18.onnx'))"
    return Path(subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout.strip())


def run_zigzag(python: Path, accelerator: str) -> dict:
    out = subprocess.run([str(python), str(RUNNER), accelerator], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def mapping_text(layer: dict) -> str:
    return f"{layer['zigzag_spatial_mapping']} temporal {layer['zigzag_temporal_mapping']}"


def nearest_mapping(layer, hw) -> Mapping:
    """ws holding as many row folds' weights per PE register fill as the register holds (F = min(row folds, what
    the filter register holds), balanced: F = ceil(row folds / fills), so the partial sum stays in the PE over a
    fill as in ZigZag's innermost loops), fitted to the buffers for tiles of F x rows, its chunks of T outside the
    fills when there are several of both (partial sums never leave the chip); a smaller F when the tiles cannot fit.
    On an "auto" register ZigZag's rule decides its double buffering (calc_double_buffer_flag): F filling the whole
    register (run single) and F filling its half (run in halves, the preload hidden) are both built, and the one the
    closed form times faster is kept (the halves on a tie: the closed form does not see a single buffer's stalls)."""
    from sim.analytical.systolic import estimate_systolic
    from sim.mapping.buffering import stationary_register

    register = stationary_register(hw, "filter")
    halves = (True, False) if register is not None and register.double_buffered == "auto" else (None,)
    built = [_nearest(layer, hw, max_row_folds_per_fill(layer, hw, "filter", halved)[0]) for halved in halves]
    return min(built, key=lambda mapping: (estimate_systolic(layer, hw, mapping).cycles, built.index(mapping)))


def _nearest(layer, hw, most: int) -> Mapping:
    fitted = map_systolic(layer, hw, "ws")
    fill = min(fitted.row_folds, most)
    while fill > 1:
        fill = -(-fitted.row_folds // -(-fitted.row_folds // fill))  # balanced: equal fills
        try:
            tiled = fit_mapping(layer, "ws", fitted.rows * fill, fitted.cols, hw.buffers)
            break
        except MappingError:
            fill //= 2
    if fill == 1:
        tiled = fitted
    fills = -(-fitted.row_folds // fill)
    order = "outside_row_folds" if tiled.chunks > 1 and fills > 1 else "innermost"
    # On "auto" levels ZigZag's own rule (calc_double_buffer_flag) decides the double buffering of this mapping.
    return auto_decision(layer, hw, array_mapping(layer, "ws", fitted.rows, fitted.cols, chunks=tiled.chunks,
                                                  whole=tiled.whole, chunk_order=order, row_folds_per_fill=fill))


def mapping_label(mapping: Mapping) -> str:
    return (f"{mapping.dataflow}, chunk order {mapping.chunk_order}: {mapping.chunks} chunks of T x "
            f"{mapping.row_folds} row folds ({mapping.fills} fills of {mapping.row_folds_per_fill}) x "
            f"{mapping.col_folds} column folds"
            + (f", double-buffered {', '.join(mapping.double_buffered) or 'none'}"
               if mapping.double_buffered is not None else ""))


def within(ratios: list[float], tolerance: float = 0.10) -> int:
    return sum(abs(ratio - 1.0) <= tolerance for ratio in ratios)


def with_dataflow(hw, dataflow: str):
    return hw.model_copy(update={"pe_array": hw.pe_array.model_copy(update={"dataflow": dataflow})})


def sim_layers(onnx: Path):
    trace = sim.load_trace(onnx)
    layers = tuple(dataclasses.replace(layer, **PRECISION) for layer in trace.layers)
    return dataclasses.replace(trace, layers=layers)


def print_levels(row: dict) -> None:
    """Energy per memory level and operand of one layer: ZigZag's, sim's on the nearest record, ws and os."""
    names = {"I": "ifmap", "W": "filter", "O": "ofmap"}
    print(f"\n{row['name']}: energy per level and operand (uJ)")
    print(f"{'level.operand':22} {'ZigZag':>9} {'nearest':>9} {'sim ws':>9} {'sim os':>9}")
    mac = row["sim_mac_energy_pj"] / 1e6
    print(f"{'mac':22} {row['zigzag_mac_energy_pj'] / 1e6:9.3f} {mac:9.3f} {mac:9.3f} {mac:9.3f}")
    for operand, levels in row["zigzag_operands"].items():
        for level, energy in zip(levels["levels"], levels["energy_pj"]):
            key = f"{level.lower()}.{names[operand]}"
            print(f"{key:22} {energy / 1e6:9.3f} {row['sim_energy_by_level_pj'].get(key, 0.0) / 1e6:9.3f} "
                  f"{row['sim_ws_energy_by_level_pj'].get(key, 0.0) / 1e6:9.3f} "
                  f"{row['sim_os_energy_by_level_pj'].get(key, 0.0) / 1e6:9.3f}")


def explain(rows: list[dict], results: dict) -> None:
    """Per layer outside 10 % on cycles or energy: ZigZag's latency terms beside sim's compute and per-operand stalls."""
    print("\nlayers outside 10 %: ZigZag ideal + onload + offload + stall | sim compute + stalls per operand; port bound")
    for row in rows:
        cycles, energy = row["sim_cycles"] / row["zigzag_cycles"], row["sim_energy_pj"] / row["zigzag_energy_pj"]
        if within([cycles, energy]) == 2:
            continue
        result = results[row["name"]]
        stalls = {key.rsplit(".", 1)[-1]: value for key, value in result.extra
                  if key.startswith("pe_array.stall_cycles.")}
        print(f"{row['name'][:44]:44} cycles {cycles:.2f} energy {energy:.2f} | ZigZag {row['zigzag_cycles']:.0f} = "
              f"{row['zigzag_ideal_temporal_cycles']:.0f} + {row['zigzag_onloading_cycles']:.0f} + "
              f"{row['zigzag_offloading_cycles']:.0f} + {row['zigzag_stall_cycles']:.0f} | sim {result.cycles} "
              f"(closed form {row['sim_analytical_cycles']:.0f}): compute {result.compute_cycles}, stalls "
              + ", ".join(f"{operand} {value:.0f}" for operand, value in stalls.items())
              + f"; port bound {row['sim_dram_bound_cycles']:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zigzag-python", default=None, help="Python of a venv with zigzag-dse ($ZIGZAG_PYTHON)")
    parser.add_argument("--rerun-zigzag", action="store_true", help="run ZigZag again instead of using the cache")
    parser.add_argument("--explain", action="store_true",
                        help="print ZigZag's latency terms and sim's stalls for each layer outside 10 %%")
    args = parser.parse_args()
    python = zigzag_python(args.zigzag_python)
    if python is None:
        print("skipped: no ZigZag Python (set $ZIGZAG_PYTHON or --zigzag-python to a venv with zigzag-dse 3.9.1); "
              "sim needs ZigZag's resnet18.onnx from that package")
        return
    cache = json.loads(RESULTS.read_text()) if RESULTS.exists() and not args.rerun_zigzag else None
    trace = sim_layers(zigzag_onnx(python))
    report = {"zigzag_version": None, "accelerators": {}}
    for accelerator, config in ACCELERATORS.items():
        cached = (cache or {}).get("accelerators", {}).get(accelerator)
        if cached is None:
            print(f"running ZigZag on {accelerator} ...", flush=True)
            run = run_zigzag(python, accelerator)
            version, seconds, zz_layers = run["zigzag_version"], run["zigzag_seconds"], run["layers"]
            for layer in zz_layers:
                layer["zigzag_mapping"] = mapping_text(layer)
        else:
            version, seconds, zz_layers = cache["zigzag_version"], cached["zigzag_seconds"], cached["layers"]
        report["zigzag_version"] = version
        hw = sim.load_hardware(ROOT / config)
        layers = {layer.name: layer for layer in trace.layers}
        rows, engine_s, analytical_s, explained = [], 0.0, 0.0, {}
        for layer in zz_layers:
            ours = layers[layer["name"]]
            # One layer at a time: from and to DRAM, as ZigZag evaluates a layer.
            mappings = {"nearest": nearest_mapping(ours, with_dataflow(hw, "ws")),
                        "ws": map_systolic(ours, with_dataflow(hw, "ws")),
                        "os": map_systolic(ours, with_dataflow(hw, "os"))}
            results = {}
            start = time.perf_counter()
            for key, mapping in mappings.items():
                results[key] = sim.simulate(ours, with_dataflow(hw, mapping.dataflow), mapping=mapping).layers[0]
            engine_s += time.perf_counter() - start
            start = time.perf_counter()
            closed = sim.estimate(ours, with_dataflow(hw, "ws"), mapping=mappings["nearest"]).layers[0]
            analytical_s += time.perf_counter() - start
            best = results["nearest"]
            row = {key: value for key, value in layer.items() if key.startswith("zigzag_")}
            row.update({"name": layer["name"], "sim_cycles": float(best.cycles), "sim_energy_pj": best.energy.total_pj,
                        "sim_mapping": mapping_label(mappings["nearest"]),
                        "sim_analytical_cycles": float(closed.cycles),
                        "sim_analytical_energy_pj": closed.energy.total_pj,
                        "sim_energy_by_level_pj": {f"{c.level}.{c.operand}": c.energy_pj for c in best.levels},
                        "sim_mac_energy_pj": best.energy.as_dict().get("mac", 0.0),
                        # The fewest cycles any schedule needs to move the layer's DRAM bytes through the one DRAM port.
                        "sim_dram_bound_cycles": (best.dram_reads.total + best.dram_writes.total)
                        / hw.dram.bandwidth_bytes_per_cycle})
            for other in ("ws", "os"):
                result = results[other]
                row[f"sim_{other}_mapping"] = mapping_label(mappings[other])
                row[f"sim_{other}_cycles"], row[f"sim_{other}_energy_pj"] = float(result.cycles), result.energy.total_pj
                row[f"sim_{other}_energy_by_level_pj"] = {f"{c.level}.{c.operand}": c.energy_pj for c in result.levels}
            rows.append(row)
            explained[layer["name"]] = best
        report["accelerators"][accelerator] = {"sim_config": config, "zigzag_seconds": seconds,
                                               "sim_engine_seconds": engine_s, "sim_analytical_seconds": analytical_s,
                                               "layers": rows}
        print(f"\n{accelerator}: ZigZag {version} ({seconds:.0f} s{', cached' if cached else ''}) vs sim engine "
              f"({engine_s:.1f} s) on {config}")
        print(f"{'layer':44} {'order':>5} {'zz cycles':>11} {'sim cycles':>11} {'ratio':>6} {'zz uJ':>9} {'sim uJ':>9} "
              f"{'ratio':>6}")
        for row in rows:
            print(f"{row['name'][:44]:44} {'out' if 'outside' in row['sim_mapping'] else 'in':>5} {row['zigzag_cycles']:11.0f} {row['sim_cycles']:11.0f} "
                  f"{row['sim_cycles'] / row['zigzag_cycles']:6.2f} {row['zigzag_energy_pj'] / 1e6:9.2f} "
                  f"{row['sim_energy_pj'] / 1e6:9.2f} {row['sim_energy_pj'] / row['zigzag_energy_pj']:6.2f}")
        zz_c, sim_c = sum(r["zigzag_cycles"] for r in rows), sum(r["sim_cycles"] for r in rows)
        zz_e, sim_e = sum(r["zigzag_energy_pj"] for r in rows), sum(r["sim_energy_pj"] for r in rows)
        print(f"{'total':44} {'':5} {zz_c:11.0f} {sim_c:11.0f} {sim_c / zz_c:6.2f} {zz_e / 1e6:9.2f} {sim_e / 1e6:9.2f} "
              f"{sim_e / zz_e:6.2f}")
        for key, label in (("", "nearest (ws, F)"), ("ws_", "ws innermost"), ("os_", "os")):
            cycles = sorted(r[f"sim_{key}cycles"] / r["zigzag_cycles"] for r in rows)
            energy = sorted(r[f"sim_{key}energy_pj"] / r["zigzag_energy_pj"] for r in rows)
            print(f"{label:20} cycles ratio min {cycles[0]:.2f} median {cycles[len(rows) // 2]:.2f} max {cycles[-1]:.2f}, "
                  f"{within(cycles)}/{len(rows)} within 10 %, total {sum(r[f'sim_{key}cycles'] for r in rows) / zz_c:.3f}; "
                  f"energy min {energy[0]:.2f} median {energy[len(rows) // 2]:.2f} max {energy[-1]:.2f}, "
                  f"{within(energy)}/{len(rows)} within 10 %, total {sum(r[f'sim_{key}energy_pj'] for r in rows) / zz_e:.3f}")
        rest = [r for r in rows if r["name"] != "/conv1/Conv"]  # conv1: the two tools unroll it differently
        print(f"without conv1: cycles {sum(r['sim_cycles'] for r in rest) / sum(r['zigzag_cycles'] for r in rest):.3f}, "
              f"energy {sum(r['sim_energy_pj'] for r in rest) / sum(r['zigzag_energy_pj'] for r in rest):.3f}; "
              f"ZigZag's cycles below the DRAM port's bound on {sum(r['zigzag_cycles'] < r['sim_dram_bound_cycles'] for r in rows)}"
              f"/{len(rows)} layers")
        print_levels(rows[1])
        if args.explain:
            explain(rows, explained)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
