"""The discrete-event engine for MAESTRO-style directive mappings: a PE array fed by a NoC from L2 and DRAM.

The mapping's cluster levels are flattened into one loop nest of *loop variables*: each TemporalMap is a
variable over its positions, each level's spatial maps share a fold variable (where the nest names them)
and a unit variable (the sub-clusters / PEs of that level, not a time step). A *step* is one value of every
non-unit variable; all PEs work on their tiles of a step in lock step.

Tiles and ownership (what makes each MAC happen exactly once, edge tiles included): position p of a
directive (size, offset) inside its parent tile [lo, hi) holds data [lo + p*offset, min(.. + size, hi))
and *owns* [lo + p*offset, .. + offset) (its last position owns up to hi). A Y/X map holding whole
filter windows (size >= R / S) owns output windows by their first input row (o * stride); a smaller one
(row stationary) owns input rows. A PE computes the MAC (output o, tap r) when every level owns it and its
leaf tile holds input row o * stride + r and filter row r. Dimensions are independent except Y-R and X-S
(and dimensions spatially mapped at the same level, which share units), so a step's MACs, per-PE maximum
and tiles are products over these dimension groups, each tabulated once over its own variables.

Per step the engine moves the new data of each input tensor (its tile minus the previous step's: temporal
reuse) over the NoC, multicast to the PEs that share it; computes for ceil(max MACs of a PE / vector
width) cycles; and sends the outputs that leave (tile minus the next step's: partial sums stay while only
reduction dimensions move) back, reduced on the way when spatially mapped reduction dimensions make PEs
share outputs. Steps are grouped into at most MAX_CHUNKS consecutive chunks (each chunk's transfers and
compute are the sums of its steps'), pipelined with double buffering: DRAM -> L2 -> NoC -> PEs -> NoC ->
L2 -> DRAM. When the layer does not fit L2, every NoC input word comes from DRAM and every leaving output
goes to it; otherwise each tensor crosses the off-chip link once.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import simpy

from sim.energy.tables import apply
from sim.engine.dram import make_dram
from sim.engine.noc import Noc
from sim.errors import ConfigError, MappingError
from sim.hardware.spec import DirectiveArraySpec, DramSpec, Hardware
from sim.mapping.directives import DirectiveMapping, directive_view, map_positions
from sim.mapping.record import Mapping
from sim.mapping.operands import lowered_input, ofmap_shape, random_operands, reference_ofmap
from sim.records import (
    ActionCounts,
    FunctionalCheck,
    LayerResult,
    OperandCounts,
    RunResult,
)
from sim.workload.layer import Layer
from sim.workload.maestro import Dataflow
from sim.workload.trace import Trace

# Chunks the step sequence is grouped into for the SimPy timeline (bounds events per layer; see module doc).
MAX_CHUNKS = 2048
# Above this many (step, PE) tiles the functional execution is refused: it runs tile by tile in numpy.
FUNCTIONAL_TILE_LIMIT = 200_000
_EMPTY_LO = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class _Variable:
    count: int
    unit: bool  # a spatial unit (sub-cluster / PE), not a time step


@dataclass(frozen=True)
class _Chain:
    """How one dimension is positioned at one level: by a temporal variable, or by fold * units + unit."""

    size: int
    offset: int
    positions: int
    whole_windows: bool  # a Y/X map holding whole filter windows: owns windows by their first row
    temporal: int = -1
    fold: int = -1
    unit: int = -1
    units: int = 1


@dataclass(frozen=True)
class _Nest:
    variables: tuple[_Variable, ...]
    chains: dict[str, tuple[_Chain, ...]]


def _nest(mapping: DirectiveMapping) -> _Nest:
    sizes = mapping.sizes
    windows = {"Y": sizes.get("R", 0), "X": sizes.get("S", 0)} if mapping.layer_type != "GEMM" else {}
    extent = dict(sizes)
    variables: list[_Variable] = []
    chains: dict[str, list[_Chain]] = {d: [] for d in sizes}
    for level in mapping.levels:
        spatial_counts = [map_positions(min(d.size, extent[d.dim]), d.offset, extent[d.dim], windows.get(d.dim, 0))
                          for d in level.spatial]
        units = min(level.units, max(spatial_counts))
        folds = -(-max(spatial_counts) // units)
        fold_var = unit_var = -1
        next_extent = dict(extent)
        for directive in level.directives:
            size = min(directive.size, extent[directive.dim])
            window = windows.get(directive.dim, 0)
            count = map_positions(size, directive.offset, extent[directive.dim], window)
            whole = bool(window) and directive.size >= window
            if directive.kind == "temporal":
                variables.append(_Variable(count, False))
                chain = _Chain(size, directive.offset, count, whole, temporal=len(variables) - 1)
            else:
                if fold_var < 0:
                    variables.append(_Variable(folds, False))
                    variables.append(_Variable(units, True))
                    fold_var, unit_var = len(variables) - 2, len(variables) - 1
                chain = _Chain(size, directive.offset, count, whole, fold=fold_var, unit=unit_var, units=units)
            chains[directive.dim].append(chain)
            next_extent[directive.dim] = size
        extent = next_extent
    return _Nest(tuple(variables), {d: tuple(c) for d, c in chains.items()})


def _chain_vars(chains: tuple[_Chain, ...]) -> set[int]:
    out: set[int] = set()
    for c in chains:
        out |= {c.temporal} if c.temporal >= 0 else {c.fold, c.unit}
    return out


def _groups(mapping: DirectiveMapping, nest: _Nest) -> list[tuple[str, ...]]:
    """Dimensions whose tiles depend on each other: Y-R, X-S, and dimensions sharing a unit variable."""
    parent = {d: d for d in nest.chains}

    def find(d: str) -> str:
        while parent[d] != d:
            d = parent[d]
        return d

    def join(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    if mapping.layer_type != "GEMM":
        join("Y", "R")
        join("X", "S")
    owners: dict[int, str] = {}
    for dim, chains in nest.chains.items():
        for var in _chain_vars(chains):
            if var in owners:
                join(dim, owners[var])
            owners[var] = dim
    groups: dict[str, list[str]] = {}
    for dim in nest.chains:
        groups.setdefault(find(dim), []).append(dim)
    return [tuple(g) for g in groups.values()]


@dataclass(frozen=True)
class _DimTiles:
    """Per combination of a group's variables (arrays broadcast over the group's axes)."""

    data_lo: np.ndarray
    data_hi: np.ndarray
    own_lo: np.ndarray  # ownership of the index itself (input rows for Y/X)
    own_hi: np.ndarray
    start_lo: np.ndarray  # ownership of o * stride (window-holding Y/X maps)
    start_hi: np.ndarray


def _dim_tiles(size: int, chains: tuple[_Chain, ...], axes: dict[int, np.ndarray]) -> _DimTiles:
    lo = np.zeros((), dtype=np.int64)
    hi = np.full((), size, dtype=np.int64)
    own_lo, own_hi = np.zeros((), dtype=np.int64), np.full((), size, dtype=np.int64)
    start_lo, start_hi = np.zeros((), dtype=np.int64), np.full((), size, dtype=np.int64)
    for chain in chains:
        if chain.temporal >= 0:
            position = axes[chain.temporal]
        else:
            position = axes[chain.fold] * chain.units + axes[chain.unit]
        start = lo + position * chain.offset
        valid = (position < chain.positions) & (start < hi)
        last = (position == chain.positions - 1) | (start + chain.offset >= hi)
        end = np.where(last, hi, start + chain.offset)
        if chain.whole_windows:
            start_lo, start_hi = np.maximum(start_lo, start), np.minimum(start_hi, end)
        else:
            own_lo, own_hi = np.maximum(own_lo, start), np.minimum(own_hi, end)
        lo = np.where(valid, start, 0)
        hi = np.where(valid, np.minimum(start + chain.size, hi), 0)
    return _DimTiles(lo, hi, own_lo, own_hi, start_lo, start_hi)


def _length(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.maximum(hi - lo, 0)


def _pair_bounds(rows: _DimTiles, taps: _DimTiles) -> tuple[np.ndarray, ...]:
    return (np.maximum(taps.data_lo, taps.own_lo), np.minimum(taps.data_hi, taps.own_hi),
            np.maximum(rows.data_lo, rows.own_lo), np.minimum(rows.data_hi, rows.own_hi), rows.start_lo, rows.start_hi)


def _window_pairs(rows: _DimTiles, taps: _DimTiles, taps_total: int, stride: int, outputs: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(MACs along one Y-R / X-S pair, first and past-last output index) per combination."""
    tap_lo, tap_hi, in_lo, in_hi, _, _ = _pair_bounds(rows, taps)
    shape = np.broadcast(tap_lo, in_lo, rows.start_lo).shape
    count = np.zeros(shape, dtype=np.int64)
    first = np.full(shape, _EMPTY_LO, dtype=np.int64)
    past = np.full(shape, -_EMPTY_LO, dtype=np.int64)
    for r in range(taps_total):
        low = np.maximum(np.maximum(rows.start_lo, in_lo - r), 0)
        high = np.minimum(np.minimum(rows.start_hi, in_hi - r), (outputs - 1) * stride + 1)
        o_lo, o_hi = -(-low // stride), -(-high // stride)
        n = np.where((r >= tap_lo) & (r < tap_hi), np.maximum(o_hi - o_lo, 0), 0)
        count += n
        first = np.where(n > 0, np.minimum(first, o_lo), first)
        past = np.where(n > 0, np.maximum(past, o_hi), past)
    return count, first, past


@dataclass(frozen=True)
class _GroupTable:
    """One dimension group over all its variables: MACs per combination and each dimension's intervals."""

    variables: tuple[int, ...]  # axes, in nest order
    macs: np.ndarray
    data: dict[str, tuple[np.ndarray, np.ndarray]]  # input / filter coordinates
    done: dict[str, tuple[np.ndarray, np.ndarray]]  # output coordinates computed (o for Y / X)
    # Y / X: (tap_lo, tap_hi, row_lo, row_hi, start_lo, start_hi): (o, r) is computed when r is in the tap
    # interval, o * stride + r in the row interval and o * stride in the start interval.
    pairs: dict[str, tuple[np.ndarray, ...]]


def _group_table(mapping: DirectiveMapping, nest: _Nest, dims: tuple[str, ...]) -> _GroupTable:
    sizes = mapping.sizes
    variables = tuple(sorted(set().union(*(_chain_vars(nest.chains[d]) for d in dims))))
    shape = [nest.variables[v].count for v in variables]
    axes = {}
    for i, var in enumerate(variables):
        view = [1] * len(variables)
        view[i] = shape[i]
        axes[var] = np.arange(shape[i], dtype=np.int64).reshape(view)
    tiles = {d: _dim_tiles(sizes[d], nest.chains[d], axes) for d in dims}
    full = tuple(shape)
    macs = np.ones(full, dtype=np.int64)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    done: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    pairs = {"Y": ("R", mapping.stride_y), "X": ("S", mapping.stride_x)} if mapping.layer_type != "GEMM" else {}
    bounds: dict[str, tuple[np.ndarray, ...]] = {}
    for d in dims:
        t = tiles[d]
        data[d] = (np.broadcast_to(t.data_lo, full), np.broadcast_to(t.data_hi, full))
        if d in pairs:
            tap, stride = pairs[d]
            outputs = (sizes[d] - sizes[tap]) // stride + 1
            count, first, past = _window_pairs(t, tiles[tap], sizes[tap], stride, outputs)
            macs = macs * count
            done[d] = (np.broadcast_to(first, full), np.broadcast_to(past, full))
            bounds[d] = tuple(np.broadcast_to(b, full) for b in _pair_bounds(t, tiles[tap]))
        elif d not in ("R", "S") or mapping.layer_type == "GEMM":
            lo, hi = np.maximum(t.data_lo, t.own_lo), np.minimum(t.data_hi, t.own_hi)
            macs = macs * _length(lo, hi)
            done[d] = (np.broadcast_to(lo, full), np.broadcast_to(hi, full))
    return _GroupTable(variables, macs, data, done, bounds)


@dataclass(frozen=True)
class _Steps:
    """Per step (arrays of length steps): MACs, the busiest PE's MACs, and each dimension's union intervals."""

    macs: np.ndarray
    peak_pe_macs: np.ndarray
    data: dict[str, tuple[np.ndarray, np.ndarray]]
    done: dict[str, tuple[np.ndarray, np.ndarray]]


def _reduce_units(table: _GroupTable, nest: _Nest) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, dict, dict]:
    unit_axes = tuple(i for i, v in enumerate(table.variables) if nest.variables[v].unit)
    step_vars = tuple(v for v in table.variables if not nest.variables[v].unit)
    total = table.macs.sum(axis=unit_axes) if unit_axes else table.macs
    peak = table.macs.max(axis=unit_axes) if unit_axes else table.macs

    def union(intervals: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
        out = {}
        for d, (lo, hi) in intervals.items():
            empty = hi <= lo
            lo = np.where(empty, _EMPTY_LO, lo)
            hi = np.where(empty, -_EMPTY_LO, hi)
            out[d] = (lo.min(axis=unit_axes) if unit_axes else lo, hi.max(axis=unit_axes) if unit_axes else hi)
        return out

    return step_vars, total, peak, union(table.data), union(table.done)


def _pick(table: np.ndarray, flat: np.ndarray | None, count: int) -> np.ndarray:
    """A group table's value at every step (`flat`: each step's flat index into the group's table)."""
    return np.broadcast_to(table if flat is None else np.take(table.reshape(-1), flat), (count,))


def _steps(mapping: DirectiveMapping, nest: _Nest, tables: list[_GroupTable]) -> _Steps:
    step_vars = [i for i, v in enumerate(nest.variables) if not v.unit]
    shape = tuple(nest.variables[i].count for i in step_vars)
    count = math.prod(shape)
    index = np.unravel_index(np.arange(count, dtype=np.int64), shape) if shape else ()
    value = {var: index[i] for i, var in enumerate(step_vars)}
    macs = np.ones(count, dtype=np.int64)
    peak = np.ones(count, dtype=np.int64)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    done: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for table in tables:
        own_vars, total, peak_table, data_union, done_union = _reduce_units(table, nest)
        key = tuple(value[v] for v in own_vars)
        key = np.ravel_multi_index(key, total.shape) if key else None
        macs = macs * _pick(total, key, count)
        peak = peak * _pick(peak_table, key, count)
        data.update({d: (_pick(lo, key, count), _pick(hi, key, count)) for d, (lo, hi) in data_union.items()})
        done.update({d: (_pick(lo, key, count), _pick(hi, key, count)) for d, (lo, hi) in done_union.items()})
    return _Steps(macs, peak, data, done)


def _volume(intervals: dict[str, tuple[np.ndarray, np.ndarray]], dims: tuple[str, ...], count: int) -> np.ndarray:
    volume = np.ones(count, dtype=np.int64)
    for d in dims:
        if d in intervals:
            lo, hi = intervals[d]
            volume = volume * _length(lo, hi)
    return volume


def _overlap(intervals: dict[str, tuple[np.ndarray, np.ndarray]], dims: tuple[str, ...], shift: int) -> np.ndarray:
    """Elements a step's tile shares with the tile `shift` steps later (0 where that step does not exist)."""
    count = len(next(iter(intervals.values()))[0])
    overlap = np.ones(max(count - shift, 0), dtype=np.int64)
    for d in dims:
        if d in intervals:
            lo, hi = intervals[d]
            overlap = overlap * _length(np.maximum(lo[:-shift], lo[shift:]), np.minimum(hi[:-shift], hi[shift:]))
    return overlap


def _output_dims(mapping: DirectiveMapping) -> tuple[str, ...]:
    return mapping.tensors["output"]


def _factor(mapping: DirectiveMapping, nest: _Nest, coupled: set[str], *, share_when_uncoupled: bool) -> int:
    """PEs one word reaches (multicast: levels whose spatial dims the tensor does not depend on) or PEs whose
    partial sums one output collects (reduction: levels spatially mapping a dimension the output lacks)."""
    factor = 1
    for level in mapping.levels:
        spatial = {d.dim for d in level.spatial}
        units = next(c.units for d in spatial for c in nest.chains[d] if c.unit >= 0)
        if share_when_uncoupled and not spatial & coupled:
            factor *= units
        if not share_when_uncoupled and spatial - coupled:
            factor *= units
    return factor


@dataclass(frozen=True)
class _Traffic:
    """Per step: words each tensor moves and the compute cycles."""

    input: np.ndarray
    filter: np.ndarray
    egress: np.ndarray
    compute: np.ndarray
    macs: np.ndarray


def _traffic(mapping: DirectiveMapping, steps: _Steps, vector_width: int) -> _Traffic:
    count = len(steps.macs)
    tensors = mapping.tensors
    new = {}
    for tensor in ("input", "filter"):
        volume = _volume(steps.data, tensors[tensor], count)
        kept = np.concatenate([[0], _overlap(steps.data, tensors[tensor], 1)]) if count else volume
        new[tensor] = volume - kept
    out_volume = _volume(steps.done, _output_dims(mapping), count)
    staying = np.concatenate([_overlap(steps.done, _output_dims(mapping), 1), [0]]) if count else out_volume
    compute = -(-steps.peak_pe_macs // vector_width)
    return _Traffic(new["input"], new["filter"], out_volume - staying, compute, steps.macs)


def _chunks(values: np.ndarray, size: int) -> np.ndarray:
    if len(values) == 0:
        return values
    return np.add.reduceat(values, np.arange(0, len(values), size))


@dataclass(frozen=True)
class _Timeline:
    cycles: int
    dram_read_words: int
    dram_write_words: int
    noc_words: dict[str, int]
    noc_deliveries: int
    reduction_adds: int


def _run_timeline(spec: DirectiveArraySpec, traffic: _Traffic, multicast: dict[str, int], reduction: int,
                  fits_l2: bool, unique_inputs: int, outputs: int) -> _Timeline:
    """The pipelined SimPy timeline of a layer's chunks (see the module docstring)."""
    size = max(1, -(-len(traffic.compute) // MAX_CHUNKS))
    chunk = {name: _chunks(getattr(traffic, name), size).tolist()
             for name in ("input", "filter", "egress", "compute")}
    n = len(chunk["compute"])
    noc_in = [a + b for a, b in zip(chunk["input"], chunk["filter"])]
    if fits_l2:
        # Each tensor crosses the off-chip link once: the first NoC deliveries are fetched, then L2 holds all.
        remaining_in, remaining_out = unique_inputs, outputs
        dram_in, dram_out = [], []
        for words, leaving in zip(noc_in, chunk["egress"]):
            dram_in.append(min(words, remaining_in))
            remaining_in -= dram_in[-1]
            dram_out.append(min(leaving, remaining_out))
            remaining_out -= dram_out[-1]
        if n:
            dram_out[-1] += remaining_out  # outputs never sent back over the NoC alone still leave at the end
    else:
        dram_in, dram_out = list(noc_in), list(chunk["egress"])
    env = simpy.Environment()
    noc = Noc(env, spec.noc_bandwidth_words_per_cycle, spec.noc_hops * spec.noc_latency_cycles)
    dram = make_dram(env, DramSpec(bandwidth_bytes_per_cycle=spec.offchip_bandwidth_words_per_cycle * spec.word_bytes,
                                   burst_bytes=spec.word_bytes))
    depth = 2 if spec.double_buffered else 1
    stages = ("dram_in", "noc_in", "compute", "noc_out", "dram_out")
    done = {stage: [env.event() for _ in range(n)] for stage in stages}
    word = spec.word_bytes

    def fetch():
        for g in range(n):
            if g >= depth:
                yield done["noc_in"][g - depth]  # an L2 half is free once its tile went to the PEs
            if dram_in[g]:
                yield dram.request("read", 0, dram_in[g] * word)
            done["dram_in"][g].succeed()

    def deliver():
        for g in range(n):
            yield done["dram_in"][g]
            if g >= depth:
                yield done["compute"][g - depth]  # an L1 half is free once the PEs used it
            events = [noc.transfer(chunk[t][g], "multicast" if multicast[t] > 1 else "unicast", multicast[t])
                      for t in ("input", "filter") if chunk[t][g]]
            if events:
                yield env.all_of(events)
            done["noc_in"][g].succeed()

    def compute():
        for g in range(n):
            yield done["noc_in"][g]
            if g >= depth:
                yield done["noc_out"][g - depth]
            yield env.timeout(chunk["compute"][g])
            done["compute"][g].succeed()

    def collect():
        for g in range(n):
            yield done["compute"][g]
            if chunk["egress"][g]:
                yield noc.transfer(chunk["egress"][g], "reduce" if reduction > 1 else "gather", reduction)
            done["noc_out"][g].succeed()

    def drain():
        for g in range(n):
            yield done["noc_out"][g]
            if dram_out[g]:
                yield dram.request("write", 0, dram_out[g] * word)
            done["dram_out"][g].succeed()

    for process in (fetch, deliver, compute, collect, drain):
        env.process(process())
    env.run()
    return _Timeline(int(env.now), int(sum(dram_in)), int(sum(dram_out)), dict(noc.stats.words),
                     noc.stats.deliveries, noc.stats.reduction_adds)


def _spec(hw: Hardware) -> DirectiveArraySpec:
    if hw.directive_array is None:
        raise ConfigError("the directive engine needs a [directive_array] section", file=hw.source_file or None,
                          field="directive_array", allowed="a MAESTRO hardware .m file or a TOML [directive_array]")
    return hw.directive_array


def _tables(mapping: DirectiveMapping) -> tuple[_Nest, list[_GroupTable]]:
    nest = _nest(mapping)
    return nest, [_group_table(mapping, nest, dims) for dims in _groups(mapping, nest)]


def _tensor_sizes(mapping: DirectiveMapping) -> dict[str, int]:
    sizes = mapping.sizes
    out = {t: math.prod(sizes[d] for d in dims) for t, dims in mapping.tensors.items() if t != "output"}
    if mapping.layer_type == "GEMM":
        out["output"] = sizes["M"] * sizes["N"]
    else:
        rows = (sizes["Y"] - sizes["R"]) // mapping.stride_y + 1
        cols = (sizes["X"] - sizes["S"]) // mapping.stride_x + 1
        channels = sizes["C"] if mapping.layer_type == "DSCONV" else 1
        out["output"] = sizes["N"] * sizes["K"] * channels * rows * cols
    return out


def _pe_tiles(mapping: DirectiveMapping, tables: list[_GroupTable]) -> dict[str, int]:
    """A PE's largest tile per tensor (elements) over all steps and PEs (per-dimension maxima multiplied)."""
    longest: dict[str, int] = {}
    for table in tables:
        for d, (lo, hi) in table.data.items():
            longest[d] = int(_length(lo, hi).max())
        for d, (lo, hi) in table.done.items():
            longest[f"out:{d}"] = int(_length(lo, hi).max())
    tiles = {}
    for tensor, dims in mapping.tensors.items():
        key = (lambda d: f"out:{d}" if f"out:{d}" in longest else d) if tensor == "output" else (lambda d: d)
        tiles[tensor] = math.prod(longest[key(d)] for d in dims)
    return tiles


def simulate_directive_layer(layer: Layer, hw: Hardware, mapping: Mapping | Dataflow, *, seed: int = 0,
                             functional: bool = False) -> LayerResult:
    """One layer under a directive mapping record (or MAESTRO directives, translated into one) through the NoC /
    PE / DRAM timeline (model="engine")."""
    start = time.perf_counter()
    spec = _spec(hw)
    mapping = directive_view(layer, hw, mapping)
    nest, tables = _tables(mapping)
    steps = _steps(mapping, nest, tables)
    traffic = _traffic(mapping, steps, spec.vector_width)
    tensors = mapping.tensors
    multicast = {t: _factor(mapping, nest, set(tensors[t]), share_when_uncoupled=True) for t in ("input", "filter")}
    reduction = _factor(mapping, nest, set(tensors["output"]), share_when_uncoupled=False)
    sizes = _tensor_sizes(mapping)
    footprint_bytes = sum(sizes.values()) * spec.word_bytes
    fits_l2 = footprint_bytes <= spec.l2_size_bytes
    timeline = _run_timeline(spec, traffic, multicast, reduction, fits_l2, sizes["input"] + sizes["filter"],
                             sizes["output"])
    macs = int(traffic.macs.sum())
    compute_cycles = int(traffic.compute.sum())
    cycles = max(timeline.cycles, compute_cycles)
    input_words, filter_words = int(traffic.input.sum()), int(traffic.filter.sum())
    egress = int(traffic.egress.sum())
    # Partial sums that left L1 before they were final come back before they are finished (a read-back each).
    readback = max(egress - sizes["output"], 0)
    l1_writes = input_words * multicast["input"] + filter_words * multicast["filter"] + macs
    noc_words = sum(timeline.noc_words.values()) + readback
    actions = ActionCounts.of({
        "mac": macs,
        "l1.read": 3 * macs,  # an input, a weight and the partial sum per MAC
        "l1.write": l1_writes,
        "l2.read": input_words + filter_words + readback,
        "l2.write": egress + (timeline.dram_read_words if not fits_l2 else sizes["input"] + sizes["filter"]),
        "noc.transfer": noc_words,
        "dram.read_byte": (timeline.dram_read_words + (readback if not fits_l2 else 0)) * spec.word_bytes,
        "dram.write_byte": timeline.dram_write_words * spec.word_bytes,
    })
    energy = apply(actions, hw.energy)
    pe_tile = _pe_tiles(mapping, tables)
    step_count = len(traffic.compute)
    first_in = int(traffic.input[0] + traffic.filter[0]) if step_count else 0
    first_out = int(traffic.egress[0]) if step_count else 0
    moved = np.maximum(traffic.input + traffic.filter, traffic.egress)
    per_cycle = moved // np.maximum(traffic.compute, 1)
    active = traffic.macs / np.maximum(steps.peak_pe_macs, 1)
    stats: dict[str, float] = {
        "NumPEs": spec.num_pes,
        "Runtime (Cycles)": cycles,
        "Throughput (MACs/Cycle)": macs / cycles if cycles else 0.0,
        "NoC BW Req (Elements/cycle)": int(per_cycle.max()) if step_count else 0,
        "Avg BW Req": float(per_cycle.mean()) if step_count else 0.0,
        "Peak BW Req": int(per_cycle.max()) if step_count else 0,
        "L2 SRAM Size Req (Bytes)": 2 * (first_in + first_out) * spec.word_bytes,
        "L1 SRAM Size Req (Bytes)": 2 * sum(pe_tile.values()) * spec.word_bytes,
        "Num MACs": macs,
        "Avg number of utilized PEs": float(active.mean()) if step_count else 0.0,
        "Num Total Input Pixels": sizes["input"],
        "Num Total Weight Pixels": sizes["filter"],
        "Output Elements": sizes["output"],
        "MAC Coverage": macs / layer.macs if layer.macs else 0.0,
        "PE Input Tile (Elements)": pe_tile["input"],
        "PE Filter Tile (Elements)": pe_tile["filter"],
        "PE Output Tile (Elements)": pe_tile["output"],
        "Cluster Levels": len(mapping.levels),
        "Top Level Steps": step_count,
        "NoC Traffic (Elements)": noc_words,
        "input l2 read": input_words,
        "filter l2 read": filter_words,
        "output l2 write": egress,
        "input l1 write": input_words * multicast["input"],
        "filter l1 write": filter_words * multicast["filter"],
        "Multicasting Factor (Input)": multicast["input"],
        "Multicasting Factor (Weight)": multicast["filter"],
        "Spatial Reduction Factor": reduction,
        "NoC Reduction Adds": timeline.reduction_adds,
        "Fits L2": int(fits_l2),
    }
    check = _functional(layer, mapping, nest, tables, seed) if functional else None
    return LayerResult(
        name=layer.name,
        kind=layer.kind,
        model="engine",
        macs=macs,
        cycles=cycles,
        compute_cycles=compute_cycles,
        stall_cycles=cycles - compute_cycles,
        utilization=macs / (spec.num_pes * cycles) if cycles else 0.0,
        mapping_efficiency=stats["Avg number of utilized PEs"] / spec.num_pes,
        folds=step_count,
        sram_reads=OperandCounts(input_words, filter_words, readback),
        sram_writes=OperandCounts(0, 0, egress),
        dram_reads=OperandCounts(sizes["input"], sizes["filter"], readback if not fits_l2 else 0),
        dram_writes=OperandCounts(0, 0, timeline.dram_write_words),
        actions=actions,
        energy=energy,
        sim_wall_s=time.perf_counter() - start,
        functional=check,
    ).with_extra(stats)


# ---------------------------------------------------------------- functional execution
def _tile_sets(mapping: DirectiveMapping, table: _GroupTable, combo: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Index sets one group's tile computes at one combination: a range per plain dimension, (output, tap)
    pairs (shape (pairs, 2)) per Y / X."""
    out: dict[str, np.ndarray] = {}
    for d, (lo, hi) in table.done.items():
        if d in table.pairs:
            stride = mapping.stride_y if d == "Y" else mapping.stride_x
            tap_lo, tap_hi, in_lo, in_hi, start_lo, start_hi = (int(b[combo]) for b in table.pairs[d])
            pairs = [(o, r) for r in range(tap_lo, tap_hi) for o in range(int(lo[combo]), int(hi[combo]))
                     if in_lo <= o * stride + r < in_hi and start_lo <= o * stride < start_hi]
            out[d] = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        else:
            out[d] = np.arange(int(lo[combo]), max(int(lo[combo]), int(hi[combo])), dtype=np.int64)
    return out


def _canonical_operands(layer: Layer, mapping: DirectiveMapping, ifmap: np.ndarray,
                        filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ifmap, filters) of the layer in MAESTRO's index order: CONV x[N,C,Y,X], w[K,C,R,S];
    DSCONV w[K,C,R,S] (output channel c * K + k); GEMM x[M,K], w[K,N]."""
    x = lowered_input(layer, ifmap).astype(np.int64)
    w = filters.astype(np.int64)
    if layer.kind == "tconv":
        w = w[:, ::-1, ::-1, :]  # the lowered stride-1 convolution uses the flipped filter
    if mapping.layer_type == "GEMM":
        return x.reshape(-1, x.shape[-1]), w.reshape(w.shape[0], -1).T
    x = x.transpose(0, 3, 1, 2)
    if mapping.layer_type == "DSCONV":
        k = mapping.sizes["K"]
        w = w[..., 0].reshape(layer.in_channels, k, layer.filter_h, layer.filter_w).transpose(1, 0, 2, 3)
    else:
        w = w.transpose(0, 3, 1, 2)
    return x, w


def _accumulate(mapping: DirectiveMapping, x: np.ndarray, w: np.ndarray, out: np.ndarray, coverage: np.ndarray,
                sets: dict[str, np.ndarray]) -> None:
    """Add one PE tile's partial products into `out` and count each MAC it performs in `coverage`."""
    if mapping.layer_type == "GEMM":
        m, k, n = sets["M"], sets["K"], sets["N"]
        if not (len(m) and len(k) and len(n)):
            return
        out[np.ix_(m, n)] += x[np.ix_(m, k)] @ w[np.ix_(k, n)]
        coverage[np.ix_(m, n, k)] += 1
        return
    b, k, c, ys, xs = sets["N"], sets["K"], sets["C"], sets["Y"], sets["X"]
    if not (len(b) and len(k) and len(c) and len(ys) and len(xs)):
        return
    sy, sx = mapping.stride_y, mapping.stride_x
    rows = ys[:, 0] * sy + ys[:, 1]
    cols = xs[:, 0] * sx + xs[:, 1]
    xt = x[np.ix_(b, c)][:, :, rows[:, None], cols[None, :]]  # (n, c, P, Q)
    wt = w[np.ix_(k, c)][:, :, ys[:, 1][:, None], xs[:, 1][None, :]]  # (k, c, P, Q)
    oy, ox = ys[:, 0][:, None], xs[:, 0][None, :]
    index = np.ix_(b, k, c, np.arange(len(ys)), np.arange(len(xs)))
    if mapping.layer_type == "DSCONV":
        products = np.einsum("ncpq,kcpq->nkcpq", xt, wt)
        np.add.at(out, (index[0], index[1], index[2], oy[None, None, None], ox[None, None, None]), products)
    else:
        products = np.einsum("ncpq,kcpq->nkpq", xt, wt)
        np.add.at(out, (index[0][..., 0], index[1][..., 0], oy[None, None], ox[None, None]), products)
    np.add.at(coverage, (index[0], index[1], index[2], oy[None, None, None], ys[:, 1][:, None][None, None, None],
                         ox[None, None, None], xs[:, 1][None, :][None, None, None]), 1)


def _functional(layer: Layer, mapping: DirectiveMapping, nest: _Nest, tables: list[_GroupTable],
                seed: int) -> FunctionalCheck:
    """Execute the loop nest tile by tile over seeded random operands and check the output against numpy.

    A mapping that skips or repeats a MAC fails even where the values would happen to agree.
    """
    ifmap, filters = random_operands(layer, seed)
    reference = reference_ofmap(layer, ifmap, filters)
    result, exactly_once = _execute(layer, mapping, nest, tables, ifmap, filters)
    error = float(np.max(np.abs(result - reference))) if reference.size else 0.0
    return FunctionalCheck(max_abs_error=error if exactly_once else max(error, 1.0), elements=int(reference.size),
                           seed=seed)


def directive_ofmap(layer: Layer, hw: Hardware, mapping: Mapping | Dataflow, ifmap: np.ndarray,
                    filters: np.ndarray) -> np.ndarray:
    """The ofmap (B, E, F, O) int64 of the given integer operands, executed tile by tile under `mapping` (a record
    or MAESTRO directives)."""
    _spec(hw)
    mapping = directive_view(layer, hw, mapping)
    nest, tables = _tables(mapping)
    result, exactly_once = _execute(layer, mapping, nest, tables, ifmap, filters)
    if not exactly_once:
        raise MappingError("the dataflow skips or repeats MACs of this layer", field=f"{layer.name}.dataflow")
    return result


def _execute(layer: Layer, mapping: DirectiveMapping, nest: _Nest, tables: list[_GroupTable], ifmap: np.ndarray,
             filters: np.ndarray) -> tuple[np.ndarray, bool]:
    """(ofmap (B, E, F, O) int64, every MAC done exactly once): every (step, PE) tile adds its partial
    products; `coverage` counts how often each MAC was done."""
    tiles = math.prod(v.count for v in nest.variables)
    if tiles > FUNCTIONAL_TILE_LIMIT:
        raise MappingError("layer too large for the directive engine's functional execution",
                           field=f"{layer.name}.functional", value=tiles,
                           allowed=f"<= {FUNCTIONAL_TILE_LIMIT} (step, PE) tiles")
    x, w = _canonical_operands(layer, mapping, ifmap, filters)
    sizes = mapping.sizes
    if mapping.layer_type == "GEMM":
        out = np.zeros((sizes["M"], sizes["N"]), dtype=np.int64)
        coverage = np.zeros((sizes["M"], sizes["N"], sizes["K"]), dtype=np.int64)
    else:
        rows = (sizes["Y"] - sizes["R"]) // mapping.stride_y + 1
        cols = (sizes["X"] - sizes["S"]) // mapping.stride_x + 1
        shape = (sizes["N"], sizes["K"], sizes["C"], rows, cols) if mapping.layer_type == "DSCONV" \
            else (sizes["N"], sizes["K"], rows, cols)
        out = np.zeros(shape, dtype=np.int64)
        coverage = np.zeros((sizes["N"], sizes["K"], sizes["C"], rows, sizes["R"], cols, sizes["S"]), dtype=np.int64)
    cache: list[dict[tuple[int, ...], dict[str, np.ndarray]]] = [{} for _ in tables]
    for values in np.ndindex(*(v.count for v in nest.variables)):
        sets: dict[str, np.ndarray] = {}
        for table, memo in zip(tables, cache):
            combo = tuple(values[v] for v in table.variables)
            if combo not in memo:
                memo[combo] = _tile_sets(mapping, table, combo)
            sets.update(memo[combo])
        _accumulate(mapping, x, w, out, coverage, sets)
    if mapping.layer_type == "GEMM":
        result = out
    elif mapping.layer_type == "DSCONV":
        result = out.transpose(0, 3, 4, 2, 1)  # (N, Y, X, C, K): channel c * K + k
    else:
        result = out.transpose(0, 2, 3, 1)
    exactly_once = bool(coverage.size == 0 or (coverage.min() == 1 and coverage.max() == 1))
    return result.reshape(ofmap_shape(layer)), exactly_once


def simulate_directive_trace(trace: Trace, hw: Hardware, *, seed: int = 0, functional: bool = False) -> RunResult:
    """Every layer of a trace through the directive engine, in order (each layer's Dataflow from the trace)."""
    spec = _spec(hw)
    results = []
    for index, layer in enumerate(trace.layers):
        dataflow = trace.dataflow_of(index)
        if dataflow is None:
            raise MappingError(f"layer '{layer.name}' has no Dataflow block and no mapping file was given",
                               field="dataflow",
                               allowed="a MAESTRO .m trace with Dataflow blocks, or --mapping FILE (see mappings/)")
        results.append(simulate_directive_layer(layer, hw, dataflow, seed=seed, functional=functional))
    return RunResult(hardware=hw.name, trace=trace.name, model="engine", layers=tuple(results), pes=spec.num_pes)
