"""Per-layer statistics of a systolic engine run, computed once its clock has stopped.

`bandwidth_windows` reads the run's DRAM transfer log once for all layers: per layer, the bytes moved in each
bandwidth window (transfers spread evenly over their cycles), the peak window of its own transfers and the
cycles the channel was busy. Its float arithmetic is, per layer, the same IEEE operations on the same values in
the same order as a per-layer pass (the reference in tests/engine/test_layer_stats.py), so the numbers are
identical: each layer's sequential sums run in a row of their own, and the interpolation at the window edges is
np.interp's formula, element by element. Only the bookkeeping around them is batched.

`PlanStats` holds what every layer sharing one tile plan has in common, and `layer_result` builds a layer's
LayerResult once, in the sorted forms that `ActionCounts.of` and `LayerResult.with_extra` would give.
"""
from __future__ import annotations

import time
from collections.abc import Mapping as KeyedTable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.analytical.systolic import sram_count_totals, systolic_actions
from sim.energy.tables import apply
from sim.engine.tiling import OPERANDS, LayerPlan
from sim.hardware.spec import EnergyEntry
from sim.mapping.record import Mapping
from sim.records import KeyedValues, ActionCounts, EnergyBreakdown, FunctionalCheck, LayerResult, OperandCounts
from sim.workload.layer import Layer

if TYPE_CHECKING:
    from sim.engine.simulate import LayerTimeline

# The action keys a systolic layer is charged for (systolic_actions' keys), to price once per run.
SYSTOLIC_ACTIONS = tuple(systolic_actions(0, sram_reads=OperandCounts(), sram_writes=OperandCounts(), dram_read_bytes=0,
                                          dram_write_bytes=0, cycles=0))


def transfer_rows(transfers) -> np.ndarray:
    """The DRAM transfer log as an int64 (n, 3) array of start, end, bytes."""
    if isinstance(transfers, list) and transfers and isinstance(transfers[0], tuple):
        # fromiter over the flattened tuples: ~2x faster than np.asarray on a list of tuples, same values.
        flat = np.fromiter(chain.from_iterable(transfers), dtype=np.int64, count=3 * len(transfers))
        return flat.reshape(-1, 3)
    return np.asarray(transfers, dtype=np.int64).reshape(-1, 3)


@dataclass(frozen=True)
class LayerWindows:
    """`bandwidth_windows` of every layer of a run: layer i's windows are `windows[offsets[i]:offsets[i + 1]]`."""

    windows: np.ndarray  # float64: bytes per window, all transfers (the run's bandwidth trace)
    offsets: np.ndarray  # int64 (layers + 1,)
    peak_bytes_per_cycle: np.ndarray  # float64 (layers,): the largest window of the layer's own transfers / window
    busy_cycles: np.ndarray  # int64 (layers,): cycles of [start, end) the channel was transferring

    def of(self, index: int) -> np.ndarray:
        return self.windows[self.offsets[index]:self.offsets[index + 1]]


def _offsets(lengths) -> np.ndarray:
    """Where each of consecutive segments of `lengths` starts, and one more entry: the total."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _near_rows(transfers: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, offsets): per layer, in order, the transfer rows that can count in [start, end) (starting in it or
    ending after `start`, and starting before `end`), concatenated; layer i's are rows[offsets[i]:offsets[i+1]]."""
    t0, t1 = transfers[:, 0], transfers[:, 1]
    # One FIFO channel: transfers start and end in request order, so each layer's rows are one contiguous run,
    # found by bisection; otherwise mask per layer (the same rows, in the same order).
    if bool(np.all(t0[1:] >= t0[:-1]) and np.all(t1[1:] >= t1[:-1])):
        first = np.minimum(np.searchsorted(t0, starts, "left"), np.searchsorted(t1, starts, "right"))
        lengths = np.maximum(np.searchsorted(t0, ends, "left") - first, 0)
        offsets = _offsets(lengths)
        rows = np.arange(offsets[-1], dtype=np.int64) + np.repeat(first - offsets[:-1], lengths)
        return rows, offsets
    chosen = [np.flatnonzero((t0 < end) & ((t0 >= start) | (t1 > start))) for start, end in zip(starts, ends)]
    return np.concatenate(chosen).astype(np.int64), _offsets([len(rows) for rows in chosen])


def bandwidth_windows(transfers: np.ndarray, starts: np.ndarray, ends: np.ndarray, window: int) -> LayerWindows:
    """The per-layer windows of every layer over [starts[i], max(ends[i], starts[i] + 1)) (int64 arrays of the layers'
    first and end cycles) in one pass, plus the peak own window per cycle and the cycles of [starts[i], ends[i])
    the channel was busy. Identical floats (see the module docstring)."""
    layers = starts.size
    busy_ends, ends = ends, np.maximum(ends, starts + 1)
    counts = np.maximum(-(-(ends - starts) // window), 1)
    window_offsets = _offsets(counts)
    run = np.zeros(int(window_offsets[-1]), dtype=np.float64)
    if transfers.size == 0 or layers == 0:
        return LayerWindows(run, window_offsets, np.zeros(layers) / window, np.zeros(layers, dtype=np.int64))
    own = np.zeros_like(run)
    rows, row_offsets = _near_rows(transfers, starts, ends)
    owner = np.repeat(np.arange(layers, dtype=np.int64), np.diff(row_offsets))
    t0, t1 = transfers[rows, 0], transfers[rows, 1]
    size = transfers[rows, 2].astype(np.float64)
    start, end = starts[owner], ends[owner]
    # Zero-length transfers (unlimited bandwidth) land in the window where they happen (np.add.at: in row order).
    instant = (t1 <= t0) & (t0 >= start) & (t0 < end)
    where = window_offsets[owner] + (t0 - start) // window
    if instant.any():
        np.add.at(run, where[instant], size[instant])
        instant &= t1 > start
        np.add.at(own, where[instant], size[instant])
    # The overlap of each transfer with [start, end): zero for the rows outside it (ending by start, or starting
    # at or after end), so no mask is needed.
    busy = np.maximum(np.minimum(t1, busy_ends[owner]) - np.maximum(t0, start), 0)
    busy_sum = np.concatenate([[0], np.cumsum(busy)])
    busy_cycles = busy_sum[row_offsets[1:]] - busy_sum[row_offsets[:-1]]
    spread = (t1 > t0) & (t1 > start) & (t0 < end)
    if spread.any():
        part = _spread_part(t0[spread], t1[spread], size[spread], owner[spread], starts, ends, window,
                            window_offsets)
        run += part
        own += part
    peak = np.maximum.reduceat(own, window_offsets[:-1]) / window
    return LayerWindows(run, window_offsets, peak, busy_cycles)


def _spread_part(a, b, size, owner, starts, ends, window, window_offsets) -> np.ndarray:
    """Bytes per window of the transfers with a duration, all layers' windows concatenated (zero where a layer has
    none). Per layer as the per-layer pass: its starts then its ends, sorted stably, the rate after each point and
    the bytes moved up to it (sequential sums, per layer), read at the window edges as np.interp does."""
    layers = starts.size
    rate = size / (b - a)
    per_layer = np.bincount(owner, minlength=layers)
    # Layer l's points are [2 * first[l], 2 * first[l + 1]): its starts, then its ends, as np.concatenate([a, b]).
    first = _offsets(per_layer)
    at_start = np.arange(a.size, dtype=np.int64) + first[owner]
    at_end = at_start + per_layer[owner]
    points = np.empty(2 * a.size, dtype=np.int64)
    points[at_start], points[at_end] = a, b
    signed_rate = np.empty(2 * a.size, dtype=np.float64)
    signed_rate[at_start], signed_rate[at_end] = rate, -rate
    point_layer = np.repeat(np.arange(layers, dtype=np.int64), 2 * per_layer)
    # lexsort is stable: by layer, then point, ties in the concatenated order (the per-layer stable argsort).
    order = np.lexsort((points, point_layer))
    points, signed_rate = points[order], signed_rate[order]
    lo, count = 2 * first[:-1], 2 * per_layer
    moved = _bytes_moved(points, signed_rate, lo, count)
    # Every layer's window edges, min(start + window * i, end) for i = 0 .. windows: layer l's are
    # [window_offsets[l] + l, window_offsets[l + 1] + l + 1); read where the layer has such transfers.
    windows = np.diff(window_offsets)
    edge_layer = np.repeat(np.arange(layers, dtype=np.int64), windows + 1)
    edges = np.minimum(starts[edge_layer] + window * (np.arange(edge_layer.size, dtype=np.int64)
                                                      - (window_offsets[:-1] + np.arange(layers))[edge_layer]),
                       ends[edge_layer])
    read = per_layer[edge_layer] > 0
    at_edges = np.zeros(edges.size, dtype=np.float64)
    at_edges[read] = _interp(edges[read], edge_layer[read], points, point_layer, moved, lo, lo + count)
    # Window k of layer l: np.diff of the layer's values at its edges k and k + 1 (zero where it has none).
    window_layer = np.repeat(np.arange(layers, dtype=np.int64), windows)
    return np.diff(at_edges)[np.arange(window_layer.size, dtype=np.int64) + window_layer]


def _bytes_moved(points: np.ndarray, signed_rate: np.ndarray, lo: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Per layer segment [lo, lo + count) of the sorted points and their signed rates (count 0 or >= 2), the bytes
    moved up to each point as the per-layer pass sums them: [0, cumsum(cumsum(rate)[:-1] * diff(points))].

    The segments are the zero-padded rows of 2-D blocks: np.cumsum along a row adds in sequence, so each row's
    sums are the segment's own; rows are grouped by length (to a power of two) when one block would pad much."""
    moved = np.zeros(points.size, dtype=np.float64)
    rows = np.flatnonzero(count > 0)
    if rows.size == 0:
        return moved
    if rows.size * int(count.max()) <= 4 * int(count.sum()) + 65536:
        groups = [rows]
    else:
        size_class = np.ceil(np.log2(count[rows])).astype(np.int64)
        groups = [rows[size_class == c] for c in np.unique(size_class)]
    for group in groups:
        width = int(count[group].max())
        column = np.arange(width, dtype=np.int64)
        valid = column < count[group][:, None]
        # Padding repeats the row's last point (a step of 0) with a rate of 0: it changes none of its sums.
        index = np.minimum(lo[group][:, None] + column, (lo + count - 1)[group][:, None])
        rate_after = np.cumsum(np.where(valid, signed_rate[index], 0.0), axis=1)
        block = np.zeros((group.size, width), dtype=np.float64)
        block[:, 1:] = np.cumsum(rate_after[:, :-1] * np.diff(points[index], axis=1), axis=1)
        moved[index[valid]] = block[valid]
    return moved


def _interp(x: np.ndarray, x_layer: np.ndarray, xp: np.ndarray, xp_layer: np.ndarray, fp: np.ndarray,
            lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """np.interp(x, xp[lo[l]:hi[l]], fp[lo[l]:hi[l]]) for each x of layer x_layer, all layers at once (x grouped
    by layer and sorted within it; the layers with x are those with points, >= 2 of them, sorted).

    The same float operations as numpy's: with j the last point <= x, fp[lo] below the first point, fp[hi - 1]
    from the last on, fp[j] at a point, else slope * (x - xp[j]) + fp[j] with
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) (and numpy's fallbacks where that is nan)."""
    if x.size == 0:
        return np.zeros(0, dtype=np.float64)
    # Shift each layer's values (points and x) into a range of its own, so one searchsorted finds every j: the
    # points are sorted per layer and x runs from the layer's start to its end.
    has_x = np.bincount(x_layer, minlength=lo.size) > 0
    first_x = _offsets(np.bincount(x_layer, minlength=lo.size))
    low = np.minimum(xp[np.where(has_x, lo, 0)], x[np.where(has_x, first_x[:-1], 0)])
    high = np.maximum(xp[np.where(has_x, hi - 1, 0)], x[np.where(has_x, first_x[1:] - 1, 0)])
    shift = _offsets(np.where(has_x, high - low + 1, 0))[:-1] - np.where(has_x, low, 0)
    j = np.searchsorted(xp + shift[xp_layer], x + shift[x_layer], "right") - 1
    first, last = lo[x_layer], hi[x_layer] - 1
    at = np.clip(j, first, last - 1)
    xf, xj, xj1 = x.astype(np.float64), xp[at].astype(np.float64), xp[at + 1].astype(np.float64)
    fj, fj1 = fp[at], fp[at + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (fj1 - fj) / (xj1 - xj)
        out = slope * (xf - xj) + fj
        nan = np.isnan(out)
        if nan.any():
            retry = slope * (xf - xj1) + fj1
            retry = np.where(np.isnan(retry) & (fj == fj1), fj, retry)
            out = np.where(nan, retry, out)
    out = np.where(xj == xf, fj, out)
    out = np.where(j >= last, fp[last], out)
    return np.where(j < first, fp[first], out)


# LayerResult.extra keys, per operand in OPERANDS order.
_BUFFER_KEYS = tuple((f"{name}_sram.capacity_elements", f"{name}_sram.tiles", f"{name}_sram.whole_layer_resident")
                     for name in OPERANDS)
_LAYER_KEYS = tuple((f"pe_array.stall_cycles.{name}", f"{name}_sram.peak_occupancy_elements") for name in OPERANDS)


@dataclass(frozen=True)
class PlanStats:
    """What every layer that shares one tile plan has in common: a function of the plan, the mapping's dataflow
    and array, the layer's GEMM and element widths (the key under which the engine shares it)."""

    macs: int  # the layer's MACs (LayerResult.macs: the GEMM's)
    layer_macs: int  # Layer.macs (actions and utilization, as the analytical model)
    compute_cycles: int
    folds: int
    mapping_efficiency: float
    sram_reads: OperandCounts
    sram_ofmap_writes: int
    element_bytes: tuple[int, int, int]  # per operand, in OPERANDS order
    psum_bytes: int  # a partial sum's bytes in DRAM (it leaves the array at accumulator precision)
    extra: dict[str, Any]  # the buffers' statistics (capacity, tiles, whole-layer residency)

    @classmethod
    def of(cls, layer: Layer, mapping: Mapping, plan: LayerPlan) -> PlanStats:
        ifmap_reads, filter_reads, ofmap_reads, ofmap_writes = sram_count_totals(mapping)
        bits = (layer.ifmap_bits, layer.filter_bits, layer.ofmap_bits)
        extra: dict[str, Any] = {}
        for name, (capacity, tiles, whole) in zip(OPERANDS, _BUFFER_KEYS):
            extra[capacity] = plan.slots[name] * plan.slot_elements[name]
            extra[tiles] = len(plan.tiles[name])
            extra[whole] = int(plan.whole[name])
        return cls(macs=layer.gemm.macs, layer_macs=layer.macs, compute_cycles=plan.compute_cycles,
                   folds=mapping.folds, mapping_efficiency=mapping.mapping_efficiency,
                   sram_reads=OperandCounts(ifmap_reads, filter_reads, ofmap_reads), sram_ofmap_writes=ofmap_writes,
                   element_bytes=tuple(-(-b // 8) for b in bits), psum_bytes=-(-layer.partial_sum_bits // 8),
                   extra=extra)


def layer_result(layer: Layer, stats: PlanStats, timeline: LayerTimeline, *, pes: int,
                 table: KeyedTable[str, EnergyEntry], priced: dict, busy_cycles: int, peak_bytes_per_cycle: float,
                 window: int, wall_s: float, post_start: float, functional: FunctionalCheck | None,
                 shared_keys: dict | None = None) -> LayerResult:
    """The layer's record from its timeline and its `bandwidth_windows` statistics; `priced` is
    `sim.energy.tables.prices(SYSTOLIC_ACTIONS, table)`, once per run; `shared_keys` a dict kept for the run
    (its records then share their `extra` keys). Its sim_wall_s is `wall_s` plus the time
    since `post_start` (a time.perf_counter() reading: the layer's own post-processing began) until the record
    is built."""
    start, end = timeline.start, timeline.end
    cycles = end - start
    compute = stats.compute_cycles
    reads = timeline.dram_read_elements
    dram_reads = OperandCounts(reads["ifmap"], reads["filter"], reads["ofmap"])
    dram_writes = OperandCounts(0, 0, timeline.dram_write_elements)
    ifmap_bytes, filter_bytes, ofmap_bytes = stats.element_bytes
    # The same sum, in the same order, as sum(reads x element bytes over OPERANDS).
    # ofmap reads are partial sums read back, each drained once before: as many partial writes, the rest finished.
    psum_bytes = stats.psum_bytes
    read_bytes = 0 + dram_reads.ifmap * ifmap_bytes + dram_reads.filter * filter_bytes + dram_reads.ofmap * psum_bytes
    write_bytes = (dram_writes.ofmap - dram_reads.ofmap) * ofmap_bytes + dram_reads.ofmap * psum_bytes
    sram_reads = stats.sram_reads
    # SRAM writes: fills from DRAM for ifmap/filter, partial sums and outputs for ofmap (as the analytical model).
    sram_writes = OperandCounts(dram_reads.ifmap, dram_reads.filter, stats.sram_ofmap_writes)
    # ActionCounts.of's sorted form, without its per-key str() (the keys are systolic_actions' strings).
    actions = ActionCounts(tuple(sorted(systolic_actions(
        stats.layer_macs, sram_reads=sram_reads, sram_writes=sram_writes, dram_read_bytes=read_bytes,
        dram_write_bytes=write_bytes, cycles=cycles).items())))
    counters = timeline.counters
    prefetch = (timeline.first_step_start or start) - start
    extra: dict[str, Any] = {
        "steps": counters.steps,
        "events": timeline.events_processed,
        "prefetch_cycles": prefetch,
        "drain_cycles": max(end - timeline.last_compute_end, 0),
        "cycles_excl_prefetch": cycles - prefetch,
        "pe_array.busy_cycles": compute,
        "pe_array.idle_cycles": cycles - compute,
        "pe_array.stall_cycles": counters.stall_total,
        "dram.busy_cycles": busy_cycles,
        "dram.idle_cycles": max(cycles - busy_cycles, 0),
        "dram.read_bytes": read_bytes,
        "dram.write_bytes": write_bytes,
        "dram.avg_bandwidth_bytes_per_cycle": (read_bytes + write_bytes) / cycles if cycles else 0.0,
        "dram.peak_bandwidth_bytes_per_cycle": peak_bytes_per_cycle,
        "dram.window_cycles": window,
        "dram.row_hits": timeline.dram_row_hits,
        "dram.row_misses": timeline.dram_row_misses,
        **stats.extra,
    }
    for name, (stall, occupancy) in zip(OPERANDS, _LAYER_KEYS):
        extra[stall] = counters.stall[name]
        extra[occupancy] = timeline.peak_occupancy[name]
    utilization = stats.layer_macs / (pes * cycles) if cycles else 0.0
    keys = tuple(sorted(extra))
    keys = shared_keys.setdefault(keys, keys) if shared_keys is not None else keys  # one keys tuple per run
    extra_items = KeyedValues(keys, tuple([extra[key] for key in keys]))
    energy = apply(actions, table, priced)
    if timeline.dram_energy_pj is not None:
        # A command-level DRAM prices its own commands (ACT, RD, WR, PRE, REF, background) instead of per byte.
        by_component = energy.as_dict()
        by_component["dram"] = timeline.dram_energy_pj
        energy = EnergyBreakdown.of(by_component, {**dict(energy.provenance),
                                                   "dram.commands": "[dram.device] per-command energy"})
    sim_wall_s = wall_s + (time.perf_counter() - post_start)
    # Built once, with extra in LayerResult.with_extra's sorted form (its keys are strings), not copied by replace().
    return LayerResult(
        name=layer.name, kind=layer.kind, model="engine", macs=stats.macs, cycles=cycles, compute_cycles=compute,
        stall_cycles=cycles - compute, utilization=utilization, mapping_efficiency=stats.mapping_efficiency,
        folds=stats.folds, sram_reads=sram_reads, sram_writes=sram_writes, dram_reads=dram_reads,
        dram_writes=dram_writes, actions=actions, energy=energy, sim_wall_s=sim_wall_s, functional=functional,
        extra=extra_items,
    )
