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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter

import numpy as np
import simpy

from sim.analytical.levels import check_fill, price_levels, timeline_hardware
from sim.analytical.systolic import step_cycles
from sim.energy.tables import prices
from sim.engine.buffer import Buffer
from sim.engine.clock import CountingEnvironment, Marker, on
from sim.engine.dram import DramModel, RequestLog, make_dram
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
from sim.hardware.hierarchy import is_today, misfit_error
from sim.hardware.spec import Hardware
from sim.mapping.buffering import resolve
from sim.mapping.record import Mapping
from sim.mapping.residency import IN_DRAM, Residency, trace_residency
from sim.mapping.systolic import map_systolic
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
    dram_energy_pj: float | None = None  # a DRAM model that prices its commands (ddr): its energy in this layer
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


def layer_fold_cycles(mapping: Mapping, convention: str, double_buffered_stationary: bool = False) -> np.ndarray:
    """Compute cycles per array pass (a fold, or a (fold, chunk) step when chunks of T are outside the row folds:
    `step_cycles`); under "scalesim" the last pass of each group is one shorter, so the layer's sum equals
    SCALE-Sim's Total Cycles (an index of the last cycle: -1 per group, as sim.analytical.systolic)."""
    cycles = step_cycles(mapping, convention, double_buffered_stationary).copy()
    if convention == "scalesim" and cycles.size:
        per_group = cycles.size // mapping.groups
        cycles[per_group - 1::per_group] -= 1
    return cycles


class _Components:
    """The components one run shares between its layers: one DRAM, one buffer per operand, the PE array."""

    def __init__(self, env: CountingEnvironment, hw: Hardware, slots: dict[str, int],
                 dram_requests: list | None = None) -> None:
        self.env = env
        self.dram: DramModel = make_dram(env, hw.dram, clock_mhz=hw.pe_array.clock_mhz, record_transfers=True)
        if dram_requests is not None:
            self.dram = RequestLog(self.dram, dram_requests)
        # A buffer is its slots; tile sizes (and element widths) come with each request, per layer.
        self.buffers = {name: Buffer(env, name, slots[name], 8, self.dram) for name in OPERANDS}
        self.pe_array = PeArray(env)


class _InOrder:
    """Once `start` fires, fill (or, for the ofmap, allocate) one operand's tiles in turn, the next when the previous
    is in place; `done` fires after the last. Waiters on one start event run in the order they were created."""

    def __init__(self, env: CountingEnvironment, buffer: Buffer, name: str, tiles, keys: list[tuple[int, int]],
                 ready: list[Marker], width: int, read_elements: dict[str, int], start: simpy.Event,
                 done: simpy.Event | None = None, drained: list[Marker] | None = None, on_chip: bool = False,
                 slots: int | None = None) -> None:
        self.buffer, self.name, self.tiles, self.keys, self.ready = buffer, name, tiles, keys, ready
        self.slots = slots  # the layer's mapping's slots in the buffer (None: the buffer's own)
        self.on_chip = on_chip  # the tiles are already on chip (the previous layer's output): placed, not read
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
            if self.on_chip:
                self.buffer.place(self.keys[i], tile.elements, self.ready[i], self._placed, self.slots)
            elif self.drained is None:
                self.buffer.fill(self.keys[i], tile.elements, tile.address, self.width, self.ready[i], self._placed,
                                 self.slots)
            else:
                after = self.drained[tile.previous] if tile.previous >= 0 else None
                self.buffer.allocate(self.keys[i], tile.elements, tile.readback_elements, tile.address, self.width,
                                     after, self.ready[i], self._placed, self.slots)
            self.issuing = False
            if not self.in_place:
                return  # _placed continues when the tile arrives
        if self.done is not None:
            self.done.succeed()

    def _placed(self) -> None:
        tile = self.tiles[self.index]
        if not self.on_chip:
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
    slots = plan.slots
    _InOrder(env, buffers["ifmap"], "ifmap", plan.tiles["ifmap"], keys["ifmap"], ready["ifmap"], bits["ifmap"],
             read_elements, layer_start, on_chip=plan.ifmap_on_chip, slots=slots["ifmap"])
    _InOrder(env, buffers["filter"], "filter", plan.tiles["filter"], keys["filter"], ready["filter"], bits["filter"],
             read_elements, filter_start, filters_issued, slots=slots["filter"])
    # The ofmap allocator only reads partial sums back: at accumulator precision.
    _InOrder(env, buffers["ofmap"], "ofmap", plan.tiles["ofmap"], keys["ofmap"], ready["ofmap"],
             layer.partial_sum_bits, read_elements, layer_start, drained=drained, slots=slots["ofmap"])
    parts.pe_array.run_layer(plan, schedule, buffers, keys, ready, drained, timeline, layer_start, bits["ofmap"], done,
                             layer.partial_sum_bits)


def _functional(layer: Layer, hw: Hardware, mapping: Mapping, seed: int) -> FunctionalCheck:
    from sim.kernels import systolic_fast

    return systolic_fast.check_functional(layer, mapping, seed, hw.pe_array.accumulator_bits)


class _LayerChain:
    """Layer `index` starts when the previous one is done (`after`) and is done when its PE array has seen its last
    ofmap tile reach DRAM (`pe`); records the layer's start, end and counters on its timeline. As it starts it has
    the run set up the next layer (`_Run.set_up`), and as it ends it has the run reduce it to its LayerResult."""

    def __init__(self, index: int, run: _Run, timeline: LayerTimeline, after: simpy.Event, started: simpy.Event,
                 pe: simpy.Event, finished: simpy.Event) -> None:
        self.index, self.run, self.timeline = index, run, timeline
        self.started, self.pe, self.finished = started, pe, finished
        self.events_before = self.hits_before = self.misses_before = 0
        self.energy_before: float | None = None
        on(after, self._start)

    def _start(self, _event: simpy.Event) -> None:
        parts, timeline = self.run.parts, self.timeline
        timeline.start = parts.env._now
        self.events_before = parts.env.events_processed
        self.hits_before, self.misses_before = parts.dram.stats.row_hits, parts.dram.stats.row_misses
        self.energy_before = parts.dram.stats.energy_pj
        for buffer in parts.buffers.values():
            buffer.stats.peak_occupancy_elements = buffer.stats.occupancy_elements
        # The next layer's actors wait on this layer's events: created now, before `started` fires, they hang on
        # every event in the order that creating all layers up front would give, so the timeline is the same.
        self.run.set_up(self.index + 1)
        self.started.succeed()
        on(self.pe, self._end)

    def _end(self, _event: simpy.Event) -> None:
        parts, timeline = self.run.parts, self.timeline
        timeline.end = parts.env._now
        timeline.events_processed = parts.env.events_processed - self.events_before
        timeline.dram_row_hits = parts.dram.stats.row_hits - self.hits_before
        timeline.dram_row_misses = parts.dram.stats.row_misses - self.misses_before
        if self.energy_before is not None:
            timeline.dram_energy_pj = parts.dram.stats.energy_pj - self.energy_before
        for name, buffer in parts.buffers.items():
            timeline.peak_occupancy[name] = buffer.stats.peak_occupancy_elements
        self.run.finish(self.index, timeline)
        self.finished.succeed()


# Tile plans kept for reuse across layers of the same shape (ResNet's repeated blocks): enough for a network's
# distinct shapes, bounded so that a trace of all-different layers does not keep every plan.
PLAN_CACHE_SIZE = 64
# Ended layers reduced to records together (one bandwidth pass): bounds the transfer log to about this many layers.
REDUCE_BATCH = 32


class _Run:
    """One streaming run over `layers` on one clock: layer i is planned and its actors created when layer i - 1
    starts, and it is reduced to its LayerResult (and its bandwidth windows) when it ends; the DRAM transfer log
    keeps only the transfers a later layer can still see. Memory is flat in the number of layers: what stays is
    one LayerResult and one row of bandwidth windows per layer."""

    def __init__(self, layers, hw: Hardware, *, functional: bool, seed: int, overlap_weight_prefetch: bool,
                 window: int, on_layer=None, dram_requests: list | None = None, observe=None,
                 residency: tuple[Residency, ...] | None = None) -> None:
        self.layers, self.hw = layers, hw
        self.residency = residency or (IN_DRAM,) * len(layers)  # per layer: tensors that cross layers on chip
        # observe(plans, timelines, transfers) after the run (sim.engine.power): it needs every layer's step log
        # and the whole transfer log, so an observed run keeps them (opt-in; memory then grows with the layers).
        self.observe = observe
        self.observed: tuple[list, list] = ([], [])
        self.functional, self.seed, self.overlap = functional, seed, overlap_weight_prefetch
        self.window, self.on_layer = window, on_layer
        self.convention = hw.pe_array.cycle_convention
        self.pes = hw.pe_array.pes
        self.priced = prices(SYSTOLIC_ACTIONS, hw.energy)
        self.plain = is_today(hw)  # one SRAM per operand; else every level is priced by sim.analytical.levels
        self.extra_keys: dict[tuple[str, ...], tuple[str, ...]] = {}  # layer records share their extra keys
        self.plans: OrderedDict[tuple, tuple[LayerPlan, StepSchedule, dict]] = OrderedDict()
        self.results: list[LayerResult] = []
        self.windows: list[tuple[float, ...]] = []
        self.pending: dict[int, tuple] = {}  # index -> what the layer's reduction needs (until it is reduced)
        self.ended: list[tuple] = []  # (index, timeline, wall time on the clock) of ended, unreduced layers
        first = self._plan(0)
        self.env = CountingEnvironment()
        self.parts = _Components(self.env, hw if self.plain else timeline_hardware(hw), first[1].slots, dram_requests)
        self.transfers = self.parts.dram.stats.transfers
        self.previous_done: simpy.Event = self.env.event().succeed()
        self.previous_start: simpy.Event = self.previous_done
        self.previous_filters: simpy.Event = self.previous_done
        self.first = first
        self.all_done = self.env.event()  # the last layer's `finished`
        self.mark = time.perf_counter()

    def _plan(self, index: int) -> tuple:
        """(layer and mapping, plan, schedule, the plan's statistics by operand widths, planning wall time)."""
        start = time.perf_counter()
        layer, mapping = self.layers[index]
        residency = self.residency[index]
        # The folds and their cycles follow from the shape and the array (the convention is the run's).
        key = (_layer_shape(layer), mapping, residency)
        cached = self.plans.get(key)
        if cached is None:
            check_fill(layer, self.hw, mapping)
            buffering = resolve(self.hw, mapping)  # the mapping's double buffering on "auto" levels
            cycles = layer_fold_cycles(mapping, self.convention, buffering.stationary_preload)
            try:
                plan = plan_layer(layer, self.hw.buffers, mapping, cycles, residency, buffering.operand_doubled())
            except MappingError as error:
                raise error if self.plain else misfit_error(self.hw, error) from None
            cached = self.plans[key] = (plan, step_schedule(plan), {})
            if len(self.plans) > PLAN_CACHE_SIZE:
                self.plans.popitem(last=False)
        else:
            self.plans.move_to_end(key)
        return (layer, mapping), cached[0], cached[1], cached[2], time.perf_counter() - start

    def set_up(self, index: int) -> None:
        """Plan layer `index` and create its actors, each waiting for the layer's own start."""
        if index >= len(self.layers):
            return
        (layer, mapping), plan, schedule, plan_stats, plan_wall = self.first if index == 0 else self._plan(index)
        self.first = None
        env = self.env
        timeline = LayerTimeline(step_log=[] if self.observe is not None else None)
        if self.observe is not None:
            self.observed[0].append(plan)
            self.observed[1].append(timeline)
        started, filters_issued, pe = env.event(), env.event(), env.event()
        finished = self.all_done if index == len(self.layers) - 1 else env.event()
        # With overlap a layer's weights may stream in while the previous layer computes, once that layer has
        # issued all of its own weight fetches (so neither layer can hold a slot the other is waiting for).
        filter_start = env.all_of([self.previous_start, self.previous_filters]) if self.overlap else started
        _start_layer(index, plan, schedule, layer, self.parts, timeline, started, filter_start, filters_issued, pe)
        _LayerChain(index, self, timeline, self.previous_done, started, pe, finished)
        self.pending[index] = (layer, mapping, plan, plan_stats, plan_wall)
        self.previous_done, self.previous_start, self.previous_filters = finished, started, filters_issued

    def finish(self, index: int, timeline: LayerTimeline) -> None:
        """Layer `index` has ended: queue it for its record; every REDUCE_BATCH layers (and at the last one) the
        queued layers are reduced together, which keeps numpy's per-call cost off every layer."""
        now = time.perf_counter()
        self.ended.append((index, timeline, now - self.mark))
        self.mark = now
        if len(self.ended) >= REDUCE_BATCH or index == len(self.layers) - 1:
            self.reduce()
        if self.on_layer is not None:
            self.on_layer(index + 1)

    def reduce(self) -> None:
        """The queued layers' LayerResults and bandwidth windows from their timelines and the transfer log, in one
        `bandwidth_windows` pass (per layer the same floats as a pass of its own), then drop the transfers that no
        later layer can count: every later layer starts at or after the last queued layer's end."""
        post = time.perf_counter()
        finished, self.ended = self.ended, []
        log = transfer_rows(self.transfers)
        starts = np.fromiter((timeline.start for _, timeline, _ in finished), dtype=np.int64, count=len(finished))
        ends = np.fromiter((timeline.end for _, timeline, _ in finished), dtype=np.int64, count=len(finished))
        stats = bandwidth_windows(log, starts, ends, self.window)
        last_end = int(ends[-1])
        if len(log) and self.observe is None:
            keep = np.flatnonzero((log[:, 1] > last_end) | (log[:, 0] >= last_end))
            if keep.size < len(log):
                self.transfers[:] = [self.transfers[i] for i in keep.tolist()]
        # Each layer's sim_wall_s: its planning, its time on the clock, an equal share of the batch pass, its record.
        shared_wall = (time.perf_counter() - post) / len(finished)
        for position, (index, timeline, clock_wall) in enumerate(finished):
            own = time.perf_counter()
            layer, mapping, plan, by_widths, plan_wall = self.pending.pop(index)
            self.windows.append(tuple(stats.of(position).tolist()))
            # Layers sharing a plan and operand widths share one PlanStats.
            key = (mapping, layer.gemm, layer.ifmap_bits, layer.filter_bits, layer.ofmap_bits, layer.partial_sum_bits)
            plan_stats = by_widths.get(key)
            if plan_stats is None:
                plan_stats = by_widths[key] = PlanStats.of(layer, mapping, plan)
            result = layer_result(
                layer, plan_stats, timeline, pes=self.pes, table=self.hw.energy, priced=self.priced,
                busy_cycles=int(stats.busy_cycles[position]),
                peak_bytes_per_cycle=float(stats.peak_bytes_per_cycle[position]), window=self.window,
                wall_s=plan_wall + clock_wall + shared_wall, post_start=own,
                functional=_functional(layer, self.hw, mapping, self.seed) if self.functional else None,
                shared_keys=self.extra_keys)
            self.results.append(result if self.plain else price_levels(layer, self.hw, mapping, result))
        self.mark = time.perf_counter()

    def run(self) -> tuple[list[LayerResult], list[tuple[float, ...]]]:
        self.set_up(0)
        self.mark = time.perf_counter()
        self.env.run(until=self.all_done)
        if self.observe is not None:
            self.observe(*self.observed, transfer_rows(self.transfers))
        return self.results, self.windows


def _simulate(layers, hw: Hardware, *, functional: bool, seed: int, overlap_weight_prefetch: bool, window: int,
              on_layer=None, dram_requests: list | None = None, observe=None,
              keep_outputs_on_chip: bool = False,
              residency: tuple[Residency, ...] | None = None) -> tuple[list[LayerResult], list[tuple[float, ...]]]:
    """Run `layers` (a sequence of (Layer, Mapping)) in order; `on_layer(done)` after each layer's record;
    `observe(plans, timelines, transfers)`, when given, logs every step and sees the whole timeline (power);
    `keep_outputs_on_chip`: outputs stay on chip for the next layer where the hardware and the rule allow
    (sim.mapping.residency); `residency`, when given, is each layer's residency as is (the mapper's layer runs)."""
    _check_systolic(hw)
    if not len(layers):
        return [], []
    if residency is None:
        residency = trace_residency(layers, hw) if keep_outputs_on_chip else None
    return _Run(layers, hw, functional=functional, seed=seed, overlap_weight_prefetch=overlap_weight_prefetch,
                window=window, on_layer=on_layer, dram_requests=dram_requests, observe=observe,
                residency=residency).run()


def simulate_layer(layer: Layer, hw: Hardware, mapping: Mapping | None = None, *, functional: bool = False,
                   seed: int = 0, window_cycles: int = DEFAULT_WINDOW_CYCLES,
                   residency: Residency = IN_DRAM) -> LayerResult:
    """One layer on `hw`'s systolic array, starting with empty buffers (model="engine"); `residency`: its ifmap
    already on chip and / or its ofmap kept there, as in a trace (sim.mapping.residency)."""
    _check_systolic(hw)
    _check_window(window_cycles)
    if hw.pe_array.deconv == "zero_skipping" and layer.kind == "tconv":
        return simulate_trace(Trace(name=layer.name, layers=(layer,)), hw, functional=functional, seed=seed,
                              window_cycles=window_cycles).layers[0]
    mapping = mapping if mapping is not None else map_systolic(layer, hw)
    results, _ = _simulate([(layer, mapping)], hw, functional=functional, seed=seed, overlap_weight_prefetch=False,
                           window=window_cycles, residency=(residency,))
    return results[0]


def simulate_trace(trace: Trace, hw: Hardware, *, functional: bool = False, seed: int = 0,
                   overlap_weight_prefetch: bool = False, progress: bool | Callable[[int], None] = False,
                   window_cycles: int = DEFAULT_WINDOW_CYCLES, dram_requests: list | None = None,
                   keep_outputs_on_chip: bool = True) -> RunResult:
    """Every layer of `trace`, in order, on one clock with shared buffers and DRAM.

    `keep_outputs_on_chip`: a layer's output stays on chip for the next layer where the hardware option
    (buffers.ofmap.keep_for_next_layer) and the rule of sim.mapping.residency allow; False: every layer reads its
    inputs from and writes its outputs to DRAM.
    `overlap_weight_prefetch`: a layer's filter tiles may stream in while the previous layer computes.
    `progress`: True for a rich progress bar over layers, or a callable given the number of layers done after
    each layer (the CLI's sim.report.progress: plain lines when stderr is not a terminal). The per-window DRAM bandwidth (bytes per `window_cycles`
    window, per layer) goes to `metadata["bandwidth_windows"]` for sim.report's bandwidth trace.
    """
    _check_systolic(hw)
    _check_window(window_cycles)
    if hw.pe_array.deconv == "zero_skipping" and any(layer.kind == "tconv" for layer in trace.layers):
        from sim.engine.deconv import simulate_zero_skipping  # tconvs as their stride phases, merged back

        # The stride phases of a tconv all read the same input: not a chain of layers.
        return simulate_zero_skipping(trace, hw, lambda expanded: simulate_trace(
            expanded, hw, functional=functional, seed=seed, overlap_weight_prefetch=overlap_weight_prefetch,
            progress=progress, window_cycles=window_cycles, dram_requests=dram_requests, keep_outputs_on_chip=False))
    layers = [(layer, _mapping_of(trace, i, hw)) for i, layer in enumerate(trace.layers)]
    if callable(progress):
        results, windows = _simulate(layers, hw, functional=functional, seed=seed,
                                     overlap_weight_prefetch=overlap_weight_prefetch, window=window_cycles,
                                     on_layer=progress, dram_requests=dram_requests,
                                     keep_outputs_on_chip=keep_outputs_on_chip)
    elif progress and len(layers) > 1:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"simulating {trace.name}", total=len(layers))
            results, windows = _simulate(layers, hw, functional=functional, seed=seed,
                                         overlap_weight_prefetch=overlap_weight_prefetch, window=window_cycles,
                                         on_layer=lambda done: bar.update(task, completed=done),
                                         dram_requests=dram_requests, keep_outputs_on_chip=keep_outputs_on_chip)
    else:
        results, windows = _simulate(layers, hw, functional=functional, seed=seed,
                                     overlap_weight_prefetch=overlap_weight_prefetch, window=window_cycles,
                                     dram_requests=dram_requests, keep_outputs_on_chip=keep_outputs_on_chip)
    metadata = (
        ("bandwidth_window_cycles", window_cycles),
        ("bandwidth_windows", tuple(windows)),
        ("overlap_weight_prefetch", overlap_weight_prefetch),
        ("seed", seed),
    )
    return RunResult(hardware=hw.name, trace=trace.name, model="engine", layers=tuple(results),
                     pes=hw.pe_array.pes, metadata=metadata)


def _mapping_of(trace: Trace, index: int, hw: Hardware) -> Mapping:
    """The layer's mapping record carried by the trace, else the named dataflow it carries (a plain string), else
    the config's."""
    flow = trace.dataflow_of(index)
    if isinstance(flow, Mapping):
        return flow
    return map_systolic(trace.layers[index], hw, flow if isinstance(flow, str) else None)
