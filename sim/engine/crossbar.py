"""The ReRAM crossbar chip in SimPy: crossbars, shared ADC pools, eDRAM ports, the bus, routers, pipelines.

One layer is simulated on its fullest tile (all tiles of a layer work in lockstep on the same vectors,
each with its own eDRAM and bus). Vectors move in batches (at most MAX_BATCHES events per process):
- `fetch` reads a batch's inputs through the tile's eDRAM port and `transfer` moves them over the bus
  into the IMAs' input registers (two batches in flight: double-buffered), firing the batch's `ready`;
- every crossbar runs its read rounds; the first read of a busy streak fills the S&H, then the crossbar
  holds its ADC units (a batch's conversions) from the IMA's pool of `adcs_per_ima` units, so crossbars
  that need more units than the pool has wait: ADC sharing is contention, not a formula;
- `writeback` sends each finished batch's outputs through the eDRAM port (contending with `fetch`) and
  the router (shared by `tiles_per_router` tiles).
`simulate_crossbar_trace` runs ISAAC's inter-layer pipeline: a layer's batch starts once the layer
before it has produced the rows that batch's windows need.
Cycles are in the engine clock (reram.clock_mhz); action counts come from the mapping (as in
`sim.analytical.crossbar`), so engine and analytical count the same actions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import simpy

from sim.analytical.crossbar import (
    CrossbarTiming,
    crossbar_columns_used,
    layer_result,
    timing,
)
from sim.hardware.spec import Hardware
from sim.kernels.circulant import compressed_mvm, expand
from sim.kernels.crossbar import crossbar_mvm
from sim.engine.pipeline import batches_of, upstream_needed
from sim.engine.tile_noc import simulate_tile_noc
from sim.mapping.crossbar import (
    CrossbarMapping,
    ceil_div,
    map_crossbar_trace,
    mapping_for,
)
from sim.mapping.pruning import adc_bits_per_column, prune_column_segments
from sim.records import FunctionalCheck, LayerResult, RunResult
from sim.workload.layer import Layer
from sim.workload.trace import Trace

MAX_BATCHES = 128  # events per process stay bounded for big layers


@dataclass
class PortStats:
    """Busy and waiting cycles of one contended port (owned by the port)."""

    accesses: int = 0
    busy_cycles: int = 0
    wait_cycles: int = 0


class Port:
    """A resource that moves `units` per cycle per holder (eDRAM port, bus, router, ADC pool)."""

    def __init__(self, env: simpy.Environment, name: str, capacity: int = 1) -> None:
        self.env = env
        self.name = name
        self._resource = simpy.Resource(env, capacity=capacity)
        self.stats = PortStats()

    def hold(self, cycles: int, accesses: int = 0):
        """Process: wait for the port, keep it `cycles` cycles."""
        asked = self.env.now
        with self._resource.request() as request:
            yield request
            self.stats.wait_cycles += self.env.now - asked
            yield self.env.timeout(cycles)
        self.stats.busy_cycles += cycles
        self.stats.accesses += accesses

    def hold_units(self, units: int, cycles: int):
        """Process: take `units` slots of the pool at once (a crossbar's ADCs), keep them `cycles` cycles."""
        asked = self.env.now
        requests = [self._resource.request() for _ in range(units)]
        try:
            yield self.env.all_of(requests)
            self.stats.wait_cycles += self.env.now - asked
            yield self.env.timeout(cycles)
        finally:
            for request in requests:
                self._resource.release(request)
        self.stats.busy_cycles += cycles * units
        self.stats.accesses += units


@dataclass
class TileRun:
    """What one simulated tile measured."""

    finish: int = 0
    input_wait_cycles: int = 0
    adc_wait_cycles: int = 0
    edram_wait_cycles: int = 0
    batches: int = 0
    log: list[tuple[str, str, int]] = field(default_factory=list)


def _batches(vectors: int) -> list[int]:
    return batches_of(vectors, min(vectors, MAX_BATCHES))


def simulate_tile(mapping: CrossbarMapping, t: CrossbarTiming, *, log: bool = False) -> TileRun:
    """Run the fullest tile of the layer through all its vectors; returns the finish cycle and waits."""
    reram = mapping.reram
    env = simpy.Environment()
    run = TileRun()
    sizes = _batches(t.vectors_per_replica)
    run.batches = len(sizes)
    crossbars = min(mapping.crossbars_per_replica, reram.imas_per_tile * reram.crossbars_per_ima)
    imas = ceil_div(crossbars, reram.crossbars_per_ima)
    edram = Port(env, "edram")
    bus = Port(env, "bus")
    router = Port(env, "router", capacity=reram.tiles_per_router)
    adc_pools = [Port(env, f"adc{i}", capacity=reram.adcs_per_ima) for i in range(imas)]
    units = ceil_div(crossbar_columns_used(mapping), reram.adc.cols_per_adc)
    if units > reram.adcs_per_ima:
        units = reram.adcs_per_ima  # a crossbar wider than the pool converts in several waves
        waves_per_read = ceil_div(ceil_div(crossbar_columns_used(mapping), reram.adc.cols_per_adc), reram.adcs_per_ima)
    else:
        waves_per_read = 1
    ready = [env.event() for _ in sizes]
    done = [env.event() for _ in sizes]
    remaining = [crossbars] * len(sizes)

    def note(who: str, what: str) -> None:
        if log:
            run.log.append((who, what, env.now))

    fetched = simpy.Store(env)

    def fetch():
        for b, size in enumerate(sizes):
            if b >= 2:
                yield done[b - 2]  # two input-register halves
            yield env.process(edram.hold(size * t.edram_reads_per_vector, size * t.edram_reads_per_vector))
            yield fetched.put(b)

    def transfer():  # the bus moves batch b while the eDRAM reads batch b + 1
        for _ in sizes:
            b = yield fetched.get()
            yield env.process(bus.hold(sizes[b] * t.bus_transfers_per_vector, sizes[b] * t.bus_transfers_per_vector))
            note("fetch", f"batch {b} ready")
            ready[b].succeed()

    def crossbar(index: int, pool: Port):
        busy_until = None  # when the S&H pipeline of this crossbar drains
        for b, size in enumerate(sizes):
            asked = env.now
            if not ready[b].triggered:
                yield ready[b]
            if index == 0:
                run.input_wait_cycles += env.now - asked
            rounds = size * t.reads_per_vector
            start = env.now
            fill = 0
            if busy_until is None or env.now > busy_until:
                fill = t.read_cycles  # the first read of a streak has no conversion to overlap with
                yield env.timeout(fill)
            yield env.process(pool.hold_units(units, rounds * waves_per_read * t.conversion_cycles))
            analog_end = start + fill + rounds * t.read_cycles  # reads overlap conversions through the S&H
            if env.now < analog_end:
                yield env.timeout(analog_end - env.now)
            if t.round_gap_cycles:  # no intra-layer pipeline: each rotation round drains before the next
                yield env.timeout((size * t.rotation_rounds - (b == len(sizes) - 1)) * t.round_gap_cycles)
            busy_until = env.now
            if index == 0:
                note("crossbar0", f"batch {b} converted")
            remaining[b] -= 1
            if remaining[b] == 0:
                done[b].succeed()

    def writeback():
        for b, size in enumerate(sizes):
            yield done[b]
            yield env.process(edram.hold(size * t.edram_writes_per_vector, size * t.edram_writes_per_vector))
            yield env.process(router.hold(size * t.flits_per_vector, size * t.flits_per_vector))
            note("writeback", f"batch {b} written")
        # the shift-add / output-register stages drain after the last conversion
        yield env.timeout(max(0, t.pipeline_stages - 2) * t.stage_cycles)
        run.finish = env.now

    env.process(fetch())
    env.process(transfer())
    for index in range(crossbars):
        env.process(crossbar(index, adc_pools[index // reram.crossbars_per_ima]))
    env.process(writeback())
    env.run()
    run.adc_wait_cycles = max((pool.stats.wait_cycles for pool in adc_pools), default=0)
    run.edram_wait_cycles = edram.stats.wait_cycles
    return run


def _functional(mapping: CrossbarMapping, hw: Hardware, seed: int) -> tuple[FunctionalCheck, float, int, dict]:
    """Random weights and im2col input vectors of the layer's shape and precision through the crossbars.

    With `prune_nonzero` (TinyADC) the weights are pruned per column segment first, and the ADC bits sized
    from them per column and per crossbar (means over the layer's outputs) come back for the record."""
    layer, reram = mapping.layer, mapping.reram
    rng = np.random.default_rng(seed)
    gemm = mapping.crossbar_gemm  # pixel-wise tconv: real input pixels, never an inserted zero
    half_w = 1 << (layer.filter_bits - 1)
    if reram.signed_inputs:
        low, high = -(1 << (layer.ifmap_bits - 1)), 1 << (layer.ifmap_bits - 1)
    else:
        low, high = 0, 1 << layer.ifmap_bits
    slicing = mapping.slicing
    error, required, elements = 0.0, 0, 0
    sizing: dict[str, list[float]] = {"adc_bits_per_column_mean": [], "adc_bits_per_crossbar_mean": []}
    for group in range(gemm.groups):
        inputs = rng.integers(low, high, size=(gemm.m, gemm.k))
        if mapping.block_size > 1:
            k = mapping.block_size
            vectors = rng.integers(-half_w, half_w, size=(gemm.n // k, gemm.k // k, k))
            if mapping.mode == "compressed":
                out = compressed_mvm(vectors, inputs, slicing, mapping.duplication, reram.non_ideal, seed + group)
            else:
                out = crossbar_mvm(expand(vectors), inputs, slicing, reram.non_ideal, seed + group)
        else:
            weights = rng.integers(-half_w, half_w, size=(gemm.k, gemm.n))
            if reram.prune_nonzero is not None:
                weights = prune_column_segments(weights, mapping.rows_per_partition, reram.prune_nonzero)
                for per in ("column", "crossbar"):
                    bits = adc_bits_per_column(weights, mapping.rows_per_partition, reram.dac_bits, reram.cell_bits,
                                               sizing=per, outputs_per_crossbar=mapping.outputs_per_crossbar)
                    sizing[f"adc_bits_per_{per}_mean"].append(float(bits.mean()) if bits.size else 0.0)
            out = crossbar_mvm(weights, inputs, slicing, reram.non_ideal, seed + group)
        error = max(error, out.output_error)
        required = max(required, int(out.required_bits.max(initial=0)))
        elements += out.exact.size
    extra = {key: float(np.mean(values)) for key, values in sizing.items() if values}
    return FunctionalCheck(max_abs_error=error, elements=elements, seed=seed), error, required, extra


def simulate_crossbar_layer(layer: Layer, hw: Hardware, mapping: CrossbarMapping | None = None, *,
                            functional: bool = False, seed: int = 0) -> LayerResult:
    """Event-driven result for one layer (model="engine"); `functional` also computes the output values."""
    start = time.perf_counter()
    mapping = mapping_for(layer, hw, mapping)
    t = timing(mapping)
    run = simulate_tile(mapping, t)
    compute = t.compute_cycles
    cycles = max(run.finish, compute)
    check, error, required, sizing = (None, None, None, {})
    if functional:
        check, error, required, sizing = _functional(mapping, hw, seed)
    result = layer_result(
        mapping, hw, model="engine", cycles=cycles, compute_cycles=compute, stall_cycles=cycles - compute,
        output_error=error, adc_bits_required=required,
        extra={"input_wait_cycles": run.input_wait_cycles, "adc_wait_cycles": run.adc_wait_cycles,
               "edram_wait_cycles": run.edram_wait_cycles, "batches": run.batches, **sizing},
        wall_s=time.perf_counter() - start)
    if check is not None:
        result = replace(result, functional=check)
    return result


def _upstream_lag(layer: Layer) -> float:
    """Fraction of the previous layer's output a layer needs before its first batch (its window's rows)."""
    if layer.kind == "gemm" or layer.ifmap_h <= 1:
        return 1.0 if layer.kind == "gemm" else 0.0
    rows = layer.dilation_h * (layer.filter_h - 1) + 1 - layer.pad_top
    return min(1.0, max(0, rows) / layer.ifmap_h)


def pipeline_schedule(layers: tuple[LayerResult, ...], lags: tuple[float, ...]) -> tuple[int, list[tuple[int, int]]]:
    """Inter-layer pipeline: (makespan, [(start, finish)] per layer) from each layer's standalone cycles."""
    env = simpy.Environment()
    count = len(layers)
    batches = [min(MAX_BATCHES, max(1, layer.cycles)) for layer in layers]
    done = [0] * count
    progress = [env.event() for _ in range(count)]
    span: list[list[int]] = [[0, 0] for _ in range(count)]

    def stage(i: int):
        for b, cycles in enumerate(batches_of(layers[i].cycles, batches[i])):
            if i > 0:
                need = upstream_needed(b, batches[i], batches[i - 1], lags[i])
                while done[i - 1] < need:
                    yield progress[i - 1]
            if b == 0:
                span[i][0] = env.now
            yield env.timeout(cycles)
            done[i] += 1
            event, progress[i] = progress[i], env.event()
            event.succeed()
        span[i][1] = env.now

    for i in range(count):
        env.process(stage(i))
    env.run()
    return int(env.now), [tuple(s) for s in span]


def simulate_crossbar_trace(trace: Trace, hw: Hardware, *, functional: bool = False, seed: int = 0) -> RunResult:
    """All layers resident at once (replicated when configured), run as ISAAC's inter-layer pipeline.

    Each layer's record is its standalone engine result plus `pipeline_start`/`pipeline_finish` in extra;
    metadata carries `pipeline_cycles` (one image through the pipeline) and `pipeline_interval_cycles`
    (the slowest stage, i.e. cycles per image in steady state).
    """
    mappings = map_crossbar_trace(trace.layers, hw)
    results = tuple(simulate_crossbar_layer(layer, hw, mapping, functional=functional, seed=seed + i)
                    for i, (layer, mapping) in enumerate(zip(trace.layers, mappings)))
    lags = tuple(_upstream_lag(layer) for layer in trace.layers)
    noc_metadata: tuple = ()
    if hw.reram.tile_noc.enabled:  # CANNON: the pipeline's traffic on the tile mesh (sim.engine.tile_noc)
        on_mesh = simulate_tile_noc(results, mappings, lags, hw)
        layers, noc_metadata = on_mesh.layers, on_mesh.metadata
        makespan = on_mesh.run.makespan
    else:
        makespan, spans = pipeline_schedule(results, lags)
        layers = tuple(result.with_extra({"pipeline_start": start, "pipeline_finish": finish})
                       for result, (start, finish) in zip(results, spans))
    metadata = (("pipeline_cycles", makespan),
                ("pipeline_interval_cycles", max((r.cycles for r in results), default=0)),
                ("crossbars_used", sum(m.crossbars for m in mappings)),
                ("crossbars_total", hw.reram.crossbar_capacity(sum(m.crossbars for m in mappings))),
                ("chips", ceil_div(sum(m.crossbars for m in mappings), hw.reram.crossbars_per_chip)),
                ("clock_mhz", hw.reram.clock_mhz))
    metadata += tuple(item for item in noc_metadata if item[0] != "pipeline_cycles")
    return RunResult(hardware=hw.name, trace=trace.name, model="engine", layers=layers, metadata=metadata)


__all__ = ["pipeline_schedule", "simulate_crossbar_layer", "simulate_crossbar_trace", "simulate_tile"]
