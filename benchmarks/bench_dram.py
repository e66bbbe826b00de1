"""DRAM benchmark: the command-level model (`ddr`) against Ramulator 2.1 on the eight reference streams, on
tile-shaped traffic from real layers, its replay speed, and the engine with each DRAM model.

Tables printed, JSON written to benchmarks/results/bench_dram.json. Parts:
1. The eight DDR4-2400 streams (sim.workload.dram_trace.synthetic_streams, the reference's generator rewritten):
   total time of `ddr`, `bank_row` and `bandwidth` against Ramulator's measurement (RAMULATOR_NS below).
2. Replay speed of `ddr` in transactions per second (best of REPEATS, after one warm-up for numba's compile).
3. Tile-shaped traffic: the DRAM requests the engine issues for ResNet-18 layers (32x32 ws, DDR4-2400), offered
   at t = 0 and replayed through the full controller (every transaction in one FR-FCFS queue, the model validated
   in part 1) against the engine's way (one request at a time, `DdrDram`, queue state kept between requests),
   `bank_row` and `bandwidth`.
4. The engine's ResNet-50 bench hardware (128x128 ws) with `bank_row` and `ddr`: wall time (goal: ddr <= 1.5x).
5. ResNet-18 and ResNet-50 on a DRAM-bound config (32x32 ws, 64 KiB SRAMs, DDR4-2400): cycles and stalls with
   `bandwidth`, `bank_row` and `ddr`.

Usage: python benchmarks/bench_dram.py [--quick]   (--quick: streams scaled down 16x, one repeat, no part 5)
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path

import numpy as np
from bench_engine import hardware as engine_bench_hardware
from bench_engine import resnet50
from rich.console import Console
from rich.table import Table

from sim.engine.ddr import DdrController, DdrDram, device_of
from sim.engine.dram_replay import expand, replay
from sim.engine.simulate import simulate_trace
from sim.hardware.load import load_hardware
from sim.hardware.presets import resolve_ddr_preset
from sim.hardware.spec import DramSpec
from sim.workload.dram_trace import DramTrace, engine_requests_trace, synthetic_streams
from sim.workload.load import load_trace
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CMD_CONFIG = ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4_cmd.toml"
# source: Ramulator 2.1 (commit c5b1c3a), DDR4-2400R, one channel / rank, FR-FCFS, 32-entry queues; measured on these
# streams, every request offered at t = 0 (the reference's dram README and ramulator_ddr4_streams.csv): total ns.
RAMULATOR_NS = {
    "seq_64k": 4461.548, "seq_1m": 73050.768, "seq_16m": 1168965.566, "stride_row": 93090.249,
    "stride_bankrow": 786686.87, "random_256m": 373058.219, "rw_seq_2to1": 1180775.84, "rw_3stream": 1643066.685,
}
REPEATS = 5


def best_cpu(function, repeats: int) -> float:
    """The least CPU time (this process) of `repeats` calls: steadier than wall time on a shared machine."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def spec_of(model: str) -> DramSpec:
    """The DDR4-2400 channel of the reference in each model (bandwidth 19.2 GB/s at 1 GHz; bank_row: the preset)."""
    base = load_hardware(CMD_CONFIG).dram
    if model == "ddr":
        return base
    return DramSpec(model=model, bandwidth_bytes_per_cycle=base.bandwidth_bytes_per_cycle, burst_bytes=64,
                    preset="DDR4-2400" if model == "bank_row" else None)


def streams_part(console: Console, scale: int) -> list[dict]:
    table = Table(title="Eight DDR4-2400 streams: total time vs Ramulator 2.1" + (f" (1/{scale} size)" if scale > 1
                                                                                  else ""))
    for column in ("stream", "transactions", "Ramulator ns", "ddr ns", "ddr err", "row hits", "bank_row err",
                   "bandwidth err"):
        table.add_column(column, justify="left" if column == "stream" else "right")
    rows = []
    for name, trace in synthetic_streams(scale=scale).items():
        results = {model: replay(trace, spec_of(model)) for model in ("ddr", "bank_row", "bandwidth")}
        reference = RAMULATOR_NS[name] if scale == 1 else None
        row = {"stream": name, "transactions": results["ddr"].transactions, "ramulator_ns": reference}
        for model, result in results.items():
            row[f"{model}_ns"] = result.total_ns
            row[f"{model}_error"] = result.total_ns / reference - 1 if reference else None
        row["ddr_row_hit_rate"] = results["ddr"].row_hit_rate
        row["ddr_commands"] = results["ddr"].commands
        rows.append(row)

        def pct(value):
            return "-" if value is None else f"{value:+.2%}"

        table.add_row(name, str(row["transactions"]), "-" if reference is None else f"{reference:,.0f}",
                      f"{row['ddr_ns']:,.0f}", pct(row["ddr_error"]), f"{row['ddr_row_hit_rate']:.2%}",
                      pct(row["bank_row_error"]), pct(row["bandwidth_error"]))
    console.print(table)
    return rows


def speed_part(console: Console, scale: int, repeats: int) -> list[dict]:
    device = resolve_ddr_preset("DDR4-2400")
    table = Table(title="ddr replay speed (numba controller, after warm-up; least CPU time of the repeats)")
    for column in ("stream", "transactions", "best CPU s", "M transactions/s"):
        table.add_column(column, justify="left" if column == "stream" else "right")
    rows = []
    DdrController(device).serve(np.zeros(4, dtype=np.bool_), np.arange(4) * 64, np.zeros(4, dtype=np.int64))
    for name, trace in synthetic_streams(scale=scale).items():
        _owner, addresses = expand(trace, 64)
        arrive = np.zeros(len(addresses), dtype=np.int64)
        write = trace.write[_owner]

        def run():
            DdrController(device).serve(write, addresses, arrive)

        best = best_cpu(run, repeats)
        rows.append({"stream": name, "transactions": len(addresses), "best_s": best,
                     "transactions_per_s": len(addresses) / best})
        table.add_row(name, str(len(addresses)), f"{best:.4f}", f"{len(addresses) / best / 1e6:.2f}")
    console.print(table)
    return rows


def engine_requests(layers: int) -> tuple[DramTrace, float]:
    """The DRAM requests the engine issues for the first `layers` ResNet-18 layers (32x32 ws, DDR4-2400, ddr)."""
    hw = load_hardware(CMD_CONFIG)
    trace = load_trace(ROOT / "traces" / "resnet18.csv")
    trace = Trace(name=trace.name, layers=trace.layers[:layers])
    log: list = []
    simulate_trace(trace, hw, dram_requests=log)
    return engine_requests_trace(log, hw.pe_array.clock_mhz, name=f"resnet18[:{layers}]"), hw.pe_array.clock_mhz


def engine_way_ns(trace: DramTrace, spec: DramSpec) -> float:
    """Every request offered at t = 0 and served the engine's way: one request at a time through DdrDram."""
    from sim.engine.clock import CountingEnvironment

    env = CountingEnvironment()
    dram = DdrDram(env, spec)
    finish = 0
    for i in range(len(trace)):
        finish = max(finish, dram.serve("write" if trace.write[i] else "read", int(trace.address[i]),
                                        int(trace.size_bytes[i])))
    return dram.controller.end_tck * dram.controller.device.tck_ns


def tiles_part(console: Console, layer_counts: tuple[int, ...]) -> list[dict]:
    table = Table(title="Tile-shaped traffic (ResNet-18 engine requests, all offered at t = 0): total ns")
    for column in ("requests", "MiB", "full FR-FCFS", "engine way", "err", "bank_row", "err", "bandwidth", "err"):
        table.add_column(column, justify="right")
    rows = []
    for layers in layer_counts:
        trace, _clock = engine_requests(layers)
        offered = DramTrace(trace.name, np.zeros(len(trace)), trace.write, trace.address, trace.size_bytes)
        full = replay(offered, spec_of("ddr")).total_ns
        engine = engine_way_ns(offered, spec_of("ddr"))
        bank_row = replay(offered, spec_of("bank_row")).total_ns
        bandwidth = replay(offered, spec_of("bandwidth")).total_ns
        row = {"trace": trace.name, "requests": len(trace), "bytes": int(trace.size_bytes.sum()), "full_ns": full,
               "engine_way_ns": engine, "engine_way_error": engine / full - 1, "bank_row_ns": bank_row,
               "bank_row_error": bank_row / full - 1, "bandwidth_ns": bandwidth,
               "bandwidth_error": bandwidth / full - 1}
        rows.append(row)
        table.add_row(f"{trace.name}: {len(trace)}", f"{row['bytes'] / 2**20:.1f}", f"{full:,.0f}", f"{engine:,.0f}",
                      f"{row['engine_way_error']:+.2%}", f"{bank_row:,.0f}", f"{row['bank_row_error']:+.2%}",
                      f"{bandwidth:,.0f}", f"{row['bandwidth_error']:+.2%}")
    console.print(table)
    return rows


def interleaved_completions_ns(trace: DramTrace, spec: DramSpec) -> np.ndarray:
    """The reference for concurrent requests: every transaction through the full controller, the transactions of
    requests in flight together entering the queue in turns (request i's j-th offered at its issue time + j x half
    the device's sequential rate, queue entry in that order), as separate requesters feeding one FR-FCFS queue
    would. Per request: its last transaction's completion (ns)."""
    controller = DdrController(device_of(spec))
    device = controller.device
    owner, addresses = expand(trace, device.transaction_bytes)
    counts = np.bincount(owner, minlength=len(trace))
    position = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)  # j within its request
    pace = controller._steady_tck(False) / 2
    offered = np.ceil(trace.issue_ns[owner] / device.tck_ns - 1e-9) + position * pace
    order = np.lexsort((position, owner, offered))
    done = controller.serve(trace.write[owner][order], addresses[order], np.ceil(offered[order]).astype(np.int64))
    finish = np.zeros(len(trace), dtype=np.int64)
    np.maximum.at(finish, owner[order], done)
    return finish * device.tck_ns


def engine_completions_ns(trace: DramTrace, spec: DramSpec, share: bool, clock_mhz: float) -> np.ndarray:
    """Per request: its completion (ns) when the engine issues the requests at their logged cycles, each served
    after the earlier ones (share=False, the model before sharing) or sharing the channel with those in flight."""
    from sim.engine.clock import CountingEnvironment

    env = CountingEnvironment()
    dram = DdrDram(env, spec, clock_mhz=clock_mhz)
    finish = np.zeros(len(trace), dtype=np.int64)
    cycles = np.ceil(trace.issue_ns * clock_mhz / 1000.0 - 1e-9).astype(np.int64)

    def issue(index: int) -> None:
        kind = "write" if trace.write[index] else "read"
        address, size = int(trace.address[index]), int(trace.size_bytes[index])
        if share:
            dram.request_call(kind, address, size, None, lambda _call: finish.__setitem__(index, env.now))
        else:
            finish[index] = dram.serve(kind, address, size)

    for index, cycle in enumerate(cycles.tolist()):
        env.call_at(cycle, lambda _call, i=index: issue(i))
    env.run()
    return finish * 1000.0 / clock_mhz


# Requests issued in the same cycle, shaped as the engine's (ResNet-18 conv1 on the DRAM-bound config): operand
# regions 2**40 bytes apart, as the engine places them. (kind, operand region, offset, size_bytes).
PAIRS = {
    "ofmap write 32 KiB + ifmap read 3 KiB": (("write", 2, 0, 32768), ("read", 0, 37632, 3084)),
    "ifmap read 1 KiB + filter read 9 KiB": (("read", 0, 0, 1054), ("read", 1, 0, 9408)),
    "ifmap read 32 KiB + filter read 32 KiB": (("read", 0, 0, 32768), ("read", 1, 0, 32768)),
    "ofmap write 32 KiB + ofmap read 32 KiB": (("write", 2, 0, 32768), ("read", 2, 65536, 32768)),
}


def pair_trace(name: str) -> DramTrace:
    requests = PAIRS[name]
    return DramTrace(name, np.zeros(len(requests)), np.array([kind == "write" for kind, *_ in requests]),
                     np.array([(region << 40) + offset for _, region, offset, _ in requests], dtype=np.int64),
                     np.array([size for *_, size in requests], dtype=np.int64))


def sharing_part(console: Console, layer_counts: tuple[int, ...]) -> dict:
    spec = spec_of("ddr")
    pairs = Table(title="Two requests issued together: completion of each (ns), every transaction through one FR-FCFS "
                        "queue fed in turns (reference) vs the engine's model, one by one and shared")
    for column in ("requests", "reference", "one by one", "shared"):
        pairs.add_column(column, justify="left" if column == "requests" else "right")
    pair_rows = []
    for name in PAIRS:
        trace = pair_trace(name)
        reference = interleaved_completions_ns(trace, spec)
        serial = engine_completions_ns(trace, spec, False, 1000.0)
        shared = engine_completions_ns(trace, spec, True, 1000.0)
        pair_rows.append({"requests": name, "reference_ns": reference.tolist(), "one_by_one_ns": serial.tolist(),
                          "shared_ns": shared.tolist()})
        pairs.add_row(name, *(" / ".join(f"{v:,.0f}" for v in values) for values in (reference, serial, shared)))
    console.print(pairs)
    table = Table(title="ResNet-18 engine requests at their logged cycles: mean read latency and last completion (ns)")
    for column in ("requests", "issued while another is in flight", "one by one: read latency", "end",
                   "shared: read latency", "end"):
        table.add_column(column, justify="right")
    rows = []
    for layers in layer_counts:
        trace, clock = engine_requests(layers)
        serial = engine_completions_ns(trace, spec, False, clock)
        shared = engine_completions_ns(trace, spec, True, clock)
        reads = ~trace.write
        concurrent = int(np.sum(trace.issue_ns[1:] < np.maximum.accumulate(serial)[:-1]))
        row = {"trace": trace.name, "requests": len(trace), "concurrent": concurrent,
               "one_by_one_read_ns": float(np.mean(serial[reads] - trace.issue_ns[reads])),
               "shared_read_ns": float(np.mean(shared[reads] - trace.issue_ns[reads])),
               "one_by_one_end_ns": float(serial.max()), "shared_end_ns": float(shared.max())}
        rows.append(row)
        table.add_row(f"{trace.name}: {len(trace)}", str(concurrent), f"{row['one_by_one_read_ns']:,.0f}",
                      f"{row['one_by_one_end_ns']:,.0f}", f"{row['shared_read_ns']:,.0f}",
                      f"{row['shared_end_ns']:,.0f}")
    console.print(table)
    return {"pairs": pair_rows, "engine_requests": rows}


def with_model(hw, model: str):
    return hw.model_copy(update={"dram": spec_of(model).model_copy(update={
        "bandwidth_bytes_per_cycle": hw.dram.bandwidth_bytes_per_cycle})})


def timed(function) -> tuple[float, float]:
    """(wall s, CPU s) of one call, the garbage collector held off during it as timeit does: a full collection
    walks numba's ~10^5 objects (about 0.08 s here, longer than the run) and would land in one model's turn."""
    gc.collect()
    gc.disable()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        gc.enable()


def engine_speed_part(console: Console, repeats: int) -> dict:
    trace = resnet50()
    base = engine_bench_hardware()
    hws = {model: with_model(base, model) for model in ("bank_row", "ddr")}
    for hw in hws.values():
        simulate_trace(trace, hw)  # warm-up (numba compile, caches)
    walls = {model: float("inf") for model in hws}
    cpus = dict(walls)
    load_before = os.getloadavg()[0]
    for _ in range(repeats):  # the models take turns, so both see the same load on a shared machine
        for model, hw in hws.items():
            wall, cpu = timed(lambda hw=hw: simulate_trace(trace, hw))
            walls[model] = min(walls[model], wall)
            cpus[model] = min(cpus[model], cpu)
    load = (load_before + os.getloadavg()[0]) / 2
    ratio = walls["ddr"] / walls["bank_row"]
    cpu_ratio = cpus["ddr"] / cpus["bank_row"]
    console.print(f"ResNet-50 engine bench ({base.name}), best of {repeats} in turns: wall bank_row "
                  f"{walls['bank_row']:.3f} s, ddr {walls['ddr']:.3f} s ({ratio:.2f}x); CPU bank_row "
                  f"{cpus['bank_row']:.3f} s, ddr {cpus['ddr']:.3f} s ({cpu_ratio:.2f}x); goal <= 1.5x; "
                  f"1-min load average {load:.1f}")
    return {"bank_row_s": walls["bank_row"], "ddr_s": walls["ddr"], "ratio": ratio, "bank_row_cpu_s": cpus["bank_row"],
            "ddr_cpu_s": cpus["ddr"], "cpu_ratio": cpu_ratio, "repeats": repeats, "load_average": load}


def networks_part(console: Console) -> list[dict]:
    hw = load_hardware(CMD_CONFIG)
    table = Table(title=f"DRAM-bound config ({hw.name}: 32x32 ws, 64 KiB SRAMs, DDR4-2400): cycles / stall cycles")
    for column in ("network", "bandwidth", "bank_row", "ddr"):
        table.add_column(column, justify="left" if column == "network" else "right")
    rows = []
    for name, trace in (("resnet18", load_trace(ROOT / "traces" / "resnet18.csv")), ("resnet50", resnet50())):
        row = {"network": name}
        cells = []
        for model in ("bandwidth", "bank_row", "ddr"):
            run = simulate_trace(trace, with_model(hw, model))
            cycles = sum(layer.cycles for layer in run.layers)
            stalls = sum(layer.stall_cycles for layer in run.layers)
            row[model] = {"cycles": cycles, "stall_cycles": stalls}
            cells.append(f"{cycles:,} / {stalls:,}")
        rows.append(row)
        table.add_row(name, *cells)
    console.print(table)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    console = Console(width=160)
    scale = 16 if args.quick else 1
    repeats = 1 if args.quick else REPEATS
    start = time.perf_counter()
    results = {"streams": streams_part(console, scale), "speed": speed_part(console, scale, repeats),
               "tiles": tiles_part(console, (3,) if args.quick else (3, 8, 21)),
               "sharing": sharing_part(console, (3,) if args.quick else (3, 8, 21)),
               "engine_speed": engine_speed_part(console, repeats)}
    if not args.quick:
        results["networks"] = networks_part(console)
    results["wall_s"] = time.perf_counter() - start
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("bench_dram_quick.json" if args.quick else "bench_dram.json")
    out.write_text(json.dumps(results, indent=2, default=float))
    console.print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
