"""The engine's driver for systolic hardware: run layers on one SimPy clock and return LayerResult records.

Per layer, `sim.engine.tiling.plan_layer` turns the folds into steps and operand tiles; then three kinds of
process run against shared components (one Dram, one Buffer per operand):
- a prefetcher per input operand fills the tiles in order as slots free up (double buffering),
- an ofmap allocator takes a slot per ofmap tile, reading partial sums back when they were drained,
- the PE array (sim.engine.pe_array) waits for each step's tiles, computes, releases and drains.
A layer ends when its last ofmap tile has reached DRAM; its `cycles` run from its start (the previous
layer's end) to there, and `stall_cycles = cycles - compute_cycles` is exactly the time the timeline made
the array wait (for the first tiles, for bandwidth, for the last drain). Events are per step and per tile
transfer, never per cycle or per PE.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import numpy as np
import simpy

from sim.analytical.systolic import fold_cycles, fold_sram_counts, systolic_actions
from sim.energy.tables import apply
from sim.engine.buffer import Buffer
from sim.engine.clock import CountingEnvironment, Signal
from sim.engine.dram import BandwidthLatencyDram, make_dram
from sim.engine.pe_array import PeArray, StepCounters, StepSchedule, step_schedule
from sim.engine.tiling import OPERANDS, LayerPlan, plan_layer
from sim.errors import ConfigError, MappingError
from sim.hardware.spec import Hardware
from sim.mapping.systolic import SystolicMapping, map_systolic
from sim.records import (
    ActionCounts,
    FunctionalCheck,
    LayerResult,
    OperandCounts,
    RunResult,
)
from sim.workload.layer import Layer
from sim.workload.trace import Trace

# Cycles per bandwidth window for the peak-bandwidth statistic and the optional bandwidth trace.
DEFAULT_WINDOW_CYCLES = 1024


@dataclass
class LayerTimeline:
    """What one layer's processes observed (mutable while it runs; read once at the end)."""

    start: int = 0
    end: int = 0
    first_step_start: int | None = None
    last_compute_end: int = 0
    counters: StepCounters = field(default_factory=StepCounters)
    dram_read_elements: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0))
    dram_write_elements: int = 0
    peak_occupancy: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0))
    events_processed: int = 0
    dram_row_hits: int = 0
    dram_row_misses: int = 0


def _check_window(window_cycles: int) -> None:
    if isinstance(window_cycles, bool) or not isinstance(window_cycles, int) or window_cycles < 1:
        raise ConfigError("the bandwidth window must be a positive whole number of cycles", field="window_cycles",
                          value=window_cycles, allowed="an integer >= 1")


def _check_systolic(hw: Hardware) -> None:
    if hw.pe_array is None or hw.buffers is None or hw.dram is None:
        raise MappingError(f"hardware '{hw.name}' has no systolic array for the engine's systolic driver",
                           field="pe_array", allowed="a config with [pe_array], [buffers] and [dram]")


def layer_fold_cycles(mapping: SystolicMapping, convention: str) -> np.ndarray:
    """Compute cycles per fold; under "scalesim" the last fold of each group is one shorter, so the layer's sum
    equals SCALE-Sim's Total Cycles (an index of the last cycle: -1 per group, as sim.analytical.systolic)."""
    cycles = fold_cycles(mapping, convention).copy()
    if convention == "scalesim" and cycles.size:
        per_group = cycles.size // mapping.groups
        cycles[per_group - 1::per_group] -= 1
    return cycles


class _Components:
    """The components one run shares between its layers: one DRAM, one buffer per operand, the PE array."""

    def __init__(self, env: CountingEnvironment, hw: Hardware, slots: dict[str, int]) -> None:
        self.env = env
        self.dram: BandwidthLatencyDram = make_dram(env, hw.dram, clock_mhz=hw.pe_array.clock_mhz,
                                                    record_transfers=True)
        # A buffer is its slots; tile sizes (and element widths) come with each request, per layer.
        self.buffers = {name: Buffer(env, name, slots[name], 8, self.dram) for name in OPERANDS}
        self.pe_array = PeArray(env)


def _bits(layer: Layer) -> dict[str, int]:
    return {"ifmap": layer.ifmap_bits, "filter": layer.filter_bits, "ofmap": layer.ofmap_bits}


def _in_order(env: CountingEnvironment, start: simpy.Event, tiles, issue, done: simpy.Event | None = None) -> None:
    """Once `start` fires, call `issue(i, tile, then)` for each tile in turn, the next one when the request calls
    `then()` (its tile is in place); `done` fires after the last. A callback chain, not a generator process: the
    same events in the same order, without a process resume per event."""

    def next_tile(i: int) -> None:
        if i == len(tiles):
            if done is not None:
                done.succeed()
            return
        issue(i, tiles[i], lambda: next_tile(i + 1))

    env.when(start, lambda _event: next_tile(0))


def _start_layer(index: int, plan: LayerPlan, schedule: StepSchedule, layer: Layer, parts: _Components,
                 timeline: LayerTimeline, layer_start: simpy.Event, filter_start: simpy.Event,
                 filters_issued: simpy.Event) -> simpy.Process:
    """Start the layer's prefetchers and ofmap allocator (`_in_order` chains) and its PE array; returns the PE
    array's process, which ends when the last ofmap tile is in DRAM."""
    env = parts.env
    bits = _bits(layer)
    buffers = parts.buffers
    drained = [Signal(env) for _ in plan.tiles["ofmap"]]
    read_elements = timeline.dram_read_elements

    def prefetch(name: str, start: simpy.Event, issued: simpy.Event | None) -> None:
        buffer, width = buffers[name], bits[name]

        def fill(i: int, tile, then: Callable[[], None]) -> None:
            def filled() -> None:
                read_elements[name] += tile.elements
                then()

            buffer.fill((index, i), tile.elements, tile.address, width, filled)

        _in_order(env, start, plan.tiles[name], fill, issued)

    def allocate_ofmap() -> None:
        buffer, width = buffers["ofmap"], bits["ofmap"]

        def allocate(i: int, tile, then: Callable[[], None]) -> None:
            def allocated() -> None:
                read_elements["ofmap"] += tile.readback_elements
                then()

            after = drained[tile.previous] if tile.previous >= 0 else None
            buffer.allocate((index, i), tile.elements, tile.readback_elements, tile.address, width, after, allocated)

        _in_order(env, layer_start, plan.tiles["ofmap"], allocate)

    # Same creation order as the processes they replace (their start-up order decides same-cycle ties).
    prefetch("ifmap", layer_start, None)
    prefetch("filter", filter_start, filters_issued)
    allocate_ofmap()
    return env.process(parts.pe_array.run_layer(index, plan, schedule, buffers, drained, timeline, layer_start,
                                                bits["ofmap"]))


def _layer_windows(transfers: np.ndarray, start: int, end: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Bytes moved in each `window`-cycle window of [start, end), transfers spread evenly over their cycles: of all
    transfers (the run's bandwidth trace), and of those ending after `start` (the layer's own, for its peak
    statistic). One pass: the two differ only by zero-length transfers at exactly `start`, whose whole-byte sums
    are exact, so adding the shared spread part to each gives the floats that two separate passes would."""
    count = max(-(-(end - start) // window), 1)
    out = np.zeros(count, dtype=np.float64)
    if transfers.size == 0:
        return out, out.copy()
    t0, t1, size = transfers[:, 0], transfers[:, 1], transfers[:, 2].astype(np.float64)
    own = np.zeros(count, dtype=np.float64)
    # Zero-length transfers (unlimited bandwidth) land in the window where they happen.
    instant = (t1 <= t0) & (t0 >= start) & (t0 < end)
    np.add.at(out, (t0[instant] - start) // window, size[instant])
    instant &= t1 > start
    np.add.at(own, (t0[instant] - start) // window, size[instant])
    spread = (t1 > t0) & (t1 > start) & (t0 < end)
    if spread.any():
        a, b = t0[spread], t1[spread]
        rate = size[spread] / (b - a)
        # Cumulative bytes moved is piecewise linear with breaks at transfer starts and ends: integrate the
        # rate between breaks, then read it at the window edges (exact, O(transfers + windows)).
        points = np.concatenate([a, b])
        order = np.argsort(points, kind="stable")
        points = points[order]
        rate_after = np.cumsum(np.concatenate([rate, -rate])[order])
        moved = np.concatenate([[0.0], np.cumsum(rate_after[:-1] * np.diff(points))])
        edges = np.minimum(start + window * np.arange(count + 1), end)
        part = np.diff(np.interp(edges, points, moved))
        out += part
        own += part
    return out, own


def _layer_result(layer: Layer, hw: Hardware, mapping: SystolicMapping, plan: LayerPlan, timeline: LayerTimeline,
                  transfers: np.ndarray, windows: np.ndarray, window: int) -> LayerResult:
    """The layer's record; `windows` are the bandwidth windows of the transfers in the layer (`_layer_windows`)."""
    cycles = timeline.end - timeline.start
    compute = plan.compute_cycles
    sram = fold_sram_counts(mapping).sum(axis=0)
    gemm = layer.gemm
    dram_reads = OperandCounts(timeline.dram_read_elements["ifmap"], timeline.dram_read_elements["filter"],
                               timeline.dram_read_elements["ofmap"])
    dram_writes = OperandCounts(0, 0, timeline.dram_write_elements)
    element_bytes = {name: -(-bits // 8) for name, bits in _bits(layer).items()}
    read_bytes = sum(getattr(dram_reads, name) * element_bytes[name] for name in OPERANDS)
    write_bytes = dram_writes.ofmap * element_bytes["ofmap"]
    sram_reads = OperandCounts(int(sram[0]), int(sram[1]), int(sram[2]))
    # SRAM writes: fills from DRAM for ifmap/filter, partial sums and outputs for ofmap (as the analytical model).
    sram_writes = OperandCounts(dram_reads.ifmap, dram_reads.filter, int(sram[3]))
    actions = ActionCounts.of(systolic_actions(layer.macs, sram_reads=sram_reads, sram_writes=sram_writes,
                                               dram_read_bytes=read_bytes, dram_write_bytes=write_bytes,
                                               cycles=cycles))
    in_layer = transfers[(transfers[:, 1] > timeline.start) & (transfers[:, 0] < max(timeline.end, timeline.start + 1))] \
        if transfers.size else transfers
    busy = int(np.clip(np.minimum(in_layer[:, 1], timeline.end) - np.maximum(in_layer[:, 0], timeline.start), 0,
                       None).sum()) if in_layer.size else 0
    counters = timeline.counters
    prefetch = (timeline.first_step_start or timeline.start) - timeline.start
    extra: dict[str, float] = {
        "steps": counters.steps,
        "events": timeline.events_processed,
        "prefetch_cycles": prefetch,
        "drain_cycles": max(timeline.end - timeline.last_compute_end, 0),
        "cycles_excl_prefetch": cycles - prefetch,
        "pe_array.busy_cycles": compute,
        "pe_array.idle_cycles": cycles - compute,
        "pe_array.stall_cycles": counters.stall_total,
        "dram.busy_cycles": busy,
        "dram.idle_cycles": max(cycles - busy, 0),
        "dram.read_bytes": read_bytes,
        "dram.write_bytes": write_bytes,
        "dram.avg_bandwidth_bytes_per_cycle": (read_bytes + write_bytes) / cycles if cycles else 0.0,
        "dram.peak_bandwidth_bytes_per_cycle": float(windows.max() / window) if windows.size else 0.0,
        "dram.window_cycles": window,
        "dram.row_hits": timeline.dram_row_hits,
        "dram.row_misses": timeline.dram_row_misses,
    }
    for name in OPERANDS:
        extra[f"pe_array.stall_cycles.{name}"] = counters.stall[name]
        extra[f"{name}_sram.peak_occupancy_elements"] = timeline.peak_occupancy[name]
        extra[f"{name}_sram.capacity_elements"] = plan.slots[name] * plan.slot_elements[name]
        extra[f"{name}_sram.tiles"] = len(plan.tiles[name])
        extra[f"{name}_sram.whole_layer_resident"] = int(plan.whole[name])
    utilization = layer.macs / (hw.pe_array.pes * cycles) if cycles else 0.0
    result = LayerResult(
        name=layer.name, kind=layer.kind, model="engine", macs=gemm.macs, cycles=cycles, compute_cycles=compute,
        stall_cycles=cycles - compute, utilization=utilization, mapping_efficiency=mapping.mapping_efficiency,
        folds=mapping.folds, sram_reads=sram_reads, sram_writes=sram_writes, dram_reads=dram_reads,
        dram_writes=dram_writes, actions=actions, energy=apply(actions, hw.energy),
    )
    return result.with_extra(extra)


def _functional(layer: Layer, hw: Hardware, mapping: SystolicMapping, seed: int) -> FunctionalCheck:
    from sim.kernels import systolic_fast

    return systolic_fast.check_functional(layer, mapping, seed, hw.pe_array.accumulator_bits)


def _simulate(layers: list[tuple[Layer, SystolicMapping]], hw: Hardware, *, functional: bool, seed: int,
              overlap_weight_prefetch: bool, window: int, on_layer=None) -> tuple[list[LayerResult], list[np.ndarray]]:
    _check_systolic(hw)
    convention = hw.pe_array.cycle_convention
    plans = []
    plan_wall = []
    schedules: dict[int, StepSchedule] = {}  # by id of a (shared) plan
    # A plan depends on the layer's shape (not its name), the folds and their cycles: repeated blocks (ResNet's
    # identical bottlenecks) share one frozen plan instead of recomputing ifmap footprints. Local to this call.
    shared: dict[tuple, LayerPlan] = {}
    for layer, mapping in layers:
        start = time.perf_counter()
        cycles = layer_fold_cycles(mapping, convention)
        shape = tuple(getattr(layer, f.name) for f in fields(layer) if f.name != "name")
        key = (shape, mapping.dataflow, np.asarray(mapping.fold_bounds).tobytes(), cycles.tobytes())
        plan = shared.get(key)
        if plan is None:
            plan = shared[key] = plan_layer(layer, hw.buffers, mapping, cycles)
        plans.append(plan)
        if id(plan) not in schedules:
            schedules[id(plan)] = step_schedule(plan)
        plan_wall.append(time.perf_counter() - start)
    if not layers:
        return [], []
    env = CountingEnvironment()
    parts = _Components(env, hw, plans[0].slots)
    timelines = [LayerTimeline() for _ in layers]
    wall_marks: list[float] = []
    previous_done: simpy.Event = env.event().succeed()
    previous_start: simpy.Event = previous_done
    previous_filters: simpy.Event = previous_done
    for index, ((layer, mapping), plan) in enumerate(zip(layers, plans)):
        timeline = timelines[index]
        started = env.event()
        finished = env.event()
        filters_issued = env.event()
        # With overlap a layer's weights may stream in while the previous layer computes, once that layer has
        # issued all of its own weight fetches (so neither layer can hold a slot the other is waiting for).
        filter_start = env.all_of([previous_start, previous_filters]) if overlap_weight_prefetch else started

        # Every layer's processes exist from the start, each waiting for its own start event.
        pe = _start_layer(index, plan, schedules[id(plan)], layer, parts, timeline, started, filter_start,
                          filters_issued)

        def chain(index=index, timeline=timeline, after=previous_done, started=started, finished=finished, pe=pe):
            yield after
            timeline.start = int(env.now)
            events_before = env.events_processed
            hits_before, misses_before = parts.dram.stats.row_hits, parts.dram.stats.row_misses
            for buffer in parts.buffers.values():
                buffer.stats.peak_occupancy_elements = buffer.stats.occupancy_elements
            started.succeed()
            yield pe
            timeline.end = int(env.now)
            timeline.events_processed = env.events_processed - events_before
            timeline.dram_row_hits = parts.dram.stats.row_hits - hits_before
            timeline.dram_row_misses = parts.dram.stats.row_misses - misses_before
            for name, buffer in parts.buffers.items():
                timeline.peak_occupancy[name] = buffer.stats.peak_occupancy_elements
            wall_marks.append(time.perf_counter())
            if on_layer is not None:
                on_layer(index)
            finished.succeed()

        env.process(chain())
        previous_done, previous_start, previous_filters = finished, started, filters_issued
    wall_start = time.perf_counter()
    env.run(until=previous_done)
    transfers = np.asarray(parts.dram.stats.transfers, dtype=np.int64).reshape(-1, 3)
    starts, ends = transfers[:, 0], transfers[:, 1]
    # One FIFO channel: transfers start and end in request order, so a layer's transfers are one contiguous run
    # of rows, found by bisection instead of masking the whole run per layer (same rows, same order).
    ordered = bool(np.all(starts[1:] >= starts[:-1]) and np.all(ends[1:] >= ends[:-1]))
    results: list[LayerResult] = []
    windows: list[np.ndarray] = []
    marks = [wall_start, *wall_marks]
    for index, ((layer, mapping), plan) in enumerate(zip(layers, plans)):
        timeline = timelines[index]
        post = time.perf_counter()
        end = max(timeline.end, timeline.start + 1)
        near = transfers
        if ordered:
            # Rows that any mask below can select: starting at or after `start` or ending after it, starting
            # before `end`.
            first = min(int(np.searchsorted(starts, timeline.start, "left")),
                        int(np.searchsorted(ends, timeline.start, "right")))
            near = transfers[first:int(np.searchsorted(starts, end, "left"))]
        run_windows, own_windows = _layer_windows(near, timeline.start, end, window)
        result = _layer_result(layer, hw, mapping, plan, timeline, near, own_windows, window)
        windows.append(run_windows)
        if functional:
            result = replace(result, functional=_functional(layer, hw, mapping, seed))
        wall = plan_wall[index] + (marks[index + 1] - marks[index]) + (time.perf_counter() - post)
        results.append(replace(result, sim_wall_s=wall))
    return results, windows


def simulate_layer(layer: Layer, hw: Hardware, mapping: SystolicMapping | None = None, *, functional: bool = False,
                   seed: int = 0, window_cycles: int = DEFAULT_WINDOW_CYCLES) -> LayerResult:
    """One layer on `hw`'s systolic array, starting with empty buffers (model="engine")."""
    _check_systolic(hw)
    _check_window(window_cycles)
    mapping = mapping if mapping is not None else map_systolic(layer, hw)
    results, _ = _simulate([(layer, mapping)], hw, functional=functional, seed=seed, overlap_weight_prefetch=False,
                           window=window_cycles)
    return results[0]


def simulate_trace(trace: Trace, hw: Hardware, *, functional: bool = False, seed: int = 0,
                   overlap_weight_prefetch: bool = False, progress: bool = False,
                   window_cycles: int = DEFAULT_WINDOW_CYCLES) -> RunResult:
    """Every layer of `trace`, in order, on one clock with shared buffers and DRAM.

    `overlap_weight_prefetch`: a layer's filter tiles may stream in while the previous layer computes.
    `progress`: a rich progress bar over layers. The per-window DRAM bandwidth (bytes per `window_cycles`
    window, per layer) goes to `metadata["bandwidth_windows"]` for sim.report's bandwidth trace.
    """
    _check_systolic(hw)
    _check_window(window_cycles)
    layers = [(layer, map_systolic(layer, hw, _dataflow_of(trace, i))) for i, layer in enumerate(trace.layers)]
    if progress and len(layers) > 1:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"simulating {trace.name}", total=len(layers))
            results, windows = _simulate(layers, hw, functional=functional, seed=seed,
                                         overlap_weight_prefetch=overlap_weight_prefetch, window=window_cycles,
                                         on_layer=lambda _index: bar.advance(task))
    else:
        results, windows = _simulate(layers, hw, functional=functional, seed=seed,
                                     overlap_weight_prefetch=overlap_weight_prefetch, window=window_cycles)
    metadata = (
        ("bandwidth_window_cycles", window_cycles),
        ("bandwidth_windows", tuple(tuple(float(v) for v in w) for w in windows)),
        ("overlap_weight_prefetch", overlap_weight_prefetch),
        ("seed", seed),
    )
    return RunResult(hardware=hw.name, trace=trace.name, model="engine", layers=tuple(results),
                     pes=hw.pe_array.pes, metadata=metadata)


def _dataflow_of(trace: Trace, index: int) -> str | None:
    """A per-layer dataflow override carried by the trace (a plain string), else the config's."""
    flow = trace.dataflow_of(index)
    return flow if isinstance(flow, str) else None
