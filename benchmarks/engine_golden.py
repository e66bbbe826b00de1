"""Golden outputs of the systolic engine: every LayerResult field (to_dict(), sim_wall_s and the wall-clock
`events` aside) and the run's bandwidth windows, over a fixed set of traces and hardware variants.

Run once before changing the engine (`--write`), then after each change without it: the script exits 1 and
names the first differing case when any number moved. The variants cover every hw_configs/*.toml with a
pe_array, both DRAM models, small and large buffers, overlap_weight_prefetch on and off, and both cycle
conventions. Output: benchmarks/results/engine_golden.json (git-ignored).

Usage: python benchmarks/engine_golden.py [--write] [--every N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sim.engine.simulate import simulate_trace
from sim.errors import MappingError
from sim.hardware.load import load_hardware
from sim.workload.load import load_trace
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "engine_golden.json"
TRACES = ("alexnet.csv", "resnet18.csv", "mobilenet_v2.csv", "dcgan_generator.csv", "bert_base_seq128.csv")
MAX_LAYERS = 8  # per trace, to keep the whole set to a few minutes


def _variants(hw):
    """(label, hardware) pairs derived from one config."""
    dram = hw.dram
    bank_row = dram.model_copy(update={"model": "bank_row", "preset": dram.preset or "DDR4-2400",
                                       "burst_bytes": 64, "bandwidth_bytes_per_cycle": 16.0})
    bandwidth = dram.model_copy(update={"model": "bandwidth", "latency_cycles": 20, "bandwidth_bytes_per_cycle": 8.0,
                                        "burst_bytes": 8})

    def sized(factor):
        return hw.buffers.model_copy(update={
            name: getattr(hw.buffers, name).model_copy(update={"size_kb": getattr(hw.buffers, name).size_kb * factor})
            for name in ("ifmap", "filter", "ofmap")})

    other = "native" if hw.pe_array.cycle_convention == "scalesim" else "scalesim"
    yield "as_shipped", hw
    yield "bank_row", hw.model_copy(update={"dram": bank_row})
    yield "bandwidth_latency", hw.model_copy(update={"dram": bandwidth})
    yield "small_buffers", hw.model_copy(update={"buffers": sized(0.25), "dram": bandwidth})
    yield "large_buffers", hw.model_copy(update={"buffers": sized(64), "dram": bank_row})
    yield f"convention_{other}", hw.model_copy(update={
        "pe_array": hw.pe_array.model_copy(update={"cycle_convention": other}), "dram": bank_row})


def run_all(every: int = 1) -> dict[str, object]:
    """All cases, or every `every`-th one (a quick check)."""
    out: dict[str, object] = {}
    configs = sorted(p for p in (ROOT / "hw_configs").glob("*.toml") if "[pe_array]" in p.read_text())
    traces = {name: load_trace(ROOT / "traces" / name) for name in TRACES}
    case = -1
    for config in configs:
        hw = load_hardware(config)
        for label, variant in _variants(hw):
            for trace_name, trace in traces.items():
                short = Trace(trace.name, trace.layers[:MAX_LAYERS])
                for overlap in (False, True):
                    key = f"{config.name}|{label}|{trace_name}|overlap={overlap}"
                    case += 1
                    if case % every:
                        continue
                    try:
                        run = simulate_trace(short, variant, overlap_weight_prefetch=overlap)
                    except MappingError as error:
                        out[key] = {"error": str(error)}
                        continue
                    layers = []
                    for layer in run.layers:
                        record = layer.to_dict()
                        record.pop("sim_wall_s", None)
                        record["extra"].pop("events", None)  # the engine's own cost measure, not a result
                        layers.append(record)
                    out[key] = {"layers": layers, "windows": dict(run.metadata)["bandwidth_windows"]}
    return json.loads(json.dumps(out))  # normalise tuples / floats as JSON would


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the outputs as the golden reference")
    parser.add_argument("--every", type=int, default=1, help="check only every N-th case (quick)")
    args = parser.parse_args()
    start = time.perf_counter()
    outputs = run_all(1 if args.write else args.every)
    wall = time.perf_counter() - start
    errors = sum(1 for v in outputs.values() if "error" in v)
    print(f"{len(outputs)} cases ({errors} MappingError) in {wall:.1f} s")
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(outputs, sort_keys=True) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")
        return
    golden = json.loads(OUT.read_text())
    golden = {key: golden[key] for key in outputs}
    if golden.keys() != outputs.keys():
        print("different case sets")
        sys.exit(1)
    bad = [key for key in golden if golden[key] != outputs[key]]
    for key in bad[:5]:
        print(f"DIFFERS: {key}")
        for i, (a, b) in enumerate(zip(golden[key].get("layers", []), outputs[key].get("layers", []))):
            for field in a:
                if a[field] != b.get(field):
                    print(f"  layer {i} {field}: {a[field]!r} != {b.get(field)!r}")
    print("identical" if not bad else f"{len(bad)} of {len(golden)} cases differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
