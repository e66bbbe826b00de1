"""Engine benchmark: ResNet-50 on a 128x128 ws array behind a DDR4-2400 channel (bank/row model).

Prints a table and writes benchmarks/results/bench_engine.json. Baselines are measured in the same run:
- the closed-form systolic model (sim.analytical.systolic.estimate_systolic), per layer;
- the fold-level fast model's timing pass (sim.kernels.systolic_fast.run_layer_timing), the per-fold
  arithmetic the engine's events wrap;
- the fast model's functional pass (sim.kernels.systolic_fast.check_functional), against the engine run with
  functional=True on the same layers: what the engine adds when output values are computed too;
- SimPy's floor: one event per engine step (the least a step-level SimPy engine can process), and the engine's
  own event count, at the cost per event of a bare process that only yields timeouts;
- the share of the engine's wall time spent inside its SimPy clock (events and the component callbacks behind
  them) against the rest (planning, set-up, layer records), the latter compared with the closed form.
Scaling: wall time vs number of layers (the same layer repeated) and vs layer size at a fixed fold count
(more MACs per fold); the engine is expected to grow linearly in folds and stay flat in MACs.

Usage: python benchmarks/bench_engine.py [--quick]  (--quick: one repeat, smaller sweeps)
"""
from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from pathlib import Path

from rich.console import Console
from rich.table import Table
from timing import best_of

from sim.analytical.systolic import estimate_systolic
from sim.engine.simulate import simulate_trace
from sim.hardware.load import load_hardware
from sim.mapping.systolic import map_systolic
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
HW_CONFIG = ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4.toml"
BUFFER_KB = 512  # per operand, for a 128x128 array (TPU v1 class on-chip storage split three ways)


def conv(name, size, cin, cout, k, stride=1):
    pad = k // 2
    return Layer(name=name, ifmap_h=size, ifmap_w=size, in_channels=cin, out_channels=cout, filter_h=k, filter_w=k,
                 stride_h=stride, stride_w=stride, pad_top=pad, pad_bottom=pad, pad_left=pad, pad_right=pad)


def resnet50() -> Trace:
    """ResNet-50 (He et al. 2016, torchvision v1.5: stride on the 3x3), batch 1, 224x224: 53 convs + fc."""
    layers = [conv("conv1", 224, 3, 64, 7, 2)]
    size, cin = 56, 64
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=2):
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 2 else 1
            prefix = f"res{stage}.{block}"
            layers.append(conv(f"{prefix}.conv1", size, cin, width, 1))
            layers.append(conv(f"{prefix}.conv2", size, width, width, 3, stride))
            out = size // stride
            layers.append(conv(f"{prefix}.conv3", out, width, 4 * width, 1))
            if block == 0:
                layers.append(conv(f"{prefix}.downsample", size, cin, 4 * width, 1, stride))
            size, cin = out, 4 * width
    layers.append(Layer.gemm_layer("fc", m=1, n=1000, k=2048))
    return Trace(name="resnet50", layers=tuple(layers))


def hardware(buffer_kb: float = BUFFER_KB):
    hw = load_hardware(HW_CONFIG)
    buffers = hw.buffers.model_copy(update={
        name: getattr(hw.buffers, name).model_copy(update={"size_kb": buffer_kb}) for name in ("ifmap", "filter", "ofmap")
    })
    return hw.model_copy(update={
        "name": "128x128_ws_ddr4",
        "pe_array": hw.pe_array.model_copy(update={"rows": 128, "cols": 128, "cycle_convention": "native"}),
        "buffers": buffers,
    })


def closed_form(trace, hw):
    return [estimate_systolic(layer, hw, map_systolic(layer, hw)) for layer in trace.layers]


def fast_model(trace, hw):
    from sim.kernels.systolic_fast import run_layer_timing

    return [run_layer_timing(map_systolic(layer, hw)) for layer in trace.layers]


def functional_model(trace, hw):
    from sim.kernels.systolic_fast import check_functional

    return [check_functional(layer, map_systolic(layer, hw), 0, hw.pe_array.accumulator_bits)
            for layer in trace.layers]


def simpy_floor(events: int = 20_000) -> float:
    """Seconds per event of a bare SimPy process yielding `events` one-cycle timeouts (no model code at all)."""
    import simpy

    def process(env):
        for _ in range(events):
            yield env.timeout(1)

    env = simpy.Environment()
    env.process(process(env))
    start = time.perf_counter()
    env.run()
    return (time.perf_counter() - start) / events


def clock_share(simulate, repeat: int) -> float:
    """Best-of-`repeat` seconds one run spends inside its SimPy clock (CountingEnvironment.run: the events and the
    component callbacks behind them), the rest of simulate_trace being planning, set-up and the layer records."""
    from sim.engine.clock import CountingEnvironment

    inside = []
    run = CountingEnvironment.run

    def timed(self, until=None):
        start = time.perf_counter()
        try:
            return run(self, until)
        finally:
            inside.append(time.perf_counter() - start)

    CountingEnvironment.run = timed  # this benchmark process only
    try:
        best = float("inf")
        for _ in range(repeat):
            inside.clear()
            simulate()
            best = min(best, sum(inside))
    finally:
        CountingEnvironment.run = run
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller scaling sweeps")
    args = parser.parse_args()
    repeat = 1 if args.quick else 10
    hw = hardware()
    trace = resnet50()
    console = Console()

    fast_model(Trace("warm", trace.layers[:2]), hw)  # numba compilation outside the timings
    simulate_trace(Trace("warm", trace.layers[:2]), hw)
    closed_s, _ = best_of(lambda: closed_form(trace, hw), repeat)
    fast_s, _ = best_of(lambda: fast_model(trace, hw), repeat)
    engine_s, run = best_of(lambda: simulate_trace(trace, hw), repeat)
    clock_s = clock_share(lambda: simulate_trace(trace, hw), repeat)
    tracemalloc.start()
    simulate_trace(trace, hw)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    events = sum(int(dict(r.extra)["events"]) for r in run.layers)
    steps = sum(int(dict(r.extra)["steps"]) for r in run.layers)
    # Output values as well: the functional pass dominates both sides; repeat it less (seconds per pass).
    functional_repeat = 1 if args.quick else 3
    functional_model(Trace("warm", trace.layers[:2]), hw)
    fast_functional_s = engine_functional_s = float("inf")
    for _ in range(functional_repeat):  # interleaved, best of each: the numpy matmuls are noisy on a shared machine
        fast_functional_s = min(fast_functional_s, best_of(lambda: functional_model(trace, hw))[0])
        engine_functional_s = min(engine_functional_s,
                                  best_of(lambda: simulate_trace(trace, hw, functional=True))[0])
    per_event_s = min(simpy_floor() for _ in range(3))
    floor_s = per_event_s * steps  # one event per step: the least a step-level SimPy engine can process
    events_floor_s = per_event_s * events  # the engine's own events at a bare process's cost per event
    folds = sum(r.folds for r in run.layers)
    totals = run.totals()
    resnet = {
        "layers": len(trace.layers), "folds": folds, "steps": steps, "events": events,
        "events_per_step": events / steps,
        "engine_wall_s": engine_s, "closed_form_wall_s": closed_s, "fast_model_wall_s": fast_s,
        "overhead_vs_closed_form": engine_s / closed_s, "overhead_vs_fast_model": engine_s / fast_s,
        "engine_functional_wall_s": engine_functional_s, "fast_model_functional_wall_s": fast_functional_s,
        "functional_overhead": engine_functional_s / fast_functional_s,
        "clock_wall_s": clock_s, "outside_clock_wall_s": engine_s - clock_s,
        "outside_clock_vs_closed_form": (engine_s - clock_s) / closed_s,
        "simpy_floor_wall_s": floor_s, "simpy_us_per_event": per_event_s * 1e6,
        "simpy_floor_for_engine_events_s": events_floor_s, "clock_us_per_event": clock_s / events * 1e6,
        "floor_vs_fast_model": floor_s / fast_s, "engine_vs_floor": engine_s / floor_s,
        "events_per_s": events / engine_s, "peak_traced_memory_mib": peak_bytes / 2**20,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cycles": totals["cycles"], "compute_cycles": totals["compute_cycles"], "stall_cycles": totals["stall_cycles"],
    }

    table = Table(title=f"ResNet-50 on {hw.name} ({BUFFER_KB} KiB per operand SRAM)")
    for column in ("measure", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for key, value in resnet.items():
        table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else f"{value:,}")
    console.print(table)

    # Wall time vs number of layers: the same mid-size layer repeated.
    base = conv("scale", 28, 128, 128, 3)
    counts = (1, 2, 4, 8) if args.quick else (1, 2, 4, 8, 16, 32)
    by_layers = []
    for count in counts:
        repeated = Trace("repeat", tuple(base for _ in range(count)))
        wall, result = best_of(lambda: simulate_trace(repeated, hw), repeat)
        by_layers.append({"layers": count, "folds": sum(r.folds for r in result.layers), "wall_s": wall,
                          "wall_per_layer_s": wall / count})
    # Wall time vs MACs at a fixed fold count: ws streams M, so M grows MACs but not folds. With the default
    # buffers the streamed tiles no longer fit and the fold is chunked (steps grow); with 64 MiB buffers every
    # operand stays one tile, so the steps, and the wall time, stay flat.
    by_size = []
    for buffers_kb in (BUFFER_KB, 64 * 1024):
        sized_hw = hardware(buffers_kb)
        for m in ((256, 1024, 4096) if args.quick else (256, 1024, 4096, 16384, 65536)):
            layer = Layer.gemm_layer("gemm", m=m, n=256, k=256)
            wall, result = best_of(lambda: simulate_trace(Trace("size", (layer,)), sized_hw), repeat)
            r = result.layers[0]
            extra = dict(r.extra)
            by_size.append({"buffer_kb": buffers_kb, "m": m, "macs": r.macs, "folds": r.folds,
                            "steps": int(extra["steps"]), "events": int(extra["events"]), "wall_s": wall})

    for title, rows, base_key in (("wall time vs layers (ratio to 1 layer)", by_layers, "wall_s"),
                                  ("wall time vs MACs at fixed folds (ratio to the smallest m per buffer size)", by_size, "wall_s")):
        scaling = Table(title=title)
        for column in (*rows[0], "ratio"):
            scaling.add_column(column, justify="right")
        for row in rows:
            first = next(r for r in rows if r.get("buffer_kb") == row.get("buffer_kb"))
            row["ratio"] = row[base_key] / first[base_key]
            scaling.add_row(*(f"{v:,.4f}" if isinstance(v, float) else f"{v:,}" for v in row.values()))
        console.print(scaling)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_engine.json"
    out.write_text(json.dumps({"hardware": hw.name, "resnet50": resnet, "by_layers": by_layers,
                               "by_size": by_size}, indent=1) + "\n")
    console.print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
