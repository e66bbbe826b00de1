"""sim vs ZigZag 3.9.1 on ResNet-18, per layer, on ZigZag's tpu_like and eyeriss_like and sim's matched configs.

ZigZag runs in a virtual environment of its own (never the project's): `python3 -m venv zigzag-venv &&
zigzag-venv/bin/pip install zigzag-dse six`, then name its Python by $ZIGZAG_PYTHON or --zigzag-python. Its
per-layer results are cached in benchmarks/results/zigzag_resnet18.json (ZigZag takes minutes: ~80 s tpu_like,
~240 s eyeriss_like on 2 cores); --rerun-zigzag runs it again. sim loads the same resnet18.onnx from ZigZag's
package, with ZigZag's ONNX precisions (8-bit activations and weights, 16-bit partial sums, 8-bit outputs), and
runs each layer with sim's nearest named mapping, since sim's systolic record cannot express ZigZag's loop nests
(spatial output x input channels with the reduction looped in time inside the PE): os where ZigZag keeps partial
sums in the PE registers across reduction loops (its innermost output level holds one), else ws, which shares
ZigZag's spatial unrolling. Both are run and written (docs/zigzag.md).

    python benchmarks/bench_zigzag.py [--zigzag-python PATH] [--rerun-zigzag]

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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "zigzag_resnet18.json"
RUNNER = ROOT / "benchmarks" / "zigzag_runner.py"
ACCELERATORS = {"tpu_like": "hw_configs/zigzag_tpu_like.toml", "eyeriss_like": "hw_configs/zigzag_eyeriss_like.toml"}
# ZigZag's ONNX parser: activations and weights at the model's 8 bits, partial sums 16, final outputs 8.
PRECISION = {"ifmap_bits": 8, "filter_bits": 8, "ofmap_bits": 8, "psum_bits": 16}
REDUCTION = {"C", "FX", "FY"}  # ZigZag's reduction dimensions (input channels, filter width and height)


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


def nearest_mapping(layer: dict) -> str:
    """os when ZigZag's innermost level of the output holds a reduction loop (partial sums stay in the PE), else ws."""
    innermost = layer["zigzag_loops"]["O"][0]
    return "os" if any(dim in REDUCTION for dim, _ in innermost) else "ws"


def with_dataflow(hw, dataflow: str):
    return hw.model_copy(update={"pe_array": hw.pe_array.model_copy(update={"dataflow": dataflow})})


def sim_layers(onnx: Path):
    trace = sim.load_trace(onnx)
    layers = tuple(dataclasses.replace(layer, **PRECISION) for layer in trace.layers)
    return dataclasses.replace(trace, layers=layers)


def print_levels(row: dict) -> None:
    """Energy per memory level and operand of one layer: ZigZag's, and sim's under ws and os (docs/zigzag.md)."""
    names = {"I": "ifmap", "W": "filter", "O": "ofmap"}
    print(f"\n{row['name']}: energy per level and operand (uJ)")
    print(f"{'level.operand':22} {'ZigZag':>9} {'sim ws':>9} {'sim os':>9}")
    print(f"{'mac':22} {row['zigzag_mac_energy_pj'] / 1e6:9.3f} {row['sim_mac_energy_pj'] / 1e6:9.3f} "
          f"{row['sim_mac_energy_pj'] / 1e6:9.3f}")
    for operand, levels in row["zigzag_operands"].items():
        for level, energy in zip(levels["levels"], levels["energy_pj"]):
            key = f"{level.lower()}.{names[operand]}"
            print(f"{key:22} {energy / 1e6:9.3f} {row['sim_ws_energy_by_level_pj'].get(key, 0.0) / 1e6:9.3f} "
                  f"{row['sim_os_energy_by_level_pj'].get(key, 0.0) / 1e6:9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zigzag-python", default=None, help="Python of a venv with zigzag-dse ($ZIGZAG_PYTHON)")
    parser.add_argument("--rerun-zigzag", action="store_true", help="run ZigZag again instead of using the cache")
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
        engine, analytical, engine_s, analytical_s = {}, {}, 0.0, 0.0
        for dataflow in ("ws", "os"):
            start = time.perf_counter()
            engine[dataflow] = {layer.name: layer for layer in sim.simulate(trace, with_dataflow(hw, dataflow)).layers}
            engine_s += time.perf_counter() - start
            start = time.perf_counter()
            analytical[dataflow] = {layer.name: layer for layer in sim.estimate(trace, with_dataflow(hw, dataflow)).layers}
            analytical_s += time.perf_counter() - start
        rows = []
        for layer in zz_layers:
            dataflow = nearest_mapping(layer)
            ours, closed = engine[dataflow][layer["name"]], analytical[dataflow][layer["name"]]
            row = {key: value for key, value in layer.items() if key.startswith("zigzag_")}
            row.update({"name": layer["name"], "sim_cycles": float(ours.cycles), "sim_energy_pj": ours.energy.total_pj,
                        "sim_mapping": f"{dataflow} (sim's nearest named mapping)",
                        "sim_analytical_cycles": float(closed.cycles),
                        "sim_analytical_energy_pj": closed.energy.total_pj,
                        "sim_energy_by_level_pj": {f"{c.level}.{c.operand}": c.energy_pj for c in ours.levels},
                        "sim_mac_energy_pj": ours.energy.as_dict().get("mac", 0.0)})
            for other in ("ws", "os"):
                result = engine[other][layer["name"]]
                row[f"sim_{other}_cycles"], row[f"sim_{other}_energy_pj"] = float(result.cycles), result.energy.total_pj
                row[f"sim_{other}_energy_by_level_pj"] = {f"{c.level}.{c.operand}": c.energy_pj for c in result.levels}
            rows.append(row)
        report["accelerators"][accelerator] = {"sim_config": config, "zigzag_seconds": seconds,
                                               "sim_engine_seconds": engine_s, "sim_analytical_seconds": analytical_s,
                                               "layers": rows}
        print(f"\n{accelerator}: ZigZag {version} ({seconds:.0f} s{', cached' if cached else ''}) vs sim engine "
              f"({engine_s:.1f} s) on {config}")
        print(f"{'layer':44} {'map':>3} {'zz cycles':>11} {'sim cycles':>11} {'ratio':>6} {'zz uJ':>9} {'sim uJ':>9} "
              f"{'ratio':>6}")
        for row in rows:
            print(f"{row['name'][:44]:44} {row['sim_mapping'][:3]:>3} {row['zigzag_cycles']:11.0f} {row['sim_cycles']:11.0f} "
                  f"{row['sim_cycles'] / row['zigzag_cycles']:6.2f} {row['zigzag_energy_pj'] / 1e6:9.2f} "
                  f"{row['sim_energy_pj'] / 1e6:9.2f} {row['sim_energy_pj'] / row['zigzag_energy_pj']:6.2f}")
        zz_c, sim_c = sum(r["zigzag_cycles"] for r in rows), sum(r["sim_cycles"] for r in rows)
        zz_e, sim_e = sum(r["zigzag_energy_pj"] for r in rows), sum(r["sim_energy_pj"] for r in rows)
        print(f"{'total':44} {'':3} {zz_c:11.0f} {sim_c:11.0f} {sim_c / zz_c:6.2f} {zz_e / 1e6:9.2f} {sim_e / 1e6:9.2f} "
              f"{sim_e / zz_e:6.2f}")
        print_levels(rows[1])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
