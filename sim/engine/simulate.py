"""The engine's driver for systolic hardware: run layers on one SimPy clock and return LayerResult records.

Per layer, `sim.engine.tiling.plan_layer` turns the folds into steps and operand tiles; then three kinds of
actor, chains of callbacks on the SimPy clock (sim.engine.clock), run against shared components (one Dram, one
Buffer per operand):
- a prefetcher per input operand fills the tiles in order as slots free up (double buffering),
- an ofmap allocator takes a slot per ofmap tile, reading partial sums back when they were drained,
- the PE array (sim.engine.pe_array) waits for each step's tiles, computes, releases and drains.
A layer ends when its last ofmap tile has reached DRAM; its `cycles` run from its start (the previous
layer's end) to there, and `stall_cycles = cycles - compute_cycles` is exactly the time the timeline made
the array wait (for the first tiles, for bandwidth, for the last drain). Events are per step and per tile
transfer, never per cycle or per PE; hand-overs (a slot to a waiting fill, a ready tile to the waiting array)
take no time and no event.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from operator import attrgetter

import numpy as np
import simpy

from sim.analytical.systolic import fold_cycles
from sim.energy.tables import prices
from sim.engine.buffer import Buffer
from sim.engine.clock import CountingEnvironment, Marker, on
from sim.engine.dram import BandwidthLatencyDram, make_dram
from sim.engine.layer_stats import (
    SYSTOLIC_ACTIONS,
    PlanStats,
    bandwidth_windows,
    layer_result,
    transfer_rows,
)
from sim.engine.pe_array import PeArray, StepCounters, StepSchedule, step_schedule
from sim.engine.tiling import OPERANDS, LayerPlan, plan_layer
from sim.errors import ConfigError, MappingError
from sim.hardware.spec import Hardware
from sim.mapping.systolic import SystolicMapping, map_systolic
from sim.records import FunctionalCheck, LayerResult, RunResult
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
    step_log: list | None = None  # (step, start, cycles) per computed step, only when a power trace asks for it


def _check_window(window_cycles: int) -> None:
    if isinstance(window_cycles, bool) or not isinstance(window_cycles, int) or window_cycles < 1:
        raise ConfigError("the bandwidth window must be a positive whole number of cycles", field="window_cycles",
                          value=window_cycles, allowed="an integer >= 1")


def _check_systolic(hw: Hardware) -> None:
    if hw.pe_array is None or hw.buffers is None or hw.dram is None:
        raise MappingError(f"hardware '{hw.name}' has no systolic array for the engine's systolic driver",
                           field="pe_array", allowed="a config with [pe_array], [buffers] and [dram]")


# Every Layer field but its name: a plan depends on the layer's shape only.
_layer_shape = attrgetter(*(f.name for f in fields(Layer) if f.name != "name"))


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


class _InOrder:
    """Once `start` fires, fill (or, for the ofmap, allocate) one operand's tiles in turn, the next when the previous
    is in place; `done` fires after the last. Waiters on one start event run in the order they were created."""

    def __init__(self, env: CountingEnvironment, buffer: Buffer, name: str, tiles, keys: list[tuple[int, int]],
                 ready: list[Marker], width: int, read_elements: dict[str, int], start: simpy.Event,
                 done: simpy.Event | None = None, drained: list[Marker] | None = None) -> None:
        self.buffer, self.name, self.tiles, self.keys, self.ready = buffer, name, tiles, keys, ready
        self.width, self.read_elements, self.done, self.drained = width, read_elements, done, drained
        self.index = 0
        self.issuing = False  # inside _issue: a tile that is in place at once continues the loop there
        self.in_place = False
        on(start, self._issue)

    def _issue(self, _event: object = None) -> None:
        tiles = self.tiles
        while self.index < len(tiles):
            i = self.index
            tile = tiles[i]
            self.issuing, self.in_place = True, False
            if self.drained is None:
                self.buffer.fill(self.keys[i], tile.elements, tile.address, self.width, self.ready[i], self._placed)
            else:
                after = self.drained[tile.previous] if tile.previous >= 0 else None
                self.buffer.allocate(self.keys[i], tile.elements, tile.readback_elements, tile.address, self.width,
                                     after, self.ready[i], self._placed)
            self.issuing = False
            if not self.in_place:
                return  # _placed continues when the tile arrives
        if self.done is not None:
            self.done.succeed()

    def _placed(self) -> None:
        tile = self.tiles[self.index]
        self.read_elements[self.name] += tile.elements if self.drained is None else tile.readback_elements
        self.index += 1
        if self.issuing:
            self.in_place = True  # no recursion: the loop in _issue goes on
        else:
            self._issue()


def _start_layer(index: int, plan: LayerPlan, schedule: StepSchedule, layer: Layer, parts: _Components,
                 timeline: LayerTimeline, layer_start: simpy.Event, filter_start: simpy.Event,
                 filters_issued: simpy.Event, done: simpy.Event) -> None:
    """Start the layer's prefetchers and ofmap allocator (`_InOrder`) and its PE array; `done` succeeds when the
    last ofmap tile is in DRAM."""
    env = parts.env
    bits = layer.operand_bits
    buffers = parts.buffers
    keys = {name: [(index, i) for i in range(len(plan.tiles[name]))] for name in OPERANDS}
    ready = {name: [Marker() for _ in plan.tiles[name]] for name in OPERANDS}
    drained = [Marker() for _ in plan.tiles["ofmap"]]
    read_elements = timeline.dram_read_elements
    _InOrder(env, buffers["ifmap"], "ifmap", plan.tiles["ifmap"], keys["ifmap"], ready["ifmap"], bits["ifmap"],
             read_elements, layer_start)
    _InOrder(env, buffers["filter"], "filter", plan.tiles["filter"], keys["filter"], ready["filter"], bits["filter"],
             read_elements, filter_start, filters_issued)
    _InOrder(env, buffers["ofmap"], "ofmap", plan.tiles["ofmap"], keys["ofmap"], ready["ofmap"], bits["ofmap"],
             read_elements, layer_start, drained=drained)
    parts.pe_array.run_layer(plan, schedule, buffers, keys, ready, drained, timeline, layer_start, bits["ofmap"], done)


def _functional(layer: Layer, hw: Hardware, mapping: SystolicMapping, seed: int) -> FunctionalCheck:
    from sim.kernels import systolic_fast

    return systolic_fast.check_functional(layer, mapping, seed, hw.pe_array.accumulator_bits)


class _LayerChain:
    """Layer `index` starts when the previous one is done (`after`) and is done when its PE array has seen its last
    ofmap tile reach DRAM (`pe`); records the layer's start, end and counters on its timeline."""

    def __init__(self, index: int, parts: _Components, timeline: LayerTimeline, after: simpy.Event,
                 started: simpy.Event, pe: simpy.Event, finished: simpy.Event, wall_marks: list[float],
                 on_layer) -> None:
        self.index, self.parts, self.timeline = index, parts, timeline
        self.started, self.pe, self.finished = started, pe, finished
        self.wall_marks, self.on_layer = wall_marks, on_layer
        self.events_before = self.hits_before = self.misses_before = 0
        on(after, self._start)

    def _start(self, _event: simpy.Event) -> None:
        parts, timeline = self.parts, self.timeline
        timeline.start = parts.env._now
        self.events_before = parts.env.events_processed
        self.hits_before, self.misses_before = parts.dram.stats.row_hits, parts.dram.stats.row_misses
        for buffer in parts.buffers.values():
            buffer.stats.peak_occupancy_elements = buffer.stats.occupancy_elements
        self.started.succeed()
        on(self.pe, self._end)

    def _end(self, _event: simpy.Event) -> None:
        parts, timeline = self.parts, self.timeline
        timeline.end = parts.env._now
        timeline.events_processed = parts.env.events_processed - self.events_before
        timeline.dram_row_hits = parts.dram.stats.row_hits - self.hits_before
        timeline.dram_row_misses = parts.dram.stats.row_misses - self.misses_before
        for name, buffer in parts.buffers.items():
            timeline.peak_occupancy[name] = buffer.stats.peak_occupancy_elements
        self.wall_marks.append(time.perf_counter())
        if self.on_layer is not None:
            self.on_layer(self.index)
        self.finished.succeed()


def _simulate(layers: list[tuple[Layer, SystolicMapping]], hw: Hardware, *, functional: bool, seed: int,
              overlap_weight_prefetch: bool, window: int, on_layer=None,
              observe=None) -> tuple[list[LayerResult], list[np.ndarray]]:
    """`observe(plans, timelines, transfers)`, when given, also logs every step and sees the run's timeline
    (sim.engine.power); without it nothing extra is recorded."""
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
        # The folds and their cycles follow from the shape and the array (the convention is the run's).
        key = (_layer_shape(layer), mapping.dataflow, mapping.rows, mapping.cols)
        plan = shared.get(key)
        if plan is None:
            plan = shared[key] = plan_layer(layer, hw.buffers, mapping, layer_fold_cycles(mapping, convention))
            schedules[id(plan)] = step_schedule(plan)
        plans.append(plan)
        plan_wall.append(time.perf_counter() - start)
    if not layers:
        return [], []
    env = CountingEnvironment()
    parts = _Components(env, hw, plans[0].slots)
    timelines = [LayerTimeline(step_log=[] if observe is not None else None) for _ in layers]
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
        pe = env.event()
        _start_layer(index, plan, schedules[id(plan)], layer, parts, timeline, started, filter_start, filters_issued,
                     pe)

        _LayerChain(index, parts, timeline, previous_done, started, pe, finished, wall_marks, on_layer)
        previous_done, previous_start, previous_filters = finished, started, filters_issued
    wall_start = time.perf_counter()
    env.run(until=previous_done)
    post = time.perf_counter()
    transfers = transfer_rows(parts.dram.stats.transfers)
    if observe is not None:
        observe(plans, timelines, transfers)
    starts = np.fromiter((timeline.start for timeline in timelines), dtype=np.int64, count=len(timelines))
    ends = np.fromiter((timeline.end for timeline in timelines), dtype=np.int64, count=len(timelines))
    # Every layer's bandwidth windows, peak and busy cycles in one pass over the transfer log.
    stats = bandwidth_windows(transfers, starts, ends, window)
    windows = [stats.of(index) for index in range(len(layers))]
    pes = hw.pe_array.pes
    priced = prices(SYSTOLIC_ACTIONS, hw.energy)
    # Layers sharing a plan (and all PlanStats reads of layer and mapping) share one PlanStats; local to this call.
    by_plan: dict[tuple, PlanStats] = {}
    # Each layer's sim_wall_s gets an equal share of the run-wide post-processing, then its own part.
    shared_wall = (time.perf_counter() - post) / len(layers)
    results: list[LayerResult] = []
    marks = [wall_start, *wall_marks]
    for index, ((layer, mapping), plan) in enumerate(zip(layers, plans)):
        post = time.perf_counter()
        key = (id(plan), mapping.dataflow, mapping.rows, mapping.cols, layer.gemm, layer.ifmap_bits,
               layer.filter_bits, layer.ofmap_bits)
        plan_stats = by_plan.get(key)
        if plan_stats is None:
            plan_stats = by_plan[key] = PlanStats.of(layer, mapping, plan)
        results.append(layer_result(
            layer, plan_stats, timelines[index], pes=pes, table=hw.energy, priced=priced,
            busy_cycles=int(stats.busy_cycles[index]), peak_bytes_per_cycle=float(stats.peak_bytes_per_cycle[index]),
            window=window, wall_s=plan_wall[index] + (marks[index + 1] - marks[index]) + shared_wall, post_start=post,
            functional=_functional(layer, hw, mapping, seed) if functional else None))
    return results, windows


def simulate_layer(layer: Layer, hw: Hardware, mapping: SystolicMapping | None = None, *, functional: bool = False,
                   seed: int = 0, window_cycles: int = DEFAULT_WINDOW_CYCLES) -> LayerResult:
    """One layer on `hw`'s systolic array, starting with empty buffers (model="engine")."""
    _check_systolic(hw)
    _check_window(window_cycles)
    if hw.pe_array.deconv == "zero_skipping" and layer.kind == "tconv":
        return simulate_trace(Trace(name=layer.name, layers=(layer,)), hw, functional=functional, seed=seed,
                              window_cycles=window_cycles).layers[0]
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
    if hw.pe_array.deconv == "zero_skipping" and any(layer.kind == "tconv" for layer in trace.layers):
        from sim.engine.deconv import simulate_zero_skipping  # tconvs as their stride phases, merged back

        return simulate_zero_skipping(trace, hw, lambda expanded: simulate_trace(
            expanded, hw, functional=functional, seed=seed, overlap_weight_prefetch=overlap_weight_prefetch,
            progress=progress, window_cycles=window_cycles))
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
        ("bandwidth_windows", tuple(tuple(w.tolist()) for w in windows)),
        ("overlap_weight_prefetch", overlap_weight_prefetch),
        ("seed", seed),
    )
    return RunResult(hardware=hw.name, trace=trace.name, model="engine", layers=tuple(results),
                     pes=hw.pe_array.pes, metadata=metadata)


def _dataflow_of(trace: Trace, index: int) -> str | None:
    """A per-layer dataflow override carried by the trace (a plain string), else the config's."""
    flow = trace.dataflow_of(index)
    return flow if isinstance(flow, str) else None
